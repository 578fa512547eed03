"""A login session lost during an authenticated ``scan-web`` (review of issue 16, item 6): the
step re-checks ``check_url`` after the crawl and after probing and notices a response deleting
the session cookie; either is ``web.scan-incomplete`` "session lost". Session-ending links
(``/session/end``, ``/auth/destroy``, ``/exit``) are never followed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apps_h4 import serve
from flask import Flask, Response, redirect, request

from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.execute import run_guarded
from secpipe.scanners.web.auth import Auth, CookieJar
from secpipe.scanners.web.step import WebScanSettings, WebScanStep

PASSWORD = "pw" + "-Lq8Rt2Vx"


def session_app(*, expire_after: int | None = None, delete_on: str = "",
                end_links: bool = False) -> Flask:
    """A login app; the session dies after ``expire_after`` authenticated requests, or a GET of
    ``delete_on`` answers with the session cookie deleted; ``end_links`` adds links that end
    the session (/session/end, /auth/destroy, /exit)."""
    app = Flask("session")
    sessions: dict[str, int] = {}

    def logged_in() -> bool:
        sid = request.cookies.get("sid", "")
        if sid not in sessions:
            return False
        sessions[sid] += 1
        if expire_after is not None and sessions[sid] > expire_after:
            del sessions[sid]
            return False
        return True

    @app.get("/")
    def index() -> str:
        return "<html><body><a href='/dashboard'>dash</a></body></html>"

    @app.post("/login")
    def login() -> Any:
        if request.form.get("password") != PASSWORD:
            return Response("bad login", 403)
        sid = f"s{len(sessions) + 7000}"
        sessions[sid] = 0
        response = redirect("/dashboard", 302)
        response.set_cookie("sid", sid, httponly=True)
        return response

    @app.get("/dashboard")
    def dashboard() -> Any:
        if not logged_in():
            return Response("login first", 401)
        links = "".join(f"<a href='/account?tab={t}'>{t}</a>" for t in ("a", "b", "c"))
        if end_links:
            links += ("<a href='/session/end'>bye</a><a href='/auth/destroy'>bye</a>"
                      "<a href='/exit'>bye</a>")
        return f"<html><body>{links}</body></html>"

    @app.get("/account")
    def account() -> Any:
        if not logged_in():
            return Response("login first", 401)
        response = Response(f"<html><body>tab {len(request.args.get('tab', ''))}</body></html>")
        if delete_on and request.args.get("tab") == delete_on:
            response.delete_cookie("sid")
        return response

    def end() -> Any:
        sessions.pop(request.cookies.get("sid", ""), None)
        return redirect("/", 302)

    for path in ("/session/end", "/auth/destroy", "/exit"):
        app.add_url_rule(path, path, end)
    return app


def scan(tmp_path: Path, url: str, *, check: bool = True, **extra: Any) -> StepResult:
    secrets = SecretResolver(tmp_path, environ={"APP_PW": PASSWORD})
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "work", secrets=secrets)
    ctx.log = lambda m: None
    login: dict[str, Any] = {"url": "/login", "fields": {"user": "alice",
                                                         "password": "${env:APP_PW}"}}
    if check:
        login["check_url"] = "/dashboard"
    settings = WebScanSettings.model_validate(
        {"targets": [url + "/"], "auth": {"login": login}, "probes": ["sqli"], **extra})
    return run_guarded(WebScanStep, ctx, settings)


def lost(result: StepResult) -> str:
    return " ".join(f.message for f in result.findings
                    if f.rule_id == "web.scan-incomplete" and "session lost" in f.message)


def test_an_expired_session_is_reported(tmp_path: Path) -> None:
    with serve(session_app(expire_after=4)) as served:
        result = scan(tmp_path, served.url)
    assert result.status is StepStatus.PASSED, result.message
    assert "session lost after the crawl" in lost(result)
    assert "/dashboard answered 401" in lost(result)


def test_a_deleted_session_cookie_is_reported_without_check_url(tmp_path: Path) -> None:
    with serve(session_app(delete_on="b")) as served:
        result = scan(tmp_path, served.url, check=False)
    assert "deleted the session cookie sid" in lost(result), result.findings


def test_a_session_that_lasts_is_not_reported_and_end_links_are_not_followed(
        tmp_path: Path) -> None:
    with serve(session_app(end_links=True)) as served:
        result = scan(tmp_path, served.url)
    assert result.status is StepStatus.PASSED, result.message
    assert lost(result) == ""
    assert any(h.startswith("GET /account?tab=") for h in served.hits)
    assert not any(h.split(" ", 1)[1].startswith(("/session/end", "/auth/destroy", "/exit"))
                   for h in served.hits)
    # the check ran after the crawl and after probing (besides the one after the login)
    assert sum(h == "GET /dashboard" for h in served.hits) >= 3


def test_logout_like_urls_are_excluded_in_an_authenticated_scan() -> None:
    auth = Auth(jar=CookieJar("http://h:1"))
    for url in ("http://h:1/logout", "http://h:1/session/end", "http://h:1/auth/destroy",
                "http://h:1/exit", "http://h:1/api/exit?now=1", "http://h:1/end-session",
                "http://h:1/sessions/delete", "http://h:1/sign_out"):
        assert auth.excluded(url), url
    for url in ("http://h:1/exits/report", "http://h:1/account", "http://h:1/session/info",
                "http://h:1/context"):
        assert not auth.excluded(url), url
    assert not Auth().excluded("http://h:1/session/end")  # no session to lose
