"""``ctx.at_run_end`` (core.step.RunEndHooks) and the runner's call of it: reverse order, once,
bounded, a failing hook logged and never changing the run's exit code, a late registration run
at once, the deployment artifact read back by ``deployment_from``."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import run_pipeline

from secpipe.core import registry
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError
from secpipe.core.results import FinishedStep, StepResult
from secpipe.core.step import RunEndHooks, StepContext, StepKind, StepSettings
from secpipe.delivery.deploy import DEPLOYMENT_ARTIFACT, Deployment, deployment_from

CALLS: list[str] = []


class _HookSettings(StepSettings):
    name: str = "a"
    fail_hook: bool = False
    fail_step: bool = False


class HookStep(StepKind[_HookSettings]):
    kind = "t-hook"
    summary = "registers a run-end hook"
    Settings = _HookSettings

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        def hook() -> None:
            CALLS.append(settings.name)
            if settings.fail_hook:
                raise RuntimeError("teardown broke")

        ctx.at_run_end(hook)
        if settings.fail_step:
            raise RuntimeError("step broke")
        return StepResult(message="ok")


@pytest.fixture(autouse=True)
def _kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-hook", (__name__, "HookStep"))
    CALLS.clear()


def test_hooks_run_once_last_first_and_failures_are_logged() -> None:
    hooks, calls, logs = RunEndHooks(), [], []
    hooks.add(lambda: calls.append(1))
    hooks.add(lambda: (_ for _ in ()).throw(ValueError("bad")), logs.append)
    hooks.add(lambda: calls.append(3))
    assert hooks.run() == 1
    assert calls == [3, 1]
    assert len(logs) == 1 and "failed: ValueError: bad" in logs[0]
    assert hooks.run() == 0 and calls == [3, 1]  # once
    hooks.add(lambda: calls.append(4))  # registered after the end: run at once
    assert calls == [3, 1, 4]


def test_a_hook_is_bounded_in_time() -> None:
    hooks, logs = RunEndHooks(seconds=0.3), []
    release = threading.Event()
    hooks.add(lambda: release.wait(30), logs.append)
    started = time.monotonic()
    assert hooks.run() == 1
    assert time.monotonic() - started < 2
    assert "still running after 0.3 s" in logs[0]
    release.set()


def test_a_bare_context_keeps_its_own_hooks(tmp_path: Path) -> None:
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "w")
    calls: list[int] = []
    ctx.at_run_end(lambda: calls.append(1))
    assert calls == []
    assert ctx.run_end_hooks() == 0
    assert calls == [1]


def test_the_runner_calls_them_on_every_path_and_keeps_the_exit_code(project: Path) -> None:
    config = """
pipelines:
  p:
    stages:
      - {name: one, steps: [{uses: t-hook, with: {name: first, fail_hook: true}}]}
      - {name: two, steps: [{uses: t-hook, with: {name: second, fail_step: true}}]}
      - {name: three, steps: [{uses: t-hook, with: {name: never}}]}
"""
    outcome, _store, events = run_pipeline(project, config)
    assert outcome.exit_code == 2  # the step error, not the hook's failure
    assert CALLS == ["second", "first"]  # the crashing step's hook ran too, last first
    logs = [e.message for e in events if type(e).__name__ == "StepLog"]
    assert any("run-end hook" in m and "teardown broke" in m for m in logs)
    names = [type(e).__name__ for e in events]
    assert names.index("RunFinished") > max(i for i, n in enumerate(names) if n == "StepLog")


def test_a_passing_run_with_a_failing_hook_is_an_error(project: Path) -> None:
    outcome, _store, _events = run_pipeline(project, """
pipelines:
  p:
    stages:
      - {name: one, steps: [{uses: t-hook, with: {fail_hook: true}}]}
""")
    # a teardown that failed may have left something running: never a pass
    assert outcome.exit_code == 2 and CALLS == ["a"]
    assert any(e.startswith("run-end: ") for e in outcome.errors)


def _ctx_with(tmp_path: Path, text: str) -> StepContext:
    path = tmp_path / "deployment.json"
    path.write_text(text)
    step = FinishedStep("deploy", "deploy", "deploy", StepResult(artifacts=(
        Artifact.from_file(DEPLOYMENT_ARTIFACT, path),)))
    return StepContext(project_root=tmp_path, workdir=tmp_path / "w", earlier=(step,))


def test_deployment_from_reads_the_artifact_back(tmp_path: Path) -> None:
    dep = Deployment(kind="process", url="http://127.0.0.1:8123", host="127.0.0.1", port=8123,
                     ports=(8123,), step_id="deploy", pid=42)
    assert deployment_from(_ctx_with(tmp_path, dep.to_json())) == dep
    with pytest.raises(InputError, match="not a loopback deployment"):
        deployment_from(_ctx_with(tmp_path, dep.to_json().replace("127.0.0.1:8123",
                                                                  "10.0.0.1:8123")))
    with pytest.raises(InputError, match="not JSON"):
        deployment_from(_ctx_with(tmp_path, "{"))


def test_failed_and_abandoned_hooks_are_kept_and_logged_as_errors() -> None:
    hooks, logs = RunEndHooks(seconds=0.3), []
    release = threading.Event()
    hooks.add(lambda: release.wait(30), logs.append)
    hooks.add(lambda: (_ for _ in ()).throw(OSError("podman rm hung")), logs.append)
    hooks.add(lambda: None, logs.append)
    assert hooks.failures == ()
    assert hooks.run() == 2
    release.set()
    assert len(hooks.failures) == 2
    assert "failed: OSError: podman rm hung" in hooks.failures[0]
    assert "still running after 0.3 s" in hooks.failures[1]
    assert len(logs) == 2 and all(line.startswith("ERROR: run-end hook ") for line in logs)


def test_the_podman_teardown_fits_inside_the_hook_bound() -> None:
    from secpipe.core.step import RUN_END_SECONDS
    from secpipe.delivery.deploy_podman import REMOVE_SECONDS
    from secpipe.delivery.deploy_process import STOP_GRACE

    # podman run is stopped first (SIGTERM, grace, SIGKILL, grace, reap 5 s), then podman rm
    assert 2 * STOP_GRACE + 5.0 + REMOVE_SECONDS < RUN_END_SECONDS


def test_the_teardown_stops_the_process_even_when_the_removal_fails(tmp_path: Path) -> None:
    import sys

    from secpipe.core.errors import StepError
    from secpipe.delivery.deploy import DeployError, _Teardown
    from secpipe.delivery.deploy_process import Background

    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "w")
    proc = Background([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path,
                      {"PATH": "/usr/bin:/bin"}, log_path=tmp_path / "p.log")
    proc.start()

    class _Gone:  # stands in for a podman whose rm fails (no container was started)
        def remove(self, name: str) -> None:
            order.append(("remove", proc.gone()))
            raise StepError(f"container {name} is still there after podman rm -f")

    order: list[tuple[str, bool]] = []
    teardown = _Teardown(ctx)
    teardown.hold(proc=proc)
    teardown.hold(podman=_Gone(), container="c1")
    with pytest.raises(DeployError, match="still there"):
        teardown()
    assert order == [("remove", True)]  # the podman run process was already stopped
    assert proc.gone()
