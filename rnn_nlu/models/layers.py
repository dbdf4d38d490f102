"""Keras layers shared by the model builders: recurrent layers, word dropout, masked pooling, the
inputs for the features of Rasa's featurizers (a weighted embedding-bag for sparse ones), a
message's vector repeated over its tokens, and the functional model class that trains on each
batch cut to its longest message."""

import functools
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf
from tensorflow import keras

from rnn_nlu.features import PAD_ID, UNK_ID

RNN_TYPES = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}
NEG_INF = -1e9
# Inputs with one vector per message (batch, units) and no time axis: `TrimmingModel` keeps them.
PER_MESSAGE_INPUTS = ("intent",)


class TrimmingModel(keras.Model):
    """A functional model whose training and evaluation steps (and, for a model with one output
    per message, prediction steps) first cut the batch's inputs to its longest message, so that no
    recurrent step runs over padding only.

    Every input but those of `PER_MESSAGE_INPUTS` ("intent") has time as axis 1 ("token_ids",
    "feature_ids", "feature_values", "dense_features", "char_ids"); a message's length is its
    count of non-zero token ids. The token mask already makes padding change nothing, so only the
    time spent on it is saved. With `per_token_outputs` (a tagger's (batch, time, heads)) the
    targets are cut too, and prediction is left whole so that `predict`'s batches keep one width.
    Calling the model cuts nothing; nor does a model whose `cut_batches` is false (set before
    `fit`, which traces the steps).
    """

    per_token_outputs = False
    cut_batches = True

    @staticmethod
    def lengths(inputs: Any) -> tf.Tensor:
        """(batch,) count of non-zero token ids per message; right padding is assumed."""
        token_ids = inputs["token_ids"] if isinstance(inputs, Mapping) else inputs
        return tf.math.count_nonzero(token_ids, axis=1, dtype=tf.int32)

    @staticmethod
    def narrowed(feature_ids: tf.Tensor, feature_values: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        """(batch, time, K) sparse feature ids and values cut to the most active features of one
        token of the batch (ids are packed first, 0 after: `encode_sparse_features`), at least 1:
        the data's widest token (a long word's 80 character n-grams) pads every batch to its K."""
        active = tf.math.count_nonzero(feature_ids, axis=2, dtype=tf.int32)
        width = tf.maximum(tf.reduce_max(active), 1)
        return feature_ids[:, :, :width], feature_values[:, :, :width]

    def trim(self, data: Any) -> Any:
        """`data`, (x[, y[, sample_weight]]) of a right-padded batch, cut to its longest message
        (and its sparse features to its tokens' most active ones)."""
        if not self.cut_batches:
            return data
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        length = tf.maximum(tf.reduce_max(self.lengths(x)), 1)  # an all-empty batch keeps a step

        def cut(t: tf.Tensor) -> tf.Tensor:
            return t[:, :length]

        if isinstance(x, Mapping):
            x = {k: v if k in PER_MESSAGE_INPUTS else cut(v) for k, v in x.items()}
            if "feature_ids" in x:  # and to the most active sparse features of its tokens
                x["feature_ids"], x["feature_values"] = self.narrowed(
                    x["feature_ids"], x["feature_values"]
                )
        else:
            x = tf.nest.map_structure(cut, x)
        if self.per_token_outputs and y is not None:
            y = tf.nest.map_structure(cut, y)
            if sample_weight is not None and sample_weight.shape.rank > 1:
                sample_weight = cut(sample_weight)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def train_step(self, data: Any) -> Dict[str, Any]:
        return super().train_step(self.trim(data))

    def test_step(self, data: Any) -> Dict[str, Any]:
        return super().test_step(self.trim(data))

    def predict_step(self, data: Any) -> Any:
        return super().predict_step(data if self.per_token_outputs else self.trim(data))


def recurrent_layer(
    rnn_type: str, units: int, return_sequences: bool, name: str, **kwargs
) -> keras.layers.Layer:
    """An LSTM, GRU or SimpleRNN layer.

    Defaults (tanh, sigmoid gates, no recurrent dropout, no unroll) keep LSTM/GRU cuDNN-eligible
    on a GPU; inputs must be right-padded for that. Without a GPU, LSTM and GRU run their generic
    implementation without tracing the cuDNN one (`CpuLSTM`, `CpuGRU`).
    """
    if rnn_type not in RNN_TYPES:
        raise ValueError(f"rnn_type must be one of {sorted(RNN_TYPES)}, not {rnn_type!r}")
    layer = (CPU_RNN_TYPES if rnn_type in CPU_RNN_TYPES and not _has_gpu() else RNN_TYPES)[rnn_type]
    return layer(units, return_sequences=return_sequences, name=name, **kwargs)


@functools.cache
def _has_gpu() -> bool:
    return bool(tf.config.list_logical_devices("GPU"))


class CpuLSTM(keras.layers.LSTM):
    """keras.layers.LSTM that runs its generic implementation directly. In a graph, Keras's LSTM
    and GRU trace both their cuDNN and their generic implementation and let TensorFlow pick one
    when the graph runs; without a GPU that traced the cuDNN one for nothing (on SNIPS 2 s of
    each network's first epoch, 2026-12-07). The same weights and the same outputs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._could_use_gpu_kernel = False


class CpuGRU(keras.layers.GRU):
    """keras.layers.GRU that runs its generic implementation directly (see `CpuLSTM`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._could_use_gpu_kernel = False


# The layers `recurrent_layer` builds on a machine without a GPU.
CPU_RNN_TYPES = {"lstm": CpuLSTM, "gru": CpuGRU}


class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over time that ignores padded steps: (batch, time, units) -> (batch, units)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: tf.Tensor, mask: Optional[tf.Tensor] = None) -> tf.Tensor:
        if mask is not None:
            inputs = tf.where(mask[:, :, None], inputs, tf.cast(NEG_INF, inputs.dtype))
        return tf.reduce_max(inputs, axis=1)

    def compute_mask(self, inputs: tf.Tensor, mask: Optional[tf.Tensor] = None) -> None:
        return None


class AttentionPooling(keras.layers.Layer):
    """Additive attention over time (Yang et al. 2016): sum_t softmax(v . tanh(W h_t)) h_t."""

    def __init__(self, units: int = 64, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True
        self.project = keras.layers.Dense(units, activation="tanh", name="project")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")

    def call(self, inputs: tf.Tensor, mask: Optional[tf.Tensor] = None) -> tf.Tensor:
        scores = self.score(self.project(inputs))[:, :, 0]  # (batch, time)
        if mask is not None:
            scores = tf.where(mask, scores, tf.cast(NEG_INF, scores.dtype))
        weights = tf.nn.softmax(scores, axis=-1)
        return tf.einsum("bt,btu->bu", weights, inputs)

    def compute_mask(self, inputs: tf.Tensor, mask: Optional[tf.Tensor] = None) -> None:
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


class WordDropout(keras.layers.Layer):
    """In training only, replaces each non-padding token id by UNK with probability `rate`.

    Words never seen in training map to UNK when parsing; this teaches the model to handle them.
    """

    def __init__(self, rate: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, token_ids: tf.Tensor, training: Optional[bool] = None) -> tf.Tensor:
        def dropped() -> tf.Tensor:
            drop = tf.random.uniform(tf.shape(token_ids)) < self.rate
            unknown = tf.fill(tf.shape(token_ids), tf.constant(UNK_ID, token_ids.dtype))
            return tf.where(drop & (token_ids != PAD_ID), unknown, token_ids)

        if self.rate <= 0:
            return token_ids
        return keras.backend.in_train_phase(dropped, token_ids, training=training)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class RepeatOverTime(keras.layers.Layer):
    """A vector per message at each of its sequence's steps: [(batch, units), (batch, time, d)]
    -> (batch, time, units). The output keeps the sequence's token mask."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        vector, sequence = inputs
        return tf.repeat(vector[:, None, :], tf.shape(sequence)[1], axis=1)

    def compute_mask(
        self, inputs: Sequence[tf.Tensor], mask: Optional[Sequence[Optional[tf.Tensor]]] = None
    ) -> Optional[tf.Tensor]:
        return None if mask is None else mask[1]


class WeightedEmbeddingBag(keras.layers.Layer):
    """Each token's sparse features times a (input_dim, units) matrix, without densifying them.

    [(batch, time, K) int32 ids (0: padding, feature i: i + 1), (batch, time, K) float32 values]
    -> (batch, time, units): sum_k values[k] * embedding[ids[k]], the same as a bias-free Dense
    layer over the token's sparse feature vector (as DIET's layer for sparse features).
    """

    def __init__(self, input_dim: int, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.input_dim, self.units = input_dim, units
        self.embedding = keras.layers.Embedding(
            input_dim, units, embeddings_initializer="glorot_uniform", name="feature_embedding"
        )

    def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
        ids, values = inputs
        values = tf.where(ids != 0, tf.cast(values, self.compute_dtype), 0.0)
        return tf.einsum("btk,btku->btu", values, self.embedding(ids))  # (batch, time, units)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "units": self.units}


def add_rasa_features(
    x: tf.Tensor,
    dropout: keras.layers.Layer,
    sparse_feature_dim: int,
    dense_feature_dim: int,
    feature_units: int,
) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    """Each token's vector `x` (batch, time, d) with the per-token features of Rasa's featurizers:
    [x; embedding-bag of its sparse features] -> `dropout` -> [.; linear projection of its dense
    features], each of the two `feature_units` wide.

    The model's dropout covers the words and the sparse features; dense features are not dropped
    (DIET's default). They are projected so that a narrow one (a single score) gets as many
    channels as the sparse ones: concatenated as they were, one value among the word's was
    largely ignored by the slot filler (tests/components/test_rasa_features.py). The token mask of
    `x` is kept.

    Returns the new inputs, `feature_ids` and `feature_values` (batch, time, K) when
    `sparse_feature_dim` > 0 (the columns of all sparse featurizers side by side) and
    `dense_features` (batch, time, dense dim) when `dense_feature_dim` > 0, and the vectors. With
    both dims 0, no inputs and `dropout(x)`.
    """
    inputs: Dict[str, tf.Tensor] = {}
    if sparse_feature_dim > 0:
        inputs["feature_ids"] = keras.Input(shape=(None, None), dtype="int32", name="feature_ids")
        inputs["feature_values"] = keras.Input(
            shape=(None, None), dtype="float32", name="feature_values"
        )
        bag = WeightedEmbeddingBag(sparse_feature_dim + 1, feature_units, name="sparse_features")
        bagged = bag([inputs["feature_ids"], inputs["feature_values"]])  # (batch, time, units)
        x = keras.layers.Concatenate(name="word_and_sparse_features")([x, bagged])
    x = dropout(x)
    if dense_feature_dim > 0:
        inputs["dense_features"] = keras.Input(
            shape=(None, dense_feature_dim), dtype="float32", name="dense_features"
        )
        dense = keras.layers.Dense(feature_units, name="dense_projection")(inputs["dense_features"])
        x = keras.layers.Concatenate(name="with_dense_features")([x, dense])
    return inputs, x
