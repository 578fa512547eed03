"""The faraday sink against a real Faraday (faradaysec with PostgreSQL, Redis and its Celery
workers, tests/sinks/faraday_server.py), plus a real HTTP stand-in for the two failures a real
server is not made to show on demand (a report never processed, one processed in error).

Faraday's answers are read back through its own API (basic auth, independent of the sink's
client): the workspace's vulnerabilities, their names, targets, severities and
``external_id`` (``<tool> <rule id>``, set by Faraday's SARIF plugin).
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from faraday_server import faraday_server, faraday_without_workers  # noqa: F401 - fixture
from pydantic import ValidationError
from sink_helpers import context

from secpipe.core.events import RunFinished
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import GateDecision, StepResult, StepStatus
from secpipe.keys.refs import SecretResolver
from secpipe.runstore.sqlite import RunStore
from secpipe.sinks import SinkBus
from secpipe.sinks.defectdojo import DefectDojoSettings, DefectDojoSink
from secpipe.sinks.faraday import FaradayClient, FaradaySettings, FaradaySink, workspace_name
from secpipe.sinks.interface import SinkError
from servers import Server

PLANTED = "-".join(["pl4nted", "s3cret", "value"])


# -- recorded runs ------------------------------------------------------------------------------
def _finding(rule: str, path: str, line: int, title: str = "", message: str = "",
             severity: Severity = Severity.HIGH) -> Finding:
    return Finding.create(rule_id=rule, title=title or f"{rule} found", severity=severity,
                          scanner="scan-secrets", location=Location(path, line=line),
                          message=message or f"{rule} at {path}", tags=("CWE-798", "secret"),
                          evidence="AKIA************", remediation="Rotate it.")


def _record(project: Path, findings: list[Finding], status: str = "failed") -> RunFinished:
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        run_id = store.start_run("mlsecops", str(project))
        store.record_step(run_id, 0, "scan-secrets", "scan-secrets", "scan", 1.0, 0.5,
                          StepResult(findings=tuple(findings), message="scanned"))
        gate = GateDecision(passed=not findings, reasons=("high findings",) if findings else ())
        store.record_step(run_id, 1, "gate", "gate", "gate", 2.0, 0.1,
                          StepResult(status=StepStatus.FAILED if findings else StepStatus.PASSED,
                                     gate=gate))
        store.finish_run(run_id, status, 1 if status == "failed" else 0)
    finally:
        store.close()
    return RunFinished(run_id, pipeline="mlsecops", status=status,
                       exit_code=1 if status == "failed" else 0)


A = ("aws-access-key", "app.py", 3)
B = ("github-token", "ci/deploy.sh", 9)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / f"demo-{uuid.uuid4().hex[:8]}"  # one Faraday workspace per test
    root.mkdir()
    return root


@pytest.fixture
def secrets(project: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("PLANTED", PLANTED)
    return SecretResolver(project)


# -- reading Faraday back -----------------------------------------------------------------------
def _api(server: Server, path: str) -> Any:
    """GET a Faraday API path as the test user (basic auth), the JSON answer."""
    basic = base64.b64encode(
        f"{server.extra['username']}:{server.extra['password']}".encode()).decode()
    req = urllib.request.Request(server.url + path, headers={  # noqa: S310 - loopback
        "Authorization": f"Basic {basic}", "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read())


def _vulns(server: Server, workspace: str) -> list[dict[str, Any]]:
    data = _api(server, f"/_api/v3/ws/{workspace}/vulns")
    return [row["value"] for row in data["vulnerabilities"]]


def _login_sink(server: Server, secrets: SecretResolver, project: Path,
                monkeypatch: pytest.MonkeyPatch, password: str | None = None,
                **options: Any) -> FaradaySink:
    monkeypatch.setenv("FARADAY_PASSWORD", password or server.extra["password"])
    options.setdefault("create_workspace", True)
    # the user name in plain text: a resolved secret reference is masked everywhere in the run,
    # and "secpipe" would then be masked in the report itself
    settings = FaradaySettings(url=server.url, username=server.extra["username"],
                               password="${env:FARADAY_PASSWORD}", retries=1, backoff=0.01,
                               poll_interval=0.5, **options)
    return FaradaySink(settings, context("faraday", root=project, secrets=secrets))


def _deliver(sink: FaradaySink, event: RunFinished, drain: float = 150.0) -> list[str]:
    bus = SinkBus([sink])
    bus.emit(event)
    bus.close(drain)
    return bus.failures


# -- against the real Faraday -------------------------------------------------------------------
@pytest.mark.server
@pytest.mark.external
@pytest.mark.parametrize("auth", ["password", "token"])
def test_a_recorded_run_is_imported_into_faraday(auth: str, faraday_server: Server,  # noqa: F811
                                                 secrets: SecretResolver, project: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A twice in one file: Faraday keeps one vulnerability per rule and host (file)
    event = _record(project, [_finding(*A), _finding("aws-access-key", "app.py", 7),
                              _finding(*B, severity=Severity.MEDIUM)])
    if auth == "password":
        sink = _login_sink(faraday_server, secrets, project, monkeypatch)
    else:
        monkeypatch.setenv("FARADAY_TOKEN", _api(faraday_server, "/_api/v3/token"))
        sink = FaradaySink(FaradaySettings(url=faraday_server.url, token="${env:FARADAY_TOKEN}",
                                           create_workspace=True, retries=1, backoff=0.01,
                                           poll_interval=0.5),
                           context("faraday", root=project, secrets=secrets))
    assert _deliver(sink, event) == []
    workspace = f"secpipe-{project.name}"
    upload = sink.last_upload
    assert upload["workspace"] == workspace and upload["created_workspace"] is True
    assert isinstance(upload["duration"], float) and upload["vulns_created"] == 2
    vulns = _vulns(faraday_server, workspace)
    assert len(vulns) == 2
    by_rule = {v["external_id"]: v for v in vulns}
    assert set(by_rule) == {"scan-secrets aws-access-key", "scan-secrets github-token"}
    assert by_rule["scan-secrets aws-access-key"]["name"] == "aws-access-key found"
    assert by_rule["scan-secrets aws-access-key"]["severity"] == "high"
    assert by_rule["scan-secrets github-token"]["severity"] == "med"  # SARIF "warning"
    assert by_rule["scan-secrets github-token"]["target"] == "ci/deploy.sh"
    command = _api(faraday_server, f"/_api/v3/ws/{workspace}/commands/{upload['command_id']}")
    assert command["tool"] == "Sarif" and command["import_source"] == "report"
    if auth == "password":  # the same findings again: Faraday updates, creates nothing
        assert _deliver(sink, _record(project, [_finding(*A), _finding(*B)])) == []
        assert sink.last_upload["command_id"] != upload["command_id"]
        assert sink.last_upload["vulns_created"] == 0
        assert len(_vulns(faraday_server, workspace)) == 2


@pytest.mark.server
@pytest.mark.external
def test_without_workers_an_accepted_upload_is_a_failure_not_a_silent_pass(
        secrets: SecretResolver, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = faraday_without_workers()
    sink = _login_sink(lazy, secrets, project, monkeypatch, process_timeout=20)
    failures = _deliver(sink, _record(project, [_finding(*A)]))
    assert len(failures) == 1 and "after 1 attempt(s)" in failures[0]
    command = sink.last_upload["command_id"]
    assert f"accepted the report (command {command}) but did not process it within 20 s" \
        in failures[0]
    workspace = f"secpipe-{project.name}"
    assert _api(lazy, f"/_api/v3/ws/{workspace}/commands/{command}")["duration"] == "In progress"
    assert _vulns(lazy, workspace) == []


@pytest.mark.server
@pytest.mark.external
def test_a_wrong_password_is_a_clear_non_retryable_error(
        faraday_server: Server, secrets: SecretResolver, project: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "Wrong-" + uuid.uuid4().hex
    sink = _login_sink(faraday_server, secrets, project, monkeypatch, password=wrong)
    event = _record(project, [_finding(*A)])
    with pytest.raises(SinkError) as caught:
        sink.deliver(event)
    assert caught.value.retry is False
    message = caught.value.message
    assert message == (f"login to Faraday at {faraday_server.url} refused: wrong username or "
                       "password (HTTP 400)")
    assert wrong not in message
    failures = _deliver(sink, event)  # the bus does not retry it
    assert len(failures) == 1 and "after 1 attempt(s)" in failures[0]
    assert wrong not in failures[0]
    # a wrong token is refused the same way
    monkeypatch.setenv("FARADAY_TOKEN", "not.a.token")
    token_sink = FaradaySink(FaradaySettings(url=faraday_server.url,
                                             token="${env:FARADAY_TOKEN}"),
                             context("faraday", root=project, secrets=secrets))
    with pytest.raises(SinkError, match="token is wrong or expired") as caught:
        token_sink.deliver(event)
    assert caught.value.retry is False


@pytest.mark.server
@pytest.mark.external
def test_a_missing_workspace_is_not_created_unless_asked(
        faraday_server: Server, secrets: SecretResolver, project: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    sink = _login_sink(faraday_server, secrets, project, monkeypatch, create_workspace=False)
    with pytest.raises(SinkError, match="does not exist") as caught:
        sink.deliver(_record(project, [_finding(*A)]))
    assert caught.value.retry is False
    with pytest.raises(urllib.error.HTTPError, match="404"):
        _api(faraday_server, f"/_api/v3/ws/secpipe-{project.name}")


@pytest.mark.server
@pytest.mark.external
def test_a_planted_secret_never_reaches_faraday(faraday_server: Server,  # noqa: F811
                                                secrets: SecretResolver, project: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    planted = secrets.resolve("${env:PLANTED}")
    leak = _finding("leak", f"cfg/{planted}.env", 1, title=f"token {planted}",
                    message=f"the value {planted} is hard-coded")
    sink = _login_sink(faraday_server, secrets, project, monkeypatch)
    event = _record(project, [leak])
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        report = sink.report(store.get_run(event.run_id))
    finally:
        store.close()
    assert PLANTED.encode() not in report and b"***" in report
    assert _deliver(sink, event) == []
    workspace = f"secpipe-{project.name}"
    stored = json.dumps([_vulns(faraday_server, workspace),
                         _api(faraday_server, f"/_api/v3/ws/{workspace}/hosts"),
                         _api(faraday_server, f"/_api/v3/ws/{workspace}/commands")])
    assert PLANTED not in stored
    [vuln] = _vulns(faraday_server, workspace)
    assert vuln["name"].startswith("token ") and "***" in vuln["name"]


@pytest.mark.server
@pytest.mark.external
def test_the_sarif_defectdojo_is_sent_imports_into_faraday(
        faraday_server: Server, secrets: SecretResolver, project: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    from test_defectdojo import TOKEN, defectdojo

    monkeypatch.setenv("DOJO_TOKEN", TOKEN)
    event = _record(project, [_finding(*A), _finding(*B)])
    with defectdojo() as fake:
        dojo = DefectDojoSink(DefectDojoSettings(url=fake.url, token="${env:DOJO_TOKEN}"),
                              context("dojo", root=project, secrets=secrets))
        bus = SinkBus([dojo])
        bus.emit(event)
        bus.close(10)
        assert bus.failures == []
    [(_, fields, sent)] = fake.uploads
    assert fields["scan_type"] == "SARIF"
    sink = _login_sink(faraday_server, secrets, project, monkeypatch)
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        assert sink.report(store.get_run(event.run_id)) == sent  # byte for byte the same report
    finally:
        store.close()
    # and those exact bytes import into Faraday
    client = FaradayClient(faraday_server.url, "to Faraday", 30)
    client.login(faraday_server.extra["username"], faraday_server.extra["password"])
    workspace = f"dojo-{project.name}"
    assert client.ensure_workspace(workspace, create=True) is True
    command = client.upload(workspace, sent, [("resolve_hostname", "false")])
    client.wait_processed(workspace, command, limit=120, interval=0.5)
    rules = sorted(v["external_id"] for v in _vulns(faraday_server, workspace))
    assert rules == ["scan-secrets aws-access-key", "scan-secrets github-token"]


RUN_CONFIG = """
sink_drain_seconds: 150
sinks:
  faraday:
    uses: faraday
    with:
      url: "{url}"
      username: "{user}"
      password: "${{env:FARADAY_PASSWORD}}"
      workspace: "{{project}}-{{pipeline}}"
      create_workspace: true
      poll_interval: 0.5
pipelines:
  p:
    stages:
      - name: scan
        steps: [{{uses: scan-secrets, with: {{cache: false}}}}]
      - name: gate
        steps: [{{uses: gate}}]
"""


@pytest.mark.server
@pytest.mark.external
def test_a_whole_secpipe_run_uploads_to_faraday(faraday_server: Server,  # noqa: F811
                                                project: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from secpipe.cli.main import main

    monkeypatch.setenv("FARADAY_PASSWORD", faraday_server.extra["password"])
    key = "AKIA" + "Q3EGRXMPL7ZT4WBN"
    (project / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key}"\n')
    (project / "secpipe.yaml").write_text(RUN_CONFIG.format(url=faraday_server.url,
                                                           user=faraday_server.extra["username"]))
    assert main(["run", "p", "-C", str(project), "-q"]) == 1  # the gate fails
    assert "sink faraday" not in capsys.readouterr().err
    vulns = _vulns(faraday_server, f"{project.name}-p")
    assert vulns and any(v["external_id"].endswith("aws-access-key") for v in vulns)
    assert all(v["target"] == "settings.py" for v in vulns)
    assert key not in json.dumps(vulns)


# -- what a real server does not show on demand: a real HTTP stand-in ---------------------------
@dataclass
class Stand:
    """Answers like Faraday (login, workspace, upload) but its command never finishes, or ends
    in error, or the upload first answers 502."""

    url: str = ""
    duration: Any = "In progress"
    command: str = "Sarif"
    upload_fail: list[int] = field(default_factory=list)
    uploads: int = 0
    polls: int = 0


@contextmanager
def stand_in(**options: Any) -> Iterator[Stand]:
    stand = Stand(**options)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if self.path == "/_api/login":
                self.send_header("Set-Cookie", "faraday_session_2=abc; HttpOnly; Path=/")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/_api/login":
                self._answer(200, {"response": {"csrf_token": "csrf-1"}})
            elif self.path.endswith("/upload_report"):
                stand.uploads += 1
                if "faraday_session_2=abc" not in self.headers.get("Cookie", ""):
                    self._answer(403, {})
                elif stand.upload_fail:
                    self._answer(stand.upload_fail.pop(0), {})
                else:
                    self._answer(200, {"message": "ok", "command_id": 7})
            else:
                self._answer(404, {})

        def do_GET(self) -> None:
            if self.path == "/_api/v3/ws/secpipe-demo":
                self._answer(200, {"name": "secpipe-demo", "active": True})
            elif self.path == "/_api/v3/ws/secpipe-demo/commands/7":
                stand.polls += 1
                self._answer(200, {"_id": 7, "command": stand.command,
                                   "duration": stand.duration})
            elif self.path.startswith("/_api/v3/ws/secpipe-demo/vulns"):
                self._answer(200, {"vulnerabilities": [], "count": 0})
            else:
                self._answer(404, {})

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stand.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield stand
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    root.mkdir()
    return root


def _stand_sink(stand: Stand, root: Path, **options: Any) -> FaradaySink:
    settings = FaradaySettings(url=stand.url, username="u", password="p", retries=2,
                               backoff=0.01, poll_interval=0.05, **options)
    return FaradaySink(settings, context("faraday", root=root))


def test_an_upload_faraday_never_processes_is_a_failure(demo: Path) -> None:
    event = _record(demo, [_finding(*A)])
    with stand_in() as stand:
        failures = _deliver(_stand_sink(stand, demo, process_timeout=0.3), event, drain=10)
    assert stand.uploads == 1 and stand.polls >= 2  # not uploaded again: not retried
    assert len(failures) == 1
    assert "accepted the report (command 7) but did not process it within 0.3 s" in failures[0]
    with stand_in() as stand:  # without waiting, the same upload counts as delivered
        assert _deliver(_stand_sink(stand, demo, wait_processed=False), event) == []
    assert stand.polls == 0


def test_a_report_processed_in_error_and_a_502_upload(demo: Path) -> None:
    event = _record(demo, [_finding(*A)])
    with stand_in(duration="Error", command="error") as stand, \
            pytest.raises(SinkError, match="could not process the report") as caught:
        _stand_sink(stand, demo).deliver(event)
    assert caught.value.retry is False
    with stand_in(duration=10.2, upload_fail=[502]) as stand:
        sink = _stand_sink(stand, demo)
        assert _deliver(sink, event) == []
    assert stand.uploads == 2 and sink.last_upload["duration"] == 10.2


def test_settings_and_workspace_names() -> None:
    with pytest.raises(ValidationError, match="username and password"):
        FaradaySettings(url="http://h")
    with pytest.raises(ValidationError, match="not both"):
        FaradaySettings(url="http://h", token="t", username="u", password="p")
    with pytest.raises(ValidationError, match=r"run\.finished"):
        FaradaySettings(url="http://h", token="t", events=["gate.decided"])
    with pytest.raises(ValidationError, match="placeholder"):
        FaradaySettings(url="http://h", token="t", workspace="{branch}")
    with pytest.raises(ValidationError, match="credentials"):
        FaradaySettings(url="http://u:p@h", token="t")
    assert workspace_name("secpipe-{project}", {"project": "My App.v2"}) == "secpipe-my-app-v2"
    assert workspace_name("{project}", {"project": "__x"}) == "ws-__x"
    assert workspace_name("{project}", {"project": "..."}) == "secpipe"
    assert len(workspace_name("{project}", {"project": "a" * 400})) == 251


@pytest.mark.server
@pytest.mark.external
def test_a_clean_run_is_uploaded_and_processed(faraday_server: Server,  # noqa: F811
                                               secrets: SecretResolver, project: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sink = _login_sink(faraday_server, secrets, project, monkeypatch, process_timeout=40)
    assert _deliver(sink, _record(project, [], status="passed")) == []
    assert sink.last_upload["vulns_created"] == 0
    assert _vulns(faraday_server, f"secpipe-{project.name}") == []


@pytest.mark.server
@pytest.mark.external
def test_notify_test_checks_the_whole_path_and_adds_nothing(
        faraday_server: Server, project: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    from secpipe.cli.main import main

    monkeypatch.setenv("FARADAY_PASSWORD", faraday_server.extra["password"])
    (project / "secpipe.yaml").write_text(RUN_CONFIG.format(
        url=faraday_server.url, user=faraday_server.extra["username"]))
    assert main(["notify", "test", "faraday", "-C", str(project), "--wait", "60"]) == 0
    assert "faraday (faraday): delivered test run.finished" in capsys.readouterr().out
    workspace = f"{project.name}-notify-test"
    assert _vulns(faraday_server, workspace) == []
    [command] = _api(faraday_server, f"/_api/v3/ws/{workspace}/commands")["commands"]
    assert command["value"]["tool"] == "Sarif"
    assert isinstance(command["value"]["duration"], float)  # imported by the workers
