"""`core`: train each config with `rasa train core`, then run Rasa's story evaluation on it."""

import json
from pathlib import Path
from typing import Any, Dict

from rnn_nlu.bench import report, runner, suite


def measure(
    name: str, config_text: str, domain: Path, stories: Path, test_stories: Path, work: Path
) -> Dict[str, Any]:
    """Trains one config in a child process and evaluates it in another; one result record."""
    record, model = runner.train_model(
        "core", name, config_text, ["--domain", domain, "--stories", stories], work
    )
    if model is None:
        return record
    scores = work / "scores.json"
    tested = runner.run_child(
        runner.python_command(
            "-m",
            "rnn_nlu.bench.evaluate",
            "core",
            model.resolve(),
            test_stories.resolve(),
            (work / "test").resolve(),
            scores.resolve(),
        ),
        work / "evaluate.log",
        work,
        f"{name} story test",
    )
    if tested.returncode or not scores.is_file():
        return {
            **record,
            "error": f"story evaluation failed (exit {tested.returncode}): "
            f"see {work / 'evaluate.log'}",
        }
    return {**record, **json.loads(scores.read_text(encoding="utf-8"))}


def run(domain: Path, stories: Path, test_stories: Path, **options: Any) -> Dict[str, Any]:
    """Benchmarks dialogue configs (options: see `suite.run`)."""
    files = {"domain": domain, "stories": stories, "test_stories": test_stories}
    data = {split: report.data_info(path, count_nlu=False) for split, path in files.items()}

    def measure_one(name: str, config_text: str, work: Path) -> Dict[str, Any]:
        return measure(name, config_text, domain, stories, test_stories, work)

    return suite.run("core", measure_one, data, list(files.values()), **options)
