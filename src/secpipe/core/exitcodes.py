"""Exit codes of every ``secpipe`` command, defined once.

``0`` the pipeline (or scan, or check) passed · ``1`` a gate decided against it (a verdict) ·
``2`` usage or configuration error, or a step could not complete (a crash, a timeout, an input it
could not read: never a verdict) · ``130`` interrupted by Ctrl-C · ``143`` terminated by SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

PASSED = 0
"""Everything ran and every gate passed."""
GATE_FAILED = 1
"""A gate (or a verification, or ``secpipe scan --fail-on``) decided against the input."""
ERROR = 2
"""Bad usage or configuration, or a step could not complete. Never read as a verdict."""
INTERRUPTED = 130
"""Stopped by Ctrl-C (SIGINT); what ran is recorded, the tools it started are stopped."""
TERMINATED = 143
"""Stopped by SIGTERM (CI cancellation, ``timeout``); recorded like an interrupt."""


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM arrives, so it unwinds like Ctrl-C."""

EPILOG = ("exit codes: 0 passed · 1 a gate failed · 2 usage/config error or a step could not "
          "complete · 130 interrupted · 143 terminated")
"""The line every ``--help`` ends with."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs, SIGTERM (CI cancellation, ``timeout``) unwinds like Ctrl-C: steps
    are cancelled, the tools and worker processes they started are stopped and reaped, and the
    command exits :data:`TERMINATED`. Only the main thread can install a handler; elsewhere the
    block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
