"""The step-kind interface: what every kind of pipeline step implements, and what it may see.

A step kind is a :class:`StepKind` subclass parameterised by its pydantic settings model (the
``with:`` block, ``extra=forbid`` so a misspelt key is an error naming it) with a ``run`` method.
It never prints: it reports progress and log lines through the :class:`StepContext`, and returns
a :class:`StepResult`. The context is the only channel between the runner and a step: the
records of this run's finished steps, the typed policy, the state folder, secrets and the run
history all arrive through it, so no step opens the run store or re-reads the configuration.

Importing this module does not import pydantic: :class:`StepSettings` lives in
:mod:`secpipe.core.settings` and is imported from there when it is first asked for (``from
secpipe.core.step import StepSettings`` works as always), and the context's default policy (a
pydantic model) is built when a step first reads ``ctx.policy``. A one-file ``secpipe scan``
that needs neither starts without them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from secpipe.core.findings import Finding
from secpipe.core.interfaces import RunHistory, Secrets
from secpipe.core.results import FinishedStep, StepResult, StepStatus

if TYPE_CHECKING:
    from secpipe.core.settings import StepSettings
    from secpipe.policy.model import PolicySpec, SuppressionSpec

DEFAULT_STATE_DIR = ".secpipe"

__all__ = ["DEFAULT_STATE_DIR", "LogFn", "ProgressFn", "SettingsT", "StepContext", "StepKind",
           "StepSettings"]


def __getattr__(name: str) -> Any:
    """``StepSettings`` (and so pydantic) is imported when first asked for."""
    if name == "StepSettings":
        from secpipe.core.settings import StepSettings

        return StepSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ProgressFn = Callable[[int, int | None, str], None]
LogFn = Callable[[str], None]


def _no_progress(done: int, total: int | None, what: str) -> None:
    return None


def _no_log(message: str) -> None:
    return None


class _DefaultPolicy:
    """``StepContext.policy``: the value given when the context was made, else the default
    policy, built when first read (policy builds on core, not the reverse, and the default is
    a pydantic model a one-file scan never reads)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _DefaultPolicy: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> PolicySpec: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self  # the dataclass takes the descriptor as the field's default
        value = obj.__dict__.get(self.slot, self)
        if value is self:
            from secpipe.policy.model import DEFAULT_POLICY

            value = obj.__dict__[self.slot] = DEFAULT_POLICY
        return value

    def __set__(self, obj: object, value: PolicySpec | _DefaultPolicy) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class StepContext:
    """What a running step may see and use."""

    project_root: Path
    """The project being checked (the folder holding ``secpipe.yaml``)."""
    workdir: Path
    """A folder for this step's outputs (``<state_dir>/runs/<run-id>/<step-id>/``)."""
    run_id: str = "adhoc"
    """Id of the run."""
    pipeline: str = ""
    """Name of the pipeline."""
    step_id: str = ""
    """Id of this step inside the pipeline."""
    earlier: tuple[FinishedStep, ...] = ()
    """This run's steps of earlier stages, in the order they ended (results in memory)."""
    policy: _DefaultPolicy = _DefaultPolicy()
    """The project's gate policy (``secpipe.yaml`` ``policy:``), validated."""
    suppressions: tuple[SuppressionSpec, ...] = ()
    """Suppressions from ``secpipe.yaml`` and ``.secpipe-suppressions.yaml``."""
    state_dir: Path | None = None
    """secpipe's state folder of the project (default ``<project_root>/.secpipe``)."""
    progress: ProgressFn = _no_progress
    """Report progress: ``progress(done, total_or_None, what)``."""
    log: LogFn = _no_log
    """Report a log line."""
    cancel: threading.Event = field(default_factory=threading.Event)
    """Set when the step must stop (timeout, Ctrl-C); long loops check ``cancel.is_set()``."""
    timeout: float | None = None
    """Seconds this step may take (for subprocesses it starts)."""
    cache_dir: Path | None = None
    """A persistent cache folder shared by runs (:func:`user_cache_dir`); None disables
    caching."""
    secrets: Secrets | None = None
    """Resolves secret references in settings, only when a step asks, and redacts the values it
    handed out (one resolver per run); None outside a run (``keys.refs.resolver_for``)."""
    history: RunHistory | None = None
    """Questions about earlier runs (evaluate's "drop since the last passed run"); None when the
    step runs outside a recorded pipeline."""
    debug: bool = False
    """``-v``: a crashed step logs its traceback."""

    def __post_init__(self) -> None:
        if self.state_dir is None:
            self.state_dir = self.project_root / DEFAULT_STATE_DIR

    @property
    def state(self) -> Path:
        """The state folder (``state_dir``, always set after construction)."""
        assert self.state_dir is not None
        return self.state_dir

    @property
    def run_dir(self) -> Path:
        """``<state_dir>/runs/<run-id>``: where every step of this run writes its outputs."""
        return self.state / "runs" / self.run_id

    @property
    def findings_so_far(self) -> tuple[Finding, ...]:
        """Findings of all earlier stages (gates judge these)."""
        return tuple(f for step in self.earlier for f in step.findings)

    @property
    def metrics_so_far(self) -> Mapping[str, float]:
        """Metrics of all earlier stages, keyed ``name`` (the latest wins) and ``step-id.name``."""
        out: dict[str, float] = {}
        for step in self.earlier:
            for key, value in step.metrics.items():
                out[key] = value
                out[f"{step.step_id}.{key}"] = value
        return out

    @property
    def errors_so_far(self) -> tuple[str, ...]:
        """``step-id: message`` of every earlier step that could not complete."""
        return tuple(f"{s.step_id}: {s.result.message}" for s in self.earlier
                     if s.status is StepStatus.ERROR)

    def redact(self, text: str) -> str:
        """``text`` with every secret value this run resolved masked."""
        return self.secrets.redact(text) if self.secrets is not None else text


SettingsT = TypeVar("SettingsT", bound="StepSettings")


class _BaseSettings:
    """``StepKind.Settings`` of a kind that sets none: :class:`StepSettings`, imported when
    first asked for."""

    def __get__(self, obj: object, owner: type | None = None) -> type[StepSettings]:
        from secpipe.core.settings import StepSettings

        return StepSettings


class StepKind(Generic[SettingsT]):
    """Base class of step kinds: ``class MyStep(StepKind[MySettings])`` sets ``kind``,
    ``summary``, ``Settings = MySettings`` and implements ``run``."""

    kind: ClassVar[str] = ""
    """The ``uses:`` name."""
    summary: ClassVar[str] = ""
    """One line for ``secpipe steps``."""
    if TYPE_CHECKING:
        Settings: ClassVar[type[StepSettings]]
        """The ``with:`` model (the same class as the type parameter)."""
    else:
        Settings = _BaseSettings()
    produces_metrics: ClassVar[tuple[str, ...]] = ()
    """Names of the metrics its results can carry, as ``fnmatch`` patterns (``accuracy``,
    ``f1_*``); a metric bound no step of a pipeline can produce is refused when it is planned."""

    def run(self, ctx: StepContext, settings: SettingsT) -> StepResult:  # pragma: no cover
        raise NotImplementedError


def user_cache_dir() -> Path:
    """secpipe's cache folder: ``$XDG_CACHE_HOME/secpipe`` (``~/.cache/secpipe``). Caches live
    here and never inside a project: a cache entry committed to a repository (results keyed by
    content digest) could otherwise hide what the scan of that repository would find."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "secpipe"
