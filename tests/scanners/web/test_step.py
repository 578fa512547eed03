"""The ``scan-web`` step on real local apps: the whole flow, budgets, hostile and absent
targets, scope refusal, authenticated scans (header from ${env:…}, login form), deployment."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps_h4 import (
    RawServer,
    Served,
    echo_headers_app,
    fifty_megabytes,
    free_port,
    hang,
    login_app,
    other_app,
    serve,
    site_app,
)

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.execute import run_guarded
from secpipe.scanners.web.step import WebScanSettings, WebScanStep, check_scope, host_allowed

TOKEN = "tk" + "_9f8e7d6c5b4a3921"
PASSWORD = "pw" + "-Xy7Qz3Lm"


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[Served, Served]]:
    with serve(other_app()) as other, serve(site_app(other.url)) as site:
        yield site, other


def context(tmp_path: Path, env: dict[str, str] | None = None,
            earlier: tuple[FinishedStep, ...] = ()) -> tuple[StepContext, list[str]]:
    logs: list[str] = []
    secrets = SecretResolver(tmp_path, environ=env or {})
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "work", secrets=secrets,
                      earlier=earlier)
    ctx.log = lambda m: logs.append(secrets.redact(m))
    return ctx, logs


def scan(tmp_path: Path, env: dict[str, str] | None = None, **settings: Any) -> StepResult:
    ctx, _ = context(tmp_path, env)
    return run_guarded(WebScanStep, ctx, WebScanSettings.model_validate(settings))


def rules(result: StepResult) -> set[str]:
    return {f.rule_id for f in result.findings}


def incomplete(result: StepResult) -> str:
    return " ".join(f.message for f in result.findings if f.rule_id == "web.scan-incomplete")


def test_full_scan_runs_every_part(apps: tuple[Served, Served], tmp_path: Path) -> None:
    site, other = apps
    result = scan(tmp_path, targets=[site.url + "/"])
    assert result.status is StepStatus.PASSED, result.message
    assert result.metrics["web_pages"] >= 10 and result.metrics["web_points"] >= 15
    assert result.metrics["web_requests"] > 100  # site checks and probes ran
    assert "web.missing-header" in rules(result)  # passive checks ran
    ssti = [f for f in result.findings if f.rule_id == "web.ssti"]
    assert [(f.location.path, dict(f.properties)["param"]) for f in ssti] == \
        [("/browser", "header User-Agent")]  # a header input point
    traces = [f for f in result.findings if f.rule_id == "web.stack-trace"]
    assert [f.location.path for f in traces] == ["/report"]  # the error a probe caused
    assert "web.scan-incomplete" not in rules(result), incomplete(result)
    assert result.metrics["web_findings"] == len(result.findings)
    assert len({f.fingerprint for f in result.findings}) == len(result.findings)
    assert other.hits == []
    for finding in result.findings:
        props = dict(finding.properties)
        assert props["replay"].startswith("curl ") and props["route"].startswith("/")
        assert finding.scanner == "scan-web" and str(site.url.rsplit(":", 1)[1]) not in \
            finding.location.path


def test_fingerprints_do_not_depend_on_the_port(tmp_path: Path) -> None:
    prints = []
    for _ in range(2):
        with serve(other_app()) as other, serve(site_app(other.url)) as site:
            result = scan(tmp_path, targets=[site.url + "/"], active=False)
            prints.append({f.fingerprint for f in result.findings})
    assert prints[0] == prints[1] and prints[0]


def test_tiny_request_budget_is_scan_incomplete(apps: tuple[Served, Served],
                                                tmp_path: Path) -> None:
    site, _ = apps
    result = scan(tmp_path, targets=[site.url + "/"], max_requests=12)
    assert result.status is StepStatus.PASSED
    finding = next(f for f in result.findings if f.rule_id == "web.scan-incomplete")
    assert finding.severity.value == "high" and "request budget of 12" in finding.message
    assert result.metrics["web_requests"] == 12


def test_time_budget_is_scan_incomplete(apps: tuple[Served, Served], tmp_path: Path) -> None:
    site, _ = apps
    started = time.monotonic()
    result = scan(tmp_path, targets=[site.url + "/"], max_seconds=0.3)
    assert time.monotonic() - started < 15
    assert "time budget" in incomplete(result)


def test_a_50_mb_target_is_bounded(tmp_path: Path) -> None:
    with RawServer(fifty_megabytes) as big:
        started = time.monotonic()
        result = scan(tmp_path, targets=[big.url + "/"], max_body_bytes=1 << 20,
                      max_requests=40, active=False)
        assert time.monotonic() - started < 30
    assert "cut at the body limit" in incomplete(result)


def test_a_hanging_target_is_an_error_with_a_finding(tmp_path: Path) -> None:
    with RawServer(hang) as server:
        started = time.monotonic()
        result = scan(tmp_path, targets=[server.url + "/"], request_timeout=0.5)
        assert time.monotonic() - started < 10
    assert result.status is StepStatus.ERROR and "no target answered" in result.message
    assert "timeout" in incomplete(result)


def test_an_unreachable_target_is_an_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = scan(tmp_path, targets=[url])
    assert result.status is StepStatus.ERROR
    assert "connection refused" in incomplete(result)


def test_one_of_two_targets_unreachable_is_a_finding(apps: tuple[Served, Served],
                                                     tmp_path: Path) -> None:
    site, _ = apps
    dead = f"http://127.0.0.1:{free_port()}/"
    result = scan(tmp_path, targets=[site.url + "/", dead], active=False)
    assert result.status is StepStatus.PASSED
    assert "did not answer" in incomplete(result)


def test_targets_outside_the_scope_are_refused(tmp_path: Path) -> None:
    result = scan(tmp_path, targets=["http://8.8.8.8/"])
    assert result.status is StepStatus.ERROR and "allow_hosts" in result.message
    with pytest.raises(ConfigError, match="allow_hosts"):
        check_scope(["https://1.1.1.1:8443/x"], [])
    check_scope(["http://8.8.8.8/"], ["8.8.8.8"])
    assert host_allowed("127.0.0.1", []) and host_allowed("10.1.2.3", [])
    assert host_allowed("::1", []) and host_allowed("localhost", [])
    assert not host_allowed("8.8.4.4", [])


def test_bad_settings_are_refused() -> None:
    for bad in ({"targets": ["ftp://127.0.0.1/"]}, {"targets": ["http://127.0.0.1:99999/"]},
                {"auth": {"header": {"value": "x", "bogus": 1}}}, {"concurrency": 0}):
        with pytest.raises(ValueError):
            WebScanSettings.model_validate(bad)


def test_unknown_probe_kind_is_a_config_error(apps: tuple[Served, Served],
                                              tmp_path: Path) -> None:
    site, _ = apps
    result = scan(tmp_path, targets=[site.url + "/"], probes=["xss-reflected", "nope"])
    assert result.status is StepStatus.ERROR and "nope" in result.message


def test_no_target_is_skipped(tmp_path: Path) -> None:
    result = scan(tmp_path)
    assert result.status is StepStatus.SKIPPED and result.message.startswith("not configured:")


def test_the_deployment_is_the_default_target(apps: tuple[Served, Served],
                                              tmp_path: Path) -> None:
    site, _ = apps
    path = tmp_path / "deployment.json"
    port = int(site.url.rsplit(":", 1)[1])
    raw = json.dumps({"url": site.url, "kind": "process", "host": "127.0.0.1", "port": port,
                      "ports": [port], "pid": 1}).encode()
    path.write_bytes(raw)
    artifact = Artifact("deployment", str(path), "sha256:" + hashlib.sha256(raw).hexdigest(),
                        len(raw), "application/json")
    earlier = (FinishedStep("deploy", "deploy", "deploy", StepResult(artifacts=(artifact,))),)
    ctx, _ = context(tmp_path, earlier=earlier)
    before = len(site.hits)
    result = run_guarded(WebScanStep, ctx, WebScanSettings(active=False))
    assert result.status is StepStatus.PASSED and len(site.hits) > before


def test_auth_header_from_env_is_sent_and_never_shown(tmp_path: Path) -> None:
    app = echo_headers_app()
    app.config["EXPECTED"]["auth"] = f"Bearer {TOKEN}"
    with serve(app) as served:
        ctx, logs = context(tmp_path, {"WEB_TOKEN": TOKEN})
        settings = WebScanSettings.model_validate({
            "targets": [served.url + "/"],
            "auth": {"header": {"name": "Authorization", "value": "Bearer ${env:WEB_TOKEN}"}}})
        result = run_guarded(WebScanStep, ctx, settings)
    assert result.status is StepStatus.PASSED
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for h in served.headers)
    assert "GET /secret?id=1" in served.hits
    everything = json.dumps([f.to_dict() for f in result.findings]) + result.message + \
        " ".join(logs)
    assert TOKEN not in everything
    assert result.findings  # the echo page was reported on, without the token


def test_login_flow_keeps_the_session_and_never_logs_out(tmp_path: Path) -> None:
    with serve(login_app(PASSWORD)) as served:
        ctx, logs = context(tmp_path, {"APP_PW": PASSWORD})
        settings = WebScanSettings.model_validate({
            "targets": [served.url + "/"],
            "auth": {"login": {"url": "/login", "fields": {"user": "alice",
                                                            "password": "${env:APP_PW}"},
                               "check_url": "/dashboard"}}})
        result = run_guarded(WebScanStep, ctx, settings)
    assert result.status is StepStatus.PASSED, result.message
    assert served.hits.count("POST /login") == 1
    assert "GET /account?tab=profile" in served.hits
    assert "GET /logout" not in served.hits
    assert not any(h.startswith("GET /login") for h in served.hits)
    everything = json.dumps([f.to_dict() for f in result.findings]) + " ".join(logs)
    assert PASSWORD not in everything
    assert "s1000" not in everything  # the session cookie's value
    assert all("-H 'Cookie: ***'" in dict(f.properties)["replay"] for f in result.findings)


def test_a_failed_login_is_an_error(tmp_path: Path) -> None:
    with serve(login_app(PASSWORD)) as served:
        result = scan(tmp_path, {"APP_PW": "wrong-pass"}, targets=[served.url + "/"],
                      auth={"login": {"url": "/login",
                                      "fields": {"user": "alice", "password": "${env:APP_PW}"}}})
    assert result.status is StepStatus.ERROR and "login" in result.message
    assert "wrong-pass" not in result.message


def test_passive_only_sends_no_probe(apps: tuple[Served, Served], tmp_path: Path) -> None:
    site, _ = apps
    before = len(site.hits)
    result = scan(tmp_path, targets=[site.url + "/"], active=False)
    assert result.status is StepStatus.PASSED
    assert len(site.hits) - before == result.metrics["web_requests"] < 40


def test_excluded_urls_are_never_requested(tmp_path: Path) -> None:
    with serve(other_app()) as other, serve(site_app(other.url)) as site:
        result = scan(tmp_path, targets=[site.url + "/"], exclude_urls=["/search*", "*/team"],
                      max_requests=2000)
    assert result.status is StepStatus.PASSED
    assert len(site.hits) > 100  # probes ran
    assert not any(h.split(" ", 1)[1].startswith(("/search", "/about/team")) for h in site.hits)
    assert not any(f.location.path.startswith("/search") for f in result.findings)
