"""``secpipe notify list | test SINK | replay [SINK]`` against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import inspect
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli import run_cmd
from secpipe.cli.main import main
from secpipe.core.events import RunFinished, RunStarted, StepLog
from secpipe.sinks.spool import Spool

pytestmark = pytest.mark.server

SECRET = "-".join(["notify", "5e4d3c2b1a09"])  # built at run time, never a literal


class Receiver:
    """A real HTTP server: answers ``status`` to every POST and records the bodies."""

    def __init__(self, status: int = 204, port: int = 0) -> None:
        self.status = status
        self.bodies: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def receiver(status: int = 204, port: int = 0) -> Iterator[Receiver]:
    recv = Receiver(status, port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recv.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            recv.headers.append(dict(self.headers.items()))
            self.send_response(recv.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    recv.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _configure(project: Path, url: str, extra: str = "") -> None:
    (project / "secpipe.yaml").write_text(f"""
sink_drain_seconds: 5
sinks:
  alerts:
    uses: webhook
    with:
      url: "{url}"
      headers: {{Authorization: "Bearer ${{env:NOTIFY_TOKEN}}"}}
      retries: 1
      backoff: 0.01
      events: ["*"]
{extra}""")


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_TOKEN", SECRET)


def _spool(project: Path, name: str = "alerts") -> Spool:
    return Spool(project / ".secpipe" / "spool", name)


def test_test_sends_a_synthetic_event_through_the_configured_sink(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with receiver() as recv:
        _configure(project, recv.url)
        assert main(["notify", "test", "alerts", "-C", str(project)]) == 0
    out = capsys.readouterr().out
    assert "sink alerts (webhook): delivered test run.finished" in out
    (body,) = recv.bodies
    assert body["type"] == "run.finished" and body["run_id"].startswith("notify-test-")
    assert recv.headers[0]["Authorization"] == f"Bearer {SECRET}"  # the sink's real settings
    assert SECRET not in out


def test_test_reports_a_failure_with_exit_1_and_json(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with receiver(status=503) as recv:
        _configure(project, recv.url)
        assert main(["notify", "test", "alerts", "--event", "gate.decided", "--json",
                     "-C", str(project)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["delivered"] is False and report["attempts"] == 2  # retries: 1
    assert report["event"] == "gate.decided" and "HTTP 503" in report["error"]
    assert len(recv.bodies) == 2
    assert not _spool(project).files()  # a test event is never spooled


@pytest.mark.parametrize("argv", [
    ["notify", "test", "nope"],
    ["notify", "test", "alerts", "--event", "step.log"],
    ["notify", "test", "alerts", "--wait", "0"],
    ["notify", "replay", "nope"],
    ["notify"],
])
def test_bad_input_exits_2(project: Path, argv: list[str],
                           capsys: pytest.CaptureFixture[str]) -> None:
    _configure(project, "http://127.0.0.1:9/hook")
    try:
        code = main([*argv, "-C", str(project)])
    except SystemExit as stop:  # argparse's usage errors exit from the parser
        code = stop.code  # type: ignore[assignment]
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_a_missing_secret_is_a_configuration_error(
        project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _configure(project, "http://127.0.0.1:9/hook")
    monkeypatch.delenv("NOTIFY_TOKEN")
    assert main(["notify", "test", "alerts", "-C", str(project)]) == 2
    assert "NOTIFY_TOKEN" in capsys.readouterr().err


def test_list_shows_sinks_and_spooled_counts(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _configure(project, "http://127.0.0.1:9/hook")
    _spool(project).write([RunStarted("r1", pipeline="p", project="x"),
                           RunFinished("r1", pipeline="p", status="passed", exit_code=0)],
                          "down", str)
    _spool(project, "gone").write([RunStarted("r0", pipeline="p", project="x")], "down", str)
    assert main(["notify", "list", "-C", str(project)]) == 0
    out = capsys.readouterr().out
    assert "alerts  webhook  2 spooled" in out
    assert "gone  (no longer configured)  1 spooled" in out
    assert main(["notify", "list", "--json", "-C", str(project)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["sinks"]}
    assert rows["alerts"]["spooled"] == 2 and rows["gone"]["configured"] is False


def test_replay_resends_in_order_once_and_keeps_what_fails(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [RunStarted("r1", pipeline="p", project="x"),
              StepLog("r1", step="s", message="one"),
              RunFinished("r1", pipeline="p", status="passed", exit_code=0)]
    _spool(project).write(events, "down", str)
    _spool(project, "gone").write(events[:1], "down", str)
    with receiver(status=500) as failing:
        _configure(project, failing.url)
        assert main(["notify", "replay", "alerts", "-C", str(project)]) == 1
        assert "0 delivered, 3 left" in capsys.readouterr().out
    assert len(failing.bodies) == 2  # the first event, retried once; the rest not tried
    assert _spool(project).count() == 3
    with receiver() as recv:
        _configure(project, recv.url)
        assert main(["notify", "replay", "-C", str(project)]) == 1  # 'gone' is not configured
        out = capsys.readouterr().out
        assert "sink alerts: 3 delivered, 0 left" in out
        assert "sink gone: 0 delivered, 1 left — not configured" in out
        assert main(["notify", "replay", "alerts", "-C", str(project)]) == 0
    assert [b["type"] for b in recv.bodies] == ["run.started", "step.log", "run.finished"]
    assert _spool(project).files() == []
    assert _spool(project, "gone").count() == 1  # never touched


@pytest.mark.skipif("spool_dir" not in inspect.getsource(run_cmd),
                    reason="needs `secpipe run` to pass spool_dir to its SinkBus (lead's change)")
def test_a_run_whose_receiver_is_down_passes_spools_and_replays(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "app.py").write_text("print('hello')\n")
    port = _free_port()
    _configure(project, f"http://127.0.0.1:{port}/hook", """
pipelines:
  p:
    stages:
      - name: scan
        steps: [{uses: scan-secrets, with: {cache: false}}]
""")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0  # a sink never fails a run
    captured = capsys.readouterr()
    assert "secpipe notify replay alerts" in captured.err + captured.out
    assert "alerts (webhook): 0 delivered" in captured.out  # the run summary's sinks: lines
    spooled = [e.type for e in _spool(project).events()]
    assert spooled[0] == "run.started" and spooled[-1] == "run.finished"
    with receiver(port=port) as recv:
        assert main(["notify", "replay", "-C", str(project)]) == 0
    assert [b["type"] for b in recv.bodies] == spooled
    assert _spool(project).count() == 0
