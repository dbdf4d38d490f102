"""The intent classifiers' own character n-grams (`char_ngrams`): what CountVectorsFeaturizer with
`analyzer: char_wb` gives, learnt by the classifier itself, kept through persistence and
finetuning."""

import json

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from sklearn.feature_extraction.text import CountVectorizer

from rnn_nlu import RCNNClassifier, TextRNNClassifier
from rnn_nlu.char_ngrams import CharNgrams, char_wb_ngrams
from rnn_nlu.features import encode_sparse_features
from rnn_nlu.persistence import METADATA_FILE, ModelArchiveError
from tests.components.test_rasa_features import (
    CITY_TABLE,
    FINETUNING,
    HELD_OUT_THINGS,
    HELD_OUT_VILLES,
    TRAIN_CITIES,
    TRAIN_THINGS,
    VILLE_CITIES,
    about,
    accuracy,
    featurized_data,
    parse,
    probabilities,
    train,
)
from tests.helpers import tampered_copy

WORDS = ["a", "ab", "flight", "Denver", "naïve", "北京", "new  york", "x" * 30, ""]


@pytest.mark.parametrize("longest", [1, 2, 4, 6])
def test_the_ngrams_are_those_of_count_vectors_char_wb(longest):
    """The n-grams CountVectorsFeaturizer counts with `analyzer: char_wb` (scikit-learn's)."""
    analyzer = CountVectorizer(
        analyzer="char_wb", ngram_range=(1, longest), lowercase=False
    ).build_analyzer()
    for word in WORDS:
        assert sorted(char_wb_ngrams(word, longest)) == sorted(analyzer(word)), word


def test_features_count_the_known_ngrams_of_each_token_as_count_vectors_does():
    ngrams = CharNgrams.build([["Boston", "boats"], ["to", "Austin"]], longest=3)
    assert ngrams.ngrams[:2] == [" ", "o"]  # the most frequent first
    tokens = ["boston", "Oslo", "qq", "to"]  # lower-cased; "qq"'s n-grams but " " unknown
    found = ngrams.features(tokens)
    matrix = np.zeros(found.shape, np.float32)
    matrix[found.token, found.column] = found.value
    counted = CountVectorizer(
        analyzer="char_wb", ngram_range=(1, 3), vocabulary=ngrams.ngrams
    ).transform([t.lower() for t in tokens])
    np.testing.assert_array_equal(matrix, counted.toarray())
    assert matrix[2].sum() == 2  # "qq": only its two padding spaces are known
    assert ngrams.features([]).shape == (0, ngrams.width)


@pytest.mark.parametrize("max_active", [128, 6])
def test_packed_ngrams_are_the_encoded_features(max_active):
    """The parse-time packing equals the general one of Rasa's sparse features, cut tokens and
    tokens with more n-grams than `max_active` (which keep the most frequent) included."""
    ngrams = CharNgrams.build([["flights", "to", "boston"], ["aaaa", "naïve"]], longest=4)
    messages = [["boston", "aaaaaaa", "unseen", "to"], [], ["Flights", "x" * 40, "to"]]
    ids, values = ngrams.packed(messages, length=3, max_active=max_active)
    want = encode_sparse_features([ngrams.features(t) for t in messages], 3, max_active)
    np.testing.assert_array_equal(ids, want[0])
    np.testing.assert_array_equal(values, want[1])


def test_a_classifier_with_char_ngrams_reads_unseen_words_by_their_characters(
    tmp_path, execution_context
):
    """Held-out cities never seen in training end in "ville" like the training ones: without a
    featurizer, the n-grams tell them from things; the words alone cannot (all unknown)."""
    storage = LocalModelStorage.create(tmp_path)
    data, _ = featurized_data(about(VILLE_CITIES, TRAIN_THINGS[:6]), [], storage)
    held_out = about(HELD_OUT_VILLES, HELD_OUT_THINGS[:6])
    for cls in (TextRNNClassifier, RCNNClassifier):
        with_ngrams = train(cls, {"char_ngrams": 4}, data, storage, execution_context)
        assert with_ngrams.rasa_features.sparse == [
            (CharNgrams.ORIGIN, with_ngrams.char_ngrams.width)
        ]
        assert accuracy(with_ngrams, [], held_out) >= 0.9, cls.__name__
        words = train(cls, {"char_ngrams": 0}, data, storage, execution_context)
        assert words.char_ngrams is None and not words.rasa_features.present
        assert accuracy(words, [], held_out) == 0.5, cls.__name__


def test_served_the_token_table_holds_the_ngrams_of_its_words(tmp_path, execution_context):
    """Loaded, TextRNN's table of its words' first-layer inputs holds their n-grams too: only the
    other words' n-grams are packed, and the probabilities are the trained Keras model's."""
    storage = LocalModelStorage.create(tmp_path)
    data, _ = featurized_data(about(VILLE_CITIES, TRAIN_THINGS[:6]), [], storage)
    config = {"char_ngrams": 4, "epochs": 3, "ensemble_size": 2}
    trained = train(TextRNNClassifier, config, data, storage, execution_context)
    texts = ["tell me about nashville", "tell me about zooville", "i like yoga", "", "x" * 90]
    before = probabilities(trained, parse([], *texts))
    loaded = TextRNNClassifier.load(trained.config, storage, Resource("c"), execution_context)
    assert "nashville" in loaded._tabulated and "zooville" not in loaded._tabulated
    own = loaded._own_features()
    ids, _ = own.packed(parse([], "tell me about zooville"), 4, loaded.rasa_features.max_active)
    assert not ids[0, :3].any() and ids[0, 3].any()  # "zooville" only
    np.testing.assert_allclose(probabilities(loaded, parse([], *texts)), before, atol=1e-5)


def test_text_rnn_learns_char_ngrams_by_default():
    assert TextRNNClassifier.get_default_config()["char_ngrams"] == 4
    assert RCNNClassifier.get_default_config()["char_ngrams"] == 0


@pytest.fixture()
def with_regex(tmp_path, execution_context):
    """TextRNN trained with its n-grams next to a RegexFeaturizer's lookup-table feature;
    `.storage`, `.featurizers`, `.root`."""
    (tmp_path / "model").mkdir()
    storage = LocalModelStorage.create(tmp_path / "model")
    data, featurizers = featurized_data(
        about(TRAIN_CITIES, TRAIN_THINGS),
        [(RegexFeaturizer, {})],
        storage,
        lookup_tables=CITY_TABLE,
    )
    component = train(TextRNNClassifier, {"char_ngrams": 3}, data, storage, execution_context)
    component.storage, component.featurizers, component.root = storage, featurizers, tmp_path
    component.data = data
    return component


TEXTS = ["tell me about lisbon", "i like sushi", "", "zzzz qqq", "x" * 300]


def test_the_ngrams_are_stored_as_json_and_loaded_with_the_same_probabilities(
    with_regex, execution_context
):
    assert [o for o, _ in with_regex.rasa_features.sparse] == [
        "RegexFeaturizer",
        CharNgrams.ORIGIN,
    ]
    metadata = json.loads((with_regex.root / "model" / "c" / METADATA_FILE).read_text())
    assert metadata["char_ngrams"]["ngrams"] == with_regex.char_ngrams.ngrams
    assert metadata["char_ngrams"]["longest"] == 3
    before = probabilities(with_regex, parse(with_regex.featurizers, *TEXTS))
    loaded = TextRNNClassifier.load(
        with_regex.config, with_regex.storage, Resource("c"), execution_context
    )
    after = probabilities(loaded, parse(with_regex.featurizers, *TEXTS))
    np.testing.assert_allclose(after, before, atol=1e-5)


def test_finetuning_keeps_the_ngrams_of_the_first_training(with_regex):
    loaded = TextRNNClassifier.load(
        {**with_regex.config, "epochs": 1}, with_regex.storage, Resource("c"), FINETUNING
    )
    new_words = about(["zurich", "quebec"], ["kayaking", "jujitsu"])
    data, _ = featurized_data(new_words, with_regex.featurizers, with_regex.storage)
    loaded.train(data)
    assert loaded.char_ngrams.ngrams == with_regex.char_ngrams.ngrams
    assert loaded.rasa_features == with_regex.rasa_features


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m["char_ngrams"]["ngrams"].pop(), "n-grams stored, but the features read"),
        (lambda m: m.update(char_ngrams=None), "no n-grams stored, but the features read"),
        (lambda m: m["char_ngrams"]["ngrams"].append(" "), "holds an n-gram twice"),
        (lambda m: m["char_ngrams"].update(longest="4"), "'longest' must be"),
    ],
    ids=["one_missing", "none", "twice", "longest"],
)
def test_a_tampered_ngram_list_is_refused(with_regex, tmp_path, execution_context, change, message):
    copy = tampered_copy(with_regex.root / "model", tmp_path, change)
    with pytest.raises(ModelArchiveError, match=message):
        TextRNNClassifier.load(
            with_regex.config, LocalModelStorage(copy), Resource("c"), execution_context
        )


def test_without_rasa_features_the_classifier_reads_its_own_ngrams_only(
    with_regex, execution_context
):
    component = train(
        TextRNNClassifier,
        {"char_ngrams": 3, "use_rasa_features": False, "epochs": 2},
        with_regex.data,
        with_regex.storage,
        execution_context,
    )
    assert [o for o, _ in component.rasa_features.sparse] == [CharNgrams.ORIGIN]
    (parsed,) = parse(with_regex.featurizers, "tell me about lisbon")  # with the regex feature
    component.process([parsed])
    assert parsed.get("intent")["name"] in {"about_city", "about_thing"}
