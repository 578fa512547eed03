"""``policy.require``: steps that must have done real work for a run to pass.

A step that had nothing to work on returns SKIPPED with a message that starts ``not configured:``
or ``nothing found:`` — the run can still pass, and says so. A project that relies on a step
(training, signing, storing …) lists it under ``policy.require`` by kind or step id; the run then
fails (exit 1) when that step did not run or did no work. The runner judges the requirements once,
after the last stage; ``secpipe gate`` judges them again on a recorded run.
"""

from __future__ import annotations

from collections.abc import Sequence

from secpipe.core.errors import ConfigError
from secpipe.core.results import GateDecision, StepStatus, StepView

REQUIRE_STEP_ID = "require"
"""Id of the step the runner records its judgement under (in a last stage ``requirements``)."""


def judge_requirements(require: Sequence[str], steps: Sequence[StepView]) -> GateDecision:
    """Did every required step (a kind or a step id) run and do real work?"""
    reasons: list[str] = []
    notes: list[str] = []
    for name in require:
        matches = [s for s in steps if name in (s.kind, s.step_id)]
        if not matches:
            reasons.append(f"required step {name} did not run")
        elif all(s.status is StepStatus.SKIPPED for s in matches):
            why = matches[-1].message or "it had nothing to work on"
            reasons.append(f"required step {name} did no work ({why})")
        else:
            notes.append(f"required step {name} did real work")
    return GateDecision(passed=not reasons, reasons=tuple(reasons), notes=tuple(notes))


def check_required_names(require: Sequence[str], known: set[str]) -> None:
    """Load-time check: every name must be a step kind or step id secpipe knows (a typo would
    otherwise require nothing)."""
    for name in require:
        if name not in known:
            raise ConfigError(f"policy.require: {name!r} is neither a step kind nor a step id "
                              "of a pipeline of this project",
                              hint="known: " + ", ".join(sorted(known)))


def applicable(require: Sequence[str], kinds: set[str], step_ids: set[str]) -> list[str]:
    """The requirements a pipeline can meet: those naming one of its kinds or step ids (a
    project-wide policy also names steps that only another pipeline has)."""
    return [name for name in require if name in kinds or name in step_ids]
