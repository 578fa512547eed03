"""The pagerduty sink against a real HTTP server on 127.0.0.1 that answers like the Events API v2
(202 with ``{"status": "success"}``; 400 for an invalid event; 429 when throttled)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sink_helpers import GATE, RUN, context, run_events

from secpipe.core.events import Event, FindingBrief, GateDecided, StepFinished
from secpipe.core.results import GateDecision
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.pagerduty import PagerDutySettings, PagerDutySink, dedup_key

pytestmark = pytest.mark.server

ROUTING = "R" + "0123456789abcdef0123456789abcdef"[:31]
PLANTED = "-".join(["pl4nted", "s3cret", "value"])


@dataclass
class EventsApi:
    """Records (path, raw body) of each POST; answers ``statuses`` in turn, then 202."""

    base: str = ""
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for _, raw in self.requests]


@contextmanager
def events_api(statuses: list[int] | None = None) -> Iterator[EventsApi]:
    api = EventsApi(statuses=list(statuses or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                api.requests.append((self.path, raw))
                code = api.statuses.pop(0) if api.statuses else 202
            try:
                body = json.loads(raw)
                valid = body.get("event_action") in ("trigger", "resolve") and \
                    len(body.get("dedup_key", "")) <= 255 and bool(body.get("routing_key"))
                if body.get("event_action") == "trigger":  # what the Events API requires
                    payload = body.get("payload", {})
                    valid = valid and 0 < len(payload.get("summary", "")) <= 1024 and \
                        bool(payload.get("source")) and \
                        payload.get("severity") in ("critical", "error", "warning", "info")
            except ValueError:
                valid = False
            if code == 202 and not valid:
                code = 400
            answer = json.dumps({"status": "success" if code == 202 else "invalid event",
                                 "dedup_key": "k"}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    api.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("PD_ROUTING", ROUTING)
    monkeypatch.setenv("PLANTED", PLANTED)
    monkeypatch.delenv("SECPIPE_ENVIRONMENT", raising=False)
    return SecretResolver(tmp_path)


def _sink(api: EventsApi, secrets: SecretResolver, root: Path, **options: Any) -> PagerDutySink:
    options.setdefault("environment", "production")
    settings = PagerDutySettings(routing_key="${env:PD_ROUTING}", api_base=api.base,
                                 project="demo", **options)
    return PagerDutySink(settings, context("oncall", root=root, secrets=secrets))


def _deliver(sink: PagerDutySink, events: list[Event]) -> None:
    for event in events:
        if sink.settings.accepts(event):
            sink.deliver(event)


def _passing(events: list[Event]) -> list[Event]:
    ok = GateDecision(passed=True)
    return [replace(e, decision=ok) if isinstance(e, GateDecided) else e for e in events]


def test_a_failed_gate_triggers_one_incident_keyed_by_project_pipeline_gate(
        secrets: SecretResolver, tmp_path: Path) -> None:
    with events_api() as api:
        _deliver(_sink(api, secrets, tmp_path), run_events())
    assert [path for path, _ in api.requests] == ["/v2/enqueue"]
    body = api.bodies[0]
    assert body["routing_key"] == ROUTING
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "secpipe/demo/mlsecops/gate@production"
    payload = body["payload"]
    assert payload["severity"] == "error"  # the worst finding is high
    assert payload["source"] == "secpipe/demo"
    assert "gate gate failed in mlsecops" in payload["summary"]
    assert "1 high finding (max 0)" in payload["summary"]
    details = payload["custom_details"]
    assert details["run_id"] == RUN
    assert details["findings"][0]["rule_id"] == "aws-access-key"


def test_the_next_passing_run_resolves_the_same_key(secrets: SecretResolver,
                                                    tmp_path: Path) -> None:
    with events_api() as api:
        _deliver(_sink(api, secrets, tmp_path), run_events())
        _deliver(_sink(api, secrets, tmp_path), _passing(run_events()))
    trigger, resolve = api.bodies
    assert resolve == {"routing_key": ROUTING, "event_action": "resolve",
                       "dedup_key": trigger["dedup_key"]}


def test_pages_only_in_configured_environments(secrets: SecretResolver, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with events_api() as api:
        _deliver(_sink(api, secrets, tmp_path, environment="staging"), run_events())
        assert api.requests == []
        monkeypatch.setenv("SECPIPE_ENVIRONMENT", "staging")
        sink = _sink(api, secrets, tmp_path, environment=None,
                     environments=["staging", "production"])
        assert sink.environment == "staging"
        _deliver(sink, run_events())
        monkeypatch.delenv("SECPIPE_ENVIRONMENT")
        unset = _sink(api, secrets, tmp_path, environment=None)
        assert not unset.active  # no environment known: never pages
        _deliver(unset, run_events())
    assert [b["dedup_key"] for b in api.bodies] == ["secpipe/demo/mlsecops/gate@staging"]


def test_keys_and_summaries_stay_within_pagerduty_limits(secrets: SecretResolver,
                                                         tmp_path: Path) -> None:
    long_gate = GateDecision(passed=False, reasons=tuple("r" * 400 for _ in range(8)))
    events = [e if not isinstance(e, GateDecided) else
              GateDecided(RUN, step="g" * 300, stage="gate", decision=long_gate)
              for e in run_events()]
    with events_api() as api:
        _deliver(_sink(api, secrets, tmp_path), events)
    body = api.bodies[0]
    assert body["dedup_key"] == dedup_key(f"secpipe/demo/mlsecops/{'g' * 300}@production")
    assert len(body["dedup_key"]) <= 255 and body["dedup_key"].startswith("secpipe/")
    assert len(body["payload"]["summary"]) == 1024
    assert body["payload"]["summary"].endswith("…")
    assert dedup_key("short") == "short"


def test_429_and_5xx_are_retried_400_is_not(secrets: SecretResolver, tmp_path: Path) -> None:
    gate = next(e for e in run_events() if isinstance(e, GateDecided))
    with events_api([429, 503]) as api:
        bus = SinkBus([_sink(api, secrets, tmp_path, retries=3, backoff=0.01)])
        bus.emit(gate)
        bus.close(10)
    assert bus.failures == []
    assert len(api.requests) == 3
    with events_api([400, 400]) as api:
        bus = SinkBus([_sink(api, secrets, tmp_path, retries=3, backoff=0.01)])
        bus.emit(gate)
        bus.close(10)
    assert len(api.requests) == 1
    assert len(bus.failures) == 1
    assert "HTTP 400" in bus.failures[0]
    assert ROUTING not in bus.failures[0]


def test_a_planted_secret_never_reaches_pagerduty(secrets: SecretResolver,
                                                  tmp_path: Path) -> None:
    planted = secrets.resolve("${env:PLANTED}")  # the run handed it out: it must be redacted
    brief = FindingBrief("critical", "leak", f"token {planted} in code", f"a{planted}.py:1",
                         "fpx")
    gate = GateDecision(passed=False, reasons=(f"found {planted}",))
    events: list[Event] = [
        run_events()[0],
        StepFinished(RUN, step="s", kind="k", stage="scan", status="failed", message=planted,
                     duration=0.1, findings=1, severities={"critical": 1}, top=(brief,)),
        GateDecided(RUN, step="gate", stage="gate", decision=gate),
    ]
    with events_api() as api:
        _deliver(_sink(api, secrets, tmp_path), events)
        _deliver(_sink(api, secrets, tmp_path, dedup="finding"), events)
    assert len(api.requests) == 2
    for _, raw in api.requests:
        assert PLANTED.encode() not in raw
        assert b"***" in raw
    assert api.bodies[0]["payload"]["severity"] == "critical"


def test_dedup_per_finding_triggers_each_and_resolves_what_went_away(
        secrets: SecretResolver, tmp_path: Path) -> None:
    a = FindingBrief("high", "r1", "one", "a.py:1", "fp-a")
    b = FindingBrief("medium", "r2", "two", "b.py:2", "fp-b")

    def run(top: tuple[FindingBrief, ...], passed: bool) -> list[Event]:
        decision = GateDecision(passed=passed, reasons=() if passed else ("too many",))
        return [run_events()[0],
                StepFinished(RUN, step="s", kind="k", stage="scan", status="passed",
                             message="", duration=0.1, findings=len(top),
                             severities={f.severity: 1 for f in top}, top=top),
                GateDecided(RUN, step="gate", stage="gate", decision=decision)]

    with events_api() as api:
        _deliver(_sink(api, secrets, tmp_path, dedup="finding"), run((a, b), False))
        first = [(x["event_action"], x["dedup_key"]) for x in api.bodies]
        _deliver(_sink(api, secrets, tmp_path, dedup="finding"), run((a,), False))
        second = [(x["event_action"], x["dedup_key"]) for x in api.bodies[2:]]
        _deliver(_sink(api, secrets, tmp_path, dedup="finding"), run((), True))
        third = [(x["event_action"], x["dedup_key"]) for x in api.bodies[4:]]
    key_a = "secpipe/demo/mlsecops/gate@production/fp-a"
    key_b = "secpipe/demo/mlsecops/gate@production/fp-b"
    assert first == [("trigger", key_a), ("trigger", key_b)]
    assert api.bodies[1]["payload"]["severity"] == "warning"  # medium
    assert second == [("trigger", key_a), ("resolve", key_b)]
    assert third == [("resolve", key_a)]
    state = json.loads((tmp_path / ".secpipe/pagerduty/oncall.json").read_text())
    assert state == {}


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"gate\.decided"):
        PagerDutySettings(routing_key="x", events=["run.*"])
    with pytest.raises(ValidationError, match="http"):
        PagerDutySettings(routing_key="x", api_base="ftp://host")
    with pytest.raises(ValidationError, match="environment name"):
        PagerDutySettings(routing_key="x", environments=["prod uction"])
    assert GATE.passed is False


RUN_CONFIG = """
sinks:
  oncall:
    uses: pagerduty
    with: {{routing_key: "${{env:PD_ROUTING}}", api_base: "{base}"}}
pipelines:
  p:
    stages:
      - name: scan
        steps: [{{uses: scan-secrets, with: {{cache: false}}}}]
      - name: gate
        steps: [{{uses: gate}}]
"""


def test_a_whole_run_pages_then_resolves(project: Path, secrets: SecretResolver,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from secpipe.cli.main import main

    monkeypatch.setenv("SECPIPE_ENVIRONMENT", "production")
    leak = project / "settings.py"
    leak.write_text('AWS_ACCESS_KEY_ID = "' + "AKIA" + 'Q3EGRXMPL7ZT4WBN"\n')
    with events_api() as api:
        (project / "secpipe.yaml").write_text(RUN_CONFIG.format(base=api.base))
        assert main(["run", "p", "-C", str(project), "-q"]) == 1
        leak.write_text("AWS_ACCESS_KEY_ID = read_from_vault()\n")
        assert main(["run", "p", "-C", str(project), "-q"]) == 0
    trigger, resolve = api.bodies
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "secpipe/project/p/gate@production"
    assert trigger["payload"]["custom_details"]["findings"][0]["rule_id"].endswith(
        "aws-access-key")
