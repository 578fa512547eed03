"""Passive checks that only apply over https (HSTS, Secure cookies, mixed content), on a real
Flask app served with TLS (a throw-away certificate; the client does not verify it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apps_h5 import client_for, fetch, pairs, serve
from flask import Flask, Response

from secpipe.core.findings import Severity
from secpipe.scanners.web.http import Client
from secpipe.scanners.web.model import Site, WebFinding
from secpipe.scanners.web.passive import check_exchange

SECURE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'",
    "Permissions-Policy": "geolocation=()",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
TOKEN = "Tq8" + "vL2pX9mKc4RwZ7nB1yHd"


def page(body: str = "<p>hi</p>", *, extra: dict[str, str] | None = None,
         drop: tuple[str, ...] = (), cookies: tuple[str, ...] = ()) -> Response:
    resp = Response(f"<!doctype html><html><head><title>t</title></head><body>{body}</body>"
                    "</html>", content_type="text/html; charset=utf-8")
    for name, value in {**SECURE, **(extra or {})}.items():
        if name not in drop:
            resp.headers[name] = value
    for cookie in cookies:
        resp.headers.add("Set-Cookie", cookie)
    return resp


def build_app() -> Flask:
    app = Flask("h5https")
    routes = {
        "/hardened": lambda: page('<script src="/app.js"></script><img src="https://i.example/'
                                  'a.png" alt=""><form method="get" action="https://s.example/'
                                  'q"><input name="q"></form>'),
        "/hsts/missing": lambda: page(drop=("Strict-Transport-Security",)),
        "/hsts/short": lambda: page(extra={"Strict-Transport-Security": "max-age=300"}),
        "/hsts/zero": lambda: page(extra={"Strict-Transport-Security": "max-age=0"}),
        "/hsts/invalid": lambda: page(extra={"Strict-Transport-Security": "includeSubDomains"}),
        "/cookie/no-secure": lambda: page(cookies=(
            f"session={TOKEN}; HttpOnly; SameSite=Lax",)),
        "/cookie/secure": lambda: page(cookies=(
            f"session={TOKEN}; HttpOnly; Secure; SameSite=Lax",)),
        "/cookie/none-secure": lambda: page(cookies=(
            f"session={TOKEN}; HttpOnly; Secure; SameSite=None",)),
        "/mixed/script": lambda: page('<script src="http://cdn.example.com/a.js" '
                                      'integrity="sha384-x"></script>'),
        "/mixed/form": lambda: page('<form method="get" action="http://other.example/search">'
                                    '<input name="q"></form>'),
        "/mixed/img": lambda: page('<img src="http://img.example.com/logo.png" alt="">'),
        "/mixed/stylesheet": lambda: page('<link rel="stylesheet" integrity="sha384-y" '
                                          'href="HTTP://css.example.com/a.css">'),
    }
    for index, (path, factory) in enumerate(routes.items()):
        app.add_url_rule(path, f"r{index}", factory)
    return app


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[str, Client, Site]]:
    with serve(build_app(), tls=True) as base:
        client = client_for(base)
        yield base, client, Site(base_url=base + "/", origins=client.settings.origins)
        client.close()


def check(target: tuple[str, Client, Site], path: str) -> list[WebFinding]:
    base, client, site = target
    ex = fetch(client, base + path)
    assert ex.response.status == 200, ex.response.error
    return check_exchange(ex, site)


def test_hardened_https_page_gives_no_finding(target: tuple[str, Client, Site]) -> None:
    assert check(target, "/hardened") == []


@pytest.mark.parametrize("path", ["/hsts/missing", "/hsts/short", "/hsts/zero",
                                  "/hsts/invalid"])
def test_hsts_missing_or_weak(target: tuple[str, Client, Site], path: str) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("missing-header", "Strict-Transport-Security")}


def test_cookie_without_secure_over_https(target: tuple[str, Client, Site]) -> None:
    findings = check(target, "/cookie/no-secure")
    assert pairs(findings) == {("cookie-flags", "session Secure")}
    assert findings[0].cwe == "CWE-614"
    assert check(target, "/cookie/secure") == []
    assert check(target, "/cookie/none-secure") == []


@pytest.mark.parametrize(("path", "tag", "severity"), [
    ("/mixed/script", "script", Severity.MEDIUM),
    ("/mixed/form", "form", Severity.MEDIUM),
    ("/mixed/stylesheet", "link", Severity.MEDIUM),
    ("/mixed/img", "img", Severity.LOW),
])
def test_mixed_content(target: tuple[str, Client, Site], path: str, tag: str,
                       severity: Severity) -> None:
    findings = check(target, path)
    assert pairs(findings) == {("mixed-content", tag)}
    assert findings[0].severity is severity
    assert findings[0].cwe == "CWE-319"
