"""Test helpers of the ``deploy`` step: a small real model app (standard-library HTTP server)
written into the test's folder, a probe step kind that later stages run against the deployment,
a pipeline runner and liveness checks by PID."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from recording import EventList
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.delivery.deploy import deployment_from
from secpipe.delivery.deploy_smoke import request
from secpipe.pipeline.config import load_project
from secpipe.pipeline.runner import Runner, RunOutcome
from secpipe.runstore import RunStore

PYTHON = sys.executable

APP = r'''
import json, os, subprocess, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[1])
mode = os.environ.get("APP_MODE", "ok")
print(f"app starting in mode {mode} on {port} with key {os.environ.get('APP_KEY', '-')}",
      flush=True)
if mode == "exit":
    print("fatal: model file missing", flush=True)
    sys.exit(3)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(os.environ["APP_PIDS"], "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body, kind="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            if mode == "never":
                return self._send(503, b"warming up")
            if mode == "huge":
                return self._send(200, b"x" * (3 << 20))
            return self._send(200, b"ok")
        return self._send(404, b"not found")

    def do_POST(self):
        size = int(self.headers.get("Content-Length") or 0)
        data = json.loads(self.rfile.read(size) or b"{}")
        text = str(data.get("text", ""))
        label = "sqli" if "'" in text and mode != "wrong" else "benign"
        body = json.dumps({"label": label, "score": 0.97, "echo": "token-" + "x" * 3})
        return self._send(200, body.encode(), "application/json")

    def log_message(self, fmt, *args):
        print("request " + (fmt % args), flush=True)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''

SMOKE = {"path": "/predict", "method": "POST", "json": {"text": "1' OR '1'='1"},
         "expect_keys": ["label", "score"], "expect": {"label": "sqli"}}


def write_app(project: Path) -> Path:
    """The app at ``project/app.py``."""
    path = project / "app.py"
    path.write_text(APP)
    return path


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone(pid: int) -> bool:
    """``os.kill(pid, 0)`` fails (or only a zombie is left, which its parent reaps)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return not alive(pid)


def app_pids(project: Path) -> list[int]:
    """(app pid, its child's pid) as the app wrote them."""
    path = project / "pids"
    return [int(p) for p in path.read_text().split()] if path.is_file() else []


class ProbeSettings(StepSettings):
    """What the probe does after checking the deployment answers."""

    list_containers: bool = False
    """Write ``podman ps -a`` of the deployment's store (``Deployment.podman_args``) to
    ``containers.txt``."""
    then: str = "pass"
    """pass, fail (an ERROR result), crash (raises), sleep (until cancelled), interrupt
    (Ctrl-C of the process: SIGINT to itself)."""


class ProbeStep(StepKind[ProbeSettings]):
    """A verify-stage step: finds the deployment through ``deployment_from`` and asks it."""

    kind = "t-probe"
    summary = "test probe of the deployment"
    Settings = ProbeSettings

    def run(self, ctx: StepContext, settings: ProbeSettings) -> StepResult:
        dep = deployment_from(ctx)
        if dep is None:
            return StepResult(status=StepStatus.ERROR, message="no deployment")
        answer = request(dep.host, dep.port, "/health", timeout=5.0)
        (ctx.workdir / "probe.txt").parent.mkdir(parents=True, exist_ok=True)
        (ctx.workdir / "probe.txt").write_text(f"{answer.status} {dep.pid} {dep.url}")
        if settings.list_containers:
            import subprocess

            listed = subprocess.run(["podman", *dep.podman_args(), "ps", "-a", "--no-trunc",
                                     "--format", "{{.ID}} {{.Names}}"], capture_output=True,
                                    text=True, timeout=60, check=True).stdout
            (ctx.workdir / "containers.txt").write_text(listed)
        if answer.status != 200:
            return StepResult(status=StepStatus.ERROR, message=f"deployment not answering: "
                                                               f"{answer.status} {answer.error}")
        if settings.then == "fail":
            return StepResult(status=StepStatus.ERROR, message="probe failed on purpose")
        if settings.then == "crash":
            raise RuntimeError("probe crashed on purpose")
        if settings.then == "sleep":
            ctx.cancel.wait(120)
        if settings.then == "interrupt":
            os.kill(os.getpid(), signal.SIGINT)
            ctx.cancel.wait(5)  # the runner sets it when the interrupt reaches it
        return StepResult(message=f"answered {answer.status}")


def run_pipeline(project: Path, yaml_text: str, name: str = "p") -> tuple[RunOutcome, RunStore,
                                                                         EventList]:
    """Run pipeline ``name`` of ``yaml_text`` through the real Runner."""
    (project / "secpipe.yaml").write_text(yaml_text)
    loaded = load_project(project)
    store = RunStore(loaded.state_dir / "runs.db")
    events = EventList()
    outcome = Runner(loaded, store, events).run(name)
    return outcome, store, events


def step_results(events: EventList) -> dict[str, Any]:
    """step id -> its StepFinished event."""
    from secpipe.core.events import StepFinished

    return {e.step: e for e in events if isinstance(e, StepFinished)}
