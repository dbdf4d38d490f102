"""Subword tokenization with SentencePiece (Kudo & Richardson, 2018), with exact character offsets.

No Rasa imports here. Whitespace, punctuation/symbols and digit runs are hard token boundaries;
SentencePiece only splits the runs of letters between them ("segments"). A model is trained on
segments that are also cut at annotated entity boundaries, so no learnt piece spans one, and
token offsets always index the original text: normalisation (NFKC) happens inside SentencePiece,
which reports each piece's span in its input.
"""

import bisect
import io
import logging
import re
from itertools import accumulate
from typing import Iterable, List, Optional, Sequence, Tuple

import regex
import sentencepiece as spm

logger = logging.getLogger(__name__)

Span = Tuple[int, int]  # [start, end) character offsets

# A run of punctuation/symbols (emoji included, with their modifiers, joiners and variation
# selectors), a run of digits, or a run of letters (anything else, format characters such as
# joiners only inside it). Whitespace, control characters and stray format characters separate.
_SEGMENT = regex.compile(
    r"(?P<symbols>[\p{P}\p{S}][\p{P}\p{S}\p{M}\p{Cf}]*)|(?P<digits>\p{N}+)"
    r"|[^\s\p{P}\p{S}\p{N}\p{Cc}\p{Cf}][^\s\p{P}\p{S}\p{N}\p{Cc}]*"
)
MODEL_TYPES = ("unigram", "bpe", "char")
_ALL_CHARACTERS = 1 << 20  # a "char" model's vocab_size: a soft limit no data reaches
_SIZE_HINT = re.compile(r"(?:<=|vs\.?)\s*(\d+)")  # "... set it to a value <= 49", "... 30 vs 33"


def segments(text: str, cuts: Sequence[int] = ()) -> List[Tuple[int, int, bool]]:
    """(start, end, is_letters) of the hard segments of `text`, also split at the offsets `cuts`.

    Only letter segments (`is_letters`) are split further by SentencePiece; whitespace is dropped.
    """
    cuts = sorted(set(cuts))
    result = []
    for match in _SEGMENT.finditer(text):
        letters = match.lastgroup is None
        start, end = match.span()
        inner = cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, end)]
        for a, b in zip([start, *inner], [*inner, end]):
            result.append((a, b, letters))
    return result


def training_segments(text: str, entity_spans: Iterable[Span] = ()) -> List[str]:
    """The letter segments of `text` that a model learns from, cut at every entity boundary."""
    cuts = [offset for span in entity_spans for offset in span]
    return [text[a:b] for a, b, letters in segments(text, cuts) if letters]


def train_model(
    texts: Iterable[str],
    model_type: str = "unigram",
    vocab_size: int = 8000,
    character_coverage: float = 1.0,
    lowercase: bool = True,
    random_seed: int = 42,
) -> Optional[bytes]:
    """A serialised SentencePiece model learnt from `texts` (letter segments), or None if none.

    Training is deterministic (one thread, no sampling or shuffling, fixed seed). A `vocab_size`
    the data cannot fill is lowered to the largest feasible size (or raised to the number of
    distinct characters), with a logged note. The "char" model ignores `vocab_size`: every
    character (within `character_coverage`) is a piece.
    """
    texts = [t for t in texts if t and not t.isspace()]
    if not texts:
        return None
    assert model_type in MODEL_TYPES, f"model_type must be one of {MODEL_TYPES}"
    if model_type == "char":
        vocab_size = _ALL_CHARACTERS
    size = vocab_size
    for _ in range(3):
        try:
            model = _train(texts, model_type, size, character_coverage, lowercase, random_seed)
        except RuntimeError as error:
            hint = _SIZE_HINT.search(str(error))
            if not hint or int(hint.group(1)) == size or "ocabulary size" not in str(error):
                raise
            size = int(hint.group(1))
            continue
        pieces = spm.SentencePieceProcessor(model_proto=model).get_piece_size()
        if pieces != vocab_size and model_type != "char":
            logger.info(
                f"SentencePiece: vocab_size {vocab_size} does not fit the training data "
                f"({len(texts)} segments); using {pieces} pieces instead."
            )
        return model
    raise RuntimeError(f"SentencePiece: found no feasible vocab_size near {vocab_size}.")


def _train(
    texts: List[str],
    model_type: str,
    vocab_size: int,
    character_coverage: float,
    lowercase: bool,
    random_seed: int,
) -> bytes:
    spm.set_random_generator_seed(random_seed)
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=buffer,
        model_type=model_type,
        vocab_size=vocab_size,
        hard_vocab_limit=False,  # fewer pieces than asked when the data is small
        character_coverage=character_coverage,
        normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
        add_dummy_prefix=False,  # segments hold no whitespace: no "▁" marker needed
        remove_extra_whitespaces=False,
        bos_id=-1,
        eos_id=-1,
        input_sentence_size=0,  # all segments
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


class SubwordSplitter:
    """Splits texts into token spans with a SentencePiece model (or at hard boundaries only)."""

    def __init__(self, model: Optional[bytes] = None) -> None:
        self.model = model
        self.processor = spm.SentencePieceProcessor(model_proto=model) if model else None
        self._proto = "proto"

    def __len__(self) -> int:
        """Number of pieces in the model (0 without one)."""
        return self.processor.get_piece_size() if self.processor else 0

    def spans(self, text: str) -> List[Span]:
        """Character spans of the tokens of `text`, in order; none is empty or holds whitespace."""
        result: List[Span] = []
        for start, end, letters in segments(text):
            if letters and self.processor is not None:
                try:
                    pieces = self._piece_spans(text[start:end])
                except UnicodeEncodeError:  # lone surrogates: not UTF-8, one token
                    pieces = [(0, end - start)]
                result.extend((start + a, start + b) for a, b in pieces)
            else:
                result.append((start, end))
        return result

    def _piece_spans(self, segment: str) -> List[Span]:
        byte_starts = list(accumulate((len(c.encode("utf-8")) for c in segment), initial=0))
        spans: List[Span] = []
        for piece in self._encode(segment).pieces:
            # Byte offsets into `segment`; a character that normalises to several pieces gives
            # empty spans to all but one of them.
            start = bisect.bisect_right(byte_starts, piece.begin) - 1
            end = bisect.bisect_left(byte_starts, piece.end)
            if end <= start:
                continue
            if spans and start < spans[-1][1]:  # defensive: merge overlapping pieces
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans or [(0, len(segment))]

    def _encode(self, segment: str):  # noqa: ANN202 - a SentencePiece proto
        try:
            return self.processor.encode(segment, out_type=self._proto)
        except ValueError:  # sentencepiece < 0.2.1 names it "immutable_proto"
            if self._proto != "proto":
                raise
            self._proto = "immutable_proto"
            return self.processor.encode(segment, out_type=self._proto)


def aligned_entities(token_spans: Sequence[Span], entity_spans: Iterable[Span]) -> Tuple[int, int]:
    """(entities whose start and end are both token boundaries, all entities)."""
    starts = {start for start, _ in token_spans}
    ends = {end for _, end in token_spans}
    entity_spans = list(entity_spans)
    aligned = sum(1 for start, end in entity_spans if start in starts and end in ends)
    return aligned, len(entity_spans)
