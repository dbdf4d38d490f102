"""`TrimmingModel` (rnn_nlu/models/layers.py): every model trains and evaluates on each batch cut to
its longest message, and the weights it learns are those of training on the padded batch."""

from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import pytest
from tensorflow import keras

from rnn_nlu.models.layers import TrimmingModel
from rnn_nlu.models.rcnn import build_rcnn
from rnn_nlu.models.tagger import build_tagger
from rnn_nlu.models.text_rnn import build_text_rnn
from tests.helpers import record_embedding_widths

WIDTH = 16  # the padded width of the data; every batch's longest message is shorter
LENGTHS = [3, 2, 1, 3, 5, 4, 2, 1]  # two batches of 4: longest 3, then 5
FEATURES = {"sparse_feature_dim": 9, "dense_feature_dim": 3, "feature_units": 5}


def token_ids(lengths: List[int], rng: np.random.Generator) -> np.ndarray:
    ids = np.zeros((len(lengths), WIDTH), dtype=np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(2, 30, length)
    return ids


def text_rnn_data(rng: np.random.Generator) -> Tuple[Any, np.ndarray]:
    """Dict inputs with every kind of per-token feature, zero on padding; each token's 4 sparse
    features padded to 6, as `encode_sparse_features` pads to the data's widest token."""
    ids = token_ids(LENGTHS, rng)
    real = (ids != 0)[:, :, None]
    none = np.zeros(ids.shape + (2,))
    x = {
        "token_ids": ids,
        "feature_ids": np.concatenate([rng.integers(1, 10, ids.shape + (4,)) * real, none], -1),
        "feature_values": np.concatenate([rng.random(ids.shape + (4,)) * real, none], -1),
        "dense_features": (rng.random(ids.shape + (3,)) * real).astype(np.float32),
    }
    x["feature_ids"] = x["feature_ids"].astype(np.int32)
    x["feature_values"] = x["feature_values"].astype(np.float32)
    return x, (ids[:, 0] % 3).astype(np.int32)


def rcnn_data(rng: np.random.Generator) -> Tuple[Any, np.ndarray]:
    """Bare token ids."""
    ids = token_ids(LENGTHS, rng)
    return ids, (ids[:, 0] % 3).astype(np.int32)


def tagger_data(rng: np.random.Generator) -> Tuple[Any, np.ndarray]:
    """Token and character ids; (batch, time, heads) tags, 0 on padding."""
    ids = token_ids(LENGTHS, rng)
    chars = (rng.integers(2, 12, ids.shape + (4,)) * (ids != 0)[:, :, None]).astype(np.int32)
    tags = np.stack([ids % 4, ids % 3], axis=-1).astype(np.int32)
    return {"token_ids": ids, "char_ids": chars}, tags


def small_text_rnn() -> keras.Model:
    return build_text_rnn(30, 3, embedding_dim=8, rnn_units=6, pooling="attention", **FEATURES)


def small_rcnn() -> keras.Model:
    return build_rcnn(30, 3, embedding_dim=8, context_units=6, projection_units=7, word_dropout=0)


def small_tagger() -> keras.Model:
    return build_tagger(
        30, {"entity": 4, "role": 3}, 12, embedding_dim=8, char_filters=5, rnn_units=6, dropout=0
    )


# (builder, data, Keras loss). No word dropout, nor the tagger's per-token dropout: their random
# draws are as wide as the batch, so they differ (not in distribution) once it is cut.
MODELS: Dict[str, Tuple[Callable[[], keras.Model], Callable, Any]] = {
    "text_rnn": (small_text_rnn, text_rnn_data, "sparse_categorical_crossentropy"),
    "rcnn": (small_rcnn, rcnn_data, "sparse_categorical_crossentropy"),
    "tagger": (small_tagger, tagger_data, None),  # its own loss
}


def untrimmed(model: TrimmingModel) -> TrimmingModel:
    """The same network (same layers and weights) with trimming switched off."""

    class Untrimmed(type(model)):
        def trim(self, data: Any) -> Any:
            return data

    return Untrimmed(model.input, model.output, name=model.name)


def trained_weights(model: keras.Model, loss: Any, data: Tuple[Any, np.ndarray]) -> list:
    keras.utils.set_random_seed(1)
    model.compile(keras.optimizers.Adam(0.01), loss=loss)
    model.fit(*data, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("name", MODELS)
def test_training_on_trimmed_batches_learns_the_weights_of_padded_ones(name):
    build, make_data, loss = MODELS[name]
    keras.utils.set_random_seed(0)
    trimmed = build()
    keras.utils.set_random_seed(0)
    padded = untrimmed(build())
    assert isinstance(trimmed, TrimmingModel)
    data = make_data(np.random.default_rng(0))
    before = trimmed.get_weights()
    after = trained_weights(trimmed, loss, data)
    reference = trained_weights(padded, loss, data)
    assert max(np.abs(a - b).max() for a, b in zip(after, before)) > 1e-3  # it did train
    for got, want in zip(after, reference):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_fit_evaluate_and_predict_steps_see_only_the_batchs_longest_message(name, monkeypatch):
    build, make_data, loss = MODELS[name]
    keras.utils.set_random_seed(0)
    model = build()
    x, y = make_data(np.random.default_rng(0))
    model.compile("adam", loss=loss, run_eagerly=True)  # eager: the shapes seen are concrete
    widths = record_embedding_widths(monkeypatch)  # time steps of each word-embedding call
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.evaluate(x, y, batch_size=4, verbose=0)
    assert widths == [3, 5, 3, 5]  # 2 training, then 2 evaluation batches
    model.predict(x, batch_size=4, verbose=0)  # per-token outputs keep the data's width
    assert widths[4:] == ([WIDTH, WIDTH] if model.per_token_outputs else [3, 5])
    model(x, training=False)  # calling the model cuts nothing
    assert widths[-1] == WIDTH


def test_sparse_features_are_cut_to_the_most_active_token_of_the_batch():
    x, y = text_rnn_data(np.random.default_rng(0))
    x["feature_ids"][:4, :, 2:] = 0  # the first batch's tokens: 2 active features each
    x["feature_values"][:4, :, 2:] = 0
    model = small_text_rnn()
    for rows, width in ((slice(0, 4), 2), (slice(4, 8), 4), (slice(0, 8), 4)):
        batch = {k: v[rows] for k, v in x.items()}
        cut, _, _ = keras.utils.unpack_x_y_sample_weight(model.trim((batch, y[rows])))
        assert cut["feature_ids"].shape[-1] == cut["feature_values"].shape[-1] == width
        steps = max(LENGTHS[rows])
        np.testing.assert_array_equal(cut["feature_ids"], batch["feature_ids"][:, :steps, :width])
    none = {**x, "feature_ids": np.zeros_like(x["feature_ids"])}
    cut, _, _ = keras.utils.unpack_x_y_sample_weight(model.trim((none, y)))
    assert cut["feature_ids"].shape[-1] == 1  # no features at all: one column of padding
