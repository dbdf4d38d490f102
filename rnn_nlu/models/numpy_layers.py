"""The layers of our Keras models in plain NumPy, for serving: no graph to build or trace at load.

Each function gives what the Keras layer of the same name gives in inference mode (dropout off),
to within float32 rounding; weights come as a mapping from `canonical_name`s to arrays, each with
a leading member axis (see `stack_members`).
"""

import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

Weights = Mapping[str, np.ndarray]

# Keras names a recurrent layer's cell with a per-process counter ("lstm_cell_7"): drop it.
_CELL = re.compile(r"/(lstm|gru|simple_rnn)_cell(_\d+)?(?=/)")


def canonical_name(weight_name: str) -> str:
    """A Keras weight's name without what changes from process to process:
    "bi_lstm_0/forward_lstm_0/lstm_cell_7/kernel:0" -> "bi_lstm_0/forward_lstm_0/kernel"."""
    return _CELL.sub("", weight_name).split(":")[0]


def named_members(
    names: Sequence[str], weights: Sequence[np.ndarray], members: int
) -> List[Dict[str, np.ndarray]]:
    """Splits an ensemble's flat weight list (member after member) into one mapping per member."""
    if members < 1 or len(names) != len(weights) or len(weights) % members:
        raise ValueError(
            f"{len(weights)} weight arrays and {len(names)} names cannot be {members} networks"
        )
    size = len(weights) // members
    return [
        dict(zip(names[i * size : (i + 1) * size], weights[i * size : (i + 1) * size]))
        for i in range(members)
    ]


NEG_INF = -1e9  # as `rnn_nlu.models.layers.NEG_INF`, which imports TensorFlow
State = Tuple[np.ndarray, ...]

# The layers below take weights with a leading member axis (M, ...): the M networks of an ensemble
# of one layout (`stack_members`), or one network as M = 1 (`as_members`), run in one pass. Their
# activations are (M, batch, ...); masks and model inputs, shared by the members, have no member
# axis, and an input without one (1, batch, ...) broadcasts over the members.


def stack_members(networks: Sequence[Weights]) -> Dict[str, np.ndarray]:
    """An ensemble's networks of one layout as one set of weights: each weight of the members
    stacked on a new axis 0, as the forward passes take them with `stacked=True`."""
    if not networks:
        raise ValueError("no networks to stack")
    names = set(networks[0])
    for i, network in enumerate(networks[1:], 1):
        if set(network) != names:
            differ = sorted(names.symmetric_difference(network))
            raise ValueError(f"networks 0 and {i} differ in their weights: {differ}")
    stacked = {}
    for name in networks[0]:
        shapes = [np.shape(network[name]) for network in networks]
        if len(set(shapes)) > 1:
            raise ValueError(f"the networks' weight {name!r} differs in shape: {shapes}")
        stacked[name] = np.stack([network[name] for network in networks])
    return stacked


def as_members(weights: Weights, stacked: bool) -> Weights:
    """`weights` with a leading member axis: as they are when `stacked`, else as M = 1 network."""
    return weights if stacked else {name: np.asarray(w)[None] for name, w in weights.items()}


def weight(weights: Weights, name: str) -> np.ndarray:
    """`weights[name]` as float32; a KeyError naming the weight when the network lacks it."""
    if name not in weights:
        raise KeyError(f"the network has no weight {name!r}; it has {sorted(weights)}")
    return np.asarray(weights[name], dtype=np.float32)


def per_member(w: np.ndarray, ndim: int) -> np.ndarray:
    """A (M, n) per-member vector as (M, 1, ..., 1, n), to broadcast over (M, ..., n) arrays."""
    return w.reshape(w.shape[0], *(1,) * (ndim - w.ndim), *w.shape[1:])


def matmul(
    x: np.ndarray, kernel: np.ndarray, transposed: Optional[np.ndarray] = None
) -> np.ndarray:
    """(M or 1, ..., in) @ (M, in, out), member by member: -> (M, ..., out), one batched matmul;
    `transposed`, the kernel as `with_transposed` stores it, speeds up products of a few rows."""
    y = rows_times(x.reshape(x.shape[0], -1, x.shape[-1]), kernel, transposed)
    return y.reshape(y.shape[0], *x.shape[1:-1], kernel.shape[-1])


# Products of a few rows by a kernel are faster as the kernel transposed (stored contiguous) times
# the rows transposed: 9 rows by a (256, 157) kernel in 12 instead of 22 us, by a (50, 512) one
# in 8 instead of 13 us (OpenBLAS, one thread, 2-core AMD EPYC, 2026-12-07); one row, or hundreds,
# take the same time either way.
FEW_ROWS = 64
TRANSPOSED = "kernel_transposed"


def rows_times(
    rows: np.ndarray, kernel: np.ndarray, transposed: Optional[np.ndarray] = None
) -> np.ndarray:
    """(..., rows, in) @ (..., in, out) -> (..., rows, out); with `transposed`, the kernel as
    (..., out, in), 2 to FEW_ROWS rows are multiplied as (transposed @ rows^T)^T, returned
    contiguous (what reads it row by row, as CRF decoding, is slower on a transposed view)."""
    if transposed is not None and 1 < rows.shape[-2] <= FEW_ROWS:
        return np.ascontiguousarray((transposed @ rows.swapaxes(-1, -2)).swapaxes(-1, -2))
    return rows @ kernel


def with_transposed(weights: Weights) -> Dict[str, np.ndarray]:
    """`weights` with each layer's `kernel` also stored transposed and contiguous, as
    `name/kernel_transposed` (..., out, in), for `rows_times`. For serving, at load."""
    extended = dict(weights)
    for key, w in weights.items():
        if key.endswith("/kernel") and np.ndim(w) >= 2:
            extended[key[: -len("kernel")] + TRANSPOSED] = np.ascontiguousarray(
                np.swapaxes(w, -1, -2)
            )
    return extended


HALF = np.float32(0.5)  # a NumPy scalar: Python's 0.5 costs a conversion at every call


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large negative inputs."""
    y = np.tanh(x * HALF)
    y *= HALF
    y += HALF
    return y


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


ACTIVATIONS: Dict[Optional[str], Callable[[np.ndarray], np.ndarray]] = {
    None: lambda x: x,
    "linear": lambda x: x,
    "relu": relu,
    "tanh": np.tanh,
    "softmax": softmax,
}


def embedding(weights: Weights, name: str, ids: np.ndarray) -> np.ndarray:
    """keras.layers.Embedding: (...) ids -> (M, ..., dim)."""
    return weight(weights, f"{name}/embeddings")[:, ids]


def dense(
    weights: Weights,
    name: str,
    x: np.ndarray,
    activation: Optional[str] = None,
    use_bias: bool = True,
) -> np.ndarray:
    """keras.layers.Dense over the last axis: (M or 1, ..., in) -> (M, ..., out)."""
    y = matmul(x, weight(weights, f"{name}/kernel"), weights.get(f"{name}/{TRANSPOSED}"))
    if use_bias:
        y = y + per_member(weight(weights, f"{name}/bias"), y.ndim)
    return ACTIVATIONS[activation](y)


# Recurrent cells. `x_t` is the step's input already times the kernel, plus the input bias (one
# matmul for all steps); leading axes are free: (M, batch) or (directions, M, batch), with
# (..., units, gates) recurrent kernels of the same leading axes but batch.


def lstm_cell(
    x_t: np.ndarray, state: State, recurrent_kernel: np.ndarray, recurrent_bias: None = None
) -> Tuple[np.ndarray, State]:
    """One keras LSTM step, gates in Keras order i, f, c, o: -> (h, (h, c))."""
    h, c = state
    u = h.shape[-1]
    z = h @ recurrent_kernel  # (..., 4 * units); in place below: a step costs microseconds
    z += x_t
    gates = sigmoid(z)
    c = gates[..., u : 2 * u] * c
    c += gates[..., :u] * np.tanh(z[..., 2 * u : 3 * u])
    h = np.tanh(c)
    h *= gates[..., 3 * u :]
    return h, (h, c)


def gru_cell(
    x_t: np.ndarray, state: State, recurrent_kernel: np.ndarray, recurrent_bias: np.ndarray
) -> Tuple[np.ndarray, State]:
    """One keras GRU step (reset_after=True), gates z, r, h: hh = tanh(x_h + r * (h U_h + b_h))."""
    (h,) = state
    u = h.shape[-1]
    inner = h @ recurrent_kernel + recurrent_bias  # (..., 3 * units)
    zr = sigmoid(x_t[..., : 2 * u] + inner[..., : 2 * u])
    z, r = zr[..., :u], zr[..., u:]
    hh = np.tanh(x_t[..., 2 * u :] + r * inner[..., 2 * u :])
    h = z * h + (1.0 - z) * hh
    return h, (h,)


def simple_rnn_cell(
    x_t: np.ndarray, state: State, recurrent_kernel: np.ndarray, recurrent_bias: None = None
) -> Tuple[np.ndarray, State]:
    """One keras SimpleRNN step: h = tanh(x W + b + h U)."""
    h = np.tanh(x_t + state[0] @ recurrent_kernel)
    return h, (h,)


CELLS = {"lstm": (lstm_cell, 2), "gru": (gru_cell, 1), "simple": (simple_rnn_cell, 1)}


def run_cell(
    rnn_type: str,
    projected: np.ndarray,
    mask: np.ndarray,
    recurrent_kernel: np.ndarray,
    recurrent_bias: Optional[np.ndarray] = None,
    return_sequences: bool = True,
    zero_output_for_mask: bool = False,
) -> np.ndarray:
    """A cell over (..., batch, time, gates) projected inputs from a zero state, as
    keras.backend.rnn, with a (..., batch, time) mask broadcasting over the leading axes.

    A masked step keeps the state and outputs zeros (`zero_output_for_mask`) or the previous
    output. Returns (..., batch, time, units), or the last step's output (..., batch, units).
    """
    cell, num_states = CELLS[rnn_type]
    *lead, time, _ = projected.shape
    units = recurrent_kernel.shape[-2]
    zeros = np.zeros((*lead, units), np.float32)
    state: State = (zeros,) * num_states
    output = zeros
    outputs = np.empty((*lead, time, units), np.float32) if return_sequences else None
    lead_axes = tuple(range(mask.ndim - 1))
    any_valid, all_valid = mask.any(axis=lead_axes).tolist(), mask.all(axis=lead_axes).tolist()
    for t in range(time):
        if all_valid[t]:  # the common case (one message): no masking to do
            output, state = cell(projected[..., t, :], state, recurrent_kernel, recurrent_bias)
        elif any_valid[t]:
            new_output, new_state = cell(
                projected[..., t, :], state, recurrent_kernel, recurrent_bias
            )
            valid = mask[..., t, None]  # (..., batch, 1)
            state = tuple(np.where(valid, new, old) for new, old in zip(new_state, state))
            output = np.where(valid, new_output, zeros if zero_output_for_mask else output)
        elif zero_output_for_mask:
            output = zeros
        if outputs is not None:
            outputs[..., t, :] = output
    return outputs if outputs is not None else output


def _rnn_weights(
    weights: Weights, name: str, rnn_type: str
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """kernel, recurrent kernel, input bias, recurrent bias (GRU only, (..., 1, 3 * units)) of a
    recurrent layer; leading axes as stored ((M, ...), or (M, 2, ...) for `fuse_directions`)."""
    if rnn_type not in CELLS:
        raise ValueError(f"rnn_type must be one of {sorted(CELLS)}, not {rnn_type!r}")
    kernel = weight(weights, f"{name}/kernel")
    recurrent_kernel = weight(weights, f"{name}/recurrent_kernel")
    bias = weight(weights, f"{name}/bias")
    if rnn_type == "gru":  # (..., 2, 3 * units): input bias, recurrent bias
        return kernel, recurrent_kernel, bias[..., 0, :], bias[..., 1:, :]
    return kernel, recurrent_kernel, bias, None


FUSED = "fused_directions"
# keras.layers.Bidirectional's two layers, in the order their outputs are concatenated
DIRECTIONS = ("forward", "backward")
_FORWARD_KERNEL = re.compile(r"(.+)/forward_([^/]+)/kernel")


def fuse_directions(weights: Weights, stacked: bool = False) -> Dict[str, np.ndarray]:
    """`weights` with each bidirectional layer `name`'s two directions' weights replaced by one
    stack of them, `name/fused_directions/...`, forward first, after the member axis when
    `stacked` (`stack_members`): `bidirectional` then runs both directions in one matmul without
    stacking them at every call. For serving, at load."""
    fused, axis = dict(weights), 1 if stacked else 0
    for key in weights:
        match = _FORWARD_KERNEL.fullmatch(key)
        if match:
            name, layer = match.groups()
            for part in ("kernel", "recurrent_kernel", "bias"):
                ways = [fused.pop(f"{name}/{way}_{layer}/{part}") for way in DIRECTIONS]
                fused[f"{name}/{FUSED}/{part}"] = np.stack(ways, axis=axis)
    return fused


def _projected(
    x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, transposed: Optional[np.ndarray] = None
) -> np.ndarray:
    """A recurrent layer's inputs times its kernel plus the input bias, all steps at once."""
    y = matmul(x, kernel, transposed)
    return y + per_member(bias, y.ndim)


def recurrent(
    weights: Weights,
    name: str,
    rnn_type: str,
    x: np.ndarray,
    mask: np.ndarray,
    return_sequences: bool = True,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
) -> np.ndarray:
    """keras LSTM/GRU/SimpleRNN layer `name` over (M, batch, time, features) with a (batch, time)
    mask.

    Returns (M, batch, time, units) (in processing order: reversed when `go_backwards`, as Keras),
    or the last output (M, batch, units).
    """
    kernel, recurrent_kernel, input_bias, recurrent_bias = _rnn_weights(weights, name, rnn_type)
    transposed = weights.get(f"{name}/{TRANSPOSED}")
    projected = _projected(x, kernel, input_bias, transposed)  # (M, batch, time, gates * units)
    if go_backwards:
        projected, mask = projected[..., ::-1, :], mask[:, ::-1]
    return run_cell(
        rnn_type,
        projected,
        mask,
        recurrent_kernel,
        recurrent_bias,
        return_sequences,
        zero_output_for_mask,
    )


def recurrent_together(
    weights: Weights,
    names: Sequence[str],
    rnn_type: str,
    xs: Sequence[np.ndarray],
    mask: np.ndarray,
) -> List[np.ndarray]:
    """`recurrent(weights, name, rnn_type, x, mask)` for each (name, x) pair, all in one loop:
    layers of one type and size over inputs of one shape, with a leading layer axis, one batched
    matmul a step. Returns each layer's (M, batch, time, units) outputs."""
    parts = [_rnn_weights(weights, name, rnn_type) for name in names]
    projected = np.stack(
        [
            _projected(x, p[0], p[2], weights.get(f"{name}/{TRANSPOSED}"))
            for x, p, name in zip(xs, parts, names)
        ]
    )
    recurrent_bias = None if parts[0][3] is None else np.stack([p[3] for p in parts])
    return list(
        run_cell(rnn_type, projected, mask, np.stack([p[1] for p in parts]), recurrent_bias)
    )


def bidirectional(
    weights: Weights,
    name: str,
    layer: str,
    rnn_type: str,
    x: np.ndarray,
    mask: np.ndarray,
    return_sequences: bool = True,
    token_ids: Optional[np.ndarray] = None,
    constant: Optional[np.ndarray] = None,
) -> np.ndarray:
    """keras.layers.Bidirectional `name` around recurrent layer `layer` (concat, forward first)
    over (M, batch, time, features) with a (batch, time) mask; `constant` (M, batch, c) features
    join every step's input after x's (projected once, not at every step).

    Masked steps output zeros when returning sequences (Keras forces `zero_output_for_mask`
    there). Both directions of every member run in one loop: (2, M, batch, ...) arrays, one
    batched matmul a step. Given the (batch, time) `token_ids` whose word embeddings are x's first
    features, a layer with a token table (`tabulate_tokens`) looks their projection up. Returns
    (M, batch, time, 2 * units) or (M, batch, 2 * units).
    """
    kernel, recurrent_kernel, bias, recurrent_bias = _direction_weights(
        weights, name, layer, rnn_type
    )  # (2, M, ...)
    table = _member_axis_second(weights.get(f"{name}/{FUSED}/{TOKEN_TABLE}"))
    transposed = _member_axis_second(weights.get(f"{name}/{FUSED}/{TRANSPOSED}"))
    kernel, constant_kernel = kernel[..., : x.shape[-1], :], kernel[..., x.shape[-1] :, :]
    if transposed is not None:  # (2, M, gates, features): x's part
        transposed = transposed[..., : x.shape[-1]]
    if token_ids is not None and table is not None:
        embedding_dim = weights[f"{EMBEDDING}/embeddings"].shape[-1]
        projected = _looked_up(
            table, embedding_dim, kernel, bias, x, np.asarray(token_ids), transposed
        )
        projected[1] = np.flip(projected[1], axis=-2).copy()  # the backward direction's order
    else:  # (2, M, batch, time, gates * units), the backward direction's steps reversed
        inputs = np.stack([x, x[..., ::-1, :]])  # (2, M or 1, batch, time, features)
        flat = inputs.reshape(*inputs.shape[:2], -1, inputs.shape[-1])
        projected = rows_times(flat, kernel, transposed)
        projected = projected.reshape(*projected.shape[:2], *x.shape[1:-1], kernel.shape[-1])
        projected += bias.reshape(*bias.shape[:2], 1, 1, bias.shape[-1])
    if constant is not None:  # (2, M, batch, gates), the same at every step
        projected += (constant @ constant_kernel)[..., None, :]
    elif constant_kernel.shape[-2]:
        raise ValueError(f"{name}: {constant_kernel.shape[-2]} input features missing")
    masks = np.stack([mask, mask[:, ::-1]])[:, None]  # (2, 1, batch, time)
    out = run_cell(
        rnn_type,
        projected,
        masks,
        recurrent_kernel,  # (2, M, units, gates * units)
        recurrent_bias,  # (2, M, 1, gates * units) or None
        return_sequences,
        zero_output_for_mask=return_sequences,
    )
    if return_sequences:  # (2, M, batch, time, units): the backward outputs back in input order
        return np.concatenate([out[0], out[1][..., ::-1, :]], axis=-1)
    return np.concatenate([out[0], out[1]], axis=-1)


# Rare words' rows multiplied one by one up to this many: OpenBLAS multiplies a (1, 128) row by a
# (128, 512) kernel in about 4 us but 2 to 9 rows at once in 40-50 us (2-core AMD EPYC, 2026-12-06)
ROW_BY_ROW = 8


def _looked_up(
    table: np.ndarray,
    embedding_dim: int,
    kernel: np.ndarray,
    bias: np.ndarray,
    x: np.ndarray,
    token_ids: np.ndarray,
    transposed: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Both directions' x times the kernel plus the input bias, (2, M, batch, time, gates) in
    input order, where x's first `embedding_dim` features embed `token_ids`: the (2, M, rows,
    gates) table's row for each id below `rows`, the others multiplied; then the features after
    the embedding times the rest of the kernel (`transposed`: the kernel as (2, M, gates,
    features), for `rows_times`)."""
    rows = table.shape[-2]
    known = token_ids < rows
    projected = table[:, :, np.where(known, token_ids, 0)]  # (2, M, batch, time, gates)
    rare = np.nonzero(~known)
    words = kernel[..., :embedding_dim, :]  # (2, M, embedding_dim, gates)
    words_t = rest_t = None
    if transposed is not None:
        words_t, rest_t = transposed[..., :embedding_dim], transposed[..., embedding_dim:]
    if len(rare[0]) > ROW_BY_ROW:
        rare_x = x[:, rare[0], rare[1], :embedding_dim]  # (M or 1, rare, embedding_dim)
        projected[:, :, rare[0], rare[1]] = rows_times(rare_x, words, words_t)
        projected[:, :, rare[0], rare[1]] += bias[:, :, None]
    else:
        for b, t in zip(*rare):
            row = x[:, b, t, None, :embedding_dim] @ words  # (2, M, 1, gates)
            projected[:, :, b, t] = row[:, :, 0] + bias
    rest = x[..., embedding_dim:]  # the features after the word embedding, if any; only some
    present = rest.any(axis=-1).any(axis=0)  # tokens have them where the table holds the others'
    if present.all():  # (`tabulate_tokens`' word_features): (batch, time)
        rest = rest.reshape(rest.shape[0], -1, rest.shape[-1])
        flat = rows_times(rest, kernel[..., embedding_dim:, :], rest_t)
        projected += flat.reshape(projected.shape)
    elif present.any():
        b, t = np.nonzero(present)
        projected[:, :, b, t] += rows_times(rest[:, b, t], kernel[..., embedding_dim:, :], rest_t)
    return projected


def _member_axis_second(stored: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """A fused (M, 2, ...) array as (2, M, ...)."""
    return None if stored is None else stored.swapaxes(0, 1)  # (np.moveaxis: 4 us a call)


TOKEN_TABLE = "token_table"
EMBEDDING = "embedding"  # the word embedding's layer, in every model


def tabulate_tokens(
    weights: Weights,
    name: str,
    rnn_type: str,
    rows: int,
    stacked: bool = False,
    word_features: Optional[Tuple[np.ndarray, np.ndarray]] = None,
) -> Dict[str, np.ndarray]:
    """`weights` with the fused (`fuse_directions`) bidirectional layer `name`'s input projection
    of the word embedding's first `rows` ids (plus the input bias) stored as `name/fused_directions/
    token_table`, laid out like the layer's other fused weights: `bidirectional`, given the token
    ids, then looks those rows up instead of multiplying. `Vocabulary` puts the most frequent
    words first. For serving, at load: rows x 2 directions x (gates x units) floats a member.

    `word_features`, the (ids, values) of sparse features that are a function of the word (the
    classifiers' character n-grams), (>= rows, K) by token id, adds their embedding-bag's
    projection (the inputs right after the word embedding) to each row: given those ids without
    their features, the layer then reads them from the table."""
    kernel, _, bias, _ = _rnn_weights(weights, f"{name}/{FUSED}", rnn_type)
    embeddings = weight(weights, f"{EMBEDDING}/embeddings")
    if not stacked:
        kernel, bias, embeddings = kernel[None], bias[None], embeddings[None]
    dim = embeddings.shape[-1]
    words = embeddings[:, None, :rows]  # (M, 1, rows, dim)
    table = words @ kernel[..., :dim, :] + bias[:, :, None]  # (M, 2, rows, gates)
    if word_features is not None:
        members = weights if stacked else as_members(weights, False)
        ids, values = (np.asarray(a)[:rows] for a in word_features)
        bag = weighted_embedding_bag(members, "sparse_features", ids, values)  # (M, rows, units)
        units = bag.shape[-1]
        table += bag[:, None] @ kernel[..., dim : dim + units, :]
    return {**weights, f"{name}/{FUSED}/{TOKEN_TABLE}": table if stacked else table[0]}


def _direction_weights(
    weights: Weights, name: str, layer: str, rnn_type: str
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """A bidirectional layer's kernel, recurrent kernel, input bias, recurrent bias (GRU), each
    (2, M, ...) with the forward direction first: views of `fuse_directions`' arrays, or stacked."""
    if f"{name}/{FUSED}/kernel" in weights:
        parts = _rnn_weights(weights, f"{name}/{FUSED}", rnn_type)
        return tuple(_member_axis_second(p) for p in parts)  # type: ignore
    ways = [_rnn_weights(weights, f"{name}/{way}_{layer}", rnn_type) for way in DIRECTIONS]
    return tuple(None if f is None else np.stack([f, b]) for f, b in zip(*ways))  # type: ignore


def masked_max_pooling(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """MaskedGlobalMaxPooling1D: (..., batch, time, units), (batch, time) -> (..., batch, units)."""
    return np.where(mask[..., None], x, np.float32(NEG_INF)).max(axis=-2)


def masked_mean_pooling(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """GlobalAveragePooling1D with a mask: (..., batch, time, units) -> (..., batch, units)."""
    m = mask[..., None].astype(np.float32)
    return (x * m).sum(axis=-2) / m.sum(axis=-2)


def attention_pooling(weights: Weights, name: str, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """AttentionPooling: sum_t softmax_t(v . tanh(W x_t + b)) x_t, padding masked:
    (M, batch, time, units) -> (M, batch, units)."""
    projected = dense(weights, f"{name}/project", x, "tanh")  # (M, batch, time, attention units)
    scores = dense(weights, f"{name}/score", projected, use_bias=False)[..., 0]  # (M, batch, time)
    attention = softmax(np.where(mask, scores, np.float32(NEG_INF)))
    return (attention[..., None, :] @ x)[..., 0, :]


def weighted_embedding_bag(
    weights: Weights, name: str, ids: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """WeightedEmbeddingBag: (batch, time, K) ids (0: padding), values -> (M, batch, time,
    units)."""
    values = np.where(ids != 0, values, 0.0).astype(np.float32)
    vectors = embedding(weights, f"{name}/feature_embedding", ids)  # (M, batch, time, K, units)
    return (values[..., None, :] @ vectors)[..., 0, :]


def add_rasa_features(
    weights: Weights,
    x: np.ndarray,
    inputs: Mapping[str, np.ndarray],
    sparse: bool,
    dense_features: bool,
) -> np.ndarray:
    """layers.add_rasa_features in inference: [x; bag of sparse features; projected dense ones]."""
    parts = [x]
    if sparse:
        ids, values = _input(inputs, "feature_ids"), _input(inputs, "feature_values")
        parts.append(weighted_embedding_bag(weights, "sparse_features", ids, values))
    if dense_features:
        features = _input(inputs, "dense_features")[None]  # (1, batch, time, features)
        parts.append(dense(weights, "dense_projection", features))
    return np.concatenate(parts, axis=-1) if len(parts) > 1 else x


def intent_features(weights: Weights, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """tagger.add_intent's projection of the (batch, intents) "intent" input, tanh(intent W + b):
    (M, batch, intent units), the features it adds at every token."""
    intent = _input(inputs, "intent")[None]  # (1, batch, intents)
    intents = weight(weights, "intent_projection/kernel").shape[1]
    if intent.ndim != 3 or intent.shape[-1] != intents:
        raise ValueError(f"'intent' must be (batch, {intents}), not {intent.shape[1:]}")
    return dense(weights, "intent_projection", intent, "tanh")


def _input(inputs: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    if key not in inputs:
        raise ValueError(f"the network needs the input {key!r}; given {sorted(inputs)}")
    return np.asarray(inputs[key])


CHAR_TABLE = "char_table"


def char_table(weights: Weights, name: str) -> np.ndarray:
    """CharCNN `name`'s convolution read as lookups: (M, width, characters, filters), each
    character's embedding times each kernel position's weights, zeros for the padding id 0 (its
    embedding is masked to zeros). `serving_weights` stores it at load as `name/char_table`."""
    if f"{name}/{CHAR_TABLE}" in weights:
        return weight(weights, f"{name}/{CHAR_TABLE}")
    kernel = weight(weights, f"{name}/char_conv/kernel")  # (M, width, embedding, filters)
    embeddings = weight(weights, f"{name}/char_embedding/embeddings")  # (M, characters, dim)
    table = embeddings[:, None] @ kernel  # (M, width, characters, filters)
    table[:, :, 0] = 0.0
    return table


def char_cnn(weights: Weights, name: str, char_ids: np.ndarray) -> np.ndarray:
    """CharCNN: (batch, time, chars) ids, 0 for padding -> (M, batch, time, filters).

    Embedding zeroed at padding, Conv1D 'same' + ReLU, max over each word's characters; a word
    without characters gets zeros. The convolution is a sum of `char_table` lookups, one per
    kernel position; the bias and ReLU after the max, which they commute with.
    """
    table = char_table(weights, name)  # (M, width, characters, filters)
    bias = weight(weights, f"{name}/char_conv/bias")
    members, width, _, filters = table.shape
    batch, time, chars = char_ids.shape
    if chars == 0:
        return np.zeros((members, batch, time, filters), np.float32)
    before = (width - 1) // 2  # TensorFlow's 'same': the extra padding goes after
    padded = np.zeros((batch, time, chars + width - 1), np.intp)
    padded[..., before : before + chars] = char_ids
    features = table[:, 0, padded[..., :chars]]  # (M, batch, time, chars, filters)
    for k in range(1, width):
        features += table[:, k, padded[..., k : k + chars]]
    present = char_ids != 0  # (batch, time, chars)
    best = np.where(present[..., None], features, np.float32(NEG_INF)).max(axis=-2)
    best = relu(best + per_member(bias, best.ndim))
    return np.where(present.any(axis=-1)[..., None], best, np.float32(0.0))


def shift_right(x: np.ndarray) -> np.ndarray:
    """rcnn.ShiftRight: x'_t = x_{t-1}, x'_0 = 0 over (..., time, features). (np.pad took 35 us
    a call for a 9-token message, this 2 us.)"""
    shifted = np.zeros_like(x)
    shifted[..., 1:, :] = x[..., :-1, :]
    return shifted


def reverse_valid(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """rcnn.ReverseValid: each sequence's unpadded prefix reversed, right padding in place;
    (..., batch, time, features) with a (batch, time) mask."""
    lengths = mask.sum(axis=1)[:, None]  # (batch, 1)
    steps = np.arange(x.shape[-2])[None, :]  # (1, time)
    index = np.where(steps < lengths, lengths - 1 - steps, steps)  # (batch, time)
    return x[..., np.arange(x.shape[-3])[:, None], index, :]
