"""The load benchmark: URL check, summary and memory on hand-made input; a short run against a stub
HTTP server (no Rasa, no training)."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rnn_nlu.bench import load
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
    summary = load.summarize(samples, seconds=10.0)
    assert summary["requests"] == 110 and summary["errors"] == 5
    assert summary["requests_per_s"] == pytest.approx(11.0)
    by = summary["endpoints"]
    assert by[parse]["errors"] == 0 and by[parse]["requests_per_s"] == pytest.approx(10.0)
    assert by[parse]["p50_ms"] == pytest.approx(50.5)
    assert by[parse]["p99_ms"] == pytest.approx(99.01)
    # Latency is over successful requests only: the fast failures do not count.
    assert by[rest]["p50_ms"] == pytest.approx(500.0) and by[rest]["errors"] == 5
    assert summary["error_examples"] == [f"{rest}: HTTP 500"]


def test_summary_without_successes_has_no_latency():
    summary = load.summarize([(load.ENDPOINTS[0], 0.1, False, "x")], seconds=1.0)
    assert summary["p50_ms"] is None and summary["endpoints"][load.ENDPOINTS[1]]["requests"] == 0


def test_rss_of_this_process():
    assert load.rss_mb(os.getpid()) > 10
    assert load.rss_mb(None) is None


def stub_server(status):
    """A threaded HTTP server on 127.0.0.1 answering both endpoints with JSON and `status`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.slow
@pytest.mark.parametrize("status", [200, 500])
def test_load_against_stub_server(tmp_path, status):
    server = stub_server(status)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        main(
            [
                "load",
                "--url",
                url,
                "--clients",
                "2",
                "--seconds",
                "5",
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
    assert 4.5 < summary["seconds"] < 15
    parse, rest = (summary["endpoints"][e] for e in load.ENDPOINTS)
    assert abs(parse["requests"] - rest["requests"]) <= 2  # the clients alternate
    assert summary["rss_start_mb"] > 0 and summary["rss_growth_pct"] is not None
    if status == 200:
        assert summary["errors"] == 0 and parse["p50_ms"] > 0 and rest["p99_ms"] > 0
    else:
        assert summary["errors"] == summary["requests"]
        assert f"{load.ENDPOINTS[0]}: HTTP 500" in summary["error_examples"]
    assert "| /model/parse |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_compare_loads_each_model_in_turn_and_tables_them(tmp_path, monkeypatch):
    servers = {"ok": stub_server(200), "broken": stub_server(500)}
    started = []

    class Process:  # what start_server returns, standing for `rasa run`
        pid = os.getpid()

    def start_server(model, log):
        started.append(model.parent.name)
        return Process(), f"http://127.0.0.1:{servers[model.parent.name].server_address[1]}"

    monkeypatch.setattr(load, "start_server", start_server)
    monkeypatch.setattr(load, "stop_server", lambda server: None)
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
    ok, broken = (
        json.loads((tmp_path / "out" / d / "results.json").read_text())["summary"]
        for d in ("1-ok", "2-broken")
    )
    assert ok["errors"] == 0 and broken["errors"] == broken["requests"] > 0
    rows = [
        line
        for line in (tmp_path / "out" / "comparison.md").read_text().splitlines()
        if line.startswith(f"| {tmp_path}")
    ]
    assert [row.split(" | ")[2] for row in rows] == ["0", str(broken["requests"])]
