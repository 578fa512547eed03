"""A real HTTP server on 127.0.0.1 for the chat sink tests: records each POST (path, raw body)
and answers from a script of replies, then with a default reply."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class ChatReceiver:
    base: str = ""
    default: Reply = (200, {"Content-Type": "text/plain"}, b"ok")
    script: list[Reply] = field(default_factory=list)
    requests: list[tuple[str, bytes]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    """When each request arrived (monotonic clock)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length)
        with self.lock:
            self.times.append(time.monotonic())
            self.requests.append((handler.path, raw))
            status, headers, body = self.script.pop(0) if self.script else self.default
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def bodies(self) -> list[Any]:
        return [json.loads(raw) for _, raw in self.requests]


def telegram_ok() -> Reply:
    return 200, {"Content-Type": "application/json"}, b'{"ok":true,"result":{"message_id":1}}'


def telegram_error(status: int, description: str, **parameters: Any) -> Reply:
    data: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        data["parameters"] = parameters
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


@contextmanager
def chat_receiver(**options: Any) -> Iterator[ChatReceiver]:
    recv = ChatReceiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recv.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recv.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()
