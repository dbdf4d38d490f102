"""`core`: train each config with `rasa train core`, then run Rasa's story evaluation on it."""

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
    scores, _, error = runner.evaluate_model(
        "core",
        f"{name} story test",
        model,
        [test_stories, work / "test"],
        work / "scores.json",
        work,
    )
    if scores is None:
        return {**record, "error": error}
    return {**record, **scores}


def run(domain: Path, stories: Path, test_stories: Path, **options: Any) -> Dict[str, Any]:
    """Benchmarks dialogue configs (options: see `suite.run`)."""
    files = {"domain": domain, "stories": stories, "test_stories": test_stories}
    data = {split: report.data_info(path, count_nlu=False) for split, path in files.items()}

    def measure_one(name: str, config_text: str, work: Path) -> Dict[str, Any]:
        return measure(name, config_text, domain, stories, test_stories, work)

    return suite.run("core", measure_one, data, list(files.values()), **options)
