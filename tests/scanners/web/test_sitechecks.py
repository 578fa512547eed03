"""Site checks on real Flask apps: debug endpoints, directory listings, CORS — each exposed
route has a safe twin (the same path answering 404 or a safe policy on the twin app), and the
soft-404 and public-CORS cases give nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from apps_h5 import client_for, kinds, pairs, serve, site_for
from flask import Flask, Response, request
from werkzeug.debug import DebuggedApplication

from secpipe.core.findings import Severity
from secpipe.scanners.web import sitechecks
from secpipe.scanners.web.http import Client
from secpipe.scanners.web.model import Site, WebFinding
from secpipe.scanners.web.passive import check_exchange
from secpipe.scanners.web.probes import ProbeContext

LISTING = ('<html><head><title>Index of {p}</title></head><body><h1>Index of {p}</h1><hr><pre>'
           '<a href="../">../</a>\n<a href="app.js">app.js</a>    05-Dec-2026 01:00  1234\n'
           '<a href="old.js.bak">old.js.bak</a></pre><hr></body></html>')
SECRET = "sk_" + "live_" + "0123456789abcdef"


def text(body: str, ctype: str = "text/plain") -> Response:
    return Response(body, content_type=ctype)


def cors_app(app: Flask) -> None:
    """CORS routes: each answers JSON and sets its own CORS policy."""

    def api(policy: str) -> Response:
        origin = request.headers.get("Origin", "")
        resp = Response(json.dumps({"user": "alice"}), content_type="application/json")
        if policy == "reflect-creds" and origin:
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        elif policy == "public":
            resp.headers["Access-Control-Allow-Origin"] = "*"
        elif policy == "reflect-public" and origin:
            resp.headers["Access-Control-Allow-Origin"] = origin
        elif policy == "wild-creds":
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        elif policy == "prefix" and origin.startswith("https://127.0.0.1"):
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        elif policy == "null" and origin == "null":
            resp.headers["Access-Control-Allow-Origin"] = "null"
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        elif policy == "allowlist" and origin == "https://app.example.com":
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Credentials"] = "true"
        return resp

    for policy in ("reflect-creds", "public", "reflect-public", "wild-creds", "prefix", "null",
                   "allowlist"):
        app.add_url_rule(f"/api/{policy}", f"api-{policy}",
                         lambda policy=policy: api(policy), methods=["GET", "OPTIONS"])
    app.add_url_rule("/api/submit", "api-submit", lambda: api("reflect-creds"),
                     methods=["POST", "OPTIONS"])
    app.add_url_rule("/api/item/<int:n>", "api-item",
                     lambda n: Response(json.dumps({"n": n}), content_type="application/json"))


def exposed_app() -> Any:
    app = Flask("h5exposed")
    app.config["PROPAGATE_EXCEPTIONS"] = True
    routes = {
        "/": lambda: text('<a href="/static/js/app.js">app</a>', "text/html"),
        "/static/js/app.js": lambda: text("console.log(1)", "application/javascript"),
        "/static/js/": lambda: text(LISTING.format(p="/static/js/"), "text/html"),
        "/backup/": lambda: text(LISTING.format(p="/backup/"), "text/html"),
        "/.env": lambda: text(f"# settings\nSECRET_KEY={SECRET}\nDATABASE_URL=postgres://u:p@db/"
                              "app\nDEBUG=1\n"),
        "/.git/config": lambda: text("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
                                     '[remote "origin"]\n\turl = git@example.com:a/b.git\n'),
        "/.git/HEAD": lambda: text("ref: refs/heads/main\n"),
        "/server-status": lambda: text("<html><head><title>Apache Status</title></head><body>"
                                       "<h1>Apache Server Status for localhost</h1>"
                                       "<dl><dt>Server Version: Apache/2.4.57</dt></dl>",
                                       "text/html"),
        "/actuator/env": lambda: text(json.dumps({"activeProfiles": [], "propertySources": [
            {"name": "systemEnvironment", "properties": {"HOME": {"value": "/root"}}}]}),
            "application/json"),
        "/debug": lambda: text(json.dumps({"PATH": "/usr/bin", "HOME": "/root",
                                           "SECRET_KEY": SECRET, "FLASK_DEBUG": "1"}),
                               "application/json"),
        "/debug/pprof/": lambda: text("<html><body>/debug/pprof/<br><p>Types of profiles "
                                      "available:</p><a href='goroutine?debug=1'>goroutine</a>",
                                      "text/html"),
        "/phpinfo.php": lambda: text("<html><head><title>PHP 8.2.1 - phpinfo()</title></head>"
                                     "<body>PHP Version 8.2.1</body></html>", "text/html"),
        "/metrics": lambda: text("# HELP http_requests_total Requests.\n# TYPE "
                                 "http_requests_total counter\nhttp_requests_total 3\n"),
        "/admin/": lambda: text('<html><head><link href="/admin/static/bootstrap/css/b.css" '
                                'rel="stylesheet"></head><body><h1>Admin</h1></body></html>',
                                "text/html"),
    }
    for index, (path, factory) in enumerate(routes.items()):
        app.add_url_rule(path, f"r{index}", factory)
    cors_app(app)
    return DebuggedApplication(app, evalex=True)


def safe_app() -> Any:
    app = Flask("h5safe")
    app.add_url_rule("/", "home", lambda: text('<a href="/static/js/app.js">app</a>',
                                               "text/html"))
    app.add_url_rule("/static/js/app.js", "js", lambda: text("console.log(1)"))
    # a login-protected admin, a metrics-like page that is not Prometheus, a .env that is HTML
    app.add_url_rule("/admin/", "admin", lambda: text(
        '<form method="post"><input name="u"><input type="password" name="p"></form>',
        "text/html"))
    app.add_url_rule("/.env", "env", lambda: text("<html><p>KEY=VALUE lines go here</p>",
                                                  "text/html"))
    cors_app(app)
    return app


def soft404_app() -> Any:
    """Every path answers 200 with the same page, which even looks like a listing and holds
    the .git/.env and console markers: only the soft-404 comparison can tell."""
    def catch_all(path: str = "") -> Response:
        return text(LISTING.format(p="/") + "<pre>[core]\nrepositoryformatversion = 0\n"
                    "SECRET_KEY=x\nDATABASE_URL=y\nCONSOLE_MODE = true Werkzeug "
                    "Apache Server Status for phpinfo()</pre>", "text/html")
    app = Flask("h5soft404")
    app.add_url_rule("/", "root", catch_all)
    app.add_url_rule("/<path:path>", "all", catch_all)
    return app


def django_debug_app() -> Any:
    def not_found(path: str = "") -> Response:
        return Response("<html><title>Page not found at /x</title><body><p>Using the URLconf "
                        "defined in <code>shop.urls</code>, Django tried these URL patterns"
                        "</p><p>You're seeing this error because you have <code>DEBUG = True"
                        "</code> in your Django settings file.</p></body></html>", status=404,
                        content_type="text/html")
    app = Flask("h5django")
    app.add_url_rule("/", "root", lambda: text("home", "text/html"))
    app.add_url_rule("/<path:path>", "all", not_found)
    return app


def run_on(app: Any, paths: list[str]) -> tuple[list[WebFinding], int]:
    with serve(app) as base:
        client = client_for(base)
        site = site_for(client, base, paths)
        before = client.sent
        findings = sitechecks.run(ProbeContext(client=client, site=site))
        sent = client.sent - before
        client.close()
    return findings, sent


@pytest.fixture(scope="module")
def exposed() -> Iterator[tuple[list[WebFinding], int]]:
    yield run_on(exposed_app(), ["/", "/static/js/app.js", "/api/reflect-creds"])


def test_debug_endpoints_with_their_signature(exposed: tuple[list[WebFinding], int]) -> None:
    findings, _ = exposed
    debug = {f.detail: f for f in findings if f.kind == "debug-endpoint"}
    assert set(debug) == {"/console", "/.env", "/.git/config", "/.git/HEAD", "/server-status",
                          "/actuator/env", "/debug", "/debug/pprof/", "/phpinfo.php",
                          "/metrics", "/admin/"}
    assert debug["/console"].severity is Severity.HIGH
    assert debug["/.env"].severity is Severity.HIGH
    assert debug["/metrics"].severity is Severity.INFO
    assert all(f.cwe == "CWE-489" and f.evidence for f in debug.values())


def test_directory_listing_of_crawled_and_common_folders(
        exposed: tuple[list[WebFinding], int]) -> None:
    findings, _ = exposed
    listings = [f for f in findings if f.kind == "directory-listing"]
    assert sorted(f.route for f in listings) == ["/backup/", "/static/js/"]


def test_request_budget_is_kept(exposed: tuple[list[WebFinding], int]) -> None:
    _, sent = exposed
    assert 0 < sent <= sitechecks.MAX_REQUESTS


def test_safe_twin_app_gives_nothing() -> None:
    findings, _ = run_on(safe_app(), ["/", "/static/js/app.js", "/api/public"])
    assert findings == []


def test_soft404_catch_all_gives_no_debug_endpoint_nor_listing() -> None:
    findings, _ = run_on(soft404_app(), ["/", "/about"])
    assert kinds(findings) & {"debug-endpoint", "directory-listing"} == set()


def test_passive_listing_check_skips_the_soft404_page() -> None:
    with serve(soft404_app()) as base:
        client = client_for(base)
        site = site_for(client, base, ["/about", "/static/"])
        passive = [f for ex in site.pages for f in check_exchange(ex, site)]
        without_baseline = check_exchange(site.pages[0], Site(base, client.settings.origins))
        client.close()
    assert "directory-listing" not in kinds(passive)
    assert "directory-listing" in kinds(without_baseline)  # the page does look like one


def test_django_debug_mode_from_the_not_found_page() -> None:
    findings, _ = run_on(django_debug_app(), ["/"])
    assert pairs(findings) == {("debug-endpoint", "debug-mode")}


@pytest.mark.parametrize(("route", "expected", "severity"), [
    ("/api/reflect-creds", {"arbitrary-origin"}, Severity.HIGH),
    ("/api/null", {"null-origin"}, Severity.HIGH),
    ("/api/prefix", {"lookalike-origin"}, Severity.HIGH),
    ("/api/wild-creds", {"wildcard-credentials"}, Severity.LOW),
    ("/api/public", set(), None),
    ("/api/reflect-public", set(), None),
    ("/api/allowlist", set(), None),
])
def test_cors(route: str, expected: set[str], severity: Severity | None) -> None:
    with serve(safe_app()) as base:
        client = client_for(base)
        site = Site(base_url=base + route, origins=client.settings.origins,
                    not_found=client.get(base + "/nope-sp00"))
        site.pages.append(_fetch(client, base + route))
        findings = [f for f in sitechecks.run(ProbeContext(client=client, site=site))
                    if f.kind == "cors"]
        client.close()
    assert {f.detail for f in findings} == expected
    if severity is not None:
        assert {f.severity for f in findings} == {severity}
        assert all(f.cwe == "CWE-942" and "Origin:" in f.proof for f in findings)


def test_cors_reflection_without_credentials_on_an_authenticated_page() -> None:
    with serve(safe_app()) as base:
        client = client_for(base, headers=(("Authorization", "Bearer t0k3n"),))
        site = Site(base_url=base + "/api/reflect-public", origins=client.settings.origins)
        site.pages.append(_fetch(client, base + "/api/reflect-public"))
        findings = [f for f in sitechecks.run(ProbeContext(client=client, site=site))
                    if f.kind == "cors"]
        client.close()
    assert [(f.detail, f.severity) for f in findings] == [("arbitrary-origin", Severity.MEDIUM)]


def _fetch(client: Client, url: str, method: str = "GET") -> Any:
    from apps_h5 import fetch
    return fetch(client, url, method)


def test_cors_finds_the_one_reflecting_route_among_many_and_keeps_the_cap() -> None:
    with serve(safe_app()) as base:
        client = client_for(base)
        site = site_for(client, base, ["/", *(f"/api/item/{n}" for n in range(9)),
                                       "/api/reflect-creds"])
        site.pages.append(_fetch(client, base + "/api/submit", "POST"))
        before = client.sent
        findings = sitechecks.run(ProbeContext(client=client, site=site))
        sent = client.sent - before
        client.close()
    cors = {(f.route, f.detail, f.method) for f in findings if f.kind == "cors"}
    assert cors == {("/api/reflect-creds", "arbitrary-origin", "GET"),
                    ("/api/submit", "arbitrary-origin", "OPTIONS")}
    assert sent <= sitechecks.MAX_REQUESTS


def test_request_cap_is_logged_not_silent() -> None:
    messages: list[str] = []
    with serve(safe_app()) as base:
        client = client_for(base)
        site = site_for(client, base, [f"/api/item/{n}" for n in range(40)])
        site.base_url = base + "/app/"  # debug paths under /app/ too: 27 of them
        sitechecks.run(ProbeContext(client=client, site=site, log=messages.append))
        client.close()
    assert any("cap of 60" in m for m in messages)


class Refusing:
    """A sender chain link like the step's: refuses one path (OutOfScope), sends the rest."""

    def __init__(self, inner: Client, path: str) -> None:
        self.inner, self.path = inner, path

    def send(self, request: Any, *, timeout: float | None = None) -> Any:
        from secpipe.scanners.web.model import OutOfScope
        if request.path == self.path:
            raise OutOfScope(f"{self.path} is excluded")
        return self.inner.send(request, timeout=timeout)

    def in_scope(self, url: str) -> bool:
        return self.inner.in_scope(url)

    @property
    def sent(self) -> int:
        return self.inner.sent


def test_an_excluded_url_is_skipped_not_fatal() -> None:
    with serve(exposed_app()) as base:
        client = client_for(base)
        site = site_for(client, base, ["/"])
        findings = sitechecks.run(ProbeContext(client=Refusing(client, "/.env"), site=site))
        client.close()
    debug = {f.detail for f in findings if f.kind == "debug-endpoint"}
    assert "/.env" not in debug and "/.git/config" in debug


def test_leaked_secrets_never_reach_the_proof(exposed: tuple[list[WebFinding], int]) -> None:
    findings, _ = exposed
    env = next(f for f in findings if f.detail == "/.env")
    assert "SECRET_KEY=***" in env.proof
    assert all(SECRET not in f.proof and "u:p@" not in f.proof for f in findings)
