"""`rnn-nlu-bench startup`: tables and ratios on hand-made records, the CLI's errors, and one run
end to end on a tiny bot trained here (a greeting rule, a custom action with no action server)."""

import json
import subprocess
import sys

import pytest
import yaml

from rnn_nlu.bench import startup
from rnn_nlu.bench.__main__ import main
from tests.conftest import RASA, REPO
from tests.helpers import TINY_INTENTS

DOMAIN = """version: "3.1"
intents: [greet, goodbye, book_flight, ask_weather]
actions: [action_check_weather]
responses:
  utter_greet: [{text: "Hello from the tiny bot!"}]
  utter_goodbye: [{text: "Bye!"}]
  utter_ask_destination: [{text: "Where to?"}]
"""
RULES = """version: "3.1"
rules:
- rule: greet
  steps: [{intent: greet}, {action: utter_greet}]
- rule: goodbye
  steps: [{intent: goodbye}, {action: utter_goodbye}]
- rule: book
  steps: [{intent: book_flight}, {action: utter_ask_destination}]
- rule: weather (a custom action; no action server runs in the test)
  steps: [{intent: ask_weather}, {action: action_check_weather}]
"""
CONFIG = """recipe: default.v1
language: en
assistant_id: startup_test
pipeline:
- name: WhitespaceTokenizer
- name: rnn_nlu.TextRNNClassifier
  epochs: 40
  embedding_dim: 16
  rnn_units: 16
  ensemble_size: 1
  validation_split: 0
policies:
- name: RulePolicy
"""


@pytest.fixture(scope="module")
def tiny_bot(tmp_path_factory):
    """A four-intent bot of rules and one TextRNN network, trained by `rasa train`."""
    folder = tmp_path_factory.mktemp("tiny_bot")
    nlu = {"version": "3.1", "nlu": [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
        for intent, texts in TINY_INTENTS.items()
    ]}  # fmt: skip
    files = {"domain.yml": DOMAIN, "config.yml": CONFIG, "rules.yml": RULES}
    files["nlu.yml"] = yaml.safe_dump(nlu, sort_keys=False)
    for name, text in files.items():
        (folder / name).write_text(text)
    command = [RASA, "train", "--config", str(folder / "config.yml"),
               "--domain", str(folder / "domain.yml"),
               "--data", str(folder / "nlu.yml"), str(folder / "rules.yml"),
               "--out", str(folder), "--fixed-model-name", "bot"]  # fmt: skip
    subprocess.run(command, cwd=folder, check=True, timeout=900, capture_output=True)
    return folder / "bot.tar.gz"


def record(model, run, **values):
    return {"model": model, "run": run, "first_reply": ["Hi"], **values}


def test_summary_takes_median_min_and_max_and_skips_failed_runs():
    keys = [key for key, _ in startup.COLUMNS]
    runs = [record("a", i, **{k: v for k in keys}) for i, v in enumerate([3.0, 1.0, 2.0], 1)]
    runs.append(record("a", 4, error="load: OSError: gone"))
    (row,) = startup.summarize(runs, ["a"])
    assert row["runs"] == 4 and row["errors"] == ["run 4: load: OSError: gone"]
    assert (row["load_s"], row["load_s_min"], row["load_s_max"]) == (2.0, 1.0, 3.0)


def test_markdown_has_a_row_per_model_and_ratios_to_the_first():
    values = {key: 1.0 for key, _ in startup.COLUMNS}
    runs = [record("a.tar.gz", 1, **values)]
    runs.append(record("b.tar.gz", 1, **{**values, "load_s": 0.5, "first_reply_ms": 3.0}))
    runs.append(record("b.tar.gz", 2, **{**values, "load_s": 0.5, "first_reply_ms": 5.0}))
    results = {
        "command": "rnn-nlu-bench startup ...",
        "finished": "now",
        "versions": {"rasa": "3.6.21"},
        "machine": {"cpu": "cpu", "cores": 2, "memory_gb": 8, "system": "Linux"},
        "settings": {"messages": ["hello"], "repeat": 2},
        "summary": startup.summarize(runs, ["a.tar.gz", "b.tar.gz"]),
    }
    lines = startup.markdown(results).splitlines()
    a, b, ratio_a, ratio_b = [line for line in lines if line.startswith(("| a.", "| b."))]
    assert a.startswith("| a.tar.gz | 1 | 1 | 1 | 1 |")
    assert b.startswith("| b.tar.gz | 2 | 1 | 0.5 | 4 (3–5) |")  # median (min–max)
    assert ratio_a.startswith("| a.tar.gz | 100 % | 100 % | 100 % |")
    assert ratio_b.startswith("| b.tar.gz | 100 % | 50 % | 400 % |")


def test_result_line_is_found_among_the_childs_log(tmp_path):
    log = tmp_path / "child.log"
    line = startup.RESULT_PREFIX + json.dumps({"load_s": 1.5})
    log.write_text(f"TensorFlow warning\n{line}\nexit logging\n")
    assert startup._result(log) == {"load_s": 1.5}
    log.write_text("Traceback ...\n")
    assert startup._result(log) is None


def test_missing_model_is_named_without_a_traceback(tmp_path):
    missing = tmp_path / "no_such_bot.tar.gz"
    with pytest.raises(SystemExit, match="no_such_bot.tar.gz"):
        main(["startup", "--model", str(missing)])
    done = subprocess.run(
        [sys.executable, "-m", "rnn_nlu.bench", "startup", "--model", str(missing)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"model not found: {missing}" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_startup_of_a_tiny_bot_and_a_broken_archive(tiny_bot, tmp_path):
    broken = tmp_path / "broken" / "bot.tar.gz"
    broken.parent.mkdir()
    broken.write_text("not a model")
    out = tmp_path / "out"
    main(["startup", "--model", str(tiny_bot), "--model", str(broken), "--repeat", "1",
          "--message", "hello", "--message", "what is the weather", "--out", str(out)])  # fmt: skip

    results = json.loads((out / "results.json").read_text())
    good, bad = results["runs"]
    assert "error" not in good, good.get("error")
    for key in ("imports_s", "load_s", "first_reply_ms", "first_parse_ms", "peak_rss_mb"):
        assert good[key] > 0, key
    assert good["later_reply_p50_ms"] > 0 and good["parse_p50_ms"] > 0
    assert len(good["later_reply_ms"]) == 1 + 2 * startup.LATER_ROUNDS
    assert len(good["parse_ms"]) == 2 * startup.PARSE_ROUNDS
    assert good["first_parse_ms"] < good["first_reply_ms"]  # NLU is a part of the reply
    assert good["first_reply"] == ["Hello from the tiny bot!"]
    # The weather rule's custom action fails without an action server: reported, not raised.
    assert any("action_check_weather" in e for e in good["reply_errors"])
    assert bad["error"].startswith("load: ") and bad["peak_rss_mb"] > 0
    text = (out / "results.md").read_text()
    assert f"| {tiny_bot} | 1 |" in text and f"| {broken} | 1 | — |" in text
    assert f"Relative to `{tiny_bot}`" in text and "FAILED run 1: load: " in text
    assert len(list((out / "logs").glob("*.log"))) == 2
