"""The dashboard tests' helpers: the recorded project, a server in a thread, a request."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from secpipe.serve import Dashboard, make_server


@dataclass
class Recorded:
    root: Path
    runs: list[str]
    """Run ids, oldest first."""

    @property
    def db(self) -> Path:
        return self.root / ".secpipe" / "runs.db"


def start(db: Path, **kw: object) -> tuple[Dashboard, threading.Thread]:
    server = make_server(db, "127.0.0.1", 0, quiet=True, **kw)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return server, thread


def stop(server: Dashboard, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: Message

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy


def fetch(server: Dashboard, target: str, method: str = "GET",
          headers: dict[str, str] | None = None) -> Reply:
    """One request to the server (no proxy), whatever its status."""
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}{target}", method=method,
                                 headers=headers or {})
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return Reply(resp.status, resp.read(), resp.headers)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read(), exc.headers)
