"""The NumPy memory network gives the Keras model's actions and attention, for every option."""

import numpy as np
import pytest

from rnn_nlu.models.memory_network import build_memory_network
from rnn_nlu.models.numpy_layers import canonical_name
from rnn_nlu.models.numpy_memory_network import memory_network_forward

VOCAB, ACTIONS = 30, 7


def randomised(model, seed: int) -> dict:
    """Random non-zero weights (temporal encodings and recency start at zero) by canonical name."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.weights])
    return {canonical_name(w.name): w.numpy() for w in model.weights}


def conversations(rng: np.random.Generator, batch: int, slots: int, width: int) -> dict:
    """Random bags with empty symbols and empty slots, one conversation with no memory at all."""
    memory = rng.integers(0, VOCAB, (batch, slots, width)).astype(np.int32)
    memory[rng.random((batch, slots)) < 0.3] = 0  # empty turns
    memory[0] = 0
    query = rng.integers(0, VOCAB, (batch, width)).astype(np.int32)
    return {"memory": memory, "query": query}


@pytest.mark.parametrize("tying", ["layer", "adjacent"])
@pytest.mark.parametrize("hops", [1, 3])
def test_numpy_forward_equals_keras(tying, hops):
    options = {"embedding_dim": 8, "hops": hops, "tying": tying, "dropout": 0.1}
    model = build_memory_network(VOCAB, ACTIONS, **options)
    weights = randomised(model, seed=hops)
    rng = np.random.default_rng(0)
    for slots, width in [(1, 1), (5, 3), (40, 6)]:
        inputs = conversations(rng, 6, slots, width)
        expected = model(inputs, training=False)
        found = memory_network_forward(weights, options, inputs)
        for key in ("action", "attention"):
            np.testing.assert_allclose(found[key], expected[key].numpy(), atol=1e-5)


def test_a_missing_weight_is_named():
    options = {"embedding_dim": 8, "hops": 2}
    weights = randomised(build_memory_network(VOCAB, ACTIONS, **options), seed=0)
    del weights["read_1/recency"]
    with pytest.raises(KeyError, match="read_1/recency"):
        memory_network_forward(weights, options, conversations(np.random.default_rng(0), 2, 3, 2))
