"""Policy and suppression settings of ``secpipe.yaml`` (validated, extra keys refused)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from secpipe.core.findings import Severity
from secpipe.core.step import StepSettings
from secpipe.policy.metrics import MetricBound


class PolicySpec(StepSettings):
    """What a gate fails on. Every field is optional so a gate's ``with:`` can override a few."""

    fail_on: Severity | None = None
    """Fail when any counted finding is at this severity or worse (default ``high``)."""
    max: dict[str, int] | None = None
    """Maximum counts, keyed by severity name (``medium: 5``) or rule id (``secrets.jwt: 0``)."""
    metrics: list[str] | None = None
    """Metric bounds such as ``accuracy >= 0.8``; a bound on a missing metric fails."""
    baseline: str | None = None
    """Baseline file (relative to the project); findings whose fingerprint is in it are not new."""
    scanners: list[str] | None = None
    """Only judge findings of these step kinds (default: all)."""
    require: list[str] | None = None
    """Steps (kinds or step ids) that must do real work: one that did not run or was skipped
    (``not configured``, ``nothing found``) fails the run after its last stage. Judged once per
    run, not by each gate (``secpipe init`` sets it for what it wired)."""
    unsafe_ignore_step_errors: bool | None = None
    """Let the gate pass although an earlier step could not complete. Unsafe: a scanner that
    crashed is not a scanner that found nothing."""
    accept_tool_suppressions: bool | None = None
    """Accept findings a tool suppressed in its own output (``nosemgrep``, SARIF
    ``suppressions``), which carry no reason and no expiry (default: they are counted)."""

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lower() in ("none", "never", "off"):
                return None
            return Severity.parse(value)
        return value

    @field_validator("max")
    @classmethod
    def _non_negative(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        for key, count in (value or {}).items():
            if count < 0:
                raise ValueError(f"max.{key} must be >= 0")
        return value

    @field_validator("metrics")
    @classmethod
    def _bounds(cls, value: list[str] | None) -> list[str] | None:
        for text in value or []:
            MetricBound.parse(text)  # raises ValueError with a clear message
        return value

    def merged(self, override: PolicySpec | None) -> PolicySpec:
        """This policy with the fields ``override`` sets replacing ours."""
        if override is None:
            return self
        data = self.model_dump()
        data.update(override.model_dump(exclude_unset=True))
        return PolicySpec.model_validate(data)


DEFAULT_POLICY = PolicySpec(fail_on=Severity.HIGH)
MIN_REASON_CHARS = 3
"""A suppression's reason has at least this many characters that are not spaces."""


def require_text(value: str, minimum: int, what: str) -> str:
    """``value`` without the spaces around it, if it has ``minimum`` non-space characters; a
    required free-text field filled with spaces says nothing."""
    if sum(not c.isspace() for c in value) < minimum:
        unit = "character" if minimum == 1 else "characters"
        raise ValueError(f"{what} needs at least {minimum} {unit} besides spaces")
    return value.strip()


class SuppressionSpec(BaseModel):
    """Accept a finding on purpose. A reason is required; an expiry date is strongly advised."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str | None = None
    """Exact finding fingerprint (from a report or ``secpipe runs``)."""
    rule: str | None = None
    """A rule id; with ``path`` it narrows, alone it suppresses the rule everywhere."""
    path: str | None = None
    """A glob over the finding's path (``examples/**``)."""
    reason: str
    """Why this is acceptable (shown in every report): at least three characters besides
    spaces, kept without the spaces around it."""
    expires: dt.date | None = None
    """After this date the suppression stops working and the gate says so."""

    @field_validator("fingerprint", "rule", "path")
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        return value if value is None or value.strip() else None

    @field_validator("reason")
    @classmethod
    def _real_reason(cls, value: str) -> str:
        return require_text(value, MIN_REASON_CHARS, "a reason")

    @model_validator(mode="after")
    def _selects_something(self) -> SuppressionSpec:
        if not (self.fingerprint or self.rule or self.path):
            raise ValueError("a suppression needs a fingerprint, a rule or a path")
        return self
