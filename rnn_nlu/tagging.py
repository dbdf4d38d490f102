"""Per-token tags <-> entities, in the BIO and BILOU schemas. Pure Python: no Rasa, no TensorFlow.

A span is `(first token, one past the last token, label)`. Training turns a message's entities
(character offsets) into token spans and then into tags; prediction turns tags back into spans and
spans into entities with the original text slice and character offsets. Entity keys are Rasa's
(`entity`, `start`, `end`, `value`, `confidence_entity`, `role`, `group`, ...).

Rasa's `EntityExtractorMixin.convert_predictions_into_entities` is not used for the way back: it
merges adjacent BIO entities of one label ("B-city B-city") and splits an entity whose tokens are
more than one character apart (a double space), so tags would not round-trip.
"""

from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

OUTSIDE = "O"
SCHEMAS = ("bio", "bilou")
HEADS = ("entity", "role", "group")  # Rasa's entity attributes, each tagged in its own sequence

Span = Tuple[int, int, str]
Offsets = Sequence[Tuple[int, int]]


def split_tag(tag: str) -> Tuple[Optional[str], str]:
    """("B", "city") for "B-city"; (None, "O") for "O"; a label without prefix is an inside tag."""
    if tag == OUTSIDE:
        return None, OUTSIDE
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BILU":
        return tag[0], tag[2:]
    return "I", tag


def tags_from_spans(length: int, spans: Iterable[Span], schema: str = "bilou") -> List[str]:
    """Tags of `length` tokens; spans must not overlap (a later span overwrites an earlier one)."""
    assert schema in SCHEMAS, f"schema must be one of {SCHEMAS}, not {schema!r}"
    tags = [OUTSIDE] * length
    for start, end, label in spans:
        assert 0 <= start < end <= length, f"span {(start, end)} outside {length} tokens"
        if schema == "bilou" and end - start == 1:
            tags[start] = f"U-{label}"
            continue
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
        if schema == "bilou":
            tags[end - 1] = f"L-{label}"
    return tags


def spans_from_tags(tags: Sequence[str]) -> List[Span]:
    """Spans of a BIO or BILOU tag sequence, read leniently (as conlleval does).

    B- and U- always start an entity, so adjacent entities stay apart; an I- or L- tag continues
    the open entity of the same label and otherwise starts one; L- and U- close it.
    """
    spans: List[Span] = []
    start, label = None, None  # the open entity
    for i, tag in enumerate(tags):
        prefix, name = split_tag(tag)
        continues = start is not None and name == label and prefix in ("I", "L")
        if not continues and start is not None:
            spans.append((start, i, label))
            start, label = None, None
        if prefix is None:
            continue
        if start is None:
            start, label = i, name
        if prefix in ("L", "U"):
            spans.append((start, i + 1, label))
            start, label = None, None
    if start is not None:
        spans.append((start, len(tags), label))
    return spans


def convert_schema(tags: Sequence[str], schema: str) -> List[str]:
    """The same entities in the other schema, e.g. BIO tags from a data set -> BILOU."""
    return tags_from_spans(len(tags), spans_from_tags(tags), schema)


def token_spans(
    offsets: Offsets, entities: Iterable[Tuple[int, int, str]]
) -> Tuple[List[Span], List[Tuple[int, int, str]]]:
    """(aligned, misaligned): character-offset entities as token spans, and those whose start or
    end is not a token boundary (Rasa skips such entities too)."""
    first = {start: i for i, (start, _) in enumerate(offsets)}
    last = {end: i for i, (_, end) in enumerate(offsets)}
    aligned, misaligned = [], []
    for start, end, label in entities:
        if start in first and end in last and first[start] <= last[end]:
            aligned.append((first[start], last[end] + 1, label))
        else:
            misaligned.append((start, end, label))
    return aligned, misaligned


def span_label(
    tags: Sequence[str], confidences: Optional[Sequence[float]], start: int, end: int
) -> Optional[Tuple[str, float]]:
    """The most frequent label of tokens start..end-1 (first on ties) and its lowest confidence;
    None when they are all outside. Used to give an entity its role and group."""
    names = [split_tag(tag)[1] for tag in tags[start:end]]
    counts = Counter(name for name in names if name != OUTSIDE)
    if not counts:
        return None
    label = max(counts, key=lambda name: (counts[name], -names.index(name)))
    if confidences is None:
        return label, 1.0
    return label, min(c for c, n in zip(confidences[start:end], names) if n == label)


def join_word_pieces(spans: Sequence[Span], offsets: Offsets) -> List[Span]:
    """Adjacent spans of one label whose text touches (no space between them: pieces of one word,
    e.g. the subwords "澳" "门" or "reyk" "javik") become one span."""
    joined: List[Span] = []
    for start, end, label in spans:
        if joined:
            first, last, previous = joined[-1]
            if previous == label and last == start and offsets[last - 1][1] == offsets[start][0]:
                joined[-1] = (first, end, label)
                continue
        joined.append((start, end, label))
    return joined


def entities_from_tags(
    text: str,
    offsets: Offsets,
    tags: Mapping[str, Sequence[str]],
    confidences: Optional[Mapping[str, Sequence[float]]] = None,
) -> List[Dict[str, Any]]:
    """Rasa entities from per-token tags of the heads in `HEADS` (`tags["entity"]` is required).

    `offsets` are the tokens' (start, end) character offsets in `text`; the entity's value is the
    slice of `text` from its first token's start to its last token's end, and its confidence the
    lowest token confidence, as in Rasa. A span without text is no entity (Rasa gives an empty or
    blank message one token holding the whole text).
    """
    entities = []
    for start, end, label in join_word_pieces(spans_from_tags(tags["entity"]), offsets):
        begin, finish = offsets[start][0], offsets[end - 1][1]
        if not text[begin:finish].strip():
            continue
        entity: Dict[str, Any] = {
            "entity": label,
            "start": begin,
            "end": finish,
            "value": text[begin:finish],
        }
        if confidences is not None:
            entity["confidence_entity"] = float(min(confidences["entity"][start:end]))
        for head in HEADS[1:]:
            if head in tags:
                found = span_label(tags[head], (confidences or {}).get(head), start, end)
                if found:
                    entity[head] = found[0]
                    if confidences is not None:
                        entity[f"confidence_{head}"] = float(found[1])
        entities.append(entity)
    return entities


def tag_set(labels: Iterable[str], schema: str = "bilou") -> List[str]:
    """Every tag the schema has for `labels`, and OUTSIDE: a tagger that knows a label can tag
    an entity of it of any length, also one first seen when finetuning."""
    prefixes = "BILU" if schema == "bilou" else "BI"
    return [OUTSIDE, *(f"{p}-{label}" for label in sorted(set(labels)) for p in prefixes)]
