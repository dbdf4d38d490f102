"""`nlu`: train each config with `rasa train nlu`, then load it once and parse the test set."""

import json
from pathlib import Path
from typing import Any, Dict

from rnn_nlu.bench import metrics, report, runner, suite


def measure(name: str, config_text: str, train: Path, test: Path, work: Path) -> Dict[str, Any]:
    """Trains one config in a child process and evaluates it in another; one result record."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yml"
    config.write_text(config_text, encoding="utf-8")
    record: Dict[str, Any] = {"measured": runner.now(), "run_dir": str(work)}
    trained = runner.run_child(
        runner.python_command(
            "-m",
            "rasa",
            "train",
            "nlu",
            "--config",
            config.resolve(),
            "--nlu",
            train.resolve(),
            "--out",
            work.resolve(),
            "--fixed-model-name",
            "model",
        ),
        work / "train.log",
        work,
        f"{name} training",
    )
    model = work / "model.tar.gz"
    if trained.returncode or not model.is_file():
        return {
            **record,
            "error": f"rasa train nlu failed (exit {trained.returncode}): see {work / 'train.log'}",
        }
    record.update(
        train_seconds=trained.seconds,
        train_peak_rss_mb=trained.peak_rss_mb,
        archive_mb=model.stat().st_size / 1024**2,
    )
    parsed_file = work / "parsed.json"
    served = runner.run_child(
        runner.python_command(
            "-m",
            "rnn_nlu.bench.evaluate",
            "nlu",
            model.resolve(),
            test.resolve(),
            parsed_file.resolve(),
        ),
        work / "evaluate.log",
        work,
        f"{name} parsing",
    )
    if served.returncode or not parsed_file.is_file():
        return {
            **record,
            "error": f"evaluation failed (exit {served.returncode}): see {work / 'evaluate.log'}",
        }
    parsed = json.loads(parsed_file.read_text(encoding="utf-8"))
    messages = parsed["messages"]
    record.update(
        load_seconds=parsed["load_seconds"],
        serve_peak_rss_mb=served.peak_rss_mb,
        test_messages=len(messages),
        **metrics.intent_scores(
            [m["gold_intent"] for m in messages], [m["intent"] for m in messages]
        ),
        **metrics.entity_scores(
            [m["gold_entities"] for m in messages], [m["entities"] for m in messages]
        ),
        **metrics.latency_scores([m["ms"] for m in messages]),
    )
    return record


def run(train: Path, test: Path, **options: Any) -> Dict[str, Any]:
    """Benchmarks NLU configs on `train`/`test` (options: see `suite.run`)."""
    data = {"train": report.data_info(train), "test": report.data_info(test)}

    def measure_one(name: str, config_text: str, work: Path) -> Dict[str, Any]:
        return measure(name, config_text, train, test, work)

    return suite.run("nlu", measure_one, data, [train, test], **options)
