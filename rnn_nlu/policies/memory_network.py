"""MemoryNetworkPolicy: the end-to-end memory network of `rnn_nlu.models.memory_network`.

Rasa's `MaxHistoryTrackerFeaturizer` turns a conversation into states; `rnn_nlu.policies.turns`
groups them into turns, each a bag of symbols such as `intent_greet`, `entity_origin`,
`prev_action_utter_greet`, `slot_requested_slot_0`, `active_loop_flight_form`. The current state
is the query, the past turns the memory (most recent first).
"""

import logging
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
from rasa.core.constants import DEFAULT_POLICY_PRIORITY, POLICY_MAX_HISTORY, POLICY_PRIORITY
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer, TrackerFeaturizer
from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.io import raise_warning
from tensorflow import keras

from rnn_nlu.config import validate_config
from rnn_nlu.features import Vocabulary
from rnn_nlu.lifecycle import KerasComponent
from rnn_nlu.models.memory_network import TYINGS, action_model, build_memory_network
from rnn_nlu.models.numpy_layers import Weights
from rnn_nlu.models.numpy_memory_network import memory_network_forward
from rnn_nlu.policies.turns import encode, memory_and_query, state_symbols
from rnn_nlu.training import PATIENCE_EXAMPLES, set_seed

logger = logging.getLogger(__name__)

INPUT_SIGNATURE = {
    "memory": tf.TensorSpec([None, None, None], tf.int32),  # (batch, slots, symbols)
    "query": tf.TensorSpec([None, None], tf.int32),  # (batch, symbols)
}


def replayed(tracker: DialogueStateTracker, domain: Domain) -> DialogueStateTracker:
    """`tracker`, or a plain copy of it when Rasa's cached training states would be misaligned.

    Rasa 3.6's `TrackerWithCachedStates` caches one state per action event, also for events that
    `applied_events()` drops (a form's happy-path turns, the `ActionReverted` of story
    concatenation), while the featurizer takes its labels from `applied_events()`: states and
    actions then drift apart. A plain tracker computes states from the applied events, exactly
    as at prediction time.
    """
    if len(tracker.applied_events()) == len(tracker.events):
        return tracker
    return DialogueStateTracker.from_events(tracker.sender_id, list(tracker.events), domain.slots)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True
)
class MemoryNetworkPolicy(KerasComponent, Policy):
    """Chooses the next action by reading the conversation's past turns with attention (MemN2N)."""

    MODEL_OPTIONS = ("embedding_dim", "hops", "tying", "dropout")
    REQUIRED_METADATA = ("vocabulary", "actions")
    STORED_CONFIG = (POLICY_MAX_HISTORY,)

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The policy's default config (see parent class for full docstring)."""
        return {
            # States (one per bot action, as for TEDPolicy) read per prediction, grouped into
            # turns; 30 covers a whole flight booking with a few questions in between. null: the
            # whole conversation.
            POLICY_MAX_HISTORY: 30,
            # Rounds of attention over the memory.
            "hops": 3,
            # Size of the symbol embeddings and of the controller state.
            "embedding_dim": 64,
            # Weight sharing over hops: "layer" (u <- H u + o) or "adjacent" (A_k+1 = C_k, no H).
            "tying": "layer",
            # Dropout rate on the embedded turns and before the softmax.
            "dropout": 0.1,
            # Passes over the training examples (early stopping may end sooner).
            "epochs": 40,
            # Examples (one per predicted action) per gradient step.
            "batch_size": 32,
            # Adam's step size.
            "learning_rate": 0.002,
            # Gradients are rescaled to this global norm at most (null: off).
            "clipnorm": 5.0,
            # Share of each action's examples held out for early stopping; 0 (like TEDPolicy)
            # because a bot has few stories and a held-out tenth of them makes stopping noisy.
            "validation_split": 0.0,
            # With a validation split: epochs without a better held-out loss before stopping.
            "patience": 10,
            # On large data fewer: the epochs that hold this many training examples, at least 2
            # (0: always `patience`).
            "patience_examples": PATIENCE_EXAMPLES,
            # Also learn from Rasa's augmented trackers (stories glued end to start). Off: the
            # glue is invisible, so the earlier story looks like context the next one depends on.
            "augmented_stories": False,
            # Seed for weight initialisation, shuffling and the held-out split.
            "random_seed": 42,
            # Breaks ties between equally confident policies: 1, the lowest, like TEDPolicy.
            POLICY_PRIORITY: DEFAULT_POLICY_PRIORITY,
        }

    @classmethod
    def validate(cls, config: Dict[str, Any]) -> None:
        """Raises `InvalidConfigException` naming an unknown or invalid option."""
        validate_config(
            config,
            cls.get_default_config(),
            cls.__name__,
            {"tying": TYINGS},
            optional=("clipnorm", POLICY_MAX_HISTORY),
        )

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        model: Optional[keras.Model] = None,
        vocabulary: Optional[Vocabulary] = None,
        actions: Optional[List[str]] = None,
        featurizer: Optional[TrackerFeaturizer] = None,
    ) -> None:
        config = {**self.get_default_config(), **config}
        self.validate(config)
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.vocabulary = vocabulary
        self.actions = actions or []
        self.model = model
        self._predict = self._keras_predict(model) if model else None

    def _standard_featurizer(self) -> MaxHistoryTrackerFeaturizer:
        # States as dicts (no state featurizer): this policy makes its own symbols from them.
        return MaxHistoryTrackerFeaturizer(None, self.config[POLICY_MAX_HISTORY])

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        """Trains the memory network on the stories' states and actions, then persists it."""
        trackers = SupportedData.trackers_for_supported_data(
            self.supported_data(), training_trackers
        )
        if not self.config["augmented_stories"]:
            trackers = [t for t in trackers if not getattr(t, "is_augmented", False)]
        conversations, labels = self.featurizer.training_states_and_labels(
            [replayed(t, domain) for t in trackers], domain, ignore_action_unlikely_intent=True
        )
        if self.continues():  # finetuning keeps the symbols (new ones are unknown) and actions
            self.known("action", self.actions, domain.action_names_or_texts)
        else:
            self.actions = list(domain.action_names_or_texts)
        index = {name: i for i, name in enumerate(self.actions)}
        examples = [(c, index[a[0]]) for c, a in zip(conversations, labels) if a[0] in index]
        # Rasa hands over the stories in an order that changes from run to run; one fixed order
        # makes training with the same random_seed repeatable.
        examples.sort(key=lambda e: ([state_symbols(s) for s in e[0]], e[1]))
        read = [memory_and_query(c) for c, _ in examples]  # (memory turns, query) each
        vocabulary = (
            self.vocabulary
            if self.continues()
            else Vocabulary.build((b for m, q in read for b in [*m, q]), lowercase=False)
        )
        if len(vocabulary) <= 2 or not examples:
            raise_warning(
                f"{self.__class__.__name__} found no story turns to learn from; it will predict "
                f"nothing. Add stories, or remove the policy from the configuration."
            )
            self.persist()
            return self._resource

        self.vocabulary = vocabulary
        x = encode(read, vocabulary)
        y = np.array([label for _, label in examples], dtype=np.int32)
        if not self.continues():
            set_seed(self.config["random_seed"])  # seeds the weight initialisation too
            self.model = build_memory_network(
                len(vocabulary), len(self.actions), **self.model_options()
            )
        logger.info(
            f"{self.__class__.__name__}: {len(y)} examples, {len(vocabulary)} symbols, "
            f"{len(self.actions)} actions, {self.model.count_params():,} parameters."
        )
        self.fit_network(
            action_model(self.model), x, y, seed=self.config["random_seed"], stratify=y
        )
        self._predict = self._keras_predict(self.model)
        self.persist()
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """Predicts the next action; `diagnostic_data` holds the attention over past turns."""
        result = self._default_predictions(domain)
        if self._predict is None:
            return self._prediction(result)
        states = self._prediction_states(tracker, domain, rule_only_data=rule_only_data)
        remembered, query = memory_and_query(states)
        inputs = encode([(remembered, query)], self.vocabulary)
        outputs = self._predict(inputs)
        probabilities = np.asarray(outputs["action"])[0]
        index = {name: i for i, name in enumerate(domain.action_names_or_texts)}
        for name, probability in zip(self.actions, probabilities):
            if name in index:
                result[index[name]] = float(probability)

        attention = np.asarray(outputs["attention"])[0, :, : len(remembered)]  # (hops, turns)
        if remembered:
            back = int(np.argmax(attention.mean(axis=0)))
            logger.debug(
                f"{self.__class__.__name__} attended most to the turn {back + 1} back "
                f"(mean weight {attention[:, back].mean():.2f} over {len(attention)} hops): "
                f"{', '.join(remembered[back]) or 'empty state'}."
            )
        diagnostic_data = {"attention_weights": attention, "remembered_turns": remembered}
        return self._prediction(result, diagnostic_data=diagnostic_data)

    def _signature(self) -> Dict[str, tf.TensorSpec]:
        return INPUT_SIGNATURE

    def _serve(self, networks: List[Weights]) -> None:
        weights, options = networks[0], self.model_options()
        self._predict = lambda inputs: memory_network_forward(weights, options, inputs)

    def _stored(self) -> Dict[str, Any]:
        return {
            "vocabulary": self.vocabulary.to_json() if self.vocabulary else None,
            "actions": self.actions,
        }

    @classmethod
    def _restore(cls, metadata: Dict[str, Any], config: Dict[str, Any]) -> Dict[str, Any]:
        if not metadata.get("has_weights"):
            return {}
        return {
            "vocabulary": Vocabulary.from_json(metadata["vocabulary"]),
            "actions": [str(action) for action in metadata["actions"]],
        }

    @classmethod
    def _implied_sizes(cls, config: Dict[str, Any], parts: Dict[str, Any]) -> Dict[str, int]:
        sizes = super()._implied_sizes(config, parts)
        sizes["actions"] = len(parts["actions"])
        return sizes

    @classmethod
    def _build(
        cls, config: Dict[str, Any], parts: Dict[str, Any], weights: List[np.ndarray]
    ) -> keras.Model:
        return build_memory_network(
            len(parts["vocabulary"]),
            len(parts["actions"]),
            **cls.options_for_model(config),
        )
