"""The pipeline file model: stages of concurrently-run steps, validated with clear errors."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from secpipe.policy.model import DEFAULT_POLICY, PolicySpec, SuppressionSpec, require_text

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class StepSpec(BaseModel):
    """One step: a kind (``uses:``) and its settings (``with:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    uses: str
    """Step kind, e.g. ``scan-secrets``."""
    id: str | None = None
    """Unique id inside the pipeline (default: the kind, numbered when repeated)."""
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    """Settings for the kind (validated against the kind's own model)."""
    timeout: float = Field(default=1800.0, gt=0)
    """Seconds before the step is stopped and counted as an error."""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str | None) -> str | None:
        if value is not None and not _ID.match(value):
            raise ValueError("step ids use lowercase letters, digits, '-' and '_'")
        return value


class StageSpec(BaseModel):
    """A stage: its steps run concurrently; stages run in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    """Stage name (``security-scan``, ``quality-gate`` …)."""
    steps: list[StepSpec] = Field(min_length=1)
    """The steps of the stage."""

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        return require_text(value, 1, "a stage name")


class PipelineSpec(BaseModel):
    """An ordered list of stages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    """What the pipeline is for."""
    stages: list[StageSpec] = Field(min_length=1)
    """Stages, run in order; a failed stage stops the pipeline."""

    @model_validator(mode="after")
    def _unique_ids(self) -> PipelineSpec:
        seen: set[str] = set()
        for stage in self.stages:
            for step in stage.steps:
                if step.id is not None:
                    if step.id in seen:
                        raise ValueError(f"step id {step.id!r} is used twice")
                    seen.add(step.id)
        return self

    def step_ids(self) -> list[list[str]]:
        """Resolved ids per stage: the explicit id, else the kind (``-2``, ``-3`` when repeated)."""
        explicit = {s.id for st in self.stages for s in st.steps if s.id}
        counts: dict[str, int] = {}
        result: list[list[str]] = []
        for stage in self.stages:
            ids = []
            for step in stage.steps:
                if step.id:
                    ids.append(step.id)
                    continue
                counts[step.uses] = counts.get(step.uses, 0) + 1
                n = counts[step.uses]
                candidate = step.uses if n == 1 else f"{step.uses}-{n}"
                while candidate in explicit:
                    counts[step.uses] += 1
                    candidate = f"{step.uses}-{counts[step.uses]}"
                ids.append(candidate)
            result.append(ids)
        return result


class SinkSpec(BaseModel):
    """One sink under ``sinks:``: a sink kind (``uses:``) and its settings (``with:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    uses: str = Field(min_length=1)
    """Sink kind, e.g. ``webhook`` (``secpipe.sinks.registry``); never a module."""
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    """Settings for the kind (validated against the kind's own model by
    ``secpipe.sinks.registry.validate_sinks``)."""


class ProjectConfig(BaseModel):
    """The whole ``secpipe.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    """Format version; only 1 exists."""
    pipelines: dict[str, PipelineSpec] = Field(default_factory=dict)
    """Pipelines by name; a name of a built-in (``mlsecops``) replaces it."""
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Default ``with:`` settings per step kind, merged under each step's own ``with:``."""
    policy: PolicySpec = DEFAULT_POLICY
    """The project's gate policy; a gate's ``with:`` overrides single fields."""
    suppressions: list[SuppressionSpec] = Field(default_factory=list)
    """Findings accepted on purpose, each with a reason and (advised) an expiry date."""
    state_dir: str = ".secpipe"
    """Where runs, the run database and caches are kept, relative to the project."""
    sinks: dict[str, SinkSpec] = Field(default_factory=dict)
    """Where run events go besides the console, by name (``alerts: {uses: webhook, with: …}``)."""
    sink_drain_seconds: float = Field(default=10.0, ge=0, le=600)
    """At most how long the end of a run waits for the sinks to deliver what is queued."""

    @field_validator("sinks")
    @classmethod
    def _sink_names(cls, value: dict[str, SinkSpec]) -> dict[str, SinkSpec]:
        for name in value:
            if not _ID.match(name):
                raise ValueError(f"sink name {name!r}: use lowercase letters, digits, '-' and '_'")
        return value

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported version {value} (this secpipe reads version 1)")
        return value

    @field_validator("policy", mode="before")
    @classmethod
    def _policy_default(cls, value: object) -> object:
        if isinstance(value, dict) and "fail_on" not in value:
            return {**value, "fail_on": DEFAULT_POLICY.fail_on}
        return value
