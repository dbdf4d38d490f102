"""Rasa glue shared by our intent classifiers; a subclass only names its Keras model and options."""

import logging
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, Type, Union

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
from rnn_nlu.char_ngrams import CharNgrams
from rnn_nlu.components import rasa_features
from rnn_nlu.components.rasa_features import FEATURE_DEFAULTS, FeatureLayout
from rnn_nlu.config import validate_config
from rnn_nlu.features import LabelEncoder, TokenFeatures, Vocabulary, encode_batch
from rnn_nlu.lifecycle import KerasComponent, in_batches
from rnn_nlu.models import calibration
from rnn_nlu.models.ensemble import (
    average_ensemble,
    distillation_loss,
    members,
    smoothed_crossentropy,
)
from rnn_nlu.models.numpy_layers import Weights, stack_members
from rnn_nlu.models.numpy_models import TOKEN_TABLE_ROWS, serving_weights, tabulated_rows
from rnn_nlu.training import (
    PATIENCE_EXAMPLES,
    balanced_class_weights,
    padded,
    set_seed,
    split_indices,
    take,
)

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
    # Epochs without a better held-out loss (plain cross-entropy, also with label smoothing) before
    # training stops; the best weights are restored.
    "patience": 5,
    # On large data fewer: the epochs that hold this many training examples, at least 2
    # (0: always `patience`).
    "patience_examples": PATIENCE_EXAMPLES,
    # Seed for weight initialisation, shuffling and the held-out split.
    "random_seed": 42,
    # Longer messages are cut to this many tokens.
    "max_sequence_length": 64,
    # Lower-case tokens before looking them up in the vocabulary.
    "lowercase": True,
    # Tokens seen fewer times in training map to the unknown-word id.
    "min_token_frequency": 1,
    # Learn each token's character n-grams, 1 to this many characters (as CountVectorsFeaturizer
    # with analyzer char_wb counts them), as its sparse features: a misspelt or unseen word still
    # looks like words the classifier knows (0: off).
    "char_ngrams": 0,
    # Number of intents in `intent_ranking` (0: all).
    "ranking_length": 10,
    # Networks trained from different seeds (and held-out splits) whose probabilities are averaged;
    # steadier, more accurate intents for that many times the training and prediction work.
    "ensemble_size": 3,
    # Fit each network's temperature on its held-out split (needs validation_split > 0); the
    # ranking does not change. Needed with label smoothing, whose confidences are too low (README).
    "calibrate": False,
    # "balanced": each intent's examples weigh in the loss as if every intent had as many (as in
    # Rasa's LogisticRegressionClassifier): rare intents are learnt better (README); "none": every
    # example weighs one (the default: the demo bots' held-out conversations are tuned to it).
    "class_weight": "none",
    # Train one more network on the ensemble's averaged probabilities (knowledge distillation) and
    # keep only it: the parse time and archive of one network, for one more network's training.
    "distill": False,
    # Share of each training label's probability spread evenly over all intents in the loss
    # (label smoothing, Szegedy et al. 2016; 0: off).
    "label_smoothing": 0.0,
}
CLASS_WEIGHTS = ("none", "balanced")
# The temperature the ensemble's probabilities are softened to for the distilled network.
DISTILL_TEMPERATURE = 2.0

PREDICT_BATCH = 256  # messages per compiled call in `process`; bounds memory for large batches


class RecurrentIntentClassifier(KerasComponent, GraphComponent, IntentClassifier):
    """Trains a Keras classifier over token ids (and the per-token features of Rasa's featurizers
    before it, see `rasa_features`) and sets `intent` and `intent_ranking`."""

    # Options passed to `build_model`, with their defaults, and the allowed values of some of them.
    MODEL_DEFAULTS: Dict[str, Any] = {}
    # A subclass's own defaults of TRAINING_DEFAULTS options.
    TRAINING_OVERRIDES: Dict[str, Any] = {}
    MODEL_CHOICES: Dict[str, Sequence[Any]] = {}
    REQUIRED_METADATA = ("labels", "vocabulary")
    STORED_CONFIG = ("max_sequence_length", "ensemble_size")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.MODEL_OPTIONS = (*cls.MODEL_DEFAULTS, "feature_units")

    @staticmethod
    def forward(
        weights: Weights, options: Dict[str, Any], inputs: Any, stacked: bool = False
    ) -> np.ndarray:
        """`build_model`'s network in NumPy: (batch, labels) probabilities from one network's
        weights (by canonical name), the builder's options and the same inputs; with `stacked`,
        (networks, batch, labels) from weights stacked on a first axis (`stack_members`)."""
        raise NotImplementedError

    @staticmethod
    def build_model(vocab_size: int, num_labels: int, **options: Any) -> keras.Model:
        """The untrained Keras model: (batch, time) token ids (and the features of Rasa's
        featurizers, for `sparse_feature_dim` / `dense_feature_dim` > 0) -> (batch, labels)
        probabilities."""
        raise NotImplementedError

    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @classmethod
    def get_default_config(cls) -> Dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            **TRAINING_DEFAULTS,
            **cls.TRAINING_OVERRIDES,
            **cls.MODEL_DEFAULTS,
            **FEATURE_DEFAULTS,
        }

    @classmethod
    def validate(cls, config: Dict[str, Any]) -> None:
        """Raises `InvalidConfigException` naming an unknown or invalid option."""
        choices = {**cls.MODEL_CHOICES, "class_weight": CLASS_WEIGHTS}
        validate_config(config, cls.get_default_config(), cls.__name__, choices)

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: Optional[ExecutionContext] = None,
        model: Optional[keras.Model] = None,
        labels: Optional[LabelEncoder] = None,
        vocabulary: Optional[Vocabulary] = None,
        rasa_features: Optional[FeatureLayout] = None,
        temperatures: Optional[List[float]] = None,
        char_ngrams: Optional[CharNgrams] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.validate(self.config)
        self._model_storage = model_storage
        self._resource = resource
        self.labels = labels
        self.vocabulary = vocabulary
        self.rasa_features = rasa_features or FeatureLayout()
        self.temperatures = temperatures  # one per network; None: all 1
        self.char_ngrams = char_ngrams  # the n-grams learnt in training; None: none
        self._set_model(model)

    def _set_model(self, model: Optional[keras.Model]) -> None:
        self.model = model
        self._predict = self._keras_predict(model) if model else None
        self._tabulated: FrozenSet[str] = frozenset()  # words whose n-grams the table holds

    def _signature(self) -> Any:
        signature = tf.TensorSpec([None, None], tf.int32)
        if self.rasa_features.present:
            signature = {"token_ids": signature, **self.rasa_features.signature()}
        return signature

    def _serve(self, networks: List[Weights]) -> None:
        options = {**self.model_options(), **self.rasa_features.model_options()}
        temperatures = self.temperatures or [1.0] * len(networks)
        # each network's temperature in its softmax layer; all networks in one pass (the
        # ensemble's mean); directions fused, first layer tabulated
        networks = [calibration.folded(n, "intent", t) for n, t in zip(networks, temperatures)]
        word_features = self._word_features(options)
        stacked = serving_weights(
            stack_members(networks), options, stacked=True, word_features=word_features
        )
        if word_features is not None:  # the n-grams of the tabulated words are in the table
            rows = tabulated_rows(stacked, options)
            self._tabulated = frozenset(self.vocabulary.tokens[2:rows])

        def predict(inputs: Any) -> np.ndarray:
            return np.mean(self.forward(stacked, options, inputs, stacked=True), axis=0)

        self._predict = predict

    def _word_features(self, options: Dict[str, Any]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """The character n-grams of the vocabulary's first TOKEN_TABLE_ROWS words, (ids, values)
        by token id (none for padding and the unknown word), when they are the network's only
        per-token features and nothing reads the inputs but the first layer: serving then looks
        those words' n-grams up in its token table (`tabulate_tokens`). None otherwise."""
        layout = self.rasa_features
        if not self.char_ngrams or len(layout.sparse) != 1 or layout.dense:
            return None
        if options.get("pool_inputs"):  # pools the inputs themselves
            return None
        words = [[word] for word in self.vocabulary.tokens[:TOKEN_TABLE_ROWS]]
        ids, values = self.char_ngrams.packed(words, 1, layout.max_active)
        ids[:2], values[:2] = 0, 0.0  # padding, and the unknown word: its n-grams are the word's
        return ids[:, 0], values[:, 0]

    @classmethod
    def _network_count(cls, config: Dict[str, Any]) -> int:
        return config["ensemble_size"]

    @staticmethod
    def _tokens(message: Message) -> List[str]:
        return [token.text for token in message.get(TOKENS_NAMES[TEXT]) or []]

    def _inputs(
        self, messages: Sequence[Message], training: bool = False
    ) -> Union[np.ndarray, Dict[str, Any]]:
        """Token ids; with Rasa's features, a dict of them and the feature arrays (`training`: the
        sparse ones as `RaggedRows`, for `fit`)."""
        ids = encode_batch(
            [self._tokens(m) for m in messages], self.vocabulary, self.config["max_sequence_length"]
        )
        layout, name, own = self.rasa_features, self.__class__.__name__, self._own_features()
        read_rasa = self.config["use_rasa_features"]
        if training:
            features = rasa_features.encode_ragged(messages, layout, ids, name, own, read_rasa)
        else:
            features = rasa_features.encode(messages, layout, ids.shape[1], name, own, read_rasa)
        return {"token_ids": ids, **features} if features else ids

    def _own_features(self) -> Optional["OwnCharNgrams"]:
        """The character n-grams of a message's tokens, as one more featurizer's (None: off);
        none for the words whose n-grams the served token table holds."""
        if not self.char_ngrams:
            return None
        return OwnCharNgrams(self.char_ngrams, self._tokens, self._tabulated)

    def train(self, training_data: TrainingData) -> Resource:
        """Trains on the intent examples (finetuning: continues the loaded model); persists it."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        found = LabelEncoder(e.get(INTENT) for e in examples)
        if self.continues():
            self.known("intent", self.labels.labels, found.labels)
        else:
            self.labels = found
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

        name = self.__class__.__name__
        if not self.continues():  # finetuning keeps the vocabulary (new words are unknown words)
            tokens = [self._tokens(e) for e in examples]  # and the character n-grams
            self.vocabulary = Vocabulary.build(
                tokens, self.config["min_token_frequency"], self.config["lowercase"]
            )
            self.char_ngrams = self._built_char_ngrams(tokens)
        found = rasa_features.layout_of(
            examples, name, self._own_features(), self.config["use_rasa_features"]
        )
        if self.continues():  # and the features
            rasa_features.check_finetuning(self.rasa_features, found, name)
        else:
            self.rasa_features = found
        x = self._inputs(examples, training=True)
        y = self.labels.encode([e.get(INTENT) for e in examples])
        weights = balanced_class_weights(y) if self.config["class_weight"] == "balanced" else None
        loaded = members(self.model) if self.continues() else []
        size = len(loaded) or self.config["ensemble_size"]
        networks, temperatures = [], []
        for i in range(size):
            seed = self.config["random_seed"] + i
            network = loaded[i] if loaded else self._new_network(seed)
            logger.info(
                f"{self.__class__.__name__} network {i + 1}/{size}: {len(examples)} examples, "
                f"{len(self.labels)} intents, {len(self.vocabulary)} tokens, "
                f"{network.count_params():,} parameters."
            )
            self.fit_network(
                network, x, y, seed=seed, stratify=y, class_weight=weights, **self._loss_options()
            )
            networks.append(network)
            temperatures.append(self._temperature(network, x, y, seed))
        if self.config["distill"] and not loaded:
            networks, temperatures = self._distilled(networks, temperatures, x, y, weights)
        self.temperatures = temperatures
        self._set_model(average_ensemble(networks, temperatures))
        self.persist()
        return self._resource

    def _built_char_ngrams(self, tokens: List[List[str]]) -> Optional[CharNgrams]:
        """The training tokens' character n-grams with `char_ngrams` > 0 (None: off, or none)."""
        if not self.config["char_ngrams"]:
            return None
        ngrams = CharNgrams.build(tokens, self.config["char_ngrams"], self.config["lowercase"])
        return ngrams if ngrams.width else None

    def _loss_options(self) -> Dict[str, Any]:
        """`fit`'s loss, metrics and monitor: Keras's defaults, or smoothed labels with
        `label_smoothing` > 0. Smoothed, early stopping still watches the held-out plain
        cross-entropy: the smoothed loss keeps improving for many more epochs (training took
        1.5 x as long on CLINC150) for no better accuracy (README, "Label smoothing")."""
        smoothing = self.config["label_smoothing"]
        if smoothing <= 0:
            return {}
        plain = keras.metrics.SparseCategoricalCrossentropy(name="plain_loss")
        return {
            "loss": smoothed_crossentropy(smoothing),
            "metrics": ("accuracy", plain),
            "monitor": "val_plain_loss",
        }

    def _new_network(self, seed: int) -> keras.Model:
        set_seed(seed)  # before building: the initial weights are random too
        return self.build_model(
            len(self.vocabulary),
            len(self.labels),
            **self.model_options(),
            **self.rasa_features.model_options(),
        )

    def _distilled(
        self,
        networks: List[keras.Model],
        temperatures: List[float],
        x: Any,
        y: np.ndarray,
        class_weight: Optional[Dict[int, float]],
    ) -> Tuple[List[keras.Model], List[float]]:
        """One network (seed `random_seed` + ensemble size) trained on the ensemble's averaged
        probabilities of the training examples, softened to DISTILL_TEMPERATURE, and its
        temperature; the ensemble as it is when it has one network."""
        name = self.__class__.__name__
        if len(networks) < 2:
            raise_warning(f"{name}: distill needs ensemble_size >= 2; kept the one network.")
            return networks, temperatures
        teacher = average_ensemble(networks, temperatures)
        targets = calibration.scale(
            teacher.predict(padded(x), batch_size=PREDICT_BATCH, verbose=0), DISTILL_TEMPERATURE
        )
        seed = self.config["random_seed"] + len(networks)
        student = self._new_network(seed)
        logger.info(f"{name}: distilling {len(networks)} networks into one.")
        self.fit_network(
            student,
            x,
            targets,
            seed=seed,
            stratify=y,
            class_weight=class_weight,
            loss=distillation_loss(DISTILL_TEMPERATURE),
            metrics=("categorical_accuracy",),
        )
        self.config["ensemble_size"] = 1  # as stored: load builds one network, finetuning trains it
        return [student], [self._temperature(student, x, y, seed)]

    def _temperature(self, network: keras.Model, x: Any, y: np.ndarray, seed: int) -> float:
        """The network's temperature fitted on the split `fit` held out for it (the same indices);
        1 when calibration is off or nothing was held out. Finetuning fits it again, on the new
        data's split (which the loaded network may have been trained on)."""
        if not self.config["calibrate"]:
            return 1.0
        split = max(self.config["validation_split"], 0.0)
        train_idx, held_out = split_indices(len(y), split, seed, y)
        if not len(held_out) or not len(train_idx):  # split 0, or too few examples an intent
            smoothed = self.config["label_smoothing"] > 0
            raise_warning(
                f"{self.__class__.__name__}: calibrate is on, but validation_split {split} holds "
                f"nothing out, so there is no held-out split to fit temperatures on; temperature 1."
                + (
                    " With label_smoothing the confidences then stay below the accuracy: hold out "
                    "a validation_split, or set label_smoothing: 0 (and calibrate: false)."
                    if smoothed
                    else " Set calibrate: false to train without it."
                )
            )
            return 1.0
        probabilities = network.predict(
            padded(take(x, held_out)), batch_size=PREDICT_BATCH, verbose=0
        )
        temperature = calibration.fit_temperature(probabilities, y[held_out])
        logger.info(
            f"{self.__class__.__name__}: temperature {temperature:.3f} on {len(held_out)} "
            f"held-out examples."
        )
        return temperature

    def process(self, messages: List[Message]) -> List[Message]:
        """Sets `intent` and `intent_ranking` on each message, predicting them all in batches."""
        for batch in in_batches(messages, PREDICT_BATCH):
            for message, probabilities in zip(batch, self._probabilities(batch)):
                self._set_intent(message, probabilities)
        return messages

    def _probabilities(self, messages: Sequence[Message]) -> np.ndarray:
        count = len(self.labels) if self.labels else 0
        if self._predict is None:  # untrained, or fewer than two intents
            return np.ones((len(messages), count), dtype=np.float32)
        return np.asarray(self._predict(self._inputs(messages)))

    def _set_intent(self, message: Message, probabilities: np.ndarray) -> None:
        if not self.labels or not self.labels.labels:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)
            return
        ranking = self.labels.ranking(probabilities, self.config["ranking_length"])
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

    def _stored(self) -> Dict[str, Any]:
        return {
            "labels": self.labels.labels if self.labels else [],
            "vocabulary": self.vocabulary.to_json() if self.vocabulary else None,
            "rasa_features": self.rasa_features.to_json(),
            "temperatures": self.temperatures,
            "char_ngrams": self.char_ngrams.to_json() if self.char_ngrams else None,
        }

    @classmethod
    def _restore(cls, metadata: Dict[str, Any], config: Dict[str, Any]) -> Dict[str, Any]:
        vocabulary, ngrams = metadata["vocabulary"], metadata.get("char_ngrams")
        layout = FeatureLayout.from_json(metadata.get("rasa_features"))
        # archives written before char_ngrams have none
        char_ngrams = CharNgrams.from_json(ngrams) if ngrams else None
        width = dict(layout.sparse).get(CharNgrams.ORIGIN)
        if width != (char_ngrams.width if char_ngrams else None):
            raise ValueError(
                f"char_ngrams: {char_ngrams.width if char_ngrams else 'no'} n-grams stored, but "
                f"the features read {width or 'none'}"
            )
        return {
            "labels": LabelEncoder(metadata["labels"]),
            "vocabulary": Vocabulary.from_json(vocabulary) if vocabulary else None,
            "rasa_features": layout,
            "char_ngrams": char_ngrams,
            # Archives written before calibration have none: their networks as they are.
            "temperatures": (
                calibration.check_temperatures(metadata["temperatures"], config["ensemble_size"])
                if metadata.get("temperatures") is not None
                else None
            ),
        }

    @classmethod
    def _implied_sizes(cls, config: Dict[str, Any], parts: Dict[str, Any]) -> Dict[str, int]:
        features = parts["rasa_features"].implied_sizes(
            config["embedding_dim"], config["feature_units"]
        )
        return {**super()._implied_sizes(config, parts), **features}

    @classmethod
    def _build(
        cls, config: Dict[str, Any], parts: Dict[str, Any], weights: List[np.ndarray]
    ) -> keras.Model:
        options = {**cls.options_for_model(config), **parts["rasa_features"].model_options()}

        def build() -> keras.Model:
            return cls.build_model(len(parts["vocabulary"]), len(parts["labels"]), **options)

        size, first = config["ensemble_size"], build()
        if len(weights) != size * len(first.weights):  # before building a tampered count
            raise persistence.ModelArchiveError(
                f"{cls.__name__}: {len(weights)} weight arrays cannot be {size} networks of "
                f"{len(first.weights)} arrays each."
            )
        networks = [first] + [build() for _ in range(size - 1)]
        return average_ensemble(networks, parts["temperatures"])


class OwnCharNgrams:
    """A classifier's `CharNgrams` of the messages' tokens, as `rasa_features.OwnFeatures`."""

    def __init__(
        self,
        ngrams: CharNgrams,
        tokens: Callable[[Message], List[str]],
        tabulated: FrozenSet[str] = frozenset(),
    ) -> None:
        self.ngrams, self.tokens, self.origin = ngrams, tokens, ngrams.ORIGIN
        self.tabulated = tabulated  # (normalised) words left without n-grams by `packed`

    def features(self, message: Message) -> TokenFeatures:
        return self.ngrams.features(self.tokens(message))

    def packed(
        self, messages: Sequence[Message], length: int, max_active: int
    ) -> Tuple[np.ndarray, np.ndarray]:
        tokens = [self.tokens(m) for m in messages]
        return self.ngrams.packed(tokens, length, max_active, self.tabulated)
