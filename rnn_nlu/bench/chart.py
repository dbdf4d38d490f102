"""results.png: one bar chart panel per main column, one bar per config."""

from pathlib import Path
from typing import Any, Dict, List

from rnn_nlu.bench.columns import RELATIVE, fmt, shown


def plot(results: Dict[str, Any], summary: List[Dict[str, Any]], path: Path) -> None:
    """Bar chart: one panel per main column, one bar per config (std as error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = results["kind"]
    columns = [(key, h, k) for key, h, k in shown(kind, summary) if key in RELATIVE[kind]]
    labels = [r["config"] + (" *" if r["reused"] else "") for r in summary]
    figure, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.8), squeeze=False)
    for index, (axis, (key, header, k)) in enumerate(zip(axes[0], columns)):
        scale = 100 if k == "pct" else 1
        values = [(r[key] or 0) * scale for r in summary]
        errors = [(r.get(key + "_std") or 0) * scale for r in summary]
        bars = axis.bar(range(len(summary)), values, yerr=errors, color=f"C{index}")
        axis.bar_label(bars, labels=[fmt(r[key], k) for r in summary], fontsize=7)
        axis.set_title(header.replace("acc.", "accuracy") + (" (%)" if k == "pct" else ""))
        axis.set_xticks(range(len(summary)))
        axis.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
        if k == "pct":
            low = min([v for v in values if v] or [0])
            axis.set_ylim(max(0, low - 5), 100)
    m = results["machine"]
    note = f"{m['cpu']}, {m['cores']} cores; rasa {results['versions']['rasa']}"
    if any(r["reused"] for r in summary):
        note += "; * reused from an earlier run (see results.md)"
    figure.text(0.01, 0.01, note, fontsize=7)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
