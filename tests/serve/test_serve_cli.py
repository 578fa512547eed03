"""``secpipe serve`` as a process: it prints where it listens, answers, and Ctrl-C (SIGINT)
stops it cleanly with exit 130 (SIGTERM: 143); a port in use is a usage error (exit 2)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from serve_client import Recorded

from secpipe.cli.main import main

SRC = Path(__file__).resolve().parents[2] / "src"


def _serve(project: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "secpipe", "serve", "-C", str(project), "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("secpipe serve: http://"), line
    return line.split()[2]


def _get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as resp:
        return int(resp.status)


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_serves_then_stops_cleanly(recorded: Recorded, sig: signal.Signals, code: int) -> None:
    proc = _serve(recorded.root)
    try:
        url = _url(proc)
        assert url.startswith("http://127.0.0.1:")
        assert _get(url + "runs/latest") == 200
        started = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == code, err
        assert time.monotonic() - started < 5
        assert "secpipe: interrupted" in err and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_non_loopback_binding_warns(recorded: Recorded) -> None:
    # bound to every interface, reached through loopback only (the test sends nothing else)
    proc = _serve(recorded.root, "--host", "0.0.0.0", "-q")  # noqa: S104
    try:
        url = _url(proc)
        port = url.rsplit(":", 1)[1].strip("/")
        assert _get(f"http://127.0.0.1:{port}/") == 200
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert "warning: bound to 0.0.0.0, not a loopback address" in err
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_is_a_usage_error(recorded: Recorded,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "-C", str(recorded.root), "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1 port" in capsys.readouterr().err
    assert main(["serve", "-C", str(recorded.root), "--port", "70000"]) == 2
