"""Stored bundles: corrupt, missing or mismatched files are clear errors; nothing in them runs."""

import json
import pickle

import numpy as np
import pytest
from rasa.engine.storage.resource import Resource

from rnn_nlu import TextRNNClassifier
from rnn_nlu.persistence import METADATA_FILE, WEIGHTS_FILE, ModelArchiveError
from tests.helpers import training_data

SENTINEL_NAME = "code-ran"


class Payload:
    """Unpickling this creates a file: proof that code from the archive ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def stored(tmp_path_factory, execution_context):
    """A TextRNN trained on the tiny data; returns (storage root, resource)."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    root = tmp_path_factory.mktemp("stored")
    storage = LocalModelStorage.create(root)
    resource = Resource("text_rnn")
    component = TextRNNClassifier.create(
        {"epochs": 1, "embedding_dim": 8, "rnn_units": 8}, storage, resource, execution_context
    )
    component.train(training_data())
    return root, resource, component.config


def tampered(stored, tmp_path, change):
    """A copy of the stored bundle with `change(directory)` applied, and a storage for it."""
    import shutil

    from rasa.engine.storage.local_model_storage import LocalModelStorage

    root, resource, config = stored
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    change(copy / resource.name)
    return LocalModelStorage(copy), resource, config


def load(storage, resource, config, execution_context):
    return TextRNNClassifier.load(config, storage, resource, execution_context)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: (d / WEIGHTS_FILE).write_bytes((d / WEIGHTS_FILE).read_bytes()[:100]),
            WEIGHTS_FILE,
        ),
        (lambda d: (d / WEIGHTS_FILE).write_bytes(b"\x00garbage" * 50), WEIGHTS_FILE),
        (lambda d: (d / WEIGHTS_FILE).unlink(), WEIGHTS_FILE),
        (lambda d: (d / METADATA_FILE).unlink(), METADATA_FILE),
        (lambda d: (d / METADATA_FILE).write_text("{not json"), METADATA_FILE),
        (lambda d: (d / METADATA_FILE).write_text("[1, 2, 3]"), METADATA_FILE),
        (lambda d: (d / METADATA_FILE).write_text('{"labels": ["a", "b"]}'), METADATA_FILE),
    ],
    ids=[
        "truncated-weights",
        "garbage-weights",
        "missing-weights",
        "missing-json",
        "bad-json",
        "json-not-object",
        "json-missing-keys",
    ],
)
def test_broken_bundle_is_a_clear_error_naming_component_and_file(
    stored, tmp_path, execution_context, change, message
):
    storage, resource, config = tampered(stored, tmp_path, change)
    with pytest.raises(ModelArchiveError, match=f"TextRNNClassifier.*{message}"):
        load(storage, resource, config, execution_context)


def test_vocabulary_that_disagrees_with_the_weights_is_refused(stored, tmp_path, execution_context):
    def grow_vocabulary(directory):
        metadata = json.loads((directory / METADATA_FILE).read_text())
        metadata["vocabulary"]["tokens"] += ["extra1", "extra2"]
        (directory / METADATA_FILE).write_text(json.dumps(metadata))

    storage, resource, config = tampered(stored, tmp_path, grow_vocabulary)
    with pytest.raises(ModelArchiveError, match="does not fit"):
        load(storage, resource, config, execution_context)


def test_bad_model_option_in_json_is_refused(stored, tmp_path, execution_context):
    def bad_option(directory):
        metadata = json.loads((directory / METADATA_FILE).read_text())
        metadata["model"]["rnn_type"] = "os.system"
        (directory / METADATA_FILE).write_text(json.dumps(metadata))

    storage, resource, config = tampered(stored, tmp_path, bad_option)
    with pytest.raises(ModelArchiveError, match="rnn_type"):
        load(storage, resource, config, execution_context)


def test_pickle_payload_in_weights_is_refused_not_run(stored, tmp_path, execution_context):
    sentinel = tmp_path / SENTINEL_NAME

    def plant_pickle(directory):
        arrays = dict(np.load(directory / WEIGHTS_FILE))
        arrays["arr_0"] = np.array([Payload(str(sentinel))], dtype=object)
        np.savez(directory / WEIGHTS_FILE, **arrays)

    storage, resource, config = tampered(stored, tmp_path, plant_pickle)
    assert pickle.loads(pickle.dumps(Payload(str(tmp_path / "control")))) is not None
    assert (tmp_path / "control").exists(), "the payload must work when unpickled"
    with pytest.raises(ModelArchiveError, match=WEIGHTS_FILE):
        load(storage, resource, config, execution_context)
    assert not sentinel.exists()


def test_serialized_keras_lambda_is_refused_not_run(stored, tmp_path, execution_context):
    from tensorflow import keras

    sentinel = tmp_path / SENTINEL_NAME
    path = str(sentinel)

    def plant_lambda(directory):
        inputs = keras.Input((2,))
        outputs = keras.layers.Lambda(lambda x: x + len(open(path, "w").name))(inputs)
        sentinel.unlink()  # building the Lambda ran it once; only a later run would recreate it
        keras.Model(inputs, outputs).save(directory / "model.h5")
        (directory / WEIGHTS_FILE).unlink()
        (directory / "model.h5").rename(directory / WEIGHTS_FILE)

    storage, resource, config = tampered(stored, tmp_path, plant_lambda)
    with pytest.raises(ModelArchiveError, match=WEIGHTS_FILE):
        load(storage, resource, config, execution_context)
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "size, message, without_temperatures",
    [
        (10**9, "stored for 1000000000 networks", False),  # by the 3 stored temperatures
        (10**9, "cannot be 1000000000 networks", True),  # by the weights' count
        (0, "ensemble", False),
    ],
)
def test_ensemble_size_that_disagrees_with_the_weights_is_refused_before_building(
    stored, tmp_path, execution_context, size, message, without_temperatures
):
    def resize(directory):
        metadata = json.loads((directory / METADATA_FILE).read_text())
        metadata["config"]["ensemble_size"] = size
        if without_temperatures:  # as archives written before calibration
            metadata.pop("temperatures")
        (directory / METADATA_FILE).write_text(json.dumps(metadata))

    storage, resource, config = tampered(stored, tmp_path, resize)
    with pytest.raises(ModelArchiveError, match=message):
        load(storage, resource, config, execution_context)
