"""The columns of the result tables and chart."""

from typing import Any, Dict, List, Optional, Sequence, Tuple

# (record key, column header, kind): "pct" is a share shown in %, "cost" a time or size, "number"
# a plain number (a confidence threshold).
COLUMNS: Dict[str, List[Tuple[str, str, str]]] = {
    "nlu": [
        ("intent_accuracy", "intent acc.", "pct"),
        ("intent_macro_f1", "intent macro-F1", "pct"),
        # Out-of-scope detection by a confidence threshold (CLINC150's oos-threshold protocol).
        ("val_intent_accuracy", "val intent acc.", "pct"),
        ("in_scope_accuracy", "in-scope acc.", "pct"),
        ("oos_recall", "oos recall", "pct"),
        ("oos_threshold", "oos threshold", "number"),
        ("in_scope_accuracy_at_0_4", "in-scope acc. @0.4", "pct"),
        ("oos_recall_at_0_4", "oos recall @0.4", "pct"),
        # Threshold-free: in-scope above out-of-scope (AUROC); confidence against accuracy (ECE).
        ("oos_auroc", "oos AUROC", "pct"),
        ("calibration_error", "ECE", "pct"),
        ("entity_precision", "entity P", "pct"),
        ("entity_recall", "entity R", "pct"),
        ("entity_f1", "entity F1", "pct"),
        ("train_seconds", "train (s)", "cost"),
        ("train_peak_rss_mb", "train RSS (MB)", "cost"),
        ("load_seconds", "load (s)", "cost"),
        ("parse_p50_ms", "parse p50 (ms)", "cost"),
        ("parse_p99_ms", "parse p99 (ms)", "cost"),
        ("archive_mb", "archive (MB)", "cost"),
        ("serve_peak_rss_mb", "serve RSS (MB)", "cost"),
    ],
    "core": [
        ("action_accuracy", "action acc.", "pct"),
        ("action_f1", "action F1", "pct"),
        ("conversation_accuracy", "conversation acc.", "pct"),
        # Test stories named "seen-<d>: ..." / "unseen-<d>: ..." (rnn_nlu.bench.dialogues).
        ("seen_conversation_accuracy", "seen-distance conv.", "pct"),
        ("unseen_conversation_accuracy", "unseen-distance conv.", "pct"),
        ("train_seconds", "train (s)", "cost"),
        ("train_peak_rss_mb", "train RSS (MB)", "cost"),
        ("load_seconds", "load (s)", "cost"),
        ("archive_mb", "archive (MB)", "cost"),
    ],
}
# Columns shown only when some config has a value in them (SNIPS tables: only ECE of these).
OPTIONAL = {
    "nlu": {
        "val_intent_accuracy",
        "in_scope_accuracy",
        "oos_recall",
        "oos_threshold",
        "in_scope_accuracy_at_0_4",
        "oos_recall_at_0_4",
        "oos_auroc",
        "calibration_error",
    },
    "core": set(),
}
# Columns compared with the reference config, and those drawn in the chart.
RELATIVE = {
    "nlu": [
        "intent_accuracy",
        "in_scope_accuracy",
        "oos_recall",
        "entity_f1",
        "train_seconds",
        "load_seconds",
        "parse_p50_ms",
        "archive_mb",
    ],
    "core": [
        "action_accuracy",
        "conversation_accuracy",
        "train_seconds",
        "load_seconds",
        "archive_mb",
    ],
}


def shown(kind: str, rows: Sequence[Dict[str, Any]]) -> List[Tuple[str, str, str]]:
    """The columns of `kind` for these summary rows: all but the OPTIONAL ones none of them has."""
    return [
        column
        for column in COLUMNS[kind]
        if column[0] not in OPTIONAL[kind] or any(r.get(column[0]) is not None for r in rows)
    ]


def fmt(value: Optional[float], kind: str) -> str:
    """A value as shown in tables and on bars: shares in %, three significant digits below 100."""
    if value is None:
        return "—"
    if kind == "pct":
        return f"{100 * value:.1f}"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
