"""Token lists to padded id arrays."""

import numpy as np

from rnn_nlu.features import PAD_ID, UNK_ID, RaggedRows, Vocabulary, encode_batch, encode_chars


def test_encode_batch_right_pads_to_the_longest_message_and_cuts_at_max_length():
    vocabulary = Vocabulary.build([["book", "a", "flight"], ["book", "it"]])
    ids = encode_batch([["Book", "a", "flight"], ["it"], [], ["zzz", "a"] * 5], vocabulary, 4)
    book, a, flight, it = (vocabulary.encode([w])[0] for w in ("book", "a", "flight", "it"))
    assert ids.dtype == np.int32 and ids.shape == (4, 4)
    np.testing.assert_array_equal(
        ids,
        [
            [book, a, flight, PAD_ID],
            [it, PAD_ID, PAD_ID, PAD_ID],
            [UNK_ID, PAD_ID, PAD_ID, PAD_ID],  # no tokens: one unknown word
            [UNK_ID, a, UNK_ID, a],  # cut at max_length
        ],
    )
    assert encode_batch([], vocabulary, 4).shape == (0, 1)


def test_encode_chars_is_shaped_like_encode_batch():
    characters = Vocabulary.build(["ab"], lowercase=False)
    ids = encode_chars([["ab", "bA"], []], characters, max_length=4, max_word_length=1)
    a, b = characters.encode(["a", "b"])
    np.testing.assert_array_equal(ids, [[[a], [b]], [[PAD_ID], [PAD_ID]]])


def test_ragged_rows_hold_each_examples_active_features_and_pad_back_to_a_batch():
    rng = np.random.default_rng(0)
    tokens = np.array([3, 1, 4, 0])  # the last message has no tokens
    widths = [[2, 5, 1], [1], [3, 3, 2, 4], []]  # active features of each token
    ids = np.zeros((4, 6, 7), np.int32)  # padded to 6 steps and the widest token of all, 5
    values = np.zeros((4, 6, 7), np.float32)
    for i, row in enumerate(widths):
        for t, k in enumerate(row):
            ids[i, t, :k] = rng.integers(1, 50, k)
            values[i, t, :k] = rng.random(k) + 0.1
    ragged_ids, ragged_values = RaggedRows.of(ids, values, tokens)
    assert [r.shape for r in ragged_ids.rows] == [(3, 5), (1, 1), (4, 4), (0, 0)]
    assert ragged_values.rows[2].dtype == np.float32
    np.testing.assert_array_equal(ragged_ids.padded(6), ids[:, :, :5])
    np.testing.assert_array_equal(ragged_values.padded(6), values[:, :, :5])
    batch = ragged_ids[np.array([1, 2])]  # a batch is as wide as its widest token
    np.testing.assert_array_equal(batch.padded(6), ids[[1, 2], :, :4])
    assert RaggedRows.concatenate([ragged_ids[:2], ragged_ids[2:]]).padded(6).shape == (4, 6, 5)
    assert ragged_ids[np.array([3])].padded(6).shape == (1, 6, 1)  # nothing active: one column
