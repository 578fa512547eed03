"""Running one step under the crash guard: the only place a step's ``run`` is called.

The runner and ``secpipe scan`` both call :func:`run_guarded`, so a step behaves the same in a
pipeline and on its own: a :class:`SecpipeError` becomes an ERROR result with its diagnostic, any
other exception an ERROR result naming the exception and where it was raised (the traceback goes
to the step's log when ``ctx.debug`` is set), and the message is redacted of every secret value
the run resolved. An ERROR is never a verdict: its stage fails closed and the exit code is 2.
The rules live in :mod:`secpipe.core.guard`, which a one-file scan uses on plain values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from secpipe.core.guard import crash_message, guarded
from secpipe.core.results import StepResult
from secpipe.core.step import StepContext, StepKind

if TYPE_CHECKING:
    from secpipe.core.settings import StepSettings

__all__ = ["crash_message", "run_guarded"]


def run_guarded(kind: type[StepKind[Any]], ctx: StepContext,
                settings: StepSettings) -> StepResult:
    """Run the step; every failure is an ERROR result, never an exception."""
    return guarded(ctx, lambda: kind().run(ctx, settings), kind.kind)
