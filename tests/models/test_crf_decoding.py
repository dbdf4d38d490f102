"""NumPy CRF decoding against brute force over every tag sequence, and against Rasa's TF decoder."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from rasa.utils.tensorflow.crf import crf_decode

from rnn_nlu.models.crf_decoding import Transitions, decode, softmax_decode, viterbi


def path_scores(potentials, transitions):
    """Every tag sequence with its unnormalised log-score."""
    length, tags = potentials.shape
    for path in itertools.product(range(tags), repeat=length):
        score = potentials[np.arange(length), path].sum()
        score += sum(transitions[a, b] for a, b in zip(path, path[1:]))
        yield path, score


@pytest.mark.parametrize("length", [1, 2, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viterbi_is_the_best_path_and_confidences_its_marginals(length, seed):
    rng = np.random.default_rng(seed)
    potentials, transitions = rng.normal(size=(length, 3)) * 2, rng.normal(size=(3, 3)) * 2
    paths = dict(path_scores(potentials, transitions))
    tags, confidences = viterbi(potentials, transitions)
    assert tuple(tags) == max(paths, key=paths.get)
    weights = np.exp(np.array(list(paths.values())))
    for t, tag in enumerate(tags):
        marginal = sum(w for p, w in zip(paths, weights) if p[t] == tag) / weights.sum()
        assert confidences[t] == pytest.approx(marginal, rel=1e-5)


def test_viterbi_tags_equal_rasas_tensorflow_decoder():
    rng = np.random.default_rng(3)
    potentials = rng.normal(size=(5, 7, 6)).astype(np.float32) * 3
    transitions = rng.normal(size=(6, 6)).astype(np.float32) * 3
    lengths = np.array([7, 5, 1, 3, 6], dtype=np.int32)
    expected, _, _ = crf_decode(tf.constant(potentials), tf.constant(transitions), lengths)
    decoded = decode({"entity": potentials}, lengths, {"entity": transitions})
    for row, length in enumerate(lengths):
        np.testing.assert_array_equal(decoded["entity"][row, :length], expected[row, :length])
        assert not decoded["entity"][row, length:].any()
        assert not decoded["entity_confidence"][row, length:].any()


@pytest.mark.parametrize("strong", [1, 3])
def test_viterbi_over_the_near_predecessors_equals_rasas_decoder_with_many_tags(strong):
    # Peaked scores, as a trained tagger's: most tags are far below the best at each step, so
    # Viterbi looks at a few predecessors only (one, with one strong tag a token); the paths
    # must still be Rasa's, ties included.
    rng = np.random.default_rng(4)
    batch, time, tags = 40, 12, 60
    potentials = rng.normal(size=(batch, time, tags)).astype(np.float32)
    strong_tags = rng.integers(0, tags, (batch, time, strong))
    np.put_along_axis(potentials, strong_tags, 12.0, axis=-1)
    potentials[:, 5] = potentials[:, 4]  # equal scores: ties between paths
    scale = 0.5 if strong == 1 else 2.0  # transitions spanning less than the strong tags lead
    transitions = (rng.normal(size=(tags, tags)) * scale).astype(np.float32)
    lengths = rng.integers(1, time + 1, batch).astype(np.int32)
    expected, _, _ = crf_decode(tf.constant(potentials), tf.constant(transitions), lengths)
    decoded = decode({"entity": potentials}, lengths, {"entity": Transitions(transitions)})
    for row, length in enumerate(lengths):
        np.testing.assert_array_equal(decoded["entity"][row, :length], expected[row, :length])


def test_a_message_tagged_outside_throughout_gets_no_confidences():
    rng = np.random.default_rng(6)
    potentials = rng.normal(size=(3, 4, 5)).astype(np.float32)
    potentials[0, :, 2] += 9.0  # message 0: tag 2 everywhere
    potentials[1, :, 2] += 9.0
    potentials[1, 1, 3] += 20.0  # message 1: tag 2 but for one token
    transitions = rng.normal(size=(5, 5)).astype(np.float32)
    lengths = np.array([4, 4, 3])
    every = decode({"entity": potentials}, lengths, {"entity": transitions})
    got = decode({"entity": potentials}, lengths, {"entity": Transitions(transitions, outside=2)})
    np.testing.assert_array_equal(got["entity"], every["entity"])
    assert list(got["entity"][0]) == [2] * 4 and not got["entity_confidence"][0].any()
    assert list(got["entity"][1]) == [2, 3, 2, 2]
    np.testing.assert_array_equal(got["entity_confidence"][1:], every["entity_confidence"][1:])
    assert every["entity_confidence"][0].all()


def test_marginals_beyond_float32_are_computed_in_float64():
    # exp(-300) and exp(-200) are 0 in float32: the forward pass would divide 0 by 0.
    potentials = np.array([[0.0, -300.0], [-300.0, 0.0]], dtype=np.float32)
    transitions = np.array([[0.0, -200.0], [-200.0, 0.0]], dtype=np.float32)
    tags, confidences = viterbi(potentials, transitions)
    assert list(tags) == [0, 1]
    np.testing.assert_allclose(confidences, [1.0, 1.0], rtol=1e-6)


def test_softmax_heads_and_empty_messages():
    scores = np.array([[[0.0, 2.0], [1.0, -1.0]]])
    tags, confidences = softmax_decode(scores[0])
    assert list(tags) == [1, 0]
    np.testing.assert_allclose(confidences, [1 / (1 + np.exp(-2))] * 2, rtol=1e-6)
    decoded = decode({"role": scores}, np.array([0]), {"role": None})
    assert decoded["role"].shape == (1, 2) and not decoded["role_confidence"].any()
    assert viterbi(np.zeros((0, 3)), np.zeros((3, 3)))[0].shape == (0,)
