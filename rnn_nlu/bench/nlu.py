"""`nlu`: train each config with `rasa train nlu`, then load it once and parse the test set."""

from pathlib import Path
from typing import Any, Dict

from rnn_nlu.bench import metrics, report, runner, suite


def measure(name: str, config_text: str, train: Path, test: Path, work: Path) -> Dict[str, Any]:
    """Trains one config in a child process and evaluates it in another; one result record."""
    record, model = runner.train_model("nlu", name, config_text, ["--nlu", train], work)
    if model is None:
        return record
    parsed, served, error = runner.evaluate_model(
        "nlu", f"{name} parsing", model, [test], work / "parsed.json", work
    )
    if parsed is None:
        return {**record, "error": error}
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
