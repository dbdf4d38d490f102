"""TextRNN intent classifier: embedding -> stacked (bi)directional RNN -> pooling -> softmax.

After Liu, Qiu & Huang, "Recurrent Neural Network for Text Classification with Multi-Task Learning"
(IJCAI 2016), the "TextRNN" baseline; attention pooling after Yang et al. (NAACL 2016).
"""

from typing import Sequence

from tensorflow import keras

from rnn_nlu.models.layers import (
    AttentionPooling,
    MaskedGlobalMaxPooling1D,
    TrimmingModel,
    WordDropout,
    add_rasa_features,
    recurrent_layer,
)

POOLINGS = ("last", "max", "mean", "attention")


def build_text_rnn(
    vocab_size: int,
    num_labels: int,
    embedding_dim: int = 128,
    rnn_type: str = "lstm",
    rnn_units: int = 128,
    num_layers: int = 1,
    bidirectional: bool = True,
    pooling: str = "max",
    dense_units: Sequence[int] = (),
    dropout: float = 0.2,
    word_dropout: float = 0.0,
    sparse_feature_dim: int = 0,
    dense_feature_dim: int = 0,
    feature_units: int = 64,
    pool_inputs: bool = False,
) -> keras.Model:
    """Builds the TextRNN classifier.

    Args:
        vocab_size: number of token ids, PAD (0) and UNK (1) included.
        num_labels: number of intents; the output is a softmax over them.
        embedding_dim: size of the token embedding, trained from scratch.
        rnn_type: "lstm", "gru" or "simple".
        rnn_units: units per direction of each recurrent layer.
        num_layers: stacked recurrent layers.
        bidirectional: run each recurrent layer both ways and concatenate.
        pooling: "last" (final state), "max", "mean" or "attention" over time; padding is masked.
        dense_units: sizes of ReLU layers between pooling and the softmax.
        dropout: rate after the embedding, after pooling and after each dense layer.
        word_dropout: share of tokens replaced by the unknown-word id in training, so that the
            unknown-word embedding, which every unseen word gets at parse time, is trained.
        sparse_feature_dim: columns of the sparse per-token features of Rasa's featurizers
            (0: none); each token's are embedding-bagged to `feature_units` values.
        dense_feature_dim: width of the dense per-token features of Rasa's featurizers (0: none),
            linearly projected to `feature_units` values.
        feature_units: size of each token's vector from its sparse features, and of the one
            from its dense features.
        pool_inputs: also max-pool each token's input vector (word embedding and features) over
            time and join it to the pooled recurrent states before the softmax (a skip
            connection, the SWEM-max of Shen et al. 2018).

    Returns:
        A model from (batch, time) int32 token ids to (batch, num_labels) probabilities; with
        features, from {"token_ids", "feature_ids", "feature_values", "dense_features"} (those
        present, see `add_rasa_features`).
    """
    assert vocab_size > 2, "vocabulary must hold at least one token besides PAD and UNK"
    assert num_labels >= 2, "a softmax classifier needs at least two labels"
    assert pooling in POOLINGS, f"pooling must be one of {POOLINGS}, not {pooling!r}"

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")  # (batch, time)
    ids = WordDropout(word_dropout, name="word_dropout")(token_ids)
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(ids)
    features, x = add_rasa_features(  # (batch, time, embedding [+ features]); drops whole channels
        x,
        keras.layers.SpatialDropout1D(dropout, name="embedding_dropout"),
        sparse_feature_dim,
        dense_feature_dim,
        feature_units,
    )
    pooled_inputs = MaskedGlobalMaxPooling1D(name="input_pool")(x) if pool_inputs else None
    for i in range(num_layers):
        sequences = i < num_layers - 1 or pooling != "last"
        rnn = recurrent_layer(rnn_type, rnn_units, sequences, name=f"{rnn_type}_{i}")
        if bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"bi_{rnn_type}_{i}")
        x = rnn(x)  # (batch, time, units * directions), or (batch, units * directions) when last
    if pooling == "max":
        x = MaskedGlobalMaxPooling1D(name="max_pool")(x)
    elif pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)  # honours the mask
    elif pooling == "attention":
        x = AttentionPooling(name="attention_pool")(x)
    if pooled_inputs is not None:
        x = keras.layers.Concatenate(name="with_pooled_inputs")([x, pooled_inputs])
    x = keras.layers.Dropout(dropout, name="pool_dropout")(x)  # (batch, features)
    for i, units in enumerate(dense_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dense_dropout_{i}")(x)
    probabilities = keras.layers.Dense(num_labels, activation="softmax", name="intent")(x)
    inputs = {"token_ids": token_ids, **features} if features else token_ids
    return TrimmingModel(inputs, probabilities, name="text_rnn")  # fit: batches cut to their length
