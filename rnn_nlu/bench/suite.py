"""The loop both benchmarks share: configs take turns over the repeats, each result is measured
or taken from the cache, and the reports are rewritten after every run."""

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from rnn_nlu.bench import report, runner

logger = logging.getLogger(__name__)

# measure(name, seeded config text, run directory) -> result record
Measure = Callable[[str, str, Path], Dict[str, Any]]

# Repeat r uses seed + r * SEED_STRIDE: an ensemble of k networks takes seeds s .. s + k - 1, so
# consecutive seeds would share networks between repeats and understate the spread.
SEED_STRIDE = 100


def repeat_seeds(seed: int, repeat: int) -> List[int]:
    """The seed of each repeat: disjoint ranges for any ensemble of fewer than SEED_STRIDE."""
    return [seed + r * SEED_STRIDE for r in range(repeat)]


def run(
    kind: str,
    measure: Measure,
    data: Dict[str, Any],
    data_files: Sequence[Path],
    configs: Sequence[Path],
    out: Path,
    repeat: int = 1,
    seed: int = 0,
    cache_dir: Optional[Path] = None,
    keep_models: bool = False,
    reference: Optional[str] = None,
    command: str = "",
    scoring: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Measures every config `repeat` times (`repeat_seeds`); writes results.{json,md,png}.

    `scoring`: settings that change a record without changing training (part of the cache key).
    """
    names = report.config_names(configs)
    cache = runner.Cache(cache_dir)
    settings = {
        "repeat": repeat,
        "seeds": repeat_seeds(seed, repeat),
        "cache": str(cache_dir) if cache_dir else None,
    }
    records: List[Dict[str, Any]] = []
    seeds = repeat_seeds(seed, repeat)
    jobs = [(s, name, path) for s in seeds for name, path in zip(names, configs)]
    for number, (run_seed, name, path) in enumerate(jobs, start=1):
        text = runner.seeded_config(path, run_seed)
        key = runner.cache_key(kind, text, data_files, scoring)
        step = f"[{number}/{len(jobs)}] {name} seed {run_seed}"
        record = cache.get(key)
        if record:
            logger.info(f"{step}: reused the result of {record['reused']}")
        else:
            work = out / "runs" / f"{name}-seed{run_seed}"
            logger.info(f"{step}: measuring (logs in {work})")
            record = measure(name, text, work)
            cache.put(key, record)
            if not keep_models:
                (work / "model.tar.gz").unlink(missing_ok=True)
            logger.info(f"    {report.one_line(record)}")
        records.append({"config": name, "config_file": str(path), "seed": run_seed, **record})
        # Rewritten after every run, so a long benchmark shows its results so far.
        results = report.results(kind, records, data, settings, command, number, len(jobs))
        report.write_all(results, out, names, reference)
    return results
