"""Character n-grams of each token, learnt by a classifier itself: what CountVectorsFeaturizer
with `analyzer: char_wb` gives, without it in the pipeline. No Rasa imports here."""

from collections import Counter
from typing import Any, Collection, Dict, List, Sequence, Tuple

import numpy as np

from rnn_nlu.features import TokenFeatures

# Words whose n-gram columns are remembered between messages; the cache is emptied when full.
CACHE_WORDS = 100_000
NONE = (np.zeros(0, np.int64), np.zeros(0, np.float32))  # a token's (columns, counts): none


def char_wb_ngrams(token: str, longest: int) -> List[str]:
    """The character n-grams, 1 to `longest` long, of each word of `token` padded with a space on
    each side, as scikit-learn's `analyzer="char_wb"` takes them: a padded word no longer than n
    gives itself once, and no longer n-grams."""
    grams = []
    for word in token.split():
        padded = f" {word} "
        for n in range(1, longest + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


class CharNgrams:
    """The character n-grams of the training tokens as per-token sparse features: one column per
    n-gram seen in training (most frequent first), valued by its count in the token; n-grams
    never seen in training are dropped. Serialisable to JSON."""

    ORIGIN = "rnn_nlu.char_ngrams"  # its name among the featurizers of a `FeatureLayout`

    def __init__(self, ngrams: Sequence[str], longest: int, lowercase: bool = True) -> None:
        self.ngrams = list(ngrams)
        self.longest = longest
        self.lowercase = lowercase
        self._columns = {gram: i for i, gram in enumerate(self.ngrams)}
        self._cache: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def build(
        cls, token_lists: Sequence[Sequence[str]], longest: int, lowercase: bool = True
    ) -> "CharNgrams":
        """The n-grams, 1 to `longest` characters, of the tokens of `token_lists`."""
        counts = Counter(
            gram
            for tokens in token_lists
            for token in tokens
            for gram in char_wb_ngrams(token.lower() if lowercase else token, longest)
        )
        return cls(sorted(counts, key=lambda g: (-counts[g], g)), longest, lowercase)

    @property
    def width(self) -> int:
        return len(self.ngrams)

    def _norm(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def _token(self, token: str) -> Tuple[np.ndarray, np.ndarray]:
        """A token's (columns, counts) of its known n-grams, by column."""
        found = self._cache.get(token)
        if found is None:
            text = self._norm(token)
            grams = Counter(self._columns.get(g, -1) for g in char_wb_ngrams(text, self.longest))
            grams.pop(-1, None)
            columns = sorted(grams)
            found = (
                np.array(columns, np.int64),
                np.array([grams[c] for c in columns], np.float32),
            )
            if len(self._cache) >= CACHE_WORDS:
                self._cache.clear()
            self._cache[token] = found
        return found

    def features(self, tokens: Sequence[str]) -> TokenFeatures:
        """The (len(tokens), width) features of a message's tokens."""
        parts = [self._token(token) for token in tokens]
        sizes = [len(columns) for columns, _ in parts]
        empty = np.zeros(0, np.int64)
        return TokenFeatures(
            np.repeat(np.arange(len(tokens)), sizes),
            np.concatenate([columns for columns, _ in parts]) if parts else empty,
            np.concatenate([counts for _, counts in parts]) if parts else empty.astype(np.float32),
            (len(tokens), self.width),
        )

    def packed(
        self,
        token_lists: Sequence[Sequence[str]],
        length: int,
        max_active: int,
        skip: Collection[str] = (),
    ) -> Tuple[np.ndarray, np.ndarray]:
        """`rnn_nlu.features.encode_sparse_features` of each message's `features`, without its
        sorting and summing (a parse's tokens are read from the cache): (batch, length, K) ids
        (column + 1, 0: padding) and counts, K the most n-grams of a token, at most `max_active`
        (a token with more keeps the most frequent, then the first columns). Tokens in `skip`
        (as lower-cased with `lowercase`) get none."""
        tokens = [
            [self._token(t) if self._norm(t) not in skip else NONE for t in message[:length]]
            for message in token_lists
        ]
        most = max((len(columns) for message in tokens for columns, _ in message), default=0)
        width = max(min(most, max_active), 1)
        ids = np.zeros((len(tokens), length, width), np.int32)
        values = np.zeros((len(tokens), length, width), np.float32)
        for i, message in enumerate(tokens):
            for j, (columns, counts) in enumerate(message):
                if len(columns) > max_active:
                    kept = np.lexsort((columns, -counts))[:max_active]
                    columns, counts = columns[kept], counts[kept]
                ids[i, j, : len(columns)] = columns + 1
                values[i, j, : len(columns)] = counts
        return ids, values

    def to_json(self) -> Dict[str, Any]:
        return {"ngrams": self.ngrams, "longest": self.longest, "lowercase": self.lowercase}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "CharNgrams":
        """Raises ValueError for anything but what `to_json` writes."""
        ngrams, longest = data.get("ngrams"), data.get("longest")
        if not isinstance(ngrams, list) or not all(isinstance(g, str) and g for g in ngrams):
            raise ValueError("char_ngrams: 'ngrams' must be a list of non-empty strings")
        if len(set(ngrams)) != len(ngrams):
            raise ValueError("char_ngrams: 'ngrams' holds an n-gram twice")
        if type(longest) is not int or longest < 1:
            raise ValueError("char_ngrams: 'longest' must be a positive integer")
        if not isinstance(data.get("lowercase"), bool):
            raise ValueError("char_ngrams: 'lowercase' must be true or false")
        return cls(ngrams, longest, data["lowercase"])
