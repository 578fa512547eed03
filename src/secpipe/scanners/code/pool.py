"""Worker processes for large trees, each file under a wall-clock budget.

A parse or a check runs in C or deep in bandit's visitor, where no flag can stop it; only killing
the process does. So each worker (:mod:`.worker`, ``python -I``, its own session so the terminal's
Ctrl-C reaches only secpipe) gets one file at a time, and a worker still on a file when that
file's budget is spent is killed: the file gets a ``code.budget-exceeded`` finding and a fresh
worker takes the next one. A worker that dies gets its file a ``code.analysis-failed`` finding.
Every exit — done, cancel, Ctrl-C, SIGTERM (raised as an exception by the CLI), an error in the
consumer — kills and reaps every worker before :meth:`WorkerPool.run` returns, and signals are
held while a worker is started so none is left half-started.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import IO, Any

from secpipe.core.errors import StepError
from secpipe.scanners.code.engine import FileResult, Options
from secpipe.scanners.code.meta import meta_finding
from secpipe.scanners.code.worker import BOOTSTRAP

_HELD = {signal.SIGINT, signal.SIGTERM}
_STDERR_LINES = 20
_EOF = None


@dataclass(frozen=True)
class Task:
    """One file to analyse."""

    index: int
    path: str
    rel: str
    kind: str


@dataclass
class _Worker:
    ident: int
    proc: subprocess.Popen[bytes]
    stdin: IO[bytes]
    ready: bool = False
    task: Task | None = None
    started: float = 0.0
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=_STDERR_LINES))


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait while a worker process is being started or stopped (delivered
    when the block ends), so the exception they become never lands half-way through."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _import_path() -> list[str]:
    """The parent's import path without the current folder (the scanned project may be it)."""
    cwd = os.getcwd()
    return [p for p in sys.path if p and os.path.abspath(p) != cwd]


class WorkerPool:
    """``size`` worker processes analysing :class:`Task` s under ``budget`` seconds each."""

    def __init__(self, size: int, options: Options, budget: float,
                 cancel: threading.Event) -> None:
        self.size = size
        self.options = options
        self.budget = budget
        self.cancel = cancel
        self.events: queue.Queue[tuple[int, Any]] = queue.Queue()
        self.workers: dict[int, _Worker] = {}
        self._next_id = 0
        self.start_failures = 0
        self.killed = 0

    def _start(self) -> None:
        argv = [sys.executable, "-I", "-c", BOOTSTRAP, json.dumps(_import_path())]
        with signals_held():
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True,
                                    close_fds=True)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        ident = self._next_id
        self._next_id += 1
        worker = _Worker(ident, proc, proc.stdin)
        self.workers[ident] = worker
        threading.Thread(target=self._read_results, args=(ident, proc.stdout),
                         daemon=True, name=f"code-worker-{ident}-out").start()
        threading.Thread(target=self._read_stderr, args=(worker, proc.stderr),
                         daemon=True, name=f"code-worker-{ident}-err").start()
        self._send(worker, self.options.to_json())

    def _read_results(self, ident: int, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                try:
                    self.events.put((ident, json.loads(raw)))
                except ValueError:
                    continue  # not ours (the worker writes only JSON lines on this stream)
        except (OSError, ValueError):
            pass
        finally:
            self.events.put((ident, _EOF))

    @staticmethod
    def _read_stderr(worker: _Worker, stream: IO[bytes]) -> None:
        try:
            for raw in stream:
                worker.stderr.append(raw.decode("utf-8", "replace").rstrip()[:300])
        except (OSError, ValueError):
            pass

    @staticmethod
    def _send(worker: _Worker, message: dict[str, Any]) -> bool:
        try:
            worker.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            worker.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def _stop(self, worker: _Worker) -> None:
        with signals_held():
            if worker.proc.poll() is None:
                worker.proc.kill()
            worker.proc.wait()
            with suppress(OSError):
                worker.stdin.close()
        self.workers.pop(worker.ident, None)

    def run(self, tasks: list[Task]) -> Generator[tuple[Task, FileResult], None, None]:
        """Analyse every task; yields (task, result) as each finishes."""
        todo = deque(tasks)
        try:
            for _ in range(min(self.size, len(tasks))):
                self._start()
            while todo or any(w.task is not None for w in self.workers.values()):
                if self.cancel.is_set():
                    raise StepError("scan-code: cancelled")
                for worker in list(self.workers.values()):
                    if worker.ready and worker.task is None and todo:
                        task = todo.popleft()
                        worker.task, worker.started = task, time.monotonic()
                        if not self._send(worker, {"i": task.index, "path": task.path,
                                                   "rel": task.rel, "kind": task.kind}):
                            todo.appendleft(task)  # its end of input is reported next
                            worker.task = None
                yield from self._events(todo)
                yield from self._overdue(todo)
        finally:
            for worker in list(self.workers.values()):
                with suppress(OSError):
                    worker.stdin.close()  # end of input: an idle worker exits by itself
            deadline = time.monotonic() + 1.0
            for worker in list(self.workers.values()):
                with suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                self._stop(worker)

    def _events(self, todo: deque[Task]) -> Iterator[tuple[Task, FileResult]]:
        busy = [w.started for w in self.workers.values() if w.task is not None]
        wait = 0.2 if not busy else max(0.0, min(0.2, min(busy) + self.budget - time.monotonic()))
        try:
            ident, message = self.events.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            worker = self.workers.get(ident)
            if worker is not None:
                yield from self._handle(worker, message, todo)
            try:
                ident, message = self.events.get_nowait()
            except queue.Empty:
                return

    def _handle(self, worker: _Worker, message: Any,
                todo: deque[Task]) -> Iterator[tuple[Task, FileResult]]:
        if message is _EOF:  # the worker ended: on its own, killed, or crashed
            task = worker.task
            code = worker.proc.wait()
            detail = "; ".join(list(worker.stderr)[-3:])
            self._stop(worker)
            if task is not None:
                why = f"the analysis process ended (exit code {code})" + (
                    f": {detail}" if detail else "")
                res = FileResult()
                res.fail(meta_finding("code.analysis-failed", task.rel, why), why)
                yield task, res
            elif not worker.ready:
                self.start_failures += 1
                if self.start_failures > 2 * self.size:
                    raise StepError(f"scan-code: analysis processes could not start (exit code "
                                    f"{code}){': ' + detail if detail else ''}")
            if todo and len(self.workers) < self.size:
                self._start()
            return
        if isinstance(message, dict) and message.get("ready"):
            worker.ready = True
            return
        task = worker.task
        if isinstance(message, dict) and task is not None and message.get("i") == task.index:
            worker.task = None
            yield task, FileResult.from_json(message["result"])

    def _overdue(self, todo: deque[Task]) -> Iterator[tuple[Task, FileResult]]:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            task = worker.task
            if task is None or now - worker.started <= self.budget:
                continue
            worker.task = None
            self._stop(worker)
            self.killed += 1
            why = f"its analysis took longer than {self.budget:g}s (max_seconds_per_file)"
            res = FileResult()
            res.fail(meta_finding("code.budget-exceeded", task.rel, f"not analysed: {why}"),
                     f"budget exceeded: {why}")
            yield task, res
            if todo:
                self._start()
