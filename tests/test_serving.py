"""Serving (rnn_nlu/lifecycle.py): a loaded component predicts with NumPy from its stored weights,
builds no Keras model, and gives what the Keras model gives (to 1e-5), for every component.

`RNN_NLU_SERVING=keras` loads the Keras model as before; archives without weight names (0.2.0)
load that way too; weight names that do not fit the weights are refused at load.
"""

from typing import Any, Callable, Dict, List, NamedTuple

import numpy as np
import pytest
import threadpoolctl
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.exceptions import RasaException

from rnn_nlu import (
    BiLSTMSlotFiller,
    MemoryNetworkPolicy,
    RCNNClassifier,
    TextRNNClassifier,
    lifecycle,
)
from rnn_nlu.lifecycle import BLAS_THREADS_VARIABLE, SERVING_VARIABLE
from rnn_nlu.models.calibration import scale
from rnn_nlu.models.ensemble import members
from rnn_nlu.persistence import ModelArchiveError
from tests.components.test_classifier_contract import BAD_TEXTS
from tests.components.test_classifier_contract import FAST as CLASSIFIER_FAST
from tests.components.test_slot_filler import FAST as SLOT_FAST
from tests.components.test_slot_filler import slot_data
from tests.helpers import messages, tampered_copy, training_data
from tests.policies.test_memory_network import DATA as POLICY_DATA
from tests.policies.test_memory_network import FAST as POLICY_FAST
from tests.policies.test_memory_network import intents, tracker

TEXTS = [
    "hi",
    "book a flight from paris to rome tomorrow",
    "fly from boston to new york on june 3rd please",
    "is it raining in berlin",
    *BAD_TEXTS,
]


# Classifiers hold out a quarter of each intent and calibrate: their temperatures are not 1.
HELD_OUT = {"validation_split": 0.25, "patience": 5, "calibrate": True}


class Case(NamedTuple):
    cls: Any
    config: Dict[str, Any]
    train: Callable[[Any], None]  # trains a created component
    outputs: Callable[[Any], List[np.ndarray]]  # what the component predicts, as arrays


def classifier_outputs(component) -> List[np.ndarray]:
    parsed = messages(*TEXTS)
    component.process(parsed)
    labels = sorted(component.labels.labels)
    return [
        np.array([{r["name"]: r["confidence"] for r in m.get("intent_ranking")}[i] for i in labels])
        for m in parsed
    ]


def slot_outputs(component) -> List[np.ndarray]:
    parsed = messages(*TEXTS)
    component.process(parsed)
    found = []
    for m in parsed:
        entities = m.get("entities") or []
        found.append(np.array([e["confidence_entity"] for e in entities]))
        found.append(np.array([[e["start"], e["end"]] for e in entities]).reshape(-1, 2))
    return found


def policy_outputs(policy) -> List[np.ndarray]:
    domain = Domain.load(POLICY_DATA / "domain.yml")
    found = []
    for choice, k in [("a", 0), ("b", 3), ("a", 8)]:
        prediction = policy.predict_action_probabilities(
            tracker(domain, intents(choice, k)), domain
        )
        found += [
            np.array(prediction.probabilities),
            prediction.diagnostic_data["attention_weights"],
        ]
    return found


def train_policy(policy) -> None:
    from rasa.core.training import load_data

    domain = Domain.load(POLICY_DATA / "domain.yml")
    policy.train(load_data(str(POLICY_DATA / "stories.yml"), domain, augmentation_factor=0), domain)


CASES = {
    "TextRNNClassifier": Case(
        TextRNNClassifier,
        # A quarter held out: each network gets its own fitted temperature.
        {**CLASSIFIER_FAST, "epochs": 5, "ensemble_size": 2, "pooling": "attention", **HELD_OUT},
        lambda c: c.train(training_data()),
        classifier_outputs,
    ),
    "RCNNClassifier": Case(
        RCNNClassifier,
        # with its own character n-grams (off by default; TextRNN's case has them by default)
        {**CLASSIFIER_FAST, "epochs": 5, "rnn_type": "gru", "char_ngrams": 3, **HELD_OUT},
        lambda c: c.train(training_data()),
        classifier_outputs,
    ),
    "BiLSTMSlotFiller": Case(
        BiLSTMSlotFiller, {**SLOT_FAST, "epochs": 8}, lambda c: c.train(slot_data()), slot_outputs
    ),
    "MemoryNetworkPolicy": Case(
        MemoryNetworkPolicy, {**POLICY_FAST, "epochs": 5}, train_policy, policy_outputs
    ),
}


def options(case: Case) -> Dict[str, Any]:
    defaults = case.cls.get_default_config()
    return {k: v for k, v in case.config.items() if k in defaults}


@pytest.fixture(scope="module", params=list(CASES))
def trained(request, tmp_path_factory, execution_context):
    """Each component trained once; `.root` is its model storage folder, `.case` its case."""
    case = CASES[request.param]
    root = tmp_path_factory.mktemp(request.param)
    component = case.cls.create(
        options(case), LocalModelStorage.create(root), Resource("c"), execution_context
    )
    case.train(component)
    component.traced_in_training = component._predict.built is not None
    component.root, component.case = root, case
    return component


def load(trained, execution_context, root=None) -> Any:
    storage = LocalModelStorage(root or trained.root)
    return trained.case.cls.load(options(trained.case), storage, Resource("c"), execution_context)


def assert_same(found: List[np.ndarray], expected: List[np.ndarray]) -> None:
    assert len(found) == len(expected)
    for a, b in zip(found, expected):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_a_loaded_component_serves_without_keras_and_predicts_as_keras(
    trained, execution_context, monkeypatch
):
    served = load(trained, execution_context)
    assert served.model is None  # no Keras model built at load
    monkeypatch.setenv(SERVING_VARIABLE, "keras")
    keras_loaded = load(trained, execution_context)
    assert keras_loaded.model is not None
    expected = trained.case.outputs(trained)
    assert_same(trained.case.outputs(keras_loaded), expected)
    assert_same(trained.case.outputs(served), expected)


def test_training_traces_no_prediction_and_loading_the_keras_model_traces_it(
    trained, execution_context, monkeypatch
):
    """`rasa train` loads a new component to predict, so the trained one leaves its prediction
    untraced until it predicts; one loaded with the Keras model traces it at load."""
    assert not trained.traced_in_training
    monkeypatch.setenv(SERVING_VARIABLE, "keras")
    assert load(trained, execution_context)._predict.built is not None


def test_a_served_component_persisted_again_keeps_its_weights(trained, execution_context):
    served = load(trained, execution_context)
    served.persist()
    assert_same(
        trained.case.outputs(load(trained, execution_context)), trained.case.outputs(trained)
    )


def test_an_archive_without_weight_names_loads_the_keras_model(
    trained, execution_context, tmp_path
):
    old = tampered_copy(trained.root, tmp_path, lambda m: m.pop("weight_names"))
    loaded = load(trained, execution_context, old)
    assert loaded.model is not None
    assert_same(trained.case.outputs(loaded), trained.case.outputs(trained))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["weight_names"].reverse(),  # names of other arrays: wrong shapes
        lambda m: m["weight_names"].__setitem__(0, "nothing/kernel"),
        lambda m: m["weight_names"].pop(),
        lambda m: m.__setitem__("weight_names", "embedding/embeddings"),
    ],
    ids=["reordered", "renamed", "one-missing", "not-a-list"],
)
def test_weight_names_that_do_not_fit_are_refused_at_load(
    trained, execution_context, tmp_path, change
):
    tampered = tampered_copy(trained.root, tmp_path, change)
    with pytest.raises(ModelArchiveError, match=trained.case.cls.__name__):
        load(trained, execution_context, tampered)


def test_an_unknown_serving_is_a_clear_error(trained, execution_context, monkeypatch):
    monkeypatch.setenv(SERVING_VARIABLE, "tflite")
    with pytest.raises(RasaException, match=f"{SERVING_VARIABLE} must be one of"):
        load(trained, execution_context)


@pytest.fixture
def classifier(trained):
    if not hasattr(trained, "temperatures"):
        pytest.skip("only the intent classifiers have temperatures")
    return trained


def test_classifiers_serve_at_the_temperatures_fitted_in_training(classifier, execution_context):
    fitted = classifier.temperatures
    assert len(fitted) == classifier.config["ensemble_size"]
    assert all(abs(t - 1.0) > 1e-3 for t in fitted)  # so that serving them is tested above
    assert load(classifier, execution_context).temperatures == fitted
    # The trained (and so, above, the served) confidences are the mean of each network's at its
    # temperature, not of the networks' own.
    parsed = messages(*TEXTS)
    inputs = classifier._inputs(parsed)
    each = [network.predict(inputs, verbose=0) for network in members(classifier.model)]
    calibrated = np.mean([scale(p, t) for p, t in zip(each, fitted)], axis=0)
    np.testing.assert_allclose(classifier._probabilities(parsed), calibrated, atol=1e-5)
    assert np.abs(np.mean(each, axis=0) - calibrated).max() > 1e-3


@pytest.mark.parametrize(
    "change",
    [lambda m: m["temperatures"].append(1.0), lambda m: m.__setitem__("temperatures", [-1.0])],
    ids=["one-too-many", "negative"],
)
def test_tampered_temperatures_are_refused_at_load(classifier, execution_context, tmp_path, change):
    tampered = tampered_copy(classifier.root, tmp_path, change)
    with pytest.raises(ModelArchiveError, match="temperature"):
        load(classifier, execution_context, tampered)


def blas_threads() -> set:
    return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}


def test_serving_sets_numpy_to_one_blas_thread_unless_told(trained, execution_context, monkeypatch):
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):  # restored at the end
        if blas_threads() != {2}:
            pytest.skip("NumPy's BLAS cannot run two threads on this machine")
        monkeypatch.setattr(lifecycle, "_blas_threads_set", None)  # as in a fresh process
        load(trained, execution_context)
        assert blas_threads() == {1}
        threadpoolctl.threadpool_limits(limits=2, user_api="blas")
        monkeypatch.setenv(BLAS_THREADS_VARIABLE, "0")  # leave them as they are
        load(trained, execution_context)
        assert blas_threads() == {2}
        monkeypatch.setenv(BLAS_THREADS_VARIABLE, "two")
        with pytest.raises(RasaException, match=f"{BLAS_THREADS_VARIABLE} must be a whole"):
            load(trained, execution_context)
