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

import contextlib
import os
import threading
import time
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
RUN_END_SECONDS = 60.0
"""Seconds one run-end hook may take (a container's removal, a process group's stop) before the
run goes on without it."""

__all__ = ["DEFAULT_STATE_DIR", "RUN_END_SECONDS", "LogFn", "ProgressFn", "RunEndHooks",
           "SettingsT", "StepContext", "StepKind", "StepSettings"]


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


class RunEndHooks:
    """Callables to call once when the run ends (``ctx.at_run_end``): the teardown of what a
    step left running for later steps (``deploy``'s container or process).

    Who calls :meth:`run`: the runner, in the ``finally`` of ``Runner.run`` (every path: passed,
    gate failed, step error, timeout, Ctrl-C/SIGTERM, a crash of the runner), before the run is
    closed; outside a pipeline, whoever made the context calls ``ctx.run_end_hooks()``. As a
    last resort the first registration also registers :meth:`run` with :mod:`atexit`, so a
    context nobody closes still tears down when the interpreter exits normally.

    Hooks run in reverse order of registration, each in its own thread bounded by ``seconds``;
    an exception (or a hook still running at its bound) is logged on the log channel of the
    step that registered it (as an ``ERROR:`` line) and never raised, so it cannot mask the
    run's exit code; its message is kept in :attr:`failures` so the runner can make the run's
    outcome show it (a failed or abandoned teardown may leave a container or process running).
    A hook registered after :meth:`run` (a timed-out step's thread that went on) is called at
    once.
    """

    def __init__(self, seconds: float = RUN_END_SECONDS) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._hooks: list[tuple[Callable[[], object], LogFn]] = []
        self._closed = False
        self._atexit = False
        self._failures: list[str] = []

    @property
    def failures(self) -> tuple[str, ...]:
        """One line per hook that failed or was abandoned at its bound, in call order."""
        with self._lock:
            return tuple(self._failures)

    def add(self, fn: Callable[[], object], log: LogFn = _no_log) -> None:
        """Register ``fn`` (failures go to ``log``); called at once when the run has ended."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._hooks.append((fn, log))
                if not self._atexit:
                    import atexit

                    atexit.register(self.run)
                    self._atexit = True
        if closed:
            self._call(fn, log)

    def __len__(self) -> int:
        with self._lock:
            return len(self._hooks)

    def run(self) -> int:
        """Call every hook once, last registered first; returns how many failed. Later calls
        do nothing (new registrations then run at once)."""
        with self._lock:
            hooks, self._hooks, self._closed = self._hooks[::-1], [], True
            registered, self._atexit = self._atexit, False
        if registered:
            import atexit

            atexit.unregister(self.run)
        return sum(0 if self._call(fn, log) else 1 for fn, log in hooks)

    def _call(self, fn: Callable[[], object], log: LogFn) -> bool:
        failure: list[BaseException] = []

        def target() -> None:
            try:
                fn()
            except BaseException as exc:  # a hook never masks the run's exit code
                failure.append(exc)

        name = getattr(fn, "__qualname__", type(fn).__name__)
        thread = threading.Thread(target=target, name=f"secpipe-run-end-{name}", daemon=True)
        thread.start()
        deadline = time.monotonic() + self.seconds
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                thread.join(min(0.1, max(0.0, deadline - time.monotonic())))
            except KeyboardInterrupt:  # a second Ctrl-C: the teardown still gets its time
                continue
        message = ""
        if thread.is_alive():
            message = f"run-end hook {name} still running after {self.seconds:g} s: left"
        elif failure:
            exc = failure[0]
            text = " ".join(str(exc).split())[:300]
            message = f"run-end hook {name} failed: {type(exc).__name__}: {text}"
        if message:
            with self._lock:
                self._failures.append(message)
            with contextlib.suppress(Exception):  # logging must not raise either
                log("ERROR: " + message)
            return False
        return True


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
    run_end: RunEndHooks = field(default_factory=RunEndHooks)
    """The run's run-end hooks (one object shared by every step of a run; the runner calls
    them when the run ends). A context made outside a run has its own: its maker calls
    :meth:`run_end_hooks`."""

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

    def at_run_end(self, fn: Callable[[], object]) -> None:
        """Call ``fn`` once when the run ends, whatever the way it ends (see
        :class:`RunEndHooks`); register it *before* starting what it tears down."""
        self.run_end.add(fn, self.log)

    def run_end_hooks(self) -> int:
        """End the run for this context's hooks: call them (last registered first); returns
        how many failed. The runner does this for a pipeline; the maker of a bare context must
        call it."""
        return self.run_end.run()


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
