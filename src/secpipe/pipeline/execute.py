"""Running one step under the crash guard: the only place a step's ``run`` is called.

The runner and ``secpipe scan`` both call :func:`run_guarded`, so a step behaves the same in a
pipeline and on its own: a :class:`SecpipeError` becomes an ERROR result with its diagnostic, any
other exception an ERROR result naming the exception and where it was raised (the traceback goes
to the step's log when ``ctx.debug`` is set), and the message is redacted of every secret value
the run resolved. An ERROR is never a verdict: its stage fails closed and the exit code is 2.
"""

from __future__ import annotations

import traceback
from dataclasses import replace
from typing import Any

from secpipe.core.errors import SecpipeError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings


def crash_message(exc: BaseException) -> str:
    """``crashed: ValueError: … at module.py:12`` (one line)."""
    last = traceback.extract_tb(exc.__traceback__)[-1:]
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    text = " ".join(str(exc).split())[:300]
    return f"crashed: {type(exc).__name__}: {text}{where}"


def run_guarded(kind: type[StepKind[Any]], ctx: StepContext,
                settings: StepSettings) -> StepResult:
    """Run the step; every failure is an ERROR result, never an exception."""
    try:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        result = kind().run(ctx, settings)
        if not isinstance(result, StepResult):
            result = StepResult(status=StepStatus.ERROR,
                                message=f"step kind {kind.kind!r} returned no StepResult")
    except SecpipeError as exc:
        result = StepResult(status=StepStatus.ERROR, message=exc.message)
    except Exception as exc:  # fail closed: a crashed step is an error, never clean
        if ctx.debug:
            for line in traceback.format_exception(exc):
                for part in line.rstrip().splitlines():
                    ctx.log(ctx.redact(part))
        result = StepResult(status=StepStatus.ERROR, message=crash_message(exc))
    # a value resolved from a secret reference never reaches the store or the sinks
    return replace(result, message=ctx.redact(result.message))
