"""Saving and loading a trained model as plain data: weights in .npz plus a JSON file. No pickle.

Loading reads arrays with `allow_pickle=False` and JSON, then rebuilds the Keras model from the
JSON config with our own builder and sets the weights: nothing in an archive can run code.
"""

import json
import logging
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.exceptions import RasaException
from tensorflow import keras

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "weights.npz"


class ModelArchiveError(RasaException):
    """A stored model of ours is missing, corrupt or does not fit its own configuration."""


def save_bundle(
    directory: Path, metadata: Dict[str, Any], weights: Optional[List[np.ndarray]] = None
) -> None:
    """Writes `metadata` as JSON and, if given, `weights` (a model's `get_weights()`) as .npz."""
    (directory / METADATA_FILE).write_text(json.dumps(metadata, ensure_ascii=False, indent=1))
    if weights is not None:
        np.savez(directory / WEIGHTS_FILE, *weights)


def write_bundle(
    model_storage: ModelStorage,
    resource: Resource,
    metadata: Dict[str, Any],
    weights: Optional[List[np.ndarray]] = None,
) -> None:
    """Stores a bundle in Rasa's model storage; `metadata["has_weights"]` says if weights exist."""
    with model_storage.write_to(resource) as directory:
        save_bundle(directory, {**metadata, "has_weights": weights is not None}, weights)


def read_bundle(
    model_storage: ModelStorage, resource: Resource, component: str, required: Sequence[str] = ()
) -> Tuple[Dict[str, Any], Optional[List[np.ndarray]]]:
    """(metadata, weights or None) of the bundle stored for `resource`.

    A trained model whose directory is gone, or a bundle that is incomplete or corrupt, raises
    `ModelArchiveError`: loading never silently gives an untrained component.
    """
    try:
        with model_storage.read_from(resource) as directory:
            metadata = load_metadata(directory, component, required)
            weights = load_weights(directory, component) if metadata.get("has_weights") else None
            return metadata, weights
    except ValueError as error:
        if isinstance(error, RasaException):
            raise
        raise ModelArchiveError(
            f"{component}: the model has nothing stored for it (resource '{resource.name}': "
            f"{error}). The archive is incomplete; train the model again."
        ) from error


@contextmanager
def reading_metadata(component: str) -> Iterator[None]:
    """Inside it, a missing key or a value of the wrong type in the metadata raises a clear
    `ModelArchiveError` naming the component and the file."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelArchiveError(f"{component}: '{METADATA_FILE}' is malformed: {error}") from error


def load_metadata(directory: Path, component: str, required: Sequence[str] = ()) -> Dict[str, Any]:
    """The JSON metadata of `component`, checked to be an object holding the `required` keys."""
    path = directory / METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelArchiveError(f"{component}: cannot read '{path.name}': {error}") from error
    if not isinstance(metadata, dict):
        raise ModelArchiveError(f"{component}: '{path.name}' must hold a JSON object.")
    missing = [key for key in required if key not in metadata]
    if missing:
        raise ModelArchiveError(f"{component}: '{path.name}' lacks {', '.join(missing)}.")
    return metadata


def load_weights(directory: Path, component: str) -> List[np.ndarray]:
    """The weight arrays of `component`, in the order they were saved; object arrays are refused."""
    path = directory / WEIGHTS_FILE
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = sorted(archive.files, key=lambda name: int(name.split("_")[-1]))
            return [archive[name] for name in names]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ModelArchiveError(f"{component}: cannot read '{path.name}': {error}") from error


def set_model_weights(model: keras.Model, weights: List[np.ndarray], component: str) -> None:
    """Sets `weights` on `model`, with a clear error when they do not fit its configuration."""
    expected = [tuple(w.shape) for w in model.weights]
    found = [tuple(w.shape) for w in weights]
    if expected != found:
        raise ModelArchiveError(
            f"{component}: '{WEIGHTS_FILE}' does not fit the model described in '{METADATA_FILE}' "
            f"({len(found)} arrays, expected {len(expected)}; first mismatch: "
            f"{_first_mismatch(expected, found)})."
        )
    model.set_weights(weights)


def _first_mismatch(expected: List[Tuple], found: List[Tuple]) -> str:
    for i, (a, b) in enumerate(zip(expected, found)):
        if a != b:
            return f"array {i} has shape {b}, expected {a}"
    return "different number of arrays"
