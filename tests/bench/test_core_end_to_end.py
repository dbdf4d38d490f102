"""`rnn-nlu-bench core` end to end on a tiny bot with a cheap (untrained-network) config."""

import json

import pytest

from rnn_nlu.bench.__main__ import main

DOMAIN = """version: "3.1"
intents: [greet, goodbye, thank]
responses:
  utter_greet: [{text: "Hi!"}]
  utter_goodbye: [{text: "Bye!"}]
  utter_welcome: [{text: "You're welcome."}]
"""
STORIES = """version: "3.1"
stories:
- story: greet then bye
  steps: [{intent: greet}, {action: utter_greet}, {intent: goodbye}, {action: utter_goodbye}]
- story: thanks
  steps: [{intent: thank}, {action: utter_welcome}]
"""
TEST_STORIES = """version: "3.1"
stories:
- story: seen
  steps: [{intent: greet}, {action: utter_greet}, {intent: goodbye}, {action: utter_goodbye}]
- story: thanks first, then a goodbye the memoization never saw after thanks
  steps: [{intent: thank}, {action: utter_welcome}, {intent: goodbye}, {action: utter_goodbye}]
"""
CONFIG = "recipe: default.v1\nassistant_id: t\npolicies:\n- name: MemoizationPolicy\n"


@pytest.mark.slow
def test_core_benchmark_end_to_end(tmp_path):
    files = {"domain.yml": DOMAIN, "stories.yml": STORIES, "test.yml": TEST_STORIES}
    for name, text in {**files, "memo.yml": CONFIG}.items():
        (tmp_path / name).write_text(text)

    main(["core", "--domain", str(tmp_path / "domain.yml"),
          "--stories", str(tmp_path / "stories.yml"),
          "--test-stories", str(tmp_path / "test.yml"),
          "--config", str(tmp_path / "memo.yml"), "--out", str(tmp_path / "out")])  # fmt: skip

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    (run,) = results["runs"]
    assert "error" not in run, run.get("error")
    # Memoization knows the first story and no continuation of the second after `thank`.
    assert run["conversations"] == 2 and run["conversation_accuracy"] == pytest.approx(0.5)
    assert 0.5 <= run["action_accuracy"] < 1.0
    assert run["train_seconds"] > 0 and run["archive_mb"] > 0
    assert "| memo |" in (tmp_path / "out" / "results.md").read_text()
    assert (tmp_path / "out" / "results.png").is_file()
