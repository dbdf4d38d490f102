"""The columns of the result tables and chart."""

from typing import Dict, List, Optional, Tuple

# (record key, column header, kind): "pct" is a share shown in %, "cost" a time or size.
COLUMNS: Dict[str, List[Tuple[str, str, str]]] = {
    "nlu": [
        ("intent_accuracy", "intent acc.", "pct"),
        ("intent_macro_f1", "intent macro-F1", "pct"),
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
# Columns compared with the reference config, and those drawn in the chart.
RELATIVE = {
    "nlu": [
        "intent_accuracy",
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


def fmt(value: Optional[float], kind: str) -> str:
    """A value as shown in tables and on bars: shares in %, three significant digits below 100."""
    if value is None:
        return "—"
    if kind == "pct":
        return f"{100 * value:.1f}"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
