"""`load`: concurrent clients against a running Rasa server on this machine; throughput, latency,
errors and the server's memory, /model/parse and the webhook in separate phases. See
docs/benchmarks.md, "Load"."""

import contextlib
import ipaddress
import json
import logging
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlparse

import numpy as np
import requests

from rnn_nlu.bench import runner

logger = logging.getLogger(__name__)

ENDPOINTS = ("/model/parse", "/webhooks/rest/webhook")
REQUEST_TIMEOUT = 60  # seconds one request may take before it counts as an error
START_TIMEOUT = 900  # seconds `rasa run` may take to load the model on a busy machine
ACTIONS_PORT = 5055  # the action server's port when config/endpoints.yml does not give one
ACTIONS_TIMEOUT = 120  # seconds `rasa run actions` may take to answer
REPO = Path(__file__).resolve().parents[2]
UTTERANCES = [
    "hi there",
    "I want to book a flight",
    "book me a flight from Boston to Denver",
    "I need a ticket to San Francisco tomorrow morning",
    "are there any flights from New York to Chicago on Friday",
    "show me the cheapest flight to Seattle next week",
    "what time does the flight to Atlanta leave",
    "one way from Dallas to Miami on the 3rd of May please",
    "economy class, two passengers",
    "yes that's right",
    "no, change the destination to Philadelphia",
    "cancel my booking",
    "thanks, bye",
]

Sample = Tuple[str, float, bool, str]  # endpoint, seconds, success, error text


def check_url(url: str) -> str:
    """`url` without a trailing slash; ValueError unless it is http(s) on a loopback address."""
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parsed.scheme not in ("http", "https") or not loopback:
        raise ValueError(
            f"--url must be http(s) on 127.0.0.1, localhost or ::1 (this tool loads only a server "
            f"on this machine); got {url!r}"
        )
    return url.rstrip("/")


def rss_mb(pid: Optional[int]) -> Optional[float]:
    """Resident memory of `pid` and its descendants in MB (from /proc), or None."""
    if pid is None:
        return None
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        proc = Path(f"/proc/{current}")
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in (proc / "task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / 1024 if total else None


def summarize(samples: List[Sample], phases: Dict[str, float]) -> Dict[str, Any]:
    """Requests/s, errors and p50/p99 latency (ms, successful requests) overall and per endpoint;
    `phases`: each endpoint's phase wall time in s, over which its requests/s is counted (overall:
    over all phases together)."""

    def stats(group: List[Sample], seconds: float) -> Dict[str, Any]:
        ok = [s[1] * 1000 for s in group if s[2]]
        return {
            "requests": len(group),
            "errors": len(group) - len(ok),
            "seconds": seconds,
            "requests_per_s": len(group) / seconds if seconds > 0 else 0.0,
            "p50_ms": float(np.percentile(ok, 50)) if ok else None,
            "p99_ms": float(np.percentile(ok, 99)) if ok else None,
        }

    summary = stats(samples, sum(phases.values()))
    summary["endpoints"] = {
        e: stats([s for s in samples if s[0] == e], phases.get(e, 0.0)) for e in ENDPOINTS
    }
    summary["error_examples"] = sorted({s[3] for s in samples if not s[2]})[:5]
    return summary


def _post(session: requests.Session, url: str, endpoint: str, sender: str, text: str) -> Sample:
    body = {"text": text} if endpoint == ENDPOINTS[0] else {"sender": sender, "message": text}
    start = time.perf_counter()
    try:
        response = session.post(url + endpoint, json=body, timeout=REQUEST_TIMEOUT)
        ok, error = response.ok, "" if response.ok else f"{endpoint}: HTTP {response.status_code}"
    except requests.RequestException as e:
        ok, error = False, f"{endpoint}: {type(e).__name__}"
    return endpoint, time.perf_counter() - start, ok, error


def phase(
    url: str, endpoint: str, senders: List[str], seconds: float, max_requests: int
) -> Tuple[List[Sample], float]:
    """One thread per sender sending only to `endpoint` until `seconds` or `max_requests` are
    used; the samples and the phase's wall time."""
    samples: List[Sample] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        with requests.Session() as session:
            for turn in range(max_requests):
                if time.perf_counter() >= deadline:
                    return
                text = UTTERANCES[(index + turn) % len(UTTERANCES)]
                sample = _post(session, url, endpoint, senders[index], text)
                with lock:
                    if len(samples) >= max_requests:
                        return
                    samples.append(sample)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(senders))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - start


def hammer(
    url: str, clients: int, seconds: float, max_requests: int
) -> Tuple[List[Sample], Dict[str, float]]:
    """`clients` threads load each endpoint in its own phase, one after the other (each phase
    `seconds` and `max_requests` at most); all samples, and each endpoint's phase wall time. A
    client keeps its sender, so it has one conversation."""
    senders = [f"load-{i}-{uuid.uuid4().hex[:8]}" for i in range(clients)]
    samples: List[Sample] = []
    phases: Dict[str, float] = {}
    for endpoint in ENDPOINTS:
        logger.info(f"{clients} clients for {seconds:.0f} s on {endpoint} ...")
        done, phases[endpoint] = phase(url, endpoint, senders, seconds, max_requests)
        samples += done
    return samples, phases


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    """Whether a GET of `url` answers now with a status under 400."""
    try:
        return requests.get(url, timeout=5).ok
    except requests.RequestException:
        return False


def wait_until_up(server: subprocess.Popen, url: str, name: str, seconds: float, log: Path) -> None:
    """Returns once `url` answers; RuntimeError naming `log` if `server` exits or (stopped then)
    does not answer within `seconds`."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if server.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.returncode}; see {log}")
        if answers(url):
            logger.info(f"{name} is up on {url} after {time.perf_counter() - started:.0f} s")
            return
        time.sleep(1)
    stop_server(server)
    raise RuntimeError(f"{name} did not answer within {seconds:.0f} s; see {log}")


def launch(command: List[str], log: Path, url: str, name: str, seconds: float) -> subprocess.Popen:
    """Starts `command` in the repository root, its output in `log`; returns the process once
    `url` answers (see `wait_until_up`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=runner.child_env()
        )
    wait_until_up(server, url, name, seconds, log)
    return server


def start_server(model: Path, log: Path) -> Tuple[subprocess.Popen, str]:
    """`rasa run --enable-api` for `model` on a free loopback port; returns once it answers."""
    port = free_port()
    config = REPO / "config"
    command = runner.python_command("-m", "rasa", "run", "--enable-api", "--model", model.resolve())
    command += ["--interface", "127.0.0.1", "--port", str(port)]
    command += ["--credentials", str(config / "credentials.yml")]
    command += ["--endpoints", str(config / "endpoints.yml")]
    url = f"http://127.0.0.1:{port}"
    return launch(command, log, url + "/status", "rasa run", START_TIMEOUT), url


def actions_port(endpoints: Path) -> int:
    """The port of `endpoints`' action_endpoint url; ACTIONS_PORT if it gives none."""
    import yaml

    try:
        url = yaml.safe_load(endpoints.read_text(encoding="utf-8"))["action_endpoint"]["url"]
        return urlparse(url).port or ACTIONS_PORT
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return ACTIONS_PORT


def start_actions(log: Path) -> Optional[subprocess.Popen]:
    """Rasa's action server for the bots' custom actions (actions/), as `make serve` starts it;
    returns once it answers. None when one already answers on its port: that one is used."""
    port = actions_port(REPO / "config" / "endpoints.yml")
    health = f"http://127.0.0.1:{port}/health"
    if answers(health):
        logger.info(f"using the action server already running on port {port}")
        return None
    command = runner.python_command(
        "-m", "rasa", "run", "actions", "--actions", "actions", "-p", port
    )
    return launch(command, log, health, "the action server", ACTIONS_TIMEOUT)


@contextlib.contextmanager
def action_server(log: Path) -> Iterator[None]:
    """The action server (see `start_actions`) while the block runs; stopped after it if it was
    started here."""
    server = start_actions(log)
    try:
        yield
    finally:
        if server is not None:
            stop_server(server)


def stop_server(server: subprocess.Popen) -> None:
    """Terminates the server it started, then kills it if it lingers."""
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def fmt(value: Optional[float], spec: str = ".1f") -> str:
    """A number for a table; a dash when it was not measured."""
    return "—" if value is None else format(value, spec)


def markdown(results: Dict[str, Any]) -> str:
    """results.json as a short Markdown report."""
    s, v, m = results["summary"], results["versions"], results["machine"]
    lines = [
        "# Load benchmark",
        "",
        f"- server: {results['settings']['url']} ({results['settings']['target']})",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['system']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- {results['settings']['clients']} clients, {s['seconds']:.1f} s; "
        f"finished: {results['finished']}",
        "- separate phases, one after the other: first all clients send only /model/parse, then "
        "only the webhook; an endpoint's requests/s is over its own phase, `all` over both",
        f"- command: `{results['command']}`",
        "",
        "| endpoint | phase (s) | requests | requests/s | errors | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in [*s["endpoints"].items(), ("all", s)]:
        lines.append(
            f"| {name} | {fmt(e['seconds'])} | {e['requests']} | {fmt(e['requests_per_s'])} | "
            f"{e['errors']} | {fmt(e['p50_ms'])} | {fmt(e['p99_ms'])} |"
        )
    lines += [
        "",
        f"Server RSS: {fmt(s['rss_start_mb'])} MB at start, {fmt(s['rss_end_mb'])} MB at end "
        f"({fmt(s['rss_growth_pct'], '+.1f')} %).",
        *(f"Error: {e}" for e in s["error_examples"]),
        "",
    ]
    return "\n".join(lines)


def run(
    url: Optional[str],
    model: Optional[Path],
    clients: int,
    seconds: float,
    max_requests: int,
    pid: Optional[int],
    out: Path,
    command: str,
) -> Dict[str, Any]:
    """Runs the load test (starting and stopping `rasa run` for `model`, and the action server
    unless one runs); writes results.*."""
    actions = contextlib.nullcontext() if model is None else action_server(out / "actions.log")
    with actions:
        return measure(url, model, clients, seconds, max_requests, pid, out, command)


def measure(
    url: Optional[str],
    model: Optional[Path],
    clients: int,
    seconds: float,
    max_requests: int,
    pid: Optional[int],
    out: Path,
    command: str,
) -> Dict[str, Any]:
    """`run` without the action server: loads `url` or a `rasa run` started for `model`."""
    server = None
    if model is not None:
        server, url = start_server(model, out / "server.log")
        pid = server.pid
    url = check_url(url)
    try:
        with requests.Session() as session:  # first calls build TensorFlow graphs: not measured
            for endpoint in ENDPOINTS:
                _post(session, url, endpoint, "load-warm-up", UTTERANCES[1])
        rss_start = rss_mb(pid)
        logger.info(f"loading {url}, one endpoint after the other ...")
        samples, phases = hammer(url, clients, seconds, max_requests)
        rss_end = rss_mb(pid)
    finally:
        if server is not None:
            stop_server(server)
    summary = summarize(samples, phases)
    growth = 100 * (rss_end - rss_start) / rss_start if rss_start and rss_end else None
    summary.update(rss_start_mb=rss_start, rss_end_mb=rss_end, rss_growth_pct=growth)
    results = {
        "kind": "load",
        "command": command,
        "finished": runner.now(),
        "versions": runner.versions(),
        "machine": runner.machine(),
        "settings": {
            "url": url,
            "target": f"started for {model}" if model else f"running, pid {pid}",
            "clients": clients,
            "seconds": seconds,
            "max_requests": max_requests,
        },
        "summary": summary,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = markdown(results)
    (out / "results.md").write_text(text, encoding="utf-8")
    logger.info("\n" + text)
    return results


def compare(
    models: List[Path], clients: int, seconds: float, max_requests: int, out: Path, command: str
) -> List[Dict[str, Any]]:
    """Loads each model's server in turn, the same way, with one action server for all; one
    results.* per model in its own folder under `out`, and `out/comparison.md` with a row per
    model (the last is the reference of the parse ratio)."""
    names = [f"{i + 1}-{m.parent.name or m.stem}" for i, m in enumerate(models)]
    with action_server(out / "actions.log"):
        results = [
            measure(None, model, clients, seconds, max_requests, None, out / name, command)
            for name, model in zip(names, models)
        ]
    text = comparison(models, results, clients, seconds, command)
    (out / "comparison.md").write_text(text, encoding="utf-8")
    logger.info("\n" + text)
    return results


def comparison(
    models: List[Path], results: List[Dict[str, Any]], clients: int, seconds: float, command: str
) -> str:
    """comparison.md: a row per model, both phases, memory, and parse req/s over the last's."""
    reference = results[-1]["summary"]["endpoints"][ENDPOINTS[0]]["requests_per_s"]
    lines = [
        "# Load comparison",
        "",
        f"- {clients} clients, one server after the other; per server two phases of {seconds:.0f} "
        "s at most, first only /model/parse, then only the webhook (requests/s over its own phase)",
        "- parse req/s vs last: this model's /model/parse requests/s over the last model's (the "
        "reference, given last on the command line)",
        f"- command: `{command}`",
        "",
        "| model | parse req/s | parse errors | parse p50 / p99 (ms) | webhook req/s "
        "| webhook errors | webhook p50 / p99 (ms) | RSS start -> end (MB) | RSS growth "
        "| parse req/s vs last |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, r in zip(models, results):
        s = r["summary"]
        parse, hook = (s["endpoints"][e] for e in ENDPOINTS)
        ratio = parse["requests_per_s"] / reference if reference else None
        lines.append(
            f"| {model} | {fmt(parse['requests_per_s'])} | {parse['errors']} "
            f"| {fmt(parse['p50_ms'], '.0f')} / {fmt(parse['p99_ms'], '.0f')} "
            f"| {fmt(hook['requests_per_s'])} | {hook['errors']} "
            f"| {fmt(hook['p50_ms'], '.0f')} / {fmt(hook['p99_ms'], '.0f')} "
            f"| {fmt(s['rss_start_mb'], '.0f')} -> {fmt(s['rss_end_mb'], '.0f')} "
            f"| {fmt(s['rss_growth_pct'], '+.1f')} % | {fmt(ratio, '.2f')} |"
        )
    return "\n".join(lines) + "\n"
