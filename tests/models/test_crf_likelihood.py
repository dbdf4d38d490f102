"""The CRF log-likelihood by matrix products gives Rasa's (TF Addons') values and gradients."""

import numpy as np
import pytest
import tensorflow as tf
from rasa.utils.tensorflow import crf

from rnn_nlu.models import crf_likelihood
from rnn_nlu.models.crf_likelihood import SPREAD, crf_log_likelihood


def values_and_gradients(function, scores, tags, lengths, transitions):
    scores, transitions = tf.Variable(scores), tf.Variable(transitions)
    with tf.GradientTape() as tape:
        value = function(scores, tags, lengths, transitions)
        total = tf.reduce_sum(value)
    gradients = tape.gradient(total, [scores, transitions])
    return [value.numpy()] + [np.zeros(1) if g is None else g.numpy() for g in gradients]


def rasa_log_likelihood(scores, tags, lengths, transitions):
    return crf.crf_log_likelihood(scores, tags, lengths, transitions)[0]


def random_case(seed, tags, time, spread):
    rng = np.random.default_rng(seed)
    scores = rng.normal(0, 3, (16, time, tags)).astype(np.float32)
    transitions = rng.uniform(-spread / 2, spread / 2, (tags, tags)).astype(np.float32)
    gold = rng.integers(0, tags, (16, time)).astype(np.int32)
    lengths = rng.integers(0, time + 1, 16).astype(np.int32)  # empty sequences too
    return scores, gold, lengths, transitions


# SNIPS' 157 BILOU tags; transitions spanning what training gives (SNIPS: 4.2) up to the limit of
# the products, and beyond it (Rasa's log-sum-exp instead)
@pytest.mark.parametrize("tags, time", [(157, 12), (9, 1), (9, 2), (5, 30)])
@pytest.mark.parametrize("spread", [4.0, SPREAD - 1, 4 * SPREAD])
def test_the_same_likelihood_and_gradients_as_rasas(tags, time, spread):
    case = random_case(tags * time, tags, time, spread)
    ours = values_and_gradients(crf_log_likelihood, *case)
    theirs = values_and_gradients(rasa_log_likelihood, *case)
    for mine, reference in zip(ours, theirs):
        assert np.isfinite(mine).all()
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())


def test_matrix_products_not_rasas_log_sum_exp_within_the_spread(monkeypatch):
    def fail(*args):
        raise AssertionError("Rasa's crf_log_norm ran")

    monkeypatch.setattr(crf_likelihood.crf, "crf_log_norm", fail)
    value = crf_log_likelihood(*random_case(0, 20, 8, SPREAD - 1))  # eager: one branch runs
    assert np.isfinite(value.numpy()).all()


def test_a_batch_of_one_token_messages_in_a_graph():
    """Training traces the loss for batches of any width: a batch cut to one token included."""
    spec = [
        tf.TensorSpec([None, None, 9], tf.float32),
        tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([9, 9], tf.float32),
    ]
    traced = tf.function(crf_log_likelihood, input_signature=spec)
    for time in (1, 2):
        case = random_case(time, 9, time, 4.0)
        np.testing.assert_allclose(
            traced(*case).numpy(), rasa_log_likelihood(*case).numpy(), rtol=1e-5, atol=1e-4
        )
