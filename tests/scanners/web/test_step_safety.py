"""Safety of the ``scan-web`` step (review of issue 16): write endpoints are not probed without
``unsafe_writes`` (and the step says how many were skipped), a page with nothing but the made-up
User-Agent point is not a pass, the default scope refuses link-local (cloud metadata) and
unspecified addresses, and an SSRF probe that cannot reach a podman deployment says so."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from apps_h4 import serve
from flask import Flask, request

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.execute import run_guarded
from secpipe.scanners.web.model import InputKind, InputPoint
from secpipe.scanners.web.step import (
    WebScanSettings,
    WebScanStep,
    check_scope,
    host_allowed,
    is_write_point,
)


def context(tmp_path: Path, earlier: tuple[FinishedStep, ...] = ()) -> StepContext:
    secrets = SecretResolver(tmp_path, environ={})
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "work", secrets=secrets,
                      earlier=earlier)
    ctx.log = lambda m: None
    return ctx


def scan(tmp_path: Path, **settings: Any) -> StepResult:
    return run_guarded(WebScanStep, context(tmp_path), WebScanSettings.model_validate(settings))


def incomplete(result: StepResult) -> list[str]:
    return [f.message for f in result.findings if f.rule_id == "web.scan-incomplete"]


def shop_app() -> Flask:
    """Forms that write (delete, transfer, reset) beside harmless ones (comment, search)."""
    app = Flask("shop")

    @app.get("/")
    def index() -> str:
        return ("<html><body>"
                "<form action='/items/delete' method='post'><input name='id' value='1'></form>"
                "<form action='/account/transfer' method='post'><input name='amount'>"
                "<input name='to'></form>"
                "<form action='/settings' method='post'><input name='op' value='reset'>"
                "<input name='scope'></form>"
                "<form action='/comment' method='post'><input name='text'></form>"
                "<a href='/search?q=shoes'>search</a></body></html>")

    for path in ("/items/delete", "/account/transfer", "/settings", "/comment"):
        app.add_url_rule(path, path, lambda: "<p>done</p>", methods=["POST"])

    @app.get("/search")
    def search() -> str:
        return f"<p>{len(request.args.get('q', ''))} results</p>"

    return app


WRITES = ("POST /items/delete", "POST /account/transfer", "POST /settings")


def test_write_endpoints_are_skipped_and_counted(tmp_path: Path) -> None:
    with serve(shop_app()) as served:
        result = scan(tmp_path, targets=[served.url + "/"], probes=["sqli", "xss-reflected"],
                      max_requests=3000)
    assert result.status is StepStatus.PASSED, result.message
    assert not any(h.startswith(WRITES) for h in served.hits)
    assert any(h.startswith("POST /comment") for h in served.hits)  # not a write: probed
    assert any(h.startswith("GET /search?q=") and "shoes" not in h for h in served.hits)
    assert "input point(s) of write endpoints not probed" in result.message
    # delete: id; transfer: amount, to; settings: op, scope
    assert "; 5 input point(s) of write endpoints not probed" in result.message


def test_unsafe_writes_probes_them(tmp_path: Path) -> None:
    with serve(shop_app()) as served:
        result = scan(tmp_path, targets=[served.url + "/"], probes=["sqli"],
                      unsafe_writes=True, max_requests=3000)
    assert result.status is StepStatus.PASSED, result.message
    assert all(any(h.startswith(w) for h in served.hits) for w in WRITES)
    assert "write endpoints" not in result.message


def test_write_point_classification() -> None:
    def point(method: str, path: str, name: str = "x", **params: str) -> InputPoint:
        return InputPoint(InputKind.FORM, method, "http://h" + path, name,
                          params=tuple(params.items()) or ((name, "1"),))

    assert is_write_point(point("DELETE", "/api/items/7"))
    assert is_write_point(point("PUT", "/api/profile"))
    assert is_write_point(point("PATCH", "/api/profile"))
    assert is_write_point(point("POST", "/api/deleteUser"))
    assert is_write_point(point("POST", "/wallet/withdraw", "amount"))
    assert is_write_point(point("POST", "/api/orders", "x", x="1", action="cancel"))
    assert is_write_point(point("POST", "/password_reset", "email"))
    assert not is_write_point(point("GET", "/items/delete", "id"))  # GETs are read-only here
    for path in ("/logout", "/comment", "/guestbook/sign", "/contact/preview", "/login",
                 "/api/v1/predict", "/api/v1/render", "/tools/checksum", "/display",
                 "/dropdown", "/reviews/add"):
        assert not is_write_point(point("POST", path)), path


def test_a_page_without_real_input_points_is_incomplete(tmp_path: Path) -> None:
    app = Flask("spa")

    @app.get("/")
    def index() -> str:
        return "<html><body><div id='root'></div><script src='/app.js'></script></body></html>"

    @app.get("/app.js")
    def script() -> Any:
        return app.response_class("console.log(1)", mimetype="application/javascript")

    with serve(app) as served:
        result = scan(tmp_path, targets=[served.url + "/"], probes=["sqli"])
    assert any("found no input point" in m for m in incomplete(result)), result.findings


def test_only_write_points_is_incomplete(tmp_path: Path) -> None:
    app = Flask("deleter")

    @app.get("/")
    def index() -> str:
        return ("<html><body><form action='/purge' method='post'><input name='all'></form>"
                "</body></html>")

    app.add_url_rule("/purge", "purge", lambda: "gone", methods=["POST"])
    with serve(app) as served:
        result = scan(tmp_path, targets=[served.url + "/"], probes=["sqli"])
    assert not any(h.startswith("POST /purge") for h in served.hits)
    assert any("is a write endpoint, not probed" in m for m in incomplete(result))


def test_default_scope_refuses_link_local_and_unspecified() -> None:
    for host in ("169.254.169.254", "169.254.1.1", "fe80::1", "[fe80::1]", "0.0.0.0",  # noqa: S104
                 "::",
                 "::ffff:169.254.169.254", "0.1.2.3", "8.8.8.8", "100.64.0.1"):
        assert not host_allowed(host, []), host
    for host in ("127.0.0.1", "127.3.4.5", "::1", "10.1.2.3", "172.16.0.1", "172.31.255.1",
                 "192.168.1.1", "fd00::1", "::ffff:127.0.0.1", "localhost"):
        assert host_allowed(host, []), host
    assert host_allowed("169.254.169.254", ["169.254.169.254"])
    with pytest.raises(ConfigError, match="allow_hosts"):
        check_scope(["http://169.254.169.254/latest/meta-data/"], [])


def _deployment(tmp_path: Path, url: str, kind: str) -> tuple[FinishedStep, ...]:
    port = int(url.rsplit(":", 1)[1])
    path = tmp_path / "deployment.json"
    raw = json.dumps({"url": url, "kind": kind, "host": "127.0.0.1", "port": port,
                      "ports": [port], "pid": 1, "container_id": "c0ffee"}).encode()
    path.write_bytes(raw)
    artifact = Artifact("deployment", str(path), "sha256:" + hashlib.sha256(raw).hexdigest(),
                        len(raw), "application/json")
    return (FinishedStep("deploy", "deploy", "deploy", StepResult(artifacts=(artifact,))),)


def _fetch_app() -> Flask:
    app = Flask("fetch")

    @app.get("/")
    def index() -> str:
        return "<html><body><a href='/preview?url=http://example.invalid/'>p</a></body></html>"

    @app.get("/preview")
    def preview() -> str:
        return "<p>preview unavailable</p>"

    return app


@pytest.mark.parametrize(("kind", "canary", "expected"), [
    ("podman", None, True), ("podman", "10.0.2.2", False), ("process", None, False)])
def test_ssrf_untestable_on_a_podman_deployment(tmp_path: Path, kind: str, canary: str | None,
                                               expected: bool) -> None:
    with serve(_fetch_app()) as served:
        ctx = context(tmp_path, _deployment(tmp_path, served.url, kind))
        settings = WebScanSettings.model_validate(
            {"probes": ["ssrf"], **({"canary_host": canary} if canary else {})})
        result = run_guarded(WebScanStep, ctx, settings)
    assert result.status is StepStatus.PASSED, result.message
    untestable = [f for f in result.findings if f.rule_id == "web.scan-incomplete"
                  and "SSRF probe could not test" in f.message]
    assert bool(untestable) is expected
    assert all(f.severity.name == "LOW" for f in untestable)
