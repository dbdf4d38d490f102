"""Real servers for the tests: `rasa run` replicas, the bot's action server and `redis-server`,
on 127.0.0.1 only."""

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from tests.conftest import RASA, REPO

STARTUP_SECONDS = 420  # two replicas loading TensorFlow at once on two cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, seconds: float, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet: connection refused, reset, timeout
            pass
        time.sleep(1)
    raise TimeoutError(f"{what} not ready after {seconds} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stops a server started by this module, with its whole process group."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


@contextmanager
def rasa_server(
    model: Path, log: Path, endpoints: Optional[Path] = None
) -> Iterator[Dict[str, Any]]:
    """`rasa run --enable-api` on a free loopback port; yields {"url", "process"}."""
    port = free_port()
    command = [
        RASA,
        "run",
        "--enable-api",
        "-m",
        str(model),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "--credentials",
        "config/credentials.yml",
    ]
    if endpoints:
        command += ["--endpoints", str(endpoints)]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(
            lambda: requests.get(f"{url}/status", timeout=5).ok,
            STARTUP_SECONDS,
            "rasa run",
            process,
            log,
        )
        yield {"url": url, "process": process}
    finally:
        stop(process)


@contextmanager
def action_server(log: Path) -> Iterator[str]:
    """`rasa run actions` with the default bot's actions/ on a free port; yields the webhook URL."""
    port = free_port()
    command = [RASA, "run", "actions", "--actions", "actions", "-p", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(
            lambda: requests.get(f"{url}/health", timeout=5).ok, 120, "action server", process, log
        )
        yield f"{url}/webhook"
    finally:
        stop(process)


def endpoints_file(path: Path, action_webhook: str, extra: str = "") -> Path:
    """An endpoints.yml pointing the bot at `action_webhook`, plus any other `extra` endpoints."""
    path.write_text(f"action_endpoint:\n  url: {action_webhook}\n{extra}")
    return path


@contextmanager
def bot_server(model: Path, folder: Path, extra_endpoints: str = "") -> Iterator[Dict[str, Any]]:
    """The default bot behind `rasa run`, with its own action server; yields as `rasa_server`."""
    with action_server(folder / "actions.log") as webhook:
        endpoints = endpoints_file(folder / "endpoints.yml", webhook, extra_endpoints)
        with rasa_server(model, folder / "rasa.log", endpoints) as server:
            yield server


@contextmanager
def redis_server(log: Path) -> Iterator[int]:
    """A throw-away `redis-server` on a free loopback port (no persistence); yields the port."""
    executable = shutil.which("redis-server")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(
                "redis-server is missing: `make test` installs it (Debian package redis-server)"
            )
        pytest.skip("redis-server is not installed (`make test` installs it)")
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                executable,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        _wait(client.ping, 30, "redis-server", process, log)
        yield port
    finally:
        stop(process)


def say(url: str, sender: str, text: str) -> requests.Response:
    return requests.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120
    )


def tracker(url: str, sender: str) -> Dict[str, Any]:
    response = requests.get(f"{url}/conversations/{sender}/tracker", timeout=60)
    response.raise_for_status()
    return response.json()


def user_texts(tracker_json: Dict[str, Any]) -> List[str]:
    return [e.get("text") for e in tracker_json["events"] if e["event"] == "user"]


def actions(tracker_json: Dict[str, Any]) -> List[str]:
    """The bot's actions, without the session bookkeeping ones."""
    skip = {"action_session_start", "action_listen"}
    return [
        e["name"]
        for e in tracker_json["events"]
        if e["event"] == "action" and e["name"] not in skip
    ]
