"""The dashboard's routes through a real server on a free loopback port (urllib, no proxy)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from serve_client import Recorded, fetch, start, stop
from serve_project import HOSTILE, PLANT_FINDINGS, PLANTED, TOKEN

from secpipe.serve import Dashboard
from secpipe.serve.app import CSP, MAX_CLIENTS, allowed_hosts, is_loopback

PAGES = ("/", "/trends", "/runs/latest", "/runs/latest/findings", "/api/runs", "/api/trends",
         "/api/runs/latest", "/api/runs/latest/findings")


def test_runs_list_shows_every_recorded_run(server: Dashboard, recorded: Recorded) -> None:
    reply = fetch(server, "/")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    rows = re.findall(r'<tr class="run" data-run="([0-9a-f-]+)">', reply.text)
    assert rows == list(reversed(recorded.runs))  # newest first
    assert reply.text.count("st-failed") == 2 and reply.text.count("st-passed") == 1
    assert "3 critical" in reply.text  # the scanner's three planted credentials


@pytest.mark.parametrize("target", [*PAGES, "/runs/latest/report.html", "/static/style.css",
                                    "/nope", "/runs/latest/findings?severity=bogus"])
def test_every_answer_has_the_security_headers(server: Dashboard, target: str) -> None:
    reply = fetch(server, target)
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp or "'sha256-" in csp  # only the HTML report's hashed script
    assert "unsafe-inline" not in csp.replace("style-src 'unsafe-inline'", "")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Server"] == "secpipe-serve"  # no Python version
    if target in ("/", "/trends"):
        assert csp == CSP
    if not target.startswith(("/api/", "/runs/latest/report.", "/static/")):
        assert "<script" not in reply.text.lower()  # the dashboard's pages carry no script


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                                    "PROPFIND", "FOO"])
def test_only_get_and_head(server: Dashboard, recorded: Recorded, method: str) -> None:
    before = recorded.db.stat().st_mtime_ns
    reply = fetch(server, "/runs/latest", method=method)
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, HEAD"
    assert recorded.db.stat().st_mtime_ns == before


def test_head_has_headers_and_no_body(server: Dashboard) -> None:
    get = fetch(server, "/runs/latest")
    head = fetch(server, "/runs/latest", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["Content-Length"] == str(len(get.body))


@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("LOCALHOST:{port}", True),
    ("[::1]:{port}", True), ("evil.example:{port}", False), ("evil.example", False),
    ("127.0.0.1", False), ("127.0.0.1:1", False), ("localhost.evil.example:{port}", False),
])
def test_host_header_is_checked(server: Dashboard, host: str, ok: bool) -> None:
    reply = fetch(server, "/api/runs", headers={"Host": host.format(port=server.port)})
    assert reply.status == (200 if ok else 421)
    if not ok:
        assert "runs" not in json.loads(reply.body)


def test_allowed_hosts_for_other_bindings() -> None:
    assert "box.example:80" in allowed_hosts("10.0.0.5", 80, ("box.example",))
    assert "box.example:8443" in allowed_hosts("10.0.0.5", 80, ("Box.Example:8443",))
    assert "[fe80::1]:80" in allowed_hosts("10.0.0.5", 80, ("fe80::1",))
    assert "[fe80::1]:9" in allowed_hosts("10.0.0.5", 80, ("[fe80::1]:9",))
    assert "10.0.0.5:80" in allowed_hosts("10.0.0.5", 80)
    assert "localhost:80" not in allowed_hosts("10.0.0.5", 80)
    assert "[::1]:9" in allowed_hosts("::1", 9)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")  # noqa: S104


@pytest.mark.parametrize("target", [
    "/runs/../../etc/passwd", "/runs/..%2f..%2fetc%2fpasswd", "/runs/latest/report.html/../x",
    "/runs/latest/report.%2e%2e", "/runs/latest/report.py", "/runs/latest/../../../etc/passwd",
    "/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd",
    "/runs/latest/report..html", "/api/runs/latest%00/findings", "/runs/LATEST",
    "/runs/latest/report.html%00.md",
])
def test_no_path_traversal(server: Dashboard, target: str) -> None:
    reply = fetch(server, target)
    assert reply.status in (400, 404)
    assert "root:" not in reply.text


@pytest.mark.parametrize("query,status", [
    ("severity=" + "x" * 201, 400), ("rule=a&rule=b", 400), ("page=0", 400),
    ("page=10001", 400), ("page=-1", 400), ("page=1e3", 400), ("severity=bogus", 400),
    ("&".join(f"k{i}=v" for i in range(25)), 400), ("q=" + "y" * 200, 200),
])
def test_query_parameters_are_bounded(server: Dashboard, query: str, status: int) -> None:
    assert fetch(server, "/runs/latest/findings?" + query).status == status
    assert fetch(server, "/api/runs/latest/findings?" + query).status == status


def test_overlong_target_and_limits(server: Dashboard) -> None:
    assert fetch(server, "/?pipeline=" + "p" * 3000).status == 414
    assert fetch(server, "/?limit=0").status == 400
    assert fetch(server, "/?limit=201").status == 400
    runs = json.loads(fetch(server, "/api/runs?limit=1").body)["runs"]
    assert len(runs) == 1


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr class="finding" data-severity="(\w+)"', page)


def test_findings_filters_narrow(server: Dashboard) -> None:
    total = PLANT_FINDINGS + 2 + 3  # alpha, two beta, three planted credentials
    everything = fetch(server, "/runs/latest/findings")
    assert f"{total} findings match (page 1 of 2)" in everything.text
    assert len(_rows(everything.text)) == 50  # one bounded page
    assert _rows(everything.text)[:3] == ["critical"] * 3  # worst first
    second = fetch(server, "/runs/latest/findings?page=2")
    assert len(_rows(second.text)) == total - 50
    crit = fetch(server, "/runs/latest/findings?severity=critical")
    assert _rows(crit.text) == ["critical"] * 3
    beta = fetch(server, "/runs/latest/findings?scanner=beta")
    assert "2 findings match" in beta.text and "needle in beta" in beta.text
    rule = fetch(server, "/runs/latest/findings?rule=alpha.rule-1")
    assert "20 findings match" in rule.text
    text = fetch(server, "/runs/latest/findings?q=NEEDLE")
    assert "1 finding match" in text.text
    both = fetch(server, "/runs/latest/findings?scanner=alpha&severity=medium&q=number+1")
    assert set(_rows(both.text)) == {"medium"}
    none = fetch(server, "/runs/latest/findings?scanner=nobody")
    assert "0 findings match" in none.text and not _rows(none.text)
    # the pager keeps the filters
    assert 'href="/runs/' in second.text and "rel=\"prev\"" in second.text


def test_api_mirrors_the_pages(server: Dashboard, recorded: Recorded) -> None:
    runs = json.loads(fetch(server, "/api/runs").body)["runs"]
    assert [r["id"] for r in runs] == list(reversed(recorded.runs))
    assert [r["status"] for r in runs] == ["passed", "failed", "failed"]
    detail = json.loads(fetch(server, f"/api/runs/{recorded.runs[0]}").body)
    gate = next(s for s in detail["steps"] if s["kind"] == "gate")["gate"]
    assert gate["passed"] is False and any("critical" in r or "high" in r
                                           for r in gate["reasons"])
    assert [s["name"] for s in detail["stages"]] == ["scan", "gate"]
    found = json.loads(fetch(server, "/api/runs/latest/findings?severity=high").body)
    assert found["total"] == 1 and found["findings"][0]["rule_id"] == "beta.unique"
    trend = json.loads(fetch(server, "/api/trends").body)
    assert trend["runs"] == recorded.runs
    assert trend["metrics"]["plant.accuracy"] == [0.81, 0.86, 0.93]
    assert trend["severities"]["critical"] == [3, 3, 3]


def test_run_page_shows_stages_steps_and_gate(server: Dashboard, recorded: Recorded) -> None:
    first = recorded.runs[0]
    prefix = next(first[:n] for n in range(16, len(first) + 1)
                  if not any(r.startswith(first[:n]) for r in recorded.runs[1:]))
    page = fetch(server, f"/runs/{prefix}").text  # a unique prefix works too
    assert f"Run {recorded.runs[0]}" in page
    assert 'data-verdict="failed"' in page and "at high or worse" in page
    assert page.count('class="step"') == 3
    for ext in ("html", "json", "md", "sarif"):
        assert f'href="/runs/{recorded.runs[0]}/report.{ext}"' in page
    passed = fetch(server, f"/runs/{recorded.runs[2]}").text
    assert 'data-verdict="passed"' in passed


def test_reports_rendered_on_demand(server: Dashboard, recorded: Recorded) -> None:
    html = fetch(server, "/runs/latest/report.html")
    assert html.status == 200 and html.text.startswith("<!DOCTYPE html>")
    csp = html.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in csp and csp.endswith("frame-ancestors 'none'")
    sarif = fetch(server, "/runs/latest/report.sarif")
    assert json.loads(sarif.body)["version"] == "2.1.0"
    as_json = json.loads(fetch(server, "/runs/latest/report.json").body)
    assert as_json["run"]["id"] == recorded.runs[-1]
    md = fetch(server, "/runs/latest/report.md")
    assert md.headers["Content-Type"].startswith("text/plain") and "secpipe" in md.text


def test_unknown_runs_and_pages_are_404(server: Dashboard) -> None:
    assert fetch(server, "/runs/20990101-000000-ffff").status == 404
    assert fetch(server, "/runs/2").status in (400, 404)  # ambiguous prefix: not shown
    reply = fetch(server, "/api/runs/20990101-000000-ffff")
    assert reply.status == 404 and json.loads(reply.body)["error"] == "Not Found"


def _every_target(recorded: Recorded) -> list[str]:
    targets = [*PAGES, "/runs/latest/findings?page=2"]
    for run in recorded.runs:
        targets += [f"/runs/{run}", f"/runs/{run}/findings", f"/runs/{run}/findings?page=2",
                    f"/api/runs/{run}", f"/api/runs/{run}/findings"]
        targets += [f"/runs/{run}/report.{ext}" for ext in ("html", "json", "md", "sarif")]
    return targets


def test_planted_secret_never_appears(server: Dashboard, recorded: Recorded) -> None:
    seen_redacted = seen_masked = False
    for target in _every_target(recorded):
        reply = fetch(server, target)
        assert reply.status == 200, target
        for secret in (*PLANTED, TOKEN):
            for form in (secret, secret[4:-2], secret.encode().hex()):
                assert form not in reply.text, (target, secret)
        seen_redacted = seen_redacted or "AKIA****" in reply.text
        seen_masked = seen_masked or "connected with token ***" in reply.text
    assert seen_redacted and seen_masked  # the finding and the message are there, redacted


def test_hostile_text_is_escaped_everywhere(server: Dashboard, recorded: Recorded) -> None:
    for target in ("/runs/latest/findings?scanner=beta", "/runs/latest/findings?q=PWNED"):
        page = fetch(server, target).text
        assert "<script>document" not in page and "<img src=x" not in page
        assert "<svg onload" not in page and "<b>title</b>" not in page
        assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;" in page
    api = json.loads(fetch(server, "/api/runs/latest/findings?scanner=beta").body)
    assert HOSTILE in [f["message"] for f in api["findings"]]  # JSON keeps the value as is


def test_without_a_store_nothing_is_created(tmp_path: Path) -> None:
    db = tmp_path / ".secpipe" / "runs.db"
    srv, thread = start(db)
    try:
        assert "No run store yet" in fetch(srv, "/").text
        assert "No runs recorded yet" in fetch(srv, "/trends").text
        assert fetch(srv, "/runs/latest").status == 404
        assert json.loads(fetch(srv, "/api/runs").body) == {"runs": []}
    finally:
        stop(srv, thread)
    assert not db.exists() and not db.parent.exists()


def test_busy_server_answers_503(recorded: Recorded) -> None:
    srv, thread = start(recorded.db)
    try:
        for _ in range(MAX_CLIENTS):
            srv.slots.acquire()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.0 503")
    finally:
        stop(srv, thread)


def test_trends_metric_filter(server: Dashboard) -> None:
    trend = json.loads(fetch(server, "/api/trends?metric=ACCURACY").body)
    assert list(trend["metrics"]) == ["plant.accuracy"]
    page = fetch(server, "/trends?metric=f1&limit=2").text
    assert re.findall(r'data-metric="([^"]+)"', page) == ["plant.f1"]
    assert page.count("<circle") == 5 * 2 + 2  # severities over two runs, then f1


def test_malformed_requests_get_the_same_headers(server: Dashboard) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        head = sock.recv(4096).decode("latin-1")
    assert head.startswith("HTTP/1.0 400") or head.startswith("HTTP/1.1 400")
    assert "Content-Security-Policy: default-src 'none'" in head
    assert "X-Content-Type-Options: nosniff" in head


def test_the_store_is_opened_read_only(recorded: Recorded) -> None:
    from secpipe.core.errors import StoreError
    from secpipe.serve.data import ReadOnlyRunStore

    store = ReadOnlyRunStore(recorded.db)
    try:
        assert store.latest_run_id() == recorded.runs[-1]
        with pytest.raises(StoreError, match="readonly"):
            store.start_run("p", str(recorded.root))
    finally:
        store.close()
    assert [r.run_id for r in reversed(ReadOnlyRunStore(recorded.db).list_runs())] == \
        recorded.runs
