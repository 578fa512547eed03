"""The XSS probes against a real Flask app: each vulnerable context is found with the proof of a
breakout, its escaped twin and the non-HTML reflections are not; stored XSS is found through a
form and a later page, never through an escaped page or by submitting a login form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apps_h6 import context, form_point, json_point, make_app, query_point, serve
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from secpipe.scanners.web.model import Response
from secpipe.scanners.web.probes.xss import (
    ReflectedXss,
    StoredXss,
    contexts_of,
    is_html_response,
    js_states,
    parse_html,
)


@pytest.fixture(scope="module")
def app_and_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    app = make_app(Path(tmp_path_factory.mktemp("h6xss")))
    with serve(app) as base:
        yield app, base


@pytest.fixture(scope="module")
def base(app_and_base: tuple[Flask, str]) -> str:
    return app_and_base[1]


VULNERABLE = [
    ("/xss/html", "html"),
    ("/xss/attr", 'attr:"'),
    ("/xss/attr-single", "attr:'"),
    ("/xss/attr-unquoted", "attr:"),
    ("/xss/js", "js:'"),
    ("/xss/js-backslash", "js:'"),
    ("/xss/js-template", "js:`"),
    ("/xss/href", "url"),
    ("/xss/href-filter", "url"),
    ("/xss/textarea", "rcdata:textarea"),
    ("/xss/comment", "comment"),
    ("/xss/onclick", "jsattr:'"),
    ("/xss/title", "rcdata:title"),
]


@pytest.mark.parametrize(("route", "ctx_name"), VULNERABLE)
def test_reflected_xss_found_in_each_context(base: str, route: str, ctx_name: str) -> None:
    ctx = context(base)
    point = query_point(base, route, "q", "hello")
    found = ReflectedXss().run(ctx, point)
    assert [f.kind for f in found] == ["xss-reflected"]
    finding = found[0]
    assert finding.detail == ctx_name
    assert finding.param == "q" and finding.route == route and finding.cwe == "CWE-79"
    assert finding.proof and len(finding.evidence) == 2
    assert ctx.client.sent <= 4 + 7  # soft-404, baseline, canary (2), at most 7 payloads


@pytest.mark.parametrize("route", [
    "/xss/html-safe", "/xss/attr-safe", "/xss/js-safe", "/xss/href-safe", "/xss/textarea-safe",
    "/xss/json", "/xss/raw-json", "/xss/text", "/xss/json-script",
])
def test_no_reflected_xss_on_escaped_twins_and_non_html(base: str, route: str) -> None:
    ctx = context(base)
    assert ReflectedXss().run(ctx, query_point(base, route, "q", "hello")) == []


def test_reflected_xss_when_only_values_like_the_sample_are_shown(base: str) -> None:
    ctx = context(base)
    found = ReflectedXss().run(ctx, query_point(base, "/xss/lang", "lang", "en-GB"))
    assert [(f.kind, f.detail) for f in found] == [("xss-reflected", "html")]
    assert found[0].evidence[1].request.url.split("lang=")[1].startswith("en-GB")


def test_reflected_xss_through_a_post_form_field(base: str) -> None:
    ctx = context(base)
    point = form_point(base, "/xss/form", "name", {"name": "ann", "city": "x"})
    found = ReflectedXss().run(ctx, point)
    assert [(f.kind, f.method, f.param) for f in found] == [("xss-reflected", "POST", "name")]
    safe = form_point(base, "/xss/form", "city", {"name": "ann", "city": "x"})
    assert ReflectedXss().run(ctx, safe) == []


def test_stored_xss_through_a_form_is_found_and_login_is_never_submitted(
        app_and_base: tuple[Flask, str]) -> None:
    app, base = app_and_base
    points = (
        form_point(base, "/guestbook", "name", {"name": "ann", "message": "hi"}),
        form_point(base, "/guestbook", "message", {"name": "ann", "message": "hi"}),
        json_point(base, "/notes", "text", {"text": "remember"}),
        form_point(base, "/login", "username", {"username": "a", "password": "b"}),
        form_point(base, "/login", "password", {"username": "a", "password": "b"}),
    )
    # model endpoints and numeric fields come first in the crawl: the few submissions the
    # probe makes must still reach the guestbook form
    noise = tuple(json_point(base, f"/api/v1/generate{i}", "prompt", {"prompt": "hi"})
                  for i in range(14)) + tuple(
        json_point(base, f"/predict{i}", "features.0", {"features": [1.5, 2]}) for i in range(14))
    logins = app.config["hits"]["login"]
    ctx = context(base, pages=("/", "/guestbook", "/notes"), points=noise + points)
    found = StoredXss().run_site(ctx)
    assert {f.kind for f in found} == {"xss-stored"}
    assert {f.route for f in found} == {"/guestbook"}
    assert {f.param for f in found} == {"name", "message"}
    for finding in found:
        submit, page = finding.evidence
        assert submit.request.method == "POST" and page.request.url.endswith("/guestbook")
        assert finding.proof.split("<")[1].split(">")[0] in page.response.text
    assert app.config["hits"]["login"] == logins


def test_stored_xss_through_a_json_create_endpoint(base: str) -> None:
    point = json_point(base, "/api/comments", "body", {"body": "nice", "stars": 5})
    ctx = context(base, pages=("/comments",), points=(point,))
    found = StoredXss().run_site(ctx)
    assert [(f.kind, f.method, f.route, f.param) for f in found] == [
        ("xss-stored", "POST", "/api/comments", "body")]
    assert found[0].evidence[1].request.url.endswith("/comments")


def test_stored_xss_quiet_when_the_page_escapes(base: str) -> None:
    ctx = context(base, pages=("/notes",), points=(json_point(base, "/notes", "text",
                                                              {"text": "x"}),))
    assert StoredXss().run_site(ctx) == []
    assert ctx.client.sent >= 2  # it did submit and re-read


def test_contexts_and_js_states() -> None:
    page = parse_html("<p>T1</p><input value='T2'><a href=\"T3x\">a</a><!-- T4 -->"
                      "<textarea>T5</textarea><script>var a = \"T6\"; b = `x${T7}`; // T8\n"
                      "</script><div onclick=\"go('T9')\">")
    assert contexts_of(page, "T1") == ["html"]
    assert contexts_of(page, "T2") == ["attr:'"]
    assert contexts_of(page, "T3") == ["url", 'attr:"']
    assert contexts_of(page, "T4") == ["comment"]
    assert contexts_of(page, "T5") == ["rcdata:textarea"]
    assert contexts_of(page, "T6") == ['js:"', "js:tag"]
    assert contexts_of(page, "T7") == ["js:code", "js:tag"]
    assert contexts_of(page, "T8") == ["js://", "js:tag"]
    assert contexts_of(page, "T9") == ["jsattr:'", 'attr:"']
    assert js_states("a = 'x\\'T'; T", "T") == {"'", "code"}


def test_html_sniffing() -> None:
    assert is_html_response(Response(200, body=b"<!DOCTYPE html><p>x</p>"))
    assert not is_html_response(Response(200, body=b"plain <b>words</b>"))
    assert not is_html_response(Response(200, headers=(("Content-Type", "text/plain"),),
                                         body=b"<html><p>x</p>"))


def test_every_probe_module_of_h6_defines_its_kinds() -> None:
    import importlib

    kinds = set()
    for name in ("xss", "sqli", "cmdi", "traversal", "ssti"):
        for probe in importlib.import_module(f"secpipe.scanners.web.probes.{name}").PROBES:
            assert hasattr(probe, "run_site") or (hasattr(probe, "run")
                                                  and hasattr(probe, "applies"))
            kinds.add(probe.kind)
    assert kinds == {"xss-reflected", "xss-stored", "sqli", "cmdi", "path-traversal", "ssti"}


@given(st.text(alphabet="<>/\"'`=${}\\!-ab scriptextarea\n", max_size=300))
@settings(max_examples=200, deadline=None)
def test_parser_and_tokenizer_never_raise_on_arbitrary_markup(markup: str) -> None:
    page = parse_html(markup + "<p>T</p>")
    if "<" not in markup:  # plain text before the paragraph cannot hide it
        assert contexts_of(page, "T") == ["html"]
    assert js_states(markup, "a") <= {"code", "'", '"', "`", "//", "/*"}


def test_hostile_markup_is_parsed_in_bounded_time() -> None:
    # html.parser's close() is quadratic in an unterminated tail; a target's page must not
    # stall the probe (every such page is at most the client's body cap, 2 MiB)
    import time

    from secpipe.scanners.web.probes.xss import parse_html

    for page in ("<!--" * 250_000, "<a " * 300_000, "<a href='" + "x" * 1_000_000):
        started = time.monotonic()
        parse_html(page)
        assert time.monotonic() - started < 5.0, page[:12]


def test_a_redirect_body_is_not_rendered_so_not_xss() -> None:
    # Werkzeug's 302 page links the Location it sends; a browser follows the header and never
    # renders that body, so a javascript: or markup reflection there is no XSS
    from secpipe.scanners.web.model import Response
    from secpipe.scanners.web.probes.xss import is_html_response

    body = b'<!doctype html><title>Redirecting</title><a href="javascript:sp1">here</a>'
    redirect = Response(302, headers=(("Content-Type", "text/html"),
                                      ("Location", "javascript:sp1")), body=body)
    assert not is_html_response(redirect)
    assert is_html_response(Response(200, headers=(("Content-Type", "text/html"),), body=body))


def test_comments_end_where_a_browser_ends_them() -> None:
    # html.parser reads on past <!-->, <!---> and --!> (browsers close the comment there) and
    # drops an unclosed comment's rest: reflections after them were invisible (review 16)
    filler = "z" * 5000
    assert contexts_of(parse_html("<!--><p>T1</p>" + filler), "T1") == ["html"]
    assert contexts_of(parse_html("<!---><p>T1</p><!-- b -->"), "T1") == ["html"]
    assert contexts_of(parse_html("<!-- a --!><p>T1</p>" + filler), "T1") == ["html"]
    assert contexts_of(parse_html("<!-- a -- ><p>T1</p>"), "T1") == ["comment"]  # not an end
    # a comment never closed runs to the end of the page, short or long
    assert contexts_of(parse_html("<p>a</p><!-- x <p>T1</p>"), "T1") == ["comment"]
    assert contexts_of(parse_html("<!-- x" + filler + "<p>T1</p>"), "T1") == ["comment"]
    assert contexts_of(parse_html("<script><!-- T1</script>"), "T1") == ["js://", "js:tag"]


@pytest.fixture(scope="module")
def comment_base() -> Iterator[str]:
    from flask import request

    app = Flask("comments")

    @app.get("/unclosed")
    def unclosed() -> str:  # a debug comment the template never closes, the value inside
        return f"<html><body><p>hi</p><!-- debug: q={request.args.get('q', '')} <p>end</p>"

    @app.get("/abrupt")
    def abrupt() -> str:  # an empty <!--> comment, then the value as HTML text
        return f"<html><body><!--><p>{request.args.get('q', '')}</p>" + "z" * 5000

    with serve(app) as base:
        yield base


@pytest.mark.parametrize(("route", "ctx_name"), [("/unclosed", "comment"), ("/abrupt", "html")])
def test_reflections_after_odd_comments_are_found(comment_base: str, route: str,
                                                  ctx_name: str) -> None:
    ctx = context(comment_base)
    found = ReflectedXss().run(ctx, query_point(comment_base, route, "q", "hello"))
    assert [(f.kind, f.detail) for f in found] == [("xss-reflected", ctx_name)]
