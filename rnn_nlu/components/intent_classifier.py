"""Rasa glue shared by our intent classifiers; a subclass only names its Keras model and options."""

import logging
from typing import Any, Dict, List, Optional, Sequence, Type

import numpy as np
import tensorflow as tf
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning
from tensorflow import keras

from rnn_nlu import persistence
from rnn_nlu.config import validate_config
from rnn_nlu.features import LabelEncoder, Vocabulary, encode_batch
from rnn_nlu.models.ensemble import average_ensemble
from rnn_nlu.models.inference import compiled_predict
from rnn_nlu.training import fit, set_seed

logger = logging.getLogger(__name__)

# Options every classifier of ours has, besides those of its Keras model.
TRAINING_DEFAULTS: Dict[str, Any] = {
    # Upper bound on passes over the data; early stopping on the held-out split usually ends sooner.
    "epochs": 40,
    # Examples per gradient step.
    "batch_size": 64,
    # Adam's step size.
    "learning_rate": 0.003,
    # Gradients are rescaled to this global norm at most, against exploding gradients (null: off).
    "clipnorm": 1.0,
    # Share of each intent's examples held out to choose the best epoch (0: no early stopping).
    "validation_split": 0.1,
    # Epochs without a better held-out loss before training stops; the best weights are restored.
    "patience": 5,
    # Seed for weight initialisation, shuffling and the held-out split.
    "random_seed": 42,
    # Longer messages are cut to this many tokens.
    "max_sequence_length": 64,
    # Lower-case tokens before looking them up in the vocabulary.
    "lowercase": True,
    # Tokens seen fewer times in training map to the unknown-word id.
    "min_token_frequency": 1,
    # Number of intents in `intent_ranking` (0: all).
    "ranking_length": 10,
    # Networks trained from different seeds (and held-out splits) whose probabilities are averaged;
    # steadier, more accurate intents for that many times the training and prediction work.
    "ensemble_size": 3,
}

PREDICT_BATCH = 256  # messages per compiled call in `process`; bounds memory for large batches


class RecurrentIntentClassifier(GraphComponent, IntentClassifier):
    """Trains a Keras classifier over token ids and sets `intent` and `intent_ranking`."""

    # Options passed to `build_model`, with their defaults, and the allowed values of some of them.
    MODEL_DEFAULTS: Dict[str, Any] = {}
    MODEL_CHOICES: Dict[str, Sequence[Any]] = {}

    @staticmethod
    def build_model(vocab_size: int, num_labels: int, **options: Any) -> keras.Model:
        """The untrained Keras model: (batch, time) token ids -> (batch, labels) probabilities."""
        raise NotImplementedError

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @classmethod
    def get_default_config(cls) -> Dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {**TRAINING_DEFAULTS, **cls.MODEL_DEFAULTS}

    @classmethod
    def validate(cls, config: Dict[str, Any]) -> None:
        """Raises `InvalidConfigException` naming an unknown or invalid option."""
        validate_config(config, cls.get_default_config(), cls.__name__, cls.MODEL_CHOICES)

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        labels: Optional[LabelEncoder] = None,
        vocabulary: Optional[Vocabulary] = None,
        model: Optional[keras.Model] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.validate(self.config)
        self._model_storage = model_storage
        self._resource = resource
        self.labels = labels
        self.vocabulary = vocabulary
        self.model = model
        self._predict = (
            compiled_predict(model, tf.TensorSpec([None, None], tf.int32)) if model else None
        )

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RecurrentIntentClassifier":
        """Creates a new untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    def _model_options(self) -> Dict[str, Any]:
        return {key: self.config[key] for key in self.MODEL_DEFAULTS}

    @staticmethod
    def _tokens(message: Message) -> List[str]:
        return [token.text for token in message.get(TOKENS_NAMES[TEXT]) or []]

    def train(self, training_data: TrainingData) -> Resource:
        """Trains the model on the intent examples and persists it."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        self.labels = LabelEncoder(e.get(INTENT) for e in examples)
        if len(self.labels) < 2:
            raise_warning(
                f"{self.__class__.__name__} found "
                + (
                    f"a single intent ('{self.labels.labels[0]}')"
                    if self.labels.labels
                    else "no intents"
                )
                + " in the training data: nothing to learn, so it will predict "
                + ("that intent with confidence 1.0." if self.labels.labels else "no intent.")
            )
            self.persist()
            return self._resource

        tokens = [self._tokens(e) for e in examples]
        self.vocabulary = Vocabulary.build(
            tokens, self.config["min_token_frequency"], self.config["lowercase"]
        )
        x = encode_batch(tokens, self.vocabulary, self.config["max_sequence_length"])
        y = self.labels.encode([e.get(INTENT) for e in examples])
        size = self.config["ensemble_size"]
        members = []
        for i in range(size):
            seed = self.config["random_seed"] + i
            set_seed(seed)  # before building: the initial weights are random too
            member = self.build_model(
                len(self.vocabulary), len(self.labels), **self._model_options()
            )
            logger.info(
                f"{self.__class__.__name__} network {i + 1}/{size}: {len(examples)} examples, "
                f"{len(self.labels)} intents, {len(self.vocabulary)} tokens, "
                f"{member.count_params():,} parameters."
            )
            fit(
                member,
                x,
                y,
                stratify=y,
                random_seed=seed,
                **{
                    k: self.config[k] for k in ("epochs", "batch_size", "learning_rate", "clipnorm")
                },
                **{k: self.config[k] for k in ("validation_split", "patience")},
            )
            members.append(member)
        self.model = average_ensemble(members)
        self._predict = compiled_predict(self.model, tf.TensorSpec([None, None], tf.int32))
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message, predicting them all in batches."""
        for start in range(0, len(messages), PREDICT_BATCH):
            batch = messages[start : start + PREDICT_BATCH]
            for message, probabilities in zip(batch, self._probabilities(batch)):
                self._set_intent(message, probabilities)
        return messages

    def _probabilities(self, messages: List[Message]) -> np.ndarray:
        count = len(self.labels) if self.labels else 0
        if self._predict is None:  # untrained, or fewer than two intents
            return np.ones((len(messages), count), dtype=np.float32)
        ids = encode_batch(
            [self._tokens(m) for m in messages], self.vocabulary, self.config["max_sequence_length"]
        )
        return self._predict(tf.constant(ids)).numpy()

    def _set_intent(self, message: Message, probabilities: np.ndarray) -> None:
        if not self.labels or not self.labels.labels:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)
            return
        ranking = self.labels.ranking(probabilities, self.config["ranking_length"])
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def persist(self) -> None:
        """Stores labels, vocabulary, model options and weights in the model storage."""
        persistence.write_bundle(
            self._model_storage,
            self._resource,
            {
                "component": self.__class__.__name__,
                "labels": self.labels.labels if self.labels else [],
                "vocabulary": self.vocabulary.to_json() if self.vocabulary else None,
                "model": self._model_options(),
                "max_sequence_length": self.config["max_sequence_length"],
                "ensemble_size": self.config["ensemble_size"],
            },
            self.model.get_weights() if self.model else None,
        )

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "RecurrentIntentClassifier":
        """Loads the trained component (see parent class for full docstring)."""
        name = cls.__name__
        bundle = persistence.read_bundle(
            model_storage, resource, name, required=("labels", "vocabulary", "model")
        )
        if bundle is None:
            return cls(config, model_storage, resource)
        metadata, weights = bundle
        with persistence.reading_metadata(name):
            labels = LabelEncoder(metadata["labels"])
            saved = {
                **config,
                **metadata["model"],
                "max_sequence_length": metadata["max_sequence_length"],
                "ensemble_size": metadata["ensemble_size"],
            }
            cls.validate(saved)
            if weights is None:
                return cls(saved, model_storage, resource, labels)
            vocabulary = Vocabulary.from_json(metadata["vocabulary"])

        def build() -> keras.Model:
            return cls.build_model(len(vocabulary), len(labels), **metadata["model"])

        size, first = saved["ensemble_size"], build()
        if len(weights) != size * len(first.weights):  # before building a tampered count
            raise persistence.ModelArchiveError(
                f"{name}: {len(weights)} weight arrays cannot be {size} networks of "
                f"{len(first.weights)} arrays each."
            )
        model = average_ensemble([first] + [build() for _ in range(size - 1)])
        persistence.set_model_weights(model, weights, name)
        return cls(saved, model_storage, resource, labels, vocabulary, model)
