"""The prometheus sink without a Pushgateway: settings, grouping paths, the exposition body
(checked by ``promtool check metrics`` when installed), and its HTTP behaviour against a real
local HTTP server that answers PUTs. The real Pushgateway / Prometheus / Alertmanager tests are
in test_prometheus_servers.py."""

from __future__ import annotations

import base64
import dataclasses
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sink_helpers import RUN, context, run_events

from secpipe.core.errors import ConfigError
from secpipe.core.events import FindingBrief, RunFinished, RunStarted, StepFinished
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.interface import SinkError
from secpipe.sinks.prometheus import (
    CONTENT_TYPE,
    MAX_LABEL_VALUE,
    Exposition,
    PrometheusSettings,
    PrometheusSink,
    grouping_path,
)

SECRET = "-".join(["pgw", "5e3c2a1b0f9d"])  # built at run time, never a literal


@dataclass
class PutReceiver:
    """A real HTTP server on 127.0.0.1 that records PUTs and answers ``codes`` in turn."""

    url: str = ""
    codes: list[int] = field(default_factory=list)
    answer: bytes = b""
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@contextmanager
def put_receiver(**options: Any) -> Iterator[PutReceiver]:
    recv = PutReceiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recv.requests.append((self.path, dict(self.headers.items()),
                                  self.rfile.read(length)))
            code = recv.codes.pop(0) if recv.codes else 200
            self.send_response(code)
            self.send_header("Content-Length", str(len(recv.answer)))
            self.end_headers()
            self.wfile.write(recv.answer)

        def do_DELETE(self) -> None:
            recv.requests.append((f"DELETE {self.path}", dict(self.headers.items()), b""))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recv.url = f"http://127.0.0.1:{server.server_address[1]}/prefix"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class StepFinishedWithMetrics(StepFinished):
    """``step.finished`` carrying the step's metrics and a full count per rule (the fields
    proposed for core/events.py; the sink reads them when the event has them)."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    rules: Mapping[str, int] = field(default_factory=dict)


def _sink(url: str, secrets: Any = None, **options: Any) -> PrometheusSink:
    return PrometheusSink(PrometheusSettings(pushgateway=url, **options),
                          context("metrics", secrets=secrets))


def _samples(body: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample line."""
    out: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def _push(sink: PrometheusSink, events: list[Any]) -> None:
    for event in events:
        sink.deliver(event)


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "message"), [
    ({"pushgateway": "ftp://x"}, "http:// or https://"),
    ({"pushgateway": "http://u:p@x"}, "credentials"),
    ({"pushgateway": "http://x", "grouping": {"stage": "a"}}, "sets itself"),
    ({"pushgateway": "http://x", "grouping": {"__x": "a"}}, "not a valid Prometheus label"),
    ({"pushgateway": "http://x", "grouping": {"env-x": "a"}}, "not a valid Prometheus label"),
    ({"pushgateway": "http://x", "events": ["step.*", "run.started"]}, "run.finished"),
    ({"pushgateway": "http://x", "min_severity": "high"}, "min_severity"),
    ({"pushgateway": "http://x", "headers": {"Content-Type": "x"}}, "set by the sink"),
    ({"pushgateway": "http://x", "top_rules": 0}, "greater than or equal"),
    ({"pushgateway": "http://x", "urll": "x"}, "Extra inputs"),
])
def test_settings_reject(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PrometheusSettings.model_validate(options)


def test_secret_url_is_resolved_and_never_shown(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_URL", f"ftp://{SECRET}")
    with pytest.raises(ConfigError) as caught:
        _sink("${env:PGW_URL}", SecretResolver(tmp_path))
    assert "with.pushgateway" in caught.value.message
    assert SECRET not in str(caught.value)


# -- grouping key -------------------------------------------------------------------------------
def test_grouping_path_encodes_odd_values_as_base64url() -> None:
    path = grouping_path([("job", "secpipe"), ("pipeline", "mlsecops"),
                          ("project", "team/app one"), ("environment", "")])
    parts = path.split("/")
    assert parts[1:5] == ["job", "secpipe", "pipeline", "mlsecops"]
    assert parts[5] == "project@base64"
    assert base64.urlsafe_b64decode(parts[6]) == b"team/app one"
    assert parts[7:] == ["environment@base64", "="]
    assert grouping_path([("project", "é")]) == "/project@base64/w6k="


# -- the body -----------------------------------------------------------------------------------
def test_exposition_of_a_run(tmp_path: Path) -> None:
    with put_receiver() as recv:
        sink = _sink(recv.url)
        events = run_events()
        at = next(i for i, e in enumerate(events) if isinstance(e, StepFinished))
        scan = events[at]
        assert isinstance(scan, StepFinished)
        events[at] = StepFinishedWithMetrics(**{f.name: getattr(scan, f.name)
                                               for f in dataclasses.fields(scan)
                                               if f.name not in ("metrics", "rules")},
                                            metrics={"accuracy": 0.91, "files_scanned": 3})
        _push(sink, events)
    assert len(recv.requests) == 1  # a failed run: one PUT, no success group
    path, headers, raw = recv.requests[0]
    assert path == "/prefix/metrics/job/secpipe/pipeline/mlsecops/project/demo"
    assert headers["Content-Type"] == CONTENT_TYPE
    body = raw.decode()
    samples = _samples(body)
    assert samples['secpipe_gate_passed{stage="gate",gate="gate"}'] == 0
    assert samples['secpipe_findings{severity="high"}'] == 1
    assert samples['secpipe_findings{severity="critical"}'] == 0
    assert samples['secpipe_findings_by_rule{rule="aws-access-key"}'] == 1
    assert samples['secpipe_findings_by_rule{rule="other"}'] == 0
    assert samples['secpipe_run_status{status="failed"}'] == 1
    assert samples['secpipe_run_status{status="passed"}'] == 0
    assert samples["secpipe_run_exit_code"] == 1
    scan_ids = 'stage="scan",step="scan-secrets",kind="scan-secrets"'
    assert samples[f"secpipe_step_duration_seconds{{{scan_ids}}}"] == 1.25
    assert samples[f'secpipe_step_metric{{{scan_ids},name="accuracy"}}'] == 0.91
    assert samples[f'secpipe_step_status{{{scan_ids},status="passed"}}'] == 1
    assert 'secpipe_stage_duration_seconds{stage="gate"}' in samples
    assert samples["secpipe_last_run_timestamp_seconds"] == pytest.approx(events[-1].time)
    assert "secpipe_last_success_timestamp_seconds" not in body
    assert body.count("# TYPE secpipe_findings gauge") == 1
    assert "_total" not in body  # every series is a gauge of the last run


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed (apt-get install prometheus)")
def test_promtool_accepts_the_body() -> None:
    with put_receiver() as recv:
        _push(_sink(recv.url), run_events())
    body = recv.requests[0][2]
    done = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                          timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_passing_run_also_replaces_the_success_group() -> None:
    events = [e for e in run_events() if not isinstance(e, RunFinished)]
    events.append(RunFinished(RUN, pipeline="mlsecops", status="passed", exit_code=0))
    with put_receiver() as recv:
        _push(_sink(recv.url, grouping={"environment": "prod"}), events)
    paths = [r[0] for r in recv.requests]
    base = "/prefix/metrics/job/secpipe/pipeline/mlsecops/project/demo/environment/prod"
    assert paths == [base, base + "/outcome/passed"]
    success = _samples(recv.requests[1][2].decode())
    assert success == {"secpipe_last_success_timestamp_seconds": pytest.approx(events[-1].time)}


def test_label_values_are_escaped_and_bounded() -> None:
    out = Exposition()
    out.add("x", "help with \\ and\nnewline", 1, {"a": 'q"uote\\back\nline'})
    text = out.render()
    assert '# HELP x help with \\\\ and\\nnewline' in text
    assert 'x{a="q\\"uote\\\\back\\nline"} 1' in text
    start = RunStarted(RUN, pipeline="p" * 500, project="demo")
    with put_receiver() as recv:
        _push(_sink(recv.url), [start, RunFinished(RUN, pipeline="p", status="error",
                                                   exit_code=2)])
    segment = recv.requests[0][0].split("/")[6]
    assert len(base64.urlsafe_b64decode(segment).decode()) == MAX_LABEL_VALUE


def test_rules_beyond_top_n_are_summed_as_other() -> None:
    top = tuple(FindingBrief("low", f"rule-{i % 4}", "t", "a.py:1", f"fp{i}") for i in range(8))
    step = StepFinished(RUN, step="s", kind="scan-code", stage="scan", status="passed",
                        message="", duration=0.1, findings=20, severities={"low": 20}, top=top)
    with put_receiver() as recv:
        _push(_sink(recv.url, top_rules=2), [
            RunStarted(RUN, pipeline="p", project="x"), step,
            RunFinished(RUN, pipeline="p", status="passed", exit_code=0)])
    rules = {k: v for k, v in _samples(recv.requests[0][2].decode()).items()
             if k.startswith("secpipe_findings_by_rule")}
    assert len(rules) == 3  # two rules + other
    assert sum(rules.values()) == 20  # 8 listed + 12 the event does not list one by one
    assert rules['secpipe_findings_by_rule{rule="other"}'] == 16


def test_a_full_count_per_rule_is_used_when_the_event_has_one() -> None:
    top = (FindingBrief("low", "rule-a", "t", "a.py:1", "fp"),)
    step = StepFinishedWithMetrics(
        RUN, step="s", kind="scan-code", stage="scan", status="passed", message="",
        duration=0.1, findings=12, severities={"low": 12}, top=top,
        rules={"rule-a": 5, "rule-b": 4, "rule-c": 3})
    with put_receiver() as recv:
        _push(_sink(recv.url, top_rules=2), [
            RunStarted(RUN, pipeline="p", project="x"), step,
            RunFinished(RUN, pipeline="p", status="passed", exit_code=0)])
    rules = {k: v for k, v in _samples(recv.requests[0][2].decode()).items()
             if k.startswith("secpipe_findings_by_rule")}
    assert rules == {'secpipe_findings_by_rule{rule="rule-a"}': 5,
                     'secpipe_findings_by_rule{rule="rule-b"}': 4,
                     'secpipe_findings_by_rule{rule="other"}': 3}


def test_a_planted_secret_never_reaches_the_pushgateway(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGW_AUTH", SECRET)
    secrets = SecretResolver(tmp_path)
    top = (FindingBrief("high", f"leak-{SECRET}", "t", "a.py:1", "fp"),)
    with put_receiver() as recv:
        sink = _sink(recv.url, secrets, headers={"Authorization": "Bearer ${env:PGW_AUTH}"})
        _push(sink, [
            RunStarted(RUN, pipeline="mlsecops", project=f"proj-{SECRET}"),
            StepFinished(RUN, step=f"step-{SECRET}", kind="scan", stage="scan",
                         status="passed", message=SECRET, duration=0.1, findings=1,
                         severities={"high": 1}, top=top),
            RunFinished(RUN, pipeline="mlsecops", status="passed", exit_code=0)])
    assert len(recv.requests) == 2
    for path, headers, body in recv.requests:
        assert headers["Authorization"] == f"Bearer {SECRET}"  # the header is the secret's use
        assert SECRET not in path
        assert base64.urlsafe_b64encode(f"proj-{SECRET}".encode()).decode() not in path
        assert SECRET.encode() not in body
    assert b'rule="leak-***"' in recv.requests[0][2]


# -- failures -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "retry"), [(500, True), (503, True), (429, True),
                                             (400, False), (404, False), (301, False)])
def test_http_errors_are_sink_errors_with_the_right_retry(code: int, retry: bool) -> None:
    with put_receiver(codes=[code], answer=b"text format parsing error in line 3\n") as recv:
        sink = _sink(recv.url)
        _push(sink, run_events()[:-1])
        with pytest.raises(SinkError) as caught:
            sink.deliver(run_events()[-1])
    assert caught.value.retry is retry
    assert f"HTTP {code}" in caught.value.message
    assert "/prefix" not in caught.value.message  # the URL only as scheme://host:port
    if code == 400:
        assert "parsing error in line 3" in caught.value.message


def test_network_error_is_retryable() -> None:
    with put_receiver() as recv:
        url = recv.url
    sink = _sink(url, timeout=1)
    _push(sink, run_events()[:-1])
    with pytest.raises(SinkError) as caught:
        sink.deliver(run_events()[-1])
    assert caught.value.retry


def test_run_finished_without_its_start_pushes_nothing() -> None:
    with put_receiver() as recv:
        sink = _sink(recv.url)
        with pytest.raises(SinkError, match=r"without its run\.started") as caught:
            sink.deliver(RunFinished("other-run", pipeline="p", status="passed", exit_code=0))
    assert not caught.value.retry
    assert recv.requests == []


def test_retried_push_through_the_bus_is_delivered_once_complete() -> None:
    with put_receiver(codes=[503]) as recv:
        sink = _sink(recv.url, backoff=0.01)
        bus = SinkBus([sink])
        for event in run_events():
            bus.emit(event)
        bus.close(5)
    assert bus.failures == []
    assert len(recv.requests) == 2  # the 503, then the same complete body again
    assert recv.requests[0][2] == recv.requests[1][2]
    assert b'secpipe_gate_passed{stage="gate",gate="gate"} 0' in recv.requests[1][2]


def test_notify_test_checks_the_connection_and_leaves_nothing() -> None:
    with put_receiver() as recv:
        sink = _sink(recv.url, project="shop")
        sink.deliver(RunFinished("notify-test-20260101-000000", pipeline="notify-test",
                                 status="passed", exit_code=0))
    group = "/prefix/metrics/job/secpipe/pipeline/notify-test/project/shop"
    assert [r[0] for r in recv.requests] == [group, f"DELETE {group}"]
    assert b"secpipe_notify_test_timestamp_seconds " in recv.requests[0][2]
