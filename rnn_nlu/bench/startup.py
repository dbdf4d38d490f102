"""`startup`: a bot's cold start as `rasa shell` meets it, in a fresh process per run: imports,
`Agent.load`, the first reply, later replies, NLU parses, peak memory. See docs/benchmarks.md,
"Startup: load and first reply".

The parent (`run`) starts `python -m rnn_nlu.bench.startup MODEL MESSAGE...` for every model and
repeat; that child (`measure`) prints one JSON line (RESULT_PREFIX + record). This module imports
only the standard library at its top (`runner` needs PyYAML: imported where used), so that the
child's import time is Rasa's and TensorFlow's.
"""

import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rnn_nlu.bench import evaluate  # standard library only at its top, as this module
from rnn_nlu.bench.columns import fmt

logger = logging.getLogger(__name__)

DEFAULT_MESSAGES = ("hello", "book a flight")
LATER_ROUNDS = 3  # after the first reply: the other messages, then all of them this many times
PARSE_ROUNDS = 5  # `agent.parse_message` of every message this many times
CHILD = "rnn_nlu.bench.startup"  # this module, run as the child
SENDER = "startup-bench"
RESULT_PREFIX = "rnn-nlu-startup-result "
MAX_ERRORS = 5  # distinct errors logged while replying, kept in the record
# (record key, column header); seconds for imports and load, milliseconds for replies and parses.
COLUMNS: List[Tuple[str, str]] = [
    ("imports_s", "imports (s)"),
    ("load_s", "load (s)"),
    ("first_reply_ms", "first reply (ms)"),
    ("later_reply_p50_ms", "later reply p50 (ms)"),
    ("first_parse_ms", "first parse (ms)"),
    ("parse_p50_ms", "parse p50 (ms)"),
    ("peak_rss_mb", "peak RSS (MB)"),
]


# The child: one cold start.


class _ErrorLog(logging.Handler):
    """Keeps the distinct ERROR records (Rasa logs a failed custom action and goes on)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        text = f"{type(error).__name__}: {error}" if error else record.getMessage()
        text = text[:300]
        if text not in self.messages and len(self.messages) < MAX_ERRORS:
            self.messages.append(text)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


async def _converse(agent: Any, messages: Sequence[str]) -> Dict[str, Any]:
    """First reply, later replies (one conversation) and NLU parses, timed."""
    nlu_ms: List[float] = []
    parse = agent.processor.parse_message  # what `agent.parse_message` and every reply call

    async def timed_parse(*args: Any, **kwargs: Any) -> Dict[str, Any]:
        start = time.perf_counter()
        try:
            return await parse(*args, **kwargs)
        finally:
            nlu_ms.append(_ms(start))

    agent.processor.parse_message = timed_parse
    start = time.perf_counter()
    first = await agent.handle_text(messages[0], sender_id=SENDER)
    record: Dict[str, Any] = {
        "first_reply_ms": _ms(start),
        "first_parse_ms": nlu_ms[0] if nlu_ms else None,  # NLU's share of the first reply
        "first_reply": [r.get("text") or r for r in first or []],
    }
    later = []
    for text in [*messages[1:], *list(messages) * LATER_ROUNDS]:
        start = time.perf_counter()
        await agent.handle_text(text, sender_id=SENDER)
        later.append(_ms(start))
    parses = []
    for text in list(messages) * PARSE_ROUNDS:
        start = time.perf_counter()
        await agent.parse_message(text)
        parses.append(_ms(start))
    return {
        **record,
        "later_reply_ms": later,
        "later_reply_p50_ms": statistics.median(later),
        "parse_ms": parses,
        "parse_p50_ms": statistics.median(parses),
    }


def measure(model: str, messages: Sequence[str]) -> Dict[str, Any]:
    """Imports, `Agent.load(model)`, then the conversation; a failed step ends it with `error`."""
    os.environ["LOG_LEVEL"] = "WARNING"  # read by Rasa at import; DEBUG logging slows each turn
    record: Dict[str, Any] = {}
    step = "imports"
    try:
        start = time.perf_counter()
        import rasa.engine.recipes.default_components  # noqa: F401 (Rasa's components, TensorFlow)
        import tensorflow  # noqa: F401
        from rasa.core.agent import Agent  # noqa: F401

        record["imports_s"] = time.perf_counter() - start
        evaluate.quiet()
        errors = _ErrorLog()
        logging.getLogger().addHandler(errors)
        step = "load"
        agent, record["load_s"] = evaluate.load_agent(model)
        record["model_file"] = str(agent.processor.model_filename)
        step = "reply"
        record.update(asyncio.run(_converse(agent, messages)))
        record["reply_errors"] = errors.messages
    except Exception as e:  # reported in the record, with the step it ended
        record["error"] = f"{step}: {type(e).__name__}: {e}"[:500]
    return record


# The parent: children, summary, tables.


def _result(log: Path) -> Optional[Dict[str, Any]]:
    """The record a child printed into its log, or None."""
    for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    return None


def _tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return " | ".join([x.strip() for x in text.splitlines() if x.strip()][-lines:])[-400:]


def run_once(model: Path, messages: Sequence[str], log: Path, label: str) -> Dict[str, Any]:
    """One fresh child for `model`: its record with the child's peak RSS and wall time."""
    from rnn_nlu.bench import runner

    command = runner.python_command("-m", CHILD, model.resolve(), *messages)
    child = runner.run_child(command, log, log.parent, label)
    record = _result(log) if log.is_file() else None
    if record is None:
        error = f"the child ended (exit {child.returncode}) without a result: {_tail(log)}"
        record = {"error": error}
    return {**record, "peak_rss_mb": child.peak_rss_mb, "process_s": child.seconds}


def summarize(runs: List[Dict[str, Any]], models: Sequence[str]) -> List[Dict[str, Any]]:
    """Per model: median, min and max of each column over its successful runs."""
    summary = []
    for model in models:
        records = [r for r in runs if r["model"] == model]
        good = [r for r in records if not r.get("error")]
        row: Dict[str, Any] = {
            "model": model,
            "runs": len(records),
            "errors": [f"run {r['run']}: {r['error']}" for r in records if r.get("error")],
            "reply_errors": sorted({e for r in good for e in r.get("reply_errors", [])}),
            "first_reply": good[0]["first_reply"] if good else None,
        }
        for key, _ in COLUMNS:
            values = [r[key] for r in good if r.get(key) is not None]
            row[key] = statistics.median(values) if values else None
            row[key + "_min"] = min(values) if values else None
            row[key + "_max"] = max(values) if values else None
        summary.append(row)
    return summary


def _cell(row: Dict[str, Any], key: str) -> str:
    text, low, high = (fmt(row[key + end], "cost") for end in ("", "_min", "_max"))
    return text if low == high else f"{text} ({low}–{high})"


def markdown(results: Dict[str, Any]) -> str:
    """results.json as Markdown: what ran where, a row per model, ratios to the first model."""
    summary, settings = results["summary"], results["settings"]
    v, m = results["versions"], results["machine"]
    said = ", ".join(json.dumps(t) for t in settings["messages"])
    lines = [
        "# Startup benchmark",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['system']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- messages: {said}; {settings['repeat']} fresh process(es) per model, models taking "
        f"turns; finished: {results['finished']}",
        f"- command: `{results['command']}`",
        "",
        "| model | runs | " + " | ".join(h for _, h in COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for row in summary:
        cells = [_cell(row, key) for key, _ in COLUMNS]
        lines.append(f"| {row['model']} | {row['runs']} | " + " | ".join(cells) + " |")
    base = summary[0]
    if len(summary) > 1:
        lines += [
            "",
            f"Relative to `{base['model']}` (median as a share of its median):",
            "",
            "| model | " + " | ".join(h.split(" (")[0] for _, h in COLUMNS) + " |",
            "|---|" + "---:|" * len(COLUMNS),
        ]
        for row in summary:
            cells = [
                f"{100 * row[k] / base[k]:.0f} %" if row[k] is not None and base[k] else "—"
                for k, _ in COLUMNS
            ]
            lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    lines += ["", f"First reply to {json.dumps(settings['messages'][0])}:", ""]
    lines += [
        f"- {row['model']}: {json.dumps(row['first_reply'])}"
        for row in summary
        if row["first_reply"] is not None
    ]
    errors = [
        *(f"- {row['model']}: FAILED {e}" for row in summary for e in row["errors"]),
        *(f"- {row['model']}: while replying: {e}" for row in summary for e in row["reply_errors"]),
    ]
    if errors:
        lines += ["", "Errors:", "", *errors]
    lines += [
        "",
        "Median (min–max) over the runs; columns explained in docs/benchmarks.md, "
        '"Startup: load and first reply".',
        "",
    ]
    return "\n".join(lines)


def _one_line(record: Dict[str, Any]) -> str:
    if record.get("error"):
        return f"FAILED: {record['error']}"
    return f"load {record['load_s']:.2f} s, first reply {record['first_reply_ms']:.0f} ms"


def _name(model: Path) -> str:
    return f"{model.parent.name or 'model'}-{model.name}".replace("/", "_")


def run(
    models: Sequence[Path], messages: Sequence[str], repeat: int, out: Optional[Path], command: str
) -> Dict[str, Any]:
    """`repeat` fresh children per model, the models taking turns; writes results.json and
    results.md into `out` when given (children's logs under `out/logs`) and logs the table."""
    from rnn_nlu.bench import runner

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        logs = out / "logs" if out else Path(scratch)
        for index in range(1, repeat + 1):
            for number, model in enumerate(models, 1):
                label = f"{model} run {index}/{repeat}"
                log = logs / f"{number}-{_name(model)}-run{index}.log"
                logger.info(f"{label} ...")
                record = {"model": str(model), "run": index}
                record.update(run_once(model, messages, log, label))
                runs.append(record)
                logger.info(f"    {_one_line(record)}")
    results = {
        "kind": "startup",
        "command": command,
        "finished": runner.now(),
        "versions": runner.versions(),
        "machine": runner.machine(),
        "settings": {
            "messages": list(messages),
            "repeat": repeat,
            "later_rounds": LATER_ROUNDS,
            "parse_rounds": PARSE_ROUNDS,
        },
        "runs": runs,
        "summary": summarize(runs, [str(m) for m in models]),
    }
    text = markdown(results)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        (out / "results.md").write_text(text, encoding="utf-8")
    logger.info("\n" + text)
    return results


if __name__ == "__main__":  # the child: python -m rnn_nlu.bench.startup MODEL MESSAGE...
    result = measure(sys.argv[1], sys.argv[2:] or DEFAULT_MESSAGES)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.exit(1 if result.get("error") else 0)
