"""Active probes of ``scan-web``: the interface every probe module implements, and their list.

A *point probe* tests one :class:`~secpipe.scanners.web.model.InputPoint` (XSS, SQL injection,
command injection, traversal, SSTI, redirect, SSRF, the ML-endpoint probes); a *site probe* runs
once per target (stored XSS, rate limits). Each probe module defines ``PROBES``: a list of
objects with ``kind`` and either ``applies(point, site)`` + ``run(ctx, point)`` (point probes)
or ``run_site(ctx)`` (site probes), each returning :class:`WebFinding` objects. Probes send
requests only through ``ctx.client`` (scope and budgets are enforced there), never send
destructive payloads, and decide only on evidence they caused (a canary, a computed value, a
delay that scales), compared with the point's baseline response.
"""

from __future__ import annotations

import importlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from secpipe.scanners.web.model import InputPoint, Response, Sender, Site, WebFinding

#: probe modules of this package, each defining ``PROBES`` (a module missing here is a bug)
MODULES = ("xss", "sqli", "cmdi", "traversal", "ssti", "redirect", "ssrf", "ml")


class Listener(Protocol):
    """A loopback canary listener (SSRF): URLs that, when fetched, prove the target made the
    request (:mod:`.ssrf` implements it)."""

    def url_for(self, token: str) -> str: ...

    def hits(self, token: str) -> int: ...


class PointProbe(Protocol):
    kind: str

    def applies(self, point: InputPoint, site: Site) -> bool: ...

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]: ...


class SiteProbe(Protocol):
    kind: str

    def run_site(self, ctx: ProbeContext) -> list[WebFinding]: ...


def _no_log(message: str) -> None:
    return None


@dataclass
class ProbeContext:
    """What a probe may use: the client, the crawled site, canaries, the SSRF listener."""

    client: Sender
    site: Site
    cancel: threading.Event = field(default_factory=threading.Event)
    listener: Listener | None = None
    log: Callable[[str], None] = _no_log
    time_based: bool = True
    """Whether time-based techniques (sleep, heavy queries) may run (they cost seconds)."""
    _baselines: dict[tuple[str, str, str, str], Response] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def canary() -> str:
        """A fresh token no page contains by chance: ``sp`` + 10 lower-case hex digits."""
        return "sp" + secrets.token_hex(5)

    def baseline(self, point: InputPoint) -> Response:
        """The response to the point with its sample value (sent once, then cached)."""
        with self._lock:
            cached = self._baselines.get(point.key)
        if cached is not None:
            return cached
        response = self.client.send(point.sample_request())
        with self._lock:
            self._baselines[point.key] = response
        return response


def load_probes() -> tuple[list[PointProbe], list[SiteProbe]]:
    """Every probe of :data:`MODULES`: (point probes, site probes)."""
    points: list[PointProbe] = []
    sites: list[SiteProbe] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        probes: list[Any] = module.PROBES
        for probe in probes:
            (sites if hasattr(probe, "run_site") else points).append(probe)
    return points, sites
