"""One nmap run after the other for one ``scan-ports`` step: the argv (optionally under a
prefix such as ``nsenter -t PID -n``), the supervised run (time- and output-bounded), the
report read by :mod:`.nmap`; every way a run can fail becomes ``ports.scan-incomplete``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from secpipe.core.errors import InputError
from secpipe.core.findings import Finding
from secpipe.core.results import StepResult
from secpipe.core.step import StepContext
from secpipe.scanners.ports.nmap import NmapReport, nmap_argv, parse_nmap
from secpipe.scanners.ports.policy import incomplete
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.supervisor import ToolCall, run_for_step, step_timeout

if TYPE_CHECKING:
    from secpipe.scanners.ports.step import PortScanSettings

TOOL = "nmap"


class NmapRunner:
    """One nmap run after the other for one step: argv, supervision, the report read."""

    def __init__(self, ctx: StepContext, settings: PortScanSettings, program: str,
                 env: dict[str, str]) -> None:
        self.ctx, self.s, self.program, self.env = ctx, settings, program, env
        self.workdir = Path(ctx.workdir)
        self.count = 0
        self.version = ""

    def scan(self, host: str, ports: str, prefix: tuple[str, ...] = (),
             label: str | None = None) -> NmapReport | Finding:
        """nmap's report on ``host`` (run under ``prefix``, e.g. nsenter), or the
        ``ports.scan-incomplete`` finding saying why there is none. :class:`ToolStartError`
        when the program cannot be started."""
        s, ctx = self.s, self.ctx
        shown = label or host
        index = self.count
        self.count += 1
        call = ToolCall(
            argv=(*prefix, *nmap_argv(self.program, host, ports,
                                      version_light=s.version_light)),
            cwd=self.workdir, env=self.env,
            stdout=KeepHead(self.workdir / f"nmap-{index}.xml", limit=s.max_report_bytes),
            stderr=KeepTail(self.workdir / f"nmap-{index}.log", limit=64 << 10),
            timeout=step_timeout(ctx.timeout, s.max_seconds))
        outcome = run_for_step(call, cancel=ctx.cancel, secrets=ctx.secrets)
        stopped = outcome.stop_reason(call.timeout)
        if stopped or outcome.exit_code != 0:
            why = stopped or f"exit code {outcome.exit_code}: {outcome.stderr.summary}"
            return incomplete(shown, f"nmap on {shown} did not complete ({why[:300]})")
        if outcome.stdout.dropped:
            return incomplete(shown, f"nmap's report on {shown} is over max_report_bytes "
                                     f"({s.max_report_bytes})")
        path = self.workdir / f"nmap-{index}.xml"
        try:
            report = parse_nmap(path.read_bytes(), what=f"nmap report on {shown}")
        except InputError as exc:
            path.unlink(missing_ok=True)
            return incomplete(shown, f"{exc.message} (report refused)")
        self.version = report.version or self.version
        return report

    @staticmethod
    def report_problems(report: NmapReport, shown: str) -> list[Finding]:
        """``ports.scan-incomplete`` for a run that did not finish or found no host up."""
        out = []
        if not report.finished:
            out.append(incomplete(shown, f"nmap on {shown} did not finish: "
                                         f"{report.error or 'no run statistics'}"))
        if not any(h.status == "up" for h in report.hosts):
            out.append(incomplete(shown, f"{shown} was not scanned (host down or unresolved)"))
        return out

    def result(self, findings: list[Finding], open_total: int, lines: list[str],
               hosts: int | None = None) -> StepResult:
        """The step's result."""
        message = "; ".join(lines)[:600] or "no host scanned"
        return StepResult(findings=tuple(findings), tool=f"{TOOL} {self.version}".strip(),
                          metrics={"open_ports": float(open_total),
                                   "hosts_scanned": float(len(lines) if hosts is None
                                                          else hosts)},
                          message=self.ctx.redact(message))
