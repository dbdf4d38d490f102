"""Token lists to padded id arrays."""

import numpy as np

from rnn_nlu.features import PAD_ID, UNK_ID, Vocabulary, encode_batch, encode_chars


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
