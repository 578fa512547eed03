"""The ``gate`` step: judge everything gathered so far against the project's policy."""

from __future__ import annotations

from pathlib import Path

from secpipe import __version__
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.policy.baseline import DEFAULT_BASELINE, load_baseline
from secpipe.policy.evaluate import evaluate
from secpipe.policy.model import PolicySpec


def resolve_baseline(project_root: Path, policy: PolicySpec) -> frozenset[str]:
    """The baseline named by the policy, else ``.secpipe-baseline.json`` when it exists."""
    if policy.baseline:
        return load_baseline(project_root / policy.baseline)
    default = project_root / DEFAULT_BASELINE
    return load_baseline(default) if default.is_file() else frozenset()


class GateStep(StepKind[PolicySpec]):
    """Fail the pipeline when the policy is not met (fails closed on earlier step errors)."""

    kind = "gate"
    summary = "quality gate: severities, counts, metric bounds, baseline, suppressions"
    Settings = PolicySpec

    def run(self, ctx: StepContext, settings: PolicySpec) -> StepResult:
        policy = ctx.policy.merged(settings)
        suppressions = ctx.suppressions
        decision = evaluate(
            policy,
            ctx.findings_so_far,
            ctx.metrics_so_far,
            ctx.errors_so_far,
            suppressions,
            resolve_baseline(ctx.project_root, policy),
        )
        message = "passed" if decision.passed else "failed: " + "; ".join(decision.reasons)
        return StepResult(
            status=StepStatus.PASSED if decision.passed else StepStatus.FAILED,
            gate=decision,
            message=message,
            tool=f"secpipe {__version__}",
        )
