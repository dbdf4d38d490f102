"""Shared layers (rnn_nlu/models/layers.py): word dropout in every model that has it, and the
inputs for the features of Rasa's featurizers (the weighted embedding-bag) in every model."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from rnn_nlu.features import UNK_ID
from rnn_nlu.models.layers import WeightedEmbeddingBag, WordDropout, recurrent_layer
from rnn_nlu.models.rcnn import build_rcnn
from rnn_nlu.models.tagger import build_tagger
from rnn_nlu.models.text_rnn import build_text_rnn


def test_word_dropout_replaces_real_tokens_by_unk_in_training_only():
    ids = np.array([[5, 6, 7, 8, 9, 10, 0, 0]] * 50, dtype=np.int32)
    layer = WordDropout(0.5)
    np.testing.assert_array_equal(layer(ids, training=False).numpy(), ids)
    dropped = layer(ids, training=True).numpy()
    assert (dropped[:, 6:] == 0).all()  # padding stays padding
    assert set(np.unique(dropped[:, :6][dropped[:, :6] != ids[:, :6]])) == {UNK_ID}
    assert 0.3 < (dropped[:, :6] == UNK_ID).mean() < 0.7


def unknown_word_row_after_training(build, word_dropout: float) -> float:
    """How far training moved the unknown-word embedding (data without any unknown word)."""
    keras.utils.set_random_seed(0)
    model = build(30, 2, word_dropout=word_dropout)
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_layer("embedding").embeddings.numpy()[UNK_ID].copy()
    x = np.random.default_rng(0).integers(2, 30, size=(64, 6)).astype(np.int32)
    model.fit(x, (x[:, 0] % 2).astype(np.int32), epochs=3, batch_size=16, verbose=0)
    return float(np.abs(model.get_layer("embedding").embeddings.numpy()[UNK_ID] - before).max())


@pytest.mark.parametrize("build", [build_text_rnn, build_rcnn], ids=["text_rnn", "rcnn"])
def test_word_dropout_trains_the_unknown_word_embedding(build):
    assert unknown_word_row_after_training(build, 0.0) == 0.0  # no unknown word: never trained
    assert unknown_word_row_after_training(build, 0.2) > 1e-3


def test_weighted_embedding_bag_is_a_dense_layer_over_the_sparse_features():
    keras.utils.set_random_seed(0)
    bag = WeightedEmbeddingBag(6, 4)
    ids = np.array([[[1, 4, 0], [0, 0, 0]]], dtype=np.int32)  # feature i has id i + 1
    values = np.array(
        [[[2.0, -1.0, 7.0], [5.0, 0, 0]]], dtype=np.float32
    )  # padding values: ignored
    out = bag([ids, values]).numpy()
    dense = np.zeros((2, 6), dtype=np.float32)  # the same tokens as dense rows over ids 0..5
    dense[0, 1], dense[0, 4] = 2.0, -1.0
    table = bag.embedding.embeddings.numpy()
    np.testing.assert_allclose(out[0], dense @ table, rtol=1e-6)
    assert not out[0, 1].any()  # a token without active features gets zeros
    assert WeightedEmbeddingBag.from_config(bag.get_config()).get_config() == bag.get_config()


FEATURES = {"sparse_feature_dim": 9, "dense_feature_dim": 3, "feature_units": 5}


def feature_inputs(ids: np.ndarray, rng: np.random.Generator) -> dict:
    """Random feature inputs for token `ids`, zero where the ids are padding."""
    real = (ids != 0)[:, :, None]
    return {
        "token_ids": ids,
        "feature_ids": (rng.integers(1, 10, ids.shape + (4,)) * real).astype(np.int32),
        "feature_values": (rng.random(ids.shape + (4,)) * real).astype(np.float32),
        "dense_features": (rng.random(ids.shape + (3,)) * real).astype(np.float32),
    }


def padded(inputs: dict, steps: int) -> dict:
    return {k: np.pad(v, [(0, 0), (0, steps)] + [(0, 0)] * (v.ndim - 2)) for k, v in inputs.items()}


@pytest.mark.parametrize("build", [build_text_rnn, build_rcnn], ids=["text_rnn", "rcnn"])
def test_rasa_features_change_the_output_and_padding_still_changes_nothing(build):
    keras.utils.set_random_seed(0)
    model = build(30, 3, **FEATURES)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    inputs = feature_inputs(
        np.array([[5, 6, 7, 0], [8, 9, 0, 0]], dtype=np.int32), np.random.default_rng(0)
    )
    out = model(inputs, training=False).numpy()
    np.testing.assert_allclose(model(padded(inputs, 3), training=False).numpy(), out, atol=1e-6)
    for key in ("feature_values", "dense_features"):  # each kind of feature reaches the output
        changed = {**inputs, key: inputs[key] * 3.0}
        assert np.abs(model(changed, training=False).numpy() - out).max() > 1e-4


def test_tagger_with_rasa_features_ignores_padding():
    keras.utils.set_random_seed(0)
    model = build_tagger(30, {"entity": 4}, 12, use_crf=False, **FEATURES)
    inputs = feature_inputs(
        np.array([[5, 6, 7], [8, 9, 0]], dtype=np.int32), np.random.default_rng(1)
    )
    inputs["char_ids"] = np.where(inputs["token_ids"][:, :, None] != 0, 3, 0).astype(np.int32)
    out = model(inputs, training=False)["entity"].numpy()
    again = model(padded(inputs, 2), training=False)["entity"].numpy()[:, :3]
    np.testing.assert_allclose(again[0], out[0], atol=1e-6)
    np.testing.assert_allclose(again[1, :2], out[1, :2], atol=1e-6)


def graph_ops(function: tf.types.experimental.ConcreteFunction) -> set:
    """The op types of a traced function's graph and of every function in its library."""
    graph = function.graph.as_graph_def()
    ops = {node.op for node in graph.node}
    for library_function in graph.library.function:
        ops.update(node.op for node in library_function.node_def)
    return ops


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_recurrent_layers_on_a_cpu_trace_no_cudnn_and_compute_as_keras(rnn_type):
    """Without a GPU, Keras's LSTM and GRU would trace their cuDNN implementation beside the
    generic one; ours trace only the generic one, with Keras's weights and outputs."""
    assert not tf.config.list_logical_devices("GPU")  # this test describes a CPU machine
    inputs = keras.Input((None, 4))
    ours = keras.Model(
        inputs, keras.layers.Bidirectional(recurrent_layer(rnn_type, 8, True, "rnn"))(inputs)
    )
    keras_layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[rnn_type](
        8, return_sequences=True, name="rnn"
    )
    theirs = keras.Model(inputs, keras.layers.Bidirectional(keras_layer)(inputs))
    theirs.set_weights(ours.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype(np.float32)
    x[0, 3:] = 0.0
    spec = tf.TensorSpec((None, None, 4), tf.float32)
    traced = [tf.function(m).get_concrete_function(spec) for m in (ours, theirs)]
    assert not any("Cudnn" in op for op in graph_ops(traced[0]))
    assert any("Cudnn" in op for op in graph_ops(traced[1]))  # what ours avoids
    np.testing.assert_allclose(traced[0](x), traced[1](x), atol=1e-6)
