"""The load benchmark: URL check, summary and memory on hand-made input; a short run against a stub
HTTP server (no Rasa, no training)."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rnn_nlu.bench import load, runner
from rnn_nlu.bench.__main__ import main


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5005", "http://localhost:5005/", "http://[::1]:5005", "http://127.0.0.2:80"],
)
def test_loopback_urls_are_accepted(url):
    assert load.check_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1:5005",
        "http://example.com",
        "https://example.com:443",
        "ftp://127.0.0.1",
        "127.0.0.1:5005",
        "http://0.0.0.0:5005",
        "http://localhost.example.com",
    ],
)
def test_other_urls_are_refused(url):
    with pytest.raises(ValueError, match="127.0.0.1"):
        load.check_url(url)


def test_cli_refuses_remote_url():
    with pytest.raises(SystemExit, match="10.0.0.1"):
        main(["load", "--url", "http://10.0.0.1:5005"])


def test_summary_counts_throughput_errors_and_percentiles():
    parse, rest = load.ENDPOINTS
    samples = [(parse, ms / 1000, True, "") for ms in range(1, 101)]  # 1 .. 100 ms
    samples += [(rest, 0.5, True, ""), (rest, 0.005, False, f"{rest}: HTTP 500")] * 5
    summary = load.summarize(samples, {parse: 10.0, rest: 5.0})
    assert summary["requests"] == 110 and summary["errors"] == 5
    assert summary["seconds"] == 15.0 and summary["requests_per_s"] == pytest.approx(110 / 15)
    by = summary["endpoints"]
    assert by[parse]["errors"] == 0 and by[parse]["requests_per_s"] == pytest.approx(10.0)
    # Each endpoint's requests/s is over its own phase, not over the whole run.
    assert by[rest]["seconds"] == 5.0 and by[rest]["requests_per_s"] == pytest.approx(2.0)
    assert by[parse]["p50_ms"] == pytest.approx(50.5)
    assert by[parse]["p99_ms"] == pytest.approx(99.01)
    # Latency is over successful requests only: the fast failures do not count.
    assert by[rest]["p50_ms"] == pytest.approx(500.0) and by[rest]["errors"] == 5
    assert summary["error_examples"] == [f"{rest}: HTTP 500"]


def test_summary_without_successes_has_no_latency():
    summary = load.summarize(
        [(load.ENDPOINTS[0], 0.1, False, "x")], dict.fromkeys(load.ENDPOINTS, 1)
    )
    assert summary["p50_ms"] is None and summary["endpoints"][load.ENDPOINTS[1]]["requests"] == 0


def test_rss_of_this_process():
    assert load.rss_mb(os.getpid()) > 10
    assert load.rss_mb(None) is None


def stub_server(status, delays=None):
    """A threaded HTTP server on 127.0.0.1 answering both endpoints with JSON and `status`, after
    `delays[path]` seconds; `server.seen` lists (path, sender) in the order requests arrived."""
    seen, lock = [], threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                seen.append((self.path, body.get("sender")))
            time.sleep((delays or {}).get(self.path, 0))
            if self.path == "/model/parse":
                answer = {"text": body["text"], "intent": {"name": "greet", "confidence": 1.0}}
            elif self.path == "/webhooks/rest/webhook":
                answer = [{"recipient_id": body["sender"], "text": "Hello!"}]
            else:
                self.send_error(404)
                return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.seen = seen
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.slow
@pytest.mark.parametrize("status", [200, 500])
def test_load_against_stub_server(tmp_path, monkeypatch, status):
    parse_path, rest_path = load.ENDPOINTS
    server = stub_server(status, {rest_path: 0.02})  # the webhook is the slower endpoint
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(load, "start_actions", lambda log: pytest.fail("started with --url"))
    try:
        main(
            [
                "load",
                "--url",
                url,
                "--clients",
                "2",
                "--seconds",
                "2",
                "--pid",
                str(os.getpid()),
                "--out",
                str(tmp_path),
            ]
        )
    finally:
        server.shutdown()
    results = json.loads((tmp_path / "results.json").read_text())
    summary = results["summary"]
    assert summary["requests"] > 0 and summary["requests_per_s"] > 0
    parse, rest = (summary["endpoints"][e] for e in load.ENDPOINTS)
    # Two phases, one after the other: the warm-up, then only /model/parse, then only the webhook,
    # each client on the webhook with its own sender.
    paths = [path for path, _ in server.seen]
    assert paths[:2] == [parse_path, rest_path]  # the warm-up, not counted
    assert paths[2:] == [parse_path] * parse["requests"] + [rest_path] * rest["requests"]
    assert len({sender for path, sender in server.seen[2:] if path == rest_path}) == 2
    assert parse["requests"] > 2 * rest["requests"] > 0  # parse is not tied to the webhook
    # Each endpoint's requests/s is over its own phase; overall over both.
    for e in (parse, rest):
        assert 1.9 < e["seconds"] < 6
        assert e["requests_per_s"] == pytest.approx(e["requests"] / e["seconds"])
    assert summary["seconds"] == pytest.approx(parse["seconds"] + rest["seconds"])
    assert summary["requests_per_s"] == pytest.approx(summary["requests"] / summary["seconds"])
    assert summary["rss_start_mb"] > 0 and summary["rss_growth_pct"] is not None
    if status == 200:
        assert summary["errors"] == 0 and parse["p50_ms"] > 0 and rest["p99_ms"] > 0
    else:
        assert summary["errors"] == summary["requests"]
        assert f"{load.ENDPOINTS[0]}: HTTP 500" in summary["error_examples"]
    report = (tmp_path / "results.md").read_text()
    assert "| /model/parse |" in report and "separate phases" in report


@pytest.mark.slow
def test_compare_loads_each_model_in_turn_and_tables_them(tmp_path, monkeypatch):
    # The reference, given last, parses slower: the ratio column is well above 1 for the first.
    servers = {"ok": stub_server(200), "broken": stub_server(500, {load.ENDPOINTS[0]: 0.02})}
    started, actions, stopped = [], [], []

    class Process:  # what start_server returns, standing for `rasa run`
        pid = os.getpid()

    def start_server(model, log):
        started.append(model.parent.name)
        return Process(), f"http://127.0.0.1:{servers[model.parent.name].server_address[1]}"

    monkeypatch.setattr(load, "start_server", start_server)
    monkeypatch.setattr(load, "stop_server", stopped.append)
    actions_server = object()  # what start_actions returns, standing for `rasa run actions`
    monkeypatch.setattr(load, "start_actions", lambda log: actions.append(log) or actions_server)
    models = []
    for name in servers:
        (tmp_path / name).mkdir()
        models.append(tmp_path / name / "bot.tar.gz")
        models[-1].write_bytes(b"")
    try:
        args = ["load", "--clients", "2", "--seconds", "2", "--out", str(tmp_path / "out")]
        main(args + [f"--model={m}" for m in models])
    finally:
        for server in servers.values():
            server.shutdown()
    assert started == ["ok", "broken"]
    # One action server for the whole run, stopped once at the end, after both bots' servers.
    assert actions == [tmp_path / "out" / "actions.log"]
    assert len(stopped) == 3 and stopped[-1] is actions_server
    ok, broken = (
        json.loads((tmp_path / "out" / d / "results.json").read_text())["summary"]
        for d in ("1-ok", "2-broken")
    )
    assert ok["errors"] == 0 and broken["errors"] == broken["requests"] > 0
    text = (tmp_path / "out" / "comparison.md").read_text()
    assert "| parse req/s vs last |" in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith(f"| {tmp_path}")]
    ok_parse, broken_parse, broken_hook = (
        s["endpoints"][e]
        for s, e in (
            (ok, load.ENDPOINTS[0]),
            (broken, load.ENDPOINTS[0]),
            (broken, load.ENDPOINTS[1]),
        )
    )
    assert [row[1] for row in rows] == [
        load.fmt(ok_parse["requests_per_s"]),
        load.fmt(broken_parse["requests_per_s"]),
    ]
    assert [row[2] for row in rows] == ["0", str(broken_parse["errors"])]
    assert rows[1][4:6] == [load.fmt(broken_hook["requests_per_s"]), str(broken_hook["errors"])]
    ratio = ok_parse["requests_per_s"] / broken_parse["requests_per_s"]
    assert ratio > 2 and [row[-1] for row in rows] == [f"{ratio:.2f} |", "1.00 |"]


def test_one_model_starts_the_action_server_around_its_run(tmp_path, monkeypatch):
    server = stub_server(200)
    events = []

    class Process:
        pid = os.getpid()

    def start_server(model, log):
        events.append("rasa run")
        return Process(), f"http://127.0.0.1:{server.server_address[1]}"

    monkeypatch.setattr(load, "start_server", start_server)
    monkeypatch.setattr(load, "stop_server", lambda s: events.append(f"stop {s}"))
    monkeypatch.setattr(load, "start_actions", lambda log: events.append(log) or "actions")
    (tmp_path / "bot.tar.gz").write_bytes(b"")
    args = ["--clients", "1", "--seconds", "0.2", "--out", str(tmp_path / "out")]
    try:
        main(["load", "--model", str(tmp_path / "bot.tar.gz"), *args])
    finally:
        server.shutdown()
    assert events[:2] == [tmp_path / "out" / "actions.log", "rasa run"]
    assert events[-1] == "stop actions" and len(events) == 4


class FakePopen:
    """Stands for `rasa run actions`: records how it was started; `exit_code` once it exited."""

    started = []
    exit_code = None

    def __init__(self, command, **kwargs):
        self.command, self.kwargs, self.returncode = command, kwargs, self.exit_code
        FakePopen.started.append(self)

    def poll(self):
        return self.returncode


@pytest.fixture
def fake_popen(monkeypatch):
    FakePopen.started, FakePopen.exit_code = [], None
    monkeypatch.setattr(load.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(load.time, "sleep", lambda s: None)
    return FakePopen


def test_action_server_is_started_when_none_answers(tmp_path, monkeypatch, fake_popen):
    asked = []
    monkeypatch.setattr(load, "answers", lambda url: asked.append(url) or bool(fake_popen.started))
    server = load.start_actions(tmp_path / "logs" / "actions.log")
    assert fake_popen.started == [server]
    assert server.command == runner.python_command(
        "-m", "rasa", "run", "actions", "--actions", "actions", "-p", "5055"
    )
    assert server.kwargs["cwd"] == load.REPO and server.kwargs["env"] == runner.child_env()
    assert server.kwargs["stdout"].name == str(tmp_path / "logs" / "actions.log")
    assert asked == ["http://127.0.0.1:5055/health"] * 2  # none before, then the started one


def test_running_action_server_is_used(tmp_path, monkeypatch, fake_popen):
    monkeypatch.setattr(load, "answers", lambda url: url == "http://127.0.0.1:5055/health")
    assert load.start_actions(tmp_path / "actions.log") is None
    assert fake_popen.started == [] and not (tmp_path / "actions.log").exists()


def test_action_server_that_exits_or_stays_silent_fails_naming_its_log(
    tmp_path, monkeypatch, fake_popen
):
    stopped = []
    monkeypatch.setattr(load, "answers", lambda url: False)
    monkeypatch.setattr(load, "stop_server", stopped.append)
    log = tmp_path / "actions.log"
    fake_popen.exit_code = 1
    with pytest.raises(RuntimeError, match=f"exited with 1; see {log}"):
        load.start_actions(log)
    fake_popen.exit_code = None
    monkeypatch.setattr(load, "ACTIONS_TIMEOUT", 0.05)
    with pytest.raises(RuntimeError, match=f"did not answer within 0 s; see {log}"):
        load.start_actions(log)
    assert stopped == fake_popen.started[1:]


def test_action_port_is_read_from_the_endpoints(tmp_path):
    assert load.actions_port(load.REPO / "config" / "endpoints.yml") == 5055
    (tmp_path / "a.yml").write_text('action_endpoint:\n  url: "http://localhost:6055/webhook"\n')
    (tmp_path / "b.yml").write_text("models: {}\n")
    assert load.actions_port(tmp_path / "a.yml") == 6055
    assert load.actions_port(tmp_path / "b.yml") == load.ACTIONS_PORT
    assert load.actions_port(tmp_path / "missing.yml") == load.ACTIONS_PORT
