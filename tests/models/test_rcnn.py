"""The RCNN Keras model alone: shapes, one-sided contexts, padding that changes nothing."""

import numpy as np
import pytest
from tensorflow import keras

from rnn_nlu.models.rcnn import ReverseValid, ShiftRight, build_rcnn

RNN_TYPES = ["simple", "gru", "lstm"]


def small_rcnn(rnn_type: str) -> keras.Model:
    return build_rcnn(
        50,
        3,
        embedding_dim=8,
        rnn_type=rnn_type,
        context_units=6,
        projection_units=10,
        dense_units=[5],
    )


def contexts(model: keras.Model, rnn_type: str, ids: np.ndarray):
    """The (left, right) context outputs, each (batch, time, context_units)."""
    outputs = [model.get_layer(f"left_{rnn_type}").output, model.get_layer("reverse_back").output]
    left, right = keras.Model(model.input, outputs)(ids, training=False)
    return left.numpy(), right.numpy()


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_output_is_a_distribution_and_padding_changes_nothing(rnn_type):
    model = small_rcnn(rnn_type)
    ids = np.array([[5, 7, 9]], dtype=np.int32)
    padded = np.array([[5, 7, 9, 0, 0, 0, 0]], dtype=np.int32)
    batch = np.array([[5, 7, 9, 0, 0], [3, 4, 6, 8, 2]], dtype=np.int32)  # next to a longer one
    probs = model(ids, training=False).numpy()
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model(padded, training=False).numpy(), probs, atol=1e-6)
    together = model(batch, training=False).numpy()
    np.testing.assert_allclose(together[:1], probs, atol=1e-6)
    np.testing.assert_allclose(together[1:], model(batch[1:], training=False).numpy(), atol=1e-6)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_padding_does_not_reach_the_contexts(rnn_type):
    model = small_rcnn(rnn_type)
    left, right = contexts(model, rnn_type, np.array([[5, 7, 9]], dtype=np.int32))
    padded = np.array([[5, 7, 9, 0, 0]], dtype=np.int32)
    padded_left, padded_right = contexts(model, rnn_type, padded)
    assert left.shape == right.shape == (1, 3, 6)
    np.testing.assert_allclose(padded_left[:, :3], left, atol=1e-6)
    np.testing.assert_allclose(padded_right[:, :3], right, atol=1e-6)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_left_context_sees_only_earlier_and_right_context_only_later_tokens(rnn_type):
    model = small_rcnn(rnn_type)
    ids = np.array([[5, 7, 9, 11, 13, 0]], dtype=np.int32)
    changed = ids.copy()
    changed[0, 2] = 42  # the third token
    left, right = contexts(model, rnn_type, ids)
    left2, right2 = contexts(model, rnn_type, changed)
    # c_l(w_i) for i <= 2 and c_r(w_i) for i >= 2 do not depend on w_2 ...
    np.testing.assert_allclose(left2[:, :3], left[:, :3], atol=1e-6)
    np.testing.assert_allclose(right2[:, 2:5], right[:, 2:5], atol=1e-6)
    # ... and the other side's contexts do, so the check above can fail.
    assert np.abs(left2[:, 3:5] - left[:, 3:5]).min() > 0
    assert np.abs(right2[:, :2] - right[:, :2]).min() > 0


def test_first_left_and_last_right_context_are_the_same_start_state():
    model = small_rcnn("simple")
    ids = np.array([[5, 7, 9, 0], [11, 13, 15, 17]], dtype=np.int32)
    left, right = contexts(model, "simple", ids)
    np.testing.assert_allclose(left[0, 0], left[1, 0], atol=1e-6)  # no earlier word to see
    np.testing.assert_allclose(right[0, 2], right[1, 3], atol=1e-6)  # no later word to see


def test_shift_and_reverse_layers():
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 6, 1)
    mask = np.array([[True, True, True, True, False, False]])
    assert ShiftRight()(x)[0, :, 0].numpy().tolist() == [0, 1, 2, 3, 4, 5]
    assert ReverseValid()(x, mask=mask)[0, :, 0].numpy().tolist() == [4, 3, 2, 1, 5, 6]
    assert ReverseValid()(x)[0, :, 0].numpy().tolist() == [6, 5, 4, 3, 2, 1]


def test_dense_units_and_sizes_set_the_layer_shapes():
    model = build_rcnn(
        50, 4, embedding_dim=8, context_units=6, projection_units=10, dense_units=[7]
    )
    assert model.get_layer("projection").input_shape[-1] == 6 + 8 + 6
    assert model.get_layer("intent").input_shape[-1] == 7
    assert model.output_shape == (None, 4)
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Lambda)]


def test_bad_rnn_type_is_refused():
    with pytest.raises(ValueError, match="rnn_type"):
        build_rcnn(50, 3, rnn_type="transformer")
