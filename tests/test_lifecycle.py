"""The lifecycle every trainable component of ours shares (rnn_nlu/lifecycle.py), checked for each:
finetuning continues the trained network, a new label is a clear error, a missing or oversized
archive is refused before anything is built, and the cache fingerprint follows our source.

Finetuning here is what `rasa train --finetune` does to a node: `load` with an execution context
whose `is_finetuning` is true and the reduced `epochs`, then `train` on the new data.
tests/test_finetune_end_to_end.py runs the same through Rasa's own training.
"""

import shutil
from importlib import metadata as distribution
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple

import numpy as np
import pytest
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rnn_nlu import BiLSTMSlotFiller, MemoryNetworkPolicy, RCNNClassifier, TextRNNClassifier
from rnn_nlu.features import PAD, UNK, UNK_ID, Vocabulary
from rnn_nlu.lifecycle import FinetuningError
from rnn_nlu.persistence import ModelArchiveError
from rnn_nlu.source import code_hash, fingerprint
from tests.components.test_classifier_contract import FAST as CONTRACT_FAST
from tests.components.test_slot_filler import FAST as SLOT_FAST
from tests.components.test_slot_filler import annotated_texts
from tests.helpers import TINY_INTENTS, messages, tampered_copy, tokenize, training_data
from tests.policies.test_memory_network import DATA as POLICY_DATA
from tests.policies.test_memory_network import FAST as POLICY_FAST
from tests.policies.test_memory_network import best_action, intents, tracker

REPO = Path(__file__).resolve().parents[1]
FINETUNING = ExecutionContext(GraphSchema({}), "finetuned", is_finetuning=True)
# Plain labels: what finetuning learnt shows in confidences free to grow to 1 (label smoothing
# caps them near 1 - s + s / intents, which the tiny data's intents reach before finetuning).
CLASSIFIER_FAST = {**CONTRACT_FAST, "epochs": 30, "ensemble_size": 2, "label_smoothing": 0.0}
# Existing intents said in ways the tiny data does not have (words it knows, new combinations).
NEW_INTENT_EXAMPLES = {
    "ask_weather": ["is it sunny in berlin tomorrow", "weather in london please"],
    "book_flight": ["hello i need a flight", "a plane ticket to rome please"],
    "greet": ["good morning there", "hi hello"],
}


def tokenized(examples: Dict[str, List[str]]) -> List[Message]:
    return tokenize([Message.build(text=t, intent=i) for i, ts in examples.items() for t in ts])


def intent_confidences(component, examples: Dict[str, List[str]]) -> np.ndarray:
    """Confidence of the right intent for each example."""
    parsed = messages(*(t for ts in examples.values() for t in ts))
    component.process(parsed)
    truth = [i for i, ts in examples.items() for t in ts]
    return np.array(
        [
            next(r["confidence"] for r in m.get("intent_ranking") if r["name"] == name)
            for m, name in zip(parsed, truth)
        ]
    )


class Case(NamedTuple):
    """How to train, finetune and score one component on its own kind of data."""

    cls: Any
    config: Dict[str, Any]
    data: Callable[[], Any]  # the original training data
    more: Callable[[], Any]  # that data plus new examples of existing labels
    new_label: Callable[[], Any]  # data with a label the trained model lacks
    score_old: Callable[[Any], float]  # how well the component does on the original data
    score_new: Callable[[Any], float]  # ... and on the new examples


def classifier_case(cls) -> Case:
    return Case(
        cls,
        CLASSIFIER_FAST,
        training_data,
        lambda: TrainingData(training_data().training_examples + tokenized(NEW_INTENT_EXAMPLES)),
        lambda: TrainingData(
            training_data().training_examples
            + tokenized({"ask_time": ["what time is it", "tell me the time"]})
        ),
        lambda c: float(intent_confidences(c, TINY_INTENTS).min()),
        lambda c: float(intent_confidences(c, NEW_INTENT_EXAMPLES).mean()),
    )


def entity_f1(component, texts: List[str]) -> float:
    data = slot_data_from(texts)
    expected = {
        (m.get("text"), e["start"], e["end"], e["entity"])
        for m in data.nlu_examples
        for e in m.get("entities")
    }
    parsed = messages(*(m.get("text") for m in data.nlu_examples))
    component.process(parsed)
    found = {
        (m.get("text"), e["start"], e["end"], e["entity"])
        for m in parsed
        for e in m.get("entities")
    }
    hits = len(expected & found)
    return 2 * hits / (len(expected) + len(found))


def slot_data_from(texts: List[str]) -> TrainingData:
    from rasa.shared.nlu.training_data.entities_parser import parse_training_example

    return TrainingData(tokenize([parse_training_example(t, "inform") for t in texts]))


NEW_SLOT_TEMPLATES = ["to [{b}](destination) from [{a}](origin) [{d}](departure_date) please"]


def slot_case() -> Case:
    old = annotated_texts(count=40)
    new = annotated_texts(NEW_SLOT_TEMPLATES, count=12, seed=1)
    return Case(
        BiLSTMSlotFiller,
        SLOT_FAST,
        lambda: slot_data_from(old),
        lambda: slot_data_from(old + new),
        lambda: slot_data_from(old + ["fly [business](travel_class) to [rome](destination)"]),
        lambda c: entity_f1(c, old),
        lambda c: entity_f1(c, new),
    )


def policy_data(domain_file: Path = POLICY_DATA / "domain.yml", stories: str = "stories.yml"):
    domain = Domain.load(domain_file)
    return load_data(str(POLICY_DATA / stories), domain, augmentation_factor=0), domain


def policy_accuracy(policy, ks) -> float:
    domain = Domain.load(POLICY_DATA / "domain.yml")
    answers = [
        best_action(policy, tracker(domain, intents(c, k)), domain) == f"utter_{c}"
        for c in "ab"
        for k in ks
    ]
    return float(np.mean(answers))


def domain_with_new_action(tmp_path: Path) -> Path:
    text = (POLICY_DATA / "domain.yml").read_text()
    path = tmp_path / "domain.yml"
    path.write_text(text.replace("responses:", "responses:\n  utter_new:\n    - text: new"))
    return path


CASES = {
    "TextRNNClassifier": classifier_case(TextRNNClassifier),
    "RCNNClassifier": classifier_case(RCNNClassifier),
    "BiLSTMSlotFiller": slot_case(),
}


def options(case: Case, **extra: Any) -> Dict[str, Any]:
    """The case's fast options that its component has, with `extra` over them."""
    defaults = case.cls.get_default_config()
    return {k: v for k, v in {**case.config, **extra}.items() if k in defaults}


def train_nlu(case: Case, config: Dict[str, Any], storage, context, data) -> Any:
    component = case.cls.create(options(case, **config), storage, Resource("c"), context)
    component.train(data)
    return component


@pytest.mark.parametrize("name", list(CASES))
def test_finetuning_continues_from_the_trained_weights(name, tmp_path, execution_context):
    case = CASES[name]
    storage = LocalModelStorage.create(tmp_path)
    trained = train_nlu(case, {}, storage, execution_context, case.data())
    old, new = case.score_old(trained), case.score_new(trained)

    loaded = case.cls.load(options(case, epochs=1), storage, Resource("c"), FINETUNING)
    assert loaded.finetune
    loaded.train(case.more())
    networks = len(trained.histories)
    assert len(loaded.histories) == networks  # every network continued, none added
    for fresh, continued in zip(trained.histories, loaded.histories):
        assert len(continued["loss"]) == 1  # the epochs Rasa asked for
        assert continued["loss"][0] < 0.5 * fresh["loss"][0]  # started from the trained weights
    assert case.score_old(loaded) >= min(old, 0.95) - 0.05  # what it knew, it still knows
    assert case.score_new(loaded) > new  # and it learnt from the new examples


@pytest.mark.parametrize("name", list(CASES))
def test_finetuning_on_a_new_label_says_to_train_from_scratch(name, tmp_path, execution_context):
    case = CASES[name]
    storage = LocalModelStorage.create(tmp_path)
    train_nlu(case, {"epochs": 2, "ensemble_size": 1}, storage, execution_context, case.data())
    loaded = case.cls.load(options(case, epochs=1), storage, Resource("c"), FINETUNING)
    with pytest.raises(FinetuningError, match=f"{name} cannot finetune.*from scratch"):
        loaded.train(case.new_label())


def test_finetuning_keeps_the_vocabulary_new_words_are_unknown(tmp_path, execution_context):
    case = CASES["TextRNNClassifier"]
    storage = LocalModelStorage.create(tmp_path)
    trained = train_nlu(
        case, {"epochs": 2, "ensemble_size": 1}, storage, execution_context, case.data()
    )
    loaded = case.cls.load(options(case, epochs=1), storage, Resource("c"), FINETUNING)
    loaded.train(TrainingData(case.data().training_examples + tokenized({"greet": ["yo"]})))
    assert loaded.vocabulary.tokens == trained.vocabulary.tokens
    assert loaded.vocabulary.encode(["yo"]) == [UNK_ID]


def test_policy_finetuning_continues_and_refuses_a_new_action(tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    trackers, domain = policy_data()
    policy = MemoryNetworkPolicy.create(POLICY_FAST, storage, Resource("p"), execution_context)
    policy.train(trackers, domain)
    seen = policy_accuracy(policy, (0, 1, 2, 4, 6))

    loaded = MemoryNetworkPolicy.load(
        {**POLICY_FAST, "epochs": 1}, storage, Resource("p"), FINETUNING
    )
    loaded.train(trackers, domain)
    (fresh,), (continued,) = policy.histories, loaded.histories
    assert len(continued["loss"]) == 1
    assert continued["loss"][0] < 0.5 * fresh["loss"][0]
    assert policy_accuracy(loaded, (0, 1, 2, 4, 6)) >= seen

    again = MemoryNetworkPolicy.load(POLICY_FAST, storage, Resource("p"), FINETUNING)
    new_trackers, new_domain = policy_data(domain_with_new_action(tmp_path))
    with pytest.raises(FinetuningError, match="new action.*'utter_new'"):
        again.train(new_trackers, new_domain)


ALL = [TextRNNClassifier, RCNNClassifier, BiLSTMSlotFiller, MemoryNetworkPolicy]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_missing_model_directory_is_an_error_naming_the_component(cls, tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)  # nothing stored for the resource
    with pytest.raises(ModelArchiveError, match=f"{cls.__name__}: the model has nothing stored"):
        cls.load({}, storage, Resource("gone"), execution_context)


@pytest.fixture(scope="module")
def stored_classifier(tmp_path_factory, execution_context):
    root = tmp_path_factory.mktemp("stored")
    component = train_nlu(
        CASES["TextRNNClassifier"],
        {"epochs": 1},
        LocalModelStorage.create(root),
        execution_context,
        training_data(),
    )
    return root, component.config


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["vocabulary"]["tokens"].extend(f"w{i}" for i in range(10**6)),
        lambda m: m["model"].update(embedding_dim=10**7),
        lambda m: m["model"].update(rnn_units=10**6),
    ],
    ids=["vocabulary", "embedding_dim", "rnn_units"],
)
def test_sizes_that_no_stored_array_has_are_refused_before_building(
    stored_classifier, tmp_path, execution_context, monkeypatch, change
):
    root, config = stored_classifier
    copy = tampered_copy(root, tmp_path, change)

    def must_not_build(*args, **kwargs):
        raise AssertionError("a network was built from a tampered archive")

    monkeypatch.setattr(TextRNNClassifier, "build_model", staticmethod(must_not_build))
    with pytest.raises(ModelArchiveError, match="no stored array has a dimension"):
        TextRNNClassifier.load(config, LocalModelStorage(copy), Resource("c"), execution_context)


def test_text_that_reads_like_a_special_token_is_an_unknown_word():
    vocabulary = Vocabulary.build([["book", "a", "flight", PAD, UNK]])
    assert vocabulary.encode([PAD, UNK, "<PAD>", "book"]) == [UNK_ID] * 3 + [
        vocabulary.tokens.index("book")
    ]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_fingerprint_addon_is_our_version_and_source(cls):
    assert cls.fingerprint_addon({}) == fingerprint()
    assert fingerprint().startswith(distribution.version("rasa-rnn-nlu") + ":")


def test_a_changed_byte_in_the_models_changes_rasas_fingerprint(tmp_path, monkeypatch):
    """Rasa's cache key of a node changes when any file of ours does, not only its class."""
    from rasa.engine.training.fingerprinting import calculate_fingerprint_key

    copy = tmp_path / "rnn_nlu"
    shutil.copytree(REPO / "rnn_nlu", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr("rnn_nlu.source.package_root", lambda: copy)
    keys = []
    for changed in (False, True):
        if changed:
            model = copy / "models" / "text_rnn.py"
            model.write_bytes(model.read_bytes() + b"\n")
        code_hash.cache_clear()
        keys.append(calculate_fingerprint_key(TextRNNClassifier, {}, {}))
    code_hash.cache_clear()
    assert keys[0] != keys[1]


def test_code_hash_covers_the_models_but_not_the_benchmark(tmp_path, monkeypatch):
    copy = tmp_path / "rnn_nlu"
    shutil.copytree(REPO / "rnn_nlu", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr("rnn_nlu.source.package_root", lambda: copy)
    hashes = []
    for path in (None, copy / "bench" / "chart.py", copy / "models" / "tagger.py"):
        code_hash.cache_clear()
        if path:
            path.write_bytes(path.read_bytes() + b"#")
        hashes.append(code_hash())
    code_hash.cache_clear()
    assert hashes[0] == hashes[1] != hashes[2]
