"""The shared fit loop's length-bucketed batches."""

from typing import List

import numpy as np
import pytest
import tensorflow as tf

from rnn_nlu.models.text_rnn import build_text_rnn
from rnn_nlu.training import LengthBatches, fit
from tests.helpers import record_embedding_widths


def padded_ids(lengths: np.ndarray, width: int = 40) -> np.ndarray:
    ids = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = np.arange(2, length + 2) % 28 + 2
    return ids


def padding_steps(batches: List[np.ndarray], lengths: np.ndarray) -> int:
    """Token steps over padding when each batch is cut to its longest message."""
    return sum(int(lengths[b].max() * len(b) - lengths[b].sum()) for b in batches)


def test_every_example_once_an_epoch_and_new_batches_every_epoch():
    lengths = np.random.default_rng(0).integers(1, 30, 1000)
    batches = LengthBatches(padded_ids(lengths), np.arange(1000), batch_size=32, seed=0)
    epochs = []
    for _ in range(2):
        rows = [batches[i][1] for i in range(len(batches))]
        assert all(len(r) <= 32 for r in rows)
        np.testing.assert_array_equal(np.sort(np.concatenate(rows)), np.arange(1000))
        epochs.append(rows)
        batches.on_epoch_end()
    assert not all(np.array_equal(a, b) for a, b in zip(*epochs))


def test_batches_hold_messages_of_about_one_length():
    lengths = np.random.default_rng(1).integers(1, 30, 2000)
    batches = LengthBatches(padded_ids(lengths), np.arange(2000), batch_size=64, seed=0)
    bucketed = [batches[i][1] for i in range(len(batches))]
    shuffled = np.array_split(np.random.default_rng(2).permutation(2000), len(bucketed))
    assert padding_steps(bucketed, lengths) < 0.1 * padding_steps(shuffled, lengths)


# 50 batches of 32 are bucketed, 8 are not (fewer than MIN_BUCKETED_BATCHES)
@pytest.mark.parametrize("examples, bucketed", [(1600, True), (256, False)])
def test_fit_buckets_a_trimming_models_batches_when_there_are_many(examples, bucketed, monkeypatch):
    lengths = np.random.default_rng(3).integers(1, 30, examples)
    x, y = padded_ids(lengths), (lengths % 3).astype(np.int32)
    model = build_text_rnn(40, 3, embedding_dim=4, rnn_units=4)
    widths = record_embedding_widths(monkeypatch)  # time steps of each word-embedding call
    tf.config.run_functions_eagerly(True)  # the shapes seen are concrete
    try:
        fit(
            model,
            x,
            y,
            epochs=1,
            batch_size=32,
            learning_rate=0.01,
            clipnorm=1.0,
            validation_split=0.0,
            patience=1,
            random_seed=0,
            silent=True,
        )
    finally:
        tf.config.run_functions_eagerly(False)
    assert len(widths) == examples // 32
    if bucketed:  # messages of about one length, each batch cut to its longest: short batches
        assert max(widths) == max(lengths)
        assert np.mean(widths) < 0.6 * max(lengths)
    else:  # a classifier's few shuffled batches keep the data's width
        assert widths == [x.shape[1]] * 8
