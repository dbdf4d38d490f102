"""LazyAdam: Keras's Adam on dense gradients, on sparse ones Adam's update of the touched rows."""

import numpy as np
import tensorflow as tf
from tensorflow import keras

from rnn_nlu.models.optimizers import LAZY_MIN_SIZE, LazyAdam

SHAPE = (5, 3)
RATE, BETA_1, BETA_2, EPSILON = 0.01, 0.9, 0.999, 1e-7


def start() -> np.ndarray:
    return np.arange(15, dtype=np.float32).reshape(SHAPE) / 10


def sparse(rows, values) -> tf.IndexedSlices:
    return tf.IndexedSlices(
        tf.constant(values, tf.float32), tf.constant(rows, tf.int32), tf.constant(SHAPE)
    )


def apply(optimizer, gradients) -> np.ndarray:
    variable = tf.Variable(start())
    for gradient in gradients:
        optimizer.apply_gradients([(gradient, variable)])
    return variable.numpy()


def test_dense_gradients_are_kerass_adam():
    rng = np.random.default_rng(0)
    gradients = [tf.constant(rng.normal(size=SHAPE), tf.float32) for _ in range(3)]
    np.testing.assert_allclose(
        apply(LazyAdam(RATE, lazy_min_size=0), gradients),
        apply(keras.optimizers.Adam(RATE), gradients),
        atol=1e-7,
    )


def test_a_first_sparse_step_is_adams_step_on_the_dense_gradient():
    # row 1 twice: summed, as a dense gradient holds it
    gradient = sparse([1, 3, 1], [[1.0, -2.0, 0.5], [0.3, 0.0, -1.0], [2.0, 1.0, 0.5]])
    dense = tf.convert_to_tensor(gradient)
    np.testing.assert_allclose(
        apply(LazyAdam(RATE, lazy_min_size=0), [gradient]),
        apply(keras.optimizers.Adam(RATE), [dense]),
        atol=1e-7,
    )


def test_later_steps_move_only_the_touched_rows_by_their_own_moments():
    first = sparse([0, 1], [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    second = sparse([1, 2], [[0.5, -0.5, 1.0], [3.0, 1.0, -2.0]])
    got = apply(LazyAdam(RATE, lazy_min_size=0), [first, second])
    after_first = apply(LazyAdam(RATE, lazy_min_size=0), [first])
    np.testing.assert_array_equal(got[[0, 3, 4]], after_first[[0, 3, 4]])  # untouched: still
    # Keras's Adam moves row 0 again by its momentum from the first step
    keras_adam = apply(keras.optimizers.Adam(RATE), [first, second])
    assert not np.allclose(keras_adam[0], after_first[0])
    # rows 1 (second time) and 2 (first time): Adam's formulas, bias-corrected at step 2
    alpha = RATE * np.sqrt(1 - BETA_2**2) / (1 - BETA_1**2)
    g1 = np.array([[-1.0, 0.5, 2.0]], np.float32)
    m = np.zeros((2, 3), np.float32)
    v = np.zeros((2, 3), np.float32)
    m[0], v[0] = (1 - BETA_1) * g1, (1 - BETA_2) * g1**2
    g2 = np.array([[0.5, -0.5, 1.0], [3.0, 1.0, -2.0]], np.float32)
    m = BETA_1 * m + (1 - BETA_1) * g2
    v = BETA_2 * v + (1 - BETA_2) * g2**2
    expected = after_first[[1, 2]] - alpha * m / (np.sqrt(v) + EPSILON)
    np.testing.assert_allclose(got[[1, 2]], expected, atol=1e-6)


def test_small_variables_keep_kerass_sparse_update():
    first = sparse([0, 1], [[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    second = sparse([1, 2], [[0.5, -0.5, 1.0], [3.0, 1.0, -2.0]])
    assert np.prod(SHAPE) < LAZY_MIN_SIZE
    np.testing.assert_array_equal(
        apply(LazyAdam(RATE), [first, second]),
        apply(keras.optimizers.Adam(RATE), [first, second]),
    )
