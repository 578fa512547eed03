"""The port policy: which open ports are expected, which must never be open.

* a port in ``forbidden_ports`` that is open: ``ports.forbidden-open`` (CRITICAL) — debuggers
  and admin services that hand out code execution (debugpy 5678, JDWP 5005, the Node inspector
  9229, Redis 6379, the Docker API 2375/2376 …);
* any other open port not in the allowed set: ``ports.unexpected-open`` (HIGH);
* a port nmap could not decide (``filtered``, ``open|filtered``), a host reported down, a run
  that failed or timed out: ``ports.scan-incomplete`` (HIGH; never a pass).

The allowed set is ``allowed_ports`` when given, else the deployment's own ports, else empty
(every open port is unexpected).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from secpipe.core.findings import Finding, Location, Severity
from secpipe.scanners.ports.nmap import HostReport, PortState

SCANNER = "scan-ports"
DEFAULT_FORBIDDEN = (5678, 5005, 9229, 6379, 2375, 2376)
"""debugpy, JDWP, Node inspector, Redis, Docker API (plain and TLS)."""
KNOWN = {5678: "debugpy (Python debugger)", 5005: "JDWP (Java debugger)",
         9229: "Node.js inspector", 6379: "Redis", 2375: "Docker API (no TLS)",
         2376: "Docker API"}
UNDECIDED_STATES = ("filtered", "open|filtered", "closed|filtered", "unknown")


def location(host: str, port: int | None, protocol: str = "tcp") -> Location:
    """``tcp://HOST:PORT`` (or ``tcp://HOST`` for the host as a whole)."""
    shown = f"[{host}]" if ":" in host else host
    return Location(path=f"{protocol}://{shown}" + (f":{port}" if port is not None else ""))


def _props(host: str, p: PortState) -> dict[str, str]:
    return {"host": host, "port": str(p.port), "protocol": p.protocol, "state": p.state,
            "service": p.service, "product": p.product, "version": p.version}


def judge_host(host: HostReport, target: str, allowed: set[int], forbidden: set[int],
               extra: Mapping[int, Mapping[str, str]] | None = None
               ) -> tuple[list[Finding], list[PortState]]:
    """Findings for one scanned host, and its open ports (``extra``: more properties per
    port, such as the process holding it)."""
    findings: list[Finding] = []
    more = extra or {}
    open_ports = [p for p in host.ports if p.state == "open"]
    for p in open_ports:
        if p.port in forbidden:
            what = KNOWN.get(p.port, "a port the policy forbids")
            findings.append(Finding.create(
                rule_id="ports.forbidden-open", title="Forbidden port open",
                severity=Severity.CRITICAL, scanner=SCANNER, location=location(target, p.port,
                                                                              p.protocol),
                message=f"port {p.port}/{p.protocol} ({what}) is open on {target}",
                key=f"{target}:{p.port}/{p.protocol}", evidence=p.describe(),
                tags=("CWE-489", "CWE-668"), properties={**_props(target, p),
                                                         **more.get(p.port, {})},
                remediation="stop the service or bind it inside the container only; never "
                            "ship a debugger or an unauthenticated admin port"))
        elif p.port not in allowed:
            findings.append(Finding.create(
                rule_id="ports.unexpected-open", title="Unexpected open port",
                severity=Severity.HIGH, scanner=SCANNER,
                location=location(target, p.port, p.protocol),
                message=f"port {p.port}/{p.protocol} is open on {target} and not in "
                        f"allowed_ports ({_listed(allowed)})",
                key=f"{target}:{p.port}/{p.protocol}", evidence=p.describe(), tags=("CWE-668",),
                properties={**_props(target, p), **more.get(p.port, {})},
                remediation="close the port, or add it to allowed_ports when it is meant to "
                            "be served"))
    undecided = [p for p in host.ports if p.state in UNDECIDED_STATES]
    if undecided or host.extra_filtered:
        count = len(undecided) + host.extra_filtered
        shown = ", ".join(p.describe() for p in undecided[:10])
        findings.append(incomplete(
            target, f"{count} port(s) on {target} could not be decided (filtered)"
            + (f": {shown}" if shown else "")))
    return findings, open_ports


def incomplete(target: str, message: str, severity: Severity = Severity.HIGH,
               key: str | None = None) -> Finding:
    """``ports.scan-incomplete`` for ``target`` (HIGH unless said otherwise)."""
    return Finding.create(
        rule_id="ports.scan-incomplete", title="Port scan incomplete", severity=severity,
        scanner=SCANNER, location=location(target, None), message=message,
        key=key or target,
        remediation="make the target reachable from the scanner (loopback) and scan again; "
                    "an undecided port is never a pass")


def _listed(ports: Iterable[int]) -> str:
    items = sorted(ports)
    return ", ".join(map(str, items)) if items else "none"
