"""The ``deploy`` step's process target, through the real Runner: a real HTTP app started by the
step, readiness, the smoke test, the ``deployment`` artifact later steps find, and teardown by
PID (the app and the child it spawned) after success, a failed readiness, and a later step that
fails, crashes, times out or is interrupted."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from deploy_helpers import (
    PYTHON,
    SMOKE,
    app_pids,
    gone,
    run_pipeline,
    step_results,
    write_app,
)

from secpipe.core import registry
from secpipe.core.results import StepStatus
from secpipe.core.step import StepContext
from secpipe.delivery.deploy import DeploySettings, DeployStep, deployment_from


@pytest.fixture(autouse=True)
def _kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "deploy",
                        ("secpipe.delivery.deploy", "DeployStep"))
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-probe", ("deploy_helpers", "ProbeStep"))


def _config(mode: str = "ok", smoke: dict[str, object] | None = None, then: str = "pass",
            health_timeout: float = 20, probe_timeout: float = 60) -> str:
    deploy = {"command": [PYTHON, "app.py", "{port}"],
              "env": {"APP_MODE": mode, "APP_PIDS": "pids"},
              "health": {"path": "/health", "timeout_seconds": health_timeout,
                         "interval_seconds": 0.1}}
    if smoke is not None:
        deploy["smoke"] = smoke
    return json.dumps({"pipelines": {"p": {"stages": [
        {"name": "deploy", "steps": [{"uses": "deploy", "id": "deploy", "with": deploy}]},
        {"name": "verify", "steps": [{"uses": "t-probe", "id": "probe", "timeout": probe_timeout,
                                      "with": {"then": then}}]},
        {"name": "gate", "steps": [{"uses": "gate"}]},
    ]}}})


def _wait_gone(pids: list[int], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return all(gone(pid) for pid in pids)


def _probe_saw(project: Path) -> str:
    found = list(project.glob(".secpipe/runs/*/probe/probe.txt"))
    return found[0].read_text() if found else ""


def test_process_deploys_smoke_passes_and_is_gone_after_the_run(project: Path) -> None:
    write_app(project)
    outcome, _store, events = run_pipeline(project, _config(smoke=SMOKE))
    steps = step_results(events)
    assert outcome.status == "passed", outcome.errors
    deploy = steps["deploy"]
    assert deploy.status == "passed"
    assert deploy.findings == 0  # smoke passed, no finding
    assert deploy.metrics["ready_seconds"] > 0
    assert deploy.metrics["smoke_latency_ms"] > 0
    # the later stage found the deployment through the artifact and it answered
    pid_app, pid_child = app_pids(project)
    seen = _probe_saw(project)
    assert seen.startswith("200 ") and f" {pid_app} " in seen
    record = json.loads(next(project.glob(".secpipe/runs/*/deploy/deployment.json")).read_text())
    assert record["kind"] == "process" and record["pid"] == pid_app
    assert record["url"] == f"http://127.0.0.1:{record['port']}"
    # torn down at the run's end: the app and the child it spawned
    assert gone(pid_app) and gone(pid_child)
    log = next(project.glob(".secpipe/runs/*/deploy/logs/process.log")).read_text()
    assert "app starting in mode ok" in log


def test_smoke_mismatch_is_a_high_finding_and_fails_the_gate(project: Path) -> None:
    write_app(project)
    outcome, store, events = run_pipeline(project, _config(mode="wrong", smoke=SMOKE))
    deploy = step_results(events)["deploy"]
    assert deploy.status == "passed"
    assert deploy.rules == {"deploy.smoke-failed": 1}
    assert deploy.severities.get("high") == 1
    assert outcome.exit_code == 1 and outcome.status == "failed"
    finding = store.get_run(outcome.run_id).findings[0]
    assert "label is \"benign\", expected \"sqli\"" in finding.message
    assert '"label": "benign"' in finding.evidence
    assert all(gone(pid) for pid in app_pids(project))


def test_no_smoke_test_is_a_low_finding(project: Path) -> None:
    write_app(project)
    outcome, _store, events = run_pipeline(project, _config(smoke=None))
    deploy = step_results(events)["deploy"]
    assert deploy.rules == {"deploy.no-smoke-test": 1}
    assert deploy.severities.get("low") == 1
    assert outcome.status == "passed"  # low is below the default fail_on (high)
    assert all(gone(pid) for pid in app_pids(project))


@pytest.mark.parametrize(("then", "status", "code"), [
    ("fail", "error", 2), ("crash", "error", 2), ("sleep", "error", 2),
    ("interrupt", "interrupted", 130),
])
def test_a_later_step_that_fails_still_tears_down(project: Path, then: str, status: str,
                                                   code: int) -> None:
    write_app(project)
    outcome, _store, events = run_pipeline(
        project, _config(smoke=SMOKE, then=then, probe_timeout=3 if then == "sleep" else 60))
    assert outcome.status == status and outcome.exit_code == code
    assert step_results(events)["deploy"].status == "passed"
    assert _probe_saw(project).startswith("200 ")  # it was running during the later stage
    pids = app_pids(project)
    assert len(pids) == 2
    assert _wait_gone(pids, 0.5)  # gone by the time Runner.run returned (plus reaping)


@pytest.mark.parametrize(("mode", "expected", "log_line"), [
    ("never", "not ready after 1.5 s (last: status 503)", "request \"GET /health"),
    ("exit", "exited (exit 3) before it was ready", "fatal: model file missing"),
    ("huge", "body larger than max_body_bytes", "request \"GET /health"),
])
def test_a_target_that_is_not_ready_is_an_error_and_torn_down_at_once(
        project: Path, tmp_path: Path, mode: str, expected: str, log_line: str) -> None:
    write_app(project)
    settings = DeploySettings.model_validate({
        "command": [PYTHON, "app.py", "{port}"],
        "env": {"APP_MODE": mode, "APP_PIDS": str(project / "pids")},
        "health": {"timeout_seconds": 1.5, "interval_seconds": 0.1}})
    ctx = StepContext(project_root=project, workdir=tmp_path / "work", step_id="deploy")
    result = DeployStep().run(ctx, settings)
    assert result.status is StepStatus.ERROR
    assert expected in result.message
    assert log_line in result.message  # the end of the app's log, quoted
    assert "Traceback" not in result.message
    # torn down before the step returned, not only at the run's end
    assert _wait_gone(app_pids(project), 0.5)
    assert ctx.run_end_hooks() == 0


def test_env_references_are_resolved_and_redacted_from_the_log_tail(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = "kv-" + "Zq8rT2mW9" + "pL4xN7"
    monkeypatch.setenv("DEPLOY_TEST_KEY", value)
    write_app(project)
    settings = DeploySettings.model_validate({
        "command": [PYTHON, "app.py", "{port}"],
        "env": {"APP_MODE": "exit", "APP_KEY": "${env:DEPLOY_TEST_KEY}",
                "APP_PIDS": str(project / "pids")}})
    ctx = StepContext(project_root=project, workdir=tmp_path / "work", step_id="deploy")
    result = DeployStep().run(ctx, settings)
    assert result.status is StepStatus.ERROR
    assert "app starting in mode exit" in result.message  # the app saw it and printed it …
    assert value not in result.message  # … and the quoted log does not hold it
    log = (tmp_path / "work" / "logs" / "process.log").read_text()
    assert "with key -" not in log and "with key " in log and value not in log


def test_an_error_run_through_the_runner_leaves_nothing(project: Path) -> None:
    write_app(project)
    outcome, _store, events = run_pipeline(project, _config(mode="never", health_timeout=1))
    assert outcome.exit_code == 2
    deploy = step_results(events)["deploy"]
    assert deploy.status == "error" and "not ready after 1 s" in deploy.message
    assert _wait_gone(app_pids(project), 0.5)


def test_a_deploy_step_that_times_out_is_torn_down(project: Path) -> None:
    write_app(project)
    config = json.loads(_config(mode="never", health_timeout=60))
    config["pipelines"]["p"]["stages"][0]["steps"][0]["timeout"] = 2
    started = time.monotonic()
    outcome, _store, events = run_pipeline(project, json.dumps(config))
    assert outcome.exit_code == 2
    assert "timed out after 2 s" in step_results(events)["deploy"].message
    assert time.monotonic() - started < 15
    assert _wait_gone(app_pids(project), 0.5)


def test_nothing_starts_after_the_run_ended(project: Path, tmp_path: Path) -> None:
    """A step thread that goes on after its run ended (timed out, interrupted) starts
    nothing: its teardown ran at once when it registered it."""
    write_app(project)
    ctx = StepContext(project_root=project, workdir=tmp_path / "work", step_id="deploy")
    ctx.run_end_hooks()
    settings = DeploySettings.model_validate({
        "command": [PYTHON, "app.py", "{port}"], "env": {"APP_PIDS": str(project / "pids")}})
    result = DeployStep().run(ctx, settings)
    assert result.status is StepStatus.ERROR
    assert "the run ended before the deployment started" in result.message
    time.sleep(0.3)
    assert not (project / "pids").exists()


def test_bad_input_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    write_app(project)
    ctx = StepContext(project_root=project, workdir=tmp_path / "w1", step_id="deploy")
    missing = DeploySettings.model_validate({"command": ["no-such-program-xyz", "{port}"]})
    result = DeployStep().run(ctx, missing)
    assert result.status is StepStatus.ERROR
    assert result.message == "command not found: no-such-program-xyz"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = DeploySettings.model_validate({"command": [PYTHON, "app.py", str(port)],
                                              "port": port})
        result = DeployStep().run(ctx, busy)
    assert result.status is StepStatus.ERROR
    assert f"port {port} on 127.0.0.1 is in use" in result.message
    assert not (project / "pids").exists()  # nothing was started
    image = DeploySettings.model_validate({"image": "no/such/layout"})
    result = DeployStep().run(ctx, image)
    assert result.status is StepStatus.ERROR
    assert result.message == "deploy: image not found: no/such/layout"
    no_port = DeploySettings.model_validate({"command": [PYTHON, "app.py"]})
    result = DeployStep().run(ctx, no_port)
    assert "needs port: or a {port} placeholder" in result.message
    assert ctx.run_end_hooks() == 0


def test_nothing_configured_is_skipped(project: Path, tmp_path: Path) -> None:
    ctx = StepContext(project_root=project, workdir=tmp_path / "w", step_id="deploy")
    result = DeployStep().run(ctx, DeploySettings())
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("not configured: ")
    assert deployment_from(ctx) is None


@pytest.mark.parametrize("bad", [
    {"target": "process"},
    {"command": ["x"], "env": {"1BAD": "v"}},
    {"command": ["x"], "cwd": "../outside"},
    {"command": ["x"], "health": {"path": "health"}},
    {"command": ["x"], "smoke": {"path": "/p", "method": "DELETE"}},
    {"command": ["x"], "helth": {}},
    {"command": ["x", "${env:TOKEN}"]},
])
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DeploySettings.model_validate(bad)
