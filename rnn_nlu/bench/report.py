"""results.json, results.md (Markdown tables) and results.png (bar chart) of a benchmark run."""

import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from rnn_nlu.bench import chart, runner
from rnn_nlu.bench.columns import COLUMNS, RELATIVE, fmt, shown

logger = logging.getLogger(__name__)

DOCS = "docs/benchmarks.md"


def config_names(configs: Sequence[Path]) -> List[str]:
    """Each config's file name without `.yml`; raises ValueError on a repeated name."""
    names = [Path(c).stem for c in configs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"Configs must have different file names; repeated: {repeated}")
    return names


def data_info(path: Path, count_nlu: bool = True) -> Dict[str, Any]:
    """Path, SHA-256 and (for NLU data) the number of distinct examples of a data file."""
    info: Dict[str, Any] = {"path": str(path), "sha256": runner.file_hash(path)}
    if count_nlu:
        from rasa.shared.nlu.training_data.loading import load_data

        info["examples"] = len(load_data(str(path)).intent_examples)
    return info


def results(
    kind: str,
    runs: List[Dict[str, Any]],
    data: Dict[str, Any],
    settings: Dict[str, Any],
    command: str,
    done: int,
    total: int,
) -> Dict[str, Any]:
    """The content of results.json, less the summary."""
    return {
        "kind": kind,
        "command": command,
        "finished": runner.now() if done == total else f"in progress ({done} of {total} runs)",
        "versions": runner.versions(),
        "machine": runner.machine(),
        "data": data,
        "settings": settings,
        "runs": runs,
    }


def one_line(record: Dict[str, Any]) -> str:
    """A record's main numbers, for the progress log."""
    if record.get("error"):
        return f"FAILED: {record['error']}"
    present = [(k, h, kind) for k, h, kind in COLUMNS["nlu"] + COLUMNS["core"] if k in record]
    seen, parts = set(), []
    for key, header, kind in present:
        if key not in seen:
            seen.add(key)
            parts.append(f"{header} {fmt(record[key], kind)}")
    return ", ".join(parts)


def summarize(runs: List[Dict[str, Any]], names: Sequence[str], kind: str) -> List[Dict[str, Any]]:
    """Per config: mean and sample standard deviation of each column over its successful runs."""
    by_config = defaultdict(list)
    for record in runs:
        by_config[record["config"]].append(record)
    summary = []
    for name in names:
        records = by_config[name]
        good = [r for r in records if not r.get("error")]
        row: Dict[str, Any] = {
            "config": name,
            "runs": len(records),
            "fresh": sum(not r.get("reused") for r in good),
            "reused": sorted({r["reused"] for r in good if r.get("reused")}),
            "errors": [r["error"] for r in records if r.get("error")],
        }
        for key, _, _ in COLUMNS[kind]:
            values = [r[key] for r in good if r.get(key) is not None]
            row[key] = float(np.mean(values)) if values else None
            row[key + "_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        summary.append(row)
    return summary


def _provenance(row: Dict[str, Any]) -> str:
    parts = []
    if row["fresh"]:
        parts.append(f"{row['fresh']} fresh" if row["runs"] > 1 else "fresh")
    if row["reused"]:
        parts.append("reused (" + ", ".join(row["reused"]) + ")")
    if row["errors"]:
        parts.append(f"{len(row['errors'])} failed: {row['errors'][0]}")
    return "; ".join(parts)


def _cell(row: Dict[str, Any], key: str, kind: str) -> str:
    text = fmt(row[key], kind)
    std = row.get(key + "_std")
    return f"{text} ± {fmt(std, kind)}" if std is not None else text


def _relative_cell(row: Dict[str, Any], base: Dict[str, Any], key: str, kind: str) -> str:
    if row[key] is None or base[key] is None:
        return "—"
    if kind == "pct":
        return f"{100 * (row[key] - base[key]):+.1f} pp"
    return f"{100 * row[key] / base[key]:.0f} %" if base[key] else "—"


def markdown(results: Dict[str, Any], summary: List[Dict[str, Any]], reference: str) -> str:
    """The run as Markdown: what and where it ran, its table, the table relative to `reference`."""
    kind = results["kind"]
    columns = shown(kind, summary)
    v, m = results["versions"], results["machine"]
    data = ", ".join(
        f"{split} `{d['path']}` ("
        + (f"{d['examples']} examples, " if "examples" in d else "")
        + f"sha256 {d['sha256'][:12]})"
        for split, d in results["data"].items()
    )
    lines = [
        f"# {kind.upper()} benchmark",
        "",
        f"- data: {data}",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['system']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- seeds: {results['settings']['seeds']}; finished: {results['finished']}",
        f"- command: `{results['command']}`",
        "",
        "| config | " + " | ".join(h for _, h, _ in columns) + " | measured |",
        "|---|" + "---:|" * len(columns) + "---|",
    ]
    for row in summary:
        cells = [_cell(row, key, k) for key, _, k in columns]
        lines.append(f"| {row['config']} | " + " | ".join(cells) + f" | {_provenance(row)} |")
    base = next((r for r in summary if r["config"] == reference), None)
    if base is not None and len(summary) > 1:
        relative = [(key, h, k) for key, h, k in columns if key in RELATIVE[kind]]
        lines += [
            "",
            f"Relative to `{reference}` (accuracy: difference in percentage points; "
            "cost: share of the reference's):",
            "",
            "| config | " + " | ".join(h for _, h, _ in relative) + " | measured |",
            "|---|" + "---:|" * len(relative) + "---|",
        ]
        for row in summary:
            cells = [_relative_cell(row, base, key, k) for key, _, k in relative]
            lines.append(f"| {row['config']} | " + " | ".join(cells) + f" | {_provenance(row)} |")
    repeat = results["settings"]["repeat"]
    lines += [
        "",
        "Accuracies in %; "
        + ("mean ± sample standard deviation over seeds; " if repeat > 1 else "")
        + f"columns explained in {DOCS}.",
        "",
    ]
    return "\n".join(lines)


def write_all(
    results: Dict[str, Any], out: Path, names: Sequence[str], reference: Optional[str] = None
) -> None:
    """Adds the summary to `results` and writes results.json, results.md and results.png."""
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in names if any(r["config"] == n for r in results["runs"])]
    summary = summarize(results["runs"], names, results["kind"])
    results["summary"] = summary
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (out / "results.md").write_text(
        markdown(results, summary, reference or names[0]), encoding="utf-8"
    )
    chart.plot(results, summary, out / "results.png")
    logger.info(f"Wrote {out / 'results.json'}, {out / 'results.md'}, {out / 'results.png'}")
