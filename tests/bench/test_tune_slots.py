"""The slot tuning script: F1 on hand-made tags, one short run on a tiny SNIPS-format data set."""

import json

import pytest

from rnn_nlu.bench.tune_slots import entity_f1, main

MESSAGES = [
    ("fly from boston to denver", "O O B-from O B-to"),
    ("book a flight to new york", "O O O O B-to I-to"),
    ("from new york to boston please", "O B-from I-from O B-to O"),
    ("play some jazz", "O O B-genre"),
    ("play rock music from denver", "O B-genre O O B-from"),
    ("show me flights", "O O O"),
]


def write_split(folder, lines):
    folder.mkdir(parents=True)
    (folder / "seq.in").write_text("".join(f"{text}\n" for text, _ in lines), encoding="utf-8")
    (folder / "seq.out").write_text("".join(f"{tags} \n" for _, tags in lines), encoding="utf-8")


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
