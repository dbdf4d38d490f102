"""What both benchmarks share: child processes with wall time and peak memory, seeds, the cache,
and the versions and machine a run names."""

import datetime
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import yaml

from rnn_nlu.source import code_hash

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 60  # how often a long child's progress is logged
SEED_OPTIONS = ("random_seed", "random_state")  # how Rasa components name their seed
CACHE_FORMAT = 1  # bump when a record's fields change meaning


class ChildResult(NamedTuple):
    """How a child process ended."""

    returncode: int
    seconds: float
    peak_rss_mb: float


def child_env() -> Dict[str, str]:
    """Environment of every child: quiet TensorFlow, no telemetry, Rasa's training cache off."""
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "RASA_TELEMETRY_ENABLED": "false",
        # A cached featurizer or model from an earlier config would make training look faster.
        "RASA_MAX_CACHE_SIZE": "0",
    }


def _last_progress(log: Path) -> str:
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [x.strip() for x in tail.replace("\r", "\n").split("\n") if x.strip()]
    return lines[-1][:140] if lines else ""


def run_child(command: Sequence[str], log: Path, cwd: Path, label: str) -> ChildResult:
    """Runs `command` with output to `log`; wall time and the peak RSS of that child alone."""
    log = log.resolve()  # the child runs in `cwd`, so its timing file needs an absolute path
    log.parent.mkdir(parents=True, exist_ok=True)
    measured = log.with_suffix(".timing.json")
    measured.unlink(missing_ok=True)
    done = threading.Event()
    start = time.perf_counter()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            elapsed = time.perf_counter() - start
            logger.info(f"    {label}: {elapsed:.0f} s ... {_last_progress(log)}")

    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    with log.open("w", encoding="utf-8") as out:
        wrapper = [sys.executable, str(Path(__file__).with_name("timed.py")), str(measured)]
        returncode = subprocess.call(
            wrapper + list(map(str, command)),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=child_env(),
        )
    done.set()
    if not measured.is_file():  # the wrapper itself failed
        return ChildResult(returncode or 1, time.perf_counter() - start, 0.0)
    timing = json.loads(measured.read_text())
    return ChildResult(timing["returncode"], timing["seconds"], timing["peak_rss_mb"])


def seeded_config(path: Path, seed: int) -> str:
    """The config's YAML with `seed` set on every component and policy that takes a seed."""
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    for item in (config.get("pipeline") or []) + (config.get("policies") or []):
        try:
            defaults = DefaultV1Recipe._from_registry(item["name"]).clazz.get_default_config()
        except Exception:  # an unknown component: `rasa train` will name it
            continue
        for option in SEED_OPTIONS:
            if option in defaults:
                item[option] = seed
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a directory's files (names and bytes)."""
    path = Path(path)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + file.read_bytes())
    return digest.hexdigest()


def versions() -> Dict[str, str]:
    """Exact versions of what is measured."""
    found = {"python": platform.python_version()}
    for name in ("rasa", "tensorflow", "rasa-rnn-nlu"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> Dict[str, Any]:
    """CPU model, cores and memory of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1) if memory_gb else None,
        "system": f"{platform.system()} {platform.release()}",
    }


def cache_key(
    kind: str,
    config_text: str,
    data_files: Sequence[Path],
    scoring: Optional[Dict[str, Any]] = None,
) -> str:
    """Identifies a measurement: config, data, package versions, machine (and our code if used),
    and `scoring` settings when given (without them the key is the same as before they existed).
    """
    parts = {
        "format": CACHE_FORMAT,
        "kind": kind,
        "config": config_text,
        "data": [file_hash(p) for p in data_files],
        "versions": versions(),
        "machine": machine(),
        "rnn_nlu_code": code_hash() if "rnn_nlu." in config_text else None,
    }
    if scoring:
        parts["scoring"] = scoring
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class Cache:
    """Earlier results, one JSON file per key; None means every result is measured fresh."""

    def __init__(self, directory: Optional[Path]) -> None:
        self.directory = Path(directory) if directory else None
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        """The stored record, marked `reused` with its measurement date, or None."""
        path = self.directory / f"{key}.json" if self.directory else None
        if not path or not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        return {**record, "reused": record["measured"]}

    def put(self, key: str, record: Dict[str, Any]) -> None:
        """Stores a fresh, successful record."""
        if self.directory and not record.get("error"):
            path = self.directory / f"{key}.json"
            path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def now() -> str:
    """Local date and time to the minute."""
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M")


def python_command(*args: Any) -> List[str]:
    """This interpreter running `args` (so children use the same environment)."""
    return [sys.executable, *map(str, args)]


def train_model(
    kind: str, name: str, config_text: str, data: Sequence[Any], work: Path
) -> Tuple[Dict[str, Any], Optional[Path]]:
    """`rasa train <kind> --config ... <data>` in a child process, into `work/model.tar.gz`.

    Returns the run's record (training time, peak RSS, archive size; or an error) and the model,
    None when training failed.
    """
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.yml"
    config.write_text(config_text, encoding="utf-8")
    record: Dict[str, Any] = {"measured": now(), "run_dir": str(work)}
    data = [d.resolve() if isinstance(d, Path) else d for d in data]
    trained = run_child(
        python_command(
            "-m",
            "rasa",
            "train",
            kind,
            "--config",
            config.resolve(),
            *data,
            "--out",
            work.resolve(),
            "--fixed-model-name",
            "model",
        ),
        work / "train.log",
        work,
        f"{name} training",
    )
    model = work / "model.tar.gz"
    if trained.returncode or not model.is_file():
        error = f"rasa train {kind} failed (exit {trained.returncode}): see {work / 'train.log'}"
        return {**record, "error": error}, None
    record.update(
        train_seconds=trained.seconds,
        train_peak_rss_mb=trained.peak_rss_mb,
        archive_mb=model.stat().st_size / 1024**2,
    )
    return record, model


def evaluate_model(
    kind: str, label: str, model: Path, inputs: Sequence[Path], output: Path, work: Path
) -> Tuple[Optional[Dict[str, Any]], ChildResult, str]:
    """`python -m rnn_nlu.bench.evaluate <kind> MODEL INPUTS... OUTPUT` in a child process.

    Returns the JSON the child wrote (None when it failed), the child's time and memory, and the
    error text for the record when it failed.
    """
    child = run_child(
        python_command(
            "-m",
            "rnn_nlu.bench.evaluate",
            kind,
            model.resolve(),
            *(p.resolve() for p in inputs),
            output.resolve(),
        ),
        work / "evaluate.log",
        work,
        label,
    )
    if child.returncode or not output.is_file():
        error = f"{kind} evaluation failed (exit {child.returncode}): see {work / 'evaluate.log'}"
        return None, child, error
    return json.loads(output.read_text(encoding="utf-8")), child, ""
