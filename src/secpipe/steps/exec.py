"""The ``exec`` step: run an external tool and ingest the SARIF log it writes.

The command is an argv list, run without a shell, in its own process group (killed whole on
timeout or cancel), with standard input closed. Placeholders in the command, ``cwd``, ``sarif`` and
``env`` values: ``{sarif}`` (a file in the step's work folder), ``{project}`` (the project root),
``{workdir}`` (the step's work folder). Where the SARIF comes from:

- ``sarif:`` set: the file the tool writes (relative paths are relative to ``cwd``);
- else ``{sarif}`` in the command: that placeholder file;
- else the tool's standard output.

A tool that cannot be found, exits with a code outside ``ok_exit_codes``, times out, writes no SARIF
or malformed SARIF makes the step an ERROR naming what went wrong (the gate then fails closed).
The SARIF kept as the step's artifact, and the captured streams, are redacted copies (gitleaks
quotes each secret in ``region.snippet``). Example::

    - uses: exec
      id: gitleaks
      with:
        command: [gitleaks, dir, ., --report-format, sarif, --report-path, "{sarif}",
                  --no-banner, --redact]
        tool: gitleaks
        default_severity: high     # gitleaks' SARIF carries no level
    - uses: exec
      id: trivy-secrets
      with:
        command: [trivy, fs, --scanners, secret, --offline-scan, --format, sarif, --quiet, .]
        env: {TRIVY_CACHE_DIR: "{workdir}/cache"}
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError
from secpipe.core.findings import Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.steps.redact import clean, redact_log, redact_tokens
from secpipe.steps.sarif_ingest import MAX_SARIF_BYTES, ingest_sarif, read_sarif

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAIL_BYTES = 4096
_KEEP_LOG_BYTES = 64 << 10
SARIF_MEDIA_TYPE = "application/sarif+json"


class ExecSettings(StepSettings):
    """``with:`` of the ``exec`` step."""

    command: list[str] = Field(min_length=1)
    """The argv to run (never through a shell), e.g. ``[gitleaks, dir, ., --report-path,
    "{sarif}", --report-format, sarif]``."""
    sarif: str | None = None
    """The SARIF file the tool writes (default: ``{sarif}`` when the command uses it, else the
    tool's standard output)."""
    cwd: str | None = None
    """Working directory (relative to the project root; default the project root)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for the tool (merged over secpipe's own environment)."""
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0, 1], min_length=1)
    """Exit codes meaning "ran fine" (gitleaks and trivy exit 1 when they find something)."""
    tool: str | None = None
    """Name for the findings' ``scanner`` (default ``exec:<command basename>``)."""
    max_sarif_bytes: int = Field(default=MAX_SARIF_BYTES, gt=0)
    """Refuse SARIF logs larger than this."""
    default_severity: Severity | None = None
    """Severity for results whose SARIF says nothing about it (no level, no security-severity);
    SARIF's own default is ``warning`` = medium."""

    @field_validator("command")
    @classmethod
    def _argv0(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the first element of command must name a program")
        return value


def _expand(text: str, subst: dict[str, str]) -> str:
    for key, value in subst.items():
        text = text.replace(key, value)
    return text


def _find_program(name: str, cwd: Path, env: dict[str, str]) -> str | None:
    if "/" in name or os.sep in name:
        candidate = Path(name) if os.path.isabs(name) else cwd / name
        ok = candidate.is_file() and os.access(candidate, os.X_OK)
        return str(candidate) if ok else None
    return shutil.which(name, path=env.get("PATH", os.defpath))


def _tail(path: Path) -> str:
    """The last lines of a captured stream, de-coloured, bounded and redacted."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - _TAIL_BYTES))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in _ANSI.sub("", data).splitlines() if ln.strip()]
    return redact_tokens(clean(" | ".join(lines[-5:]), 500))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop the whole process group: TERM, then KILL after two seconds."""
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class ExecStep(StepKind):
    """Run an external SARIF-producing tool and ingest its results."""

    kind = "exec"
    summary = "run an external tool (gitleaks, trivy, semgrep, checkov …) and ingest its SARIF"
    Settings = ExecSettings

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        assert isinstance(settings, ExecSettings)
        workdir = Path(ctx.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        root = Path(ctx.project_root)
        default_sarif = workdir / "results.sarif"
        subst = {"{sarif}": str(default_sarif), "{project}": str(root), "{workdir}": str(workdir)}
        argv = [_expand(arg, subst) for arg in settings.command]
        cwd = root / _expand(settings.cwd, subst) if settings.cwd else root
        name = settings.tool or f"exec:{Path(settings.command[0]).name}"
        if not cwd.is_dir():
            return _error(f"working directory not found: {cwd}", name)
        env = {**os.environ, **{k: _expand(v, subst) for k, v in settings.env.items()}}
        program = _find_program(argv[0], cwd, env)
        if program is None:
            return _error(f"command not found: {argv[0]}", name)
        from_stdout = settings.sarif is None and not any("{sarif}" in a for a in settings.command)
        sarif_path = (cwd / _expand(settings.sarif, subst)) if settings.sarif else default_sarif
        before = _stamp(sarif_path)
        stdout_path = default_sarif if from_stdout else workdir / "stdout.log"
        stderr_path = workdir / "stderr.log"
        ctx.log(f"running {argv[0]} ({len(argv) - 1} arguments) in {cwd}")
        started = time.monotonic()
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            try:
                proc = subprocess.Popen(argv, executable=program, cwd=cwd, env=env,
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        start_new_session=True)
            except OSError as exc:
                return _error(f"cannot run {argv[0]}: {exc.strerror or exc}", name)
            outcome = self._wait(proc, ctx, started)
        _redact_logs(stderr_path, *(() if from_stdout else (stdout_path,)))
        if outcome:
            return _error(outcome, name)
        code = proc.returncode
        if code < 0:
            return _error(f"{argv[0]} was killed by signal {-code}: {_tail(stderr_path)}", name)
        if code not in settings.ok_exit_codes:
            tail = _tail(stderr_path)
            if not tail and not from_stdout:
                tail = _tail(stdout_path)
            return _error(f"{argv[0]} exited with code {code}" + (f": {tail}" if tail else ""),
                          name)
        if not sarif_path.is_file() or (not from_stdout and _stamp(sarif_path) == before):
            return _error(f"{argv[0]} wrote no SARIF file at {sarif_path}", name)
        try:
            data = read_sarif(sarif_path, settings.max_sarif_bytes)
        except InputError as exc:
            return _error(exc.message, name)
        ingested = ingest_sarif(data, project_root=root, base_dir=cwd, scanner=name,
                                default_severity=settings.default_severity,
                                source=str(sarif_path))
        _write_redacted(default_sarif, data)
        artifact = Artifact.from_file(f"{ctx.step_id or 'exec'}.sarif", default_sarif,
                                      media_type=SARIF_MEDIA_TYPE)
        count = len(ingested.findings)
        metrics = {"exec_exit_code": float(code), "sarif_results": float(count),
                   "sarif_suppressed": float(ingested.suppressed),
                   "exec_seconds": round(time.monotonic() - started, 3)}
        tool = ", ".join(ingested.tools) or name
        if ingested.failures:
            status, message = StepStatus.ERROR, "; ".join(ingested.failures)
        else:
            status = StepStatus.PASSED
            message = f"{count} findings from {tool}" if count else f"no findings from {tool}"
        return StepResult(status=status, findings=ingested.findings, metrics=metrics,
                          artifacts=(artifact,), skipped=ingested.skipped, message=message,
                          tool=tool)

    @staticmethod
    def _wait(proc: subprocess.Popen[bytes], ctx: StepContext, started: float) -> str:
        """Wait for the process; on timeout or cancel stop its group and say why ('' if it
        ended by itself)."""
        while True:
            try:
                proc.wait(timeout=0.1)
                return ""
            except subprocess.TimeoutExpired:
                pass
            if ctx.cancel.is_set():
                _kill(proc)
                return "cancelled: the command was stopped"
            if ctx.timeout is not None and time.monotonic() - started > ctx.timeout:
                _kill(proc)
                return f"timed out after {ctx.timeout:g} s: the command was stopped"


def _redact_logs(*logs: Path) -> None:
    """Keep only the redacted tail of captured streams: a later scan of the project must not
    find our own records of its secrets."""
    for log in logs:
        with log.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - _KEEP_LOG_BYTES))
            text = fh.read().decode("utf-8", "replace")
        log.write_text(redact_tokens(text), encoding="utf-8")


def _write_redacted(target: Path, data: Any) -> None:
    """Write the SARIF we keep with snippets masked (gitleaks quotes the secret there)."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(redact_log(data), indent=1), encoding="utf-8")
    os.replace(tmp, target)


def _error(message: str, tool: str) -> StepResult:
    return StepResult(status=StepStatus.ERROR, message=message, tool=tool)
