"""One lifecycle for every trainable component of ours: create -> train (or continue training) ->
persist -> load -> fingerprint.

A component mixes in `KerasComponent` and writes only what is its own: the data it stores beside
the weights (`_stored`), how that data becomes its parts again (`_restore`), and how the network is
built from the stored options (`_build`). Loading, the checks that come before anything is built,
finetuning (`rasa train --finetune` loads instead of creating, then calls `train`), serving and the
cache fingerprint live here once.

Serving: a loaded component predicts with NumPy from the stored weights (`_serve`), with no Keras
model built or traced at load; the Keras model is built only to continue training (finetuning),
for archives that predate stored weight names, or with `RNN_NLU_SERVING=keras`.
"""

import logging
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
import threadpoolctl
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import RasaException
from tensorflow import keras

from rnn_nlu import persistence
from rnn_nlu.features import LabelEncoder, Vocabulary
from rnn_nlu.models.inference import Lazy, compiled_predict, smallest_input
from rnn_nlu.models.numpy_layers import Weights, canonical_name, named_members
from rnn_nlu.source import fingerprint
from rnn_nlu.training import fit

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Options of `fit` that every component takes from its config.
FIT_OPTIONS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "clipnorm",
    "validation_split",
    "patience",
    "patience_examples",
)

# Model options that are sizes of a weight array: each must be a dimension of a stored array.
SIZE_OPTIONS = (
    "embedding_dim",
    "char_embedding_dim",
    "char_filters",
    "rnn_units",
    "context_units",
    "projection_units",
)


# "numpy" (default): serve loaded models with NumPy; "keras": build and trace the Keras model.
SERVING_VARIABLE = "RNN_NLU_SERVING"
SERVINGS = ("numpy", "keras")
# Threads of the BLAS library under NumPy once a model serves: "1" (default), a number, or "0" to
# leave them as they are. A message's matrices are small: one thread was faster on a quiet machine
# (SNIPS parse p50 3.0 against 4.1 ms) and far faster on a shared CPU (README, "One BLAS thread").
BLAS_THREADS_VARIABLE = "RNN_NLU_BLAS_THREADS"
_blas_threads_set: Optional[int] = None  # what `limit_blas_threads` last set in this process


class FinetuningError(RasaException):
    """The new training data needs a model that the trained one cannot be continued into."""


def in_batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of `items` of at most `size` each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class KerasComponent:
    """Create, train or continue, persist, load and fingerprint a component backed by Keras.

    The component sets `self.model` (None while untrained), `self.config`, and keeps
    `self._model_storage`, `self._resource` and `self.finetune` (True when Rasa loaded it to
    continue training). Its constructor takes
    `(config, model_storage, resource, execution_context, model=None, **parts)`.
    """

    # Keys `metadata.json` must hold.
    REQUIRED_METADATA: Tuple[str, ...] = ()
    # Keys of `metadata["config"]` that override config.yml at load (they shape the stored data).
    STORED_CONFIG: Tuple[str, ...] = ()
    # Options passed to the model builder; stored as `metadata["model"]`.
    MODEL_OPTIONS: Tuple[str, ...] = ()

    model: Optional[keras.Model]
    config: Dict[str, Any]
    finetune: bool = False
    # (weights, names) of a component served with NumPy: what `persist` stores again.
    _served: Optional[Tuple[List[np.ndarray], List[str]]] = None

    # --- what a component writes -------------------------------------------------------------

    def _stored(self) -> Dict[str, Any]:
        """What `load` needs besides the weights and the options (labels, vocabularies)."""
        raise NotImplementedError

    @classmethod
    def _restore(cls, metadata: Dict[str, Any], config: Dict[str, Any]) -> Dict[str, Any]:
        """The constructor's parts (labels, vocabularies, ...) from `_stored()`'s data."""
        raise NotImplementedError

    @classmethod
    def _build(
        cls, config: Dict[str, Any], parts: Dict[str, Any], weights: List[np.ndarray]
    ) -> keras.Model:
        """The untrained network for the stored `config` and `parts`, shaped for `weights`."""
        raise NotImplementedError

    def _serve(self, networks: List[Weights]) -> None:
        """Sets the component's prediction function to a NumPy forward over `networks` (one
        mapping of canonical weight names per network), with the same outputs as the Keras
        model's compiled prediction."""
        raise NotImplementedError

    @classmethod
    def _network_count(cls, config: Dict[str, Any]) -> int:
        """How many networks of the same layout the stored weights hold (ensembles: several)."""
        return 1

    @classmethod
    def _implied_sizes(cls, config: Dict[str, Any], parts: Dict[str, Any]) -> Dict[str, int]:
        """Sizes that the stored data implies, each a dimension of some stored weight array."""
        sizes = {key: config[key] for key in SIZE_OPTIONS if key in cls.MODEL_OPTIONS}
        sizes.update({f"dense_units[{i}]": n for i, n in enumerate(config.get("dense_units", []))})
        for name, part in parts.items():
            for key, value in part.items() if isinstance(part, dict) else [(None, part)]:
                if isinstance(value, (Vocabulary, LabelEncoder)) and len(value) > 1:
                    sizes[f"{name}[{key}]" if key else name] = len(value)
        return sizes

    # --- the shared lifecycle ----------------------------------------------------------------

    @classmethod
    def options_for_model(cls, config: Dict[str, Any]) -> Dict[str, Any]:
        """The options the model builder takes, from `config`."""
        return {key: config[key] for key in cls.MODEL_OPTIONS}

    def model_options(self) -> Dict[str, Any]:
        """The options the model builder takes, from this component's config."""
        return self.options_for_model(self.config)

    def persist(self) -> None:
        """Stores the component's data, options, weights and their names in Rasa's model
        storage."""
        weights, names = self._served if self._served else (None, None)
        if self.model is not None:
            weights = self.model.get_weights()
            names = [canonical_name(w.name) for w in self.model.weights]
        metadata = {
            "component": self.__class__.__name__,
            "model": self.model_options(),
            "config": {key: self.config[key] for key in self.STORED_CONFIG},
            **self._stored(),
        }
        if names is not None:
            metadata["weight_names"] = names
        persistence.write_bundle(self._model_storage, self._resource, metadata, weights)

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> Any:
        """Creates a new untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> Any:
        """Loads the trained component; with `execution_context.is_finetuning`, ready to continue
        training (see parent class for full docstring)."""
        name = cls.__name__
        metadata, weights = persistence.read_bundle(
            model_storage, resource, name, required=("model", *cls.REQUIRED_METADATA)
        )
        with persistence.reading_metadata(name):
            saved = {**config, **metadata["model"], **metadata.get("config", {})}
            cls.validate(saved)
            parts = cls._restore(metadata, saved)
            if weights is not None:
                _check_sizes(name, cls._implied_sizes(saved, parts), weights)
        names = metadata.get("weight_names")
        serve = (
            weights is not None
            and names is not None
            and not execution_context.is_finetuning
            and serving() == "numpy"
        )
        model = None
        if weights is not None and not serve:
            model = cls._build(saved, parts, weights)
            persistence.set_model_weights(model, weights, name)
        component = cls(saved, model_storage, resource, execution_context, model=model, **parts)
        if serve:
            component._start_serving(weights, names)
        elif model is not None and not execution_context.is_finetuning:
            component._check_serving()  # traces the Keras model's prediction before any message
        component.finetune = execution_context.is_finetuning
        if component.finetune:
            logger.info(f"{name}: loaded to continue training (finetuning).")
        return component

    def _start_serving(self, weights: List[np.ndarray], names: Any) -> None:
        """Serves the stored weights with NumPy; a prediction on a smallest input checks that
        they fit the stored options before the first message comes."""
        component = self.__class__.__name__
        with persistence.reading_metadata(component):
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("'weight_names' must be a list of strings")
            networks = named_members(names, weights, self._network_count(self.config))
        self._served = (weights, names)
        limit_blas_threads()
        try:
            self._serve(networks)
            self._check_serving()
        except (KeyError, ValueError, IndexError, TypeError) as error:
            raise persistence.ModelArchiveError(
                f"{component}: '{persistence.WEIGHTS_FILE}' does not fit the model described in "
                f"'{persistence.METADATA_FILE}': {error!r}"
            ) from error

    def _check_serving(self) -> None:
        """Predicts once on a smallest input, so that weights that do not fit fail at load."""
        self._predict(smallest_input(self._signature()))

    def _keras_predict(self, model: keras.Model) -> Lazy:
        """`model`'s prediction over `_signature()`, traced at its first call: at load
        (`_check_serving`) or when a trained component predicts (`rasa train` loads a new one to
        predict, so training does not wait for the tracing)."""
        return Lazy(lambda: compiled_predict(model, self._signature()))

    def _signature(self) -> Any:
        """The structure of `tf.TensorSpec`s the prediction function takes."""
        raise NotImplementedError

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Our package version and source: Rasa's cache retrains this node when either changes."""
        return fingerprint()

    def continues(self) -> bool:
        """Whether `train` continues the loaded network (finetuning) instead of building one."""
        return self.finetune and self.model is not None

    def known(self, kind: str, stored: Iterable[str], found: Iterable[str]) -> None:
        """Raises `FinetuningError` when the new data has `kind`s (labels) the model lacks."""
        new = sorted(set(found) - set(stored))
        if new:
            raise FinetuningError(
                f"{self.__class__.__name__} cannot finetune: the training data has "
                f"{len(new)} new {kind}(s) ({', '.join(map(repr, new[:10]))}) that the trained "
                f"model does not know. Train from scratch (`rasa train` without --finetune)."
            )

    def fit_network(
        self, network: keras.Model, x: Any, y: Any, *, seed: int, **options: Any
    ) -> keras.callbacks.History:
        """Trains `network` (fresh or loaded) with this component's training options."""
        if self.continues():
            logger.info(
                f"{self.__class__.__name__}: continuing from the trained weights for "
                f"{self.config['epochs']} epoch(s)."
            )
        history = fit(
            network,
            x,
            y,
            random_seed=seed,
            **{key: self.config[key] for key in FIT_OPTIONS},
            **options,
        )
        self.histories = [*getattr(self, "histories", []), history.history]
        return history


def serving() -> str:
    """How loaded models predict: `RNN_NLU_SERVING`, "numpy" (default) or "keras"."""
    value = os.environ.get(SERVING_VARIABLE, "numpy").strip().lower() or "numpy"
    if value not in SERVINGS:
        raise RasaException(f"{SERVING_VARIABLE} must be one of {SERVINGS}, not {value!r}.")
    return value


def limit_blas_threads() -> None:
    """Sets the threads of the BLAS libraries NumPy loaded to `RNN_NLU_BLAS_THREADS` (default 1;
    0: leaves them), once per process and value (finding the libraries takes 5-20 ms)."""
    global _blas_threads_set
    value = os.environ.get(BLAS_THREADS_VARIABLE, "1").strip() or "1"
    if not value.isdigit():
        raise RasaException(f"{BLAS_THREADS_VARIABLE} must be a whole number >= 0, not {value!r}.")
    threads = int(value)
    if threads > 0 and _blas_threads_set != threads:
        threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
        _blas_threads_set = threads


def _check_sizes(component: str, sizes: Dict[str, int], weights: List[np.ndarray]) -> None:
    """Refuses stored data that implies sizes no stored array has, before anything is built.

    A tampered vocabulary or option could otherwise make Keras allocate a huge network first.
    """
    dims = {d for w in weights for d in w.shape}
    wrong = {name: size for name, size in sizes.items() if size not in dims}
    if wrong:
        found = ", ".join(f"{name} = {size}" for name, size in sorted(wrong.items()))
        raise persistence.ModelArchiveError(
            f"{component}: '{persistence.METADATA_FILE}' does not fit "
            f"'{persistence.WEIGHTS_FILE}': no stored array has a dimension for {found}; "
            f"nothing was built."
        )
