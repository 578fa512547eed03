"""The ``scan-web`` step kind (``secpipe scan web URL``): DAST of a running web app.

Example::

    - uses: scan-web
      with:
        targets: [http://127.0.0.1:8080/]   # default: the run's deployment
        auth: {header: {name: Authorization, value: "Bearer ${env:API_TOKEN}"}}

For each target: scope check (only loopback, private addresses and ``allow_hosts`` may be
scanned; anything else is a configuration error), the HTTP client with its budgets
(:mod:`.http`), the login when configured (:mod:`.auth`), the crawl (:mod:`.crawl`), passive
checks on every response the crawl got and the site checks (:mod:`.passive`,
:mod:`.sitechecks`), then the active probes (:mod:`.probes`) on every input point and the site
probes, in a thread pool of ``concurrency`` workers. Findings are de-duplicated and become
secpipe findings with redacted evidence and a ``curl`` replay command (:mod:`.evidence`).

Never a vacuous pass: a budget hit, a cancelled or failed part, an unreachable target, a start
URL redirecting out of scope or a crawl that found nothing to test is a ``web.scan-incomplete``
finding (HIGH) saying what was not done. When no target answered at all the step is an error
(exit 2): nothing was verified. No target (none given, no deployment) is SKIPPED
``not configured:``. Budgets (``max_requests``, ``max_seconds``, ``max_pages``) apply per target.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Confidence, Finding, Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import NOT_ON_CLI, ScannerSettings, metavar
from secpipe.scanners.web import auth as authmod
from secpipe.scanners.web import evidence
from secpipe.scanners.web.crawl import CrawlSettings, crawl, is_excluded
from secpipe.scanners.web.http import Client, ClientSettings, origin_of
from secpipe.scanners.web.model import (
    BudgetExhausted,
    Cancelled,
    Exchange,
    InputPoint,
    OutOfScope,
    Request,
    Response,
    Site,
    WebFinding,
)

if TYPE_CHECKING:
    from secpipe.delivery.deploy import Deployment
    from secpipe.scanners.web.probes import PointProbe, SiteProbe

KIND = "scan-web"
NO_TARGET = ("not configured: no targets given and no deployment in this run (give URLs: "
             "secpipe scan web URL, or with.targets)")


class WebScanSettings(ScannerSettings):
    """``with:`` settings of ``scan-web``."""

    paths: list[str] = Field(default_factory=list, json_schema_extra=NOT_ON_CLI)
    """Not used by this scanner (it scans URLs: see targets)."""
    exclude: list[str] = Field(default_factory=list, json_schema_extra=NOT_ON_CLI)
    """Not used by this scanner (see exclude_urls)."""
    default_excludes: bool = Field(default=True, json_schema_extra=NOT_ON_CLI)
    """Not used by this scanner."""
    max_file_bytes: int = Field(default=25 << 20, gt=0, json_schema_extra=NOT_ON_CLI)
    """Not used by this scanner (see max_body_bytes)."""
    targets: list[str] = Field(default_factory=list, json_schema_extra=metavar("URL"))
    """URLs to scan (http or https); default: the run's deployment URL. Only loopback, private
    addresses and allow_hosts are scanned."""
    allow_hosts: list[str] = Field(default_factory=list, json_schema_extra=metavar("HOST"))
    """Hosts besides loopback and private addresses that may be scanned (exact names or
    addresses): scan only what you own."""
    extra_origins: list[str] = Field(default_factory=list, json_schema_extra=metavar("URL"))
    """More origins (scheme://host:port) the crawl and probes may follow links to."""
    exclude_urls: list[str] = Field(default_factory=list, json_schema_extra=metavar("GLOB"))
    """Globs of URLs or paths never fetched nor probed (/admin/delete*, */logout)."""
    max_requests: int = Field(default=15_000, gt=0, json_schema_extra=metavar("N"))
    """Most requests sent to one target; hitting it is web.scan-incomplete."""
    max_seconds: float = Field(default=300.0, gt=0, json_schema_extra=metavar("SECONDS"))
    """Seconds one target's scan may take; hitting it is web.scan-incomplete."""
    max_pages: int = Field(default=500, gt=0, json_schema_extra=metavar("N"))
    """Most pages the crawl fetches per target."""
    max_depth: int = Field(default=10, ge=0, json_schema_extra=metavar("N"))
    """Deepest link distance from the start URL the crawl follows."""
    max_body_bytes: int = Field(default=2 << 20, gt=0, json_schema_extra=metavar("N"))
    """Largest response body read; the rest is cut (and noted in the evidence)."""
    request_timeout: float = Field(default=10.0, gt=0, json_schema_extra=metavar("SECONDS"))
    """Seconds one request may take (connect and whole answer)."""
    concurrency: int = Field(default=8, ge=1, le=64, json_schema_extra=metavar("N"))
    """Probes running at once."""
    passive: bool = True
    """Check every response for missing headers, weak CSP, cookie flags, leaks."""
    active: bool = True
    """Run the site checks and active probes (XSS, SQL injection, command injection …)."""
    probes: list[str] | None = Field(default=None, json_schema_extra=metavar("KIND"))
    """Probe kinds to run (xss-reflected, sqli, cmdi, path-traversal, ssti, open-redirect,
    ssrf, ml-crash …); default: all."""
    time_based: bool = True
    """Allow time-based techniques (sleeps, heavy queries): slower, finds blind injections."""
    verify_tls: bool = True
    """Verify https certificates."""
    canary_host: str | None = Field(default=None, json_schema_extra=metavar("HOST"))
    """The address the target reaches the scanner's SSRF canary listener at (default
    127.0.0.1; 10.0.2.2 for a podman container allowed to reach the host's loopback)."""
    auth: authmod.AuthSettings | None = None
    """Authentication: {header: {name, value}} or {login: {url, method, fields,
    success_status, check_url}}; write secrets as ${env:NAME} references."""
    unsafe_writes: bool = False
    """Also probe write endpoints (DELETE, PUT, PATCH, and POSTs whose route or fields look like
    delete, transfer, payment, reset, cancel …): probing them can change or destroy data; only
    against a disposable deployment. Off: they are skipped and counted in the step message."""
    wapiti: bool = False
    """Also run Wapiti (an external scanner) and merge its findings."""
    wapiti_path: str | None = Field(default=None, json_schema_extra=metavar("PATH"))
    """The wapiti executable (default: wapiti on PATH, else secpipe's own Wapiti
    environment)."""
    wapiti_modules: list[str] | None = Field(default=None, json_schema_extra=metavar("MODULE"))
    """Wapiti modules to run (only harmless ones are accepted); default: xss, sql, exec, file,
    redirect, csp, http_headers, cookieflags."""
    wapiti_seconds: float | None = Field(default=None, gt=0,
                                         json_schema_extra=metavar("SECONDS"))
    """Seconds Wapiti may take (default 300)."""

    @field_validator("targets", "extra_origins")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url[:80]!r} is not an http(s) URL with a host")
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                raise ValueError(f"{url[:80]!r} has an invalid port") from None
        return [u.strip() for u in value]


_ALLOWED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"))
"""Scanned without ``allow_hosts``: loopback, RFC 1918 and IPv6 unique-local addresses. Not
link-local (169.254.0.0/16 holds the cloud metadata address 169.254.169.254; fe80::/10), not
the unspecified 0.0.0.0/8 and ::."""


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net
               for net in _ALLOWED_NETWORKS)


def host_allowed(host: str, allow: list[str]) -> bool:
    """Loopback, RFC 1918 and unique-local addresses and names resolving only to them, and
    ``allow`` (never link-local or unspecified addresses unless listed there)."""
    host = host.strip("[]").lower()
    if host in {h.strip("[]").lower() for h in allow}:
        return True
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    return bool(addresses) and all(_address_allowed(a) for a in addresses)


def check_scope(targets: list[str], allow: list[str]) -> None:
    """:class:`ConfigError` naming ``allow_hosts`` for a target outside the scope."""
    for url in targets:
        host = urlsplit(url).hostname or ""
        if not host_allowed(host, allow):
            raise ConfigError(
                f"scan-web: target {url[:100]} is not loopback or a private address and not in "
                "allow_hosts: the scanner refuses targets outside the configured scope",
                hint="scan only what you own; list its host in with.allow_hosts")


ERROR_KINDS = frozenset({"stack-trace"})
"""Passive kinds also checked on the server errors (5xx) that probes caused."""
MAX_ERRORS_KEPT = 200
ERRORS_PER_ROUTE = 3


class ErrorRecorder:
    """A :class:`Sender` that keeps (a bounded number of) the exchanges answered 5xx, a few per
    route: pages where the app's error handling may show more than it should."""

    def __init__(self, inner: Any, routes: set[str]) -> None:
        self.inner = inner
        self.routes = routes
        """Only errors of these paths are kept (a probed path segment makes a new path)."""
        self.kept: list[Exchange] = []
        self._routes: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        response: Response = self.inner.send(request, timeout=timeout)
        if response.status >= 500 and request.path in self.routes:
            with self._lock:
                seen = self._routes.get(request.path, 0)
                if seen < ERRORS_PER_ROUTE and len(self.kept) < MAX_ERRORS_KEPT:
                    self._routes[request.path] = seen + 1
                    self.kept.append(Exchange(request, response))
        return response

    def in_scope(self, url: str) -> bool:
        return bool(self.inner.in_scope(url))

    @property
    def sent(self) -> int:
        return int(self.inner.sent)


class ExcludingSender:
    """A :class:`Sender` that refuses (:class:`OutOfScope`) the excluded URLs: the login URL,
    logout links of an authenticated scan and ``exclude_urls``, whoever asks for them."""

    def __init__(self, inner: Any, excluded: Callable[[str], bool]) -> None:
        self.inner = inner
        self.excluded = excluded

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        if self.excluded(request.url):
            raise OutOfScope(f"{request.path} is excluded from the scan")
        response: Response = self.inner.send(request, timeout=timeout)
        return response

    def in_scope(self, url: str) -> bool:
        return not self.excluded(url) and bool(self.inner.in_scope(url))

    @property
    def sent(self) -> int:
        return int(self.inner.sent)


WRITE_METHODS = frozenset({"DELETE", "PUT", "PATCH"})
"""Methods that replace or remove data: never probed without ``unsafe_writes``."""
_WRITE_WORDS = re.compile(
    r"delete|remove|destroy|purge|erase|truncate|transfer|withdraw|refund|unsubscribe|revoke|"
    r"deactivate|(?<![a-z])(?:drop|wipe|pay|payment|update|reset|cancel|ban|disable|kill)"
    r"(?![a-z])", re.IGNORECASE)
"""A POST whose route, field names or sample values say this looks like a write that can
destroy data or move money; deliberately narrow so logins, searches, comments, logouts and
previews stay tested (they change nothing that matters when probed)."""


def is_write_point(point: InputPoint) -> bool:
    """True for an input point whose request may change or destroy data when probed."""
    method = point.method.upper()
    if method in WRITE_METHODS:
        return True
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    words = [point.route.replace("/", " "), point.name,
             *(f"{k} {v}" for k, v in point.params)]
    return any(_WRITE_WORDS.search(_split_camel(w)) for w in words)


def _split_camel(text: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)


LATE_KINDS = frozenset({"rate-limit"})
"""Probe kinds run after all others, alone (request bursts)."""


def select_probes(kinds: list[str] | None) -> tuple[list[PointProbe], list[SiteProbe]]:
    """The probes of ``kinds`` (every probe when None); :class:`ConfigError` naming an unknown
    kind."""
    from secpipe.scanners.web.probes import load_probes

    point_probes, site_probes = load_probes()
    if kinds is None:
        return point_probes, site_probes
    chosen = set(kinds)
    known = {p.kind for p in point_probes} | {p.kind for p in site_probes}
    unknown = sorted(chosen - known)
    if unknown:
        raise ConfigError(f"scan-web: probes: unknown kind(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    return ([p for p in point_probes if p.kind in chosen],
            [p for p in site_probes if p.kind in chosen])


@dataclass
class TargetOutcome:
    """What one target's scan produced."""

    findings: list[WebFinding] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    requests: int = 0
    pages: int = 0
    points: int = 0
    skipped_writes: int = 0
    answered: bool = False
    auth_headers: tuple[str, ...] = ()
    redact: Callable[[str], str] = lambda text: text


def _module(name: str) -> Any:
    return importlib.import_module(f"secpipe.scanners.web.{name}")


class WebScanStep(StepKind[WebScanSettings]):
    """Scan running web apps from outside (crawl, passive checks, active probes)."""

    kind: ClassVar[str] = KIND
    summary: ClassVar[str] = "DAST: crawl a running web app and probe it (XSS, SQLi, …)"
    Settings = WebScanSettings
    produces_metrics: ClassVar[tuple[str, ...]] = (
        "web_requests", "web_pages", "web_points", "web_findings", "web_findings_*")

    def run(self, ctx: StepContext, settings: WebScanSettings) -> StepResult:
        deployment = None if settings.targets else self._deployment(ctx)
        targets = list(settings.targets) or ([deployment.url] if deployment else [])
        podman = deployment is not None and deployment.kind == "podman"
        if not targets:
            return StepResult(status=StepStatus.SKIPPED, message=NO_TARGET)
        check_scope([*targets, *settings.extra_origins], settings.allow_hosts)
        if settings.active:
            select_probes(settings.probes)  # an unknown kind fails before anything is sent
        from secpipe.keys.refs import resolver_for

        secrets = resolver_for(ctx)
        outcomes: list[tuple[str, TargetOutcome]] = []
        for index, target in enumerate(targets):
            if ctx.cancel.is_set():
                break
            ctx.progress(index, len(targets), f"scanning {target}")
            outcome = self._scan(ctx, settings, target, secrets)
            if podman and outcome.answered:
                outcome.findings += self._ssrf_untestable(settings, target)
            outcomes.append((target, outcome))
        return self._result(ctx, outcomes, targets)

    @staticmethod
    def _deployment(ctx: StepContext) -> Deployment | None:
        from secpipe.delivery.deploy import deployment_from

        found = deployment_from(ctx)
        return found if found is not None and found.url else None

    @staticmethod
    def _ssrf_untestable(settings: WebScanSettings, target: str) -> list[WebFinding]:
        """A podman container (slirp4netns) cannot reach the canary listener on the host's
        loopback: without ``canary_host`` the SSRF probe could never succeed. Said as a LOW
        ``web.scan-incomplete`` (not HIGH: the rest of the scan is complete)."""
        if not settings.active or settings.canary_host or \
                (settings.probes is not None and "ssrf" not in settings.probes):
            return []
        return [WebFinding(
            kind="scan-incomplete", title="SSRF not testable", severity=Severity.LOW,
            url=target, method="GET", detail="ssrf-untestable", confidence=Confidence.HIGH,
            message=(f"the SSRF probe could not test {target}: it is a podman container, which "
                     "cannot reach the scanner's canary listener on the host's loopback; set "
                     "with.canary_host (10.0.2.2 for a container allowed to reach the host's "
                     "loopback) to test SSRF"))]

    # --- one target --------------------------------------------------------------------------
    def _scan(self, ctx: StepContext, settings: WebScanSettings, target: str,
              secrets: Any) -> TargetOutcome:
        auth = authmod.prepare(settings.auth, target, secrets)
        origins = (origin_of(target), *(origin_of(o) for o in settings.extra_origins))
        client = Client(ClientSettings(
            origins=origins, max_requests=settings.max_requests,
            max_seconds=settings.max_seconds, timeout=settings.request_timeout,
            max_body_bytes=settings.max_body_bytes, headers=auth.headers,
            verify_tls=settings.verify_tls, cancel=ctx.cancel,
            # a name resolves once and is pinned; every address it resolves to must be in scope
            # (a name listed in allow_hosts may resolve anywhere): no DNS rebinding out of scope
            address_allowed=lambda host, address: (
                host.strip("[]").lower() in {h.strip("[]").lower() for h in settings.allow_hosts}
                or host_allowed(address, settings.allow_hosts))))

        def redact(text: str) -> str:
            return ctx.redact(auth.redact(text))

        session = ("Cookie",) if auth.jar is not None else ()
        out = TargetOutcome(auth_headers=(*auth.header_names, *session), redact=redact)
        sender = authmod.AuthedSender(client, auth.jar)
        try:
            if settings.auth is not None and settings.auth.login is not None:
                authmod.login(settings.auth, auth, sender, secrets, target)
            excluded = auth.excluded
            crawl_settings = CrawlSettings(
                origins=origins, max_pages=settings.max_pages, max_depth=settings.max_depth,
                exclude_urls=tuple(settings.exclude_urls), excluded=excluded,
                cancel=ctx.cancel, log=lambda m: ctx.log(redact(m)), progress=ctx.progress)
            site = crawl(sender, target, crawl_settings)
            out.incomplete += site.incomplete
            out.pages = len(site.pages)
            out.answered = any(ex.response.ok for ex in site.pages)
            points = [p for p in site.points if p.route not in site.unauthorised
                      and not is_excluded(p.url, crawl_settings)]
            if not settings.unsafe_writes:
                writes = [p for p in points if is_write_point(p)]
                if writes:
                    out.skipped_writes = len(writes)
                    points = [p for p in points if not is_write_point(p)]
                    ctx.log(redact(f"scan-web: {len(writes)} input point(s) of write endpoints "
                                   "not probed (unsafe_writes is off): " + ", ".join(sorted(
                                       {f"{p.method} {p.route}" for p in writes}))[:500]))
            out.points = len(points)
            # the made-up User-Agent header point every page gets is not something the crawl
            # found: a page with nothing else (an SPA stub, a login wall) was not tested
            if out.answered and not [p for p in points if p.source != "page"]:
                out.incomplete.append(
                    f"every input point found ({out.skipped_writes}) is a write endpoint, not "
                    "probed (unsafe_writes is off)" if out.skipped_writes else
                    "the crawl found no input point to test (no links with parameters, forms "
                    "or API description)")
            self._check_session(settings, auth, sender, target, out, "the crawl")
            if settings.passive and out.answered:
                out.findings += self._passive(site)
            if settings.active and out.answered:
                guarded = ExcludingSender(sender, lambda url: is_excluded(url, crawl_settings))
                out.findings += self._active(ctx, settings, guarded, site, points, out)
                self._check_session(settings, auth, sender, target, out, "probing")
            if settings.wapiti and out.answered:
                out.findings += self._wapiti(ctx, settings, target, out)
        except BudgetExhausted as exc:
            out.incomplete.append(f"stopped: {exc}")
        except Cancelled:
            out.incomplete.append("cancelled before the scan ended")
        finally:
            client.close()
        if client.exhausted and not any(client.exhausted in i for i in out.incomplete):
            out.incomplete.append(f"stopped: {client.exhausted}")
        out.requests = client.sent
        return out

    @staticmethod
    def _check_session(settings: WebScanSettings, auth: authmod.Auth, sender: Any,
                       target: str, out: TargetOutcome, after: str) -> None:
        """A login session that no longer works makes what follows (or what ran) an
        unauthenticated scan: say so."""
        if settings.auth is None or settings.auth.login is None:
            return
        try:
            problem = authmod.session_problem(settings.auth, auth, sender, target)
        except (BudgetExhausted, Cancelled, OutOfScope):
            return  # the budget or cancel is reported already
        if problem and not any(r.startswith("session lost") for r in out.incomplete):
            out.incomplete.append(f"session lost after {after}: {problem}; later requests "
                                  "were not authenticated")

    @staticmethod
    def _passive(site: Site) -> list[WebFinding]:
        passive = _module("passive")
        found: list[WebFinding] = []
        for exchange in site.pages:
            if exchange.response.ok:
                found += passive.check_exchange(exchange, site)
        return found

    def _active(self, ctx: StepContext, settings: WebScanSettings, sender: Any, site: Site,
                points: list[InputPoint], out: TargetOutcome) -> list[WebFinding]:
        from secpipe.scanners.web.probes import ProbeContext

        point_probes, site_probes = select_probes(settings.probes)
        listener = None
        if any(p.kind == "ssrf" for p in point_probes):
            from secpipe.scanners.web.probes.ssrf import CanaryListener

            listener = CanaryListener().start()
            if settings.canary_host:
                listener.listener_host = settings.canary_host
        recorder = ErrorRecorder(sender, {p.route for p in points} |
                                 {ex.request.path for ex in site.pages})
        pctx = ProbeContext(client=recorder, site=site, cancel=ctx.cancel, listener=listener,
                            log=lambda m: ctx.log(out.redact(m)),
                            time_based=settings.time_based)
        found: list[WebFinding] = []
        try:
            jobs: list[Callable[[], list[WebFinding]]] = [partial(_module("sitechecks").run,
                                                                  pctx)]
            # bursts (rate-limit) run alone, after the rest: they would skew the time-based
            # probes and could trip a limit that hides other probes' findings
            late = [p for p in site_probes if p.kind in LATE_KINDS]
            for probe in site_probes:
                if probe not in late:
                    jobs.append(partial(probe.run_site, pctx))
            for point in points:
                for pprobe in point_probes:
                    if pprobe.applies(point, site):
                        jobs.append(partial(pprobe.run, pctx, point))
            before = len(out.incomplete)
            found += self._pool(ctx, settings.concurrency, jobs, out)
            stopped = any(r.startswith("probing stopped") for r in out.incomplete[before:])
            if late and not stopped:
                found += self._pool(ctx, settings.concurrency,
                                    [partial(p.run_site, pctx) for p in late], out)
        finally:
            if listener is not None:
                listener.close()
        if settings.passive:  # what the probes' malformed input made the app reveal
            passive = _module("passive")
            for exchange in recorder.kept:
                found += [f for f in passive.check_exchange(exchange, site)
                          if f.kind in ERROR_KINDS]
        return found

    @staticmethod
    def _pool(ctx: StepContext, workers: int, jobs: list[Callable[[], list[WebFinding]]],
              out: TargetOutcome) -> list[WebFinding]:
        found: list[WebFinding] = []
        stop: BaseException | None = None
        errors = 0
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan-web") as pool:
            pending: set[Future[list[WebFinding]]] = set()
            queue = list(reversed(jobs))
            done_count = 0
            while queue or pending:
                while queue and len(pending) < workers * 2 and stop is None:
                    pending.add(pool.submit(queue.pop()))
                if not pending:
                    break
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    done_count += 1
                    try:
                        found += future.result()
                    except (BudgetExhausted, Cancelled) as exc:
                        stop = stop or exc
                    except OutOfScope:
                        continue
                    except Exception as exc:  # a probe's bug is reported, never a pass
                        errors += 1
                        ctx.log(out.redact(f"scan-web: a probe failed: "
                                           f"{type(exc).__name__}: {exc}"[:300]))
                ctx.progress(done_count, len(jobs), "probing")
                if stop is not None:
                    queue.clear()
                if ctx.cancel.is_set() and stop is None:
                    stop = Cancelled("the scan was cancelled")
                    queue.clear()
        if stop is not None:
            left = len(jobs) - done_count
            out.incomplete.append(f"probing stopped ({stop}) with {left} probe run(s) not "
                                  "done")
        if errors:
            out.incomplete.append(f"{errors} probe run(s) failed (see the log)")
        return found

    @staticmethod
    def _wapiti(ctx: StepContext, settings: WebScanSettings, target: str,
                out: TargetOutcome) -> list[WebFinding]:
        wapiti = _module("wapiti")
        result: list[WebFinding] = wapiti.run_wapiti(ctx, settings, target)
        return result

    # --- result ------------------------------------------------------------------------------
    def _result(self, ctx: StepContext, outcomes: list[tuple[str, TargetOutcome]],
                targets: list[str]) -> StepResult:
        findings: dict[str, Finding] = {}
        metrics: dict[str, float] = {"web_requests": 0.0, "web_pages": 0.0,
                                     "web_points": 0.0}
        for target, out in outcomes:
            metrics["web_requests"] += out.requests
            metrics["web_pages"] += out.pages
            metrics["web_points"] += out.points
            for wf in out.findings:
                finding = evidence.to_finding(wf, out.redact, auth_headers=out.auth_headers)
                kept = findings.get(finding.fingerprint)
                if kept is None or finding.severity.rank > kept.severity.rank:
                    findings[finding.fingerprint] = finding
            if out.incomplete or not out.answered:
                reasons = out.incomplete or ["the target did not answer"]
                incomplete = self._incomplete(target, reasons, out.redact)
                findings[incomplete.fingerprint] = incomplete
        if len(outcomes) < len(targets):
            for target in targets[len(outcomes):]:
                inc = self._incomplete(target, ["cancelled before this target was scanned"],
                                       ctx.redact)
                findings[inc.fingerprint] = inc
        result = tuple(sorted(findings.values(),
                              key=lambda f: (-f.severity.rank, f.rule_id, f.location.path)))
        per_kind: dict[str, int] = {}
        for finding in result:
            per_kind[finding.rule_id.removeprefix("web.")] = \
                per_kind.get(finding.rule_id.removeprefix("web."), 0) + 1
        metrics["web_findings"] = float(len(result))
        for kind, count in per_kind.items():
            metrics[f"web_findings_{kind.replace('-', '_')}"] = float(count)
        answered = [t for t, o in outcomes if o.answered]
        message = (f"{len(outcomes)} target(s), {int(metrics['web_pages'])} page(s), "
                   f"{int(metrics['web_points'])} input point(s), "
                   f"{int(metrics['web_requests'])} request(s), {len(result)} finding(s)")
        skipped = sum(o.skipped_writes for _, o in outcomes)
        if skipped:
            message += (f"; {skipped} input point(s) of write endpoints not probed "
                        "(unsafe_writes is off)")
        if not answered:
            return StepResult(status=StepStatus.ERROR, findings=result, metrics=metrics,
                              message=ctx.redact(f"scan-web: no target answered "
                                                 f"({', '.join(targets)[:300]})"))
        if ctx.cancel.is_set():
            return StepResult(status=StepStatus.ERROR, findings=result, metrics=metrics,
                              message="scan-web: cancelled")
        return StepResult(findings=result, metrics=metrics, message=message)

    @staticmethod
    def _incomplete(target: str, reasons: list[str], redact: Callable[[str], str]) -> Finding:
        wf = WebFinding(
            kind="scan-incomplete", title="Web scan incomplete", severity=Severity.HIGH,
            url=target, method="GET",
            message="the web scan of " + target + " did not cover everything: " +
                    "; ".join(dict.fromkeys(reasons))[:1500],
            confidence=Confidence.HIGH)
        return evidence.to_finding(wf, redact)


__all__ = ["WebScanSettings", "WebScanStep", "check_scope", "host_allowed"]
