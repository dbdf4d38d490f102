"""BiLSTMSlotFiller: the BiLSTM-CRF tagger (`rnn_nlu.models.tagger`) as a Rasa entity extractor,
conditioned on the message's intent (set by the intent classifier before it)."""

import logging
from typing import Any, Dict, List, Optional, Sequence, Type

import numpy as np
import tensorflow as tf
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning
from tensorflow import keras

from rnn_nlu.components import rasa_features
from rnn_nlu.components.pipeline import intent_classifier_before
from rnn_nlu.components.rasa_features import FEATURE_DEFAULTS, FeatureLayout
from rnn_nlu.config import validate_config
from rnn_nlu.features import LabelEncoder, Vocabulary, encode_batch, encode_chars
from rnn_nlu.lifecycle import KerasComponent, in_batches
from rnn_nlu.models import crf_decoding
from rnn_nlu.models.layers import RNN_TYPES
from rnn_nlu.models.numpy_layers import Weights
from rnn_nlu.models.numpy_models import serving_weights, tagger_forward
from rnn_nlu.models.tagger import build_tagger
from rnn_nlu.tagging import (
    HEADS,
    OUTSIDE,
    SCHEMAS,
    entities_from_tags,
    split_tag,
    tag_set,
    tags_from_spans,
    token_spans,
)
from rnn_nlu.training import PATIENCE_EXAMPLES, set_seed

logger = logging.getLogger(__name__)

PREDICT_BATCH = 256  # messages per compiled call in `process`; bounds memory for large batches


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class BiLSTMSlotFiller(KerasComponent, GraphComponent, EntityExtractorMixin):
    """Entity extractor: word + character features (+ the per-token features of Rasa's featurizers
    before it, + the message's intent) -> BiLSTM -> CRF tags -> entities."""

    # Options passed to `build_tagger`.
    MODEL_OPTIONS = (
        "embedding_dim",
        "char_embedding_dim",
        "char_filters",
        "rnn_type",
        "rnn_units",
        "num_layers",
        "use_chars",
        "use_crf",
        "dropout",
        "word_dropout",
        "feature_units",
        "intent_units",
    )
    REQUIRED_METADATA = ("tags", "vocabulary", "characters")
    STORED_CONFIG = ("tagging_schema", "max_sequence_length", "max_word_length", "lowercase")

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Most passes over the data; early stopping on the held-out split usually ends sooner.
            "epochs": 40,
            # Messages per gradient step.
            "batch_size": 32,
            # Size of the word embedding, trained from scratch.
            "embedding_dim": 100,
            # Size of the character embedding of the character CNN.
            "char_embedding_dim": 25,
            # Filters of the character CNN: the size of each word's character features.
            "char_filters": 50,
            # Units per direction of each bidirectional recurrent layer.
            "rnn_units": 128,
            # Number of stacked bidirectional recurrent layers.
            "num_layers": 1,
            # Recurrent cell: "lstm", "gru" or "simple" (Elman RNN).
            "rnn_type": "lstm",
            # Add character-CNN features, so that words unseen in training still look like words.
            "use_chars": True,
            # Decode whole tag sequences with a CRF; false: an independent softmax per token.
            "use_crf": True,
            # "bilou" (Begin/Inside/Last/Unit/Outside, as Rasa) or "bio" tags per token.
            "tagging_schema": "bilou",
            # Dropout rate on the word and character features and after each recurrent layer.
            "dropout": 0.5,
            # Share of training words replaced by the unknown-word id, to learn to tag unseen words.
            "word_dropout": 0.0,
            # Adam's step size.
            "learning_rate": 0.003,
            # Gradients are rescaled to this global norm at most (null: no clipping).
            "clipnorm": 5.0,
            # Share of messages held out to choose the best epoch (0: no early stopping).
            "validation_split": 0.1,
            # Epochs without a better held-out loss before training stops; the best epoch is kept.
            "patience": 4,
            # On large data fewer: the epochs that hold this many training examples, at least 2
            # (0: always `patience`).
            "patience_examples": PATIENCE_EXAMPLES,
            # Seed for weight initialisation, shuffling and the held-out split.
            "random_seed": 42,
            # Tokens after this many are not tagged.
            "max_sequence_length": 128,
            # Characters after this many in a word are ignored by the character CNN.
            "max_word_length": 20,
            # Lower-case words before looking them up in the vocabulary (characters keep their case)
            "lowercase": True,
            # Condition the tags on the message's intent, when an intent classifier comes before
            # this component in the pipeline (otherwise off, and the log says so).
            "use_intent": True,
            # Size of the intent's projection, added to every token's input to the BiLSTM.
            "intent_units": 32,
            **FEATURE_DEFAULTS,
        }

    @classmethod
    def validate(cls, config: Dict[str, Any]) -> None:
        """Raises `InvalidConfigException` naming an unknown or invalid option."""
        choices = {"rnn_type": sorted(RNN_TYPES), "tagging_schema": list(SCHEMAS)}
        validate_config(config, cls.get_default_config(), cls.__name__, choices)

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: Optional[ExecutionContext] = None,
        model: Optional[keras.Model] = None,
        tags: Optional[Dict[str, LabelEncoder]] = None,
        vocabulary: Optional[Vocabulary] = None,
        characters: Optional[Vocabulary] = None,
        rasa_features: Optional[FeatureLayout] = None,
        intents: Optional[LabelEncoder] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.validate(self.config)
        self._model_storage = model_storage
        self._resource = resource
        self.tags = tags or {}
        self.vocabulary = vocabulary
        self.characters = characters
        self.rasa_features = rasa_features or FeatureLayout()
        self.intents = intents  # None: the model has no intent input
        self._context = execution_context
        self._warned_no_intent = False
        self.model = model
        self._predict = self._compile(model) if model else None

    def _compile(self, model: keras.Model) -> Any:
        self._transitions = _prepared(model.transitions(), self.tags)  # fixed once trained
        return self._keras_predict(model)

    def _signature(self) -> Dict[str, tf.TensorSpec]:
        signature = {"token_ids": tf.TensorSpec([None, None], tf.int32)}
        if self.config["use_chars"]:
            signature["char_ids"] = tf.TensorSpec([None, None, None], tf.int32)
        signature.update(self.rasa_features.signature())
        if self.intents:
            signature["intent"] = tf.TensorSpec([None, len(self.intents)], tf.float32)
        return signature

    def _serve(self, networks: List[Weights]) -> None:
        weights = networks[0]
        options = {
            **self.model_options(),
            **self.rasa_features.model_options(),
            "num_intents": num_intents(self.intents),
            "num_tags": {head: len(labels) for head, labels in self.tags.items()},
        }
        crf = self.config["use_crf"]
        transitions = {h: weights[f"{h}/transitions"] if crf else None for h in self.tags}
        self._transitions = _prepared(transitions, self.tags)
        fused = serving_weights(weights, options)  # computed once: fused, tabulated
        self._predict = lambda inputs: tagger_forward(fused, options, inputs)

    @staticmethod
    def _tokens(message: Message) -> list:
        return message.get(TOKENS_NAMES[TEXT]) or []

    def _inputs(self, messages: Sequence[Message], training: bool = False) -> Dict[str, Any]:
        """The tagger's inputs (`training`: the sparse features as `RaggedRows`, for `fit`)."""
        token_lists = [[t.text for t in self._tokens(m)] for m in messages]
        length = self.config["max_sequence_length"]
        inputs = {"token_ids": encode_batch(token_lists, self.vocabulary, length)}
        if self.config["use_chars"]:
            inputs["char_ids"] = encode_chars(
                token_lists, self.characters, length, self.config["max_word_length"]
            )
        if training:
            ids = inputs["token_ids"]
            inputs.update(rasa_features.encode_ragged(messages, self.rasa_features, ids, self.name))
        else:
            steps = inputs["token_ids"].shape[1]
            inputs.update(rasa_features.encode(messages, self.rasa_features, steps, self.name))
        if self.intents:
            inputs["intent"] = self.intents.one_hot([intent_name(m) for m in messages])
        return inputs

    def _tags(self, message: Message, head: str) -> List[str]:
        """Training tags of `message` for `head` (entity, role or group); misaligned entities are
        left out (`check_correct_entity_annotations` warns about them)."""
        tokens = self._tokens(message)
        annotated = [
            (e["start"], e["end"], e[head]) for e in message.get(ENTITIES) or [] if e.get(head)
        ]
        spans, _ = token_spans([(t.start, t.end) for t in tokens], annotated)
        return tags_from_spans(len(tokens), spans, self.config["tagging_schema"])

    def train(self, training_data: TrainingData) -> Resource:
        """Trains the tagger on the tokens and entities of the NLU examples (or, finetuning,
        continues it) and persists it."""
        examples = [
            m for m in self.filter_trainable_entities(training_data.nlu_examples) if self._tokens(m)
        ]
        heads = [h for h in HEADS if any(e.get(h) for m in examples for e in m.get(ENTITIES) or [])]
        if self.continues():
            self.known("entity attribute", self.tags, heads)
            heads = list(self.tags)
        if "entity" not in heads:
            raise_warning(
                f"{self.name} found no entity annotations in the training data: it trains "
                f"nothing and will extract no entities. Annotate entities as "
                f"'[Denver](destination)' or remove {self.name} from the pipeline."
            )
            self.persist()
            return self._resource
        self.check_correct_entity_annotations(training_data)

        length = self.config["max_sequence_length"]
        tokens = [[t.text for t in self._tokens(m)] for m in examples]
        tags = {h: [self._tags(m, h)[:length] for m in examples] for h in heads}
        found = {h: {split_tag(t)[1] for ts in tags[h] for t in ts} - {OUTSIDE} for h in heads}
        features = (
            rasa_features.layout_of(examples, self.name)
            if self.config["use_rasa_features"]
            else FeatureLayout()
        )
        intents = sorted({name for m in examples if (name := intent_name(m))})
        if self.continues():
            for head in heads:
                stored = {split_tag(t)[1] for t in self.tags[head].labels}
                self.known(f"{head} label", stored, found[head])
            rasa_features.check_finetuning(self.rasa_features, features, self.name)
            if self.intents:
                self.known("intent", self.intents.labels, intents)
        else:
            schema = self.config["tagging_schema"]
            self.tags = {h: LabelEncoder(tag_set(found[h], schema)) for h in heads}
            self.vocabulary = Vocabulary.build(tokens, 1, self.config["lowercase"])
            self.characters = Vocabulary.build((w for ts in tokens for w in ts), 1, lowercase=False)
            self.rasa_features = features
            self.intents = LabelEncoder(intents) if self._reads_intent(intents) else None
        x = self._inputs(examples, training=True)
        model = self.model if self.continues() else None
        if model is None:
            set_seed(self.config["random_seed"])  # before building: initial weights are random too
            model = build_tagger(
                len(self.vocabulary),
                {h: len(self.tags[h]) for h in heads},
                len(self.characters),
                **self.model_options(),
                **self.rasa_features.model_options(),
                num_intents=num_intents(self.intents),
            )
        y = np.zeros(x["token_ids"].shape + (len(heads),), dtype=np.int32)
        for i, head in enumerate(model.heads):
            for row, message_tags in enumerate(tags[head]):
                y[row, : len(message_tags), i] = self.tags[head].encode(message_tags)
        logger.info(
            f"{self.name}: {len(examples)} examples, "
            f"{', '.join(f'{len(labels)} {head} tags' for head, labels in self.tags.items())}, "
            f"{len(self.vocabulary)} words, {num_intents(self.intents)} intents, "
            f"{model.count_params():,} parameters."
        )
        self.fit_network(model, x, y, seed=self.config["random_seed"], loss=None, metrics=())
        self.model = model
        self._predict = self._compile(model)
        self.persist()
        return self._resource

    def _reads_intent(self, intents: List[str]) -> bool:
        """`use_intent`, with two intents or more, unless `rasa train`'s graph puts no intent
        classifier before this component (at parse time none would have set the intent yet)."""
        if not self.config["use_intent"] or len(intents) < 2:
            return False
        if intent_classifier_before(self._context) is False:
            logger.info(
                f"{self.name}: no intent classifier before it in the pipeline, so it tags "
                f"without the intent (to use it, put the intent classifier first)."
            )
            return False
        return True

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the extracted entities to each message, tagging them all in batches."""
        if self.intents and any(m.get(INTENT) is None for m in messages):
            self._warn_no_intent()
        for batch in in_batches(messages, PREDICT_BATCH):
            for message, entities in zip(batch, self._extract(batch)):
                entities = self.add_extractor_name(entities)
                message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages

    def _warn_no_intent(self) -> None:
        """Warns, once per component, that a message came without an intent."""
        if self._warned_no_intent:
            return
        self._warned_no_intent = True
        raise_warning(
            f"{self.name} was trained to read the message's intent, but a message reached it "
            f"without one: its entities are tagged as for an unknown intent. Put {self.name} "
            f"after the intent classifier in the pipeline of config.yml (or set use_intent: "
            f"false)."
        )

    def _extract(self, messages: Sequence[Message]) -> List[List[Dict[str, Any]]]:
        if self._predict is None:  # untrained, or no entities in the training data
            return [[] for _ in messages]
        tokens = [self._tokens(m) for m in messages]
        inputs = self._inputs(messages)
        scores = {h: np.asarray(v) for h, v in self._predict(inputs).items()}
        lengths = np.count_nonzero(inputs["token_ids"], axis=1)
        decoded = crf_decoding.decode(scores, lengths, self._transitions)
        results = []
        for row, (message, message_tokens) in enumerate(zip(messages, tokens)):
            count = min(len(message_tokens), self.config["max_sequence_length"])
            tags = {
                h: [labels.labels[i] for i in decoded[h][row, :count]]
                for h, labels in self.tags.items()
            }
            confidences = {h: decoded[f"{h}_confidence"][row, :count].tolist() for h in self.tags}
            offsets = [(t.start, t.end) for t in message_tokens[:count]]
            results.append(entities_from_tags(message.get(TEXT) or "", offsets, tags, confidences))
        return results

    def _stored(self) -> Dict[str, Any]:
        return {
            "tags": {head: labels.labels for head, labels in self.tags.items()},
            "vocabulary": self.vocabulary.to_json() if self.vocabulary else None,
            "characters": self.characters.to_json() if self.characters else None,
            "rasa_features": self.rasa_features.to_json(),
            "intents": self.intents.labels if self.intents else None,
        }

    @classmethod
    def _restore(cls, metadata: Dict[str, Any], config: Dict[str, Any]) -> Dict[str, Any]:
        if not metadata.get("has_weights"):
            return {}
        return {
            "tags": {head: LabelEncoder(labels) for head, labels in metadata["tags"].items()},
            "vocabulary": Vocabulary.from_json(metadata["vocabulary"]),
            "characters": Vocabulary.from_json(metadata["characters"]),
            "rasa_features": FeatureLayout.from_json(metadata.get("rasa_features")),
            "intents": stored_intents(metadata.get("intents")),  # None in older archives
        }

    @classmethod
    def _implied_sizes(cls, config: Dict[str, Any], parts: Dict[str, Any]) -> Dict[str, int]:
        width = config["embedding_dim"] + (config["char_filters"] if config["use_chars"] else 0)
        sizes = super()._implied_sizes(config, parts)
        features = parts["rasa_features"]
        if parts.get("intents"):  # intent_projection's kernel is (intents, intent_units)
            sizes.update(intents=len(parts["intents"]), intent_units=config["intent_units"])
            width += config["intent_units"]  # joins each token's input to the first BiLSTM
            if not features.present:  # else counted in the features' per-token width
                sizes["per-token input width (with the intent)"] = width
        return {**sizes, **features.implied_sizes(width, config["feature_units"])}

    @classmethod
    def _build(
        cls, config: Dict[str, Any], parts: Dict[str, Any], weights: List[np.ndarray]
    ) -> keras.Model:
        return build_tagger(
            len(parts["vocabulary"]),
            {head: len(labels) for head, labels in parts["tags"].items()},
            len(parts["characters"]),
            **cls.options_for_model(config),
            **parts["rasa_features"].model_options(),
            num_intents=num_intents(parts.get("intents")),
        )


def _prepared(
    transitions: Dict[str, Optional[np.ndarray]], tags: Dict[str, LabelEncoder]
) -> Dict[str, Optional[crf_decoding.Transitions]]:
    """Each CRF head's transition scores as decoding uses them, derived once; a message tagged O
    throughout has no entity to take a confidence, so it gets none computed."""
    prepared: Dict[str, Optional[crf_decoding.Transitions]] = {}
    for head, scores in transitions.items():
        labels = tags[head].labels
        outside = labels.index(OUTSIDE) if OUTSIDE in labels else None
        prepared[head] = None if scores is None else crf_decoding.Transitions(scores, outside)
    return prepared


def intent_name(message: Message) -> Optional[str]:
    """The message's intent: the name of the classifier's {"name", "confidence"} at parse, the
    gold intent (a string) in training; None without one."""
    intent = message.get(INTENT)
    if isinstance(intent, dict):
        intent = intent.get("name")
    return intent if isinstance(intent, str) and intent else None


def num_intents(intents: Optional[LabelEncoder]) -> int:
    """Width of the model's intent input (0: none)."""
    return len(intents) if intents else 0


def stored_intents(names: Any) -> Optional[LabelEncoder]:
    """The intents of metadata.json: a sorted list of distinct names, or None. Raises ValueError."""
    if names is None:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("'intents' must be a list of intent names")
    if len(names) < 2 or names != sorted(set(names)):
        raise ValueError("'intents' must be two or more distinct names, sorted, as stored")
    return LabelEncoder(names)
