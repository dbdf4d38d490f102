"""Turning token lists (and the features Rasa's featurizers computed per token) into padded
arrays, and labels into ids. No Rasa imports here."""

from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1


class Vocabulary:
    """Token <-> id map with PAD=0 and UNK=1; serialisable to JSON."""

    def __init__(self, tokens: Sequence[str], lowercase: bool = True) -> None:
        self.tokens = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
        self.lowercase = lowercase
        # Text that happens to read "<pad>" or "<unk>" is an unknown word, never the special ids.
        self._ids = {token: i for i, token in enumerate(self.tokens) if i > UNK_ID}

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_frequency: int = 1, lowercase: bool = True
    ) -> "Vocabulary":
        """Vocabulary of the tokens seen at least `min_frequency` times, most frequent first."""
        counts = Counter(cls._norm(t, lowercase) for tokens in token_lists for t in tokens)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_frequency), key=lambda t: (-counts[t], t)
        )
        return cls(kept, lowercase)

    @staticmethod
    def _norm(token: str, lowercase: bool) -> str:
        return token.lower() if lowercase else token

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> List[int]:
        """Ids of `tokens`; unknown tokens map to UNK, and no tokens to a single UNK."""
        ids = [self._ids.get(self._norm(t, self.lowercase), UNK_ID) for t in tokens]
        return ids or [UNK_ID]

    def to_json(self) -> Dict[str, Any]:
        return {"tokens": self.tokens[2:], "lowercase": self.lowercase}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Vocabulary":
        return cls(list(data["tokens"]), bool(data["lowercase"]))


def encode_batch(
    token_lists: Sequence[Sequence[str]], vocabulary: Vocabulary, max_length: int
) -> np.ndarray:
    """(batch, time) int32 ids, right-padded with PAD to the longest sequence (<= `max_length`).

    Right padding keeps Keras LSTM/GRU layers cuDNN-eligible on a GPU.
    """
    ids = [vocabulary.encode(tokens)[:max_length] for tokens in token_lists]
    padded = np.full((len(ids), max((len(s) for s in ids), default=1)), PAD_ID, np.int32)
    for row, sequence in enumerate(ids):  # 1-2 us a message; keras' pad_sequences took ~30 us
        padded[row, : len(sequence)] = sequence
    return padded


class LabelEncoder:
    """Sorted label names <-> ids."""

    def __init__(self, labels: Iterable[str]) -> None:
        self.labels = sorted(set(labels))
        self._ids = {label: i for i, label in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, labels: Sequence[str]) -> np.ndarray:
        return np.array([self._ids[label] for label in labels], dtype=np.int32)

    def one_hot(self, labels: Sequence[Optional[str]]) -> np.ndarray:
        """(len(labels), len(self)) float32 one-hot rows; all zeros for an unknown label or None."""
        rows = np.zeros((len(labels), len(self)), dtype=np.float32)
        for row, label in enumerate(labels):
            if label in self._ids:
                rows[row, self._ids[label]] = 1.0
        return rows

    def ranking(self, probabilities: np.ndarray, length: int = 0) -> List[Dict[str, Any]]:
        """Labels with their confidence, most confident first; cut to `length` when > 0."""
        order = np.argsort(-probabilities, kind="stable")
        if length > 0:
            order = order[:length]
        return [{"name": self.labels[i], "confidence": float(probabilities[i])} for i in order]


def encode_chars(
    token_lists: Sequence[Sequence[str]],
    characters: Vocabulary,
    max_length: int,
    max_word_length: int,
) -> np.ndarray:
    """(batch, time, chars) int32 character ids of each token, right-padded with PAD.

    Shaped like `encode_batch` of the same tokens (a message without tokens gets one empty token);
    words are cut to `max_word_length` characters. `characters` is a Vocabulary of characters.
    """
    tokens = [list(t)[:max_length] or [""] for t in token_lists]
    length = max(len(t) for t in tokens) if tokens else 1
    width = max((min(len(w), max_word_length) for t in tokens for w in t), default=1) or 1
    ids = np.zeros((len(tokens), length, width), dtype=np.int32)
    for i, words in enumerate(tokens):
        for j, word in enumerate(words):
            word = word[:max_word_length]
            if word:
                ids[i, j, : len(word)] = characters.encode(word)
    return ids


# (token, column, value) arrays of a message's sparse features, one entry per stored value.
SparseRows = Tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class TokenFeatures:
    """A (tokens, width) sparse matrix as its (token, column, value) entries, without scipy: the
    per-token features a component computes itself (`rnn_nlu.char_ngrams`), read as a
    featurizer's matrix is (`shape`, `sparse_rows`)."""

    token: np.ndarray
    column: np.ndarray
    value: np.ndarray
    shape: Tuple[int, int]


def sparse_rows(matrix: Any) -> Optional[SparseRows]:
    """A (tokens, dim) scipy sparse matrix's stored entries as (token, column, value) arrays,
    without building another scipy matrix (a parse reads a few dozen entries, and each scipy
    construction costs tens of microseconds); None and triplets are returned as they are."""
    if matrix is None or isinstance(matrix, tuple):
        return matrix
    if isinstance(matrix, TokenFeatures):
        return matrix.token, matrix.column, matrix.value
    coo = matrix if matrix.format == "coo" else matrix.tocoo()
    return coo.row, coo.col, coo.data


def _active_entries(
    matrices: Iterable[Any], length: Optional[int] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(message, token, column, value) of the non-zero features of `matrices` (scipy sparse or
    `SparseRows`, None: none), sorted by message, token and column, duplicates summed as scipy's
    `tocsr` sums them; tokens from `length` on dropped."""
    found = [(i, sparse_rows(m)) for i, m in enumerate(matrices)]
    found = [(i, rows) for i, rows in found if rows is not None and len(rows[0])]
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0, np.float32)
    message = np.concatenate([np.full(len(rows[0]), i) for i, rows in found])
    token, column, value = (np.concatenate([rows[k] for _, rows in found]) for k in range(3))
    if length is not None:
        kept = token < length
        message, token, column, value = message[kept], token[kept], column[kept], value[kept]
    order = np.lexsort((column, token, message))
    message, token, column, value = message[order], token[order], column[order], value[order]
    if len(value):
        starts = np.flatnonzero(_run_starts(message, token, column))
        value = np.add.reduceat(value, starts)
        message, token, column = message[starts], token[starts], column[starts]
    nonzero = value != 0
    return message[nonzero], token[nonzero], column[nonzero], value[nonzero]


def _run_starts(*keys: np.ndarray) -> np.ndarray:
    """True where an entry's keys differ from the previous entry's (entries sorted by the keys)."""
    starts = np.ones(len(keys[0]), bool)
    starts[1:] = np.any([np.diff(key) != 0 for key in keys], axis=0)
    return starts


def _token_groups(message: np.ndarray, token: np.ndarray) -> np.ndarray:
    """Each entry's token number (0, 1, ...) over entries sorted by message and token."""
    return np.cumsum(_run_starts(message, token)) - 1


def encode_sparse_features(
    matrices: Sequence[Any], length: int, max_active: int
) -> Tuple[np.ndarray, np.ndarray]:
    """(batch, length, K) int32 feature ids and float32 values of each token's active (non-zero)
    sparse features, for a weighted embedding-bag: K the most any token of the batch has, at most
    `max_active` (a short message does not carry the padding of the longest training word).

    `matrices` holds one (tokens, dim) scipy sparse matrix (or its `sparse_rows`) per message, or
    None (no features: zero rows). Id 0 is padding, a real feature index i has id i + 1, in column
    order. Rows after `length` are cut, as `encode_batch` cuts tokens; a token with more than
    `max_active` active features keeps those of the largest absolute value, largest first.
    """
    message, token, column, value = _active_entries(matrices, length)
    group = _token_groups(message, token) if len(value) else np.zeros(0, np.int64)
    counts = np.bincount(group, minlength=1)
    width = max(min(int(counts.max()), max_active), 1)
    ids = np.zeros((len(matrices), length, width), dtype=np.int32)
    values = np.zeros((len(matrices), length, width), dtype=np.float32)
    if not len(value):
        return ids, values
    if counts.max() > max_active:  # those tokens: largest |value| first (ties: column order)
        over = counts[group] > max_active
        order = np.lexsort((column, np.where(over, -np.abs(value), 0.0), group))
        message, token, column, value = message[order], token[order], column[order], value[order]
    rank = np.arange(len(group)) - (np.cumsum(counts) - counts)[group]
    kept = rank < max_active
    ids[message[kept], token[kept], rank[kept]] = column[kept] + 1
    values[message[kept], token[kept], rank[kept]] = value[kept]
    return ids, values


class RaggedRows:
    """Per-example (tokens, K) arrays of one dtype, unpadded: a data set's per-token sparse features
    padded to its longest message and its widest token (a long word's 80 character n-grams) are
    mostly zeros (on SNIPS 290 of 310 MB). `take` selects examples, `padded` makes a batch's array.
    """

    def __init__(self, rows: Sequence[np.ndarray], dtype: Any) -> None:
        self.rows = np.empty(len(rows), dtype=object)
        self.rows[:] = [np.asarray(r, dtype=dtype) for r in rows]
        self.dtype = np.dtype(dtype)

    @classmethod
    def of(
        cls, ids: np.ndarray, values: np.ndarray, tokens: np.ndarray
    ) -> Tuple["RaggedRows", "RaggedRows"]:
        """(batch, time, K) sparse feature `ids` and `values` (`encode_sparse_features`) as ragged
        rows: each example's first `tokens[i]` rows, cut after its last column with an id."""
        id_rows, value_rows = [], []
        for example_ids, example_values, count in zip(ids, values, tokens):
            width = int(np.count_nonzero(example_ids[:count], axis=-1).max(initial=0))
            id_rows.append(example_ids[:count, :width].copy())  # not views that keep the batch
            value_rows.append(example_values[:count, :width].copy())
        return cls(id_rows, ids.dtype), cls(value_rows, values.dtype)

    @classmethod
    def concatenate(cls, parts: Sequence["RaggedRows"]) -> "RaggedRows":
        """The examples of `parts` (at least one, of one dtype), in order."""
        return cls(np.concatenate([p.rows for p in parts]), parts[0].dtype)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: Any) -> "RaggedRows":
        """The examples `idx` (an index array or a slice)."""
        return RaggedRows(self.rows[idx], self.dtype)

    def padded(self, length: int) -> np.ndarray:
        """(examples, length, K) right-padded with zeros, K the widest example's (at least 1)."""
        width = max([r.shape[1] for r in self.rows] + [1])
        out = np.zeros((len(self.rows), length, width), dtype=self.dtype)
        for i, rows in enumerate(self.rows):
            out[i, : len(rows), : rows.shape[1]] = rows[:length]
        return out


def max_active_features(matrices: Iterable[Any]) -> int:
    """The largest number of active (non-zero) features of any row of `matrices` (scipy sparse or
    `sparse_rows`)."""
    message, token, _, value = _active_entries(matrices)
    return int(np.bincount(_token_groups(message, token)).max()) if len(value) else 0


def encode_dense_features(arrays: Sequence[Any], length: int, dim: int) -> np.ndarray:
    """(batch, length, dim) float32 of one (tokens, dim) array per message (None: zeros), right-
    padded with zeros and cut to `length` rows, as `encode_batch` pads and cuts tokens."""
    out = np.zeros((len(arrays), length, dim), dtype=np.float32)
    for i, array in enumerate(arrays):
        if array is not None:
            rows = np.asarray(array, dtype=np.float32)[:length]
            out[i, : len(rows)] = rows
    return out
