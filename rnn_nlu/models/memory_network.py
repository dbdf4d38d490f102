"""End-to-end memory network (MemN2N) choosing a dialogue's next action from its remembered turns.

After Sukhbaatar, Szlam, Weston & Fergus, "End-To-End Memory Networks" (NeurIPS 2015), used for
goal-oriented dialogue as in Bordes, Boureau & Weston, "Learning End-to-End Goal-Oriented Dialog"
(ICLR 2017). Each past turn is a bag of symbol ids (PAD = 0); slot 0 of the memory holds the most
recent past turn, slot j the turn j + 1 steps back, and all-PAD slots are empty. The current turn
is the query. Every hop reads the memory with attention and updates the controller state:

    m_i = sum A x_i + T_A(i)      c_i = sum C x_i + T_C(i)      u = sum B q
    p   = softmax(u . m_i + r_k i) over the filled slots   o = sum_i p_i c_i   u <- H u + o

then a softmax over the actions of [u, sum B q]: the current turn keeps a direct path to the
answer however many slots are filled. Layer-wise tying shares A, C and T over hops and learns H;
adjacent tying uses A_{k+1} = C_k, B = A_1 and H = identity.

The temporal encoding T(i) is not the paper's table of one learned vector per slot (a vector that
stays zero at any distance training never reached) but a learned linear map of features of the
distance, log(1 + i) and 1 / (1 + i), and each hop adds a learned bias r_k i linear in the distance
to its attention scores: "more recent" then keeps its meaning at distances never seen in
training, and the memory has no fixed size.
"""

from typing import Any, Dict, Optional

import tensorflow as tf
from tensorflow import keras

TYINGS = ("layer", "adjacent")
NEG_INF = -1e9


class BagEmbedding(keras.layers.Layer):
    """Sum of a bag's symbol embeddings, PAD (0) adding nothing: (..., symbols) -> (..., dim)."""

    def __init__(self, input_dim: int, output_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim

    def build(self, input_shape: tf.TensorShape) -> None:
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.input_dim, self.output_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.1),  # the paper's N(0, 0.1)
        )

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        vectors = tf.gather(self.embeddings, ids)  # (..., symbols, dim)
        present = tf.cast(ids > 0, vectors.dtype)[..., None]  # (..., symbols, 1)
        return tf.reduce_sum(vectors * present, axis=-2)  # (..., dim)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim}


class TemporalEncoding(keras.layers.Layer):
    """Adds T(i) = W [log(1 + i), 1 / (1 + i)] to memory slot i (i turns back, 0 the latest):
    (batch, slots, dim) -> same, for any number of slots.

    A function of the distance rather than a vector per slot, so that order and recency hold at
    distances never seen in training. Starts at zero: at first only a turn's content counts.
    """

    FEATURES = 2

    def build(self, input_shape: tf.TensorShape) -> None:
        self.encoding = self.add_weight(
            name="encoding", shape=(self.FEATURES, int(input_shape[-1])), initializer="zeros"
        )

    def call(self, memory: tf.Tensor) -> tf.Tensor:
        distance = tf.cast(tf.range(tf.shape(memory)[1]), memory.dtype)  # (slots,)
        features = tf.stack([tf.math.log1p(distance), 1.0 / (1.0 + distance)], axis=-1)
        return memory + tf.matmul(features, self.encoding)  # (slots, dim) broadcast over batch


class FilledSlots(keras.layers.Layer):
    """Which memory slots hold a turn: (batch, slots, symbols) ids -> (batch, slots) bool."""

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.reduce_any(ids > 0, axis=-1)


class MemoryRead(keras.layers.Layer):
    """One hop's read of the memory: (o, p) of shapes (batch, dim) and (batch, 1, slots).

    p = softmax(u . m_i + r i) over the filled slots, i the slot's distance (turns back) and r a
    learned recency weight of this hop (0 at first): a bias linear in the distance, so that "the
    nearer of two similar turns" is told apart by the same margin at any distance. Empty slots get
    exactly 0, and with no filled slot at all p = 0 and o = 0. o = sum_i p_i c_i.
    """

    def build(self, input_shape: Any) -> None:
        self.recency = self.add_weight(name="recency", shape=(), initializer="zeros")

    def call(self, inputs: Any) -> Any:
        u, m, c, filled = inputs  # (batch, dim), (batch, slots, dim) twice, (batch, slots)
        distance = tf.cast(tf.range(tf.shape(m)[1]), m.dtype)  # (slots,)
        scores = tf.einsum("bd,bsd->bs", u, m) + self.recency * distance  # (batch, slots)
        scores = tf.where(filled, scores, tf.cast(NEG_INF, scores.dtype))
        p = tf.nn.softmax(scores, axis=-1) * tf.cast(filled, scores.dtype)
        p = tf.math.divide_no_nan(p, tf.reduce_sum(p, axis=-1, keepdims=True))
        o = tf.einsum("bs,bsd->bd", p, c)  # (batch, dim)
        return o, p[:, None, :]


def build_memory_network(
    vocab_size: int,
    num_actions: int,
    embedding_dim: int = 64,
    hops: int = 3,
    tying: str = "layer",
    dropout: float = 0.1,
) -> keras.Model:
    """Builds the memory network.

    Args:
        vocab_size: number of symbol ids, PAD (0) and UNK (1) included.
        num_actions: size of the softmax over actions.
        embedding_dim: size of the symbol embeddings and of the controller state u.
        hops: rounds of reading the memory.
        tying: "layer" (A, C shared over hops, u <- H u + o) or "adjacent" (A_{k+1} = C_k,
            B = A_1, u <- u + o).
        dropout: rate on the embedded memory and query, and before the softmax.

    Returns:
        A model from {"memory": (batch, slots, symbols), "query": (batch, symbols)} int32 ids to
        {"action": (batch, num_actions) probabilities, "attention": (batch, hops, slots)}.
    """
    assert vocab_size > 2, "vocabulary must hold at least one symbol besides PAD and UNK"
    assert num_actions >= 1, "there must be at least one action to choose"
    assert hops >= 1, "hops must be at least 1"
    assert tying in TYINGS, f"tying must be one of {TYINGS}, not {tying!r}"

    memory = keras.Input(
        shape=(None, None), dtype="int32", name="memory"
    )  # (batch, slots, symbols)
    query = keras.Input(shape=(None,), dtype="int32", name="query")  # (batch, symbols)
    filled = FilledSlots(name="filled_slots")(memory)  # (batch, slots)
    drop = keras.layers.Dropout(dropout, name="embedding_dropout")

    def bag(name: str) -> BagEmbedding:
        return BagEmbedding(vocab_size, embedding_dim, name=f"{name}_embedding")

    def embed_memory(bag: BagEmbedding, name: str) -> tf.Tensor:
        time = TemporalEncoding(name=f"{name}_time")
        return drop(time(bag(memory)))  # (batch, slots, dim)

    hop_map: Optional[keras.layers.Layer] = None
    if tying == "layer":
        m, c = embed_memory(bag("memory"), "memory"), embed_memory(bag("output"), "output")
        keys, values = [m] * hops, [c] * hops
        query_bag = bag("query")
        hop_map = keras.layers.Dense(embedding_dim, use_bias=False, name="hop_map")  # H
    else:
        bags = [bag(f"hop_{k}") for k in range(hops + 1)]  # E_0 .. E_hops
        embedded = [embed_memory(b, f"hop_{k}") for k, b in enumerate(bags)]
        keys, values = embedded[:-1], embedded[1:]  # A_k = E_{k-1}, C_k = E_k
        query_bag = bags[0]  # B = A_1
    u = current = drop(query_bag(query))  # (batch, dim)

    attention = []
    for k in range(hops):
        o, p = MemoryRead(name=f"read_{k}")([u, keys[k], values[k], filled])
        u = keras.layers.Add(name=f"controller_{k}")([hop_map(u) if hop_map else u, o])
        attention.append(p)  # (batch, 1, slots)
    if hops > 1:
        attention_out = keras.layers.Concatenate(axis=1, name="attention")(attention)
    else:
        attention_out = keras.layers.Activation("linear", name="attention")(attention[0])
    u = keras.layers.Concatenate(name="with_current_turn")([u, current])  # (batch, 2 dim)
    u = keras.layers.Dropout(dropout, name="controller_dropout")(u)
    action = keras.layers.Dense(num_actions, activation="softmax", name="action")(u)
    return keras.Model(
        {"memory": memory, "query": query},
        {"action": action, "attention": attention_out},  # (batch, actions), (batch, hops, slots)
        name="memory_network",
    )


def action_model(model: keras.Model) -> keras.Model:
    """The same layers with only the action output: what training fits."""
    return keras.Model(model.input, model.output["action"], name=f"{model.name}_actions")
