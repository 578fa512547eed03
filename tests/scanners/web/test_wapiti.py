"""The Wapiti adapter: real Wapiti (its own venv) against a small app the test starts with one
reflected XSS and one SQL injection (sqlite3); the report mapping, bounds and refusals."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError, InputError, StepError
from secpipe.core.findings import Severity
from secpipe.scanners.web import wapiti
from servers import free_port

APP = r'''
import html, sqlite3, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DB = sqlite3.connect(":memory:", check_same_thread=False)
DB.execute("create table items(id integer, name text)")
DB.execute("insert into items values (1, 'apple'), (2, 'pear')")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self):
        with open(sys.argv[2], "a") as seen:
            seen.write("POST " + self.path + "\n")
        return self._send(404, "<html><body>not found</body></html>")

    def do_GET(self):
        with open(sys.argv[2], "a") as seen:
            seen.write("GET " + self.path + "\n")
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/":
            return self._send(200, '<html><body><a href="/hello?name=bob">hello</a> '
                                   '<a href="/item?id=1">item</a> '
                                   '<a href="/admin/delete?id=2">delete</a> '
                                   '<a href="/account/LogOut?next=/">bye</a> '
                                   '<a href="/kept?q=1">kept</a></body></html>')
        if url.path == "/hello":  # reflected XSS
            return self._send(200, "<html><body>Hello " + query.get("name", [""])[0]
                              + "</body></html>")
        if url.path == "/item":  # SQL injection
            try:
                rows = DB.execute("select name from items where id = "
                                  + query.get("id", ["1"])[0]).fetchall()
            except sqlite3.Error as exc:
                return self._send(500, "<html><body>sqlite3.OperationalError: "
                                  + html.escape(str(exc)) + "</body></html>")
            return self._send(200, "<html><body>" + html.escape(str(rows)) + "</body></html>")
        return self._send(404, "<html><body>not found</body></html>")


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''


def _real_wapiti() -> str | None:
    """Wapiti on PATH or in the peers venv of the real home (tests point HOME elsewhere)."""
    found = shutil.which("wapiti")
    if found:
        return found
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    venv = home / ".cache" / "secpipe" / "peers" / "wapiti" / "bin" / "wapiti"
    return str(venv) if venv.is_file() else None


WAPITI = _real_wapiti()


@pytest.fixture(scope="module")
def seen_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every request the app answered (method and path), one a line."""
    return tmp_path_factory.mktemp("seen") / "seen.log"


@pytest.fixture(scope="module")
def vulnerable_app(tmp_path_factory: pytest.TempPathFactory, seen_log: Path) -> Iterator[str]:
    script = tmp_path_factory.mktemp("app") / "app.py"
    script.write_text(APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(seen_log)],
                            start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)


@pytest.fixture(scope="module")
def wapiti_run(vulnerable_app: str, tmp_path_factory: pytest.TempPathFactory
               ) -> wapiti.WapitiRun:
    workdir = tmp_path_factory.mktemp("wapiti")
    excludes = wapiti.exclude_patterns(vulnerable_app, ["/admin/*"], authenticated=True)
    return wapiti.scan(vulnerable_app, modules=["xss", "sql", "http_headers"], max_seconds=120,
                       workdir=workdir, cancel=threading.Event(), secrets=None, program=WAPITI,
                       excludes=excludes)


@pytest.mark.external
@pytest.mark.skipif(WAPITI is None, reason=f"wapiti missing ({wapiti.VENV_HINT})")
def test_real_wapiti_finds_the_reflected_xss_and_the_sqli(wapiti_run: wapiti.WapitiRun,
                                                          vulnerable_app: str) -> None:
    kinds = {(f.kind, f.route, f.param) for f in wapiti_run.findings}
    assert ("xss-reflected", "/hello", "name") in kinds
    assert ("sqli", "/item", "id") in kinds
    assert "scan-incomplete" not in {f.kind for f in wapiti_run.findings}
    assert wapiti_run.version.startswith("Wapiti 3") and wapiti_run.pages >= 1
    xss = next(f for f in wapiti_run.findings if f.kind == "xss-reflected")
    assert xss.severity is Severity.HIGH and xss.cwe == "CWE-79"
    assert xss.url == vulnerable_app + "hello"


@pytest.mark.external
@pytest.mark.skipif(WAPITI is None, reason=f"wapiti missing ({wapiti.VENV_HINT})")
def test_real_wapiti_never_requests_excluded_or_logout_urls(wapiti_run: wapiti.WapitiRun,
                                                            seen_log: Path) -> None:
    seen = seen_log.read_text().splitlines()
    paths = {line.split(" ", 1)[1].split("?", 1)[0] for line in seen}
    assert "/kept" in paths and "/hello" in paths  # it did crawl the page's other links
    assert not [line for line in seen if "/admin/" in line or "LogOut" in line]


@pytest.mark.external
@pytest.mark.skipif(WAPITI is None, reason=f"wapiti missing ({wapiti.VENV_HINT})")
def test_findings_carry_the_web_properties_and_source(wapiti_run: wapiti.WapitiRun) -> None:
    findings = {f.rule_id: f for f in wapiti.to_findings(wapiti_run)}
    sqli = findings["web.sqli"]
    props = dict(sqli.properties)
    assert props["source"] == "wapiti" and props["kind"] == "sqli"
    assert props["route"] == "/item" and props["method"] == "GET" and props["param"] == "id"
    assert props["url"].endswith("/item") and props["replay"].startswith("curl")
    assert "web.missing-header" in findings  # the app sets no X-Frame-Options etc.


def test_a_missing_wapiti_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(StepError, match="pip install wapiti3"):
        wapiti.scan("http://127.0.0.1:9/", workdir=tmp_path, cancel=threading.Event(),
                    secrets=None, program=str(tmp_path / "no-wapiti"))


def test_destructive_or_external_modules_are_refused() -> None:
    for module in ("upload", "brute_login_form", "buster", "ssrf", "log4shell", "methods"):
        with pytest.raises(ConfigError, match="not allowed"):
            wapiti.check_modules(["xss", module])


def _fake(tmp: Path, body: str) -> str:
    script = tmp / "fake-wapiti"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_wapiti_timing_out_is_scan_incomplete(tmp_path: Path) -> None:
    wapiti_grace = wapiti.GRACE_SECONDS
    wapiti.GRACE_SECONDS = 0.5
    try:
        run = wapiti.scan("http://127.0.0.1:9/", max_seconds=0, workdir=tmp_path,
                          cancel=threading.Event(), secrets=None,
                          program=_fake(tmp_path, "sleep 30\n"))
    finally:
        wapiti.GRACE_SECONDS = wapiti_grace
    assert [f.kind for f in run.findings] == ["scan-incomplete"]
    assert "timed out" in run.findings[0].message


def test_a_report_that_is_not_wapitis_is_scan_incomplete(tmp_path: Path) -> None:
    fake = _fake(tmp_path, 'while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done\n'
                           'echo "[1, 2" > "$out"\n')
    run = wapiti.scan("http://127.0.0.1:9/", workdir=tmp_path / "w", cancel=threading.Event(),
                      secrets=None, program=fake)
    assert [f.kind for f in run.findings] == ["scan-incomplete"]
    assert "not valid JSON" in run.findings[0].message


REPORT = {
    "vulnerabilities": {
        "Blind SQL Injection": [{"method": "POST", "path": "/login", "info": "blind",
                                 "level": 2, "parameter": "user", "module": "timesql",
                                 "curl_command": "curl -X POST http://127.0.0.1:1/login"}],
        "Command execution": [{"method": "GET", "path": "/ping", "info": "exec",
                               "level": 4, "parameter": "host", "module": "exec"}],
        "CRLF Injection": [{"method": "GET", "path": "/r", "info": "crlf", "level": 2,
                            "parameter": "u", "module": "crlf"}],
        "Path Traversal": [],
    },
    "anomalies": {"Internal Server Error": [{"method": "GET", "path": "/x", "info": "500",
                                             "level": 3, "parameter": "q"}]},
    "infos": {"version": "Wapiti 3.2.3", "crawled_pages_nbr": 4},
}


def test_the_report_maps_categories_to_the_vocabulary() -> None:
    found, version, pages = wapiti.map_report(REPORT, "http://127.0.0.1:1/app/")
    got = {(f.kind, f.method, f.route, f.param, f.severity) for f in found}
    assert got == {
        ("sqli", "POST", "/login", "user", Severity.HIGH),
        ("cmdi", "GET", "/ping", "host", Severity.CRITICAL),
        ("wapiti-crlf-injection", "GET", "/r", "u", Severity.MEDIUM),
        ("wapiti-internal-server-error", "GET", "/x", "q", Severity.LOW),
    }
    assert version == "Wapiti 3.2.3" and pages == 4


@pytest.mark.parametrize("data", [
    [],
    {"infos": {}},
    {"vulnerabilities": []},
    {"vulnerabilities": {"SQL Injection": {"path": "/"}}},
    {"vulnerabilities": {"SQL Injection": ["x"]}},
    {"vulnerabilities": {"SQL Injection": [{"path": 3}]}},
    {"vulnerabilities": {"SQL Injection": [{"level": "high"}]}},
    {"vulnerabilities": {"XSS": [{"path": "/"}] * (wapiti.MAX_ENTRIES + 1)}},
], ids=["list", "no-vulnerabilities", "groups-list", "items-object", "item-string",
        "path-number", "level-text", "too-many"])
def test_malformed_reports_are_refused(data: object) -> None:
    with pytest.raises(InputError):
        wapiti.map_report(data, "http://127.0.0.1:1/")


def test_a_path_naming_another_origin_stays_on_the_target() -> None:
    report = {"vulnerabilities": {"Open Redirect": [{"path": "//evil.example/x", "level": 2}]}}
    (finding,), _, _ = wapiti.map_report(report, "http://127.0.0.1:1/")
    assert finding.kind == "open-redirect" and finding.url == "http://127.0.0.1:1/"


def test_exclusions_become_wapiti_patterns() -> None:
    target = "http://127.0.0.1:8080/app/"
    plain = wapiti.exclude_patterns(target, ["/admin/delete*", "*/reset",
                                             "http://127.0.0.1:8080/x[12]"])
    assert plain == ["http://127.0.0.1:8080/admin/delete*",
                     "http://127.0.0.1:8080/*/reset", "http://127.0.0.1:8080/*/reset?*",
                     "http://127.0.0.1:8080/x*"]
    authed = wapiti.exclude_patterns(target, [], authenticated=True, login_url="/login")
    assert "http://127.0.0.1:8080/login" in authed
    for word in ("logout", "LogOut", "SIGN-OUT", "log_off", "signOut", "Log-Off"):
        probe = f"http://127.0.0.1:8080/u/{word}?next=/"
        assert any(re.fullmatch(p.replace("?", "\\?").replace(".", "\\.").replace("*", ".*"),
                                probe) for p in authed if "*" in p), word
    assert wapiti.exclude_patterns(target, []) == []  # no auth: logout is tested like any page


def test_the_argv_never_carries_secrets_or_bad_patterns(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        wapiti.wapiti_argv("wapiti", "http://127.0.0.1:1/", ["xss"], tmp_path / "r",
                           tmp_path / "s", scope="folder", max_seconds=10, verify_tls=True,
                           excludes=["/relative"])
    argv = wapiti.wapiti_argv("wapiti", "http://127.0.0.1:1/", ["xss"], tmp_path / "r",
                              tmp_path / "s", scope="folder", max_seconds=10, verify_tls=False,
                              excludes=["http://127.0.0.1:1/logout*"])
    assert "--no-bugreport" in argv and argv[-2:] == ("-x", "http://127.0.0.1:1/logout*")
    assert not {"-H", "--header", "-C", "--cookie-value", "--form-cred"} & set(argv)


def test_with_auth_configured_wapiti_runs_unauthenticated_and_says_so(tmp_path: Path) -> None:
    token = "tok" + "en-" + "9f8e7d6c5b4a"
    args = tmp_path / "args.txt"
    fake = _fake(tmp_path, f'echo "$@" > {args}\n'
                           'while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done\n'
                           'echo \'{"vulnerabilities": {}, "anomalies": {}, "infos": {}}\' '
                           '> "$out"\n')

    class _Auth:
        header = type("H", (), {"name": "Authorization", "value": "Bearer " + token})()
        login = None

    class _Settings:
        auth = _Auth()
        exclude_urls = ["/admin/*"]
        wapiti_path = fake

    from secpipe.core.step import StepContext

    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "w")
    found = wapiti.run_wapiti(ctx, _Settings(), "http://127.0.0.1:9/")
    assert [f.kind for f in found] == ["scan-incomplete"]
    assert "Wapiti scanned unauthenticated" in found[0].message
    argv = args.read_text()
    assert token not in argv and "Authorization" not in argv
    assert "-x http://127.0.0.1:9/admin/*" in argv and "*logout*" in argv


def test_report_json_roundtrip_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(REPORT))
    from secpipe.tools.parsers.json import read_json

    with pytest.raises(InputError):
        read_json(path, 100, "Wapiti report")
