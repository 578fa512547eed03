"""Passive checks on a real Flask app served over http: one route per check with a safe twin.

The app's ``hardened`` pages send every security header; each vulnerable route takes one thing
away (or adds one leak) and must give exactly the expected (kind, detail) findings, its twin
none. The pages are fetched with the real scan client, as the crawler would.
"""

from __future__ import annotations

import html
import sqlite3
import threading
import time
import traceback
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from apps_h5 import client_for, fetch, pairs, serve
from flask import Flask, Response, jsonify
from werkzeug.debug import DebuggedApplication

from secpipe.core.findings import Severity
from secpipe.scanners.web.http import Client
from secpipe.scanners.web.model import Exchange, Request, Site, WebFinding
from secpipe.scanners.web.passive import KINDS, check_exchange

GOOD_CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
SECURE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": GOOD_CSP,
    "Permissions-Policy": "geolocation=(), camera=()",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cache-Control": "no-store",
}
TOKEN = "Zk3" + "q9XbT2mLw8RvY4nP0sHc"  # session-like random value (built from parts)
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".c2lnbmF0dXJlLXBhcnQtaGVyZQ"


def page(body: str = "<p>hello</p>", *, status: int = 200, ctype: str = "text/html",
         drop: tuple[str, ...] = (), extra: dict[str, str] | None = None,
         cookies: tuple[str, ...] = ()) -> Response:
    """An HTML page with every security header, minus ``drop``, plus ``extra``."""
    if ctype == "text/html" and not body.lstrip().startswith("<!doctype"):
        body = f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"
    resp = Response(body, status=status, content_type=f"{ctype}; charset=utf-8")
    for name, value in SECURE.items():
        if name not in drop:
            resp.headers[name] = value
    for name, value in (extra or {}).items():
        resp.headers[name] = value
    for cookie in cookies:
        resp.headers.add("Set-Cookie", cookie)
    return resp


def build_app() -> Flask:
    app = Flask("h5passive")
    app.config["PROPAGATE_EXCEPTIONS"] = True
    routes: dict[str, Response | object] = {}

    def add(path: str, factory: object) -> None:
        routes[path] = factory

    # --- hardened pages -----------------------------------------------------------------
    add("/hardened", lambda: page(
        '<form method="post" action="/submit"><input type="hidden" name="csrf_token" '
        'value="a8f3k2m9q1w7e5r4"><input name="comment"></form>'
        '<script src="https://cdn.example.com/lib.js" integrity="sha384-abc" '
        'crossorigin="anonymous"></script><script src="/static/app.js"></script>'
        "<!-- main navigation -->"))
    add("/api/data", lambda: page('{"items": [1, 2, 3]}', ctype="application/json"))
    # --- missing headers ----------------------------------------------------------------
    add("/drop/xcto", lambda: page(drop=("X-Content-Type-Options",)))
    add("/drop/xcto-wrong", lambda: page(extra={"X-Content-Type-Options": "sniff"}))
    add("/drop/xfo", lambda: page(drop=("X-Frame-Options", "Content-Security-Policy"),
                                  extra={"Content-Security-Policy":
                                         GOOD_CSP.replace("; frame-ancestors 'none'", "")}))
    add("/drop/xfo-allow-from", lambda: page(
        drop=("Content-Security-Policy",),
        extra={"X-Frame-Options": "ALLOW-FROM https://a.example",
               "Content-Security-Policy": GOOD_CSP.replace("; frame-ancestors 'none'", "")}))
    add("/twin/xfo-via-csp", lambda: page(drop=("X-Frame-Options",)))
    add("/drop/permissions", lambda: page(drop=("Permissions-Policy",)))
    add("/drop/referrer", lambda: page(drop=("Referrer-Policy",)))
    add("/twin/referrer-meta", lambda: page('<meta name="referrer" content="no-referrer">',
                                            drop=("Referrer-Policy",)))
    add("/drop/referrer-unsafe", lambda: page(extra={"Referrer-Policy": "unsafe-url"}))
    add("/api/no-nosniff", lambda: page('{"a": 1}', ctype="application/json",
                                        drop=("X-Content-Type-Options",)))

    def no_ctype() -> Response:
        resp = page("plain bytes", ctype="text/plain")
        del resp.headers["Content-Type"]
        return resp
    add("/drop/content-type", no_ctype)
    add("/twin/not-found-page", lambda: page("<p>nope</p>", status=404, drop=tuple(SECURE)))
    # --- CSP ----------------------------------------------------------------------------
    def csp(policy: str, header: str = "Content-Security-Policy", body: str = "<p>x</p>",
            ) -> Response:
        return page(body, drop=("Content-Security-Policy",), extra={header: policy})
    add("/csp/missing", lambda: page(drop=("Content-Security-Policy",)))
    add("/csp/unsafe-inline", lambda: csp(
        "default-src 'self'; script-src 'self' 'unsafe-inline'; object-src 'none'; "
        "base-uri 'none'"))
    add("/twin/csp-inline-nonce", lambda: csp(
        "default-src 'self'; script-src 'nonce-r4nd0m' 'unsafe-inline' 'strict-dynamic'; "
        "object-src 'none'; base-uri 'none'"))
    add("/csp/unsafe-eval", lambda: csp(
        "default-src 'self'; script-src 'self' 'unsafe-eval'; object-src 'none'; "
        "base-uri 'none'"))
    add("/csp/wildcard", lambda: csp(
        "default-src 'self'; script-src 'self' https:; object-src 'none'; base-uri 'none'"))
    add("/csp/default-wildcard", lambda: csp("default-src *; object-src 'none'; "
                                             "base-uri 'none'"))
    add("/csp/no-object", lambda: csp("script-src 'self'; base-uri 'none'"))
    add("/csp/no-script", lambda: csp("object-src 'none'; base-uri 'none'; img-src 'self'"))
    add("/csp/no-base-nonce", lambda: csp("default-src 'self'; script-src 'nonce-abc123'; "
                                          "object-src 'none'"))
    add("/csp/report-only", lambda: page(drop=("Content-Security-Policy",), extra={
        "Content-Security-Policy-Report-Only": GOOD_CSP}))
    add("/csp/meta", lambda: page(
        f'<meta http-equiv="Content-Security-Policy" content="{GOOD_CSP}">',
        drop=("Content-Security-Policy",)))
    add("/twin/csp-two-policies", lambda: csp(
        "script-src 'self' 'unsafe-inline' 'unsafe-eval', " + GOOD_CSP))
    # --- cookies ------------------------------------------------------------------------
    add("/cookie/session", lambda: page(cookies=(f"session={TOKEN}; Path=/",)))
    add("/twin/cookie/session", lambda: page(
        cookies=(f"session={TOKEN}; Path=/; HttpOnly; SameSite=Lax",)))
    add("/cookie/jwt-value", lambda: page(cookies=(f"prefs={JWT}; SameSite=Strict",)))
    add("/cookie/pref", lambda: page(cookies=("theme=dark; Path=/",)))
    add("/twin/cookie/csrf", lambda: page(cookies=(f"csrftoken={TOKEN}; SameSite=Lax",)))
    add("/cookie/samesite-none", lambda: page(
        cookies=(f"sid={TOKEN}; HttpOnly; SameSite=None",)))
    add("/twin/cookie/deleted", lambda: page(
        cookies=("session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",)))
    # --- stack traces -------------------------------------------------------------------
    def python_trace() -> str:
        try:
            {}["user"]
        except KeyError:
            return traceback.format_exc()
        return ""  # pragma: no cover

    def sqlite_error() -> str:
        try:
            sqlite3.connect(":memory:").execute("SELECT * FROM users WHERE name = '''")
        except sqlite3.Error as exc:
            return f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        return ""  # pragma: no cover

    add("/trace/python", lambda: page(f"<pre>{html.escape(python_trace())}</pre>", status=500))
    add("/trace/json", lambda: page(
        jsonify(error="internal", detail=python_trace()).get_data(as_text=True),
        ctype="application/json", status=500))
    add("/trace/java", lambda: page(
        "java.lang.NullPointerException: name\n"
        "\tat com.example.shop.UserService.find(UserService.java:42)\n"
        "\tat com.example.shop.UserController.show(UserController.java:17)\n",
        ctype="text/plain", status=500))
    add("/trace/dotnet", lambda: page(
        "System.InvalidOperationException: Sequence contains no elements\n"
        "   at System.Linq.Enumerable.First[TSource](IEnumerable`1 source)\n"
        "   at Shop.Controllers.HomeController.Index() in C:\\src\\Shop\\HomeController.cs:"
        "line 21\n", ctype="text/plain", status=500))
    add("/trace/node", lambda: page(
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at getUser (/srv/app/routes/users.js:14:22)\n"
        "    at Layer.handle [as handle_request] (/srv/app/node_modules/express/lib/router/"
        "layer.js:95:5)\n", ctype="text/plain", status=500))
    add("/trace/php", lambda: page(
        "<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function foo() in "
        "/var/www/html/index.php:12\nStack trace:\n#0 {main}\n  thrown in <b>/var/www/html/"
        "index.php</b> on line <b>12</b><br />", status=500))
    add("/trace/go", lambda: page(
        "panic: runtime error: index out of range [3] with length 3\n\n"
        "goroutine 1 [running]:\nmain.handler(0xc000010000)\n\t/app/main.go:27 +0x1d\n",
        ctype="text/plain", status=500))
    add("/sql/sqlite", lambda: page(f"<p>{html.escape(sqlite_error())}</p>", status=500))
    add("/sql/postgresql", lambda: page(
        "<p>ERROR:  syntax error at or near \"'\"\nLINE 1: SELECT * FROM t WHERE a = '''</p>",
        status=500))
    add("/sql/mysql", lambda: page(
        "<p>You have an error in your SQL syntax; check the manual that corresponds to your "
        "MySQL server version for the right syntax to use near ''' at line 1</p>"))
    add("/sql/mssql", lambda: page(
        "<p>Unclosed quotation mark after the character string ''.</p>", status=500))
    add("/sql/oracle", lambda: page(
        "<p>ORA-01756: quoted string not properly terminated</p>", status=500))
    add("/trace/exception500", lambda: page('{"error": "KeyError: \'user\'"}',
                                            ctype="application/json", status=500))
    add("/twin/trace/exception200", lambda: page('{"error": "KeyError: \'user\'"}',
                                                 ctype="application/json"))
    add("/twin/trace/prose", lambda: page(
        "<h1>Help</h1><p>If you see an SQL error or a stack trace, contact support. Error: "
        "none. Our database uses SQL; errors are logged. Exceptions happen at times.</p>"
        "<p>Syntax error? Check the query at line 3.</p>"))

    @app.route("/trace/werkzeug")
    def boom() -> Response:
        raise RuntimeError("boom")

    # --- banners ------------------------------------------------------------------------
    add("/banner/server", lambda: page(extra={"Server": "Werkzeug/3.1.3 Python/3.11.7"}))
    add("/banner/php", lambda: page(extra={"X-Powered-By": "PHP/8.1.2"}))
    add("/banner/aspnet", lambda: page(extra={"X-AspNet-Version": "4.0.30319"}))
    add("/banner/bare-powered", lambda: page(extra={"X-Powered-By": "Express"}))
    add("/twin/banner/bare-server", lambda: page(extra={"Server": "nginx"}))
    add("/banner/generator", lambda: page('<meta name="generator" content="WordPress 6.4.2">'))
    add("/twin/banner/generator", lambda: page('<meta name="generator" content="Hugo">'))
    add("/debug/header", lambda: page(extra={"X-Debug-Token": "a1b2c3"}))
    # --- private addresses --------------------------------------------------------------
    add("/ip/body", lambda: page("<p>backend at 10.1.2.3, db on 192.168.0.10:5432</p>"))
    add("/ip/header", lambda: page(extra={"X-Backend-Server": "172.16.5.4"}))
    add("/ip/linklocal", lambda: page("<p>metadata: 169.254.169.254, cgnat 100.64.1.2</p>"))
    add("/twin/ip", lambda: page(
        "<p>version 10.0.0.1, Chrome/10.0.0.1, v10.2.3.4, 127.0.0.1, 8.8.8.8, 10.0.0.256, "
        "1.10.0.0.1, 192.168.1.1.5, 172.32.0.1, 172.15.0.1, 100.128.0.1, 010.1.1.1, "
        "networks 10.0.0.0, 192.168.4.0/24, 172.16.0.5/12, broadcast 192.168.1.255</p>"))
    add("/twin/static/lib.js", lambda: page(
        'var codes = {SQLITE_ERROR: 1, msg: "near \\"x\\": syntax error"};\n'
        'var nets = ["10.0.0.0/8", "192.168.0.0/16"]; var backend = "10.20.30.40";\n'
        "//    at foo (/srv/x.js:1:2)\n//    at bar (/srv/y.js:2:3)\n",
        ctype="application/javascript"))
    # --- comments -----------------------------------------------------------------------
    add("/comment/password", lambda: page("<!-- db password: hunter2x -->"))
    add("/comment/host", lambda: page("<!-- served by app01.corp.internal -->"))
    add("/comment/todo", lambda: page("<!-- TODO: remove the admin bypass before release -->"))
    add("/twin/comment", lambda: page(
        "<!-- main navigation --><!-- password: required --><!-- TODO: nicer footer -->"
        "<!--[if IE]><p>old browser</p><![endif]-->"))
    # --- SRI, CSRF ----------------------------------------------------------------------
    add("/sri/missing", lambda: page(
        '<script src="https://cdn.example.com/jquery.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.net/a.css">'))
    add("/twin/sri", lambda: page(
        '<script src="https://cdn.example.com/jquery.js" integrity="sha384-xyz"></script>'
        '<script src="/static/own.js"></script><link rel="icon" href="https://x.example/f.ico">'))
    add("/form/post-no-token", lambda: page(
        '<form method="POST" action="/submit"><input name="amount"><input type="submit">'
        "</form>"))
    add("/twin/form", lambda: page(
        '<form method="post" action="/submit"><input type="hidden" name="authenticity_token" '
        'value="b7e1c9d2f0a8"><input name="amount"></form>'
        '<form method="get" action="/search"><input name="q"></form>'
        '<form method="post" action="https://payments.example.org/pay"><input name="x"></form>'
        '<form method="post" action="/logout"><button>Log out</button></form>'))
    add("/mixed/http-page-script", lambda: page(
        '<script src="http://cdn.example.com/w.js" integrity="sha384-q"></script>'))
    add("/twin/mixed/http-page", lambda: page(
        '<script src="http://127.0.0.1/own.js"></script><img src="http://img.example.com/a.png">'
        '<a href="http://docs.example.com/">docs</a>'))
    # --- directory listing ----------------------------------------------------------------
    add("/files/", lambda: page(
        "<html><head><title>Index of /files/</title></head><body><h1>Index of /files/</h1>"
        '<hr><pre><a href="../">../</a>\n<a href="backup.sql">backup.sql</a></pre></body>'
        "</html>"))
    add("/twin/catalogue", lambda: page(
        '<h1>Index of products</h1><a href="/p/1">one</a><a href="/p/2">two</a>'))
    # --- caching --------------------------------------------------------------------------
    add("/cache/cookie", lambda: page(drop=("Cache-Control",), cookies=(
        f"session={TOKEN}; HttpOnly; SameSite=Lax",)))
    add("/twin/cache/cookie", lambda: page(drop=("Cache-Control",), extra={
        "Cache-Control": "private, max-age=0"}, cookies=(
        f"session={TOKEN}; HttpOnly; SameSite=Lax",)))
    add("/cache/plain-cookie", lambda: page(drop=("Cache-Control",), cookies=(
        "lang=en; Path=/; SameSite=Lax",)))
    add("/cache/token", lambda: page(f'{{"access_token": "{JWT}"}}',
                                     ctype="application/json", drop=("Cache-Control",)))
    add("/cache/auth", lambda: page('{"me": "alice"}', ctype="application/json",
                                    drop=("Cache-Control",)))
    add("/twin/cache/public", lambda: page('{"news": []}', ctype="application/json",
                                           drop=("Cache-Control",),
                                           extra={"Cache-Control": "public, max-age=60"}))

    for index, (path, factory) in enumerate(routes.items()):
        app.add_url_rule(path, f"r{index}", factory)  # type: ignore[arg-type]
    return app


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[str, Client, Site]]:
    app = DebuggedApplication(build_app(), evalex=False)
    with serve(app) as base:
        client = client_for(base)
        site = Site(base_url=base + "/", origins=(client.settings.origins[0],))
        yield base, client, site
        client.close()


def check(target: tuple[str, Client, Site], path: str,
          headers: tuple[tuple[str, str], ...] = ()) -> list[WebFinding]:
    base, client, site = target
    ex = fetch(client, base + path, headers=headers)
    assert ex.response.status > 0, ex.response.error
    return check_exchange(ex, site)


def of(findings: list[WebFinding], kind: str) -> set[tuple[str, str]]:
    return {(f.kind, f.detail) for f in findings if f.kind == kind}


# --- no false alarm on a hardened page ---------------------------------------------------------
def test_hardened_html_page_and_json_api_give_no_finding(target: tuple[str, Client, Site]) -> None:
    assert check(target, "/hardened") == []
    assert check(target, "/api/data") == []


def test_every_twin_route_gives_no_finding(target: tuple[str, Client, Site]) -> None:
    twins = [p for p in build_app().url_map.iter_rules() if p.rule.startswith("/twin/")]
    assert len(twins) >= 20
    noisy = {rule.rule: pairs(check(target, rule.rule)) for rule in twins}
    assert {path: found for path, found in noisy.items() if found} == {}


# --- missing headers ---------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "detail", "severity"), [
    ("/drop/xcto", "X-Content-Type-Options", Severity.LOW),
    ("/drop/xcto-wrong", "X-Content-Type-Options", Severity.LOW),
    ("/drop/xfo", "X-Frame-Options", Severity.MEDIUM),
    ("/drop/xfo-allow-from", "X-Frame-Options", Severity.MEDIUM),
    ("/drop/permissions", "Permissions-Policy", Severity.LOW),
    ("/drop/referrer", "Referrer-Policy", Severity.INFO),
    ("/drop/referrer-unsafe", "Referrer-Policy", Severity.LOW),
    ("/api/no-nosniff", "X-Content-Type-Options", Severity.LOW),
    ("/drop/content-type", "Content-Type", Severity.LOW),
])
def test_missing_header_is_reported_once_with_its_name(
        target: tuple[str, Client, Site], path: str, detail: str, severity: Severity) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("missing-header", detail)}
    assert findings[0].severity is severity
    assert findings[0].cwe == "CWE-693"
    assert findings[0].route == path


# --- CSP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "details"), [
    ("/csp/missing", {"missing"}),
    ("/csp/unsafe-inline", {"script-src 'unsafe-inline'"}),
    ("/csp/unsafe-eval", {"script-src 'unsafe-eval'"}),
    ("/csp/wildcard", {"script-src wildcard"}),
    ("/csp/default-wildcard", {"script-src wildcard"}),
    ("/csp/no-object", {"object-src missing"}),
    ("/csp/no-script", {"script-src missing"}),
    ("/csp/no-base-nonce", {"base-uri missing"}),
    ("/csp/report-only", {"report-only"}),
    ("/csp/meta", {"meta-only"}),
])
def test_csp_weakness(target: tuple[str, Client, Site], path: str, details: set[str]) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("csp", d) for d in details}
    if "missing" in details or "script-src 'unsafe-inline'" in details:
        assert findings[0].severity is Severity.MEDIUM


# --- cookies -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "details"), [
    ("/cookie/session", {"session HttpOnly", "session SameSite"}),
    ("/cookie/jwt-value", {"prefs HttpOnly"}),
    ("/cookie/pref", {"theme SameSite"}),
    ("/cookie/samesite-none", {"sid SameSite"}),
])
def test_cookie_flags(target: tuple[str, Client, Site], path: str, details: set[str]) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("cookie-flags", d) for d in details}
    cwes = {f.detail.split()[1]: f.cwe for f in findings}
    assert cwes.get("HttpOnly", "CWE-1004") == "CWE-1004"
    assert cwes.get("SameSite", "CWE-1275") == "CWE-1275"


# --- stack traces ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "platform"), [
    ("/trace/python", "python"), ("/trace/json", "python"), ("/trace/java", "java"),
    ("/trace/dotnet", "dotnet"), ("/trace/node", "node"), ("/trace/php", "php"),
    ("/trace/go", "go"), ("/sql/sqlite", "sqlite"), ("/sql/postgresql", "postgresql"),
    ("/sql/mysql", "mysql"), ("/sql/mssql", "mssql"), ("/sql/oracle", "oracle"),
    ("/trace/werkzeug", "werkzeug-debugger"),
])
def test_stack_trace_is_reported_with_its_excerpt(
        target: tuple[str, Client, Site], path: str, platform: str) -> None:
    findings = check(target, path)
    traces = [f for f in findings if f.kind == "stack-trace"]
    assert [(f.kind, f.detail) for f in traces] == [("stack-trace", platform)]
    assert traces[0].severity is Severity.MEDIUM and traces[0].cwe == "CWE-209"
    assert traces[0].proof  # the excerpt that decided it


def test_python_trace_excerpt_shows_the_frame(target: tuple[str, Client, Site]) -> None:
    [finding] = [f for f in check(target, "/trace/python") if f.kind == "stack-trace"]
    assert "Traceback (most recent call last):" in finding.proof
    assert 'File "' in finding.proof


def test_exception_message_on_500_only(target: tuple[str, Client, Site]) -> None:
    findings = check(target, "/trace/exception500")
    assert of(findings, "stack-trace") == {("stack-trace", "exception")}
    assert findings[0].severity is Severity.LOW


# --- banners --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "detail", "severity"), [
    ("/banner/server", "Server", Severity.LOW),
    ("/banner/php", "X-Powered-By", Severity.LOW),
    ("/banner/aspnet", "X-AspNet-Version", Severity.LOW),
    ("/banner/bare-powered", "X-Powered-By", Severity.INFO),
    ("/banner/generator", "generator", Severity.LOW),
])
def test_version_banner(target: tuple[str, Client, Site], path: str, detail: str,
                        severity: Severity) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("version-banner", detail)}
    assert findings[0].severity is severity


# --- private addresses ----------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "addresses"), [
    ("/ip/body", {"10.1.2.3", "192.168.0.10"}),
    ("/ip/header", {"172.16.5.4"}),
    ("/ip/linklocal", {"169.254.169.254", "100.64.1.2"}),
])
def test_private_ip(target: tuple[str, Client, Site], path: str, addresses: set[str]) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("private-ip", a) for a in addresses}


# --- comments, SRI, CSRF, listing -----------------------------------------------------------------
@pytest.mark.parametrize(("path", "expected"), [
    ("/comment/password", {("html-comment", "credentials")}),
    ("/comment/host", {("html-comment", "internal-host")}),
    ("/comment/todo", {("html-comment", "todo")}),
    ("/sri/missing", {("sri", "cdn.example.com"), ("sri", "fonts.example.net")}),
    ("/form/post-no-token", {("csrf", "/submit")}),
    ("/files/", {("directory-listing", "")}),
    ("/mixed/http-page-script", {("mixed-content", "script")}),
    ("/debug/header", {("debug-endpoint", "X-Debug-Token")}),
])
def test_page_content_checks(target: tuple[str, Client, Site], path: str,
                             expected: set[tuple[str, str]]) -> None:
    assert pairs(check(target, path)) == expected


def test_python_http_server_listing_is_directory_listing(tmp_path: Path) -> None:
    (tmp_path / "secrets.bak").write_text("x")
    (tmp_path / "sub").mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        client = client_for(base)
        site = Site(base_url=base + "/", origins=client.settings.origins)
        listing = check_exchange(fetch(client, base + "/"), site)
        assert ("directory-listing", "") in pairs(listing)
        assert "secrets.bak" in next(f for f in listing if f.kind == "directory-listing").proof
        plain = check_exchange(fetch(client, base + "/secrets.bak"), site)
        assert "directory-listing" not in {f.kind for f in plain}
        client.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- caching --------------------------------------------------------------------------------------
def test_cache_sensitive(target: tuple[str, Client, Site]) -> None:
    assert pairs(check(target, "/cache/cookie")) == {("cache-sensitive", "set-cookie")}
    assert pairs(check(target, "/cache/plain-cookie")) == {("cache-sensitive", "set-cookie")}
    assert pairs(check(target, "/cache/token")) == {("cache-sensitive", "token")}
    bearer = (("Authorization", "Bearer " + TOKEN),)
    assert pairs(check(target, "/cache/auth", bearer)) == {("cache-sensitive", "authorization")}
    assert pairs(check(target, "/cache/auth")) == set()


# --- engine properties ---------------------------------------------------------------------------
def test_findings_carry_evidence_and_known_kinds(target: tuple[str, Client, Site]) -> None:
    findings = check(target, "/cookie/session") + check(target, "/trace/java")
    for finding in findings:
        assert finding.kind in KINDS
        assert finding.evidence and finding.evidence[0].response.status > 0
        assert finding.url.startswith(target[0])


def test_no_http_answer_gives_nothing() -> None:
    site = Site(base_url="http://127.0.0.1:9/", origins=("http://127.0.0.1:9",))
    from secpipe.scanners.web.model import Response as WebResponse
    ex = Exchange(Request("GET", "http://127.0.0.1:9/"), WebResponse(0, error="refused"))
    assert check_exchange(ex, site) == []


def test_huge_hostile_page_is_checked_quickly() -> None:
    from secpipe.scanners.web.model import Response as WebResponse
    site = Site(base_url="http://t.example/", origins=("http://t.example:80",))
    hostile = ("<" * 300_000 + 'File "' * 100_000 + "at a." * 100_000 + "10.0." * 100_000
               + "<!--" + "password=" * 50_000 + "eyJ" * 50_000).encode()
    response = WebResponse(200, headers=(("Content-Type", "text/html"),), body=hostile,
                           url="http://t.example/")
    started = time.monotonic()
    check_exchange(Exchange(Request("GET", "http://t.example/"), response), site)
    assert time.monotonic() - started < 5.0


# --- the HTML reader -----------------------------------------------------------------------------
def test_html_reader_reads_like_a_browser() -> None:
    from secpipe.scanners.web.passive.html import parse_html
    doc = parse_html(
        "<!doctype html><html><head><title>Index of /x &amp; y</title>"
        '<meta name="generator" content="Hugo 0.1"><script>var s = "<iframe src=x>";'
        '</script></head><body><h1>Hi <b>there</b></h1><a title="a>b" href="/one">1</a>'
        "<FORM Method=POST action='/go'><input type=hidden name=csrf value=abc>"
        "<textarea name=t><input name=fake></textarea></form><input name=outside>"
        "<!-- a comment --><p>1 < 2</p><img src=/i.png alt=x/><!-- unterminated")
    assert doc.title == "Index of /x & y"
    assert doc.heading == "Hi there"
    assert doc.anchors == ["/one"]
    assert doc.meta("generator") == ["Hugo 0.1"]
    assert [t for t, _ in doc.tags if t == "iframe"] == []  # inside a script: text
    [form] = doc.forms
    assert (form.method, form.action) == ("post", "/go")
    assert [f.get("name") for f in form.fields] == ["csrf", "t"]
    assert doc.comments == [" a comment ", " unterminated"]
    assert ("img", {"src": "/i.png", "alt": "x/"}) in doc.tags  # as browsers read alt=x/>


@pytest.mark.parametrize("unit", ["<!--", "<a", "<a href='x' ", "<", "<a href=\"", "</",
                                  "<script>", "<title>", "<!x"])
def test_html_reader_is_linear_on_hostile_markup(unit: str) -> None:
    from secpipe.scanners.web.passive.html import parse_html
    started = time.monotonic()
    parse_html(unit * (500_000 // len(unit)))
    assert time.monotonic() - started < 3.0  # quadratic parsing took minutes here


def test_cookie_and_token_values_never_reach_the_proof(target: tuple[str, Client, Site]) -> None:
    findings = check(target, "/cookie/session") + check(target, "/cache/token") + check(
        target, "/comment/password")
    assert findings
    assert all(TOKEN not in f.proof and JWT not in f.proof and "hunter2x" not in f.proof
               for f in findings)
    assert any("session=***" in f.proof for f in findings)
