"""Shared pieces of the sink tests: a whole run's events, a recording sink, a real HTTP receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from secpipe.core.events import (
    ArtifactBrief,
    Event,
    FindingBrief,
    GateDecided,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
    StepFinished,
    StepLog,
    StepProgress,
    StepStarted,
)
from secpipe.core.results import GateDecision
from secpipe.keys.refs import SecretResolver
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings

RUN = "20250101-000000-abcd"
GATE = GateDecision(passed=False, reasons=("1 high finding (max 0)",), notes=("baseline: 0",))


def run_events(progress: int = 3) -> list[Event]:
    """What a two-stage run (a scanner, then a gate) emits, in order."""
    finding = FindingBrief("high", "aws-access-key", "AWS access key", "app.py:3", "fp1")
    return [
        RunStarted(RUN, pipeline="mlsecops", project="demo", stage_names=("scan", "gate"),
                   stages=(("scan-secrets",), ("gate",))),
        StageStarted(RUN, stage="scan", index=0),
        StepStarted(RUN, step="scan-secrets", kind="scan-secrets", stage="scan"),
        *[StepProgress(RUN, step="scan-secrets", done=i, total=progress, what="files")
          for i in range(1, progress + 1)],
        StepLog(RUN, step="scan-secrets", message="scanned 3 files"),
        StepFinished(RUN, step="scan-secrets", kind="scan-secrets", stage="scan",
                     status="passed", message="1 finding", duration=1.25, findings=1,
                     severities={"high": 1}, top=(finding,),
                     artifacts=(ArtifactBrief("report", "sha256:" + "ab" * 32, 10,
                                              "application/json"),)),
        StageFinished(RUN, stage="scan", status="passed"),
        StageStarted(RUN, stage="gate", index=1),
        StepStarted(RUN, step="gate", kind="gate", stage="gate"),
        StepFinished(RUN, step="gate", kind="gate", stage="gate", status="failed",
                     message="gate failed", duration=0.01, gate=GATE),
        GateDecided(RUN, step="gate", stage="gate", decision=GATE),
        StageFinished(RUN, stage="gate", status="failed"),
        RunFinished(RUN, pipeline="mlsecops", status="failed", exit_code=1),
    ]


def context(name: str = "test", root: Path | None = None,
            secrets: Any = None) -> SinkContext:
    return SinkContext(name=name, project_root=root or Path("."),
                       secrets=secrets if secrets is not None else SecretResolver(Path(".")))


class RecordingSink(Sink[SinkSettings]):
    """Keeps what it is given; can fail its first ``fail_first`` attempts, or sleep, or block."""

    kind = "recording"
    summary = "keeps events in memory (tests)"

    def __init__(self, settings: SinkSettings | None = None, name: str = "rec", *,
                 fail_first: int = 0, delay: float = 0.0, message: str = "refused",
                 secrets: Any = None) -> None:
        super().__init__(settings or SinkSettings(), context(name, secrets=secrets))
        self.events: list[Event] = []
        self.attempts: list[float] = []
        self.fail_first = fail_first
        self.delay = delay
        self.message = message
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.closed = False

    def deliver(self, event: Event) -> None:
        self.entered.set()
        self.attempts.append(time.monotonic())
        self.release.wait()
        if self.delay:
            time.sleep(self.delay)
        if len(self.attempts) <= self.fail_first:
            raise SinkError(self.message)
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records POSTs; fails or stalls on request."""

    url: str = ""
    fail_first: int = 0
    status: int = 500
    sleep: float = 0.0
    location: str = ""
    requests: list[tuple[float, dict[str, str], Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    """The exact bodies received, in order."""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        data = handler.rfile.read(length)
        self.raw.append(data)
        body = json.loads(data or b"null")
        self.requests.append((time.monotonic(), dict(handler.headers.items()), body))
        if self.sleep:
            time.sleep(self.sleep)
        code = self.status if len(self.requests) <= self.fail_first else 204
        handler.send_response(code)
        if self.location:
            handler.send_header("Location", self.location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    recv = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            recv.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recv.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0KEN-IN-PATH"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recv
    finally:
        server.shutdown()
        server.server_close()
