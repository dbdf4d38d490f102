"""Tags <-> entities (rnn_nlu.tagging): round trips in both schemas, exact offsets, roles and
groups, and agreement with Rasa's own BILOU helpers where those keep entities apart."""

import pytest
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.utils.bilou_utils import bilou_tags_from_offsets

from rnn_nlu.tagging import (
    convert_schema,
    entities_from_tags,
    spans_from_tags,
    tags_from_spans,
    token_spans,
)
from tests.helpers import messages

SPANS = [(1, 3, "city"), (3, 4, "city"), (5, 6, "date"), (6, 9, "time")]  # adjacent and multi-token


def offsets(text: str):
    """Token offsets from the WhitespaceTokenizer, which drops punctuation around words."""
    (message,) = messages(text)
    tokens = message.get("text_tokens")
    return tokens, [(t.start, t.end) for t in tokens]


def test_bilou_and_bio_tags_of_adjacent_and_multi_token_spans():
    assert tags_from_spans(9, SPANS, "bilou") == [
        "O",
        "B-city",
        "L-city",
        "U-city",
        "O",
        "U-date",
        "B-time",
        "I-time",
        "L-time",
    ]
    assert tags_from_spans(9, SPANS, "bio") == [
        "O",
        "B-city",
        "I-city",
        "B-city",
        "O",
        "B-date",
        "B-time",
        "I-time",
        "I-time",
    ]


@pytest.mark.parametrize("schema", ["bio", "bilou"])
def test_spans_round_trip(schema):
    assert spans_from_tags(tags_from_spans(9, SPANS, schema)) == SPANS
    assert spans_from_tags(tags_from_spans(3, [], schema)) == []
    assert spans_from_tags(tags_from_spans(1, [(0, 1, "x")], schema)) == [(0, 1, "x")]


def test_schema_conversion_round_trip():
    bio = tags_from_spans(9, SPANS, "bio")
    assert convert_schema(convert_schema(bio, "bilou"), "bio") == bio


@pytest.mark.parametrize(
    "tags, spans",
    [
        (["I-city", "I-city", "O"], [(0, 2, "city")]),  # no B-: the entity starts anyway
        (["B-city", "I-city"], [(0, 2, "city")]),  # BILOU entity never closed by L-
        (["B-city", "I-date", "L-date"], [(0, 1, "city"), (1, 3, "date")]),  # label changes
        (["B-city", "O", "L-city"], [(0, 1, "city"), (2, 3, "city")]),  # L- without an open entity
        (["U-a", "U-a", "B-a", "L-a", "U-a"], [(0, 1, "a"), (1, 2, "a"), (2, 4, "a"), (4, 5, "a")]),
        (["city", "city", "O", "date"], [(0, 2, "city"), (3, 4, "date")]),  # no prefixes at all
    ],
)
def test_ill_formed_tags_are_read_leniently(tags, spans):
    assert spans_from_tags(tags) == spans


def test_entities_round_trip_with_exact_offsets_on_punctuation_and_double_spaces():
    text = "Fly  from New  York, to   São Paulo... on 3/4!"
    tokens, spans_offsets = offsets(text)
    assert [t.text for t in tokens] == [
        "Fly",
        "from",
        "New",
        "York",
        "to",
        "São",
        "Paulo",
        "on",
        "3/4",
    ]
    wanted = [
        {"entity": "origin", "start": 10, "end": 19, "value": "New  York"},
        {"entity": "destination", "start": 26, "end": 35, "value": "São Paulo"},
        {"entity": "date", "start": 42, "end": 45, "value": "3/4"},
    ]
    for entity in wanted:
        assert text[entity["start"] : entity["end"]] == entity["value"]
    for schema in ("bio", "bilou"):
        spans, misaligned = token_spans(
            spans_offsets, [(e["start"], e["end"], e["entity"]) for e in wanted]
        )
        assert misaligned == []
        tags = tags_from_spans(len(tokens), spans, schema)
        assert entities_from_tags(text, spans_offsets, {"entity": tags}) == wanted


def test_pieces_of_one_word_tagged_apart_are_one_entity():
    """Subword tokens with no space between them ("澳" "门", "reyk" "javik") tagged as two
    entities of one label are one; words apart, or of other labels, stay apart."""
    text = "去澳门 reykjavik boston denver"
    pieces = [(0, 1), (1, 2), (2, 3), (4, 8), (8, 13), (14, 20), (21, 27)]
    tags = ["O", "U-city", "U-city", "U-city", "U-city", "U-city", "U-city"]
    found = entities_from_tags(text, pieces, {"entity": tags})
    assert [e["value"] for e in found] == ["澳门", "reykjavik", "boston", "denver"]
    tags[2] = "U-date"
    assert [e["value"] for e in entities_from_tags(text, pieces, {"entity": tags})][:2] == [
        "澳",
        "门",
    ]


def test_confidence_is_the_lowest_of_the_entity_tokens():
    _, spans_offsets = offsets("to new york")
    entities = entities_from_tags(
        "to new york",
        spans_offsets,
        {"entity": ["O", "B-city", "L-city"]},
        {"entity": [0.99, 0.9, 0.7]},
    )
    assert entities == [
        {"entity": "city", "start": 3, "end": 11, "value": "new york", "confidence_entity": 0.7}
    ]


def test_roles_and_groups_are_attached_to_their_entity():
    text = "from berlin to new york"
    _, spans_offsets = offsets(text)
    tags = {
        "entity": ["O", "U-city", "O", "B-city", "L-city"],
        "role": ["O", "U-departure", "O", "B-destination", "L-destination"],
        "group": ["O", "U-1", "O", "O", "O"],
    }
    confidences = {head: [0.5, 0.9, 0.5, 0.8, 0.6] for head in tags}
    first, second = entities_from_tags(text, spans_offsets, tags, confidences)
    assert first == {
        "entity": "city",
        "start": 5,
        "end": 11,
        "value": "berlin",
        "confidence_entity": 0.9,
        "role": "departure",
        "confidence_role": 0.9,
        "group": "1",
        "confidence_group": 0.9,
    }
    assert second == {
        "entity": "city",
        "start": 15,
        "end": 23,
        "value": "new york",
        "confidence_entity": 0.6,
        "role": "destination",
        "confidence_role": 0.6,
    }


def test_misaligned_entities_are_reported_not_tagged():
    _, spans_offsets = offsets("fly to denver tomorrow")
    spans, misaligned = token_spans(
        spans_offsets, [(7, 13, "city"), (7, 11, "bad"), (6, 13, "bad")]
    )
    assert spans == [(2, 3, "city")]
    assert misaligned == [(7, 11, "bad"), (6, 13, "bad")]


def test_bilou_tags_agree_with_rasa():
    text = "book new york to paris and rome tomorrow morning"
    tokens, spans_offsets = offsets(text)
    entities = [(5, 13, "city"), (17, 22, "city"), (27, 31, "city"), (32, 48, "time")]
    spans, _ = token_spans(spans_offsets, entities)
    assert tags_from_spans(len(tokens), spans, "bilou") == bilou_tags_from_offsets(tokens, entities)


def test_entities_agree_with_rasa_on_single_spaced_bilou_tags():
    text = "book new york to paris and rome tomorrow morning"
    tokens, spans_offsets = offsets(text)
    tags = ["O", "B-city", "L-city", "O", "U-city", "O", "U-city", "B-time", "L-time"]
    confidences = [0.9, 0.8, 0.7, 0.9, 0.6, 0.9, 0.95, 0.5, 0.4]
    ours = entities_from_tags(text, spans_offsets, {"entity": tags}, {"entity": confidences})
    rasa = EntityExtractorMixin.convert_predictions_into_entities(
        text,
        tokens,
        {"entity": tags},
        {"split_entities_by_comma": True},
        {"entity": confidences},
    )
    assert ours == rasa


@pytest.mark.parametrize("text", ["", "   "])
def test_a_blank_token_is_no_entity(text):
    (message,) = messages(text)
    spans_offsets = [(t.start, t.end) for t in message.get("text_tokens")]
    assert len(spans_offsets) == 1  # Rasa's tokenizers give a blank message one token
    assert entities_from_tags(text, spans_offsets, {"entity": ["U-city"]}, {"entity": [0.1]}) == []
