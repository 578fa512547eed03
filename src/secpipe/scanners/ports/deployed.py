"""``scan-ports`` on the run's deployment: the ports *the deployment* serves, not every service
of the machine it runs on.

* **process**: the TCP ports the deployed process tree listens on (:func:`.listeners.
  tree_listeners`: the leader and its descendants, their sockets matched against the LISTEN
  table), then ``nmap -sV`` on exactly those ports (at loopback for a wildcard listener) for
  the service names. A port of the deployment's record that the tree does not hold (a daemon
  that left the tree) is still scanned on loopback and said in a ``ports.scan-incomplete``
  (MEDIUM). Other processes' ports are not the deployment's and are not reported.
* **podman**: the container's own network namespace: its LISTEN table read through
  ``/proc/<container pid>/net/tcp{,6}`` and nmap run *inside* it (``nsenter -t PID -n nmap``,
  root needed) on its loopback (wildcard listeners) and on the address a listener is bound to
  (the container's interface address), so a debug port opened inside and never published is
  found. The policy's ports are container ports (default allowed: the published container
  ports); the published mapping is judged as well (a published container port that the policy
  forbids or does not allow is reported at its loopback address). Without nsenter (not root,
  nsenter missing or failing) the ports read from ``/proc`` are judged without service names
  (``ports.scan-incomplete`` LOW); when even that table cannot be read, only the published
  ports are scanned from the host (``ports.scan-incomplete`` MEDIUM: inside-only ports unseen).

A deployment without a pid, or whose process is gone, is ``ports.scan-incomplete`` too: never a
silent pass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from secpipe.core.findings import Finding, Severity
from secpipe.core.results import StepResult
from secpipe.scanners.ports.deployment import DeploymentLike
from secpipe.scanners.ports.listeners import (
    Listener,
    Listening,
    netns_listeners,
    tree_listeners,
)
from secpipe.scanners.ports.nmap import HostReport, NmapReport, PortState
from secpipe.scanners.ports.policy import incomplete, judge_host, location
from secpipe.scanners.ports.runner import NmapRunner
from secpipe.tools.supervisor import ToolStartError, find_program

NSENTER_HINT = "nsenter (util-linux) as root"


def _ports_text(ports: Sequence[int]) -> str:
    return ",".join(str(p) for p in sorted(set(ports)))


def _merge_report(listening: Sequence[Listener], reports: Sequence[NmapReport]) -> HostReport:
    """One host view: every port the table says is listened on is open (nmap's service
    names added where it saw them); nmap's own open or undecided ports are kept too."""
    seen: dict[int, PortState] = {}
    for report in reports:
        for host in report.hosts:
            for p in host.ports:
                if p.state != "closed" and (p.port not in seen or p.state == "open"):
                    seen[p.port] = p
    ports: dict[int, PortState] = {}
    for item in listening:
        got = seen.get(item.port)
        ports[item.port] = got if got is not None and got.state == "open" else PortState(
            port=item.port, protocol="tcp", state="open", reason="listening")
    for port, p in seen.items():
        ports.setdefault(port, p)
    return HostReport(address="", status="up", ports=tuple(ports[k] for k in sorted(ports)))


def _groups(listening: Sequence[Listener], extra: Sequence[int]) -> dict[str, list[int]]:
    """Address to scan -> ports, ``extra`` ports on 127.0.0.1."""
    groups: dict[str, list[int]] = {}
    for item in listening:
        groups.setdefault(item.scan_address, []).append(item.port)
    if extra:
        groups.setdefault("127.0.0.1", []).extend(extra)
    return groups


class _DeploymentScan:
    def __init__(self, runner: NmapRunner, dep: DeploymentLike) -> None:
        self.runner, self.dep, self.s = runner, dep, runner.s
        self.findings: list[Finding] = []
        self.forbidden = set(self.s.forbidden_ports)

    def scan(self, label: str, groups: dict[str, list[int]], prefix: tuple[str, ...] = ()
             ) -> list[NmapReport] | None:
        """nmap per address group; None when a run failed (its finding already added)."""
        reports: list[NmapReport] = []
        for address, ports in sorted(groups.items()):
            if not ports:
                continue
            got = self.runner.scan(address, _ports_text(ports), prefix,
                                   label=f"{label} ({address})")
            if isinstance(got, Finding):
                self.findings.append(got)
                return None
            self.findings.extend(self.runner.report_problems(got, f"{label} ({address})"))
            reports.append(got)
        return reports

    def judge(self, label: str, host: HostReport, allowed: set[int],
              extra: dict[int, dict[str, str]]) -> list[PortState]:
        got, open_ports = judge_host(host, label, allowed, self.forbidden, extra)
        self.findings.extend(got)
        return open_ports

    def result(self, label: str, open_ports: list[PortState]) -> StepResult:
        line = f"{label}: " + (", ".join(p.describe() for p in open_ports[:8])
                               or "no open port")
        return self.runner.result(self.findings, len(open_ports), [line], hosts=1)

    # -- process ------------------------------------------------------------------------

    def process(self) -> StepResult:
        dep, s = self.dep, self.s
        label = dep.host or "127.0.0.1"
        allowed = set(s.allowed_ports if s.allowed_ports is not None else dep.ports)
        if dep.pid is None:
            return self.published_only(label, allowed, "the deployment names no process id: "
                                       "only its published ports were scanned")
        listening = tree_listeners(dep.pid)
        for number, problem in enumerate(listening.problems[:5]):
            self.findings.append(incomplete(label, f"listening ports of process {dep.pid}: "
                                                   f"{problem}", key=f"{label}|proc|{number}"))
        held = set(listening.ports)
        strays = [p for p in dep.ports if p not in held]
        if strays and listening.pids:
            self.findings.append(incomplete(
                label, f"port(s) {_ports_text(strays)} of the deployment are not held by its "
                       f"process tree (pid {dep.pid}; a daemon that left it?): scanned on "
                       "loopback only", Severity.MEDIUM, key=f"{label}|strays"))
        reports = self.scan(label, _groups(listening.listeners, strays))
        if reports is None:
            reports = []
        extra = {item.port: {"pid": str(item.pid), "listen_address": item.address}
                 for item in listening.listeners if item.pid is not None}
        host = _merge_report(listening.listeners, reports)
        return self.result(label, self.judge(label, host, allowed, extra))

    def published_only(self, label: str, allowed: set[int], why: str,
                       severity: Severity = Severity.MEDIUM,
                       mapping: dict[int, int] | None = None) -> StepResult:
        """Fallback: the published ports scanned from this machine, and a finding saying
        so."""
        self.findings.append(incomplete(label, why, severity, key=f"{label}|fallback"))
        host_label = self.dep.host or "127.0.0.1"
        reports = self.scan(host_label, {host_label: list(self.dep.ports)}) or []
        seen = _merge_report((), reports)
        if mapping:  # judge host ports by the container ports they publish
            seen = HostReport(seen.address, seen.status, tuple(
                PortState(mapping.get(p.port, p.port), p.protocol, p.state, p.reason,
                          p.service, p.product, p.version, p.extrainfo) for p in seen.ports))
        extra = {inside: {"published_as": f"{host_label}:{outside}"}
                 for outside, inside in (mapping or {}).items()}
        return self.result(label, self.judge(label, seen, allowed, extra))

    # -- podman ---------------------------------------------------------------------------

    def podman(self) -> StepResult:
        dep, s = self.dep, self.s
        label = dep.container_name or (dep.container_id or "container")[:24]
        inside = list(dep.container_ports)
        mapping = dict(zip(dep.ports, inside, strict=False))
        allowed = set(s.allowed_ports if s.allowed_ports is not None
                      else (inside or dep.ports))
        if dep.pid is None or not os.path.isdir(f"/proc/{dep.pid}"):
            return self.published_only(
                label, allowed, "the container's process is unknown or gone: only its "
                "published ports were scanned (ports opened inside are unseen)",
                mapping=mapping)
        listening = netns_listeners(dep.pid)
        if listening.problems and not listening.listeners:
            return self.published_only(
                label, allowed, f"the container's listening ports could not be read "
                f"({listening.problems[0][:200]}): only its published ports were scanned",
                mapping=mapping)
        self.judge_mapping(mapping, allowed)  # (the fallback judges the published ports)
        for number, problem in enumerate(listening.problems[:5]):
            self.findings.append(incomplete(label, problem, key=f"{label}|proc|{number}"))
        extra_ports = sorted({*inside, *self.forbidden} - set(listening.ports))
        reports = self.inside(label, dep.pid, listening, extra_ports)
        extra = {p: {"container": dep.container_id or "", "listen_address": a}
                 for p, a in ((i.port, i.address) for i in listening.listeners)}
        host = _merge_report(listening.listeners, reports)
        return self.result(label, self.judge(label, host, allowed, extra))

    def inside(self, label: str, pid: int, listening: Listening,
               extra_ports: list[int]) -> list[NmapReport]:
        """nmap inside the container's network namespace; [] (and a LOW finding) when it
        cannot be run there."""
        nsenter = find_program(self.s.nsenter_program, self.runner.workdir, self.runner.env)
        why = ""
        if os.geteuid() != 0:
            why = "not running as root"
        elif nsenter is None:
            why = f"{self.s.nsenter_program} not found"
        if not why:
            assert nsenter is not None
            prefix = (nsenter, "-t", str(pid), "-n", "--")
            before = len(self.findings)
            try:
                reports = self.scan(label, _groups(listening.listeners, extra_ports), prefix)
            except ToolStartError as exc:
                reports, why = None, exc.message
            if reports is not None:
                return reports
            if not why and any("nsenter:" in f.message for f in self.findings[before:]):
                why = self.findings.pop().message
            elif not why:
                return []  # nmap itself failed inside: its finding (HIGH) says so
        self.findings.append(incomplete(
            label, f"nmap could not run inside the container ({why[:200]}; needs "
                   f"{NSENTER_HINT}): its listening ports were read from /proc and judged "
                   "without service names", Severity.LOW, key=f"{label}|nsenter"))
        return []

    def judge_mapping(self, mapping: dict[int, int], allowed: set[int]) -> None:
        """A published container port the policy forbids or does not allow."""
        host = self.dep.host or "127.0.0.1"
        for outside, inside in sorted(mapping.items()):
            if inside in self.forbidden:
                rule, severity = "ports.forbidden-open", Severity.CRITICAL
            elif inside not in allowed:
                rule, severity = "ports.unexpected-open", Severity.HIGH
            else:
                continue
            self.findings.append(Finding.create(
                rule_id=rule, title="Published container port not allowed", severity=severity,
                scanner="scan-ports", location=location(host, outside),
                message=f"container port {inside}/tcp is published on {host}:{outside} and the "
                        "port policy does not allow it",
                key=f"published:{inside}", tags=("CWE-668",),
                properties={"host": host, "port": str(outside), "container_port": str(inside),
                            "protocol": "tcp"},
                remediation="publish only the ports meant to be served (allowed_ports)"))


def scan_deployment(runner: NmapRunner, deployment: DeploymentLike) -> StepResult:
    """The deployment's ports scanned and judged (see the module text)."""
    scan = _DeploymentScan(runner, deployment)
    return scan.podman() if deployment.kind == "podman" else scan.process()
