"""`nlu`: train each config with `rasa train nlu`, then load it once and parse the test set (and
the validation set that chooses an out-of-scope threshold, for CLINC150-style data)."""

from pathlib import Path
from typing import Any, Dict, List, Optional

from rnn_nlu.bench import metrics, report, runner, suite

# The FallbackClassifier threshold of the default bot (config/config.yml).
BOT_THRESHOLD = 0.4
THRESHOLD_RULE = "val accuracy, oos as a class"  # metrics.choose_threshold


def check_out_of_scope(test: Path, val: Optional[Path], out_of_scope_intent: str) -> None:
    """Raises ValueError when `test` holds out-of-scope messages but `val` cannot choose a
    threshold: not given, or without both in-scope and out-of-scope messages."""
    from rasa.shared.nlu.training_data.loading import load_data

    if out_of_scope_intent not in load_data(str(test)).intents:
        return
    if val is None:
        raise ValueError(
            f"{test} holds out-of-scope messages (intent {out_of_scope_intent!r}): give --val "
            f"with in-scope and out-of-scope messages to choose the threshold on."
        )
    intents = load_data(str(val)).intents
    if out_of_scope_intent not in intents or len(intents) < 2:
        raise ValueError(
            f"{val} must hold both in-scope messages and out-of-scope ones (intent "
            f"{out_of_scope_intent!r}) to choose the threshold on."
        )


def score_intents(
    messages: List[Dict[str, Any]],
    val_messages: Optional[List[Dict[str, Any]]],
    out_of_scope_intent: str = "oos",
) -> Dict[str, Any]:
    """Intent accuracy and macro-F1 of parsed messages; with out-of-scope test messages, over the
    in-scope ones by the classifier's intent, plus the threshold chosen on `val_messages` and the
    in-scope accuracy and out-of-scope recall at it and at BOT_THRESHOLD."""
    gold = [m["gold_intent"] for m in messages]
    if out_of_scope_intent not in gold:
        return {
            **metrics.intent_scores(gold, [m["intent"] for m in messages]),
            "calibration_error": metrics.calibration_error(
                gold,
                [m["classifier_intent"] for m in messages],
                [m["confidence"] for m in messages],
            ),
        }
    if not val_messages:
        raise ValueError("Test messages are out of scope: validation messages are needed.")
    predicted = [m["classifier_intent"] for m in messages]
    confidence = [m["confidence"] for m in messages]
    in_scope = [i for i, g in enumerate(gold) if g != out_of_scope_intent]
    threshold = metrics.choose_threshold(
        [m["gold_intent"] for m in val_messages],
        [m["classifier_intent"] for m in val_messages],
        [m["confidence"] for m in val_messages],
        out_of_scope_intent,
    )
    at_threshold = metrics.out_of_scope_scores(
        gold, predicted, confidence, threshold, out_of_scope_intent
    )
    at_bot = metrics.out_of_scope_scores(
        gold, predicted, confidence, BOT_THRESHOLD, out_of_scope_intent
    )
    val_in_scope = [m for m in val_messages if m["gold_intent"] != out_of_scope_intent]
    val_scores = metrics.intent_scores(
        [m["gold_intent"] for m in val_in_scope], [m["classifier_intent"] for m in val_in_scope]
    )
    return {
        **metrics.intent_scores([gold[i] for i in in_scope], [predicted[i] for i in in_scope]),
        "calibration_error": metrics.calibration_error(
            [gold[i] for i in in_scope],
            [predicted[i] for i in in_scope],
            [confidence[i] for i in in_scope],
        ),
        "oos_auroc": metrics.oos_auroc(gold, confidence, out_of_scope_intent),
        # What options are chosen on: the test columns are reported, never tuned on.
        "val_intent_accuracy": val_scores["intent_accuracy"],
        "out_of_scope_test_messages": len(gold) - len(in_scope),
        "oos_threshold": threshold,
        **at_threshold,
        "in_scope_accuracy_at_0_4": at_bot["in_scope_accuracy"],
        "oos_recall_at_0_4": at_bot["oos_recall"],
    }


def measure(
    name: str,
    config_text: str,
    train: Path,
    test: Path,
    work: Path,
    val: Optional[Path] = None,
    out_of_scope_intent: str = "oos",
) -> Dict[str, Any]:
    """Trains one config in a child process and evaluates it in another; one result record."""
    record, model = runner.train_model("nlu", name, config_text, ["--nlu", train], work)
    if model is None:
        return record
    parsed, served, error = runner.evaluate_model(
        "nlu", f"{name} parsing", model, [test] + ([val] if val else []), work / "parsed.json", work
    )
    if parsed is None:
        return {**record, "error": error}
    messages = parsed["messages"]
    record.update(
        load_seconds=parsed["load_seconds"],
        serve_peak_rss_mb=served.peak_rss_mb,
        test_messages=len(messages),
        **score_intents(messages, parsed.get("val_messages"), out_of_scope_intent),
        **metrics.entity_scores(
            [m["gold_entities"] for m in messages], [m["entities"] for m in messages]
        ),
        **metrics.latency_scores([m["ms"] for m in messages]),
    )
    return record


def run(
    train: Path,
    test: Path,
    val: Optional[Path] = None,
    out_of_scope_intent: str = "oos",
    **options: Any,
) -> Dict[str, Any]:
    """Benchmarks NLU configs on `train`/`test`, with `val` to choose the out-of-scope threshold
    when `test` holds `out_of_scope_intent` messages (options: see `suite.run`)."""
    files = {"train": train, "test": test, **({"val": val} if val else {})}
    data = {split: report.data_info(path) for split, path in files.items()}

    def measure_one(name: str, config_text: str, work: Path) -> Dict[str, Any]:
        return measure(name, config_text, train, test, work, val, out_of_scope_intent)

    # Without --val the key is what it always was, so earlier (SNIPS) results stay reusable.
    # The threshold rule is named so that records scored by another rule are not reused.
    scoring = (
        {"out_of_scope_intent": out_of_scope_intent, "threshold": THRESHOLD_RULE} if val else None
    )
    return suite.run("nlu", measure_one, data, list(files.values()), scoring=scoring, **options)
