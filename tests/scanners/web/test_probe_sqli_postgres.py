"""The SQL injection probe against a Flask app backed by a real PostgreSQL (Debian's server,
a throwaway cluster on a loopback port, queried with ``psql``): PostgreSQL's error text and a
blind ``pg_sleep`` that scales are found; the parameterised twin is not."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps_h6 import _page, context, query_point, serve
from flask import Flask, Response, request

from secpipe.scanners.web.probes.sqli import SqlInjection

PG_BIN = Path("/usr/lib/postgresql")


def _tool(name: str) -> str:
    found = sorted(PG_BIN.glob(f"*/bin/{name}"))
    if not found:
        pytest.skip(f"PostgreSQL's {name} is not installed (Debian postgresql)")
    return str(found[-1])


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root without a postgres user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--", *argv]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[int]:
    """A throwaway cluster (trust auth, loopback only); yields its port, stops it by PID."""
    initdb, server = _tool("initdb"), _tool("postgres")
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    data = Path(tempfile.mkdtemp(prefix="secpipe-h6-pg-"))
    data.chmod(0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(data, entry.pw_uid, entry.pw_gid)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "HOME": str(data)}
    subprocess.run(_as_postgres([initdb, "-D", str(data / "db"), "-U", "postgres", "-A",
                                 "trust", "-N", "--locale=C.UTF-8", "-E", "UTF8"]),
                   check=True, capture_output=True, timeout=120, env=env, cwd=data)
    port = _free_port()
    with (data / "log").open("wb") as log:
        proc = subprocess.Popen(
            _as_postgres([server, "-D", str(data / "db"), "-p", str(port),
                          "-c", "listen_addresses=127.0.0.1", "-c",
                          f"unix_socket_directories={data}", "-c", "fsync=off"]),
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _psql(port, "SELECT 1").returncode != 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"PostgreSQL did not start: {(data / 'log').read_text()[-500:]}")
            time.sleep(0.2)
        _psql(port, "CREATE TABLE items (id int, name text); "
                    "INSERT INTO items VALUES (1, 'apple'), (2, 'banana')")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # the group of the process this fixture started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


def _psql(port: int, sql: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                           "-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", *args, "-c", sql],
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture(scope="module")
def base(postgres: int) -> Iterator[str]:
    app = Flask("h6pg")

    @app.get("/pg/error")
    def pg_error() -> Response:
        done = _psql(postgres, f"SELECT name FROM items WHERE name = '{request.args['name']}'")  # noqa: S608
        return _page(f"<pre>{done.stdout}{done.stderr}</pre>")

    @app.get("/pg/blind")
    def pg_blind() -> Response:
        _psql(postgres, f"SELECT name FROM items WHERE name = '{request.args['name']}'")  # noqa: S608
        return _page("<p>thanks</p>")

    @app.get("/pg/safe")
    def pg_safe() -> Response:  # a bound variable: psql quotes it as a literal
        done = _psql(postgres, "SELECT name FROM items WHERE name = :'n'",
                     "-v", f"n={request.args['name']}")
        return _page(f"<pre>{done.stdout}</pre>")

    with serve(app) as url:
        yield url


@pytest.mark.external
def test_postgres_error_and_pg_sleep_found_safe_twin_quiet(base: str) -> None:
    error = SqlInjection().run(context(base, time_based=False),
                               query_point(base, "/pg/error", "name", "apple"))
    assert [(f.kind, f.detail) for f in error] == [("sqli", "error")]
    assert "at or near" in error[0].proof or "unterminated" in error[0].proof
    blind = SqlInjection().run(context(base), query_point(base, "/pg/blind", "name", "apple"))
    assert [(f.kind, f.detail) for f in blind] == [("sqli", "time-postgresql")]
    assert SqlInjection().run(context(base), query_point(base, "/pg/safe", "name", "apple")) == []
