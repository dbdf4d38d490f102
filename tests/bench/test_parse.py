"""`rnn-nlu-bench parse`: models' parse times interleaved in blocks of messages in one process,
ratios to the first model round by round, the CLI's errors, and one run on a model trained here."""

import json
import subprocess

import pytest
import yaml

from rnn_nlu.bench import parse
from rnn_nlu.bench.__main__ import main
from tests.conftest import RASA
from tests.helpers import TINY_INTENTS

CONFIG = """recipe: default.v1
language: en
assistant_id: parse_test
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: LogisticRegressionClassifier
"""


class RecordingAgent:
    """Stands in for a Rasa Agent: notes which agent parsed which text, in order."""

    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    async def parse_message(self, text):
        self.calls.append((self.name, text))
        return {"text": text}


def test_every_block_goes_to_every_model_in_turn_alternating_the_order():
    calls = []
    agents = [RecordingAgent("a", calls), RecordingAgent("b", calls)]
    texts = [f"message {i}" for i in range(parse.WARMUP_MESSAGES + 5)]
    times = parse.interleaved(agents, texts, rounds=2, block=10)
    assert [len(rounds) for rounds in times] == [2, 2]
    assert all(len(r) == len(texts) for rounds in times for r in rounds)
    warmup = 2 * parse.WARMUP_MESSAGES
    assert calls[:warmup] == [(a, t) for a in "ab" for t in texts[: parse.WARMUP_MESSAGES]]
    expected = []
    for r in range(2):
        for b, first in enumerate(range(0, len(texts), 10)):  # blocks of 10, 10 and 5
            for a in "ab" if (b + r) % 2 == 0 else "ba":
                expected += [(a, text) for text in texts[first : first + 10]]
    assert calls[warmup:] == expected
    parse.interleaved(agents, texts, rounds=1, block=1)  # message by message
    assert calls[-4:] == [("b", texts[-2]), ("a", texts[-2]), ("a", texts[-1]), ("b", texts[-1])]


def test_each_round_is_divided_by_the_first_models_same_round():
    floor = [[1.0] * 10, [2.0] * 10]
    slower = [[2.0] * 10, [6.0] * 10]  # 2 x the floor in round 1, 3 x in round 2
    first, second = parse.summarize(["floor.tar.gz", "ours.tar.gz"], [floor, slower])
    assert first["p50_ratio_by_round"] == [1.0, 1.0] and first["p50_ratio"] == 1.0
    assert second["p50_ratio_by_round"] == [2.0, 3.0] and second["p50_ratio"] == 2.5
    assert second["parse_p50_ms"] == 4.0
    assert [r["parse_p50_ms"] for r in second["by_round"]] == [2.0, 6.0]
    rows = parse.table([first, second]).splitlines()[2:]
    assert rows[1] == "| ours.tar.gz | 4 / 6 | 2.5 / 2.5 | 2, 3 |"


def test_missing_files_and_rounds_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        main(["parse", "--model", str(tmp_path / "none.tar.gz"), "--test", str(tmp_path)])
    model = tmp_path / "m.tar.gz"
    model.write_bytes(b"")
    for option in ("--rounds", "--block"):
        with pytest.raises(SystemExit, match="must be positive"):
            main(["parse", "--model", str(model), "--test", str(model), option, "0"])


def test_a_trained_model_is_timed_against_itself(tmp_path):
    nlu = {"version": "3.1", "nlu": [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
        for intent, texts in TINY_INTENTS.items()
    ]}  # fmt: skip
    (tmp_path / "nlu.yml").write_text(yaml.safe_dump(nlu, sort_keys=False))
    (tmp_path / "config.yml").write_text(CONFIG)
    command = [RASA, "train", "nlu", "--config", "config.yml", "--nlu", "nlu.yml",
               "--out", ".", "--fixed-model-name", "m"]  # fmt: skip
    subprocess.run(command, cwd=tmp_path, check=True, timeout=600, capture_output=True)
    model, out = str(tmp_path / "m.tar.gz"), tmp_path / "out"
    main(["parse", "--model", model, "--model", model, "--test", str(tmp_path / "nlu.yml"),
          "--rounds", "2", "--block", "7", "--out", str(out)])  # fmt: skip
    result = json.loads((out / "parse.json").read_text())
    messages = sum(len(texts) for texts in TINY_INTENTS.values())
    assert result["messages"] == messages and (result["rounds"], result["block"]) == (2, 7)
    first, second = result["models"]
    assert first["p50_ratio"] == 1.0 and 0 < first["parse_p50_ms"] < 1000
    assert len(second["by_round"]) == 2 and second["p50_ratio"] > 0
    assert "| " + model + " |" in (out / "parse.md").read_text()
