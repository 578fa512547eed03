"""scan-ports: real nmap against real listeners opened on 127.0.0.1, the port policy, the
target rules, and nmap's XML read defensively (hostile reports refused, never a pass)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import ConfigError, InputError
from secpipe.core.findings import Severity
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.scanners.ports.nmap import parse_nmap, top_ports
from secpipe.scanners.ports.step import PortScanSettings, PortScanStep, Target, parse_target
from servers import free_port

NMAP = shutil.which("nmap")
needs_nmap = pytest.mark.skipif(NMAP is None, reason="nmap not installed (apt-get install nmap)")


BANNER_SERVER = """
import socket, sys, threading

def serve(conn):
    with conn:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" + bytes([13, 10]))
        conn.settimeout(10)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(64)
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
"""


def _listen(port: int) -> subprocess.Popen[bytes]:
    """A real listener speaking first (an SSH banner), so nmap's service probe answers at once."""
    proc = subprocess.Popen([sys.executable, "-c", BANNER_SERVER, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"listener on {port} did not start")


@pytest.fixture(scope="module")
def listeners() -> Iterator[dict[str, int]]:
    """An allowed, an unexpected and a forbidden listener, plus a closed port."""
    ports = {"allowed": free_port(), "unexpected": free_port(), "forbidden": free_port()}
    procs = [_listen(p) for p in ports.values()]
    ports["closed"] = free_port()
    try:
        yield ports
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)


def _ctx(tmp: Path, earlier: tuple[FinishedStep, ...] = ()) -> StepContext:
    return StepContext(project_root=tmp, workdir=tmp / "work", earlier=earlier, timeout=120)


def _run(tmp: Path, earlier: tuple[FinishedStep, ...] = (), **settings: object) -> StepResult:
    return PortScanStep().run(_ctx(tmp, earlier), PortScanSettings.model_validate(settings))


@pytest.fixture(scope="module")
def policy_scan(listeners: dict[str, int], tmp_path_factory: pytest.TempPathFactory
                ) -> StepResult:
    tmp = tmp_path_factory.mktemp("ports")
    spec = ",".join(str(listeners[k]) for k in ("allowed", "unexpected", "forbidden", "closed"))
    return _run(tmp, targets=[f"127.0.0.1:{spec}"], allowed_ports=[listeners["allowed"]],
                forbidden_ports=[listeners["forbidden"]])


@pytest.mark.external
@needs_nmap
def test_unexpected_and_forbidden_open_ports_are_found(policy_scan: StepResult,
                                                       listeners: dict[str, int]) -> None:
    assert policy_scan.status is StepStatus.PASSED, policy_scan.message
    by_rule = {(f.rule_id, f.location.path): f for f in policy_scan.findings}
    unexpected = by_rule[("ports.unexpected-open", f"tcp://127.0.0.1:{listeners['unexpected']}")]
    assert unexpected.severity is Severity.HIGH
    forbidden = by_rule[("ports.forbidden-open", f"tcp://127.0.0.1:{listeners['forbidden']}")]
    assert forbidden.severity is Severity.CRITICAL
    assert not any(str(listeners["allowed"]) in path or str(listeners["closed"]) in path
                   for _, path in by_rule)  # allowed and closed ports are not findings
    assert len(policy_scan.findings) == 2
    assert policy_scan.metrics["open_ports"] == 3
    assert policy_scan.tool.startswith("nmap 7")


@pytest.mark.external
@needs_nmap
def test_service_and_version_are_in_the_evidence(policy_scan: StepResult,
                                                 listeners: dict[str, int]) -> None:
    finding = next(f for f in policy_scan.findings if f.rule_id == "ports.unexpected-open")
    assert finding.evidence.startswith(f"{listeners['unexpected']}/tcp open ssh OpenSSH 9.2p1")
    assert dict(finding.properties)["service"] == "ssh"
    assert dict(finding.properties)["product"] == "OpenSSH"
    assert f"{listeners['allowed']}/tcp open ssh" in policy_scan.message


APP = """
import subprocess, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

# a "debug" listener in a child process of the app: part of the deployment's process tree
debug = subprocess.Popen([sys.executable, "-c", sys.argv[3], sys.argv[2]])
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def process_app(listeners: dict[str, int]) -> Iterator[dict[str, int]]:
    """A deployed app: an HTTP server on ``main`` whose child listens on ``debug``."""
    ports = {"main": free_port(), "debug": free_port()}
    proc = subprocess.Popen([sys.executable, "-c", APP, str(ports["main"]), str(ports["debug"]),
                             BANNER_SERVER], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        for port in ports.values():
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the app did not start") from None
                    time.sleep(0.05)
        yield {**ports, "pid": proc.pid}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)


def _deployment(tmp: Path, **record: object) -> tuple[FinishedStep, ...]:
    path = tmp / "deployment.json"
    path.write_text(json.dumps(record))
    return (FinishedStep("deploy", "deploy", "deploy", StepResult(
        artifacts=(Artifact.from_file("deployment", path, "application/json"),))),)


def _process_record(port: int, pid: int | None) -> dict[str, object]:
    return {"url": f"http://127.0.0.1:{port}", "host": "127.0.0.1", "port": port,
            "ports": [port], "kind": "process", "pid": pid}


@pytest.mark.external
@needs_nmap
def test_a_process_deployment_is_judged_by_the_ports_its_process_tree_listens_on(
        process_app: dict[str, int], listeners: dict[str, int], tmp_path: Path) -> None:
    earlier = _deployment(tmp_path, **_process_record(process_app["main"], process_app["pid"]))
    result = _run(tmp_path, earlier, forbidden_ports=[process_app["debug"]])
    assert result.status is StepStatus.PASSED, result.message
    found = {(f.rule_id, f.location.path): f for f in result.findings}
    debug = found.pop(("ports.forbidden-open", f"tcp://127.0.0.1:{process_app['debug']}"))
    assert debug.severity is Severity.CRITICAL
    props = dict(debug.properties)
    assert props["pid"] != str(process_app["pid"])  # held by the app's child
    assert "ssh" in debug.evidence.lower()  # nmap's service name for the banner
    assert found == {}  # the machine's other listeners are not the deployment's
    assert result.metrics["open_ports"] == 2
    assert str(process_app["main"]) in result.message
    for other in (listeners["unexpected"], listeners["forbidden"]):
        assert f":{other}" not in result.message


@pytest.mark.external
@needs_nmap
def test_a_process_deployment_without_a_pid_scans_its_published_port_and_says_so(
        process_app: dict[str, int], tmp_path: Path) -> None:
    earlier = _deployment(tmp_path, **_process_record(process_app["main"], None))
    result = _run(tmp_path, earlier)
    (finding,) = result.findings
    assert finding.rule_id == "ports.scan-incomplete" and finding.severity is Severity.MEDIUM
    assert "only its published ports" in finding.message
    assert result.metrics["open_ports"] == 1


@needs_nmap
def test_a_process_deployment_that_is_gone_is_scan_incomplete(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    earlier = _deployment(tmp_path, **_process_record(free_port(), int(done.stdout)))
    result = _run(tmp_path, earlier)
    rules = [(f.rule_id, f.severity) for f in result.findings]
    assert ("ports.scan-incomplete", Severity.HIGH) in rules
    assert "is not running" in result.findings[0].message


def test_listeners_are_read_from_proc_tables() -> None:
    from secpipe.scanners.ports.listeners import parse_net_tcp

    table = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
             "  timeout inode\n"
             "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
             "     0        0 4242 1 0000000000000000 100 0 0 10 0\n"
             "   1: 0100007F:1F91 0100007F:C350 01 00000000:00000000 00:00000000 00000000"
             "     0        0 4243 1 0000000000000000 100 0 0 10 0\n"
             "   2: 00000000000000000000000000000000:162E 00000000000000000000000000000000:0000"
             " 0A 00000000:00000000 00:00000000 00000000     0        0 4244 1 0 100 0 0 10 0\n")
    problems: list[str] = []
    found = parse_net_tcp(table, "tcp", problems)
    assert [(item.port, item.address, item.inode) for item in found] == [
        (8080, "127.0.0.1", 4242), (5678, "::", 4244)]  # the ESTABLISHED one is not listed
    assert [item.scan_address for item in found] == ["127.0.0.1", "::1"] and problems == []


def test_no_target_and_no_deployment_is_skipped(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.status is StepStatus.SKIPPED and result.message.startswith("nothing found:")


def test_a_host_that_is_not_loopback_nor_allowed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="allowed_hosts"):
        _run(tmp_path, targets=["192.0.2.10:80"])
    with pytest.raises(ConfigError, match="allowed_hosts"):
        _run(tmp_path, targets=["https://example.com/"])


@pytest.mark.external
@needs_nmap
def test_an_unreachable_allowed_host_is_scan_incomplete(tmp_path: Path) -> None:
    result = _run(tmp_path, targets=["192.0.2.10:80"], allowed_hosts=["192.0.2.10"],
                  max_seconds=20)
    assert result.status is StepStatus.PASSED
    assert [f.rule_id for f in result.findings] == ["ports.scan-incomplete"]
    assert result.findings[0].severity is Severity.HIGH


def _fake_nmap(tmp: Path, body: str) -> str:
    script = tmp / "fake-nmap"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_nmap_timing_out_is_scan_incomplete(tmp_path: Path) -> None:
    result = _run(tmp_path, targets=["127.0.0.1:1"], program=_fake_nmap(tmp_path, "sleep 30\n"),
                  max_seconds=0.5)
    assert [f.rule_id for f in result.findings] == ["ports.scan-incomplete"]
    assert "timed out" in result.findings[0].message


def test_a_hostile_report_is_refused_as_scan_incomplete(tmp_path: Path) -> None:
    (tmp_path / "laughs.xml").write_bytes(LAUGHS)
    result = _run(tmp_path, targets=["127.0.0.1:1"],
                  program=_fake_nmap(tmp_path, f"cat '{tmp_path / 'laughs.xml'}'\n"))
    assert [f.rule_id for f in result.findings] == ["ports.scan-incomplete"]
    assert "refused" in result.findings[0].message
    assert not (tmp_path / "work" / "nmap-0.xml").exists()  # unparsed raw output not kept


def test_an_oversized_report_is_scan_incomplete(tmp_path: Path) -> None:
    result = _run(tmp_path, targets=["127.0.0.1:1"], max_report_bytes=1000,
                  program=_fake_nmap(tmp_path, "head -c 5000 /dev/zero | tr '\\0' x\n"))
    assert [f.rule_id for f in result.findings] == ["ports.scan-incomplete"]
    assert "max_report_bytes" in result.findings[0].message


def test_a_missing_nmap_is_an_error_naming_the_install(tmp_path: Path) -> None:
    result = _run(tmp_path, targets=["127.0.0.1:1"], program="no-such-nmap-here")
    assert result.status is StepStatus.ERROR and "apt-get install nmap" in result.message


@pytest.mark.external
@needs_nmap
def test_top_ports_reads_nmaps_table() -> None:
    assert NMAP is not None
    ports = top_ports(Path(NMAP).resolve().parent.parent / "share" / "nmap" / "nmap-services")
    assert len(ports) == 1000 and {22, 80, 443, 8080} <= set(ports)


LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [\n <!ENTITY a "aaaaaaaaaa">\n'
          + b"".join(b' <!ENTITY %c "%s">\n' % (98 + i, (b"&%c;" % (97 + i)) * 10)
                     for i in range(8))
          + b"]>\n<nmaprun>&i;</nmaprun>\n")
VALID = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n<nmaprun version="7.93">'
         b'<host><status state="up"/><address addr="127.0.0.1"/><ports>'
         b'<extraports state="filtered" count="3"/>'
         b'<port protocol="tcp" portid="22"><state state="open"/>'
         b'<service name="ssh" product="OpenSSH" version="9.2"/></port></ports></host>'
         b'<runstats><finished exit="success"/><hosts up="1" down="0"/></runstats></nmaprun>')


@pytest.mark.parametrize("raw", [
    LAUGHS,
    b'<?xml version="1.0"?><!DOCTYPE nmaprun SYSTEM "file:///etc/passwd"><nmaprun/>',
    b'<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]><nmaprun>&x;</nmaprun>',
    b'<!DOCTYPE nmaprun><!DOCTYPE nmaprun [<!ENTITY x "y">]><nmaprun/>',
    b"<nmaprun>" + b"<a>" * 100 + b"</a>" * 100 + b"</nmaprun>",
    b"<nmaprun>" + b"<host/>" * 200_001 + b"</nmaprun>",
    b"<nmaprun><host>",
    b"<other/>",
], ids=["billion-laughs", "doctype-system", "external-entity", "second-doctype", "deep",
        "huge", "truncated", "not-nmap"])
def test_hostile_or_malformed_reports_are_refused(raw: bytes) -> None:
    with pytest.raises(InputError):
        parse_nmap(raw)


def test_a_valid_report_reads_ports_services_and_filtered_counts() -> None:
    report = parse_nmap(VALID)
    assert report.finished and report.version == "7.93"
    (host,) = report.hosts
    assert host.status == "up" and host.extra_filtered == 3
    assert host.ports[0].describe() == "22/tcp open ssh OpenSSH 9.2"


def test_filtered_ports_are_scan_incomplete(tmp_path: Path) -> None:
    (tmp_path / "r.xml").write_bytes(VALID)
    result = _run(tmp_path, targets=["127.0.0.1:22"], allowed_ports=[22],
                  program=_fake_nmap(tmp_path, f"cat '{tmp_path / 'r.xml'}'\n"))
    assert [f.rule_id for f in result.findings] == ["ports.scan-incomplete"]
    assert "3 port(s)" in result.findings[0].message


@pytest.mark.parametrize(("text", "target"), [
    ("127.0.0.1", Target("127.0.0.1", None)),
    ("localhost:8080,9000-9010", Target("localhost", "8080,9000-9010")),
    ("[::1]:8443", Target("::1", "8443")),
    ("::1", Target("::1", None)),
    ("http://127.0.0.1:5000/predict", Target("127.0.0.1", "5000")),
    ("https://localhost/", Target("localhost", "443")),
])
def test_targets_parse(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize("text", ["-oN/tmp/x", "127.0.0.1:-p1", "127.0.0.1:70000",
                                  "ftp://127.0.0.1/", "a b", "127.0.0.1:80;id"])
def test_bad_targets_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_target(text)


def test_the_unconfigured_step_without_nmap_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "deployment.json"
    record.write_text(json.dumps({"kind": "process", "url": "http://127.0.0.1:8080",
                                  "host": "127.0.0.1", "port": 8080, "ports": [8080]}))
    deploy = FinishedStep("deploy", "deploy", "deploy", StepResult(
        artifacts=(Artifact.from_file("deployment", record, "application/json"),)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = PortScanStep().run(_ctx(tmp_path, (deploy,)), PortScanSettings())
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("not configured: nmap")


@pytest.mark.external
@needs_nmap
def test_ipv6_loopback_is_scanned(tmp_path: Path) -> None:
    result = _run(tmp_path, targets=["[::1]:1"], max_seconds=30)
    assert result.status is StepStatus.PASSED, result.message
    assert result.findings == () and result.metrics["hosts_scanned"] == 1


def test_the_deployment_record_reads_container_ports_and_refuses_bad_ones() -> None:
    from secpipe.scanners.ports.deployment import parse_deployment

    dep = parse_deployment(json.dumps({"kind": "podman", "ports": [40000],
                                       "container_ports": [8080], "pid": 7,
                                       "container_name": "c1"}).encode())
    assert (dep.container_ports, dep.pid, dep.container_name) == ([8080], 7, "c1")
    with pytest.raises(InputError, match="container_ports"):
        parse_deployment(json.dumps({"container_ports": ["8080"]}).encode())
