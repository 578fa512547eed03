"""The open redirect probe against a real Flask app: Location, meta refresh, script, POST form
targets are found; allowlisted, relative-only and same-site twins are not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apps_h7 import context, form, query, redirect_app, serve

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import InputKind, InputPoint, Response, Site
from secpipe.scanners.web.probes.redirect import (
    PROBES,
    RedirectProbe,
    browser_host,
    redirect_targets,
)

PROBE = RedirectProbe()


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(redirect_app()) as url:
        yield url


def run(base: str, point: InputPoint) -> list:  # type: ignore[type-arg]
    ctx = context(base, [point])
    assert PROBE.applies(point, ctx.site)
    return PROBE.run(ctx, point)


@pytest.mark.parametrize(("target", "host"), [
    ("https://evil.example/", "evil.example"),
    ("//evil.example", "evil.example"),
    ("///evil.example/x", "evil.example"),
    ("/\\evil.example", "evil.example"),
    ("\\\\evil.example", "evil.example"),
    ("https:evil.example", "evil.example"),  # from an http page: another scheme, a host
    (" \t//evil.example", "evil.example"),
    ("/\tt/evil.example", None),  # the tab is removed: "/t/evil.example", a path
    ("https://user@evil.example:8443/p", "evil.example"),
    ("HTTPS://EVIL.example./", "evil.example"),
    ("/dashboard", None),
    ("/%5Cevil.example", None),  # an encoded backslash stays in the path
    ("dashboard?next=https://evil.example/", None),
    ("/login?next=//evil.example", None),
    ("http:evil.example", None),  # same scheme as the page, no slashes: a relative path
    ("javascript:alert(1)", None),
])
def test_browser_host_resolves_like_a_browser(target: str, host: str | None) -> None:
    assert browser_host(target, "http://app.local:8080/go") == host


def test_a_tab_inside_the_slashes_is_dropped_as_browsers_do() -> None:
    assert browser_host("/\t/evil.example", "http://app.local/") == "evil.example"


def test_redirect_targets_reads_header_meta_and_script() -> None:
    html = (b'<meta content="3;URL=\'//a.example\'" http-equiv="Refresh">'
            b'<script>location.replace("https:\\/\\/b.example\\u002f")</script>')
    response = Response(302, headers=(("Location", "/x"), ("Content-Type", "text/html")),
                        body=html)
    assert redirect_targets(response) == [("Location header", "/x"),
                                          ("meta refresh", "//a.example"),
                                          ("script location", "https://b.example/")]


def test_location_header_to_our_host_is_found(base: str) -> None:
    findings = run(base, query(base, "/go", "next", "/home"))
    assert len(findings) == 1
    found = findings[0]
    assert found.kind == "open-redirect" and found.cwe == "CWE-601"
    assert found.severity is Severity.MEDIUM and found.confidence is Confidence.HIGH
    assert found.param == "next" and found.route == "/go"
    assert found.proof.startswith("https://sp") and found.proof.endswith(".example/")
    assert found.evidence[0].response.status == 302


def test_backslash_spelling_beats_a_naive_double_slash_check(base: str) -> None:
    findings = run(base, query(base, "/naive", "url", "/account"))
    assert len(findings) == 1
    assert findings[0].proof.startswith("/\\sp")


def test_userinfo_spelling_beats_a_prefix_check(base: str) -> None:
    findings = run(base, query(base, "/prefix", "url", base + "/account"))
    assert len(findings) == 1
    assert findings[0].proof.startswith(base + "@sp")


def test_meta_refresh_is_found(base: str) -> None:
    findings = run(base, query(base, "/meta", "return_to", "/"))
    assert len(findings) == 1 and "meta refresh" in findings[0].message


def test_script_location_is_found_with_medium_confidence(base: str) -> None:
    findings = run(base, query(base, "/script", "dest", "/"))
    assert len(findings) == 1
    assert findings[0].confidence is Confidence.MEDIUM
    assert "script location" in findings[0].message


def test_post_form_target_is_found(base: str) -> None:
    findings = run(base, form(base, "/login", "continue", "/home", user="alice"))
    assert len(findings) == 1
    assert findings[0].method == "POST" and findings[0].evidence[0].response.status == 303


@pytest.mark.parametrize(("path", "name"), [
    ("/safe", "next"),  # relative only, backslashes normalised
    ("/allow", "url"),  # allowlist of hosts
    ("/within", "next"),  # value only in a same-site query string
    ("/show", "next"),  # URL in a JSON body: no redirect
])
def test_safe_twins_are_not_flagged(base: str, path: str, name: str) -> None:
    ctx = context(base, [])
    point = query(base, path, name, "/home")
    assert PROBE.run(ctx, point) == []
    assert ctx.client.sent == 6  # every spelling was tried


def test_applies_to_redirect_like_points_only(base: str) -> None:
    site = Site(base, ())
    assert PROBE.applies(query(base, "/s", "next", "x"), site)
    assert PROBE.applies(query(base, "/s", "returnUrl", "x"), site)
    assert PROBE.applies(query(base, "/s", "p", "https://a.example/"), site)
    assert PROBE.applies(query(base, "/s", "p", "/dashboard"), site)
    assert not PROBE.applies(query(base, "/s", "q", "shoes"), site)
    header = InputPoint(InputKind.HEADER, "GET", base + "/", "Referer", headers=(("Referer", "/"),))
    assert not PROBE.applies(header, site)
    site.unauthorised.add("/s")
    assert not PROBE.applies(query(base, "/s", "next", "x"), site)


def test_module_defines_its_probe() -> None:
    assert [p.kind for p in PROBES] == ["open-redirect"]
