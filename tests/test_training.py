"""The shared fit loop: length-bucketed batches, early stopping's wait."""

from typing import Any, Dict, List

import numpy as np
import pytest
import tensorflow as tf

from rnn_nlu.features import RaggedRows
from rnn_nlu.models.optimizers import LazyAdam
from rnn_nlu.models.text_rnn import build_text_rnn
from rnn_nlu.training import LengthBatches, fit, stopping_patience
from tests.helpers import record_embedding_widths


def padded_ids(lengths: np.ndarray, width: int = 40) -> np.ndarray:
    ids = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = np.arange(2, length + 2) % 28 + 2
    return ids


def short_fit(
    model: tf.keras.Model, x: Any, y: np.ndarray, epochs: int = 1, validation_split: float = 0.0
) -> Dict[str, List[float]]:
    """`fit` for silent epochs (one by default, with nothing held out); the history."""
    return fit(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=32,
        learning_rate=0.01,
        clipnorm=1.0,
        validation_split=validation_split,
        patience=epochs,
        random_seed=0,
        silent=True,
    ).history


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
        short_fit(model, x, y)
    finally:
        tf.config.run_functions_eagerly(False)
    assert len(widths) == examples // 32
    if bucketed:  # messages of about one length, each batch cut to its longest: short batches
        assert max(widths) == max(lengths)
        assert np.mean(widths) < 0.6 * max(lengths)
    else:  # a classifier's few shuffled batches keep the data's width
        assert widths == [x.shape[1]] * 8


@pytest.mark.parametrize(
    "patience, examples, expected",
    [(5, 600, 5), (5, 6750, 5), (5, 11600, 3), (5, 10**6, 2), (1, 10**6, 1), (0, 10**6, 0)],
)
def test_the_wait_is_patience_epochs_or_on_large_data_those_that_hold_patience_examples(
    patience, examples, expected
):
    assert stopping_patience(patience, 30000, examples) == expected
    assert stopping_patience(patience, 0, examples) == patience  # 0: always `patience` epochs


@pytest.mark.parametrize("patience_examples, wait", [(0, 4), (400, 2)])
def test_fit_stops_after_the_shortened_wait(patience_examples, wait):
    """Random labels: the held-out loss soon only gets worse; training runs to the best epoch and
    `wait` epochs more (900 training examples: 400 of them make 1 epoch, so the least wait, 2)."""
    rng = np.random.default_rng(4)
    x, y = padded_ids(rng.integers(1, 10, 1000)), rng.integers(0, 3, 1000).astype(np.int32)
    history = fit(
        build_text_rnn(40, 3, embedding_dim=16, rnn_units=16),
        x,
        y,
        epochs=30,
        batch_size=32,
        learning_rate=0.03,
        clipnorm=1.0,
        validation_split=0.1,
        patience=4,
        patience_examples=patience_examples,
        random_seed=0,
        silent=True,
    )
    val_loss = history.history["val_loss"]
    assert len(val_loss) < 30  # stopped early
    assert len(val_loss) == int(np.argmin(val_loss)) + 1 + wait


def test_fit_stops_on_the_monitored_held_out_metric():
    """`monitor` names what early stopping waits on: here the held-out mean top probability, which
    only rises as the network learns, so training stops after the first epoch and the wait, where
    the held-out loss still falls."""
    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 20, 600)
    confidence = tf.keras.metrics.MeanMetricWrapper(
        lambda labels, probabilities: tf.reduce_max(probabilities, axis=-1), name="confidence"
    )
    history = fit(
        build_text_rnn(40, 5, embedding_dim=16, rnn_units=16),
        padded_ids(lengths),
        (lengths % 5).astype(np.int32),
        epochs=20,
        batch_size=32,
        learning_rate=0.01,
        clipnorm=1.0,
        validation_split=0.2,
        patience=3,
        random_seed=0,
        metrics=(confidence,),
        monitor="val_confidence",
        silent=True,
    ).history
    assert len(history["val_loss"]) == 1 + 3
    assert int(np.argmin(history["val_loss"])) == 3  # the loss alone would have gone on


def test_fit_trains_with_lazy_adam():
    """The fit loop's optimizer moves an embedding's rows only in steps whose batch holds their
    word (LazyAdam, tests/models/test_optimizers.py)."""
    rng = np.random.default_rng(5)
    x, y = padded_ids(rng.integers(1, 10, 200)), rng.integers(0, 3, 200).astype(np.int32)
    model = build_text_rnn(40, 3, embedding_dim=8, rnn_units=8)
    short_fit(model, x, y)
    assert isinstance(model.optimizer, LazyAdam)


@pytest.mark.parametrize("examples", [1600, 256], ids=["bucketed", "shuffled"])
def test_fit_trains_on_ragged_features_as_on_padded_ones(examples):
    """Sparse features kept as `RaggedRows` (a classifier's training inputs) are padded batch by
    batch, for training and for the held-out split, to the same weights as padded arrays."""
    rng = np.random.default_rng(6)
    lengths = rng.integers(1, 12, examples)
    token_ids = padded_ids(lengths, width=12)
    active = rng.integers(1, 6, token_ids.shape) * (token_ids != 0)  # features per token
    ids = np.zeros(token_ids.shape + (9,), np.int32)  # one 9 wide: the data's widest token
    values = np.zeros(token_ids.shape + (9,), np.float32)
    for (i, t), k in np.ndenumerate(active):
        ids[i, t, :k] = rng.permutation(20)[:k] + 1
        values[i, t, :k] = rng.random(k)
    y = (lengths % 3).astype(np.int32)
    ragged = RaggedRows.of(ids, values, lengths)
    inputs = {
        "padded": {"token_ids": token_ids, "feature_ids": ids, "feature_values": values},
        "ragged": {"token_ids": token_ids, "feature_ids": ragged[0], "feature_values": ragged[1]},
    }
    weights = {}
    for name, x in inputs.items():
        tf.keras.utils.set_random_seed(0)
        model = build_text_rnn(40, 3, embedding_dim=4, rnn_units=4, sparse_feature_dim=20)
        history = short_fit(model, x, y, epochs=2, validation_split=0.1)
        weights[name] = (model.get_weights(), history["val_loss"])
    for padded_weight, ragged_weight in zip(weights["padded"][0], weights["ragged"][0]):
        np.testing.assert_allclose(ragged_weight, padded_weight, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(weights["ragged"][1], weights["padded"][1], rtol=1e-5)
