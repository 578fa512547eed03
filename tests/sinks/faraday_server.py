"""A real Faraday server (PyPI ``faradaysec``) for the faraday sink's tests, started once.

What runs, each on a free loopback port, each in its own temporary folder, all stopped by PID at
exit (the shared machinery of tests/servers.py):

* a throwaway PostgreSQL cluster (Debian ``postgresql``): ``initdb`` with a password for the
  superuser, then ``postgres`` itself, never a system cluster. PostgreSQL refuses to run as
  root, so as root both run as the ``postgres`` system user (``runuser``);
* Redis (Debian ``redis-server``), no persistence: Faraday's Celery broker. Without it and the
  workers an upload is accepted and then silently dropped;
* Faraday from its own virtualenv (``scripts/ci-faraday.sh``: ``~/.cache/secpipe/peers/faraday``,
  or ``$SECPIPE_FARADAY_VENV``), ``FARADAY_HOME`` in the temp folder, a ``server.ini`` pointing
  at the two: ``faraday-manage create-tables`` and ``create-superuser``, then
  ``faraday-server --with-workers`` bound to 127.0.0.1.

:func:`faraday_without_workers` is a second server on the same database whose broker is a Redis
database no worker listens to: it accepts uploads and never processes them.

A missing piece skips the tests that need it. Start-up measured here: PostgreSQL 1.3 s, Redis
0.2 s, ``create-tables`` and ``create-superuser`` 10.3 s, the server answering 2.4 s later:
about 12-14 s once per session (docs/sinks/faraday.md); :data:`STARTED` keeps the parts.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from servers import Server, _http_ok, _once, _wait, free_port

FARADAY_USER = "secpipe"
FARADAY_PASSWORD = "Sp-" + secrets.token_hex(12)
PG_USER = "secpipe"
PG_BIN = Path("/usr/lib/postgresql")
DEBIAN = "apt-get install postgresql redis-server"


def _venv() -> Path:
    """``$SECPIPE_FARADAY_VENV``, else ``~/.cache/secpipe/peers/faraday`` under ``$HOME`` as it
    was when this module was imported (before any test moved it), else the account's home."""
    if os.environ.get("SECPIPE_FARADAY_VENV"):
        return Path(os.environ["SECPIPE_FARADAY_VENV"])
    homes = [os.environ.get("HOME", ""), pwd.getpwuid(os.getuid()).pw_dir]
    found = [Path(h) / ".cache/secpipe/peers/faraday" for h in homes if h]
    return next((v for v in found if (v / "bin" / "faraday-server").exists()), found[0])


VENV = _venv()
STARTED: dict[str, float] = {}
"""Seconds each part took to start: ``postgres``, ``redis``, ``setup`` (tables and user),
``server`` (until the API answers) and ``total``."""


def _pg_tool(name: str) -> str:
    versions = sorted((p for p in PG_BIN.glob("*/bin") if (p / name).exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return str(versions[-1] / name)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"PostgreSQL's {name} is not installed ({DEBIAN}; scripts/ci-tools.sh)")
    return found


def _as_pg_user(argv: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run it as the ``postgres`` system user then."""
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--", *argv]


def _owned_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def _popen(argv: list[str], data: Path, env: dict[str, str],
           log_name: str = "server.log") -> subprocess.Popen[bytes]:
    with (data / log_name).open("ab") as log:
        return subprocess.Popen(argv, cwd=data, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _connects(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def postgres() -> Server:
    """A throwaway cluster with the ``faraday`` database; ``extra``: port, password."""

    def start() -> Server:
        t0 = time.monotonic()
        initdb, server, createdb = (_pg_tool(n) for n in ("initdb", "postgres", "createdb"))
        data = _owned_dir("secpipe-faraday-pg-")
        password = secrets.token_hex(16)
        pwfile = data / "pw"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        env = {**os.environ, "HOME": str(data), "LC_ALL": "C.UTF-8"}
        subprocess.run(_as_pg_user([initdb, "-D", str(data / "db"), "-U", PG_USER,
                                    "-A", "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                                    "--locale=C.UTF-8", "-N"]),
                       cwd=data, env=env, check=True, capture_output=True, timeout=120)
        pwfile.unlink()
        port = free_port()
        proc = _popen(_as_pg_user([server, "-D", str(data / "db"), "-p", str(port),
                                   "-c", "listen_addresses=127.0.0.1",
                                   "-c", f"unix_socket_directories={data}",
                                   "-c", "fsync=off", "-c", "full_page_writes=off"]),
                      data, env)
        pg = Server("postgres", f"postgresql://127.0.0.1:{port}", proc, data,
                    {"port": str(port), "password": password})
        env["PGPASSWORD"] = password

        def ready() -> bool:
            done = subprocess.run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER,
                                   "-E", "UTF8", "faraday"], env=env, capture_output=True,
                                  timeout=30)
            return done.returncode == 0 or b"already exists" in done.stderr

        _wait(ready, pg, timeout=60)
        STARTED["postgres"] = time.monotonic() - t0
        return pg

    return _once("faraday-postgres", start)


def redis() -> Server:
    """Redis without persistence (Faraday's Celery broker and result backend)."""

    def start() -> Server:
        t0 = time.monotonic()
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip(f"redis-server is not installed ({DEBIAN}; scripts/ci-tools.sh)")
        data = Path(tempfile.mkdtemp(prefix="secpipe-faraday-redis-"))
        port = free_port()
        proc = _popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(data), "--protected-mode", "yes"],
                      data, {**os.environ, "HOME": str(data)})
        server = Server("redis", f"redis://127.0.0.1:{port}/0", proc, data)

        def ready() -> bool:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        _wait(ready, server, timeout=30)
        STARTED["redis"] = time.monotonic() - t0
        return server

    return _once("faraday-redis", start)


def _faraday_env(data: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FARADAY_", "CELERY"))}
    env.update(HOME=str(data), FARADAY_HOME=str(home),
               PATH=f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}")
    return env


def _faraday_home(pg: Server, broker_url: str) -> tuple[Path, Path, int]:
    """A temp folder with ``home/.faraday/config/server.ini``; (folder, home, port)."""
    data = Path(tempfile.mkdtemp(prefix="secpipe-faraday-"))
    home = data / "home"
    (home / ".faraday" / "config").mkdir(parents=True)
    port = free_port()
    db = (f"postgresql+psycopg2://{PG_USER}:{pg.extra['password']}"
          f"@127.0.0.1:{pg.extra['port']}/faraday")
    (home / ".faraday" / "config" / "server.ini").write_text(
        "[faraday_server]\n"
        f"port={port}\nbind_address=127.0.0.1\nsecret_key={secrets.token_hex(32)}\n"
        "debug=false\ncelery_enabled=true\n"
        f"celery_broker_url={broker_url}\ncelery_backend_url={broker_url}\n"
        "[database]\n"
        f"connection_string={db}\n"
        "[logger]\nuse_rfc5424_formatter=false\n")
    return data, home, port


def _need_faraday() -> tuple[Path, Path]:
    exe = VENV / "bin" / "faraday-server"
    manage = VENV / "bin" / "faraday-manage"
    if not exe.exists() or not manage.exists():
        pytest.skip(f"Faraday is not installed in {VENV} (scripts/ci-faraday.sh installs it)")
    return exe, manage


def _serve(name: str, exe: Path, data: Path, home: Path, port: int, env: dict[str, str],
           workers: bool) -> Server:
    argv = [str(exe), *(["--with-workers"] if workers else []),
            "--bind_address", "127.0.0.1", "--port", str(port)]
    proc = _popen(argv, data, env)
    server = Server(name, f"http://127.0.0.1:{port}", proc, data,
                    {"username": FARADAY_USER, "password": FARADAY_PASSWORD, "home": str(home)})
    # the API answers 401 to an anonymous request once it is up
    _wait(lambda: _connects(port) and _http_ok(f"{server.url}/_api/v3/info"), server,
          timeout=180)
    return server


def faraday() -> Server:
    """Faraday with its Celery workers; ``url``; ``extra``: username, password, home."""
    exe, manage = _need_faraday()

    def start() -> Server:
        t0 = time.monotonic()
        pg, broker = postgres(), redis()
        t1 = time.monotonic()
        data, home, port = _faraday_home(pg, broker.url)
        env = _faraday_env(data, home)
        for argv in ([str(manage), "create-tables"],
                     [str(manage), "create-superuser", "--username", FARADAY_USER,
                      "--email", "secpipe@example.com", "--password", FARADAY_PASSWORD]):
            done = subprocess.run(argv, cwd=data, env=env, capture_output=True, timeout=300)
            if done.returncode != 0:
                tail = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
                shutil.rmtree(data, ignore_errors=True)
                raise RuntimeError(f"{argv[1]} failed:\n{tail}")
        t2 = time.monotonic()
        server = _serve("faraday", exe, data, home, port, env, workers=True)
        t3 = time.monotonic()
        STARTED.update(setup=t2 - t1, server=t3 - t2, total=t3 - t0)
        return server

    return _once("faraday", start)


def faraday_without_workers() -> Server:
    """A second Faraday on the same database and Redis but with no worker listening: its
    broker is another Redis database (``/1``), so an upload is queued and never processed,
    which is what a Faraday without ``--with-workers`` does to every upload."""
    exe, _ = _need_faraday()

    def start() -> Server:
        faraday()  # the tables and the user
        broker = redis()
        data, home, port = _faraday_home(postgres(), broker.url.rsplit("/", 1)[0] + "/1")
        return _serve("faraday-no-workers", exe, data, home, port, _faraday_env(data, home),
                      workers=False)

    return _once("faraday-no-workers", start)


@pytest.fixture(scope="session")
def faraday_server() -> Server:
    """The session's Faraday (started on first use)."""
    return faraday()
