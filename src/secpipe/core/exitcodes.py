"""Exit codes of every ``secpipe`` command, defined once.

``0`` the pipeline (or scan, or check) passed · ``1`` a gate decided against it (a verdict) ·
``2`` usage or configuration error, or a step could not complete (a crash, a timeout, an input it
could not read: never a verdict) · ``130`` interrupted by Ctrl-C · ``143`` terminated by SIGTERM.
"""

from __future__ import annotations

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
