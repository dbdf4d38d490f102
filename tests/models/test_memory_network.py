"""The memory network Keras model alone: shapes, masking of empty slots, hops, tying, learning."""

import numpy as np
import pytest
from tensorflow import keras

from rnn_nlu.models.memory_network import MemoryRead, action_model, build_memory_network

VOCAB, ACTIONS, SLOTS = 20, 4, 6


def ids(*turns, slots: int = SLOTS, width: int = 3) -> dict:
    """One example: the query is the first bag, the remembered turns (newest first) the rest."""
    query, *memory = turns
    m = np.zeros((1, slots, width), dtype=np.int32)
    for j, bag in enumerate(memory):
        m[0, j, : len(bag)] = bag
    q = np.zeros((1, width), dtype=np.int32)
    q[0, : len(query)] = query
    return {"memory": m, "query": q}


@pytest.mark.parametrize("tying", ["layer", "adjacent"])
@pytest.mark.parametrize("hops", [1, 3])
def test_outputs_are_a_distribution_and_attention_per_hop(tying, hops):
    model = build_memory_network(VOCAB, ACTIONS, embedding_dim=8, hops=hops, tying=tying)
    out = model(ids([5, 6], [7], [8, 9]), training=False)
    assert out["action"].shape == (1, ACTIONS)
    np.testing.assert_allclose(out["action"].numpy().sum(), 1.0, rtol=1e-5)
    assert out["attention"].shape == (1, hops, SLOTS)
    np.testing.assert_allclose(out["attention"].numpy().sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("tying", ["layer", "adjacent"])
def test_empty_slots_get_zero_attention_and_change_nothing(tying):
    model = build_memory_network(VOCAB, ACTIONS, embedding_dim=8, tying=tying)
    out = model(ids([5], [7, 2], [], [8]), training=False)  # slot 1 is empty
    attention = out["attention"].numpy()[0]
    assert np.all(attention[:, 1] == 0.0) and np.all(attention[:, 3:] == 0.0)
    assert np.all(attention[:, [0, 2]] > 0.0)
    # Extra empty slots and extra PAD symbols give the same prediction.
    fewer = model(ids([5], [7, 2], [], [8], slots=3, width=2), training=False)
    np.testing.assert_allclose(fewer["action"].numpy(), out["action"].numpy(), atol=1e-6)


def test_no_memory_at_all_gives_zero_attention():
    model = build_memory_network(VOCAB, ACTIONS, embedding_dim=8)
    out = model(ids([5, 6]), training=False)
    assert np.all(out["attention"].numpy() == 0.0)
    np.testing.assert_allclose(out["action"].numpy().sum(), 1.0, rtol=1e-5)


def test_layer_tying_shares_weights_over_hops_and_adjacent_tying_does_not():
    def params(hops, tying):
        return build_memory_network(VOCAB, ACTIONS, 8, hops, tying).count_params()

    assert params(5, "layer") - params(1, "layer") == 4  # only each hop's recency weight
    per_hop = VOCAB * 8 + 2 * 8 + 1  # embedding matrix, temporal encoding, recency weight
    assert params(3, "adjacent") - params(2, "adjacent") == per_hop
    model = build_memory_network(VOCAB, ACTIONS, hops=4)
    assert sum(isinstance(layer, MemoryRead) for layer in model.layers) == 4


def test_temporal_encoding_starts_at_zero():
    model = build_memory_network(VOCAB, ACTIONS)
    for name in ("memory_time", "output_time"):
        assert not np.any(model.get_layer(name).get_weights()[0])


def test_bad_options_are_refused():
    with pytest.raises(AssertionError, match="tying"):
        build_memory_network(VOCAB, ACTIONS, tying="none")
    with pytest.raises(AssertionError, match="hops"):
        build_memory_network(VOCAB, ACTIONS, hops=0)


def test_learns_to_answer_from_the_attended_turn():
    """The answer is the key symbol (2 or 3) hidden at a random depth among filler turns."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n, slots = 400, 8
    memory = np.zeros((n, slots, 2), dtype=np.int32)
    memory[:, :, 0] = rng.integers(4, VOCAB - 1, size=(n, slots))  # filler symbols
    depth = rng.integers(0, slots, size=n)
    answer = rng.integers(0, 2, size=n)
    memory[np.arange(n), depth, 0] = 2 + answer
    query = np.full((n, 1), VOCAB - 1, dtype=np.int32)  # the same question every time
    x = {"memory": memory, "query": query}
    model = build_memory_network(VOCAB, 2, embedding_dim=16, hops=2, dropout=0.0)
    trainable = action_model(model)
    trainable.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    trainable.fit(x, answer, batch_size=32, epochs=30, verbose=0)
    out = model(x, training=False)
    assert (out["action"].numpy().argmax(axis=-1) == answer).mean() > 0.95
    attended = out["attention"].numpy()[:, -1, :].argmax(axis=-1)
    assert (attended == depth).mean() > 0.9


def test_the_more_recent_of_two_mentions_wins_at_distances_never_trained():
    """Two key symbols (2 and 3) at different depths among fillers: the answer is the nearer one.
    Training has depths 0-5 in 6 slots; the test puts them up to 15 turns back, in 16 slots."""

    def examples(n: int, slots: int, max_depth: int, seed: int):
        rng = np.random.default_rng(seed)
        memory = np.zeros((n, slots, 1), dtype=np.int32)
        memory[:, :, 0] = rng.integers(4, VOCAB - 1, size=(n, slots))
        answer = rng.integers(0, 2, size=n)
        for row in range(n):
            near, far = sorted(rng.choice(max_depth + 1, size=2, replace=False))
            memory[row, near, 0] = 2 + answer[row]
            memory[row, far, 0] = 3 - answer[row]
        return {"memory": memory, "query": np.full((n, 1), VOCAB - 1, np.int32)}, answer

    keras.utils.set_random_seed(0)
    x, y = examples(600, 6, 5, seed=0)
    model = build_memory_network(VOCAB, 2, embedding_dim=16, hops=2, dropout=0.0)
    trainable = action_model(model)
    trainable.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    trainable.fit(x, y, batch_size=32, epochs=30, verbose=0)
    for slots, depth in ((6, 5), (16, 15)):
        x_test, y_test = examples(300, slots, depth, seed=slots)
        predicted = model(x_test, training=False)["action"].numpy().argmax(axis=-1)
        assert (predicted == y_test).mean() > 0.98, (slots, depth)
