"""The joint-format converter on hand-made files: BIO tags -> Rasa YAML -> Rasa's reader -> tags."""

from pathlib import Path
from typing import List

import pytest
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from rnn_nlu.bench.__main__ import main
from rnn_nlu.bench.convert import (
    Example,
    convert,
    entities_to_tags,
    read_split,
    tags_to_entities,
    to_yaml,
)

# Utterances chosen to break naive YAML or annotation writing: YAML indicators, quotes, a comment
# sign, parentheses inside an entity, a leading dash, non-ASCII text, adjacent entities of one type.
LINES = [
    ("play songs by ac/dc: live", "O O O B-artist I-artist", "PlayMusic"),
    ('table at joe\'s "grill" # 5', "O O B-name I-name I-name I-name", "BookRestaurant"),
    ("rate (the) hobbit 5 of 6", "O B-book I-book O O B-best", "RateBook"),
    ("- add {x} to my list", "O O B-song O B-owner O", "AddToPlaylist"),
    ("weather in münchen today", "O O B-city B-date", "GetWeather"),
    ("fly from boston to denver", "O O B-city O B-city", "atis_flight#atis_airfare"),
    ("nothing to tag here", "O O O O", "Other"),
    ("paris london rome", "B-city B-city I-city", "GetWeather"),
]


def write_split(directory: Path, lines=LINES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(("seq.in", "seq.out", "label")):
        text = "\n".join(line[index] for line in lines) + "\n"
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_tags_to_entities_gives_character_spans():
    tokens = "fly from new york to la".split()
    tags = ["O", "O", "B-from", "I-from", "O", "B-to"]
    assert tags_to_entities(tokens, tags) == [
        {"start": 9, "end": 17, "entity": "from", "value": "new york"},
        {"start": 21, "end": 23, "entity": "to", "value": "la"},
    ]


def test_inside_tag_without_begin_starts_an_entity():
    tokens = ["a", "b", "c", "d"]
    entities = tags_to_entities(tokens, ["I-x", "I-x", "I-y", "O"])
    assert [(e["value"], e["entity"]) for e in entities] == [("a b", "x"), ("c", "y")]


def test_adjacent_entities_of_one_type_stay_apart():
    entities = tags_to_entities(["paris", "london", "rome"], ["B-city", "B-city", "I-city"])
    assert [e["value"] for e in entities] == ["paris", "london rome"]


def tags_through_rasa(tokens: List[str], tags: List[str], intent: str = "i") -> List[str]:
    data = RasaYAMLReader().reads(to_yaml([Example(tokens, tags, intent)]))
    (message,) = data.intent_examples
    assert message.get("text") == " ".join(tokens)
    return entities_to_tags(tokens, message.get("entities") or [])


@pytest.mark.parametrize("text, tags, intent", LINES)
def test_round_trip_tags_yaml_rasa_entities_tags(text, tags, intent):
    assert tags_through_rasa(text.split(), tags.split(), intent) == tags.split()


def test_convert_writes_one_file_per_split_with_multi_intents(tmp_path):
    write_split(tmp_path / "data" / "train")
    write_split(tmp_path / "data" / "test", LINES[:3])
    written = convert(tmp_path / "data", tmp_path / "yaml")
    assert sorted(written) == ["test", "train"]
    train = RasaYAMLReader().read(written["train"])
    assert len(train.intent_examples) == len(LINES)
    assert "atis_flight+atis_airfare" in train.intents
    expected = sum(len(tags_to_entities(t.split(), g.split())) for t, g, _ in LINES)
    assert sum(len(m.get("entities") or []) for m in train.intent_examples) == expected


def test_brackets_become_parentheses_with_a_warning(tmp_path):
    write_split(tmp_path / "d", [("play [live] by x]y", "O B-album O B-artist", "PlayMusic")])
    with pytest.warns(UserWarning, match="cannot escape"):
        written = convert(tmp_path / "d", tmp_path / "out")
    (message,) = RasaYAMLReader().read(written["d"]).intent_examples
    assert message.get("text") == "play (live) by x)y"
    assert [e["value"] for e in message.get("entities")] == ["(live)", "x)y"]


def test_misaligned_files_are_reported_with_their_line(tmp_path):
    write_split(tmp_path / "d", [("a b c", "O O", "x")])
    with pytest.raises(ValueError, match="line 1: 3 tokens but 2 tags"):
        read_split(tmp_path / "d")


def test_cli_convert(tmp_path):
    write_split(tmp_path / "snips" / "valid")
    main(["convert", str(tmp_path / "snips"), str(tmp_path / "out")])
    assert (tmp_path / "out" / "valid.yml").read_text().startswith('version: "3.1"')
