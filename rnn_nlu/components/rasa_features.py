"""The per-token features that Rasa's featurizers put on a message, read for our models.

Shared by the intent classifiers and the slot filler: which featurizers' sequence features a model
was trained on (`FeatureLayout`, stored in metadata.json), and those of a batch of messages as the
model's extra inputs (`encode`); a component's own sparse features (`OwnFeatures`: the classifiers'
character n-grams) are read as one more featurizer's. Sentence features are not used. The numpy
packing is in `rnn_nlu.features`, the Keras inputs in `rnn_nlu.models.layers.add_rasa_features`.

A message must carry the features of the featurizers the model was trained with, each as wide as
in training, one row per token; otherwise `FeatureMismatchError` names the featurizer. The one
exception: a message with blank text, which some featurizers (RegexFeaturizer) leave without
features, gets zeros for those it lacks.
"""

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

import numpy as np
import scipy.sparse
import tensorflow as tf
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.message import Message

from rnn_nlu.features import (
    RaggedRows,
    SparseRows,
    encode_dense_features,
    encode_sparse_features,
    max_active_features,
    sparse_rows,
)
from rnn_nlu.lifecycle import FinetuningError

logger = logging.getLogger(__name__)

# Options of every component of ours that reads Rasa's features.
FEATURE_DEFAULTS: Dict[str, Any] = {
    # Add the per-token (sequence) features of the featurizers before this component to each
    # token's input, when the pipeline has any; false: read the token texts only.
    "use_rasa_features": True,
    # Size of the vector each token gets from its sparse features (all sparse featurizers'), and
    # of the one from its dense features (projected).
    "feature_units": 64,
}

# Most active sparse features one token keeps (those of the largest absolute value).
MAX_ACTIVE_FEATURES = 128
# Training messages `encode_ragged` encodes at once.
RAGGED_CHUNK = 512

SPARSE, DENSE = "sparse", "dense"

# (origin, width) of each featurizer's sequence features, in the order they are concatenated.
Widths = List[Tuple[str, int]]


class OwnFeatures(Protocol):
    """Sparse per-token features a component computes itself (its character n-grams), read as
    one more featurizer's, named `origin`."""

    origin: str

    def features(self, message: Message) -> Any:
        """The message's (tokens, width) features (`rnn_nlu.features.TokenFeatures`)."""

    def packed(
        self, messages: Sequence[Message], length: int, max_active: int
    ) -> Tuple[np.ndarray, np.ndarray]:
        """What `encode_sparse_features` makes of the messages' `features`, faster."""


class FeatureMismatchError(RasaException):
    """A message's features from Rasa's featurizers do not fit what the model was trained with."""


@dataclass
class FeatureLayout:
    """Which featurizers' sequence features a model reads, how wide each is, and K, the most
    active sparse features a token keeps. Empty: the model reads token texts only."""

    sparse: Widths = field(default_factory=list)
    dense: Widths = field(default_factory=list)
    max_active: int = 0

    @property
    def sparse_dim(self) -> int:
        return sum(width for _, width in self.sparse)

    @property
    def dense_dim(self) -> int:
        return sum(width for _, width in self.dense)

    @property
    def present(self) -> bool:
        return bool(self.sparse or self.dense)

    def model_options(self) -> Dict[str, int]:
        """The model builders' arguments for these features."""
        return {"sparse_feature_dim": self.sparse_dim, "dense_feature_dim": self.dense_dim}

    def signature(self) -> Dict[str, tf.TensorSpec]:
        """Input specs of the feature inputs, for `compiled_predict`."""
        specs = {}
        if self.sparse:
            specs["feature_ids"] = tf.TensorSpec([None, None, None], tf.int32)
            specs["feature_values"] = tf.TensorSpec([None, None, None], tf.float32)
        if self.dense:
            specs["dense_features"] = tf.TensorSpec([None, None, self.dense_dim], tf.float32)
        return specs

    def implied_sizes(self, token_width: int, feature_units: int) -> Dict[str, int]:
        """Weight dimensions these features imply, for the load-time size check: the sparse
        embedding's rows, the dense projection's inputs, and each token's input width
        (`token_width` without features)."""
        if not self.present:
            return {}
        width = token_width + feature_units * (bool(self.sparse) + bool(self.dense))
        sizes = {"per-token input width (with rasa_features)": width}
        if self.sparse:
            sizes["rasa_features sparse columns + 1"] = self.sparse_dim + 1
        if self.dense:
            sizes["rasa_features dense width"] = self.dense_dim
        return sizes

    def to_json(self) -> Dict[str, Any]:
        return {
            SPARSE: [{"origin": o, "dim": d} for o, d in self.sparse],
            DENSE: [{"origin": o, "dim": d} for o, d in self.dense],
            "max_active": self.max_active,
        }

    @classmethod
    def from_json(cls, data: Optional[Dict[str, Any]]) -> "FeatureLayout":
        """The layout stored by `to_json`; none stored (older models): empty. Raises ValueError."""
        if not data:
            return cls()
        widths = {kind: [(f["origin"], f["dim"]) for f in data[kind]] for kind in (SPARSE, DENSE)}
        for origin, dim in widths[SPARSE] + widths[DENSE]:
            if not isinstance(origin, str) or type(dim) is not int or dim < 1:
                raise ValueError(f"rasa_features: bad featurizer entry ({origin!r}, {dim!r})")
        # archives of 0.2.0 stored node names ("run_RegexFeaturizer1")
        widths = {k: [(featurizer_key(o), d) for o, d in w] for k, w in widths.items()}
        layout = cls(widths[SPARSE], widths[DENSE], data["max_active"])
        low = 1 if layout.sparse else 0
        if (
            type(layout.max_active) is not int
            or not low <= layout.max_active <= MAX_ACTIVE_FEATURES
        ):
            raise ValueError(f"rasa_features: max_active must be {low} to {MAX_ACTIVE_FEATURES}")
        return layout

    def describe(self) -> str:
        """E.g. "RegexFeaturizer (sparse, 3 wide), test_dense (dense, 2 wide)"."""
        return ", ".join(
            f"{origin} ({kind}, {width} wide)"
            for kind, widths in ((SPARSE, self.sparse), (DENSE, self.dense))
            for origin, width in widths
        )


def layout_of(
    messages: Sequence[Message],
    component: str,
    own: Optional[OwnFeatures] = None,
    read_rasa: bool = True,
) -> FeatureLayout:
    """The layout of the training `messages`' sequence features (empty when they have none):
    Rasa's featurizers' (unless not `read_rasa`), then the component's `own`."""
    found = [_sequence_features(m, component, read_rasa) for m in messages]
    if own is not None:
        for features, message in zip(found, messages):
            features[SPARSE][own.origin] = own.features(message)
    widths = {SPARSE: {}, DENSE: {}}
    for features in found:
        for kind, by_origin in features.items():
            for origin, matrix in by_origin.items():
                width = widths[kind].setdefault(origin, matrix.shape[1])
                if width != matrix.shape[1]:
                    raise FeatureMismatchError(
                        f"{component}: featurizer '{origin}' gave training messages features of "
                        f"different widths ({width} and {matrix.shape[1]})."
                    )
    layout = FeatureLayout(list(widths[SPARSE].items()), list(widths[DENSE].items()))
    if layout.sparse:
        most = max_active_features(_sparse_rows(f, layout) for f in found)
        layout.max_active = min(max(most, 1), MAX_ACTIVE_FEATURES)
        if most > MAX_ACTIVE_FEATURES:
            logger.info(
                f"{component}: tokens with more than {MAX_ACTIVE_FEATURES} active sparse features "
                f"(up to {most}) keep the {MAX_ACTIVE_FEATURES} of the largest absolute value."
            )
    if layout.present:
        logger.info(f"{component} reads the per-token features of {layout.describe()}.")
    return layout


def encode(
    messages: Sequence[Message],
    layout: FeatureLayout,
    length: int,
    component: str,
    own: Optional[OwnFeatures] = None,
    read_rasa: bool = True,
) -> Dict[str, np.ndarray]:
    """The feature inputs of `messages` for a model of `layout`, `length` steps each, the length
    of their token-id array ({} when the layout is empty); `own` and `read_rasa` as the model
    was trained with (`layout_of`)."""
    if not layout.present:
        return {}
    found = [_sequence_features(m, component, read_rasa) for m in messages]
    ours = own.origin if own is not None else None
    featurizers = FeatureLayout([w for w in layout.sparse if w[0] != ours], layout.dense)
    for features, message in zip(found, messages):
        _check(features, featurizers, message, component)
    inputs = {}
    if layout.sparse and not featurizers.sparse:  # the component's own alone: packed directly
        ids, values = own.packed(messages, length, layout.max_active)
        inputs.update(feature_ids=ids, feature_values=values)
    elif layout.sparse:
        if own is not None:
            for features, message in zip(found, messages):
                features[SPARSE][ours] = own.features(message)
        rows = [_sparse_rows(f, layout) for f in found]
        ids, values = encode_sparse_features(rows, length, layout.max_active)
        inputs.update(feature_ids=ids, feature_values=values)
    if layout.dense:
        rows = [_dense_rows(f, layout, m) for f, m in zip(found, messages)]
        inputs["dense_features"] = encode_dense_features(rows, length, layout.dense_dim)
    return inputs


def encode_ragged(
    messages: Sequence[Message],
    layout: FeatureLayout,
    token_ids: np.ndarray,
    component: str,
    own: Optional[OwnFeatures] = None,
    read_rasa: bool = True,
) -> Dict[str, Any]:
    """`encode` of the training messages, whose (examples, time) `token_ids` are given,
    RAGGED_CHUNK at a time, the sparse features kept as `RaggedRows` (`training.padded` pads each
    batch): their memory is that of the active features, not of every token padded to the widest."""
    length, tokens = token_ids.shape[1], np.count_nonzero(token_ids, axis=1)
    starts = range(0, len(messages), RAGGED_CHUNK)
    chunks = [
        encode(messages[i : i + RAGGED_CHUNK], layout, length, component, own, read_rasa)
        for i in starts
    ]
    if not chunks or not chunks[0]:
        return {}
    inputs: Dict[str, Any] = {}
    if "feature_ids" in chunks[0]:
        pairs = [
            RaggedRows.of(c["feature_ids"], c["feature_values"], tokens[i : i + RAGGED_CHUNK])
            for c, i in zip(chunks, starts)
        ]
        inputs["feature_ids"] = RaggedRows.concatenate([ids for ids, _ in pairs])
        inputs["feature_values"] = RaggedRows.concatenate([values for _, values in pairs])
    if "dense_features" in chunks[0]:
        inputs["dense_features"] = np.concatenate([c["dense_features"] for c in chunks])
    return inputs


def check_finetuning(stored: FeatureLayout, found: FeatureLayout, component: str) -> None:
    """Raises `FinetuningError` when the new training data's features differ from the stored
    ones; a model trained without features keeps reading none."""
    if not stored.present:
        return
    differences = [
        f"{origin}: {_width(new, origin)}, trained with {_width(old, origin)}"
        for old, new in ((stored.sparse, found.sparse), (stored.dense, found.dense))
        for origin in dict.fromkeys([o for o, _ in old] + [o for o, _ in new])
        if dict(old).get(origin) != dict(new).get(origin)
    ]
    if differences:
        raise FinetuningError(
            f"{component} cannot finetune: the featurizers' per-token features differ from those "
            f"of the trained model ({'; '.join(differences)}). Train from scratch (`rasa train` "
            f"without --finetune)."
        )


def _width(widths: Widths, origin: str) -> str:
    width = dict(widths).get(origin)
    return "none" if width is None else f"{width} wide"


def _origin(origin: Any) -> str:
    """The featurizer's name (its alias or node name) as a string; combined features: joined."""
    return "+".join(map(str, origin)) if isinstance(origin, (list, tuple)) else str(origin)


def featurizer_key(origin: str) -> str:
    """`origin` without Rasa's "run_" prefix and pipeline index: "run_RegexFeaturizer1" ->
    "RegexFeaturizer". The index moves when components are reordered, and Rasa's training cache
    can hand back a featurizer's output named after its earlier position (its cache key has no
    node name), so the index must not decide which features a model reads."""
    return re.sub(r"(?<=[A-Za-z_])\d+$", "", re.sub(r"^(run|train)_", "", origin))


def _tokens(message: Message) -> int:
    return len(message.get(TOKENS_NAMES[TEXT]) or [])


def _text(message: Message) -> str:
    text = message.get(TEXT) or ""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _sequence_features(
    message: Message, component: str, read_rasa: bool = True
) -> Dict[str, Dict[str, Any]]:
    """{"sparse": {origin: matrix}, "dense": {origin: array}} of the message's TEXT sequence
    features (none unless `read_rasa`), each checked to have one row per token."""
    found: Dict[str, Dict[str, Any]] = {SPARSE: {}, DENSE: {}}
    names: Dict[str, str] = {}  # origin -> key; a second featurizer of one kind gets "#2"
    for features in message.features if read_rasa else ():
        if features.attribute != TEXT or features.type != FEATURE_TYPE_SEQUENCE:
            continue
        raw = _origin(features.origin)
        if raw not in names:
            key = featurizer_key(raw)
            taken = sum(n.split("#")[0] == key for n in names.values())
            names[raw] = f"{key}#{taken + 1}" if taken else key
        origin, matrix = names[raw], features.features
        if matrix.shape[0] != _tokens(message):
            raise FeatureMismatchError(
                f"{component}: featurizer '{origin}' gave {matrix.shape[0]} rows of sequence "
                f"features for the {_tokens(message)} tokens of {_text(message)}; there must be "
                f"one row per token (is a tokenizer after the featurizer in the pipeline?)."
            )
        kind = SPARSE if features.is_sparse() else DENSE
        if origin in found[kind]:  # the same featurizer twice: side by side
            matrix = _side_by_side(kind, [found[kind][origin], matrix])
        found[kind][origin] = matrix
    return found


def _check(
    features: Dict[str, Dict[str, Any]], layout: FeatureLayout, message: Message, component: str
) -> None:
    blank = not (message.get(TEXT) or "").strip()
    for kind, widths in ((SPARSE, layout.sparse), (DENSE, layout.dense)):
        trained = dict(widths)
        for origin, matrix in features[kind].items():
            if origin not in trained:
                raise FeatureMismatchError(
                    f"{component}: {_text(message)} has {kind} features from featurizer "
                    f"'{origin}', which the model was not trained with (it reads "
                    f"{layout.describe()}). Train the model with this pipeline."
                )
            if matrix.shape[1] != trained[origin]:
                raise FeatureMismatchError(
                    f"{component}: featurizer '{origin}' gave {_text(message)} {kind} features "
                    f"{matrix.shape[1]} wide; the model was trained with {trained[origin]}. "
                    f"Train the model with this pipeline."
                )
        missing = [origin for origin in trained if origin not in features[kind]]
        if missing and not blank:
            raise FeatureMismatchError(
                f"{component}: {_text(message)} has no {kind} features from featurizer(s) "
                f"{', '.join(map(repr, missing))}, which the model was trained with. Keep them "
                f"before {component} in the pipeline, or train without them."
            )


def _sparse_rows(
    features: Dict[str, Dict[str, Any]], layout: FeatureLayout
) -> Optional[SparseRows]:
    """The layout's featurizers side by side as one (tokens, sparse_dim) matrix's entries (None:
    no entries), without building a scipy matrix per parse."""
    blocks, offset = [], 0
    for origin, width in layout.sparse:
        if origin in features[SPARSE]:
            token, column, value = sparse_rows(features[SPARSE][origin])
            blocks.append((token, column + offset, value))
        offset += width
    if not blocks:
        return None
    return tuple(np.concatenate([block[k] for block in blocks]) for k in range(3))


def _dense_rows(
    features: Dict[str, Dict[str, Any]], layout: FeatureLayout, message: Message
) -> np.ndarray:
    blocks = [
        features[DENSE].get(origin, np.zeros((_tokens(message), width), np.float32))
        for origin, width in layout.dense
    ]
    return _side_by_side(DENSE, blocks)


def _side_by_side(kind: str, blocks: Iterable[Any]) -> Any:
    blocks = list(blocks)
    if kind == SPARSE:
        return scipy.sparse.hstack(blocks, format="csr")
    return np.concatenate([np.asarray(b, dtype=np.float32) for b in blocks], axis=1)
