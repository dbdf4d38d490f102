"""Tables, chart, cache and seeds of the benchmark, on hand-made records (no training)."""

import sys
from pathlib import Path

import pytest
import yaml

from rnn_nlu.bench import report, runner

MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "system": "Linux"}
VERSIONS = {"python": "3.10", "rasa": "3.6.21", "tensorflow": "2.12.0", "rasa-rnn-nlu": "0.1.0"}


def record(config, seed, accuracy, train_seconds, reused=None, **extra):
    return {
        "config": config,
        "seed": seed,
        "intent_accuracy": accuracy,
        "intent_macro_f1": 0.9,
        "entity_precision": None,
        "entity_recall": 0.0,
        "entity_f1": 0.0,
        "train_seconds": train_seconds,
        "load_seconds": 1.0,
        "parse_p50_ms": 2.0,
        "archive_mb": 10.0,
        "measured": "2024-01-02 03:04",
        **({"reused": reused} if reused else {}),
        **extra,
    }


def results(runs):
    return {
        "kind": "nlu",
        "command": "rnn-nlu-bench nlu ...",
        "finished": "now",
        "versions": VERSIONS,
        "machine": MACHINE,
        "data": {"train": {"path": "t.yml", "sha256": "ab" * 32, "examples": 10}},
        "settings": {"repeat": 2, "seeds": [0, 1], "cache": None},
        "runs": runs,
    }


RUNS = [
    record("diet", 0, 0.90, 100.0, reused="2024-01-01 10:00"),
    record("textrnn", 0, 0.95, 10.0),
    record("diet", 1, 0.92, 300.0, reused="2024-01-01 11:00"),
    record("textrnn", 1, 0.97, 30.0),
]


def test_summary_mean_and_sample_std():
    diet, textrnn = report.summarize(RUNS, ["diet", "textrnn"], "nlu")
    assert diet["intent_accuracy"] == pytest.approx(0.91)
    assert diet["train_seconds_std"] == pytest.approx(141.42, abs=0.01)  # |300-100| / sqrt(2)
    assert textrnn["fresh"] == 2 and textrnn["reused"] == []
    assert diet["fresh"] == 0 and diet["reused"] == ["2024-01-01 10:00", "2024-01-01 11:00"]


def test_markdown_marks_reuse_in_every_table_and_names_machine_and_versions():
    summary = report.summarize(RUNS, ["diet", "textrnn"], "nlu")
    text = report.markdown(results(RUNS), summary, "diet")
    tables = [part for part in text.split("\n\n") if part.startswith("| config")]
    assert len(tables) == 2
    for table in tables:
        (diet_row,) = [line for line in table.splitlines() if line.startswith("| diet ")]
        assert "reused (2024-01-01 10:00, 2024-01-01 11:00)" in diet_row
    assert "| textrnn | 96.0 ± 1.4 |" in text
    assert "| textrnn | +5.0 pp | +0.0 pp | 10 % |" in text  # 20 s of 200 s
    assert "Test CPU, 2 cores" in text and "rasa 3.6.21" in text and "tensorflow 2.12.0" in text


def test_failed_run_is_shown_not_averaged():
    runs = RUNS[:2] + [{"config": "textrnn", "seed": 1, "error": "rasa train nlu failed (exit 1)"}]
    _, textrnn = report.summarize(runs, ["diet", "textrnn"], "nlu")
    assert textrnn["intent_accuracy"] == pytest.approx(0.95)
    assert "1 failed: rasa train nlu failed" in report.markdown(results(runs), [textrnn], "x")


def test_write_all_writes_three_files(tmp_path):
    data = results(RUNS)
    report.write_all(data, tmp_path, ["diet", "textrnn"], "diet")
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "| diet |" in (tmp_path / "results.md").read_text()
    assert '"summary"' in (tmp_path / "results.json").read_text()


def test_repeated_config_names_are_refused():
    with pytest.raises(ValueError, match="repeated"):
        report.config_names([Path("a/x.yml"), Path("b/x.yml")])


def test_cache_reuses_only_identical_runs_and_marks_them(tmp_path):
    data = tmp_path / "train.yml"
    data.write_text("nlu: []")
    cache = runner.Cache(tmp_path / "cache")
    key = runner.cache_key("nlu", "pipeline: []", [data])
    assert cache.get(key) is None
    cache.put(key, {"measured": "2024-01-01 10:00", "intent_accuracy": 0.5})
    assert cache.get(key)["reused"] == "2024-01-01 10:00"
    assert runner.cache_key("nlu", "pipeline: [] ", [data]) != key
    data.write_text("nlu: [x]")
    assert runner.cache_key("nlu", "pipeline: []", [data]) != key
    failed = runner.cache_key("nlu", "failed", [data])
    cache.put(failed, {"measured": "now", "error": "boom"})
    assert cache.get(failed) is None
    assert runner.Cache(None).get(key) is None


def test_seeds_go_to_components_that_take_one(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(
        "pipeline:\n- name: WhitespaceTokenizer\n- name: LogisticRegressionClassifier\n"
        "- name: DIETClassifier\n  epochs: 1\n"
        "policies:\n- name: TEDPolicy\n- name: RulePolicy\n"
    )
    seeded = yaml.safe_load(runner.seeded_config(config, 7))
    tokenizer, logreg, diet = seeded["pipeline"]
    assert "random_seed" not in tokenizer and "random_state" not in tokenizer
    assert logreg["random_state"] == 7
    assert diet == {"name": "DIETClassifier", "epochs": 1, "random_seed": 7}
    assert seeded["policies"][0]["random_seed"] == 7 and "random_seed" not in seeded["policies"][1]


def test_child_wall_time_and_own_peak_memory(tmp_path):
    code = (
        "import time; b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); "
        "time.sleep(0.2); raise SystemExit(3)"
    )
    result = runner.run_child([sys.executable, "-c", code], tmp_path / "log", tmp_path, "child")
    assert result.returncode == 3
    assert result.seconds >= 0.2
    assert 200 <= result.peak_rss_mb < 400


def test_a_failed_evaluation_is_an_error_with_its_log(tmp_path):
    from rnn_nlu.bench import runner

    test_file = tmp_path / "test.yml"
    test_file.write_text('version: "3.1"\nnlu: []\n')
    data, child, error = runner.evaluate_model(
        "nlu",
        "missing parsing",
        tmp_path / "missing.tar.gz",
        [test_file],
        tmp_path / "out.json",
        tmp_path,
    )
    assert data is None and child.returncode != 0
    assert (
        error.startswith("nlu evaluation failed (exit ") and str(tmp_path / "evaluate.log") in error
    )


def test_repeats_get_seed_ranges_that_no_ensemble_shares():
    from rnn_nlu import TextRNNClassifier
    from rnn_nlu.bench import suite

    seeds = suite.repeat_seeds(5, 3)
    assert seeds[0] == 5 and len(seeds) == 3
    size = TextRNNClassifier.get_default_config()["ensemble_size"]
    networks = [set(range(s, s + size)) for s in seeds]  # the seeds each repeat's networks use
    assert all(a.isdisjoint(b) for i, a in enumerate(networks) for b in networks[i + 1 :])


def test_conversations_are_counted_by_the_group_their_name_starts_with(tmp_path):
    from rnn_nlu.bench.evaluate import story_groups

    names = ["unseen: distance 8, change 0", "unseen: distance 9, change 1", "seen: distance 2"]
    stories = tmp_path / "test_stories.yml"
    stories.write_text(
        'version: "3.1"\nstories:\n'
        + "".join(f"- story: '{n}'\n  steps:\n  - intent: a\n" for n in names + ["no group"])
    )
    failed = tmp_path / "failed_test_stories.yml"
    failed.write_text(
        "version: \"3.1\"\nstories:\n- story: 'unseen: distance 9, change 1 (tests/x.yml)'\n"
        "  steps:\n  - intent: a\n"
    )
    assert story_groups(str(stories), failed) == {"unseen": [1, 2], "seen": [1, 1]}
    assert story_groups(str(stories), tmp_path / "none.yml") == {"unseen": [2, 2], "seen": [1, 1]}
