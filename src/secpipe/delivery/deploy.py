"""The ``deploy`` step: run the built image (podman) or the app's own command (a process) on a
loopback port, wait until it is ready, smoke-test its model endpoint, and leave it running for
the verify stage (``scan-web``, ``scan-ports``, ``scan-host``) until the run ends.

Example::

    - uses: deploy
      id: deploy
      with:
        target: auto            # podman when an image is built or named, else process
        health: {path: /health}
        smoke: {path: /predict, method: POST, json: {text: "1' OR '1'='1"},
                expect_keys: [label, score], expect: {label: sqli}}

What it guarantees:

- teardown is registered with ``ctx.at_run_end`` *before* anything is started, so the container
  (``podman rm -f``, then checked gone) or the process group (SIGTERM, then SIGKILL) is stopped
  when the run ends, whatever the way it ends (passed, failed, error, timeout, Ctrl-C, crash);
  a deployment that is not ready (never answers, exits early, answers with an oversized body) is
  torn down at once and the step is an ERROR quoting the end of its log (redacted, bounded);
- the artifact ``deployment`` (``deployment.json`` in the work folder: kind, url, host, ports,
  container id or pid, image digest) is how later steps find the target:
  :func:`deployment_from`;
- a smoke answer that is not what ``smoke:`` expects is a HIGH finding ``deploy.smoke-failed``
  with an excerpt of the answer; no ``smoke:`` at all is a LOW finding ``deploy.no-smoke-test``
  (the model endpoint was never exercised: said, not silently passed).

Podman details are in :mod:`secpipe.delivery.deploy_podman`, the long-running process in
:mod:`secpipe.delivery.deploy_process`, the HTTP side in :mod:`secpipe.delivery.deploy_smoke`.
User documentation: ``docs/deploy.md``.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError, InputError, SecpipeError, StepError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.interfaces import Secrets
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.delivery.deploy_process import (
    LOOPBACK,
    Background,
    check_port_free,
    free_port,
)
from secpipe.delivery.deploy_smoke import Answer, request, smoke_check
from secpipe.keys.refs import has_refs, resolver_for
from secpipe.tools.env import tool_env, valid_name
from secpipe.tools.redact import redactor
from secpipe.tools.supervisor import step_timeout

DEPLOYMENT_ARTIFACT = "deployment"
"""Name of the artifact the step returns (a JSON file, :class:`Deployment`)."""
DEPLOYMENT_MEDIA_TYPE = "application/vnd.secpipe.deployment+json"
IMAGE_ARTIFACT = "image"
"""The ``build-image`` artifact the podman target deploys when ``image:`` is not set."""
DEFAULT_CONTAINER_PORT = 8080
MAX_DEPLOYMENT_BYTES = 64 << 10
NOT_CONFIGURED = ("not configured: deploy needs an image (image:, or a build-image step before "
                  "it) or a command (command:)")
TOOL = "secpipe deploy"
_PORT_PLACEHOLDER = "{port}"
_PYTHON_PLACEHOLDER = "{python}"
"""In a process target's command: the Python interpreter secpipe itself runs on (its venv)."""


class DeployError(StepError):
    """The deployment could not be started or never became ready."""


class _Block(BaseModel):
    """A nested block of the settings (same rules: unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              populate_by_name=True)


def _path(value: str) -> str:
    if not value.startswith("/") or any(ord(c) < 33 for c in value) or len(value) > 2000:
        raise ValueError("an absolute URL path (starting with '/', no spaces)")
    return value


class HealthSettings(_Block):
    """``health:``: when the deployment counts as ready."""

    path: str = "/health"
    """Path asked with GET until it answers ``expect_status``."""
    expect_status: int = Field(default=200, ge=100, le=599)
    """The status meaning "ready"."""
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    """Seconds to wait for readiness before the step is an ERROR (and the deployment is torn
    down)."""
    interval_seconds: float = Field(default=0.5, gt=0, le=60)
    """Seconds between two readiness requests."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return _path(value)


class SmokeSettings(_Block):
    """``smoke:``: one request to the model endpoint and what its answer must be."""

    path: str = "/predict"
    """Path of the endpoint."""
    method: Literal["GET", "POST", "HEAD"] = "POST"
    """HTTP method (only non-destructive ones)."""
    json_body: Any = Field(default=None, alias="json")
    """JSON body sent (``json:``), with ``Content-Type: application/json``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers."""
    expect_status: int = Field(default=200, ge=100, le=599)
    """The status the answer must have."""
    expect_keys: list[str] = Field(default_factory=list)
    """Keys the answer's JSON object must hold."""
    expect: dict[str, Any] = Field(default_factory=dict)
    """Keys and the exact values the answer's JSON object must hold."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Seconds the answer may take."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return _path(value)


class DeploySettings(StepSettings):
    """``with:`` of the ``deploy`` step."""

    target: Literal["auto", "podman", "process"] = "auto"
    """``podman`` (run the image as a container), ``process`` (run ``command``), or ``auto``:
    podman when ``image`` is set or the run built an image, else process when ``command`` is
    set, else the step is SKIPPED (not configured)."""
    image: str | None = None
    """The image for podman: an OCI layout folder or an oci-archive/docker-archive tar relative
    to the project root, optionally as ``oci:PATH[:REF]`` / ``oci-archive:PATH[:REF]`` (default:
    the ``image`` artifact of the run's ``build-image`` step)."""
    command: list[str] | None = Field(default=None, min_length=1)
    """The process target's argv (no shell); ``{port}`` is replaced by the port and
    ``{python}`` by the Python interpreter secpipe runs on."""
    cwd: str = "."
    """The process's working folder, relative to the project root."""
    env: dict[str, str] = Field(default_factory=dict)
    """Variables for the process or the container (``${…}`` references resolved; passed to
    podman by name only). The process also gets ``PORT``."""
    pass_env: list[str] = Field(default_factory=list)
    """Names of secpipe's environment variables the process gets as they are."""
    args: list[str] = Field(default_factory=list)
    """Arguments after the image (the container's command, replacing the image's ``Cmd``)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """podman: the container port (default the image's first exposed TCP port, else 8080).
    process: the loopback port it listens on (default a free one, given as ``{port}`` and
    ``PORT``)."""
    host_port: int | None = Field(default=None, ge=1, le=65535)
    """podman: the loopback port published (default a free one)."""
    health: HealthSettings = Field(default_factory=HealthSettings)
    """Readiness check."""
    smoke: SmokeSettings | None = None
    """Smoke test of the model endpoint (none: a LOW finding ``deploy.no-smoke-test``)."""
    max_body_bytes: int = Field(default=1 << 20, gt=0, le=64 << 20)
    """Bytes of an answer read; a larger health answer is an ERROR, a larger smoke answer a
    finding."""
    start_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    """Seconds for loading the image and starting the container."""
    program: str = "podman"
    """The podman executable."""

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not valid_name(name):
                raise ValueError(f"{name[:60]!r} is not a valid environment variable name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DeploySettings:
        if self.command is not None and not self.command[0].strip():
            raise ValueError("the first element of command must name a program")
        if has_refs([*(self.command or []), *self.args, self.cwd, self.image]):
            raise ValueError("secret references are only resolved in env")
        if self.target == "process" and self.command is None:
            raise ValueError("target process needs command")
        if self.cwd and (Path(self.cwd).is_absolute() or ".." in Path(self.cwd).parts):
            raise ValueError("cwd: a path inside the project (relative, no '..')")
        return self


@dataclass(frozen=True)
class Deployment:
    """A running deployment, as the ``deployment`` artifact describes it."""

    kind: str
    """``podman`` or ``process``."""
    url: str
    """Base URL (``http://127.0.0.1:PORT``), no trailing slash."""
    host: str
    """The address it listens on (loopback)."""
    port: int
    """The port ``url`` names."""
    ports: tuple[int, ...]
    """Every loopback port it publishes."""
    step_id: str = ""
    """The ``deploy`` step that started it."""
    container_id: str | None = None
    """podman: the container id."""
    container_name: str | None = None
    """podman: the container name (``secpipe-<run-id>-<step-id>``)."""
    pid: int | None = None
    """process: the leader's process id; podman: the container's first process (host pid)."""
    image_digest: str | None = None
    """podman: the image's manifest digest."""
    podman_root: str | None = None
    """podman: the store (``--root``)."""
    podman_runroot: str | None = None
    """podman: the store's run folder (``--runroot``)."""
    container_ports: tuple[int, ...] = ()
    """podman: the container ports published, in the order of ``ports`` (``ports[i]`` on the
    loopback is ``container_ports[i]`` inside); empty for a process."""

    @property
    def storage_root(self) -> str | None:
        """``podman_root`` (the name ``scan-host`` asks for)."""
        return self.podman_root

    @property
    def runroot(self) -> str | None:
        """``podman_runroot`` (the name ``scan-host`` asks for)."""
        return self.podman_runroot

    def podman_args(self) -> list[str]:
        """The podman global options reaching the container (``--root``, ``--runroot``); []
        for a process."""
        if self.podman_root is None or self.podman_runroot is None:
            return []
        return ["--root", self.podman_root, "--runroot", self.podman_runroot]

    def to_json(self) -> str:
        """The artifact's text."""
        data = asdict(self)
        data["ports"] = list(self.ports)
        data["container_ports"] = list(self.container_ports)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def deployment_from(ctx: StepContext) -> Deployment | None:
    """The deployment the run's latest ``deploy`` step started (from ``ctx.earlier``), or None
    when no earlier step produced one. :class:`InputError` when its file is unreadable."""
    from secpipe.core.safeload import read_regular_file

    for step in reversed(ctx.earlier):
        for artifact in step.artifacts:
            if artifact.name != DEPLOYMENT_ARTIFACT:
                continue
            raw = read_regular_file(Path(artifact.path), MAX_DEPLOYMENT_BYTES,
                                    f"deployment of step {step.step_id}")
            return _parse_deployment(raw, step.step_id)
    return None


def _parse_deployment(raw: bytes, step_id: str) -> Deployment:
    where = f"deployment of step {step_id}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise InputError(f"{where}: not JSON") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: not a JSON object")
    try:
        ports = tuple(int(p) for p in data.get("ports") or ())
        dep = Deployment(
            kind=str(data["kind"]), url=str(data["url"]), host=str(data["host"]),
            port=int(data["port"]), ports=ports, step_id=str(data.get("step_id") or step_id),
            container_id=_opt_str(data.get("container_id")),
            container_name=_opt_str(data.get("container_name")),
            pid=int(data["pid"]) if data.get("pid") is not None else None,
            image_digest=_opt_str(data.get("image_digest")),
            podman_root=_opt_str(data.get("podman_root")),
            podman_runroot=_opt_str(data.get("podman_runroot")),
            container_ports=tuple(int(p) for p in data.get("container_ports") or ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None
    if dep.kind not in ("podman", "process") or dep.host != LOOPBACK \
            or dep.url != f"http://{LOOPBACK}:{dep.port}" or not 0 < dep.port < 65536:
        raise InputError(f"{where}: not a loopback deployment secpipe wrote")
    return dep


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


class DeployStep(StepKind[DeploySettings]):
    """Deploy on loopback, wait until ready, smoke-test, keep running until the run ends."""

    kind = "deploy"
    summary = ("run the built image (podman) or the app's command on a loopback port, wait until "
               "ready, smoke-test the model endpoint; torn down when the run ends")
    Settings = DeploySettings
    produces_metrics: ClassVar[tuple[str, ...]] = ("ready_seconds", "smoke_latency_ms")

    def run(self, ctx: StepContext, settings: DeploySettings) -> StepResult:
        secrets = resolver_for(ctx)
        try:
            return _Deploy(ctx, settings, secrets).run()
        except SecpipeError as exc:
            text = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
            return StepResult(status=StepStatus.ERROR, message=redactor(secrets)(text),
                              tool=TOOL)


def built_image(ctx: StepContext) -> Artifact | None:
    """The latest ``image`` artifact (an OCI layout path) of the run's earlier steps."""
    for step in reversed(ctx.earlier):
        for artifact in step.artifacts:
            if artifact.name == IMAGE_ARTIFACT and "://" not in artifact.path:
                return artifact
    return None


class _Teardown:
    """What the step started, stopped once (at the run's end, or at once on failure)."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.done = False
        self.proc: Background | None = None
        self.podman: Any = None
        self.container: str | None = None

    def hold(self, proc: Background | None = None, podman: Any = None,
             container: str | None = None) -> None:
        """Record what is about to start; :class:`DeployError` when the run has already ended
        (a timed-out or interrupted step's thread going on): nothing may start then."""
        with self.lock:
            if self.done:
                raise DeployError("deploy: the run ended before the deployment started")
            if proc is not None:
                self.proc = proc
            if podman is not None:
                self.podman, self.container = podman, container

    def __call__(self) -> None:
        with self.lock:
            if self.done:
                return
            self.done = True
        errors = []
        if self.proc is not None:  # first: ``podman run`` (and its conmon) or the program
            try:
                self.proc.stop()
            except Exception as exc:  # the container's removal is still tried
                errors.append(f"stopping pid {self.proc.pid}: {type(exc).__name__}: {exc}")
        if self.podman is not None and self.container is not None:
            try:
                self.podman.remove(self.container)
            except SecpipeError as exc:
                errors.append(exc.message)
        what = self.container or (f"pid {self.proc.pid}" if self.proc is not None else "")
        if what:
            self.ctx.log(f"deploy: {what} torn down")
        if errors:
            raise DeployError("; ".join(errors))


class _Deploy:
    """One deployment."""

    def __init__(self, ctx: StepContext, settings: DeploySettings, secrets: Secrets) -> None:
        self.ctx, self.s, self.secrets = ctx, settings, secrets
        self.redact = redactor(secrets)
        self.root = Path(ctx.project_root).resolve()
        self.workdir = Path(ctx.workdir)
        self.logs = self.workdir / "logs"
        self.timeout = step_timeout(ctx.timeout)

    def run(self) -> StepResult:
        s, ctx = self.s, self.ctx
        image = built_image(ctx) if s.image is None else None
        target = s.target
        if target == "auto":
            if s.image is not None or image is not None:
                target = "podman"
            elif s.command is not None:
                target = "process"
            else:
                return StepResult(status=StepStatus.SKIPPED, message=NOT_CONFIGURED, tool=TOOL)
        if target == "podman" and s.image is None and image is None:
            raise ConfigError("deploy: target podman needs image: (or a build-image step "
                              "before it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        declared = {k: self.secrets.resolve(v, f"deploy env {k}") for k, v in s.env.items()}
        teardown = _Teardown(ctx)
        ctx.at_run_end(teardown)  # before anything starts: a crash mid-start is covered
        try:
            if target == "podman":
                deployment, probe = self._podman(teardown, declared, image)
            else:
                deployment, probe = self._process(teardown, declared)
            ready = self._wait_ready(deployment, probe)
        except BaseException:
            teardown()
            raise
        return self._finish(deployment, ready)

    # -- targets -----------------------------------------------------------------------------
    def _process(self, teardown: _Teardown,
                 declared: dict[str, str]) -> tuple[Deployment, _Probe]:
        s, ctx = self.s, self.ctx
        assert s.command is not None
        cwd = (self.root / s.cwd).resolve()
        if cwd != self.root and self.root not in cwd.parents:
            raise ConfigError(f"deploy: cwd {s.cwd!r} leads outside the project")
        if not cwd.is_dir():
            raise InputError(f"deploy: working folder not found: {s.cwd}")
        placeholder = any(_PORT_PLACEHOLDER in arg for arg in s.command)
        if s.port is None and not placeholder:
            raise ConfigError("deploy: the process target needs port: or a {port} placeholder "
                              "in command (where the app listens)")
        port = check_port_free(s.port, "deploy") if s.port is not None else free_port()
        argv = [arg.replace(_PORT_PLACEHOLDER, str(port)).replace(_PYTHON_PLACEHOLDER,
                                                                  sys.executable)
                for arg in s.command]
        env = tool_env(declared={**declared, "PORT": str(port)}, pass_env=s.pass_env,
                       secrets=self.secrets, what=f"step {ctx.step_id or 'deploy'}")
        proc = Background(argv, cwd, env, log_path=self.logs / "process.log",
                          redact=self.redact)
        teardown.hold(proc=proc)
        pid = proc.start()
        ctx.log(f"deploy: started {Path(argv[0]).name} (pid {pid}) on {LOOPBACK}:{port}")
        dep = Deployment(kind="process", url=f"http://{LOOPBACK}:{port}", host=LOOPBACK,
                         port=port, ports=(port,), step_id=ctx.step_id, pid=pid)
        return dep, _Probe(proc=proc)

    def _podman(self, teardown: _Teardown, declared: dict[str, str],
                built: Artifact | None) -> tuple[Deployment, _Probe]:
        from secpipe.delivery.deploy_podman import Podman, run_argv, store_for

        s, ctx = self.s, self.ctx
        source = _open_image(_image_source(s.image, built, self.root))
        digest, exposed = source.digest, source.exposed
        port = s.port or exposed or DEFAULT_CONTAINER_PORT
        host_port = check_port_free(s.host_port, "deploy") if s.host_port else free_port()
        env = tool_env(declared={"TMPDIR": str(self.workdir / "tmp")}, secrets=self.secrets,
                       what=f"step {ctx.step_id or 'deploy'}")
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        store = store_for(ctx.cache_dir, self.workdir)
        podman = Podman(s.program, store, env, self.logs, ctx.cancel, self.secrets,
                        s.start_timeout_seconds)
        podman.locate()
        ctx.progress(0, 3, "loading the image into podman")
        image_id = self._pull(podman, source)
        name = _container_name(ctx.run_id, ctx.step_id or "deploy")
        teardown.hold(podman=podman, container=name)
        podman.remove(name)  # a leftover of an earlier attempt with the same run and step id
        argv = run_argv(podman.program, store, name=name, image_id=image_id,
                        host_port=host_port, port=port, env_names=sorted(declared),
                        args=s.args, labels={"secpipe.run": ctx.run_id,
                                             "secpipe.step": ctx.step_id})
        ctx.progress(1, 3, f"starting container {name}")
        proc = podman.prepare(argv, self.logs / "podman-run.log", env=declared)
        teardown.hold(proc=proc)
        proc.start()
        code = proc.wait_exit(s.start_timeout_seconds, ctx.cancel)
        if code != 0:
            why = "did not return in time" if code is None else f"exit {code}"
            raise DeployError(f"podman run {why}: {proc.tail(5) or 'no output'}")
        lines = [ln.strip() for ln in proc.output().splitlines() if ln.strip()]
        container_id = lines[-1] if lines else ""
        state = podman.state(name)
        ctx.log(f"deploy: container {name} ({container_id[:12]}) on "
                f"{LOOPBACK}:{host_port} -> {port}")
        dep = Deployment(kind="podman", url=f"http://{LOOPBACK}:{host_port}", host=LOOPBACK,
                         port=host_port, ports=(host_port,), step_id=ctx.step_id,
                         container_id=container_id or None, container_name=name,
                         pid=state[1] if state and state[1] else None, image_digest=digest,
                         podman_root=str(store.root), podman_runroot=str(store.runroot),
                         container_ports=(port,))
        return dep, _Probe(podman=podman, container=name)

    def _pull(self, podman: Any, source: _Source) -> str:
        from secpipe.delivery.base_image import BaseImage, pullable_link

        base = BaseImage(kind="oci" if source.path.is_dir() else "oci-archive",
                         path=source.path, ref=source.ref)
        link = pullable_link(base, self.workdir / "tmp")
        try:
            where = f"{source.transport}:{link}" + (f":{source.ref}" if source.ref else "")
            image_id: str = podman.pull(where)
        finally:
            if link != source.path:
                link.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    link.parent.rmdir()
        return image_id

    # -- readiness and smoke -----------------------------------------------------------------
    def _wait_ready(self, dep: Deployment, probe: _Probe) -> float:
        """Seconds until the health path answered as expected; :class:`DeployError` (with the
        log's end) when it exits, answers oversized, or is not ready in time."""
        h, ctx = self.s.health, self.ctx
        started = time.monotonic()
        deadline = started + h.timeout_seconds
        last = "no answer yet"
        answer_missing = True
        ctx.progress(2, 3, f"waiting for {dep.url}{h.path}")
        next_state = started
        while True:
            if ctx.cancel.is_set():
                raise DeployError("deploy: cancelled while waiting for readiness")
            now = time.monotonic()
            if now >= next_state:  # podman inspect is not free: at most once a second
                exited = probe.exited()
                if exited is not None:
                    raise DeployError(f"deploy: the {dep.kind} target exited ({exited}) before "
                                      f"it was ready; log: {probe.tail() or 'empty'}")
                next_state = now + (1.0 if probe.podman is not None else 0.0)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                hint = None
                if dep.kind == "podman" and answer_missing:
                    hint = ("inside the container the app must listen on 0.0.0.0, not "
                            "127.0.0.1 (the published port reaches the container's interface)")
                raise DeployError(f"deploy: {dep.url}{h.path} not ready after "
                                  f"{h.timeout_seconds:g} s ({last}); log: "
                                  f"{probe.tail() or 'empty'}", hint=hint)
            answer = request(LOOPBACK, dep.port, h.path, timeout=min(5.0, remaining),
                             max_body=self.s.max_body_bytes)
            if answer.oversized:
                raise DeployError(f"deploy: {dep.url}{h.path} answered with a body larger than "
                                  f"max_body_bytes ({self.s.max_body_bytes}); log: "
                                  f"{probe.tail() or 'empty'}")
            if answer.status == h.expect_status:
                return time.monotonic() - started
            answer_missing = answer.status is None
            last = f"last: status {answer.status}" if answer.status is not None \
                else f"last: {answer.error}"
            ctx.cancel.wait(min(h.interval_seconds, max(0.0, deadline - time.monotonic())))

    def _finish(self, dep: Deployment, ready: float) -> StepResult:
        ctx, s = self.ctx, self.s
        metrics = {"ready_seconds": round(ready, 3)}
        findings: list[Finding] = []
        note = "no smoke test"
        if s.smoke is None:
            findings.append(_finding(
                ctx, "deploy.no-smoke-test", Severity.LOW, "No smoke test of the deployment",
                f"{dep.url} was deployed and answered {s.health.path}, but no smoke: request "
                "exercised its model endpoint", dep, s.health.path,
                remediation="add with: smoke: {path: /predict, json: …, expect_keys: […]}"))
        else:
            answer = self._smoke(dep, s.smoke)
            metrics["smoke_latency_ms"] = round(answer.seconds * 1000.0, 1)
            problems = smoke_check(answer, expect_status=s.smoke.expect_status,
                                   expect_keys=s.smoke.expect_keys, expect=s.smoke.expect)
            if problems:
                excerpt = answer.excerpt(self.redact)
                findings.append(_finding(
                    ctx, "deploy.smoke-failed", Severity.HIGH,
                    "The deployment's smoke test failed",
                    f"{s.smoke.method} {s.smoke.path}: " + "; ".join(problems), dep,
                    s.smoke.path, evidence=excerpt,
                    remediation="the deployed app does not answer its model endpoint as "
                                "expected; check the image and its logs"))
                note = "smoke test FAILED"
            else:
                note = f"smoke test passed ({metrics['smoke_latency_ms']:g} ms)"
        path = self.workdir / "deployment.json"
        path.write_text(dep.to_json(), encoding="utf-8")
        artifact = Artifact.from_file(DEPLOYMENT_ARTIFACT, path, media_type=DEPLOYMENT_MEDIA_TYPE)
        what = dep.container_name or f"pid {dep.pid}"
        ctx.progress(3, 3, "deployed")
        return StepResult(status=StepStatus.PASSED, findings=tuple(findings), metrics=metrics,
                          artifacts=(artifact,), tool=TOOL,
                          message=f"{dep.kind} {what} ready at {dep.url} in {ready:.1f} s; "
                                  f"{note}; torn down when the run ends")

    def _smoke(self, dep: Deployment, smoke: SmokeSettings) -> Answer:
        headers = dict(smoke.headers)
        body = None
        if smoke.json_body is not None:
            body = json.dumps(smoke.json_body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        return request(LOOPBACK, dep.port, smoke.path, method=smoke.method, body=body,
                       headers=headers, timeout=smoke.timeout_seconds,
                       max_body=self.s.max_body_bytes)


@dataclass
class _Probe:
    """How to tell whether the target is still running, and its log's end."""

    proc: Background | None = None
    podman: Any = None
    container: str | None = None

    def exited(self) -> str | None:
        """``exit N`` (or the container's state) when it has stopped, else None."""
        if self.podman is not None and self.container is not None:
            state = self.podman.state(self.container)
            if state is None:
                return "container gone"
            return None if state[0] in ("running", "created", "configured") \
                else f"container {state[0]}"
        if self.proc is not None:
            code = self.proc.exit_code()
            return None if code is None else f"exit {code}"
        return None

    def tail(self) -> str:
        if self.podman is not None and self.container is not None:
            text: str = self.podman.logs_tail(self.container)
            return text
        return self.proc.tail() if self.proc is not None else ""


@dataclass(frozen=True)
class _Source:
    """The image to deploy."""

    transport: str
    """``oci``, ``oci-archive`` or ``docker-archive``."""
    path: Path
    ref: str | None
    digest: str | None = None
    """Its manifest digest (once opened)."""
    exposed: int | None = None
    """Its first exposed TCP port (once opened)."""


def _image_source(spec: str | None, built: Artifact | None, root: Path) -> _Source:
    if spec is None:
        assert built is not None
        return _Source("oci", Path(built.path).resolve(), None)
    text = spec.strip()
    transport = ""
    for prefix in ("oci-archive:", "docker-archive:", "oci:"):
        if text.startswith(prefix):
            transport, text = prefix[:-1], text[len(prefix):]
            break
    ref: str | None = None
    head, sep, tail = text.rpartition(":")
    if sep and head and "/" not in tail and tail:
        text, ref = head, tail
    if not text:
        raise ConfigError(f"deploy: image {spec[:80]!r} names no path")
    path = Path(text)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.exists():
        raise InputError(f"deploy: image not found: {spec[:200]}")
    if not transport:
        transport = "oci" if path.is_dir() else "oci-archive"
    return _Source(transport, path, ref)


def _open_image(source: _Source) -> _Source:
    """``source`` with its manifest digest and first exposed TCP port, read by secpipe's
    reader (digests verified) before podman sees it."""
    from dataclasses import replace

    from secpipe.images.layout import open_image

    with open_image(source.path, ref=source.ref) as image:
        digest = image.manifest_digest
        exposed = image.config.exposed_ports
        transport = "docker-archive" if image.format == "docker-archive" else source.transport
    port = None
    for entry in exposed:
        number, _, proto = entry.partition("/")
        if (proto or "tcp") == "tcp" and number.isdigit() and 0 < int(number) < 65536:
            port = int(number)
            break
    return replace(source, transport=transport, digest=digest, exposed=port)


def _container_name(run_id: str, step_id: str) -> str:
    clean = "".join(c if c.isalnum() or c in "_.-" else "-" for c in f"{run_id}-{step_id}")
    return f"secpipe-{clean}"[:200]


def _finding(ctx: StepContext, rule: str, severity: Severity, title: str, message: str,
             dep: Deployment, path: str, *, evidence: str = "",
             remediation: str = "") -> Finding:
    return Finding.create(rule_id=rule, title=title, severity=severity, scanner="deploy",
                          location=Location(path=f"{dep.url}{path}"), message=ctx.redact(message),
                          key=f"{ctx.step_id}:{path}", evidence=evidence, tags=("deploy",),
                          remediation=remediation,
                          properties={"url": f"{dep.url}{path}", "target": dep.kind})
