"""A real Pushgateway, Prometheus and Alertmanager for the prometheus sink's tests.

Started once per test process on free loopback ports (see tests/servers.py for the shared
machinery: temp data folder, HOME inside it, stopped by PID at exit). Prometheus scrapes the
Pushgateway every second (``honor_labels``), evaluates the shipped ``monitoring/alerts.yml`` every
second and sends alerts to the Alertmanager, which is configured from the shipped
``alertmanager.example.yml`` with its webhook URL pointed at a real HTTP receiver in this process.
A missing binary skips the tests that need it (Debian: prometheus, prometheus-pushgateway,
prometheus-alertmanager; scripts/ci-tools.sh installs them).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from secpipe.monitoring import asset
from servers import Server, _http_ok, _need, _once, _spawn, _wait, free_port

DEBIAN = "apt-get install prometheus prometheus-pushgateway prometheus-alertmanager"


@dataclass
class AlertReceiver:
    """A real HTTP server on 127.0.0.1 that keeps every Alertmanager webhook body."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification received so far."""
        with self.lock:
            return [alert for body in self.bodies for alert in body.get("alerts", [])]


_RECEIVER: list[AlertReceiver] = []


def alert_receiver() -> AlertReceiver:
    """The process's one alert receiver (started on first use, a daemon thread)."""
    if _RECEIVER:
        return _RECEIVER[0]
    recv = AlertReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with recv.lock:
                recv.bodies.append(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recv.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    _RECEIVER.append(recv)
    return recv


def pushgateway() -> Server:
    exe = _need("prometheus-pushgateway", DEBIAN)

    def start() -> Server:
        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="secpipe-pushgateway-"))
        # Debian's build persists to /var/lib/prometheus/pushgateway.data unless told otherwise
        proc, data = _spawn("pushgateway", [exe, f"--web.listen-address=127.0.0.1:{port}",
                                            f"--persistence.file={data / 'groups.data'}"], data)
        server = Server("pushgateway", f"http://127.0.0.1:{port}", proc, data)
        _wait(lambda: _http_ok(f"{server.url}/-/ready"), server)
        return server

    return _once("pushgateway", start)


def alertmanager() -> Server:
    exe = _need("prometheus-alertmanager", DEBIAN)

    def start() -> Server:
        recv = alert_receiver()
        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="secpipe-alertmanager-"))
        config = yaml.safe_load(asset("alertmanager.example.yml").read_text())
        config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
        for receiver in config["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = recv.url
        (data / "am.yml").write_text(yaml.safe_dump(config))
        proc, data = _spawn("alertmanager", [
            exe, f"--config.file={data / 'am.yml'}", f"--storage.path={data / 'store'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="], data)
        server = Server("alertmanager", f"http://127.0.0.1:{port}", proc, data,
                        {"receiver": recv.url})
        _wait(lambda: _http_ok(f"{server.url}/-/ready"), server)
        return server

    return _once("alertmanager", start)


def prometheus() -> Server:
    exe = _need("prometheus", DEBIAN)

    def start() -> Server:
        gateway = pushgateway()
        manager = alertmanager()
        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="secpipe-prometheus-"))
        shutil.copy(asset("alerts.yml"), data / "alerts.yml")
        config = yaml.safe_load(asset("prometheus.example.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["alerting"]["alertmanagers"][0]["static_configs"] = [
            {"targets": [manager.url.removeprefix("http://")]}]
        config["scrape_configs"][0]["static_configs"] = [
            {"targets": [gateway.url.removeprefix("http://")]}]
        (data / "prometheus.yml").write_text(yaml.safe_dump(config))
        proc, data = _spawn("prometheus", [
            exe, f"--config.file={data / 'prometheus.yml'}",
            f"--storage.tsdb.path={data / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
            data)
        server = Server("prometheus", f"http://127.0.0.1:{port}", proc, data)
        _wait(lambda: _http_ok(f"{server.url}/-/ready") and bool(query(server, "up")), server)
        return server

    return _once("prometheus", start)


def api(server: Server, path: str, **params: str) -> Any:
    """GET a Prometheus/Alertmanager API path; the ``data`` of a successful answer."""
    url = f"{server.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback only
        body = json.loads(answer.read())
    assert body.get("status") == "success", body
    return body["data"]


def query(server: Server, expr: str) -> list[dict[str, Any]]:
    """The instant vector of ``expr`` (``[]`` when empty)."""
    data = api(server, "/api/v1/query", query=expr)
    return list(data["result"]) if data["resultType"] == "vector" else [data["result"]]


def until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    pytest.fail(f"{what} not seen within {timeout} s (last: {last!r})")


@dataclass
class Monitoring:
    """The three servers and the alert receiver."""

    pushgateway: Server
    prometheus: Server
    alertmanager: Server
    receiver: AlertReceiver


@pytest.fixture(scope="session")
def monitoring() -> Monitoring:
    """Pushgateway ← Prometheus (1 s scrape, shipped alert rules) → Alertmanager → receiver."""
    _need("prometheus", DEBIAN)
    _need("prometheus-pushgateway", DEBIAN)
    _need("prometheus-alertmanager", DEBIAN)
    prom = prometheus()
    return Monitoring(pushgateway(), prom, alertmanager(), alert_receiver())
