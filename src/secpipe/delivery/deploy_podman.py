"""The ``deploy`` step's podman target: the image run as a container on a loopback port.

Every podman command names secpipe's own store (``--root`` under secpipe's cache, ``--runroot``
and ``--tmpdir`` in a short per-store folder of the system's temporary folder: podman records
both in its database, and its sockets need short paths), never the user's default store, with
``--runtime /usr/sbin/runc``, the ``cgroupfs`` manager and file events (no systemd needed).

- the image (an OCI layout, an ``oci-archive`` or a ``docker-archive``) is opened and checked by
  secpipe's reader first (:func:`secpipe.images.layout.open_image`: digests verified, its
  exposed ports read), then loaded with ``podman pull oci:…`` (a local transport: no network);
- ``podman run -d`` starts the container ``secpipe-<run-id>-<step-id>`` with its port published
  on ``127.0.0.1`` only (``slirp4netns``), ``no-new-privileges`` and open-file / process limits
  lowered to what this host allows; the detached ``podman run`` is started like a supervised tool
  (:class:`secpipe.delivery.deploy_process.Background`) so that conmon and slirp4netns carry its
  marker token and are stopped with it;
- teardown: ``podman rm -f``, then a check that the container is gone, then every process left
  with the marker token is stopped.

Short-lived podman commands (pull, inspect, logs, rm) run through
:func:`secpipe.tools.supervisor.run_for_step`.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import StepError
from secpipe.core.interfaces import Secrets
from secpipe.delivery.deploy_process import LOOPBACK, Background, fresh_marker
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.redact import redactor
from secpipe.tools.supervisor import ToolCall, find_program, run_for_step

RUNTIME = "/usr/sbin/runc"
"""The OCI runtime podman is told to use (crun is not installed on Debian 12 by default)."""
INSTALL_HINT = ("install it with `apt-get install podman runc slirp4netns` (Debian/Ubuntu; "
                "scripts/ci-tools.sh)")
MAX_ULIMIT = 4096
RM_SECONDS = 15.0
"""Bound of the first ``podman rm -f`` of the teardown (the second gets half)."""
EXISTS_SECONDS = 5.0
"""Bound of each ``podman container exists`` of the teardown."""
REMOVE_SECONDS = 1.5 * RM_SECONDS + 2 * EXISTS_SECONDS
"""Most seconds :meth:`Podman.remove` takes (32.5 s: with the stop of ``podman run`` first,
below the run-end hook's bound of 60 s)."""
"""Open files and processes allowed in the container (at most the host's hard limits)."""
_ID = re.compile(r"^[0-9a-f]{64}$")
_STDOUT_MAX = 1 << 20


class PodmanError(StepError):
    """A podman command failed; the message holds its last lines."""


class PodmanMissing(StepError):
    """podman (or its runtime) is not installed."""


@dataclass(frozen=True)
class PodmanStore:
    """secpipe's own podman store."""

    root: Path
    """``--root``: images, containers, podman's database."""
    runroot: Path
    """``--runroot`` (and ``--tmpdir`` under it): state and sockets."""
    runtime: str = RUNTIME
    """``--runtime``."""

    def args(self) -> list[str]:
        """The global options naming the store."""
        return ["--root", str(self.root), "--runroot", str(self.runroot),
                "--tmpdir", str(self.runroot / "libpod"), "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--runtime", self.runtime]


def store_for(cache_dir: Path | None, workdir: Path) -> PodmanStore:
    """The store under ``<cache_dir>/podman`` (else the step's work folder), its run folder
    ``<tmp>/secpipe-podman-<uid>-<hash of the root>`` (created 0700)."""
    root = ((cache_dir / "podman") if cache_dir is not None else (workdir / "podman")).resolve()
    tag = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    runroot = Path(tempfile.gettempdir()) / f"secpipe-podman-{os.getuid()}-{tag}"
    root.mkdir(parents=True, exist_ok=True)
    runroot.mkdir(mode=0o700, parents=True, exist_ok=True)
    return PodmanStore(root, runroot)


def ulimits() -> list[str]:
    """``--ulimit`` options at most the host's hard limits (runc cannot raise them)."""
    out = []
    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        _soft, hard = resource.getrlimit(which)
        value = MAX_ULIMIT if hard == resource.RLIM_INFINITY else min(MAX_ULIMIT, hard)
        out += ["--ulimit", f"{name}={value}:{value}"]
    return out


def run_argv(program: str, store: PodmanStore, *, name: str, image_id: str, host_port: int,
             port: int, env_names: Sequence[str], args: Sequence[str],
             labels: Mapping[str, str]) -> list[str]:
    """The argv of the detached ``podman run``. Variables are passed by name only (``--env
    NAME``: podman copies the value from its own environment), so no value, a resolved secret
    least of all, is on a command line other users of the machine can read."""
    argv = [program, *store.args(), "run", "-d", "--pull", "never", "--name", name,
            "--network", "slirp4netns", "-p", f"{LOOPBACK}:{host_port}:{port}/tcp",
            "--security-opt", "no-new-privileges", *ulimits()]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    for key in env_names:
        argv += ["--env", key]
    return [*argv, image_id, *args]


class Podman:
    """podman commands on one store, for one step."""

    def __init__(self, program: str, store: PodmanStore, env: Mapping[str, str],
                 logs: Path, cancel: threading.Event, secrets: Secrets | None,
                 timeout: float) -> None:
        self.program, self.store, self.env = program, store, dict(env)
        self.logs, self.cancel, self.secrets, self.timeout = logs, cancel, secrets, timeout

    def locate(self) -> None:
        """:class:`PodmanMissing` unless podman and its runtime are installed."""
        found = find_program(self.program, self.logs, self.env)
        if found is None:
            raise PodmanMissing(f"podman not found ({self.program})", hint=INSTALL_HINT)
        self.program = found
        if not os.access(self.store.runtime, os.X_OK):
            raise PodmanMissing(f"the container runtime {self.store.runtime} is not installed",
                                hint=INSTALL_HINT)

    def call(self, what: str, args: Sequence[str], *, timeout: float | None = None,
             check: bool = True, cancel: threading.Event | None = None) -> tuple[int | None, str]:
        """Run ``podman <store> ARGS``; (exit code, standard output). :class:`PodmanError` with
        its last lines when ``check`` and it did not exit 0."""
        self.logs.mkdir(parents=True, exist_ok=True)
        out = self.logs / f"podman-{what}.out"
        call = ToolCall(argv=(self.program, *self.store.args(), *args), cwd=self.logs,
                        env=fresh_marker(self.env), stdout=KeepHead(out, _STDOUT_MAX),
                        stderr=KeepTail(self.logs / f"podman-{what}.log", 64 << 10),
                        timeout=timeout or self.timeout)
        outcome = run_for_step(call, cancel=cancel or threading.Event(), secrets=self.secrets)
        text = out.read_text("utf-8", "replace") if out.is_file() else ""
        out.unlink(missing_ok=True)
        if check and outcome.exit_code != 0:
            why = outcome.stop_reason(call.timeout) or f"exit {outcome.exit_code}"
            last = outcome.stderr.summary or outcome.stdout.summary or "no output"
            raise PodmanError(f"podman {what} failed ({why}): {last}")
        return outcome.exit_code, text

    def pull(self, transport: str) -> str:
        """Load a local image (``oci:PATH[:REF]``, ``oci-archive:…``, ``docker-archive:…``)
        into the store; its image id."""
        _code, out = self.call("pull", ["pull", "-q", transport], cancel=self.cancel)
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        image_id = lines[-1] if lines else ""
        if not _ID.match(image_id):
            raise PodmanError("podman pull printed no image id")
        return image_id

    def prepare(self, argv: Sequence[str], log_path: Path,
                env: Mapping[str, str] | None = None) -> Background:
        """The detached ``podman run`` to start (``.start()``; not waited for) with ``env``
        added to the tool's environment (the container's variables, named in ``argv``)."""
        return Background(argv, self.logs, {**self.env, **(env or {})}, log_path=log_path,
                          redact=redactor(self.secrets))

    def state(self, name: str) -> tuple[str, int] | None:
        """(status, pid of the container's first process) or None when there is no such
        container."""
        code, out = self.call("inspect", ["container", "inspect", "--format",
                                          "{{.State.Status}} {{.State.Pid}}", name],
                              timeout=30.0, check=False)
        if code != 0:
            return None
        status, _, pid = out.strip().partition(" ")
        return status, int(pid) if pid.isdigit() else 0

    def logs_tail(self, name: str, lines: int = 20) -> str:
        """The container's last log lines (redacted, bounded; standard output's, then standard
        error's), or ''."""
        code, out = self.call("logs", ["logs", "--tail", str(lines), name], timeout=30.0,
                              check=False)
        if code != 0:
            return ""
        err_log = self.logs / "podman-logs.log"  # the container's standard error (redacted)
        err = err_log.read_text("utf-8", "replace") if err_log.is_file() else ""
        redact = redactor(self.secrets)
        kept = [" ".join(line.split())[:300] for line in (out + "\n" + err).splitlines()
                if line.strip() and not line.startswith("[secpipe: first ")]
        return " | ".join(redact(line) for line in kept[-lines:])

    def exists(self, name: str, timeout: float = 30.0) -> bool:
        """Whether the container exists (in any state)."""
        code, _ = self.call("exists", ["container", "exists", name], timeout=timeout,
                            check=False)
        if code not in (0, 1):
            raise PodmanError(f"podman container exists {name}: exit {code}")
        return code == 0

    def remove(self, name: str) -> None:
        """``podman rm -f`` the container and check it is gone (:class:`PodmanError` if not).

        Its podman calls together take at most :data:`REMOVE_SECONDS`, well inside a run-end
        hook's bound (:data:`secpipe.core.step.RUN_END_SECONDS`) after the ``podman run``
        process has been stopped, so the teardown ends (or fails loudly) rather than being
        abandoned."""
        self.call("rm", ["rm", "-f", "-t", "1", "--ignore", name], timeout=RM_SECONDS,
                  check=False)
        if self.exists(name, timeout=EXISTS_SECONDS):
            self.call("rm-again", ["rm", "-f", "-t", "0", "--ignore", name],
                      timeout=RM_SECONDS / 2, check=False)
            if self.exists(name, timeout=EXISTS_SECONDS):
                raise PodmanError(f"container {name} is still there after podman rm -f")
