"""Site checks of ``scan-web``: the few requests sent once per target, after the crawl.

:func:`run` sends at most :data:`MAX_REQUESTS` (60) requests through ``ctx.client``, all GET
or OPTIONS (nothing that changes state):

* ``debug-endpoint`` (CWE-489; detail = the path) — up to 27 GETs of well-known debug and
  admin paths (Werkzeug ``/console``, ``/.env``, ``/.git/config``, ``/.git/HEAD``,
  ``/server-status``, Spring ``/actuator``/``/actuator/env``, ``/phpinfo.php``, Go
  ``/debug/pprof/`` and ``/debug/vars``, Prometheus ``/metrics`` (INFO: public by design),
  Flask-Admin/Django ``/admin/`` without login, …) at the site root and under the start URL's
  folder. One is reported only when the answer is 2xx, is *not* the soft-404 baseline
  (``site.not_found``: same status and a near-identical body) and carries the content
  signature of that endpoint; a path without a known signature is never reported. The
  soft-404 page itself is read for framework debug modes (Django ``DEBUG = True``, Rails,
  Laravel, Symfony): detail ``debug-mode``, no request.
* ``directory-listing`` (CWE-548) — up to 10 GETs of folders: parents of crawled paths first,
  then ``/static/``, ``/uploads/``, ``/files/``, ``/backup/``, ``/assets/``, ``/images/``;
  judged by the passive autoindex check, soft-404 excluded.
* ``cors`` (CWE-942; detail = what) — with what is left of the 60: on up to 12 pages (pages
  that already sent Access-Control-* headers, the start page, API answers, pages fetched with
  credentials first) ``Origin: https://evil-<canary>.example`` (an ``OPTIONS`` preflight for
  non-GET routes); where refused, ``Origin: null`` and a look-alike origin
  (``https://<host>.evil-<canary>.example``: prefix/suffix matching) on up to 8 pages; where
  the page speaks CORS at all, a preflight. An arbitrary, look-alike or ``null`` origin
  reflected together with ``Access-Control-Allow-Credentials: true`` is HIGH; reflected
  without credentials on a page fetched with cookies or Authorization MEDIUM; ``*`` with
  credentials (browsers refuse it, still a misconfiguration) LOW; ``*`` or a reflection
  without credentials on a public page is public CORS: nothing.
* one GET of a random path when the crawl left no soft-404 baseline.

Budget and cancellation: :class:`~.model.BudgetExhausted` and :class:`~.model.Cancelled` from
the client propagate to the step (which reports ``web.scan-incomplete``). When this module's
own cap of 60 stops a check, ``ctx.log`` says how many requests were not sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import (
    Cancelled,
    Exchange,
    OutOfScope,
    Request,
    Response,
    Site,
    WebFinding,
)
from secpipe.scanners.web.passive import content
from secpipe.scanners.web.passive._common import PROOF_CAP, Page, is_soft404, mask_secrets
from secpipe.scanners.web.probes import ProbeContext

__all__ = ["ENDPOINTS", "MAX_REQUESTS", "is_soft404", "run"]

MAX_REQUESTS = 60
MAX_DEBUG = 27
MAX_FOLDERS = 10
MAX_CORS_PAGES = 12
MAX_CORS_NULL = 8

# --- debug endpoints ---------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()[:2000]
            if line.strip() and not line.strip().startswith("#")]


_ENV_LINE = re.compile(r"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]{0,80}\s{0,3}=")
_ENV_KEYS = re.compile(
    r"(?<![\w])[\"']?(PATH|HOME|SECRET_KEY|DATABASE_URL|PYTHONPATH|HOSTNAME|"
    r"AWS_SECRET_ACCESS_KEY|FLASK_ENV|FLASK_DEBUG|DJANGO_SETTINGS_MODULE|VIRTUAL_ENV|PWD|"
    r"SERVER_SOFTWARE|DB_PASSWORD|API_KEY|JAVA_HOME|NODE_ENV|wsgi\.version|REMOTE_ADDR)"
    r"[\"']?\s{0,3}[:=]")


def _sig_env_file(r: Response) -> bool:
    text = r.text[:65536]
    if text.lstrip()[:1] in ("<", "{", "["):
        return False
    lines = _lines(text)
    env = [line for line in lines if _ENV_LINE.match(line)]
    return len(env) >= 2 and len(env) * 2 >= len(lines)


def _sig_env_dump(r: Response) -> bool:
    keys = {m.group(1).upper() for m in _ENV_KEYS.finditer(r.text[:262144])}
    return len(keys) >= 3


def _sig_git_config(r: Response) -> bool:
    text = r.text[:65536]
    return "[core]" in text and "repositoryformatversion" in text


def _sig_git_head(r: Response) -> bool:
    text = r.text[:1024].strip()
    return bool(re.fullmatch(r"ref: refs/[\w./-]{1,200}|[0-9a-f]{40}", text))


def _contains(*needles: str, all_of: bool = False) -> Callable[[Response], bool]:
    def check(r: Response) -> bool:
        text = r.text[:262144]
        hits = [n in text for n in needles]
        return all(hits) if all_of else any(hits)
    return check


def _sig_actuator(r: Response) -> bool:
    text = r.text[:65536]
    return '"_links"' in text and "actuator" in text


def _sig_metrics(r: Response) -> bool:
    text = r.text[:65536]
    return bool(re.search(r"^# HELP \w{1,200} ", text, re.M)
                and re.search(r"^# TYPE \w{1,200} (?:counter|gauge|histogram|summary|untyped)",
                              text, re.M))


def _sig_admin(r: Response) -> bool:
    text = r.text[:262144]
    if re.search(r"<input[^>]{0,300}type=[\"']?password", text, re.I):
        return False  # a login form: the admin is protected
    return "/admin/static/" in text or ("Site administration" in text and "Django" in text)


def _sig_ds_store(r: Response) -> bool:
    return r.body[:8] == b"\x00\x00\x00\x01Bud1"


@dataclass(frozen=True)
class Endpoint:
    path: str
    name: str
    severity: Severity
    signature: Callable[[Response], bool]


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/console", "Werkzeug debugger console", Severity.HIGH,
             _contains("CONSOLE_MODE = true", "Werkzeug", all_of=True)),
    Endpoint("/.env", "environment file", Severity.HIGH, _sig_env_file),
    Endpoint("/.git/config", "Git repository configuration", Severity.MEDIUM, _sig_git_config),
    Endpoint("/.git/HEAD", "Git repository HEAD", Severity.MEDIUM, _sig_git_head),
    Endpoint("/actuator/env", "Spring Boot actuator environment", Severity.HIGH,
             _contains('"propertySources"', '"activeProfiles"')),
    Endpoint("/debug", "debug page with the environment", Severity.MEDIUM, _sig_env_dump),
    Endpoint("/_debug", "debug page with the environment", Severity.MEDIUM, _sig_env_dump),
    Endpoint("/__debug__/", "debug page with the environment", Severity.MEDIUM, _sig_env_dump),
    Endpoint("/debug/pprof/", "Go pprof profiler", Severity.MEDIUM,
             _contains("Types of profiles available", "/debug/pprof/goroutine",
                       "goroutine?debug=")),
    Endpoint("/debug/vars", "Go expvar variables", Severity.MEDIUM,
             _contains('"cmdline"', '"memstats"', all_of=True)),
    Endpoint("/server-status", "Apache server status", Severity.MEDIUM,
             _contains("Apache Server Status for")),
    Endpoint("/server-info", "Apache server information", Severity.MEDIUM,
             _contains("Apache Server Information")),
    Endpoint("/actuator", "Spring Boot actuator index", Severity.LOW, _sig_actuator),
    Endpoint("/phpinfo.php", "phpinfo() page", Severity.MEDIUM,
             _contains("phpinfo()", "PHP License", all_of=False)),
    Endpoint("/info.php", "phpinfo() page", Severity.MEDIUM,
             _contains("phpinfo()", "PHP License", all_of=False)),
    Endpoint("/_profiler/", "Symfony profiler", Severity.MEDIUM, _contains("Symfony Profiler")),
    Endpoint("/admin/", "admin interface without login", Severity.MEDIUM, _sig_admin),
    Endpoint("/.DS_Store", "macOS folder index (.DS_Store)", Severity.LOW, _sig_ds_store),
    Endpoint("/metrics", "Prometheus metrics", Severity.INFO, _sig_metrics),
)

_DEBUG_MODE = (
    ("Django", re.compile(r"DEBUG = True")),
    ("Rails", re.compile(r"Rails\.root:|<h1>Routing Error</h1>")),
    ("Laravel", re.compile(r"Whoops, looks like something went wrong|ignition-|Illuminate\\")),
    ("Symfony", re.compile(r"Symfony\\Component\\|sf-toolbar|Symfony Exception")),
)
_DEBUG_FIX = ("Remove debug endpoints and tools from production builds (or bind them to "
              "localhost behind authentication); never serve dotfiles or VCS folders.")


def _finding(kind: str, title: str, severity: Severity, ex: Exchange, message: str, *,
             detail: str, cwe: str, proof: str, remediation: str,
             confidence: Confidence = Confidence.HIGH) -> WebFinding:
    return WebFinding(kind=kind, title=title, severity=severity, url=ex.request.url,
                      message=message, method=ex.request.method, evidence=(ex,),
                      proof=proof[:PROOF_CAP], confidence=confidence, cwe=cwe,
                      remediation=remediation, detail=detail)


class _Run:
    """One site's checks, counting its own requests."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.site: Site = ctx.site
        self.sent = 0
        self.skipped = 0
        root = urlsplit(self.site.base_url)
        self.root = urlunsplit((root.scheme, root.netloc, "/", "", ""))
        self.folder = urljoin(self.site.base_url, ".")
        self.baseline: Response | None = self.site.not_found
        self.scan_authenticated = _authenticated_scan(ctx.client)

    def send(self, request: Request) -> Exchange | None:
        """Send within this module's own cap (None when the cap or the scope says no)."""
        if self.ctx.cancel.is_set():
            raise Cancelled("the scan was cancelled")
        if not self.ctx.client.in_scope(request.url):
            return None
        if self.sent >= MAX_REQUESTS:
            self.skipped += 1
            return None
        self.sent += 1
        try:
            return Exchange(request, self.ctx.client.send(request))
        except OutOfScope:  # an excluded URL (logout, exclude_urls): not ours to send
            return None

    def get(self, url: str, headers: tuple[tuple[str, str], ...] = ()) -> Exchange | None:
        return self.send(Request("GET", url, headers))

    def ensure_baseline(self) -> None:
        if self.baseline is None:
            ex = self.get(urljoin(self.root, f"/{self.ctx.canary()}/{self.ctx.canary()}.html"))
            self.baseline = ex.response if ex is not None else None

    def real(self, response: Response) -> bool:
        """A 2xx answer that is not the soft-404 page."""
        return 200 <= response.status < 300 and not is_soft404(response, self.baseline)

    # --- debug -----------------------------------------------------------------------------
    def debug_mode(self) -> list[WebFinding]:
        nf = self.site.not_found
        if nf is None or not nf.ok:
            return []
        text = nf.text[:262144]
        for framework, pattern in _DEBUG_MODE:
            match = pattern.search(text)
            if match:
                ex = Exchange(Request("GET", nf.url or self.root), nf)
                return [_finding(
                    "debug-endpoint", f"{framework} debug mode is on", Severity.MEDIUM, ex,
                    f"the not-found page is {framework}'s debug page: routes, settings and "
                    "tracebacks are shown to anyone", detail="debug-mode", cwe="CWE-489",
                    proof=mask_secrets(text[max(0, match.start() - 80):match.end() + 120]),
                    remediation=_DEBUG_FIX)]
        return []

    def debug_endpoints(self) -> list[WebFinding]:
        urls: list[tuple[str, Endpoint]] = [(urljoin(self.root, e.path), e) for e in ENDPOINTS]
        if self.folder.rstrip("/") != self.root.rstrip("/"):
            urls += [(urljoin(self.folder, e.path.lstrip("/")), e) for e in ENDPOINTS]
        crawled = {ex.request.url: ex for ex in self.site.pages if ex.request.method == "GET"}
        out: list[WebFinding] = []
        tried = 0
        for url, endpoint in urls:
            found = crawled.get(url)
            if found is None and tried < MAX_DEBUG:
                tried += 1
                found = self.get(url)
            if found is None or not self.real(found.response):
                continue
            baseline_hit = self.baseline is not None and self.baseline.ok and \
                endpoint.signature(self.baseline)
            if baseline_hit or not endpoint.signature(found.response):
                continue
            path = urlsplit(url).path
            out.append(_finding(
                "debug-endpoint", f"Exposed {endpoint.name}: {path}", endpoint.severity, found,
                f"{path} answers with a {endpoint.name}" + (
                    " (public by design for scrapers; check it holds nothing sensitive)"
                    if endpoint.severity is Severity.INFO else ""),
                detail=path, cwe="CWE-489",
                proof=mask_secrets(found.response.text[:PROOF_CAP * 4], assignments=True
                                   )[:PROOF_CAP],
                remediation=_DEBUG_FIX))
        return out

    # --- directory listing -----------------------------------------------------------------
    def folders(self) -> list[str]:
        seen_pages = {urlsplit(ex.request.url).path for ex in self.site.pages}
        candidates: list[str] = []
        paths = [urlsplit(ex.request.url).path for ex in self.site.pages]
        paths += [p.route for p in self.site.points]
        for path in paths:
            parts = [p for p in path.split("/") if p]
            for depth in range(len(parts) - 1, 0, -1):
                candidates.append("/" + "/".join(parts[:depth]) + "/")
        candidates += ["/static/", "/uploads/", "/files/", "/backup/", "/assets/", "/images/"]
        out: list[str] = []
        for folder in candidates:
            if folder not in out and folder not in seen_pages:
                out.append(folder)
        return out[:MAX_FOLDERS]

    def directory_listings(self) -> list[WebFinding]:
        out: list[WebFinding] = []
        for folder in self.folders():
            ex = self.get(urljoin(self.root, folder))
            if ex is None or not self.real(ex.response):
                continue
            out += content.directory_listing(Page(ex, self.site))
        return out

    # --- CORS ------------------------------------------------------------------------------
    def cors_pages(self) -> list[Exchange]:
        """Pages to test, most likely CORS-relevant first: the start page, API (JSON) answers,
        pages fetched with credentials, then the rest; one per (method, route)."""
        pages = [ex for ex in self.site.pages
                 if 200 <= ex.response.status < 300 and self.ctx.client.in_scope(ex.request.url)]
        start = [ex for ex in pages if ex.request.url.rstrip("/") ==
                 self.site.base_url.rstrip("/")]
        cors_aware = [ex for ex in pages if _cors_headers(ex.response)]
        api = [ex for ex in pages if "json" in ex.response.content_type]
        authed = [ex for ex in pages if self._authenticated(ex)]
        chosen: list[Exchange] = []
        routes: set[tuple[str, str]] = set()
        for ex in [*cors_aware, *start[:1], *api, *authed, *pages]:
            key = (ex.request.method.upper(), urlsplit(ex.request.url).path)
            if key not in routes:
                routes.add(key)
                chosen.append(ex)
            if len(chosen) >= MAX_CORS_PAGES:
                break
        return chosen

    def _authenticated(self, ex: Exchange) -> bool:
        return bool(self.scan_authenticated or ex.request.header("authorization")
                    or ex.request.header("cookie"))

    def cors(self) -> list[WebFinding]:
        """Three rounds over the pages, each within what is left of the budget: an arbitrary
        origin on every page; ``null`` where that was refused; a look-alike origin and a
        preflight where the page speaks CORS at all (any Access-Control-* header seen)."""
        pages = self.cors_pages()
        evil = f"https://evil-{self.ctx.canary()}.example"
        found: dict[tuple[str, str], WebFinding] = {}
        refused: list[Exchange] = []
        aware: set[str] = set()
        for page in pages:
            ex = self._cors_request(page, evil, preflight=page.request.method.upper() != "GET")
            if ex is None:
                continue
            self._record(found, page, ex, evil, "arbitrary-origin")
            if _cors_headers(ex.response) or _cors_headers(page.response):
                aware.add(page.request.url)
            if not _reflects(ex.response, evil):
                refused.append(page)
        for page in refused[:MAX_CORS_NULL]:
            if page.request.method.upper() != "GET":
                continue
            ex = self._cors_request(page, "null")
            if ex is not None:
                self._record(found, page, ex, "null", "null-origin")
                if _cors_headers(ex.response):
                    aware.add(page.request.url)
        for page in refused[:MAX_CORS_NULL]:
            if page.request.method.upper() != "GET" or self._flagged(found, page):
                continue
            host = (urlsplit(page.request.url).hostname or "target").lower()
            lookalike = f"https://{host}.evil-{self.ctx.canary()}.example"
            ex = self._cors_request(page, lookalike)
            if ex is not None:
                self._record(found, page, ex, lookalike, "lookalike-origin")
        for page in refused:
            if (page.request.method.upper() == "GET" and page.request.url in aware
                    and not self._flagged(found, page)):
                ex = self._cors_request(page, evil, preflight=True)
                if ex is not None:
                    self._record(found, page, ex, evil, "arbitrary-origin")
        return list(found.values())

    @staticmethod
    def _flagged(found: dict[tuple[str, str], WebFinding], page: Exchange) -> bool:
        route = urlsplit(page.request.url).path
        return any(path == route for path, _ in found)

    def _cors_request(self, page: Exchange, origin: str, *,
                      preflight: bool = False) -> Exchange | None:
        url = page.request.url
        if preflight:
            method = page.request.method.upper()
            return self.send(Request("OPTIONS", url, (
                ("Origin", origin),
                ("Access-Control-Request-Method", method if method != "GET" else "POST"),
                ("Access-Control-Request-Headers", "content-type"))))
        base = tuple((k, v) for k, v in page.request.headers if k.lower() != "origin")
        return self.get(url, (*base, ("Origin", origin)))

    def _record(self, found: dict[tuple[str, str], WebFinding], page: Exchange, ex: Exchange,
                origin: str, what: str) -> None:
        finding = self._judge_cors(ex, origin, what, self._authenticated(page))
        if finding is None:
            return
        key = (urlsplit(page.request.url).path, finding.detail)
        found.setdefault(key, finding)

    def _judge_cors(self, ex: Exchange, origin: str, what: str,
                    authed: bool) -> WebFinding | None:
        response = ex.response
        acao = (response.header("access-control-allow-origin") or "").strip()
        creds = (response.header("access-control-allow-credentials") or "").strip().lower() \
            == "true"
        proof = (f"Origin: {origin} -> Access-Control-Allow-Origin: {acao}; "
                 f"Access-Control-Allow-Credentials: {'true' if creds else '(absent)'}")
        fix = ("Allow only a fixed list of trusted origins (exact match), never reflect the "
               "Origin header or 'null', and allow credentials only for those origins.")
        label = {"arbitrary-origin": "an arbitrary origin", "null-origin": "the null origin",
                 "lookalike-origin": "a look-alike origin (prefix/suffix match)"}[what]
        if _reflects(response, origin):
            if creds:
                return _finding(
                    "cors", f"CORS trusts {label} with credentials", Severity.HIGH, ex,
                    f"the server allows {label} ({origin}) to read responses with the user's "
                    "cookies: any site can read this user's data", detail=what, cwe="CWE-942",
                    proof=proof, remediation=fix)
            if authed:
                return _finding(
                    "cors", f"CORS trusts {label} on an authenticated page", Severity.MEDIUM,
                    ex, f"the server reflects {label} ({origin}) on a page that needs the "
                    "user's cookies or token", detail=what, cwe="CWE-942", proof=proof,
                    remediation=fix, confidence=Confidence.MEDIUM)
            return None
        if acao == "*" and creds:
            return _finding(
                "cors", "CORS wildcard with credentials", Severity.LOW, ex,
                "Access-Control-Allow-Origin: * together with Allow-Credentials: true (browsers "
                "refuse the pair, but the policy is misconfigured)",
                detail="wildcard-credentials", cwe="CWE-942", proof=proof, remediation=fix)
        return None


def _authenticated_scan(sender: object) -> bool:
    """Whether the scan sends credentials with every request: some sender of the chain (the
    step wraps the client) holds session cookies (``jar``) or the client sends configured
    headers (``settings.headers``: only authentication is configured there)."""
    for _ in range(8):
        if sender is None:
            break
        jar = getattr(sender, "jar", None)
        if jar is not None and len(jar):
            return True
        headers: object = getattr(getattr(sender, "settings", None), "headers", None)
        if headers:
            return True
        sender = getattr(sender, "inner", None)
    return False


def _cors_headers(response: Response) -> bool:
    return any(k.lower().startswith("access-control-allow-") for k, _ in response.headers)


def _reflects(response: Response, origin: str) -> bool:
    acao = (response.header("access-control-allow-origin") or "").strip()
    return acao.lower() == origin.lower()


def run(ctx: ProbeContext) -> list[WebFinding]:
    """Every site check on ``ctx.site`` (at most :data:`MAX_REQUESTS` requests; see the module
    docstring)."""
    checks = _Run(ctx)
    out = checks.debug_mode()
    checks.ensure_baseline()
    out += checks.debug_endpoints()
    out += checks.directory_listings()
    out += checks.cors()
    if checks.skipped:
        ctx.log(f"site checks: cap of {MAX_REQUESTS} requests reached, {checks.skipped} "
                "not sent (CORS on the remaining pages untested)")
    return out
