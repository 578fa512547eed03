"""nmap's XML report (``-oX -``) read defensively, and the argv that produces it.

nmap writes ``<!DOCTYPE nmaprun>`` (a declaration without an internal subset) before its root;
exactly that line is accepted and removed, then the document goes through secpipe's XML parser
(:mod:`secpipe.tools.parsers.xml`: any other document type, entity or external entity refused;
depth, element count and size bounded). What comes back is our own frozen :class:`NmapReport`;
a malformed or hostile report is an :class:`~secpipe.core.errors.InputError`, never an empty
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.tools.parsers.xml import XmlElement, parse_xml

MAX_REPORT_BYTES = 16 << 20
"""Default bound on nmap's XML report."""
MAX_ELEMENTS = 200_000
"""Elements accepted in one report (a /16 of hosts with every port listed would be more)."""
MAX_DEPTH = 16
_TEXT = 300


@dataclass(frozen=True)
class PortState:
    """One port nmap reported on."""

    port: int
    protocol: str
    state: str
    """``open``, ``closed``, ``filtered``, ``open|filtered`` …"""
    reason: str = ""
    service: str = ""
    product: str = ""
    version: str = ""
    extrainfo: str = ""

    def describe(self) -> str:
        """``8080/tcp open http SimpleHTTPServer 0.6 (Python 3.11)``."""
        words = [f"{self.port}/{self.protocol}", self.state, self.service, self.product,
                 self.version]
        text = " ".join(w for w in words if w)
        return f"{text} ({self.extrainfo})" if self.extrainfo else text


@dataclass(frozen=True)
class HostReport:
    """One host of the report."""

    address: str
    status: str
    """``up``, ``down`` or ``unknown``."""
    ports: tuple[PortState, ...]
    extra_filtered: int = 0
    """Ports nmap summarised as filtered (``<extraports state="filtered">``)."""


@dataclass(frozen=True)
class NmapReport:
    """What one nmap run reported."""

    version: str
    hosts: tuple[HostReport, ...]
    finished: bool
    """``<runstats><finished exit="success">`` was present."""
    error: str = ""
    """nmap's own error message, when it gave one."""
    hosts_down: int = 0


def nmap_argv(program: str, host: str, ports: str, *,
              version_light: bool = True) -> tuple[str, ...]:
    """The argv of one connect scan with service detection, XML on standard output."""
    if host.startswith("-") or ports.startswith("-"):
        raise InputError(f"refusing a target that looks like an option: {host!r}")
    argv = [program, "-sT", "-sV", "-Pn", "-n", "--no-stylesheet", "-oX", "-", "-p", ports]
    if version_light:
        argv.insert(3, "--version-light")
    if ":" in host:  # an IPv6 address
        argv.insert(1, "-6")
    return (*argv, "--", host)


def _clip(text: str) -> str:
    return text[:_TEXT]


def _port(element: XmlElement, where: str) -> PortState:
    raw = element.get("portid")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise InputError(f"{where}: port element with portid {raw[:20]!r}")
    state = next((c for c in element.children if c.tag == "state"), None)
    service = next((c for c in element.children if c.tag == "service"), None)
    svc = service or XmlElement("service")
    return PortState(
        port=int(raw), protocol=_clip(element.get("protocol", "tcp")),
        state=_clip(state.get("state", "unknown")) if state else "unknown",
        reason=_clip(state.get("reason")) if state else "",
        service=_clip(svc.get("name")), product=_clip(svc.get("product")),
        version=_clip(svc.get("version")), extrainfo=_clip(svc.get("extrainfo")))


def parse_nmap(raw: bytes, what: str = "nmap report") -> NmapReport:
    """The report in ``raw``; :class:`InputError` when it is not a well-formed, bounded nmap
    XML report."""
    head, found, tail = raw.partition(b"<!DOCTYPE nmaprun>")
    if found:
        raw = head + tail  # the one declaration nmap writes itself: no subset, no entities
    root = parse_xml(raw, what=what, max_depth=MAX_DEPTH, max_elements=MAX_ELEMENTS)
    if root.tag != "nmaprun":
        raise InputError(f"{what} has root <{root.tag[:40]}>, not <nmaprun>")
    hosts: list[HostReport] = []
    for host in (c for c in root.children if c.tag == "host"):
        status = next((c for c in host.children if c.tag == "status"), None)
        address = next((c.get("addr") for c in host.children if c.tag == "address"), "")
        ports_el = next((c for c in host.children if c.tag == "ports"), None)
        ports: list[PortState] = []
        filtered = 0
        if ports_el is not None:
            for child in ports_el.children:
                if child.tag == "port":
                    ports.append(_port(child, what))
                elif child.tag == "extraports" and "filtered" in child.get("state"):
                    count = child.get("count", "0")
                    filtered += int(count) if count.isdigit() else 0
        hosts.append(HostReport(address=_clip(address),
                                status=_clip(status.get("state", "unknown")) if status else
                                "unknown", ports=tuple(ports), extra_filtered=filtered))
    runstats = next((c for c in root.children if c.tag == "runstats"), None)
    finished_el = None if runstats is None else next(
        (c for c in runstats.children if c.tag == "finished"), None)
    counts = None if runstats is None else next(
        (c for c in runstats.children if c.tag == "hosts"), None)
    down = counts.get("down", "0") if counts is not None else "0"
    return NmapReport(
        version=_clip(root.get("version")), hosts=tuple(hosts),
        finished=finished_el is not None and finished_el.get("exit", "success") == "success",
        error=_clip(finished_el.get("errormsg")) if finished_el is not None else "",
        hosts_down=int(down) if down.isdigit() else 0)


def top_ports(services: Path, count: int = 1000, max_bytes: int = 8 << 20) -> list[int]:
    """The ``count`` most frequently open TCP ports of nmap's ``nmap-services`` table (what
    ``--top-ports`` scans); empty when the table cannot be read."""
    try:
        if services.stat().st_size > max_bytes:
            return []
        text = services.read_text("utf-8", "replace")
    except OSError:
        return []
    ranked: list[tuple[float, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3 or line.startswith("#") or not parts[1].endswith("/tcp"):
            continue
        number = parts[1][:-4]
        try:
            ranked.append((float(parts[2]), int(number)))
        except ValueError:
            continue
    ranked.sort(key=lambda item: (-item[0], item[1]))
    return sorted({port for _, port in ranked[:count]})
