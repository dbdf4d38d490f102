"""The slot tuning script: F1 on hand-made tags, one short run on a tiny SNIPS-format data set, and
the gold intent deciding the entity type with `"intent": true`."""

import json

import pytest

from rnn_nlu.bench.tune_slots import entity_f1, main

MESSAGES = [  # (text, tags, intent)
    ("fly from boston to denver", "O O B-from O B-to", "Flight"),
    ("book a flight to new york", "O O O O B-to I-to", "Flight"),
    ("from new york to boston please", "O B-from I-from O B-to O", "Flight"),
    ("play some jazz", "O O B-genre", "PlayMusic"),
    ("play rock music from denver", "O B-genre O O B-from", "PlayMusic"),
    ("show me flights", "O O O", "Flight"),
]
# The same sentences: an album to play, an object_name to search; only the intent tells which.
RECORDS = ["thriller", "abbey road", "nevermind", "rumours", "blue", "the wall", "purple rain"]
ENTITY_OF = {"PlayMusic": "album", "SearchCreativeWork": "object_name"}
RECORD_MESSAGES = [
    (f"{verb} {record}", f"O B-{entity}" + f" I-{entity}" * (len(record.split()) - 1), intent)
    for verb in ("play", "find")
    for record in RECORDS
    for intent, entity in ENTITY_OF.items()
]
SMALL = {
    "embedding_dim": 8,
    "char_embedding_dim": 4,
    "char_filters": 8,
    "rnn_units": 16,
    "dropout": 0.1,
}


def write_split(folder, lines):
    folder.mkdir(parents=True)
    for name, column, end in (("seq.in", 0, "\n"), ("seq.out", 1, " \n"), ("label", 2, "\n")):
        text = "".join(f"{line[column]}{end}" for line in lines)
        (folder / name).write_text(text, encoding="utf-8")


def test_entity_f1_needs_exact_span_and_type():
    gold = [["B-a", "I-a", "O", "B-b"], ["O", "B-a"], ["B-c"]]
    predicted = [
        ["B-a", "L-a", "O", "U-b"],  # both right, written in BILOU
        ["B-a", "I-a"],  # span too long
        ["B-d"],  # right span, wrong type
    ]
    # 2 correct of 4 gold and 4 predicted: P = R = 1/2
    assert entity_f1(gold, predicted) == 50.0
    # 1 correct of 2 gold and 1 predicted: P = 1, R = 1/2, F1 = 2/3
    assert entity_f1([["B-a", "O", "B-b"]], [["B-a", "O", "O"]]) == pytest.approx(66.67)
    assert entity_f1([["O"]], [["O"]]) == 0.0


def test_a_run_appends_its_scores(tmp_path):
    data, out = tmp_path / "snips", tmp_path / "results.jsonl"
    write_split(data / "train", MESSAGES * 5)
    write_split(data / "valid", MESSAGES)
    write_split(data / "test", MESSAGES[::-1])
    out.write_text('{"opts": {}}\n')  # an earlier run's line stays
    opts = {"epochs": 1, "model": {"rnn_units": 16}}
    result = main([json.dumps(opts), "--test", "--data", str(data), "--out", str(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2 and lines[1] == result
    assert result["opts"] == opts and result["epochs_run"] == 1
    for split in ("valid_f1", "test_f1"):
        assert isinstance(result[split], float) and 0 <= result[split] <= 100


def test_the_gold_intent_decides_the_entity_type(tmp_path):
    """With `"intent": true` the same sentence is tagged album or object_name by its intent;
    without, both intents get one type, so half the entities are wrong."""
    data, out = tmp_path / "snips", tmp_path / "results.jsonl"
    for split in ("train", "valid"):
        write_split(data / split, RECORD_MESSAGES)
    opts = {
        "epochs": 15,
        "validation_split": 0.0,
        "batch_size": 8,
        "learning_rate": 0.01,
        "model": SMALL,
    }
    scores = {}
    for intent in (True, False):
        run = json.dumps({**opts, "intent": intent})
        scores[intent] = main([run, "--data", str(data), "--out", str(out)])["valid_f1"]
    assert scores[True] == 100.0
    assert scores[False] <= 50.0


def test_a_label_file_of_another_length_is_refused(tmp_path):
    data = tmp_path / "snips"
    write_split(data / "train", MESSAGES)
    (data / "train" / "label").write_text("Flight\n")
    with pytest.raises(ValueError, match="label has 1 lines, seq.in 6"):
        main(['{"intent": true}', "--data", str(data), "--out", str(tmp_path / "out.jsonl")])
