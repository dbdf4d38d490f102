"""The NumPy forward passes against the Keras models they copy: every cell, direction, depth,
pooling, feature input, tagger head and the tagger's intent input, on right-padded batches of many
lengths and on one token, with the weights as trained and as served (directions fused at load,
the first layer's projection of frequent words tabulated, rare words multiplied one by one or
together); the intent classifiers' for each member of an ensemble alone and for all of them in
one pass."""

import inspect
import subprocess
import sys
from typing import Any, Callable, Dict, Iterator, Mapping, Union

import numpy as np
import pytest

from rnn_nlu.models import numpy_layers, numpy_models
from rnn_nlu.models.numpy_layers import (
    as_members,
    bidirectional,
    canonical_name,
    fuse_directions,
    stack_members,
)
from rnn_nlu.models.numpy_models import (
    RCNN_DEFAULTS,
    TAGGER_DEFAULTS,
    TEXT_RNN_DEFAULTS,
    rcnn_forward,
    serving_weights,
    tagger_forward,
    text_rnn_forward,
)
from rnn_nlu.models.rcnn import build_rcnn
from rnn_nlu.models.tagger import build_tagger
from rnn_nlu.models.text_rnn import build_text_rnn

VOCAB, LABELS, CHARS, SPARSE, DENSE, INTENTS = 50, 4, 20, 7, 3, 6
MEMBERS = 3  # of an ensemble
ATOL = 1e-5
FEATURES = {"sparse_feature_dim": SPARSE, "dense_feature_dim": DENSE}

TEXT_RNN_SIZES = {"embedding_dim": 8, "rnn_units": 8, "feature_units": 5}
# An LSTM or GRU layer takes a second or two to build (Keras traces a CPU and a cuDNN version),
# a SimpleRNN a tenth of that: depth, direction and pooling vary mostly on SimpleRNNs, as the
# masked run is the same code for every cell.
TEXT_RNN_CASES = [  # every rnn_type, direction, depth and pooling, with and without features
    {},  # the defaults: one bidirectional LSTM, max pooling
    {"bidirectional": False, "pooling": "last", "dense_units": [6]},
    {"bidirectional": False, "num_layers": 2, "pooling": "attention", **FEATURES},
    {"rnn_type": "gru", "pooling": "last", "dense_units": [6, 5]},
    {"rnn_type": "gru", "pooling": "attention", "sparse_feature_dim": SPARSE},
    {"rnn_type": "gru", "bidirectional": False, "pooling": "mean", "dense_feature_dim": DENSE},
    {"rnn_type": "simple", "bidirectional": False, "num_layers": 2, "pooling": "last"},
    {"rnn_type": "simple", "bidirectional": False, "num_layers": 2, "pooling": "max"},
    {"rnn_type": "simple", "num_layers": 2, "pooling": "last"},
    {"rnn_type": "simple", "num_layers": 2, "pooling": "mean", "dense_units": [6], **FEATURES},
    {"rnn_type": "simple", "num_layers": 2, "pooling": "attention"},
    {"rnn_type": "simple", "pooling": "max", "dense_feature_dim": DENSE},
    {"rnn_type": "simple", "pooling": "max", "pool_inputs": True, **FEATURES},
    {"rnn_type": "simple", "bidirectional": False, "pooling": "last", "pool_inputs": True},
]
RCNN_SIZES = {"embedding_dim": 8, "context_units": 8, "projection_units": 12, "feature_units": 5}
RCNN_CASES = [
    {},  # the defaults: SimpleRNN contexts
    {"rnn_type": "simple", "dense_units": [6], **FEATURES},
    {"rnn_type": "gru", "dense_units": [6], "sparse_feature_dim": SPARSE},
    {"rnn_type": "lstm", "dense_units": [6, 5], "dense_feature_dim": DENSE},
]
TAGGER_SIZES = {
    "embedding_dim": 8,
    "char_embedding_dim": 4,
    "char_filters": 6,
    "rnn_units": 8,
    "feature_units": 5,
    "intent_units": 4,
}
ENTITY, ROLES = {"entity": 5}, {"entity": 5, "role": 3}
TAGGER_CASES = [
    {"num_tags": ENTITY, "num_chars": CHARS},  # the defaults: one BiLSTM, characters, CRF
    {"num_tags": ROLES, "num_chars": CHARS, "rnn_type": "gru", "use_crf": False, **FEATURES},
    {"num_tags": ROLES, "rnn_type": "simple", "num_layers": 2, "use_chars": False},
    {"num_tags": ENTITY, "num_chars": CHARS, "rnn_type": "simple", "num_layers": 2, **FEATURES},
    {"num_tags": ROLES, "rnn_type": "simple", "use_chars": False, "use_crf": False, **FEATURES},
    {"num_tags": ENTITY, "num_chars": CHARS, "num_intents": INTENTS},  # the intent after the rest
    {
        "num_tags": ROLES,
        "rnn_type": "simple",
        "use_chars": False,
        "num_intents": INTENTS,
        **FEATURES,
    },
]

Inputs = Union[np.ndarray, Dict[str, np.ndarray]]


def randomized(model: Any, seed: int = 0) -> Dict[str, np.ndarray]:
    """Sets every weight of `model` to normal(0, 0.3) values, so that no bias or attention weight
    is zero as initialized; returns them by canonical name."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.3, w.shape).astype(np.float32))
    return {canonical_name(w.name): w.numpy() for w in model.weights}


def batch(lengths: np.ndarray, time: int, options: Mapping[str, Any], seed: int) -> Inputs:
    """Right-padded random inputs of the model built with `options`; tokens without characters
    and feature values at padding feature ids included."""
    rng = np.random.default_rng(seed)
    mask = np.arange(time)[None, :] < lengths[:, None]  # (batch, time)
    token_ids = np.where(mask, rng.integers(1, VOCAB, mask.shape), 0).astype(np.int32)
    inputs = {"token_ids": token_ids}
    if options.get("sparse_feature_dim", 0):
        ids = rng.integers(0, SPARSE + 1, (*mask.shape, 3))  # 0: padding among the features
        inputs["feature_ids"] = np.where(mask[..., None], ids, 0).astype(np.int32)
        inputs["feature_values"] = rng.normal(size=ids.shape).astype(np.float32)
    if options.get("dense_feature_dim", 0):
        inputs["dense_features"] = rng.normal(size=(*mask.shape, DENSE)).astype(np.float32)
    if options.get("num_intents"):  # random values, not only one-hot rows
        inputs["intent"] = rng.normal(size=(len(lengths), INTENTS)).astype(np.float32)
    if options.get("num_chars"):
        chars = 6
        counts = np.where(mask, rng.integers(0, chars + 1, mask.shape), 0)  # some words: none
        present = np.arange(chars)[None, None, :] < counts[..., None]
        ids = rng.integers(1, CHARS, (*mask.shape, chars))
        inputs["char_ids"] = np.where(present, ids, 0).astype(np.int32)
    return inputs if len(inputs) > 1 or "num_tags" in options else token_ids


def batches(options: Mapping[str, Any]) -> Iterator[Inputs]:
    """25 messages of lengths 1..25 in one batch with two steps of padding only, then one token,
    then two short messages (few rows: `rows_times` multiplies them by the transposed kernels)."""
    yield batch(np.random.default_rng(1).permutation(np.arange(1, 26)), 27, options, seed=2)
    yield batch(np.array([1]), 1, options, seed=3)
    yield batch(np.array([7, 3]), 8, options, seed=4)


def served(
    weights: Mapping[str, np.ndarray], options: Any, monkeypatch: Any, stacked: bool = False
) -> Iterator[Mapping[str, np.ndarray]]:
    """`weights` as trained, with the directions fused, and as served with token tables of 20 of
    the VOCAB words (the batches hold ids below and above) and of all of them; with the tables,
    rare words' rows multiplied together and one by one."""
    yield weights
    yield fuse_directions(weights, stacked)
    for rows, row_by_row in ((20, 0), (20, 10**6), (VOCAB, 0)):
        monkeypatch.setattr(numpy_layers, "ROW_BY_ROW", row_by_row)
        yield serving_weights(weights, options, stacked, rows)


def check_ensemble(
    model: Any, forward: Callable[..., np.ndarray], options: Mapping[str, Any], monkeypatch: Any
):
    """`model` randomized as each of MEMBERS networks in turn: `forward` of each network's weights
    alone, and of all of them stacked (in one pass, and member after member), gives that
    network's Keras outputs."""
    networks, expected = [], []
    for seed in range(MEMBERS):
        networks.append(randomized(model, seed))
        expected.append([model(inputs, training=False).numpy() for inputs in batches(options)])
    stacked = stack_members(networks)
    for b, inputs in enumerate(batches(options)):
        for m, network in enumerate(networks):
            for weights in served(network, options, monkeypatch):
                alone = forward(weights, options, inputs)
                assert alone.dtype == np.float32
                np.testing.assert_allclose(alone, expected[m][b], rtol=0, atol=ATOL)
        for max_batch in (10**6, 0):  # every batch in one pass, or member by member
            monkeypatch.setattr(numpy_models, "STACKED_MAX_BATCH", max_batch)
            for weights in served(stacked, options, monkeypatch, stacked=True):
                together = forward(weights, options, inputs, stacked=True)
                assert together.dtype == np.float32
                assert together.shape == (MEMBERS, *expected[0][b].shape)
                for m in range(MEMBERS):
                    np.testing.assert_allclose(together[m], expected[m][b], rtol=0, atol=ATOL)


@pytest.mark.parametrize("options", TEXT_RNN_CASES, ids=str)
def test_text_rnn_forward_is_the_keras_model(options, monkeypatch):
    model = build_text_rnn(VOCAB, LABELS, **TEXT_RNN_SIZES, **options)
    check_ensemble(model, text_rnn_forward, {**TEXT_RNN_SIZES, **options}, monkeypatch)


@pytest.mark.parametrize("options", RCNN_CASES, ids=str)
def test_rcnn_forward_is_the_keras_model(options, monkeypatch):
    model = build_rcnn(VOCAB, LABELS, **RCNN_SIZES, **options)
    check_ensemble(model, rcnn_forward, {**RCNN_SIZES, **options}, monkeypatch)


@pytest.mark.parametrize("options", TAGGER_CASES, ids=str)
def test_tagger_forward_is_the_keras_model(options, monkeypatch):
    model = build_tagger(VOCAB, **TAGGER_SIZES, **options)
    weights = randomized(model)
    for inputs in batches(options):
        expected = {head: v.numpy() for head, v in model(inputs, training=False).items()}
        for weights_served in served(weights, options, monkeypatch):
            got = tagger_forward(weights_served, {**TAGGER_SIZES, **options}, inputs)
            assert list(got) == list(options["num_tags"])
            assert set(got) == set(expected)
            for head in got:
                np.testing.assert_allclose(got[head], expected[head], rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    "builder, defaults",
    [
        (build_text_rnn, TEXT_RNN_DEFAULTS),
        (build_rcnn, RCNN_DEFAULTS),
        (build_tagger, TAGGER_DEFAULTS),
    ],
)
def test_forward_defaults_are_the_builders(builder, defaults):
    parameters = inspect.signature(builder).parameters
    assert {key: parameters[key].default for key in defaults} == defaults


def test_a_missing_weight_is_named():
    options = {"rnn_type": "simple", **TEXT_RNN_SIZES}
    weights = randomized(build_text_rnn(VOCAB, LABELS, **options))
    del weights["bi_simple_0/backward_simple_0/recurrent_kernel"]
    with pytest.raises(KeyError, match="bi_simple_0/backward_simple_0/recurrent_kernel"):
        text_rnn_forward(weights, options, np.array([[5, 7, 0]], np.int32))


def test_only_networks_of_one_layout_stack():
    options = {"rnn_type": "simple", **TEXT_RNN_SIZES}
    weights = randomized(build_text_rnn(VOCAB, LABELS, **options))
    stacked = stack_members([weights, weights])
    assert list(stacked) == list(weights)
    name = "bi_simple_0/forward_simple_0/kernel"
    assert stacked[name].shape == (2, *weights[name].shape)
    narrower = {**weights, name: weights[name][:, :-1]}
    with pytest.raises(ValueError, match=f"{name}.*differs in shape"):
        stack_members([weights, weights, narrower])
    fewer = {key: value for key, value in weights.items() if key != name}
    with pytest.raises(ValueError, match=f"networks 0 and 1 differ in their weights: .*{name}"):
        stack_members([weights, fewer])
    with pytest.raises(ValueError, match="no networks"):
        stack_members([])


def test_a_missing_input_is_named():
    options = {"num_tags": ENTITY, "num_chars": CHARS, "rnn_type": "simple", **TAGGER_SIZES}
    weights = randomized(build_tagger(VOCAB, **options))
    with pytest.raises(ValueError, match="char_ids"):
        tagger_forward(weights, options, {"token_ids": np.array([[5, 7]], np.int32)})


def test_a_missing_or_misshaped_intent_is_named():
    options = {"num_tags": ENTITY, "use_chars": False, "num_intents": 3, **TAGGER_SIZES}
    weights = randomized(build_tagger(VOCAB, **options))
    token_ids = np.array([[5, 7]], np.int32)
    with pytest.raises(ValueError, match="'intent'"):
        tagger_forward(weights, options, {"token_ids": token_ids})
    with pytest.raises(ValueError, match=r"'intent' must be \(batch, 3\)"):
        tagger_forward(weights, options, {"token_ids": token_ids, "intent": np.ones((1, 4))})


def test_features_the_first_layer_reads_cannot_go_missing():
    """The intent's features join the first layer once (bidirectional's `constant`): options
    that leave them out must fail, not drop the kernel's rows for them."""
    options = {"num_tags": ENTITY, "use_chars": False, "num_intents": 3, **TAGGER_SIZES}
    weights = randomized(build_tagger(VOCAB, **options))
    token_ids = np.array([[5, 7]], np.int32)
    for served in (weights, serving_weights(weights, options)):
        with pytest.raises(ValueError, match="input features missing"):
            tagger_forward(served, {**options, "num_intents": 0}, {"token_ids": token_ids})


def test_numpy_models_do_not_import_tensorflow():
    code = "import sys, rnn_nlu.models.numpy_models; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_bidirectional_layer_runs_over_zero_steps():
    model = build_tagger(VOCAB, **TAGGER_SIZES, num_tags=ENTITY, num_chars=CHARS)
    weights = as_members(randomized(model), stacked=False)
    x, mask = np.zeros((1, 2, 0, 8 + 6), np.float32), np.zeros((2, 0), bool)  # words + characters
    for served in (weights, fuse_directions(weights, stacked=True)):
        out = bidirectional(served, "bi_lstm_0", "lstm_0", "lstm", x, mask)
        assert out.shape == (1, 2, 0, 2 * TAGGER_SIZES["rnn_units"])


def test_the_token_table_stays_within_its_memory_budget(monkeypatch):
    model = build_text_rnn(VOCAB, LABELS, **TEXT_RNN_SIZES)
    stacked = stack_members([randomized(model, seed) for seed in range(MEMBERS)])
    table = "bi_lstm_0/fused_directions/token_table"
    row_bytes = MEMBERS * 2 * 4 * TEXT_RNN_SIZES["rnn_units"] * 4  # networks, directions, gates
    assert serving_weights(stacked, {}, stacked=True)[table].shape[-2] == VOCAB  # all fit
    monkeypatch.setattr(numpy_models, "TOKEN_TABLE_BYTES", 7 * row_bytes + 1)
    served = serving_weights(stacked, {}, stacked=True)
    assert served[table].shape == (MEMBERS, 2, 7, 4 * TEXT_RNN_SIZES["rnn_units"])
    assert served[table].nbytes <= numpy_models.TOKEN_TABLE_BYTES
    monkeypatch.setattr(numpy_models, "TOKEN_TABLE_BYTES", row_bytes - 1)  # not one word
    assert table not in serving_weights(stacked, {}, stacked=True)
