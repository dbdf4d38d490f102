"""Our components read the per-token features of Rasa's featurizers (`use_rasa_features`).

The featurizers are Rasa's own that need no download (RegexFeaturizer with a lookup table,
CountVectorsFeaturizer on character n-grams, LexicalSyntacticFeaturizer) and a dense one written
here, each trained and run on the messages as a pipeline would. The tasks are ones that only the
features can solve: the deciding words are never seen in training, so to the word embedding they
are all the same unknown word.
"""

import json
import shutil
from typing import Any, Dict, List, Sequence

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.featurizers.sparse_featurizer.lexical_syntactic_featurizer import (
    LexicalSyntacticFeaturizer,
)
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.entities_parser import parse_training_example
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rnn_nlu import BiLSTMSlotFiller, RCNNClassifier, TextRNNClassifier, lifecycle
from rnn_nlu.components.rasa_features import FeatureLayout, FeatureMismatchError, encode
from rnn_nlu.features import (
    RaggedRows,
    encode_dense_features,
    encode_sparse_features,
    max_active_features,
    sparse_rows,
)
from rnn_nlu.lifecycle import FinetuningError
from rnn_nlu.persistence import METADATA_FILE, ModelArchiveError
from tests.components.test_classifier_contract import FAST as CLASSIFIER_FAST
from tests.components.test_slot_filler import FAST as SLOT_FAST
from tests.helpers import messages, tampered_copy, tokenize, training_data

CLASSIFIERS = [TextRNNClassifier, RCNNClassifier]
# The classifiers' own character n-grams off: these tests isolate what Rasa's featurizers add
# (tests/components/test_char_ngrams.py tests the n-grams).
FAST = {**CLASSIFIER_FAST, "ensemble_size": 1, "feature_units": 16, "char_ngrams": 0}
FINETUNING = ExecutionContext(GraphSchema({}), "finetuned", is_finetuning=True)

TRAIN_CITIES = ["boston", "denver", "paris", "rome", "berlin", "madrid", "oslo", "vienna"]
HELD_OUT_CITIES = ["lisbon", "prague", "dublin", "warsaw", "athens", "cairo", "lima", "quito"]
TRAIN_THINGS = ["pizza", "music", "chess", "soccer", "coffee", "jazz", "tennis", "poetry"]
HELD_OUT_THINGS = ["sushi", "opera", "golf", "tea", "yoga", "cinema", "hiking", "baking"]
TEMPLATES = ["tell me about {}", "what do you know about {}", "i like {}", "{} please"]
CITY_TABLE = [{"name": "city", "elements": TRAIN_CITIES + HELD_OUT_CITIES}]


def about(cities: List[str], things: List[str]) -> Dict[str, List[str]]:
    """Intent examples: the templates filled with each city (about_city) and thing (about_thing)."""
    return {
        "about_city": [t.format(w) for t in TEMPLATES for w in cities],
        "about_thing": [t.format(w) for t in TEMPLATES for w in things],
    }


class ScoreFeaturizer:
    """A dense featurizer written here: each token's row is its score in `scores` (0 if none),
    repeated `width` times, as Rasa's dense featurizers add them."""

    def __init__(self, scores: Dict[str, float], width: int = 1, origin: str = "test_dense"):
        self.scores, self.width, self.origin = scores, width, origin

    def process(self, parsed: List[Message]) -> List[Message]:
        for message in parsed:
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            rows = np.array([[self.scores.get(t.text, 0.0)] * self.width for t in tokens])
            features = Features(
                rows.reshape(len(tokens), self.width), FEATURE_TYPE_SEQUENCE, TEXT, self.origin
            )
            message.add_features(features)
        return parsed

    def process_training_data(self, data: TrainingData) -> TrainingData:
        self.process(data.training_examples)
        return data


def rasa_featurizer(cls, config: Dict[str, Any], data: TrainingData, storage) -> Any:
    """A Rasa featurizer trained on `data` and run on it, named as the recipe names its node."""
    context = ExecutionContext(GraphSchema({}), "m", node_name=f"run_{cls.__name__}0")
    featurizer = cls.create(
        {**cls.get_default_config(), **config}, storage, Resource(cls.__name__), context
    )
    featurizer.train(data)
    featurizer.process_training_data(data)
    return featurizer


def featurized_data(examples: Any, featurizers: Sequence[Any], storage, **extra):
    """Tokenized examples (messages, or {intent: texts}), with the features of `featurizers`
    (classes with their config, or ready objects) as a pipeline computes them at training;
    returns (data, featurizers)."""
    if isinstance(examples, dict):
        examples = [Message.build(text=t, intent=i) for i, ts in examples.items() for t in ts]
    data = TrainingData(tokenize(examples), **extra)
    ready = []
    for featurizer in featurizers:
        if isinstance(featurizer, tuple):
            featurizer = rasa_featurizer(*featurizer, data, storage)
        else:
            featurizer.process_training_data(data)
        ready.append(featurizer)
    return data, ready


def parse(featurizers: Sequence[Any], *texts: str) -> List[Message]:
    """Tokenized messages with the features of `featurizers`, as a pipeline computes them."""
    parsed = messages(*texts)
    for featurizer in featurizers:
        featurizer.process(parsed)
    return parsed


def train(cls, config: Dict[str, Any], data: TrainingData, storage, execution_context) -> Any:
    fast = {k: v for k, v in FAST.items() if k in cls.get_default_config()}
    component = cls.create({**fast, **config}, storage, Resource("c"), execution_context)
    component.train(data)
    return component


def accuracy(component, featurizers: Sequence[Any], intents: Dict[str, List[str]]) -> float:
    parsed = parse(featurizers, *(t for texts in intents.values() for t in texts))
    component.process(parsed)
    truth = [i for i, texts in intents.items() for _ in texts]
    return float(np.mean([m.get("intent")["name"] == i for m, i in zip(parsed, truth)]))


def probabilities(component, parsed: List[Message]) -> np.ndarray:
    component.process(parsed)
    return np.array(
        [
            [r["confidence"] for r in sorted(m.get("intent_ranking"), key=lambda r: r["name"])]
            for m in parsed
        ]
    )


# --- packing (rnn_nlu/features.py) ------------------------------------------------------------


def test_sparse_features_pack_into_ids_and_values_cut_and_padded_like_token_ids():
    first = scipy.sparse.coo_matrix(np.array([[0, 2.0, 0, 1.0], [0, 0, 0, 0], [3.0, 0, 0, 0]]))
    ids, values = encode_sparse_features([first, None], length=2, max_active=2)
    assert ids.shape == values.shape == (2, 2, 2) and ids.dtype == np.int32
    np.testing.assert_array_equal(ids[0], [[2, 4], [0, 0]])  # feature index + 1; row 3 cut
    np.testing.assert_array_equal(values[0], [[2.0, 1.0], [0, 0]])
    assert not ids[1].any() and not values[1].any()  # no features: zero rows
    # A token with more active features than max_active keeps those of the largest |value|.
    wide = scipy.sparse.csr_matrix(np.array([[0.5, -4.0, 0, 3.0]]))
    ids, values = encode_sparse_features([wide], length=1, max_active=2)
    np.testing.assert_array_equal(ids[0, 0], [2, 4])
    np.testing.assert_array_equal(values[0, 0], [-4.0, 3.0])


def test_sparse_features_sum_duplicate_entries_and_drop_stored_zeros_as_scipy_does():
    # coo entries: (0, 1) stored twice, (0, 2) stored as 0.0, (1, 0) summing to zero
    matrix = scipy.sparse.coo_matrix(
        ([1.5, 2.0, 0.0, 4.0, -4.0, 7.0], ([0, 0, 0, 1, 1, 1], [1, 1, 2, 0, 0, 3])), shape=(2, 5)
    )
    for given in (matrix, matrix.tocsr(), sparse_rows(matrix)):
        ids, values = encode_sparse_features([given], length=2, max_active=3)
        np.testing.assert_array_equal(ids[0], [[2], [4]])  # one active feature a token at most
        np.testing.assert_array_equal(values[0], [[3.5], [7.0]])
    assert max_active_features([matrix, None]) == 1


def test_sparse_features_are_as_wide_as_the_batch_needs():
    """K is the most active features of a token in the batch (at most max_active, at least 1):
    a short message's batch does not carry the padding of the training data's widest token."""
    rows = [scipy.sparse.coo_matrix(np.array([[1.0, 0, 2.0, 0], [0, 0, 0, 5.0]])), None]
    assert encode_sparse_features(rows, length=2, max_active=3)[0].shape == (2, 2, 2)
    assert encode_sparse_features(rows, length=2, max_active=1)[0].shape == (2, 2, 1)
    assert encode_sparse_features([None], length=2, max_active=3)[0].shape == (1, 2, 1)


def test_sparse_featurizers_sit_side_by_side_in_the_layouts_order():
    """Featurizer B's columns come after A's 3 (ids 4, 5), whatever order the message holds
    them in."""
    (message,) = messages("fly home")
    for origin, dense in (("run_B2", [[0, 2.0], [0, 0]]), ("run_A1", [[0, 0, 1.0], [5.0, 0, 0]])):
        matrix = scipy.sparse.coo_matrix(np.array(dense))
        message.add_features(Features(matrix, FEATURE_TYPE_SEQUENCE, TEXT, origin))
    layout = FeatureLayout([("A", 3), ("B", 2)], [], max_active=2)
    inputs = encode([message], layout, length=3, component="test")
    np.testing.assert_array_equal(inputs["feature_ids"][0], [[3, 5], [1, 0], [0, 0]])
    np.testing.assert_array_equal(inputs["feature_values"][0], [[1.0, 2.0], [5.0, 0], [0, 0]])


def test_dense_features_pad_with_zeros_and_cut_like_token_ids():
    packed = encode_dense_features([np.ones((3, 2)), None, np.full((1, 2), 5.0)], 2, 2)
    assert packed.shape == (3, 2, 2) and packed.dtype == np.float32
    np.testing.assert_array_equal(packed[:, :, 0], [[1, 1], [0, 0], [5, 0]])


# --- intent classifiers ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_a_lookup_table_decides_intents_of_cities_never_seen_in_training(
    cls, tmp_path, execution_context
):
    storage = LocalModelStorage.create(tmp_path)
    data, featurizers = featurized_data(
        about(TRAIN_CITIES, TRAIN_THINGS),
        [(RegexFeaturizer, {})],
        storage,
        lookup_tables=CITY_TABLE,
    )
    held_out = about(HELD_OUT_CITIES, HELD_OUT_THINGS)
    with_features = train(cls, {}, data, storage, execution_context)
    without = train(cls, {"use_rasa_features": False}, data, storage, execution_context)
    assert accuracy(with_features, featurizers, held_out) >= 0.9
    # Unseen words are all the unknown word: a city and a thing read the same, one of them wrong.
    assert accuracy(without, featurizers, held_out) == 0.5


VILLE_CITIES = ["asheville", "knoxville", "nashville", "danville", "greenville", "maryville"]
HELD_OUT_VILLES = ["huntsville", "evansville", "brownsville", "zooville", "kittville", "abbeville"]
NUMBERS, HELD_OUT_NUMBERS = ["1234", "5678", "42", "907", "31", "2024"], ["86", "1999", "555"]
SCORES = {w: 1.0 for w in TRAIN_CITIES + HELD_OUT_CITIES}

# (featurizers, training intents, held-out intents): tasks that only the features solve.
TASKS = {
    "char_ngrams": (
        [(CountVectorsFeaturizer, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4})],
        about(VILLE_CITIES, TRAIN_THINGS[:6]),
        about(HELD_OUT_VILLES, HELD_OUT_THINGS[:6]),
    ),
    "lexical_syntactic": (
        [(LexicalSyntacticFeaturizer, {})],  # its "digit" feature
        about(NUMBERS, TRAIN_THINGS[:6]),
        about(HELD_OUT_NUMBERS, HELD_OUT_THINGS[:3]),
    ),
    "dense": (
        [ScoreFeaturizer(SCORES)],
        about(TRAIN_CITIES, TRAIN_THINGS),
        about(HELD_OUT_CITIES, HELD_OUT_THINGS),
    ),
}


@pytest.mark.parametrize("task", list(TASKS))
def test_each_kind_of_feature_decides_intents_of_words_never_seen_in_training(
    task, tmp_path, execution_context
):
    featurizers, intents, held_out = TASKS[task]
    storage = LocalModelStorage.create(tmp_path)
    data, featurizers = featurized_data(intents, featurizers, storage)
    component = train(TextRNNClassifier, {}, data, storage, execution_context)
    assert component.rasa_features.present
    assert accuracy(component, featurizers, held_out) >= 0.9


ALL_FEATURIZERS = [
    (RegexFeaturizer, {}),
    (CountVectorsFeaturizer, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}),
    (LexicalSyntacticFeaturizer, {}),
    ScoreFeaturizer(SCORES),
]
HELD_OUT_TEXTS = ["tell me about lisbon", "i like yoga please", "prague", "", "   ", "x" * 300]


@pytest.fixture(scope="module", params=CLASSIFIERS, ids=lambda c: c.__name__)
def featurized(request, tmp_path_factory, execution_context):
    """A classifier trained with sparse (three featurizers) and dense features; `.storage`,
    `.featurizers`, `.root` (its storage folder)."""
    root = tmp_path_factory.mktemp(request.param.__name__)
    storage = LocalModelStorage.create(root)
    data, featurizers = featurized_data(
        about(TRAIN_CITIES, TRAIN_THINGS), ALL_FEATURIZERS, storage, lookup_tables=CITY_TABLE
    )
    component = train(request.param, {"epochs": 10}, data, storage, execution_context)
    component.storage, component.featurizers, component.root = storage, featurizers, root
    return component


def test_the_layout_of_the_features_is_stored_as_json(featurized):
    metadata = json.loads((featurized.root / "c" / METADATA_FILE).read_text())
    stored = metadata["rasa_features"]
    assert [f["origin"] for f in stored["sparse"]] == [
        "RegexFeaturizer",
        "CountVectorsFeaturizer",
        "LexicalSyntacticFeaturizer",
    ]
    assert stored["sparse"][0]["dim"] == 1  # one lookup table
    assert stored["dense"] == [{"origin": "test_dense", "dim": 1}]
    assert 1 <= stored["max_active"] <= 128
    assert set(featurized.model.input) == {
        "token_ids",
        "feature_ids",
        "feature_values",
        "dense_features",
    }


def test_persist_load_round_trip_gives_identical_probabilities(featurized, execution_context):
    before = probabilities(featurized, parse(featurized.featurizers, *HELD_OUT_TEXTS))
    loaded = type(featurized).load(
        featurized.config, featurized.storage, Resource("c"), execution_context
    )
    after = probabilities(loaded, parse(featurized.featurizers, *HELD_OUT_TEXTS))
    np.testing.assert_allclose(after, before, rtol=1e-6)
    assert loaded.rasa_features == featurized.rasa_features


def test_batch_prediction_with_features_equals_one_by_one(featurized):
    together = probabilities(featurized, parse(featurized.featurizers, *HELD_OUT_TEXTS))
    alone = [probabilities(featurized, parse(featurized.featurizers, t))[0] for t in HELD_OUT_TEXTS]
    np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["rasa_features"]["sparse"][1].update(dim=10**7),
        lambda m: m["rasa_features"]["dense"][0].update(dim=10**7),
        lambda m: m["model"].update(feature_units=10**6),
    ],
    ids=["sparse_dim", "dense_dim", "feature_units"],
)
def test_a_tampered_feature_size_is_refused_before_building(
    featurized, tmp_path, execution_context, monkeypatch, change
):
    copy = tampered_copy(featurized.root, tmp_path, change)

    def must_not_build(*args, **kwargs):
        raise AssertionError("a network was built from a tampered archive")

    cls = type(featurized)
    monkeypatch.setattr(cls, "build_model", staticmethod(must_not_build))
    with pytest.raises(ModelArchiveError, match="no stored array has a dimension"):
        cls.load(featurized.config, LocalModelStorage(copy), Resource("c"), execution_context)


def test_a_tampered_max_active_is_refused(featurized, tmp_path, execution_context):
    copy = tmp_path / "copy"
    shutil.copytree(featurized.root, copy)
    path = copy / "c" / METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata["rasa_features"]["max_active"] = 10**9
    path.write_text(json.dumps(metadata))
    with pytest.raises(ModelArchiveError, match="max_active"):
        type(featurized).load(
            featurized.config, LocalModelStorage(copy), Resource("c"), execution_context
        )


def test_features_of_another_width_at_parse_are_a_clear_error(featurized):
    featurizers = featurized.featurizers[:3] + [ScoreFeaturizer(SCORES, width=2)]
    name = type(featurized).__name__
    with pytest.raises(
        FeatureMismatchError, match=f"{name}: featurizer 'test_dense' .* 2 wide; .* trained with 1"
    ):
        featurized.process(parse(featurizers, "tell me about lisbon"))


def test_missing_features_are_an_error_except_for_blank_text(featurized):
    name = type(featurized).__name__
    with pytest.raises(FeatureMismatchError, match=f"{name}: .* no dense features .*'test_dense'"):
        featurized.process(parse(featurized.featurizers[:3], "tell me about lisbon"))
    (blank,) = parse(featurized.featurizers[:3], "")  # RegexFeaturizer adds none to blank text
    featurized.process([blank])
    assert blank.get("intent")["name"] in {"about_city", "about_thing"}


def test_features_unknown_to_the_model_are_a_clear_error(featurized):
    featurizers = featurized.featurizers + [ScoreFeaturizer(SCORES, origin="other_dense")]
    with pytest.raises(FeatureMismatchError, match="'other_dense', which the model was not"):
        featurized.process(parse(featurizers, "tell me about lisbon"))


def test_features_named_after_another_pipeline_position_are_read(featurized):
    """Rasa names features after the featurizer's node ("run_CountVectorsFeaturizer3"); the index
    moves when the pipeline is reordered, and the training cache can return features named after
    an earlier position. Renamed, they still give the same probabilities."""
    texts = ["tell me about lisbon", "i like sushi"]
    before = probabilities(featurized, parse(featurized.featurizers, *texts))
    moved = parse(featurized.featurizers, *texts)
    for message in moved:
        for f in message.features:
            if f.origin.startswith("run_"):
                f.origin = f.origin[:-1] + "7"
    np.testing.assert_allclose(probabilities(featurized, moved), before, rtol=1e-6)


def test_two_featurizers_of_one_kind_keep_their_order(tmp_path, execution_context):
    """Word and character CountVectorsFeaturizers (nodes 1 and 2): each its own width, in order."""
    storage = LocalModelStorage.create(tmp_path)
    data, _ = featurized_data(about(TRAIN_CITIES, TRAIN_THINGS), [], storage)
    featurizers = []
    for index, config in [(1, {}), (2, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3})]:
        context = ExecutionContext(GraphSchema({}), "m", node_name=f"run_CVF{index}")
        cls = CountVectorsFeaturizer
        featurizer = cls.create(
            {**cls.get_default_config(), **config}, storage, Resource(f"cvf{index}"), context
        )
        featurizer.train(data)
        featurizer.process_training_data(data)
        featurizers.append(featurizer)
    component = train(TextRNNClassifier, {"epochs": 1}, data, storage, execution_context)
    (words, word_dim), (chars, char_dim) = component.rasa_features.sparse
    assert (words, chars) == ("CVF", "CVF#2")
    assert word_dim < char_dim  # the word vocabulary is the smaller one
    (parsed,) = parse(featurizers, "tell me about lisbon")
    component.process([parsed])  # read in the stored order, no mismatch
    assert parsed.get("intent")["name"] in {"about_city", "about_thing"}


def test_feature_rows_that_are_not_one_per_token_name_the_featurizer(tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    data, _ = featurized_data(about(TRAIN_CITIES, TRAIN_THINGS), [ScoreFeaturizer(SCORES)], storage)
    example = data.training_examples[0]
    example.features = [Features(np.zeros((9, 1)), FEATURE_TYPE_SEQUENCE, TEXT, "short_featurizer")]
    with pytest.raises(FeatureMismatchError, match="'short_featurizer' gave 9 rows .* tokens of"):
        train(TextRNNClassifier, {"epochs": 1}, data, storage, execution_context)


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_without_featurizers_the_model_is_as_before(cls, tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    default = train(cls, {"epochs": 1}, training_data(), storage, execution_context)
    off = train(
        cls, {"epochs": 1, "use_rasa_features": False}, training_data(), storage, execution_context
    )
    assert not default.rasa_features.present
    assert default.model.count_params() == off.model.count_params()
    assert [w.shape for w in default.model.weights] == [w.shape for w in off.model.weights]
    assert not isinstance(default.model.input, dict)  # one token-id input, as before
    # Features on the messages at parse time are not read by a model trained without them.
    default.process(parse([ScoreFeaturizer(SCORES)], "hello there"))


@pytest.mark.parametrize("cls", CLASSIFIERS, ids=lambda c: c.__name__)
def test_finetuning_keeps_the_features_and_refuses_another_width(cls, tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    data, featurizers = featurized_data(
        about(TRAIN_CITIES, TRAIN_THINGS), [ScoreFeaturizer(SCORES)], storage
    )
    trained = train(cls, {"epochs": 5}, data, storage, execution_context)
    fast = {k: v for k, v in FAST.items() if k in cls.get_default_config()}
    loaded = cls.load({**fast, "epochs": 2}, storage, Resource("c"), FINETUNING)
    loaded.train(data)
    assert loaded.rasa_features == trained.rasa_features
    assert accuracy(loaded, featurizers, about(HELD_OUT_CITIES, HELD_OUT_THINGS)) >= 0.9

    wider, _ = featurized_data(
        about(TRAIN_CITIES, TRAIN_THINGS), [ScoreFeaturizer(SCORES, width=3)], storage
    )
    again = cls.load({**fast, "epochs": 1}, storage, Resource("c"), FINETUNING)
    with pytest.raises(
        FinetuningError, match="cannot finetune: .*test_dense: 3 wide, trained with 1 wide"
    ):
        again.train(wider)


# --- slot filler ----------------------------------------------------------------------------

SLOT_TEMPLATES = ["tell me about {}", "i like {}", "what do you know about {}", "{} please"]


def city_examples(cities: List[str], things: List[str]) -> List[Message]:
    """The templates filled with cities, annotated as `city` entities, and with things, not."""
    texts = [t.format(f"[{c}](city)") for t in SLOT_TEMPLATES for c in cities]
    texts += [t.format(w) for t in SLOT_TEMPLATES for w in things]
    return [parse_training_example(text, "inform") for text in texts]


def tagged(component, featurizers: Sequence[Any], words: List[str]) -> List[List[str]]:
    """The entity values the slot filler finds in each template filled with each word."""
    parsed = parse(featurizers, *(t.format(w) for t in SLOT_TEMPLATES for w in words))
    component.process(parsed)
    return [[e["value"] for e in m.get("entities")] for m in parsed]


def train_slots(config: Dict[str, Any], data: TrainingData, storage, execution_context) -> Any:
    component = BiLSTMSlotFiller.create(
        {**SLOT_FAST, "feature_units": 16, **config}, storage, Resource("s"), execution_context
    )
    component.train(data)
    return component


SLOT_FEATURIZERS = {"lookup_table": [(RegexFeaturizer, {})], "dense": [ScoreFeaturizer(SCORES)]}


@pytest.mark.parametrize("kind", list(SLOT_FEATURIZERS))
def test_slot_filler_tags_unseen_cities_only_with_features(kind, tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    data, featurizers = featurized_data(
        city_examples(TRAIN_CITIES, TRAIN_THINGS),
        SLOT_FEATURIZERS[kind],
        storage,
        lookup_tables=CITY_TABLE,
    )
    with_features = train_slots({}, data, storage, execution_context)
    cities = tagged(with_features, featurizers, HELD_OUT_CITIES)
    assert np.mean([found == [c] for found, c in zip(cities, HELD_OUT_CITIES * 4)]) >= 0.9
    things = tagged(with_features, featurizers, HELD_OUT_THINGS)
    assert np.mean([found == [] for found in things]) >= 0.9
    # Without: unseen words are the unknown word (no character CNN here, so nothing else tells
    # them apart), and a city is tagged exactly when a thing in its place is.
    without = train_slots(
        {"use_rasa_features": False, "use_chars": False}, data, storage, execution_context
    )
    cities = tagged(without, featurizers, HELD_OUT_CITIES)
    things = tagged(without, featurizers, HELD_OUT_THINGS)
    assert [bool(c) for c in cities] == [bool(t) for t in things]


@pytest.fixture(scope="module")
def featurized_slots(tmp_path_factory, execution_context):
    """The slot filler (characters on) trained with sparse and dense features; `.storage`,
    `.featurizers`, `.root`."""
    root = tmp_path_factory.mktemp("slots")
    storage = LocalModelStorage.create(root)
    data, featurizers = featurized_data(
        city_examples(TRAIN_CITIES, TRAIN_THINGS),
        ALL_FEATURIZERS,
        storage,
        lookup_tables=CITY_TABLE,
    )
    component = train_slots({"epochs": 10}, data, storage, execution_context)
    component.storage, component.featurizers, component.root = storage, featurizers, root
    return component


def confidences(component, parsed: List[Message]) -> List[List[float]]:
    component.process(parsed)
    return [[e["confidence_entity"] for e in m.get("entities")] for m in parsed]


def test_slot_filler_round_trip_gives_identical_entities(featurized_slots, execution_context):
    assert set(featurized_slots.model.input) == {
        "token_ids",
        "char_ids",
        "feature_ids",
        "feature_values",
        "dense_features",
    }
    texts = ["tell me about lisbon", "i like boston please", "", "x" * 300]
    before = confidences(featurized_slots, parse(featurized_slots.featurizers, *texts))
    loaded = BiLSTMSlotFiller.load(
        featurized_slots.config, featurized_slots.storage, Resource("s"), execution_context
    )
    after = confidences(loaded, parse(featurized_slots.featurizers, *texts))
    assert [len(c) for c in after] == [len(c) for c in before] and any(before)
    for a, b in zip(after, before):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_slot_filler_refuses_a_tampered_feature_width_before_building(
    featurized_slots, tmp_path, execution_context, monkeypatch
):
    copy = tmp_path / "copy"
    shutil.copytree(featurized_slots.root, copy)
    path = copy / "s" / METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata["rasa_features"]["dense"][0]["dim"] = 10**7
    path.write_text(json.dumps(metadata))

    def must_not_build(*args, **kwargs):
        raise AssertionError("a network was built from a tampered archive")

    monkeypatch.setattr("rnn_nlu.components.slot_filler.build_tagger", must_not_build)
    with pytest.raises(ModelArchiveError, match="no stored array has a dimension"):
        BiLSTMSlotFiller.load(
            featurized_slots.config, LocalModelStorage(copy), Resource("s"), execution_context
        )


def test_slot_filler_names_features_of_another_width(featurized_slots):
    featurizers = featurized_slots.featurizers[:3] + [ScoreFeaturizer(SCORES, width=2)]
    with pytest.raises(FeatureMismatchError, match="BiLSTMSlotFiller: featurizer 'test_dense'"):
        featurized_slots.process(parse(featurizers, "tell me about lisbon"))


def test_slot_filler_without_featurizers_is_as_before(tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    data = TrainingData(tokenize(city_examples(TRAIN_CITIES[:3], TRAIN_THINGS[:3])))
    default = train_slots({"epochs": 1}, data, storage, execution_context)
    off = train_slots({"epochs": 1, "use_rasa_features": False}, data, storage, execution_context)
    assert not default.rasa_features.present
    assert [w.shape for w in default.model.weights] == [w.shape for w in off.model.weights]
    assert set(default.model.input) == {"token_ids", "char_ids"}


def test_slot_filler_finetuning_refuses_another_feature_width(tmp_path, execution_context):
    storage = LocalModelStorage.create(tmp_path)
    examples = city_examples(TRAIN_CITIES[:4], TRAIN_THINGS[:4])
    data, _ = featurized_data(examples, [ScoreFeaturizer(SCORES)], storage)
    train_slots({"epochs": 2}, data, storage, execution_context)
    loaded = BiLSTMSlotFiller.load({**SLOT_FAST, "epochs": 1}, storage, Resource("s"), FINETUNING)
    loaded.train(data)  # the same features: continues
    assert len(loaded.histories[0]["loss"]) == 1
    wider, _ = featurized_data(
        city_examples(TRAIN_CITIES[:4], TRAIN_THINGS[:4]), [ScoreFeaturizer(SCORES, 2)], storage
    )
    again = BiLSTMSlotFiller.load({**SLOT_FAST, "epochs": 1}, storage, Resource("s"), FINETUNING)
    with pytest.raises(FinetuningError, match="BiLSTMSlotFiller cannot finetune: .*test_dense"):
        again.train(wider)


@pytest.mark.parametrize("cls", [*CLASSIFIERS, BiLSTMSlotFiller], ids=lambda c: c.__name__)
def test_training_keeps_sparse_features_unpadded(cls, tmp_path, execution_context, monkeypatch):
    """`fit` gets the sparse features as `RaggedRows` (padded a batch at a time), which hold less
    than the padded arrays and pad back to what parsing the same messages gives."""
    given = []
    real_fit = lifecycle.fit
    monkeypatch.setattr(
        lifecycle, "fit", lambda model, x, y, **kw: given.append(x) or real_fit(model, x, y, **kw)
    )
    storage = LocalModelStorage.create(tmp_path)
    chars = (CountVectorsFeaturizer, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4})
    if cls is BiLSTMSlotFiller:
        data, _ = featurized_data(city_examples(TRAIN_CITIES, TRAIN_THINGS), [chars], storage)
        component = train_slots({"epochs": 1}, data, storage, execution_context)
    else:
        data, _ = featurized_data(about(TRAIN_CITIES, TRAIN_THINGS), [chars], storage)
        component = train(cls, {"epochs": 1}, data, storage, execution_context)
    x, parsed = given[0], component._inputs(data.training_examples)
    length = x["token_ids"].shape[1]
    for key in ("feature_ids", "feature_values"):
        assert isinstance(x[key], RaggedRows)
        np.testing.assert_array_equal(x[key].padded(length), parsed[key])
        assert sum(r.size for r in x[key].rows) < parsed[key].size
