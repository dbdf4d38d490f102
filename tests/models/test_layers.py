"""Shared layers (rnn_nlu/models/layers.py), and word dropout in every model that has it."""

import numpy as np
import pytest
from tensorflow import keras

from rnn_nlu.features import UNK_ID
from rnn_nlu.models.layers import WordDropout
from rnn_nlu.models.rcnn import build_rcnn
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
