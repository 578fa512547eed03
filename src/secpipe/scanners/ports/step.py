"""The ``scan-ports`` step kind: the deployment's (or named hosts') TCP ports scanned with nmap
and judged by the port policy (:mod:`.policy`).

Example::

    - uses: scan-ports
      with:
        allowed_ports: [8080]          # anything else open: ports.unexpected-open (HIGH)
        forbidden_ports: [5678, 9229]  # open: ports.forbidden-open (CRITICAL)

Targets: ``targets`` (``HOST``, ``HOST:PORTS`` or a URL; ``secpipe scan ports TARGET`` fills
it), else the run's deployment (:mod:`.deployment`); with neither the step is SKIPPED. Only
loopback and the hosts listed in ``allowed_hosts`` are scanned; any other target is a
configuration error. Ports: the target's own ``:PORTS``, else ``ports``, else nmap's 1000 most
common TCP ports plus the deployment's ports and the forbidden ones.
The deployment itself (no ``targets``) is scanned as *its* ports only (:mod:`.deployed`): a
process deployment's process tree's listening ports, a podman deployment's network namespace
(nmap run inside it with nsenter), never the other services of the machine. Each nmap run is one
``nmap -sT -sV --version-light -Pn -oX -`` run under :mod:`secpipe.tools` (time-bounded, output
bounded, its XML read by :mod:`.nmap`); nmap failing, timing out, writing a malformed or hostile
report, a host reported down or ports left filtered are ``ports.scan-incomplete`` (HIGH). A
missing nmap is an ERROR, or SKIPPED ("not configured") for the built-in pipeline's step with no
settings.
Metrics: ``open_ports`` (over all targets), ``hosts_scanned``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import NOT_ON_CLI, ScannerSettings, metavar
from secpipe.scanners.ports.deployed import scan_deployment
from secpipe.scanners.ports.deployment import find_deployment
from secpipe.scanners.ports.nmap import MAX_REPORT_BYTES, top_ports
from secpipe.scanners.ports.policy import DEFAULT_FORBIDDEN, judge_host
from secpipe.scanners.ports.runner import TOOL, NmapRunner
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import ToolStartError, find_program

_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$")
_PORTS = re.compile(r"^\d{1,5}(?:-\d{1,5})?(?:,\d{1,5}(?:-\d{1,5})?)*$")
NO_TARGET = "nothing found: no deployment in this run and no targets given"
INSTALL_HINT = "install nmap (Debian: apt-get install nmap) or set program:"


class PortScanSettings(ScannerSettings):
    """``with:`` settings of ``scan-ports``."""

    paths: list[str] = Field(default_factory=list, json_schema_extra=NOT_ON_CLI)
    """Not used by this scanner (it scans hosts: see targets)."""
    targets: list[str] = Field(default_factory=list, json_schema_extra=metavar("TARGET"))
    """Hosts to scan: HOST, HOST:PORTS (22,8000-8100) or a URL (its host and port); default:
    the run's deployment. Only loopback and allowed_hosts are scanned."""
    allowed_hosts: list[str] = Field(default_factory=list, json_schema_extra=metavar("HOST"))
    """Hosts besides loopback that may be scanned (exact names or addresses): scan only hosts
    you own."""
    ports: str | None = Field(default=None, json_schema_extra=metavar("PORTS"))
    """Ports to scan (nmap syntax: 22,80,8000-9000); default: the 1000 most common TCP ports
    plus the deployment's ports and forbidden_ports."""
    allowed_ports: list[int] | None = None
    """Ports expected open; any other open port is ports.unexpected-open (HIGH). Default: the
    deployment's ports (none without a deployment)."""
    forbidden_ports: list[int] = Field(default_factory=lambda: list(DEFAULT_FORBIDDEN))
    """Ports that must never be open (debuggers, unauthenticated admin services):
    ports.forbidden-open (CRITICAL)."""
    program: str = "nmap"
    """The nmap executable."""
    nsenter_program: str = "nsenter"
    """util-linux's nsenter, to run nmap inside a podman deployment's network namespace (needs
    root; without it the container's ports are judged from /proc without service names)."""
    max_seconds: float | None = Field(default=None, gt=0, json_schema_extra=metavar("SECONDS"))
    """Seconds one target's scan may take (default: the step's timeout)."""
    max_report_bytes: int = Field(default=MAX_REPORT_BYTES, gt=0, json_schema_extra=metavar("N"))
    """Largest nmap XML report read; a larger one is ports.scan-incomplete."""
    version_light: bool = True
    """Light service-version probes (--version-light): quicker, fewer probes sent."""

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: str | None) -> str | None:
        if value is not None and not valid_ports(value):
            raise ValueError("a port list such as 22,80,8000-9000 (1-65535)")
        return value

    @field_validator("allowed_ports", "forbidden_ports")
    @classmethod
    def _numbers(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(not 0 < p < 65536 for p in value):
            raise ValueError("port numbers are 1-65535")
        return value


def valid_ports(text: str) -> bool:
    """True for an nmap port list of numbers and ranges within 1-65535."""
    if not _PORTS.match(text):
        return False
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not 0 < int(low) <= int(high or low) < 65536:
            return False
    return True


@dataclass(frozen=True)
class Target:
    """One host to scan, and its ports (None: the default list)."""

    host: str
    ports: str | None


def parse_target(text: str) -> Target:
    """``HOST``, ``HOST:PORTS``, ``[V6]:PORTS`` or a URL; :class:`ConfigError` when malformed."""
    raw = text.strip()
    if "://" in raw:
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"targets: {text[:80]!r} is not an http(s) URL with a host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ConfigError(f"targets: {text[:80]!r} has an invalid port") from None
        return Target(_host(parts.hostname, text), str(port))
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        ports = rest[1:] if rest.startswith(":") else None
        if rest and ports is None:
            raise ConfigError(f"targets: {text[:80]!r} is not [ADDRESS]:PORTS")
    elif raw.count(":") == 1:
        host, _, ports = raw.partition(":")
    else:
        host, ports = raw, None
    if ports is not None and not valid_ports(ports):
        raise ConfigError(f"targets: {text[:80]!r}: ports must look like 22,80,8000-9000")
    return Target(_host(host, text), ports)


def _host(host: str, text: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.match(host) or ".." in host:
        raise ConfigError(f"targets: {text[:80]!r} does not name a host")
    return host.lower()


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_allowed(target: Target, allowed_hosts: list[str]) -> None:
    """:class:`ConfigError` naming ``allowed_hosts`` for a host that is neither loopback nor
    listed there."""
    listed = {h.strip().lower() for h in allowed_hosts}
    if not is_loopback(target.host) and target.host not in listed:
        raise ConfigError(f"scan-ports: {target.host} is not loopback and not in the setting "
                          "allowed_hosts (scan only hosts you own; list them there)")


def _merge(*lists: list[int]) -> str:
    return ",".join(str(p) for p in sorted({p for group in lists for p in group}))


class PortScanStep(StepKind[PortScanSettings]):
    """Scan the deployment's open TCP ports with nmap and judge them by the port policy."""

    kind = "scan-ports"
    summary = ("nmap connect scan of the deployment (or loopback targets): unexpected and "
               "forbidden open ports, service versions")
    Settings = PortScanSettings
    produces_metrics: ClassVar[tuple[str, ...]] = ("open_ports", "hosts_scanned")

    def run(self, ctx: StepContext, settings: PortScanSettings) -> StepResult:
        s = settings
        deployment = find_deployment(ctx)
        deployed_ports = list(deployment.ports) if deployment is not None else []
        if s.targets:
            targets = [parse_target(t) for t in s.targets]
        elif deployment is not None:
            targets = []
        else:
            return StepResult(status=StepStatus.SKIPPED, message=NO_TARGET, tool=TOOL)
        for target in targets:
            check_allowed(target, s.allowed_hosts)
        workdir = Path(ctx.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        env = tool_env(secrets=ctx.secrets, what=f"step {ctx.step_id or self.kind}")
        program = find_program(s.program, workdir, env)
        if program is None and not s.model_fields_set:  # the built-in pipeline's step
            return StepResult(status=StepStatus.SKIPPED, tool=TOOL,
                              message=f"not configured: nmap is not installed ({INSTALL_HINT})")
        if program is None:
            return StepResult(status=StepStatus.ERROR, tool=TOOL,
                              message=f"{s.program}: command not found ({INSTALL_HINT})")
        runner = NmapRunner(ctx, s, program, env)
        try:
            if not targets:
                assert deployment is not None
                return scan_deployment(runner, deployment)
            return self._explicit(runner, targets, deployed_ports)
        except ToolStartError as exc:
            return StepResult(status=StepStatus.ERROR, tool=TOOL,
                              message=f"{exc.message} ({INSTALL_HINT})")

    def _explicit(self, runner: NmapRunner, targets: list[Target],
                  deployed_ports: list[int]) -> StepResult:
        """Named targets: each scanned from this machine with the default or named ports."""
        s, ctx = runner.s, runner.ctx
        default_ports = s.ports or _merge(
            top_ports(Path(runner.program).resolve().parent.parent / "share" / "nmap" /
                      "nmap-services") or list(range(1, 1025)),
            deployed_ports, s.forbidden_ports)
        allowed = set(s.allowed_ports if s.allowed_ports is not None else deployed_ports)
        forbidden = set(s.forbidden_ports)
        findings: list[Finding] = []
        open_total, lines = 0, []
        for index, target in enumerate(targets):
            ctx.progress(index, len(targets), f"nmap {target.host}")
            report = runner.scan(target.host, target.ports or default_ports)
            if isinstance(report, Finding):
                findings.append(report)
                continue
            findings.extend(runner.report_problems(report, target.host))
            for host in (h for h in report.hosts if h.status == "up"):
                got, open_ports = judge_host(host, target.host, allowed, forbidden)
                findings.extend(got)
                open_total += len(open_ports)
                lines.append(f"{target.host}: " + (", ".join(
                    p.describe() for p in open_ports[:8]) or "no open port"))
        ctx.progress(len(targets), len(targets), "done")
        return runner.result(findings, open_total, lines)
