"""The step-kind interface: what every kind of pipeline step implements.

A step kind is a class with a pydantic ``Settings`` model (the ``with:`` block, ``extra=forbid``
so a misspelt key is an error naming it) and a ``run`` method. It never prints: it reports
progress and log lines through the :class:`StepContext`, and returns a :class:`StepResult`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from secpipe.core.findings import Finding
from secpipe.core.results import StepResult

if TYPE_CHECKING:
    from secpipe.keys.refs import SecretResolver


class StepSettings(BaseModel):
    """Base of every step's ``with:`` settings: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ProgressFn = Callable[[int, int | None, str], None]
LogFn = Callable[[str], None]


def _no_progress(done: int, total: int | None, what: str) -> None:
    return None


def _no_log(message: str) -> None:
    return None


@dataclass
class StepContext:
    """What a running step may see and use."""

    project_root: Path
    """The project being checked (the folder holding ``secpipe.yaml``)."""
    workdir: Path
    """A folder for this run's outputs (``.secpipe/runs/<run-id>/<step-id>/``)."""
    run_id: str = "adhoc"
    """Id of the run."""
    pipeline: str = ""
    """Name of the pipeline."""
    step_id: str = ""
    """Id of this step inside the pipeline."""
    findings_so_far: tuple[Finding, ...] = ()
    """Findings of all earlier stages (gates judge these)."""
    metrics_so_far: Mapping[str, float] = field(default_factory=dict)
    """Metrics of all earlier stages, keyed ``name`` and ``step-id.name``."""
    errors_so_far: tuple[str, ...] = ()
    """Steps of earlier stages that errored (gates fail closed on them)."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The project's whole configuration (policy, suppressions …), already validated."""
    progress: ProgressFn = _no_progress
    """Report progress: ``progress(done, total_or_None, what)``."""
    log: LogFn = _no_log
    """Report a log line."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set when the step must stop (timeout, Ctrl-C); long loops check ``cancel.is_set()``."""
    timeout: float | None = None
    """Seconds this step may take (for subprocesses it starts)."""
    cache_dir: Path | None = None
    """A persistent cache folder shared by runs (``.secpipe/cache`` in a pipeline run, the user's
    cache folder for ad-hoc scans); None disables caching."""
    secrets: SecretResolver | None = None
    """Resolves secret references (``${env:…}``, ``${vault:…}`` …) in settings, only when a step
    asks, and redacts the values it handed out; None outside a pipeline run."""


class StepKind:
    """Base class of step kinds. Subclasses set ``kind``, ``Settings`` and implement ``run``."""

    kind: ClassVar[str] = ""
    """The ``uses:`` name."""
    summary: ClassVar[str] = ""
    """One line for ``secpipe steps``."""
    Settings: ClassVar[type[StepSettings]] = StepSettings

    def run(self, ctx: StepContext, settings: Any) -> StepResult:  # pragma: no cover - abstract
        raise NotImplementedError
