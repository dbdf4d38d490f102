"""One fit loop for every model: seeding, held-out split, length-bucketed batches, clipnorm, early
stopping, progress bar."""

import logging
import math
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from rasa.utils.tensorflow.callback import RasaTrainingLogger
from tensorflow import keras

from rnn_nlu.features import RaggedRows
from rnn_nlu.models.layers import TrimmingModel
from rnn_nlu.models.optimizers import LazyAdam

logger = logging.getLogger(__name__)

# A dict's sparse features may be `RaggedRows`, padded batch by batch (`padded`).
Arrays = Union[np.ndarray, Dict[str, Any], Tuple[np.ndarray, ...]]
# Batches' worth of shuffled examples sorted by length together (see `LengthBatches`).
BUCKET_BATCHES = 20
# Fewer batches an epoch than this: shuffled batches, whose make-up changes from epoch to epoch
# (sorted into one or two runs they would hardly change), at a second or two of padding an epoch;
# a model with one output per message then trains on them uncut (see `fit`).
MIN_BUCKETED_BATCHES = 2 * BUCKET_BATCHES
# Early stopping never waits fewer epochs than this, however large the epochs (`stopping_patience`).
MIN_PATIENCE = 2
# The components' default `patience_examples`: on SNIPS a wait of 3 epochs, on CLINC150 data_small
# and the demo bots their `patience` (README, How it works, "Training").
PATIENCE_EXAMPLES = 30000


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow so that training on CPU is repeatable."""
    keras.utils.set_random_seed(seed)


def stopping_patience(patience: int, patience_examples: int, examples: int) -> int:
    """Epochs without a better held-out loss before training stops: `patience`, or, when fewer
    epochs hold `patience_examples` training examples, that many but at least `MIN_PATIENCE`
    (`patience_examples` 0: always `patience`). An epoch of a large data set is many gradient
    steps; a held-out loss that has not improved in three of them seldom does later (README)."""
    if patience_examples <= 0 or examples <= 0:
        return patience
    return min(patience, max(MIN_PATIENCE, math.ceil(patience_examples / examples)))


def split_indices(
    count: int, fraction: float, seed: int, stratify: Optional[Sequence[Any]] = None
) -> Tuple[np.ndarray, np.ndarray]:
    """Shuffled (train, validation) indices; with `stratify`, each label keeps its share in both.

    A label with too few examples for a validation share keeps them all in training.
    """
    rng = np.random.default_rng(seed)
    if stratify is None:
        order = rng.permutation(count)
        n_val = int(count * fraction)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    labels = np.asarray(stratify)
    validation = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        validation.extend(members[: int(len(members) * fraction)])
    validation = np.sort(np.array(validation, dtype=int))
    train = np.setdiff1d(np.arange(count), validation)
    return train, validation


def take(x: Arrays, idx: np.ndarray) -> Arrays:
    """Rows `idx` of an array, or of each array in a dict or tuple."""
    if isinstance(x, dict):
        return {k: v[idx] for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(v[idx] for v in x)
    return x[idx]


def padded(x: Arrays) -> Arrays:
    """`x` with each `RaggedRows` of a dict padded to the width of its "token_ids"; as it is
    otherwise."""
    if not isinstance(x, dict) or not any(isinstance(v, RaggedRows) for v in x.values()):
        return x
    length = x["token_ids"].shape[1]
    return {k: v.padded(length) if isinstance(v, RaggedRows) else v for k, v in x.items()}


def token_lengths(x: Arrays) -> np.ndarray:
    """(examples,) count of non-zero token ids, from `token_ids` (or the only or first array)."""
    ids = x.get("token_ids", next(iter(x.values()))) if isinstance(x, dict) else x
    ids = ids[0] if isinstance(ids, tuple) else ids
    return np.count_nonzero(ids, axis=1)


class LengthBatches(keras.utils.Sequence):
    """Training batches of messages of about the same length, drawn anew every epoch.

    Each epoch shuffles the examples, sorts each run of `BUCKET_BATCHES` batches' worth of them by
    length, cuts the runs into batches and shuffles the batches: every example is seen once an
    epoch, batches mix intents as before, and a `TrimmingModel` cut to the batch's longest message
    steps over little padding (random batches are as long as their longest of 64 messages).
    """

    def __init__(self, x: Arrays, y: Optional[np.ndarray], batch_size: int, seed: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.lengths = token_lengths(x)
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self) -> None:
        order = self.rng.permutation(len(self.lengths))
        run = self.batch_size * BUCKET_BATCHES
        batches = []
        for start in range(0, len(order), run):
            part = order[start : start + run]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches.extend(
                np.sort(part[i : i + self.batch_size]) for i in range(0, len(part), self.batch_size)
            )
        self.batches = [batches[i] for i in self.rng.permutation(len(batches))]

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> Any:
        rows = self.batches[index]
        x = padded(take(self.x, rows))
        return x if self.y is None else (x, self.y[rows])


class EarlyStoppingRestoreBest(keras.callbacks.EarlyStopping):
    """EarlyStopping that also restores the best weights when training runs all its epochs."""

    def on_train_end(self, logs: Optional[Dict[str, Any]] = None) -> None:
        if self.stopped_epoch == 0 and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        logger.info(
            f"Best epoch {self.best_epoch + 1} ({self.monitor} {self.best:.4f})"
            + (f", stopped early at epoch {self.stopped_epoch + 1}." if self.stopped_epoch else ".")
        )


def fit(
    model: keras.Model,
    x: Arrays,
    y: Optional[np.ndarray],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    clipnorm: Optional[float],
    validation_split: float,
    patience: int,
    random_seed: int,
    patience_examples: int = 0,
    loss: Any = "sparse_categorical_crossentropy",
    metrics: Sequence[Any] = ("accuracy",),
    monitor: str = "val_loss",
    stratify: Optional[Sequence[Any]] = None,
    class_weight: Optional[Dict[int, float]] = None,
    silent: bool = False,
) -> keras.callbacks.History:
    """Compiles and trains `model`: Adam, gradient clipping, early stopping on a held-out split.
    The Adam is `LazyAdam`: a large embedding's sparse gradient updates only the rows of its
    batch's words (smaller variables get Keras's Adam).

    `validation_split` of the examples (stratified by `stratify` when given) is held out to pick the
    best epoch; with 0, or too little data to hold any out, all epochs run on all data; training
    stops after `stopping_patience(patience, patience_examples, training examples)` epochs without
    a better held-out `monitor` (the loss, or a lower-is-better metric's name with "val_"). A
    `TrimmingModel` is evaluated on the held-out examples in order of length and, given at least
    `MIN_BUCKETED_BATCHES` batches, trains on `LengthBatches`, so that its batches, cut to their
    longest message, hold little padding. With fewer, a classifier's shuffled batches stay uncut:
    the longest of 64 random messages is near the data's longest, so cutting saves little, and it
    changes the word-dropout draws on which the demo bots' closest intents turn (README).
    `class_weight` scales each training example's loss by the weight of its label (Keras).
    Sparse features given as `RaggedRows` are padded a batch (and the held-out split) at a time.
    """
    set_seed(random_seed)
    optimizer = LazyAdam(learning_rate=learning_rate, clipnorm=clipnorm or None)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))

    count = _length(x)
    trims = isinstance(model, TrimmingModel)
    callbacks: list = [RasaTrainingLogger(epochs, silent=silent)]
    validation_data = None
    if validation_split > 0:
        train_idx, val_idx = split_indices(count, validation_split, random_seed, stratify)
        if len(val_idx) > 0 and len(train_idx) > 0:
            if trims:  # the order of evaluation changes no result
                val_idx = val_idx[np.argsort(token_lengths(x)[val_idx], kind="stable")]
            validation_data = (padded(take(x, val_idx)), None if y is None else y[val_idx])
            x, y = take(x, train_idx), None if y is None else y[train_idx]
            wait = stopping_patience(patience, patience_examples, len(train_idx))
            if wait < patience:
                logger.info(
                    f"{len(train_idx)} training examples an epoch: early stopping waits {wait} "
                    f"epochs instead of {patience} (patience_examples {patience_examples})."
                )
            callbacks.append(
                EarlyStoppingRestoreBest(monitor=monitor, patience=wait, restore_best_weights=True)
            )
        else:
            logger.info("Too little data to hold out a validation split; training on all of it.")
    held_out = _length(validation_data[0]) if validation_data else 0
    logger.info(
        f"Training {model.name} for up to {epochs} epochs on {count} examples "
        f"({held_out} held out)."
    )
    bucketed = trims and _length(x) >= MIN_BUCKETED_BATCHES * batch_size
    if trims:
        model.cut_batches = bucketed or model.per_token_outputs
    batches: Dict[str, Any] = (
        {"x": LengthBatches(x, y, batch_size, random_seed), "shuffle": False}  # new every epoch
        if bucketed
        else {"x": padded(x), "y": y, "batch_size": batch_size, "shuffle": True}
    )
    return model.fit(
        **batches,
        epochs=epochs,
        validation_data=validation_data,
        validation_batch_size=batch_size,
        class_weight=class_weight,
        callbacks=callbacks,
        verbose=0,
    )


def balanced_class_weights(labels: Sequence[int]) -> Dict[int, float]:
    """Weight per label id, count / (labels * its count), as scikit-learn's "balanced": every
    label then weighs as much in the loss as if all had the same number of examples."""
    ids, counts = np.unique(np.asarray(labels), return_counts=True)
    total = counts.sum()
    return {int(i): float(total / (len(ids) * c)) for i, c in zip(ids, counts)}


def _length(x: Arrays) -> int:
    first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, tuple) else x
    return len(first)
