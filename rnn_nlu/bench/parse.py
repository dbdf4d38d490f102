"""`parse`: trained models' NLU parse times side by side in one process. The test messages are
parsed in blocks, each block by every model in turn (the order alternating from block to block),
so that a busy or noisy machine slows them alike; p50 / p99 of each, and as a ratio to the first
model's (the floor, e.g. Rasa's bag-of-words `logreg`), per round and over all. See
docs/benchmarks.md, "Parse times, interleaved".

`rnn-nlu-bench nlu` times each model in its own process, one after another: there a slower
minute of the machine lands on one model only.
"""

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from rnn_nlu.bench import evaluate
from rnn_nlu.bench.columns import fmt
from rnn_nlu.bench.metrics import latency_scores

WARMUP_MESSAGES = evaluate.WARMUP_MESSAGES
# Messages each model parses before the next takes over. Model after model message by message,
# each met CPU caches the other had filled: on SNIPS both parsed slower, the floor more, and the
# ratio fell from 1.78 (blocks of 50) to 1.52 (2026-12-06, docs/benchmarks.md).
BLOCK = 50


def interleaved(
    agents: Sequence[Any], texts: Sequence[str], rounds: int, block: int = BLOCK
) -> List[List[List[float]]]:
    """Milliseconds of `agent.parse_message(text)`, [model][round][message]: the messages in
    blocks of `block`, each block by every agent in turn, first in order, then (next block) in
    reverse order; after WARMUP_MESSAGES each."""
    loop = asyncio.new_event_loop()
    try:
        for agent in agents:
            for text in texts[:WARMUP_MESSAGES]:
                loop.run_until_complete(agent.parse_message(text))
        times: List[List[List[float]]] = [[[] for _ in range(rounds)] for _ in agents]
        order = list(range(len(agents)))
        for r in range(rounds):
            for b, first in enumerate(range(0, len(texts), block)):
                for m in order if (b + r) % 2 == 0 else order[::-1]:
                    for text in texts[first : first + block]:
                        start = time.perf_counter()
                        loop.run_until_complete(agents[m].parse_message(text))
                        times[m][r].append((time.perf_counter() - start) * 1000)
        return times
    finally:
        loop.close()


def summarize(models: Sequence[str], times: List[List[List[float]]]) -> List[Dict[str, Any]]:
    """One record per model: parse p50 / p99 / mean over all rounds (`latency_scores`), per
    round, and each round's as a ratio to the first model's in the same round."""
    floor = [latency_scores(r) for r in times[0]]
    records = []
    for model, rounds in zip(models, times):
        by_round = [latency_scores(r) for r in rounds]
        ratios = {
            key: [b[key] / f[key] for b, f in zip(by_round, floor)]
            for key in ("parse_p50_ms", "parse_p99_ms")
        }
        records.append(
            {
                "model": model,
                **latency_scores([t for r in rounds for t in r]),
                "by_round": by_round,
                "p50_ratio": float(np.mean(ratios["parse_p50_ms"])),
                "p99_ratio": float(np.mean(ratios["parse_p99_ms"])),
                "p50_ratio_by_round": ratios["parse_p50_ms"],
                "p99_ratio_by_round": ratios["parse_p99_ms"],
            }
        )
    return records


def table(records: Sequence[Dict[str, Any]]) -> str:
    lines = [
        "| model | parse p50 / p99 (ms) | p50 / p99 as × the first's (mean of rounds) | "
        "p50 × by round |",
        "|---|---:|---:|---|",
    ]
    for r in records:
        rounds = ", ".join(fmt(x, ".2f") for x in r["p50_ratio_by_round"])
        lines.append(
            f"| {r['model']} | {fmt(r['parse_p50_ms'], '.2f')} / {fmt(r['parse_p99_ms'], '.2f')} | "
            f"{fmt(r['p50_ratio'], '.2f')} / {fmt(r['p99_ratio'], '.2f')} | {rounds} |"
        )
    return "\n".join(lines) + "\n"


def run(
    models: Sequence[Path],
    test: Path,
    rounds: int,
    out: Path,
    command: str = "",
    block: int = BLOCK,
) -> None:
    """Loads every model in this process, times the test messages interleaved; writes
    OUT/parse.{json,md} and prints the table."""
    evaluate.quiet()
    texts = [m.get("text") for m in evaluate.examples(str(test))]
    if not texts:
        raise ValueError(f"{test}: no messages to parse")
    agents = [evaluate.load_agent(str(m))[0] for m in models]
    names = [str(m) for m in models]
    records = summarize(names, interleaved(agents, texts, rounds, block))
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "command": command,
        "test": str(test),
        "messages": len(texts),
        "rounds": rounds,
        "block": block,
        "models": records,
    }
    (out / "parse.json").write_text(json.dumps(result, indent=1))
    text = table(records)
    (out / "parse.md").write_text((f"`{command}`\n\n" if command else "") + text)
    print(text)
