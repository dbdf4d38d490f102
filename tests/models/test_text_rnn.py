"""The TextRNN Keras model alone: shapes, every cell and pooling, padding that changes nothing."""

import numpy as np
import pytest

from rnn_nlu.models.text_rnn import POOLINGS, build_text_rnn


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("rnn_type", ["lstm", "gru", "simple"])
def test_output_is_a_distribution_and_padding_changes_nothing(rnn_type, pooling):
    model = build_text_rnn(
        50,
        3,
        embedding_dim=8,
        rnn_type=rnn_type,
        rnn_units=6,
        num_layers=2,
        pooling=pooling,
        dense_units=[5],
    )
    ids = np.array([[5, 7, 9]], dtype=np.int32)
    padded = np.array([[5, 7, 9, 0, 0, 0, 0]], dtype=np.int32)
    probs = model(ids, training=False).numpy()
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model(padded, training=False).numpy(), probs, atol=1e-6)


def test_pooled_inputs_join_the_pooled_states_and_padding_changes_nothing():
    model = build_text_rnn(50, 3, embedding_dim=8, rnn_units=6, pool_inputs=True)
    assert model.get_layer("intent").input_shape[-1] == 2 * 6 + 8
    ids = np.array([[5, 7, 9]], dtype=np.int32)
    padded = np.array([[5, 7, 9, 0, 0, 0, 0]], dtype=np.int32)
    probs = model(ids, training=False).numpy()
    np.testing.assert_allclose(model(padded, training=False).numpy(), probs, atol=1e-6)


def test_unidirectional_last_state_model_has_one_direction_of_weights():
    uni = build_text_rnn(50, 3, rnn_units=4, bidirectional=False, pooling="last")
    bi = build_text_rnn(50, 3, rnn_units=4, bidirectional=True, pooling="last")
    assert uni.get_layer("intent").input_shape[-1] == 4
    assert bi.get_layer("intent").input_shape[-1] == 8


def test_bad_pooling_is_refused():
    with pytest.raises(AssertionError, match="pooling"):
        build_text_rnn(50, 3, pooling="median")
