"""BiLSTM-CRF sequence tagger: word + character features -> stacked BiLSTM/GRU -> tag scores -> CRF.

After Lample et al., "Neural Architectures for Named Entity Recognition" (NAACL 2016) and Ma & Hovy,
"End-to-end Sequence Labeling via Bi-directional LSTM-CNNs-CRF" (ACL 2016): a character CNN gives
words never seen in training a representation; a linear-chain CRF scores whole tag sequences.
Optionally conditioned on the message's intent, as intent-guided joint models are (Goo et al.,
"Slot-Gated Modeling for Joint Slot Filling and Intent Prediction", NAACL 2018; Qin et al., "A
Stack-Propagation Framework with Token-Level Intent Detection", EMNLP 2019): a projection of the
intent joins every token's input to the recurrent layers.

The CRF log-likelihood is `crf_likelihood.py`'s (the one Rasa import allowed in `rnn_nlu.models`,
`rasa.utils.tensorflow.crf`, a pure TensorFlow module, gives it the path score and a fallback);
decoding is in NumPy (`crf_decoding.py`).
"""

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow import keras

from rnn_nlu.models import crf_decoding
from rnn_nlu.models.crf_likelihood import crf_log_likelihood
from rnn_nlu.models.layers import (
    NEG_INF,
    RepeatOverTime,
    TrimmingModel,
    WordDropout,
    add_rasa_features,
    recurrent_layer,
)


class CharCNN(keras.layers.Layer):
    """Character embedding -> 1D convolution -> max over each word's characters.

    (batch, time, chars) character ids, 0 for padding -> (batch, time, filters).
    """

    def __init__(
        self, num_chars: int, embedding_dim: int, filters: int, kernel_size: int = 3, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.num_chars, self.embedding_dim = num_chars, embedding_dim
        self.filters, self.kernel_size = filters, kernel_size
        self.embedding = keras.layers.Embedding(num_chars, embedding_dim, name="char_embedding")
        self.conv = keras.layers.Conv1D(
            filters, kernel_size, padding="same", activation="relu", name="char_conv"
        )

    def call(self, char_ids: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(char_ids)
        words = tf.reshape(char_ids, [-1, shape[2]])  # (batch * time, chars)
        present = (words != 0)[:, :, None]
        embedded = self.embedding(words) * tf.cast(present, self.compute_dtype)  # padding -> zeros,
        features = self.conv(embedded)  # as the convolution's own padding: width changes nothing
        features = tf.reduce_max(tf.where(present, features, NEG_INF), axis=1)
        features = tf.where(tf.reduce_any(present, axis=1), features, 0.0)  # padding words -> 0
        return tf.reshape(features, [shape[0], shape[1], self.filters])

    def get_config(self) -> Dict[str, Any]:
        return {
            **super().get_config(),
            "num_chars": self.num_chars,
            "filters": self.filters,
            "embedding_dim": self.embedding_dim,
            "kernel_size": self.kernel_size,
        }


class CRF(keras.layers.Layer):
    """Holds the tag-transition scores of a linear-chain CRF and passes the tag scores through."""

    def __init__(self, num_tags: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_tags = num_tags
        self.supports_masking = True

    def build(self, input_shape: tf.TensorShape) -> None:
        self.transitions = self.add_weight(
            name="transitions", shape=(self.num_tags, self.num_tags), initializer="glorot_uniform"
        )
        super().build(input_shape)

    def call(self, scores: tf.Tensor) -> tf.Tensor:
        return tf.identity(scores)

    def log_likelihood(self, scores: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        """(batch,) log-probability of the `tags` sequences."""
        return crf_log_likelihood(scores, tags, lengths, self.transitions)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "num_tags": self.num_tags}


class SequenceTagger(TrimmingModel):
    """A functional model from token (and character) ids to tag scores per head (`entity`, ...).

    Its loss is the CRF negative log-likelihood for heads ending in a `CRF` layer and softmax
    cross-entropy otherwise, summed over each message's tokens and averaged over the batch. Fit it
    with targets of shape (batch, time, heads), heads in output order, and no Keras loss; training
    and evaluation steps cut inputs and targets to the batch's longest message (`TrimmingModel`).
    """

    per_token_outputs = True

    def __init__(
        self,
        inputs: Any,
        outputs: Any,
        name: Optional[str] = None,
        trainable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(inputs, outputs, name=name, trainable=trainable, **kwargs)
        self._self_setattr_tracking = False  # the loss metric's state is not a model weight
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._self_setattr_tracking = True

    @property
    def heads(self) -> list:
        return list(self.output_names)

    def crf(self, head: str) -> Optional[CRF]:
        """The CRF layer of `head`, or None when the head is a softmax."""
        layer = self.get_layer(head)
        return layer if isinstance(layer, CRF) else None

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> tf.Tensor:
        lengths = self.lengths(x)
        mask = tf.sequence_mask(lengths, tf.shape(y)[1], dtype=tf.float32)  # (batch, time)
        loss = tf.add_n(self.losses) if self.losses else 0.0
        for i, head in enumerate(self.heads):
            tags, scores = tf.cast(y[:, :, i], tf.int32), y_pred[head]
            crf = self.crf(head)
            if crf is not None:
                loss += -tf.reduce_mean(crf.log_likelihood(scores, tags, lengths))
            else:
                entropy = keras.losses.sparse_categorical_crossentropy(
                    tags, scores, from_logits=True
                )
                loss += tf.reduce_mean(tf.reduce_sum(entropy * mask, axis=1))
        self.loss_tracker.update_state(loss)
        return loss

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any) -> Dict[str, Any]:
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def transitions(self) -> Dict[str, Optional[np.ndarray]]:
        """Each head's CRF transition scores, None for softmax heads."""
        return {h: (c.transitions.numpy() if (c := self.crf(h)) else None) for h in self.heads}

    def decode(self, inputs: Any) -> Dict[str, np.ndarray]:
        """`{head: (batch, time) tag ids, head + "_confidence": (batch, time) confidences}`.

        CRF heads decode the best whole sequence (confidence: the tag's marginal probability);
        softmax heads take each token's likeliest tag. Eager; for speed, compile the model call
        and use `crf_decoding.decode` on its scores, as the slot filler does.
        """
        scores = {h: np.asarray(v) for h, v in self(inputs, training=False).items()}
        lengths = self.lengths(inputs).numpy()
        return crf_decoding.decode(scores, lengths, self.transitions())


def add_intent(
    x: tf.Tensor, num_intents: int, intent_units: int
) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    """Each token's vector `x` (batch, time, d) with the message's intent: [x; tanh(intent W +
    b)], the same `intent_units` values at every token. The token mask of `x` is kept.

    Returns the new input, "intent" (batch, num_intents) float32 (a one-hot of the intent, all
    zeros when unknown), and the vectors; with `num_intents` 0, no input and `x`.
    """
    if num_intents <= 0:
        return {}, x
    intent = keras.Input(shape=(num_intents,), dtype="float32", name="intent")
    projected = keras.layers.Dense(intent_units, activation="tanh", name="intent_projection")(
        intent
    )  # (batch, intent_units)
    repeated = RepeatOverTime(name="intent_over_time")([projected, x])  # (batch, time, units)
    return {"intent": intent}, keras.layers.Concatenate(name="with_intent")([x, repeated])


def build_tagger(
    vocab_size: int,
    num_tags: Mapping[str, int],
    num_chars: int = 0,
    embedding_dim: int = 100,
    char_embedding_dim: int = 25,
    char_filters: int = 50,
    rnn_type: str = "lstm",
    rnn_units: int = 128,
    num_layers: int = 1,
    use_chars: bool = True,
    use_crf: bool = True,
    dropout: float = 0.5,
    word_dropout: float = 0.0,
    sparse_feature_dim: int = 0,
    dense_feature_dim: int = 0,
    feature_units: int = 64,
    num_intents: int = 0,
    intent_units: int = 32,
) -> SequenceTagger:
    """Builds the BiLSTM(-CRF) tagger.

    Args:
        vocab_size: number of token ids, PAD (0) and UNK (1) included.
        num_tags: tags per head, e.g. {"entity": 9} or {"entity": 9, "role": 5}; a head per output.
        num_chars: number of character ids, PAD and UNK included (used when `use_chars`).
        embedding_dim: size of the word embedding, trained from scratch.
        char_embedding_dim: size of the character embedding.
        char_filters: character-CNN filters, i.e. size of each word's character features.
        rnn_type: "lstm", "gru" or "simple".
        rnn_units: units per direction of each bidirectional recurrent layer.
        num_layers: stacked bidirectional recurrent layers.
        use_chars: add character-CNN features to the word embedding.
        use_crf: decode with a linear-chain CRF; otherwise an independent softmax per token.
        dropout: rate on the word (+ character) features and on each recurrent layer's output.
        word_dropout: share of training tokens replaced by the unknown-word id.
        sparse_feature_dim: columns of the sparse per-token features of Rasa's featurizers
            (0: none); each token's are embedding-bagged to `feature_units` values.
        dense_feature_dim: width of the dense per-token features of Rasa's featurizers (0: none),
            linearly projected to `feature_units` values.
        feature_units: size of each token's vector from its sparse features, and of the one
            from its dense features.
        num_intents: width of the "intent" input, a one-hot of the message's intent (0: no
            intent input, the model of earlier versions).
        intent_units: size of the intent's projection (tanh), added to every token's input to
            the recurrent layers.

    Returns:
        A `SequenceTagger` from {"token_ids": (batch, time)[, "char_ids": (batch, time, chars)]}
        int32 inputs (with Rasa's features also "feature_ids", "feature_values",
        "dense_features", see `add_rasa_features`; with `num_intents` also "intent", see
        `add_intent`) to {head: (batch, time, num_tags[head]) tag scores}.
    """
    assert vocab_size > 2, "vocabulary must hold at least one token besides PAD and UNK"
    assert num_tags and all(n >= 2 for n in num_tags.values()), "each head needs two tags or more"
    assert not use_chars or num_chars > 2, "character vocabulary must hold at least one character"

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, time)
    inputs = {"token_ids": token_ids}
    words = WordDropout(word_dropout, name="word_dropout")(token_ids)
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(words)
    if use_chars:
        inputs["char_ids"] = keras.Input(shape=(None, None), dtype="int32", name="char_ids")
        chars = CharCNN(num_chars, char_embedding_dim, char_filters, name="char_cnn")(
            inputs["char_ids"]
        )  # (batch, time, char_filters)
        x = keras.layers.Concatenate(name="word_and_chars")([x, chars])  # keeps the word mask
    features, x = add_rasa_features(
        x,
        keras.layers.Dropout(dropout, name="embedding_dropout"),
        sparse_feature_dim,
        dense_feature_dim,
        feature_units,
    )
    inputs.update(features)
    intent, x = add_intent(x, num_intents, intent_units)
    inputs.update(intent)
    for i in range(num_layers):
        rnn = recurrent_layer(rnn_type, rnn_units, True, name=f"{rnn_type}_{i}")
        x = keras.layers.Bidirectional(rnn, name=f"bi_{rnn_type}_{i}")(
            x
        )  # (batch, time, 2 * units)
        x = keras.layers.Dropout(dropout, name=f"rnn_dropout_{i}")(x)
    outputs = {}
    for head, count in num_tags.items():
        scores = keras.layers.Dense(count, name=f"{head}_scores")(x)  # (batch, time, tags)
        outputs[head] = (
            CRF(count, name=head) if use_crf else keras.layers.Activation("linear", name=head)
        )(scores)
    return SequenceTagger(inputs, outputs, name="bilstm_crf_tagger" if use_crf else "bilstm_tagger")
