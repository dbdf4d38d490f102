"""Our Keras models' forward passes in plain NumPy, for serving without TensorFlow: the outputs of
`model(inputs, training=False)` of `build_text_rnn`, `build_rcnn` and `build_tagger` to within
float32 rounding.

Each takes one network's `weights` ({`canonical_name`: array}), the `options` its builder was
called with (missing keys take the builder's defaults) and right-padded `inputs`: (batch, time)
token ids, or a dict of them ("token_ids") and the other inputs the model has ("feature_ids",
"feature_values", "dense_features", "char_ids", the tagger's "intent").

The intent classifiers' forward passes also take an ensemble's M networks at once (`stacked=True`,
weights from `stack_members`) and give each member's output; averaging them is the caller's. A
few messages run in one pass with a member axis on every array, as a step's cost is then mostly
Python and BLAS call overhead; larger batches run one member after another, as the members'
arrays together outgrow the CPU caches.
"""

import functools
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from rnn_nlu.models.numpy_layers import (
    CHAR_TABLE,
    EMBEDDING,
    FUSED,
    TOKEN_TABLE,
    Weights,
    add_rasa_features,
    as_members,
    attention_pooling,
    bidirectional,
    char_cnn,
    char_table,
    dense,
    embedding,
    fuse_directions,
    intent_features,
    masked_max_pooling,
    masked_mean_pooling,
    recurrent,
    recurrent_together,
    reverse_valid,
    shift_right,
    tabulate_tokens,
    with_transposed,
)

Inputs = Union[np.ndarray, Mapping[str, np.ndarray]]

# The builders' defaults of the options that shape the forward pass (sizes come from the weights);
# tests/models/test_numpy_models.py checks them against the builders' signatures.
TEXT_RNN_DEFAULTS = {
    "rnn_type": "lstm",
    "num_layers": 1,
    "bidirectional": True,
    "pooling": "max",
    "dense_units": (),
    "sparse_feature_dim": 0,
    "dense_feature_dim": 0,
    "pool_inputs": False,
}
RCNN_DEFAULTS = {
    "rnn_type": "simple",
    "dense_units": (),
    "sparse_feature_dim": 0,
    "dense_feature_dim": 0,
}
TAGGER_DEFAULTS = {
    "rnn_type": "lstm",
    "num_layers": 1,
    "use_chars": True,
    "sparse_feature_dim": 0,
    "dense_feature_dim": 0,
    "num_intents": 0,
}
CHAR_CNN = "char_cnn"  # the tagger's character CNN layer
POOLINGS = ("last", "max", "mean", "attention")
# The largest batch that `stacked=True` runs in one pass (3 members of the default TextRNN on a
# 2-core AMD EPYC: one pass 10-30 % faster than member after member up to 6 messages, 15-25 %
# slower from 8).
STACKED_MAX_BATCH = 4


def _classifier(
    forward: Callable[[Weights, Mapping[str, Any], Dict[str, np.ndarray]], np.ndarray],
) -> Callable[..., np.ndarray]:
    """A classifier's forward over member-axis weights, taking one network's weights, or with
    `stacked=True` an ensemble's (`stack_members`): (batch, labels) or (members, batch, labels)."""

    @functools.wraps(forward)
    def run(
        weights: Weights, options: Mapping[str, Any], inputs: Inputs, stacked: bool = False
    ) -> np.ndarray:
        inputs = _as_dict(inputs)
        if stacked and len(inputs["token_ids"]) > STACKED_MAX_BATCH:
            return _member_by_member(run, weights, options, inputs)
        probabilities = forward(as_members(weights, stacked), options, inputs)
        return probabilities if stacked else probabilities[0]

    return run


@_classifier
def text_rnn_forward(
    weights: Weights, options: Mapping[str, Any], inputs: Dict[str, np.ndarray]
) -> np.ndarray:
    """`build_text_rnn(..., **options)`: -> (batch, labels) probabilities; with `stacked` weights
    (`stack_members`), (members, batch, labels)."""
    o = {**TEXT_RNN_DEFAULTS, **options}
    rnn_type, pooling = o["rnn_type"], o["pooling"]
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    mask, x = _embedded(weights, o, inputs)  # x: (M, batch, time, features)
    pooled_inputs = masked_max_pooling(x, mask) if o["pool_inputs"] else None
    for i in range(o["num_layers"]):
        sequences = i < o["num_layers"] - 1 or pooling != "last"
        layer = f"{rnn_type}_{i}"
        if o["bidirectional"]:
            ids = inputs["token_ids"] if i == 0 else None  # x: their embeddings first
            x = bidirectional(weights, f"bi_{layer}", layer, rnn_type, x, mask, sequences, ids)
        else:
            x = recurrent(weights, layer, rnn_type, x, mask, sequences)
    if pooling == "max":  # x: (M, batch, features) after pooling
        x = masked_max_pooling(x, mask)
    elif pooling == "mean":
        x = masked_mean_pooling(x, mask)
    elif pooling == "attention":
        x = attention_pooling(weights, "attention_pool", x, mask)
    if pooled_inputs is not None:
        x = np.concatenate([x, pooled_inputs], axis=-1)
    return _classify(weights, o, x)


@_classifier
def rcnn_forward(
    weights: Weights, options: Mapping[str, Any], inputs: Dict[str, np.ndarray]
) -> np.ndarray:
    """`build_rcnn(..., **options)`: -> (batch, labels) probabilities; with `stacked` weights
    (`stack_members`), (members, batch, labels)."""
    o = {**RCNN_DEFAULTS, **options}
    rnn_type = o["rnn_type"]
    mask, e = _embedded(weights, o, inputs)  # e: (M, batch, time, features)
    left, right = recurrent_together(  # both contexts in one loop
        weights,
        [f"left_{rnn_type}", f"right_{rnn_type}"],
        rnn_type,
        [shift_right(e), shift_right(reverse_valid(e, mask))],
        mask,
    )
    x = np.concatenate([left, e, reverse_valid(right, mask)], axis=-1)
    y = dense(weights, "projection", x, "tanh")  # (M, batch, time, projection units)
    return _classify(weights, o, masked_max_pooling(y, mask))


def tagger_forward(
    weights: Weights, options: Mapping[str, Any], inputs: Inputs
) -> Dict[str, np.ndarray]:
    """`build_tagger(vocab_size, **options)` (options hold `num_tags`): -> {head: (batch, time,
    tags) scores}, the Keras outputs (a CRF layer passes its scores through). With `num_intents`,
    the inputs must hold "intent" (batch, num_intents)."""
    weights = as_members(weights, stacked=False)
    o = {**TAGGER_DEFAULTS, **options}
    if not o.get("num_tags"):
        raise ValueError("options must hold num_tags, the tag count of each head")
    rnn_type, inputs = o["rnn_type"], _as_dict(inputs)
    mask, x = _embedded(weights, o, inputs, chars=o["use_chars"])
    # the intent's projection joins every token's input to the first layer
    intent = intent_features(weights, inputs) if o["num_intents"] > 0 else None
    for i in range(o["num_layers"]):
        layer = f"{rnn_type}_{i}"
        ids, constant = (inputs["token_ids"], intent) if i == 0 else (None, None)
        x = bidirectional(weights, f"bi_{layer}", layer, rnn_type, x, mask, True, ids, constant)
    scores = {}
    for head, count in o["num_tags"].items():
        scores[head] = dense(weights, f"{head}_scores", x)[0]  # (batch, time, tags)
        if scores[head].shape[-1] != count:
            raise ValueError(
                f"head {head!r}: {count} tags in options, weights for {scores[head].shape[-1]}"
            )
    return scores


# Words whose first layer's projection `serving_weights` tabulates: the 1,024 most frequent of
# the training data (with the unknown-word id) are about 90 % of SNIPS test tokens and 93 % of
# CLINC150 data_small's, at 12 KB a word for the default TextRNN ensemble (3 networks, 2
# directions, 4 x 128 gates) and 4 KB for the tagger. Larger networks tabulate fewer words, so
# that no table outgrows TOKEN_TABLE_BYTES.
TOKEN_TABLE_ROWS = 1024
TOKEN_TABLE_BYTES = 16 * 2**20


def serving_weights(
    weights: Weights,
    options: Mapping[str, Any],
    stacked: bool = False,
    rows: int = TOKEN_TABLE_ROWS,
    word_features: Optional[Tuple[np.ndarray, np.ndarray]] = None,
) -> Dict[str, np.ndarray]:
    """`weights` (`stacked` as `stack_members` makes them) as served, computed once at load: each
    bidirectional layer's directions fused (`fuse_directions`), every kernel also stored
    transposed (`with_transposed`), the character CNN's convolution tabulated (`char_table`), and
    where the first layer is bidirectional (the TextRNN's and the tagger's defaults), its
    projection of the `rows` most frequent words tabulated (`tabulate_tokens`; fewer if a word's
    row of every network and direction times `rows` would exceed TOKEN_TABLE_BYTES), with the
    embedding-bag of `word_features` (sparse features that are a function of the word, by token id)
    added to each tabulated word's row (`tabulate_tokens`)."""
    fused = with_transposed(fuse_directions(weights, stacked))
    if f"{CHAR_CNN}/char_conv/kernel" in fused:  # the tagger's characters
        table = char_table(as_members(fused, stacked), CHAR_CNN)
        fused[f"{CHAR_CNN}/{CHAR_TABLE}"] = table if stacked else table[0]
    rnn_type = options.get("rnn_type", "lstm")  # the default of both models with such a layer
    first = _first_layer(options)
    if f"{first}/{FUSED}/kernel" not in fused:
        return fused
    kernel = fused[f"{first}/{FUSED}/kernel"]  # ([M,] 2, features, gates)
    row_bytes = kernel.size // kernel.shape[-2] * 4  # float32, every member and direction
    rows = min(rows, TOKEN_TABLE_BYTES // row_bytes)
    if rows <= 0:
        return fused
    return tabulate_tokens(fused, first, rnn_type, rows, stacked, word_features)


def _first_layer(options: Mapping[str, Any]) -> str:
    """The name of a model's first (bidirectional) recurrent layer, whose inputs are tabulated."""
    return f"bi_{options.get('rnn_type', 'lstm')}_0"


def tabulated_rows(served: Weights, options: Mapping[str, Any]) -> int:
    """How many token ids (the first) `serving_weights` tabulated in `served` (0: none)."""
    table = served.get(f"{_first_layer(options)}/{FUSED}/{TOKEN_TABLE}")
    return 0 if table is None else table.shape[-2]


def _member_by_member(
    forward: Callable[..., np.ndarray],
    weights: Weights,
    options: Mapping[str, Any],
    inputs: Inputs,
) -> np.ndarray:
    """`forward(weights, options, inputs, stacked=True)`, one member after another."""
    members = len(next(iter(weights.values())))
    return np.stack(
        [forward({k: w[m] for k, w in weights.items()}, options, inputs) for m in range(members)]
    )


def _as_dict(inputs: Inputs) -> Dict[str, np.ndarray]:
    """The inputs as a dict holding (batch, time) "token_ids"."""
    inputs = dict(inputs) if isinstance(inputs, Mapping) else {"token_ids": inputs}
    if "token_ids" not in inputs:
        raise ValueError(f"inputs must hold 'token_ids'; given {sorted(inputs)}")
    inputs["token_ids"] = np.asarray(inputs["token_ids"])
    if inputs["token_ids"].ndim != 2:
        raise ValueError(
            f"token_ids must be (batch, time), not of shape {inputs['token_ids'].shape}"
        )
    return inputs


def _embedded(
    weights: Weights, o: Mapping[str, Any], inputs: Dict[str, np.ndarray], chars: bool = False
) -> Tuple[np.ndarray, np.ndarray]:
    """The (batch, time) token mask and each token's vector (M, batch, time, features): word
    embedding [+ character CNN] [+ Rasa's features]. `inputs` as `_as_dict` returns them."""
    token_ids = inputs["token_ids"]
    x = embedding(weights, EMBEDDING, token_ids)  # (M, batch, time, embedding)
    if chars:
        if "char_ids" not in inputs:
            raise ValueError("the network uses characters (use_chars) but inputs lack 'char_ids'")
        x = np.concatenate([x, char_cnn(weights, CHAR_CNN, np.asarray(inputs["char_ids"]))], -1)
    sparse, dense_features = o["sparse_feature_dim"] > 0, o["dense_feature_dim"] > 0
    return token_ids != 0, add_rasa_features(weights, x, inputs, sparse, dense_features)


def _classify(weights: Weights, o: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """ReLU dense layers, then the softmax over intents: (M, batch, features) -> (M, batch,
    labels)."""
    for i in range(len(o["dense_units"])):
        x = dense(weights, f"dense_{i}", x, "relu")
    return dense(weights, "intent", x, "softmax")
