"""The ``exec`` step: run an external program under secpipe's tool supervisor and read its
findings (SARIF or secpipe's generic JSON), or just its verdict (``parse: none``).

The command is an argv list, run without a shell by :mod:`secpipe.tools.supervisor`: its own
session and process group, stopped whole on timeout or Ctrl-C (and whatever it leaves running is
stopped when it exits), standard input closed, output bounded, and an environment built from an
allowlist (:mod:`secpipe.tools.env`) plus the step's ``env:`` (``${env:…}``, ``${vault:…}`` …
references resolved, their values then redacted everywhere) and ``pass_env:`` names.

Placeholders in the command, ``cwd``, ``output`` and ``env`` values: ``{output}`` (alias
``{sarif}``: a file in the step's work folder), ``{project}`` (the project root), ``{workdir}``
(the step's work folder). Where the findings come from (``parse: sarif`` or ``json``):

- ``output:`` (or ``sarif:``) set: the file the tool writes (relative paths are relative to
  ``cwd``);
- else ``{output}``/``{sarif}`` in the command: that placeholder file;
- else the tool's standard output.

Exit codes: ``ok_exit_codes`` (default ``[0, 1]``, ``[0]`` with ``parse: none``) mean it ran
fine; ``fail_exit_codes`` mean the tool decided against the run (the step FAILS: a verdict, with
whatever findings it wrote); any other code, a tool that cannot start, a timeout, a cancelled
run, a missing or malformed output make the step an ERROR naming what went wrong (the gate then
fails closed). The output kept as the step's artifact and the captured streams are redacted.
Examples::

    - uses: exec
      id: gitleaks
      with:
        command: [gitleaks, dir, ., --report-format, sarif, --report-path, "{sarif}",
                  --no-banner, --redact]
        tool: gitleaks
        default_severity: high     # gitleaks' SARIF carries no level
    - uses: exec
      id: build
      with:
        command: [docker, build, -t, "app:dev", .]
        parse: none
        pass_env: [DOCKER_HOST]
        env: {REGISTRY_TOKEN: "${vault:ci/registry#token}"}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import SecpipeError
from secpipe.core.findings import Severity
from secpipe.core.interfaces import Secrets
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.keys.refs import has_refs, resolver_for
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.env import tool_env, valid_name
from secpipe.tools.outputs import MEDIA_TYPES, ParsedOutput, parse_output, write_kept_copy
from secpipe.tools.parsers.sarif import MAX_SARIF_BYTES
from secpipe.tools.redact import redactor
from secpipe.tools.supervisor import ToolCall, ToolOutcome, run_for_step, step_timeout

SARIF_MEDIA_TYPE = MEDIA_TYPES["sarif"]
_PLACEHOLDERS = ("{output}", "{sarif}")


class ExecSettings(StepSettings):
    """``with:`` of the ``exec`` step."""

    command: list[str] = Field(min_length=1)
    """The argv to run (never through a shell), e.g. ``[gitleaks, dir, ., --report-path,
    "{sarif}", --report-format, sarif]``. No secret references here: a command line is visible
    to every user of the machine; pass secrets through ``env``."""
    parse: Literal["sarif", "json", "none"] = "sarif"
    """What the tool's output is: SARIF 2.1.0, secpipe's generic findings JSON (docs/tools.md),
    or nothing to read (a build or deploy command: its exit code is the result)."""
    output: str | None = None
    """The file the tool writes its findings to (default: ``{output}`` when the command uses
    it, else the tool's standard output)."""
    sarif: str | None = None
    """The same as ``output``, by its older name (``parse: sarif`` only)."""
    cwd: str | None = None
    """Working directory (relative to the project root; default the project root)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Variables for the tool, over the allowlisted environment; ``${…}`` references resolved."""
    pass_env: list[str] = Field(default_factory=list)
    """Names of secpipe's environment variables the tool gets as they are (``DOCKER_HOST``)."""
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0, 1], min_length=1)
    """Exit codes meaning "ran fine" (default ``[0, 1]``: gitleaks and trivy exit 1 when they
    find something; ``[0]`` with ``parse: none``)."""
    fail_exit_codes: list[int] = Field(default_factory=list)
    """Exit codes meaning "the tool decided against the run": the step fails (a verdict)."""
    tool: str | None = None
    """Name for the findings' ``scanner`` (default ``exec:<command basename>``)."""
    max_output_bytes: int = Field(default=MAX_SARIF_BYTES, gt=0,
                                  validation_alias=AliasChoices("max_output_bytes",
                                                                "max_sarif_bytes"))
    """Refuse outputs larger than this (``max_sarif_bytes`` is accepted as its older name)."""
    default_severity: Severity | None = None
    """Severity for results whose output says nothing about it (SARIF's own default is
    ``warning`` = medium)."""

    @model_validator(mode="before")
    @classmethod
    def _default_exit_codes(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ok_exit_codes" not in data:
            return {**data, "ok_exit_codes": [0] if data.get("parse") == "none" else [0, 1]}
        return data

    @field_validator("command")
    @classmethod
    def _argv0(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the first element of command must name a program")
        if has_refs(value):
            raise ValueError("secret references are not resolved in command (a command line is "
                             "visible to every user of the machine): pass them through env")
        return value

    @field_validator("env", "pass_env")
    @classmethod
    def _names(cls, value: Any) -> Any:
        for name in value:
            if not valid_name(name):
                raise ValueError(f"{name[:60]!r} is not a valid environment variable name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExecSettings:
        if self.output is not None and self.sarif is not None:
            raise ValueError("set output or sarif, not both")
        if self.sarif is not None and self.parse != "sarif":
            raise ValueError("sarif: names a SARIF file; with parse: json use output:")
        if self.parse == "none" and (self.output is not None or self.uses_placeholder()):
            raise ValueError("parse: none reads no output: drop output and {output}")
        if both := sorted(set(self.ok_exit_codes) & set(self.fail_exit_codes)):
            raise ValueError(f"exit codes {both} are both ok and fail codes")
        if has_refs([self.cwd, self.output, self.sarif]):
            raise ValueError("secret references are only resolved in env")
        return self

    def uses_placeholder(self) -> bool:
        """True when the command names the ``{output}``/``{sarif}`` file."""
        return any(p in arg for arg in self.command for p in _PLACEHOLDERS)

    def output_file(self) -> str | None:
        """The output file setting, by either name."""
        return self.output if self.output is not None else self.sarif


def _expand(text: str, subst: dict[str, str]) -> str:
    for key, value in subst.items():
        text = text.replace(key, value)
    return text


class ExecStep(StepKind[ExecSettings]):
    """Run an external tool under the supervisor and read its findings or its verdict."""

    kind = "exec"
    summary = ("run an external tool (gitleaks, trivy, semgrep …, or a build/deploy command) "
               "and read its SARIF/JSON findings or its exit code")
    Settings = ExecSettings
    produces_metrics = ("exec_*", "sarif_*", "*_results", "*_suppressed")

    def run(self, ctx: StepContext, settings: ExecSettings) -> StepResult:
        secrets = resolver_for(ctx)
        name = settings.tool or f"exec:{Path(settings.command[0]).name}"
        try:
            return _Run(ctx, settings, secrets, name).run()
        except SecpipeError as exc:  # a reference that did not resolve, a bad name …
            return _error(redactor(secrets)(exc.message), name)


class _Run:
    """One execution of an ``exec`` step."""

    def __init__(self, ctx: StepContext, settings: ExecSettings, secrets: Secrets,
                 name: str) -> None:
        self.ctx, self.settings, self.secrets, self.name = ctx, settings, secrets, name
        self.redact = redactor(secrets)
        self.workdir = Path(ctx.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.redacted_copy = False
        self.root = Path(ctx.project_root)
        fmt = settings.parse if settings.parse != "none" else "sarif"
        self.default_out = self.workdir / f"results.{fmt}"
        self.timeout = step_timeout(ctx.timeout)
        self.subst = {"{output}": str(self.default_out), "{sarif}": str(self.default_out),
                      "{project}": str(self.root), "{workdir}": str(self.workdir)}

    def run(self) -> StepResult:
        s, subst = self.settings, self.subst
        argv = tuple(_expand(arg, subst) for arg in s.command)
        cwd = self.root / _expand(s.cwd, subst) if s.cwd else self.root
        if not cwd.is_dir():
            return _error(f"working directory not found: {cwd}", self.name)
        declared = {k: self.secrets.resolve(_expand(v, subst), f"exec env {k}")
                    for k, v in s.env.items()}
        env = tool_env(declared=declared, pass_env=s.pass_env, secrets=self.secrets,
                       what=f"step {self.ctx.step_id or 'exec'}")
        output = s.output_file()
        from_stdout = s.parse != "none" and output is None and not s.uses_placeholder()
        out_path = cwd / _expand(output, subst) if output else self.default_out
        before = _stamp(out_path)
        stdout = KeepHead(out_path, s.max_output_bytes) if from_stdout else \
            KeepTail(self.workdir / "stdout.log")
        call = ToolCall(argv, cwd, env, stdout, KeepTail(self.workdir / "stderr.log"),
                        self.timeout)
        self.ctx.log(f"running {argv[0]} ({len(argv) - 1} arguments) in {cwd}")
        try:
            outcome = run_for_step(call, cancel=self.ctx.cancel, secrets=self.secrets)
            return self._judge(outcome, argv[0], cwd, out_path, from_stdout, before)
        finally:
            raw_is_ours = from_stdout or out_path == self.default_out
            if raw_is_ours and not self.redacted_copy:
                out_path.unlink(missing_ok=True)  # raw output we could not redact

    def _judge(self, outcome: ToolOutcome, program: str, cwd: Path, out_path: Path,
               from_stdout: bool, before: tuple[int, int] | None) -> StepResult:
        s = self.settings
        if outcome.stopped and not (outcome.timed_out or outcome.cancelled):
            self.ctx.log(f"stopped {outcome.stopped} process(es) {program} left running")
        reason = outcome.stop_reason(self.timeout)
        if reason:
            return _error(f"{reason}: the command was stopped", self.name)
        code = outcome.exit_code
        tail = outcome.stderr.summary or ("" if from_stdout else outcome.stdout.summary)
        if code is None or code < 0:
            sig = f"signal {-code}" if code is not None else "an unknown cause"
            return _error(f"{program} was killed by {sig}" + (f": {tail}" if tail else ""),
                          self.name)
        metrics = {"exec_exit_code": float(code), "exec_seconds": round(outcome.seconds, 3)}
        failed = code in s.fail_exit_codes
        if not failed and code not in s.ok_exit_codes:
            return _error(f"{program} exited with code {code}" + (f": {tail}" if tail else ""),
                          self.name)
        verdict = f"{program} exited with code {code}, a fail exit code" + (
            f": {tail}" if tail else "")
        if s.parse == "none":
            status = StepStatus.FAILED if failed else StepStatus.PASSED
            message = verdict if failed else f"{program} exited with code {code}"
            return StepResult(status=status, metrics=metrics, message=message, tool=self.name)
        if outcome.stdout.dropped and from_stdout:
            return _error(f"{program} wrote {outcome.stdout.size} bytes to its standard output "
                          f"(limit {s.max_output_bytes})", self.name)
        what = "SARIF" if s.parse == "sarif" else "JSON"
        if not out_path.is_file() or (not from_stdout and _stamp(out_path) == before):
            missing = f"{program} wrote no {what} file at {out_path}"
            if failed:
                return StepResult(status=StepStatus.FAILED, metrics=metrics, tool=self.name,
                                  message=f"{verdict} ({missing})")
            return _error(missing, self.name)
        parsed = parse_output(s.parse, out_path, max_bytes=s.max_output_bytes,
                              scanner=self.name, project_root=self.root, base_dir=cwd,
                              default_severity=s.default_severity)
        return self._result(parsed, metrics, verdict if failed else "")

    def _result(self, parsed: ParsedOutput, metrics: dict[str, float],
                verdict: str) -> StepResult:
        s = self.settings
        assert s.parse != "none"
        write_kept_copy(s.parse, parsed.data, self.default_out, values=self.secrets.redact,
                        everything=self.redact)
        self.redacted_copy = True
        artifact = Artifact.from_file(f"{self.ctx.step_id or 'exec'}.{s.parse}",
                                      self.default_out, media_type=MEDIA_TYPES[s.parse])
        count = len(parsed.findings)
        metrics |= {f"{s.parse}_results": float(count),
                    f"{s.parse}_suppressed": float(parsed.suppressed)}
        tool = ", ".join(parsed.tools) or self.name
        found = f"{count} findings from {tool}" if count else f"no findings from {tool}"
        if parsed.suppressed:
            found += f" ({parsed.suppressed} suppressed by the tool itself, counted by the gate "\
                     "unless the policy accepts tool suppressions)"
        if parsed.failures:
            status, message = StepStatus.ERROR, "; ".join(parsed.failures)
        elif verdict:
            status, message = StepStatus.FAILED, f"{verdict}; {found}"
        else:
            status, message = StepStatus.PASSED, found
        return StepResult(status=status, findings=parsed.findings, metrics=metrics,
                          artifacts=(artifact,), skipped=parsed.skipped,
                          message=self.redact(message), tool=tool)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _error(message: str, tool: str) -> StepResult:
    return StepResult(status=StepStatus.ERROR, message=message, tool=tool)

