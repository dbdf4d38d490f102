"""RCNN intent classifier: word + left/right recurrent context -> tanh projection -> max over time.

After Lai, Xu, Liu & Zhao, "Recurrent Convolutional Neural Networks for Text Classification"
(AAAI 2015). The left context of word i is a recurrent state over words 1..i-1 only, the right
context one over words i+1..n only; both run over the embeddings shifted by one step.
"""

from typing import Optional, Sequence

import tensorflow as tf
from tensorflow import keras

from rnn_nlu.models.layers import (
    MaskedGlobalMaxPooling1D,
    TrimmingModel,
    WordDropout,
    add_rasa_features,
    recurrent_layer,
)


class ShiftRight(keras.layers.Layer):
    """Delays a sequence by one step, zeros first: x'_t = x_{t-1}, x'_0 = 0; the mask is kept.

    Run through a recurrent layer, step t then sees only x_0..x_{t-1}, which is the left context.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.pad(inputs[:, :-1], [[0, 0], [1, 0], [0, 0]])  # (batch, time, features)


class ReverseValid(keras.layers.Layer):
    """Reverses each sequence's unpadded prefix, leaving right padding in place; the mask is kept.

    Applied twice it is the identity, so `reverse -> shift -> RNN -> reverse` gives the right
    context with the padding still on the right (LSTM/GRU stay cuDNN-eligible).
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: tf.Tensor, mask: Optional[tf.Tensor] = None) -> tf.Tensor:
        if mask is None:
            return tf.reverse(inputs, axis=[1])
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # (batch,)
        return tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)


def build_rcnn(
    vocab_size: int,
    num_labels: int,
    embedding_dim: int = 64,
    rnn_type: str = "simple",
    context_units: int = 64,
    projection_units: int = 128,
    dense_units: Sequence[int] = (),
    dropout: float = 0.4,
    word_dropout: float = 0.2,
    sparse_feature_dim: int = 0,
    dense_feature_dim: int = 0,
    feature_units: int = 64,
) -> keras.Model:
    """Builds the RCNN classifier of Lai et al. (2015).

    Args:
        vocab_size: number of token ids, PAD (0) and UNK (1) included.
        num_labels: number of intents; the output is a softmax over them.
        embedding_dim: size of the token embedding e(w_i), trained from scratch.
        rnn_type: cell of the two context RNNs, "simple" (tanh, as in the paper), "gru" or "lstm".
        context_units: size of each of the left and right contexts c_l(w_i) and c_r(w_i).
        projection_units: size of y_i = tanh(W [c_l; e; c_r] + b), max-pooled over time.
        dense_units: sizes of ReLU layers between pooling and the softmax.
        dropout: rate after the embedding (whole channels), after pooling and after dense layers.
        word_dropout: share of tokens replaced by the unknown-word id in training.
        sparse_feature_dim: columns of the sparse per-token features of Rasa's featurizers
            (0: none); each token's are embedding-bagged to `feature_units` values and become part
            of its e(w_i).
        dense_feature_dim: width of the dense per-token features of Rasa's featurizers (0: none),
            projected to `feature_units` values, also part of e(w_i).
        feature_units: size of each token's vector from its sparse features, and of the one
            from its dense features.

    Returns:
        A model from (batch, time) right-padded token ids to (batch, num_labels) probabilities;
        with features, from {"token_ids", "feature_ids", "feature_values", "dense_features"}
        (those present, see `add_rasa_features`).
    """
    assert vocab_size > 2, "vocabulary must hold at least one token besides PAD and UNK"
    assert num_labels >= 2, "a softmax classifier needs at least two labels"

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, time)
    ids = WordDropout(word_dropout, name="word_dropout")(token_ids)
    e = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(ids)
    features, e = add_rasa_features(  # (batch, time, emb [+ features]): the word's features join e
        e,
        keras.layers.SpatialDropout1D(dropout, name="embedding_dropout"),
        sparse_feature_dim,
        dense_feature_dim,
        feature_units,
    )

    # c_l(w_i) = f(W_l c_l(w_{i-1}) + W_sl e(w_{i-1})): an RNN over the embeddings delayed by one.
    left_rnn = recurrent_layer(rnn_type, context_units, True, name=f"left_{rnn_type}")
    left = left_rnn(ShiftRight(name="shift_left_context")(e))  # (batch, time, context)
    # c_r(w_i) from w_n down to w_{i+1}: the same in the reversed message, then reversed back.
    reverse = ReverseValid(name="reverse")(e)
    right_rnn = recurrent_layer(rnn_type, context_units, True, name=f"right_{rnn_type}")
    right = right_rnn(ShiftRight(name="shift_right_context")(reverse))
    right = ReverseValid(name="reverse_back")(right)  # (batch, time, context)

    x = keras.layers.Concatenate(name="context_word_context")([left, e, right])
    y = keras.layers.Dense(projection_units, activation="tanh", name="projection")(x)
    # y: (batch, time, projection_units)
    h = MaskedGlobalMaxPooling1D(name="max_pool")(y)  # (batch, proj)
    h = keras.layers.Dropout(dropout, name="pool_dropout")(h)
    for i, units in enumerate(dense_units):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
        h = keras.layers.Dropout(dropout, name=f"dense_dropout_{i}")(h)
    probabilities = keras.layers.Dense(num_labels, activation="softmax", name="intent")(h)
    inputs = {"token_ids": token_ids, **features} if features else token_ids
    return TrimmingModel(inputs, probabilities, name="rcnn")  # fit: batches cut to their length
