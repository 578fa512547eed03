"""The crash guard of one step's run, on plain values (no step kind, no settings model).

:func:`guarded` is :func:`secpipe.pipeline.execute.run_guarded` for a call that is not a step
kind's ``run``: ``secpipe scan models FILE`` runs the model engine on plain settings through it,
without importing the settings models. The rules are the same (a test runs both on the same
failures): a :class:`SecpipeError` becomes an ERROR result with its diagnostic, any other
exception an ERROR result naming the exception and where it was raised (the traceback goes to
the step's log when ``ctx.debug`` is set), a value that is not a :class:`StepResult` an ERROR
result, and the message is redacted of every secret value the run resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from secpipe.core.errors import SecpipeError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext


def crash_message(exc: BaseException) -> str:
    """``crashed: ValueError: … at module.py:12`` (one line)."""
    import traceback  # only when something crashed

    last = traceback.extract_tb(exc.__traceback__)[-1:]
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    text = " ".join(str(exc).split())[:300]
    return f"crashed: {type(exc).__name__}: {text}{where}"


def guarded(ctx: StepContext, call: Callable[[], object], kind: str) -> StepResult:
    """Run ``call`` (the step of kind ``kind``); every failure is an ERROR result."""
    try:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        result = call()
        if not isinstance(result, StepResult):
            result = StepResult(status=StepStatus.ERROR,
                                message=f"step kind {kind!r} returned no StepResult")
    except SecpipeError as exc:
        result = StepResult(status=StepStatus.ERROR, message=exc.message)
    except Exception as exc:  # fail closed: a crashed step is an error, never clean
        if ctx.debug:
            import traceback

            for line in traceback.format_exception(exc):
                for part in line.rstrip().splitlines():
                    ctx.log(ctx.redact(part))
        result = StepResult(status=StepStatus.ERROR, message=crash_message(exc))
    # a value resolved from a secret reference never reaches the store or the sinks
    return replace(result, message=ctx.redact(result.message))
