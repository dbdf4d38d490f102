"""The BiLSTM(-CRF) Keras tagger alone: shapes, padding, loss, decoding, learning a tiny task, the
intent input."""

import numpy as np
import pytest
from tensorflow import keras

from rnn_nlu.models.layers import RepeatOverTime, WordDropout
from rnn_nlu.models.numpy_layers import canonical_name
from rnn_nlu.models.tagger import CRF, CharCNN, build_tagger
from rnn_nlu.training import fit
from tests.models.test_trimming import tagger_data, trained_weights, untrimmed

SMALL = {"embedding_dim": 8, "char_embedding_dim": 4, "char_filters": 6, "rnn_units": 8}


def inputs(token_ids, char_ids=None):
    x = {"token_ids": np.array(token_ids, dtype=np.int32)}
    if char_ids is not None:
        x["char_ids"] = np.array(char_ids, dtype=np.int32)
    return x


def chars(batch, time, width, seed=0):
    return np.random.default_rng(seed).integers(2, 20, (batch, time, width)).astype(np.int32)


@pytest.mark.parametrize("use_crf", [True, False])
@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "simple"])
def test_padding_changes_neither_scores_nor_decoded_tags(rnn_type, use_crf):
    model = build_tagger(
        50, {"entity": 5, "role": 3}, 20, rnn_type=rnn_type, num_layers=2, use_crf=use_crf, **SMALL
    )
    assert model.heads == ["entity", "role"]
    short_chars = chars(1, 3, 4)
    short_chars[0, 1, 2:] = 0  # a two-character word
    long_chars = np.zeros((1, 6, 9), dtype=np.int32)  # more time steps, wider words
    long_chars[:, :3, :4] = short_chars
    short = inputs([[5, 7, 9]], short_chars)
    long = inputs([[5, 7, 9, 0, 0, 0]], long_chars)
    scores, padded_scores = model(short), model(long)
    for head, tags in (("entity", 5), ("role", 3)):
        assert scores[head].shape == (1, 3, tags)
        np.testing.assert_allclose(padded_scores[head][:, :3], scores[head], atol=1e-6)
    decoded, padded = model.decode(short), model.decode(long)
    for key in ("entity", "entity_confidence", "role", "role_confidence"):
        assert decoded[key].shape == (1, 3)
        np.testing.assert_allclose(padded[key][:, :3], decoded[key], atol=1e-6)
    assert np.all((decoded["entity_confidence"] > 0) & (decoded["entity_confidence"] <= 1))


def test_padding_changes_neither_scores_nor_tags_with_an_intent():
    """The intent joins every token's vector; padding after the message stays masked for the
    BiLSTM and the CRF (the backward LSTM would read it first otherwise)."""
    model = build_tagger(50, {"entity": 5}, 20, num_intents=3, intent_units=4, **SMALL)
    assert sorted(model.input_names) == ["char_ids", "intent", "token_ids"]
    long_chars = np.zeros((1, 7, 4), dtype=np.int32)
    long_chars[:, :3] = chars(1, 3, 4)
    short = {**inputs([[5, 7, 9]], long_chars[:, :3]), "intent": np.eye(3, dtype=np.float32)[:1]}
    long = {**inputs([[5, 7, 9, 0, 0, 0, 0]], long_chars), "intent": short["intent"]}
    scores, padded_scores = model(short)["entity"], model(long)["entity"]
    np.testing.assert_allclose(padded_scores[:, :3], scores, atol=1e-6)
    decoded, padded = model.decode(short), model.decode(long)
    for key in ("entity", "entity_confidence"):
        np.testing.assert_allclose(padded[key][:, :3], decoded[key], atol=1e-6)
    other = model({**short, "intent": np.eye(3, dtype=np.float32)[1:2]})["entity"]
    assert np.abs(other - scores).max() > 1e-3  # the intent reaches the scores


def test_without_intents_the_model_is_that_of_earlier_versions():
    """Archives of models without an intent input must load: same inputs, weight names and
    shapes; an intent input adds its projection and widens the first BiLSTM's kernel only."""

    def weights(model) -> dict:
        return {canonical_name(w.name): w.shape for w in model.weights}

    plain = build_tagger(50, {"entity": 5}, 20, **SMALL)
    assert sorted(plain.input_names) == ["char_ids", "token_ids"]
    assert not any("intent" in name for name in weights(plain))
    guided = weights(build_tagger(50, {"entity": 5}, 20, num_intents=3, intent_units=4, **SMALL))
    assert guided.pop("intent_projection/kernel") == (3, 4)
    assert guided.pop("intent_projection/bias") == (4,)
    kernels = [name for name in guided if name.startswith("bi_lstm_0/") and "/kernel" in name]
    assert len(kernels) == 2
    for name in kernels:  # the intent's 4 values join each token's input
        assert guided[name][0] == weights(plain)[name][0] + 4
        guided[name] = weights(plain)[name]
    assert guided == weights(plain)


def test_training_keeps_the_intent_input_whole_when_batches_are_cut():
    """`TrimmingModel` cuts inputs to the batch's longest message, but not the intent (7 wide,
    longer than every message): trimmed training learns the weights of padded training."""
    x, y = tagger_data(np.random.default_rng(0))
    x["intent"] = np.eye(7, dtype=np.float32)[np.arange(len(y)) % 7]
    options = {"embedding_dim": 8, "char_filters": 5, "rnn_units": 6, "dropout": 0}

    def build():
        keras.utils.set_random_seed(0)
        return build_tagger(30, {"entity": 4}, 12, num_intents=7, intent_units=3, **options)

    trimmed, padded = build(), untrimmed(build())
    want = trained_weights(padded, None, (x, y[:, :, :1]))
    for got, expected in zip(trained_weights(trimmed, None, (x, y[:, :, :1])), want):
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_without_characters_the_model_takes_token_ids_only():
    model = build_tagger(50, {"entity": 4}, use_chars=False, **SMALL)
    assert model.input_names == ["token_ids"]
    assert model.decode(inputs([[3, 4]]))["entity"].shape == (1, 2)


def test_crf_with_zero_transitions_has_the_softmax_loss():
    """A CRF without transition scores is a softmax per token: same loss, padding ignored."""
    x = inputs([[5, 7, 9, 0], [4, 0, 0, 0]], chars(2, 4, 3))
    y = np.array([[[1], [2], [0], [0]], [[3], [0], [0], [0]]], dtype=np.int32)
    crf = build_tagger(50, {"entity": 4}, 20, use_crf=True, **SMALL)
    softmax = build_tagger(50, {"entity": 4}, 20, use_crf=False, **SMALL)
    weights = crf.get_weights()
    weights[-1] = np.zeros_like(weights[-1])  # the transitions, created last
    crf.set_weights(weights)
    softmax.set_weights(weights[:-1])
    losses = [float(m.compute_loss(x, y, m(x))) for m in (crf, softmax)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert losses[0] > 0


def test_weights_are_only_the_layers_and_rebuild_the_same_model():
    first = build_tagger(50, {"entity": 5}, 20, **SMALL)
    second = build_tagger(50, {"entity": 5}, 20, **SMALL)
    assert [w.shape for w in first.weights] == [w.shape for w in second.weights]
    assert not any("total" in w.name or "count" in w.name for w in first.weights)  # no metric state
    assert isinstance(first.get_layer("entity"), CRF)


@pytest.mark.parametrize("use_crf", [True, False], ids=["crf", "softmax"])
def test_learns_a_tiny_tagging_task(use_crf):
    """Tags follow from the previous token (a "from"/"to" marker): a BiLSTM must carry it over."""
    rng = np.random.default_rng(0)
    token_ids, tags = [], []
    for _ in range(64):
        words = list(rng.integers(10, 30, 6))
        labels = [0] * 6
        for marker, tag in ((2, 1), (3, 2)):  # "from" -> tag 1 on the next word, "to" -> tag 2
            i = int(rng.integers(0, 5))
            if labels[i] == 0 and labels[i + 1] == 0 and words[i] not in (2, 3):
                words[i], labels[i + 1] = marker, tag
        token_ids.append(words)
        tags.append(labels)
    x = inputs(token_ids, chars(64, 6, 3))
    y = np.array(tags, dtype=np.int32)[:, :, None]
    model = build_tagger(30, {"entity": 3}, 20, use_crf=use_crf, dropout=0.0, **SMALL)
    history = fit(
        model,
        x,
        y,
        epochs=40,
        batch_size=16,
        learning_rate=0.02,
        clipnorm=5.0,
        validation_split=0.0,
        patience=0,
        random_seed=1,
        loss=None,
        metrics=(),
        silent=True,
    )
    assert history.history["loss"][-1] < history.history["loss"][0] / 4
    decoded = model.decode(x)["entity"]
    assert (decoded == y[:, :, 0]).mean() > 0.97


@pytest.mark.parametrize(
    "layer",
    [CharCNN(20, 4, 6, name="c"), WordDropout(0.1), CRF(4), RepeatOverTime(name="r")],
    ids=["char_cnn", "word_dropout", "crf", "repeat_over_time"],
)
def test_custom_layers_have_a_config(layer):
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_bad_arguments_are_refused():
    with pytest.raises(AssertionError, match="two tags"):
        build_tagger(50, {"entity": 1})
    with pytest.raises(AssertionError, match="character vocabulary"):
        build_tagger(50, {"entity": 3}, num_chars=0)
