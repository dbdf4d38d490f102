"""SentencePieceTokenizer: subword tokens learnt from the bot's own training data, any language."""

import logging
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ACTION_TEXT, ENTITIES, RESPONSE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning

from rnn_nlu import persistence
from rnn_nlu.config import validate_config
from rnn_nlu.subwords import MODEL_TYPES, SubwordSplitter, train_model, training_segments

logger = logging.getLogger(__name__)

MODEL_FILE = "sentencepiece.model"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class SentencePieceTokenizer(Tokenizer):
    """Splits text at whitespace, punctuation and digits, then into SentencePiece subwords."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Split intent names into tokens at `intent_split_symbol` (as Rasa's other tokenizers).
            "intent_tokenization_flag": False,
            # Symbol on which intent names are split.
            "intent_split_symbol": "_",
            # Regular expression that further splits each token (null: off).
            "token_pattern": None,
            # Symbol on which a prefix of intent names is split off (null: off).
            "prefix_separator_symbol": None,
            # SentencePiece algorithm: "unigram", "bpe" or "char" (every character a token).
            "model_type": "unigram",
            # Most pieces to learn; lowered automatically (with a logged note) for small data.
            "vocab_size": 8000,
            # Share of characters the pieces cover; rarer ones become unknown-character tokens.
            "character_coverage": 1.0,
            # Learn and apply pieces case-insensitively; token texts keep the message's case.
            "lowercase": True,
            # Seed of SentencePiece's random generator: the same data gives the same model.
            "random_seed": 42,
            # Path of a trained SentencePiece .model file to use instead of training (null: train).
            "model_file": None,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Any extra python dependencies required for this component to run."""
        return ["sentencepiece"]

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[bytes] = None,
        source: Optional[str] = None,
    ) -> None:
        config = {**self.get_default_config(), **config}
        self.validate(config)
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self.splitter = self._splitter(model, source)

    @classmethod
    def validate(cls, config: Dict[str, Any]) -> None:
        """Raises `InvalidConfigException` naming an unknown or invalid option."""
        name = cls.__name__
        validate_config(config, cls.get_default_config(), name, {"model_type": MODEL_TYPES})
        if not 0.0 < config["character_coverage"] <= 1.0:
            raise InvalidConfigException(
                f"{name}: option 'character_coverage' must be in (0, 1], "
                f"got {config['character_coverage']!r}."
            )

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentencePieceTokenizer":
        """Creates a new component; with `model_file`, that model is read now."""
        path = config.get("model_file")
        return cls(config, model_storage, resource, cls._read_model_file(path) if path else None)

    @classmethod
    def _read_model_file(cls, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise InvalidConfigException(
                f"{cls.__name__}: cannot read 'model_file' {path!r}: {error}"
            ) from error

    def _splitter(self, model: Optional[bytes], source: Optional[str] = None) -> SubwordSplitter:
        try:
            return SubwordSplitter(model)
        except (RuntimeError, OSError) as error:
            source = source or f"model_file {self._config['model_file']!r}"
            raise persistence.ModelArchiveError(
                f"{self.__class__.__name__}: {source} is not a SentencePiece model: {error}"
            ) from error

    def train(self, training_data: TrainingData) -> Resource:
        """Learns the model from all training texts and persists it.

        A model it already has (from `model_file`, or loaded for `rasa train --finetune`) is kept,
        so fine-tuned components see the same tokens as before.
        """
        if self.splitter.model is None:
            options = ("model_type", "vocab_size", "character_coverage", "lowercase", "random_seed")
            model = train_model(
                self._training_texts(training_data), **{k: self._config[k] for k in options}
            )
            if model is None:
                raise_warning(
                    f"{self.__class__.__name__} found no text to learn subwords from; it will "
                    f"split messages at whitespace, punctuation and digits only."
                )
            self.splitter = self._splitter(model, "the trained model")
        logger.info(f"{self.__class__.__name__}: {len(self.splitter)} pieces.")
        self.persist()
        return self._resource

    @staticmethod
    def _training_texts(training_data: TrainingData) -> Iterator[str]:
        """Letter segments of every text, cut at annotated entity boundaries; lookup entries too."""
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if isinstance(text, str):
                spans = [
                    (e["start"], e["end"])
                    for e in example.get(ENTITIES) or []
                    if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
                ]
                yield from training_segments(text, spans)
            for attribute in (RESPONSE, ACTION_TEXT):
                if isinstance(example.get(attribute), str):
                    yield from training_segments(example.get(attribute))
        for table in training_data.lookup_tables:
            elements = table.get("elements")
            for element in elements if isinstance(elements, list) else []:
                yield from training_segments(str(element))
        for synonym, value in training_data.entity_synonyms.items():
            yield from training_segments(synonym) + training_segments(value)

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        """Tokens of the attribute's text; each token's text is `text[start:end]`."""
        text = message.get(attribute) or ""
        tokens = [Token(text[start:end], start, end) for start, end in self.splitter.spans(text)]
        return self._apply_token_pattern(tokens)

    def persist(self) -> None:
        """Stores the SentencePiece model file and a JSON description in the model storage."""
        with self._model_storage.write_to(self._resource) as directory:
            persistence.save_bundle(
                directory,
                {
                    "component": self.__class__.__name__,
                    "pieces": len(self.splitter),
                    "has_model": self.splitter.model is not None,
                },
            )
            if self.splitter.model is not None:
                (directory / MODEL_FILE).write_bytes(self.splitter.model)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentencePieceTokenizer":
        """Loads the stored model (see parent class for full docstring); never runs stored code."""
        try:
            with model_storage.read_from(resource) as directory:
                metadata = persistence.load_metadata(directory, cls.__name__, ("has_model",))
                model = (directory / MODEL_FILE).read_bytes() if metadata["has_model"] else None
        except ValueError as error:
            if isinstance(error, persistence.ModelArchiveError):
                raise
            logger.debug(f"{cls.__name__}: nothing stored for '{resource.name}' ({error}).")
            return cls(config, model_storage, resource)
        except OSError as error:
            raise persistence.ModelArchiveError(
                f"{cls.__name__}: cannot read '{MODEL_FILE}': {error}"
            ) from error
        return cls(config, model_storage, resource, model, f"the stored '{MODEL_FILE}'")
