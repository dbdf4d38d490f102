"""The contract every intent classifier of ours keeps, checked once for all of them.

Train on tiny data, persist, load, and predict: the loaded model ranks like the trained one, the
ranking is sorted by confidence, and bad input (empty, huge, emoji, unknown words) gets an answer.
"""

from typing import Any, Dict, List

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message

from rnn_nlu import RCNNClassifier, TextRNNClassifier
from rnn_nlu.models.ensemble import members
from tests.helpers import TINY_INTENTS, messages, training_data

# Small, fast settings that still learn the tiny data; validation off so every epoch runs. Each
# classifier gets those of its options (TextRNN has rnn_units, RCNN context/projection_units).
# One network: the `trained` fixture and the ensemble test are the ones with several.
FAST = {
    "ensemble_size": 1,
    "epochs": 40,
    "embedding_dim": 16,
    "rnn_units": 16,
    "context_units": 16,
    "projection_units": 16,
    "validation_split": 0.0,
    "batch_size": 8,
}
CLASSIFIERS = [TextRNNClassifier, RCNNClassifier]
BAD_TEXTS = [
    "",
    "   ",
    "x" * 10_000,
    "book " * 2_000,
    "🛫✈️🙂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "qwzx blorf snarg",
    "你好，我想订机票",
]


def train(cls, config: Dict[str, Any], data, model_storage, resource, execution_context):
    fast = {key: value for key, value in FAST.items() if key in cls.get_default_config()}
    component = cls.create({**fast, **config}, model_storage, resource, execution_context)
    component.train(data)
    return component


def rankings(component, parsed: List[Message]) -> List[List[Dict[str, Any]]]:
    component.process(parsed)
    return [m.get("intent_ranking") for m in parsed]


def trained_confidences(cls, config: Dict[str, Any], folder, resource, execution_context):
    """(messages, intents) confidences, intents by name, of `cls` trained 5 epochs in `folder`."""
    folder.mkdir()
    storage = LocalModelStorage.create(folder)
    component = train(
        cls, {"epochs": 5, **config}, training_data(), storage, resource, execution_context
    )
    parsed = messages("hello there", "book a flight to rome", "is it raining")
    component.process(parsed)
    return np.array(
        [
            [r["confidence"] for r in sorted(m.get("intent_ranking"), key=lambda r: r["name"])]
            for m in parsed
        ]
    )


@pytest.fixture(scope="module", params=CLASSIFIERS, ids=lambda c: c.__name__)
def trained(request, tmp_path_factory, resource, execution_context):
    """A two-network classifier trained once per module on the tiny data; its storage is
    `trained.storage`."""
    storage = LocalModelStorage.create(tmp_path_factory.mktemp(request.param.__name__))
    config = {"ensemble_size": 2}
    component = train(request.param, config, training_data(), storage, resource, execution_context)
    component.storage = storage
    return component


def test_learns_the_tiny_data(trained):
    texts = ["hello there", "see you later", "book a flight to denver", "is it raining"]
    parsed = messages(*texts)
    trained.process(parsed)
    assert [m.get("intent")["name"] for m in parsed] == list(TINY_INTENTS)


def test_ranking_is_sorted_complete_and_sums_to_one(trained):
    (message,) = messages("hello there")
    trained.process([message])
    ranking = message.get("intent_ranking")
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert {r["name"] for r in ranking} == set(TINY_INTENTS)
    assert message.get("intent") == ranking[0]
    assert sum(confidences) == pytest.approx(1.0, abs=1e-5)
    assert all(isinstance(c, float) for c in confidences)


def test_persist_load_round_trip_gives_same_ranking(trained, resource, execution_context):
    texts = ["hello there", "fly me to rome", "unknown words here", ""]
    before = rankings(trained, messages(*texts))
    loaded = type(trained).load(trained.config, trained.storage, resource, execution_context)
    after = rankings(loaded, messages(*texts))
    assert [[r["name"] for r in ranking] for ranking in after] == [
        [r["name"] for r in ranking] for ranking in before
    ]
    for a, b in zip(after, before):
        np.testing.assert_allclose(
            [r["confidence"] for r in a], [r["confidence"] for r in b], rtol=1e-6
        )


def test_batch_prediction_equals_one_by_one(trained):
    texts = ["hi", "book a flight from paris to rome tomorrow please", "bye"]
    together = rankings(trained, messages(*texts))
    alone = [rankings(trained, messages(t))[0] for t in texts]
    for a, b in zip(together, alone):
        assert [r["name"] for r in a] == [r["name"] for r in b]
        np.testing.assert_allclose(
            [r["confidence"] for r in a], [r["confidence"] for r in b], atol=1e-5
        )


@pytest.mark.parametrize(
    "text",
    BAD_TEXTS,
    ids=["empty", "spaces", "10k-chars", "10k-words", "emoji", "unknown", "chinese"],
)
def test_bad_input_gets_a_normal_prediction(trained, text):
    (message,) = messages(text)
    trained.process([message])
    assert message.get("intent")["name"] in TINY_INTENTS
    assert 0.0 <= message.get("intent")["confidence"] <= 1.0
    assert len(message.get("intent_ranking")) == len(TINY_INTENTS)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_ranking_length_cuts_the_ranking(cls, model_storage, resource, execution_context):
    component = train(
        cls,
        {"ranking_length": 2, "epochs": 2},
        training_data(),
        model_storage,
        resource,
        execution_context,
    )
    (message,) = messages("hello")
    component.process([message])
    assert len(message.get("intent_ranking")) == 2


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_single_intent_is_predicted_with_full_confidence(
    cls, model_storage, resource, execution_context
):
    data = training_data({"greet": TINY_INTENTS["greet"]})
    with pytest.warns(UserWarning, match="single intent"):
        component = train(cls, {}, data, model_storage, resource, execution_context)
    loaded = cls.load(component.config, model_storage, resource, execution_context)
    for c in (component, loaded):
        (message,) = messages("book a flight")
        c.process([message])
        assert message.get("intent") == {"name": "greet", "confidence": 1.0}


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_untrained_component_predicts_no_intent(cls, model_storage, resource, execution_context):
    component = cls.create({}, model_storage, resource, execution_context)
    (message,) = messages("hello")
    component.process([message])
    assert message.get("intent") == {"name": None, "confidence": 0.0}
    assert message.get("intent_ranking") == []


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "option, value, message",
    [
        ("epochz", 3, "unknown option.*'epochz'"),
        ("epochs", 0, "'epochs' must be at least 1"),
        ("epochs", "ten", "'epochs' must be an integer"),
        ("dropout", 1.5, "'dropout' must be below 1"),
        ("learning_rate", -0.1, "'learning_rate' must be positive"),
        ("rnn_type", "transformer", "'rnn_type' must be one of"),
        ("class_weight", "auto", "'class_weight' must be one of 'none', 'balanced'"),
        ("bidirectional", "yes", "'bidirectional' must be true or false"),
        ("dense_units", [64, -1], "'dense_units' must be a list of positive integers"),
    ],
)
def test_bad_option_is_a_clear_config_error(
    cls, option, value, message, model_storage, resource, execution_context
):
    if option not in cls.get_default_config() and not option.endswith("z"):
        pytest.skip(f"{cls.__name__} has no option {option}")
    with pytest.raises(InvalidConfigException, match=message):
        cls.create({option: value}, model_storage, resource, execution_context)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_same_seed_trains_the_same_model(cls, tmp_path, resource, execution_context):
    def confidences(seed: int, folder: str) -> np.ndarray:
        return trained_confidences(
            cls, {"random_seed": seed}, tmp_path / folder, resource, execution_context
        )

    first, again, other = confidences(7, "a"), confidences(7, "b"), confidences(8, "c")
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert np.abs(other - first).max() > 1e-4, "a different seed should give a different model"


def test_new_lengths_and_batch_sizes_do_not_retrace(trained):
    for texts in (["hi"], ["book a flight to rome tomorrow please", "bye"], ["x " * 40] * 5):
        trained.process(messages(*texts))
    assert trained._predict.built.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_ensemble_averages_networks_trained_from_successive_seeds(
    cls, tmp_path, resource, execution_context
):
    def confidences(folder: str, **config: Any) -> np.ndarray:
        return trained_confidences(cls, config, tmp_path / folder, resource, execution_context)

    both = confidences("both", random_seed=3, ensemble_size=2)
    first = confidences("first", random_seed=3, ensemble_size=1)
    second = confidences("second", random_seed=4, ensemble_size=1)
    assert np.abs(first - second).max() > 1e-4, "the two networks should differ"
    np.testing.assert_allclose(both, (first + second) / 2, atol=1e-6)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_distill_keeps_one_network_trained_on_the_ensembles_probabilities(
    cls, tmp_path, resource, execution_context
):
    storage = LocalModelStorage.create(tmp_path)
    # Words only, as this test was written: with TextRNN's character n-grams on this tiny data the
    # network trained on the labels came out less sure than the student (0.936 against 0.945).
    words = {"char_ngrams": 0}
    config = {"random_seed": 3, "ensemble_size": 2, "distill": True, "epochs": 20, **words}
    component = train(cls, config, training_data(), storage, resource, execution_context)
    assert len(members(component.model)) == 1 and component.config["ensemble_size"] == 1
    texts = ["hello there", "see you later", "book a flight to denver", "is it raining"]
    distilled = rankings(component, messages(*texts))
    assert [r[0]["name"] for r in distilled] == list(TINY_INTENTS)
    loaded = cls.load(
        {**component.config, "ensemble_size": 2}, storage, resource, execution_context
    )
    for a, b in zip(rankings(loaded, messages(*texts)), distilled):  # float32 rounding: on an
        np.testing.assert_allclose(  # Intel Xeon RCNN's 0.003952 differed by 1.5e-8 (2026-12-07)
            [r["confidence"] for r in a], [r["confidence"] for r in b], rtol=1e-6, atol=1e-7
        )
    # The same network trained on the labels (its seed, random_seed + 2) is more confident.
    (tmp_path / "labels").mkdir()
    alone = train(
        cls,
        {"random_seed": 5, "epochs": 20, **words},
        training_data(),
        LocalModelStorage.create(tmp_path / "labels"),
        resource,
        execution_context,
    )
    top = [r[0]["confidence"] for r in rankings(alone, messages(*texts))]
    assert np.mean([r[0]["confidence"] for r in distilled]) < np.mean(top) - 0.05
    # Finetuning continues the one network, on the labels.
    finetuning = ExecutionContext(GraphSchema({}), "finetuned", is_finetuning=True)
    again = cls.load({**component.config, "epochs": 2}, storage, resource, finetuning)
    again.train(training_data())
    assert len(members(again.model)) == 1 and again.config["ensemble_size"] == 1


def test_distill_with_one_network_warns_and_keeps_it(model_storage, resource, execution_context):
    config = {"distill": True, "epochs": 2}
    with pytest.warns(UserWarning, match="distill needs ensemble_size >= 2"):
        component = train(
            TextRNNClassifier, config, training_data(), model_storage, resource, execution_context
        )
    assert len(members(component.model)) == 1


def test_calibrate_without_a_held_out_split_warns_and_keeps_the_confidences(
    model_storage, resource, execution_context
):
    config = {"calibrate": True, "validation_split": 0.0, "epochs": 2}
    with pytest.warns(UserWarning, match="no held-out split to fit temperatures on"):
        component = train(
            TextRNNClassifier, config, training_data(), model_storage, resource, execution_context
        )
    assert component.temperatures == [1.0]


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_balanced_class_weight_gives_a_rare_intent_its_share(
    cls, tmp_path, resource, execution_context
):
    """The same tokens nine times as one intent and once as another (texts differ only in case
    and punctuation: Rasa drops repeated examples): the loss is then lowest at confidence 0.1 for
    the rare intent unweighted, 0.5 with balanced class weights."""
    common = [f"{a} {b}" for a in ("hello", "Hello", "HELLO") for b in ("there", "There", "THERE")]
    data = training_data({"common": common, "rare": ["hello there!"]})
    tokens = {tuple(t.text.lower() for t in m.get("text_tokens")) for m in data.nlu_examples}
    assert tokens == {("hello", "there")}

    def rare_confidence(class_weight: str) -> float:
        (tmp_path / class_weight).mkdir()
        storage = LocalModelStorage.create(tmp_path / class_weight)
        config = {"class_weight": class_weight, "epochs": 60}
        component = train(cls, config, data, storage, resource, execution_context)
        ranking = rankings(component, messages("hello there"))[0]
        return next(r["confidence"] for r in ranking if r["name"] == "rare")

    assert rare_confidence("none") < 0.25
    assert 0.35 < rare_confidence("balanced") < 0.65


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_label_smoothing_caps_the_confidence_where_its_loss_is_lowest(
    cls, tmp_path, resource, execution_context
):
    """Smoothed labels put the lowest loss at confidence 1 - s + s / intents for the right intent;
    plain labels at 1. Trained long on the tiny data, the top confidences come close to them."""
    smoothing, intents = 0.3, len(TINY_INTENTS)

    def confidences(config: Dict[str, Any]) -> np.ndarray:
        folder = tmp_path / str(config["label_smoothing"])
        folder.mkdir()
        storage = LocalModelStorage.create(folder)
        component = train(
            cls, {"epochs": 60, **config}, training_data(), storage, resource, execution_context
        )
        texts = [t for examples in TINY_INTENTS.values() for t in examples[:2]]
        return np.array([r[0]["confidence"] for r in rankings(component, messages(*texts))])

    assert np.median(confidences({"label_smoothing": 0.0})) > 0.97
    capped = confidences({"label_smoothing": smoothing})
    lowest_loss = 1 - smoothing + smoothing / intents
    assert abs(np.median(capped) - lowest_loss) < 0.05
    assert capped.max() < 0.9  # (dropout, off at prediction, leaves some a little above it)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_smoothed_training_stops_on_the_held_out_plain_loss(
    cls, tmp_path, resource, execution_context
):
    """With smoothed labels early stopping waits on the held-out plain cross-entropy (the
    smoothed loss goes on improving for many epochs that gain no accuracy, README)."""
    storage = LocalModelStorage.create(tmp_path)
    config = {
        "label_smoothing": 0.3,
        "validation_split": 0.3,
        "patience": 2,
        "patience_examples": 0,
        "epochs": 40,
    }
    component = train(cls, config, training_data(), storage, resource, execution_context)
    (history,) = component.histories
    plain = history["val_plain_loss"]
    assert len(plain) == min(40, int(np.argmin(plain)) + 1 + 2)
