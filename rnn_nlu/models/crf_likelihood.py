"""The linear-chain CRF's log-likelihood for training, with the forward algorithm as one matrix
product a step.

Rasa's `crf_log_likelihood` (the TF Addons CRF that DIET uses) adds the transition scores to every
previous score and takes a log-sum-exp over a (batch, tags, tags) tensor at each step: with
SNIPS' 157 BILOU tags that was half of the slot filler's training time (10.6-11.2 s an epoch
against 5.4 s without the CRF, 2026-12-07). Here each step is exp, one (batch, tags) x (tags, tags)
product and log, the scores shifted to a maximum of 0 first. Where the transition scores span
more than `SPREAD` nats, some of their exponentials would vanish in float32, and Rasa's
log-sum-exp runs instead: either way the value is Rasa's to float32 rounding
(tests/models/test_crf_likelihood.py).
"""

import tensorflow as tf
from rasa.utils.tensorflow import crf

# Largest span of the transition scores for the matrix products: each column of exp(transitions -
# max) then keeps its largest entry above e^-60, and what float32 drops (below e^-87 of the best
# predecessor) changes nothing. Trained transitions span far less (SNIPS: see the tests).
SPREAD = 60.0


def crf_log_norm(scores: tf.Tensor, lengths: tf.Tensor, transitions: tf.Tensor) -> tf.Tensor:
    """(batch,) log of the sum over all tag sequences of exp(sequence score): the CRF's
    normaliser, from (batch, time, tags) tag scores, (batch,) lengths and (tags, tags)
    transitions (`transitions[i, j]`: tag i followed by tag j). 0 for an empty sequence."""
    lengths = tf.cast(lengths, tf.int32)
    spread = tf.reduce_max(transitions) - tf.reduce_min(transitions)
    return tf.cond(
        spread <= SPREAD,
        lambda: _by_products(scores, lengths, transitions),
        lambda: crf.crf_log_norm(scores, lengths, transitions),
    )


def _by_products(scores: tf.Tensor, lengths: tf.Tensor, transitions: tf.Tensor) -> tf.Tensor:
    """`crf_log_norm` by the forward algorithm in probability space, one product a step."""
    shift = tf.stop_gradient(tf.reduce_max(transitions))  # the value does not depend on it
    pair_weights = tf.exp(transitions - shift)

    def step(alpha: tf.Tensor, unary: tf.Tensor) -> tf.Tensor:
        top = tf.stop_gradient(tf.reduce_max(alpha, axis=1, keepdims=True))
        summed = tf.matmul(tf.exp(alpha - top), pair_weights)
        return tf.math.log(summed) + top + shift + unary

    first = scores[:, 0]

    def last_step() -> tf.Tensor:  # (batch, tags): each sequence's scores at its last token
        rest = tf.transpose(scores[:, 1:], [1, 0, 2])  # (time - 1, batch, tags)
        alphas = tf.concat([first[None], tf.scan(step, rest, first)], axis=0)  # (time, ...)
        ends = tf.maximum(lengths - 1, 0)
        return tf.gather(tf.transpose(alphas, [1, 0, 2]), ends, batch_dims=1)

    # one token: nothing to scan (a graph cannot stack an empty scan of unknown batch size)
    last = tf.cond(tf.shape(scores)[1] > 1, last_step, lambda: first)
    log_norm = tf.reduce_logsumexp(last, axis=1)
    return tf.where(lengths > 0, log_norm, tf.zeros_like(log_norm))


def crf_log_likelihood(
    scores: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor, transitions: tf.Tensor
) -> tf.Tensor:
    """(batch,) log-probability of each `tags` sequence under the CRF: its score (Rasa's
    `crf_sequence_score`) minus the normaliser."""
    transitions = tf.cast(transitions, scores.dtype)
    tags, lengths = tf.cast(tags, tf.int32), tf.cast(lengths, tf.int32)
    return crf.crf_sequence_score(scores, tags, lengths, transitions) - crf_log_norm(
        scores, lengths, transitions
    )
