"""Issue 9 item 12: a server that accepts connections and never answers fails a command in
seconds (connect and read timeouts, bounded attempts), with exit 2 and one line."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A loopback port that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def _secpipe(args: list[str], project: Path, env: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "secpipe", *args, "-C", str(project)],
                          capture_output=True, text=True, timeout=120,
                          env={**env, "PATH": "/usr/bin:/bin", "HOME": str(project)})
    return proc.returncode, proc.stderr, time.monotonic() - started


def test_a_silent_s3_endpoint_fails_in_seconds(project: Path, tarpit: int) -> None:
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret-value"}
    code, err, took = _secpipe(["store", "list", "--store", "s3://bucket/runs",
                                "--endpoint-url", f"http://127.0.0.1:{tarpit}"], project, env)
    assert code == 2, err
    assert took < 45, f"took {took:.0f} s"
    assert "Traceback" not in err and err.count("\n") <= 2
    assert "test-secret-value" not in err


def test_a_silent_oci_registry_fails_in_seconds(project: Path, tarpit: int) -> None:
    (project / "secpipe.yaml").write_text(
        f"defaults:\n  store: {{uri: 'oci://127.0.0.1:{tarpit}/runs', insecure: true}}\n")
    code, err, took = _secpipe(["store", "list"], project, {})
    assert code == 2, err
    assert took < 30, f"took {took:.0f} s"
    assert "Traceback" not in err
