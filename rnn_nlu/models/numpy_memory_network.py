"""The memory network of `memory_network.py` in plain NumPy, for serving (see `numpy_layers`)."""

from typing import Any, Dict, Mapping

import numpy as np

from rnn_nlu.models.numpy_layers import Weights

NEG_INF = -1e9


def _bag(weights: Weights, name: str, ids: np.ndarray) -> np.ndarray:
    """BagEmbedding: the sum of the ids' embeddings, PAD (0) adding nothing."""
    vectors = weights[f"{name}_embedding/embeddings"][ids]  # (..., symbols, dim)
    return (vectors * (ids > 0)[..., None]).sum(axis=-2)  # (..., dim)


def _time(weights: Weights, name: str, memory: np.ndarray) -> np.ndarray:
    """TemporalEncoding: T(i) = W [log(1 + i), 1 / (1 + i)] added to slot i."""
    distance = np.arange(memory.shape[1], dtype=np.float32)
    features = np.stack([np.log1p(distance), 1.0 / (1.0 + distance)], axis=-1)  # (slots, 2)
    return memory + features @ weights[f"{name}_time/encoding"]


def memory_network_forward(
    weights: Weights, options: Mapping[str, Any], inputs: Mapping[str, np.ndarray]
) -> Dict[str, np.ndarray]:
    """{"action": (batch, actions) probabilities, "attention": (batch, hops, slots)} for
    {"memory": (batch, slots, symbols), "query": (batch, symbols)} ids, as the Keras model."""
    memory, query = np.asarray(inputs["memory"]), np.asarray(inputs["query"])
    hops = int(options.get("hops", 3))
    filled = (memory > 0).any(axis=-1)  # (batch, slots)
    if options.get("tying", "layer") == "layer":
        m = _time(weights, "memory", _bag(weights, "memory", memory))  # (batch, slots, dim)
        c = _time(weights, "output", _bag(weights, "output", memory))
        keys, values = [m] * hops, [c] * hops
        u = _bag(weights, "query", query)  # (batch, dim)
        hop_map = weights["hop_map/kernel"]
    else:
        embedded = [
            _time(weights, f"hop_{k}", _bag(weights, f"hop_{k}", memory)) for k in range(hops + 1)
        ]
        keys, values = embedded[:-1], embedded[1:]
        u, hop_map = _bag(weights, "hop_0", query), None
    current = u
    distance = np.arange(memory.shape[1], dtype=np.float32)
    attention = []
    for k in range(hops):
        scores = np.einsum("bd,bsd->bs", u, keys[k]) + weights[f"read_{k}/recency"] * distance
        scores = np.where(filled, scores, NEG_INF)
        p = np.exp(scores - scores.max(axis=-1, keepdims=True)) * filled
        total = p.sum(axis=-1, keepdims=True)
        p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
        o = np.einsum("bs,bsd->bd", p, values[k])
        u = (u @ hop_map if hop_map is not None else u) + o
        attention.append(p)
    logits = (
        np.concatenate([u, current], axis=-1) @ weights["action/kernel"] + weights["action/bias"]
    )
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return {
        "action": (e / e.sum(axis=-1, keepdims=True)).astype(np.float32),
        "attention": np.stack(attention, axis=1).astype(np.float32),  # (batch, hops, slots)
    }
