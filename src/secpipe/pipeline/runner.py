"""The runner: stages in order, the steps of a stage concurrently, each under a timeout.

Every step runs in its own thread through :func:`secpipe.pipeline.execute.run_guarded` with a
:class:`StepContext` that carries this run's finished steps in memory (``ctx.earlier``), the typed
policy and suppressions, the state folder, the run's secret resolver and the run history. A step
that raises, times out or returns ERROR makes its stage fail closed (exit 2); a gate that returns
FAILED fails the run (exit 1). Every finished step is written to the run store at once, so a run
that dies midway keeps what it had.

Ctrl-C (or SIGTERM, which ``secpipe run`` turns into the same interrupt) sets ``ctx.cancel`` of
every running step; the tool supervisor kills the process groups they started; the runner waits
at most :data:`INTERRUPT_GRACE` seconds for them, records what did not end as interrupted and the
run as ``interrupted`` (exit 130).

Run-end hooks (``ctx.at_run_end``, :class:`~secpipe.core.step.RunEndHooks`: ``deploy``'s
teardown) are shared by every step of a run and called in the ``finally`` of :meth:`Runner.run`,
on every path, before the run is closed; they are bounded and never change the exit code.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from secpipe.core import exitcodes
from secpipe.core.errors import StoreError
from secpipe.core.events import (
    Emitter,
    GateDecided,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
    StepFinished,
    StepLog,
    StepProgress,
    StepStarted,
)
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.core.step import (
    RunEndHooks,
    StepContext,
    StepKind,
    StepSettings,
    user_cache_dir,
)
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.config import Project
from secpipe.pipeline.execute import run_guarded
from secpipe.pipeline.metric_plan import place_metric_bounds
from secpipe.pipeline.model import PipelineSpec
from secpipe.policy.require import (
    REQUIRE_STEP_ID,
    applicable,
    check_required_names,
    judge_requirements,
)
from secpipe.runstore import RunStore

INTERRUPT_GRACE = 10.0
"""Seconds an interrupted run waits for its steps (and the tools they started) to stop."""
TIMEOUT_GRACE = 2.0
"""Seconds a timed-out step gets to stop after its ``cancel`` is set."""
_POLL = 0.1


@dataclass(frozen=True)
class PlannedStep:
    """A step resolved before the run: kind class loaded, settings validated."""

    stage: str
    """Stage name."""
    step_id: str
    """Id inside the pipeline."""
    kind_name: str
    """Its ``uses:``."""
    kind: type[StepKind[Any]]
    """The step kind class."""
    settings: StepSettings
    """Its validated ``with:``."""
    timeout: float
    """Seconds it may take."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    run_id: str
    """The recorded run."""
    status: str
    """passed, failed, error, interrupted."""
    exit_code: int
    """The exit code (:mod:`secpipe.core.exitcodes`)."""
    errors: tuple[str, ...] = ()
    """``step-id: message`` of every step that could not complete (also when the run store
    could not record it)."""


def plan(project: Project, name: str, spec: PipelineSpec) -> list[list[PlannedStep]]:
    """Resolve every step (kind and settings) up front, so config errors stop the run before it
    starts, each naming the stage, step and key."""
    stages: list[list[PlannedStep]] = []
    for stage, ids in zip(spec.stages, spec.step_ids(), strict=True):
        planned = []
        for step, step_id in zip(stage.steps, ids, strict=True):
            where = f"pipeline {name}: stage {stage.name}: step {step_id}"
            kind, settings = project.step_settings(step, where)
            planned.append(
                PlannedStep(stage.name, step_id, step.uses, kind, settings, step.timeout)
            )
        stages.append(planned)
    return place_metric_bounds(project.config.policy, name, stages)


class _Slot:
    """Where one step's result lands; the first to claim it (the step itself, or the runner on
    timeout or interrupt) records it, the other is ignored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.result: StepResult | None = None
        self.done = threading.Event()
        """Set when the step's thread has ended (``Thread.join`` is not used to wait: a join
        interrupted by Ctrl-C leaves CPython's thread state saying "not alive")."""

    def claim(self, result: StepResult) -> bool:
        with self._lock:
            if self.result is not None:
                return False
            self.result = result
            return True


class Runner:
    """Runs one pipeline of a project, recording into a :class:`RunStore` and emitting events."""

    def __init__(self, project: Project, store: RunStore, bus: Emitter, *,
                 secrets: SecretResolver | None = None, debug: bool = False) -> None:
        self.project = project
        self.store = store
        self.bus = bus
        self.debug = debug
        self._pipeline_name = ""
        self._secrets = secrets or SecretResolver(project.root)
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._recorded: set[str] = set()
        self._run_end = RunEndHooks()

    def run(self, name: str, spec: PipelineSpec | None = None) -> RunOutcome:
        spec = spec or self.project.pipeline(name)
        self._pipeline_name = name
        stages = plan(self.project, name, spec)
        require = self.project.config.policy.require or []
        if require:
            check_required_names(require, self.project.step_names())
            require = applicable(require, {p.kind_name for st in stages for p in st},
                                 {p.step_id for st in stages for p in st})
        run_id = self.store.start_run(name, str(self.project.root))
        self._run_end = run_end = RunEndHooks()  # ctx.at_run_end of every step of this run
        self.bus.emit(RunStarted(
            run_id, pipeline=name, project=str(self.project.root),
            stage_names=tuple(s.name for s in spec.stages),
            stages=tuple(tuple(p.step_id for p in stage) for stage in stages)))
        earlier: list[FinishedStep] = []
        exit_code, status = exitcodes.PASSED, "passed"
        store_failure: StoreError | None = None
        index, completed = 0, False
        try:
            for index, stage in enumerate(stages):
                stage_name = spec.stages[index].name
                if exit_code != exitcodes.PASSED:
                    self.store.record_stage(run_id, index, stage_name, StepStatus.SKIPPED)
                    continue
                self.bus.emit(StageStarted(run_id, stage=stage_name, index=index))
                finished = self._run_stage(run_id, stage, tuple(earlier))
                earlier.extend(finished)
                stage_status = _stage_status(finished)
                self.store.record_stage(run_id, index, stage_name, stage_status)
                self.bus.emit(StageFinished(run_id, stage=stage_name, status=stage_status.value))
                if stage_status is StepStatus.ERROR:
                    exit_code, status = exitcodes.ERROR, "error"
                elif stage_status is StepStatus.FAILED:
                    exit_code, status = exitcodes.GATE_FAILED, "failed"
            if exit_code == exitcodes.PASSED:
                ran = {p.step_id for stage in stages for p in stage}
                missing = sorted(ran - self._recorded)
                if missing:  # passed means every step ended and was recorded
                    exit_code, status = exitcodes.ERROR, "error"
            if exit_code == exitcodes.PASSED and require and \
                    not self._requirements(run_id, len(stages), require, earlier):
                exit_code, status = exitcodes.GATE_FAILED, "failed"
            completed = True
        except KeyboardInterrupt as stop:
            exit_code = exitcodes.TERMINATED if isinstance(stop, exitcodes.Terminated) \
                else exitcodes.INTERRUPTED
            status = "interrupted"
            if index < len(stages):
                self.store.record_stage(run_id, index, spec.stages[index].name,
                                        StepStatus.ERROR)
            for later in range(index + 1, len(stages)):
                self.store.record_stage(run_id, later, spec.stages[later].name,
                                        StepStatus.SKIPPED)
        except StoreError as exc:  # a stage could not be recorded: the run did not pass
            exit_code, status, store_failure = exitcodes.ERROR, "error", exc
        finally:
            run_end.run()  # teardown of what steps left running: every path, bounded, guarded
            if run_end.failures and status == "passed":  # something may be left running
                exit_code, status = exitcodes.ERROR, "error"
            if not completed and status == "passed":  # an exception is on its way up
                exit_code, status = exitcodes.ERROR, "error"
            unrecorded: StoreError | None = store_failure
            try:
                self.store.finish_run(run_id, status, exit_code)
            except StoreError as exc:  # the run stays "running" in the store: never a pass
                unrecorded, exit_code, status = exc, exitcodes.ERROR, "error"
            self.bus.emit(RunFinished(run_id, pipeline=name, status=status, exit_code=exit_code))
        if unrecorded is not None:
            raise StoreError(f"run {run_id} could not be recorded: {unrecorded.message}")
        errors = (*(f"{f.step_id}: {f.message}" for f in earlier
                    if f.status is StepStatus.ERROR),
                  *(f"run-end: {m}" for m in run_end.failures))
        return RunOutcome(run_id, status, exit_code, errors)

    def _requirements(self, run_id: str, index: int, require: list[str],
                      earlier: list[FinishedStep]) -> bool:
        """Judge ``policy.require`` after the last stage, recorded as a last stage of its own."""
        decision = judge_requirements(require, earlier)
        planned = PlannedStep("requirements", REQUIRE_STEP_ID, "gate", StepKind, StepSettings(),
                              0.0)
        message = "passed" if decision.passed else "failed: " + "; ".join(decision.reasons)
        result = StepResult(status=StepStatus.PASSED if decision.passed else StepStatus.FAILED,
                            gate=decision, message=message)
        self.bus.emit(StageStarted(run_id, stage="requirements", index=index))
        failure = self._finished(run_id, planned, result, time.time(), 0.0)
        status = StepStatus.ERROR if failure else result.status
        self.store.record_stage(run_id, index, "requirements", status)
        self.bus.emit(StageFinished(run_id, stage="requirements", status=status.value))
        if failure:
            raise StoreError(failure)
        return decision.passed

    # -- one stage -------------------------------------------------------------------------
    def _run_stage(self, run_id: str, stage: list[PlannedStep],
                   earlier: tuple[FinishedStep, ...]) -> list[FinishedStep]:
        slots = [_Slot() for _ in stage]
        contexts = [self._context(run_id, planned, earlier) for planned in stage]
        deadlines = []
        for planned, ctx, slot in zip(stage, contexts, slots, strict=True):
            thread = threading.Thread(target=self._run_step, args=(planned, ctx, slot),
                                      name=f"secpipe-{planned.step_id}", daemon=True)
            thread.start()
            deadlines.append(time.monotonic() + planned.timeout)
        try:
            self._wait(run_id, stage, contexts, deadlines, slots)
        except KeyboardInterrupt:
            self._interrupt(run_id, stage, contexts, slots)
            raise
        return [FinishedStep(p.step_id, p.kind_name, p.stage, slot.result or StepResult(
            status=StepStatus.ERROR, message="step ended without a result"))
            for p, slot in zip(stage, slots, strict=True)]

    def _wait(self, run_id: str, stage: list[PlannedStep], contexts: list[StepContext],
              deadlines: list[float], slots: list[_Slot]) -> None:
        """Wait for every step; one past its deadline is cancelled and recorded as timed out."""
        pending = list(range(len(stage)))
        while pending:
            first = pending[0]
            slots[first].done.wait(min(_POLL, max(0.0, deadlines[first] - time.monotonic())))
            for j in list(pending):
                if slots[j].done.is_set():
                    pending.remove(j)
                elif time.monotonic() >= deadlines[j]:
                    planned = stage[j]
                    result = StepResult(status=StepStatus.ERROR, message=(
                        f"timed out after {planned.timeout:g} s (it was stopped)"))
                    claimed = slots[j].claim(result)  # whatever it returns now comes too late
                    contexts[j].cancel.set()
                    slots[j].done.wait(TIMEOUT_GRACE)  # a cooperative step stops at its check
                    if claimed:
                        self._finished(run_id, planned, result, time.time() - planned.timeout,
                                       planned.timeout)
                    pending.remove(j)

    def _interrupt(self, run_id: str, stage: list[PlannedStep], contexts: list[StepContext],
                   slots: list[_Slot]) -> None:
        """Ctrl-C: cancel every running step, give them (and the tools they started) a bounded
        time to stop, record the rest as interrupted."""
        for ctx in contexts:
            ctx.cancel.set()
        deadline = time.monotonic() + INTERRUPT_GRACE
        try:
            for slot in slots:
                slot.done.wait(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        for planned, slot in zip(stage, slots, strict=True):
            result = StepResult(status=StepStatus.ERROR,
                                message="interrupted (Ctrl-C or SIGTERM): the step was stopped")
            if slot.claim(result):
                self._finished(run_id, planned, result, time.time(), 0.0)

    def _context(self, run_id: str, planned: PlannedStep,
                 earlier: tuple[FinishedStep, ...]) -> StepContext:
        state = self.project.state_dir
        bus, step_id, redact = self.bus, planned.step_id, self._secrets.redact

        def progress(done: int, total: int | None, what: str) -> None:
            bus.emit(StepProgress(run_id, step=step_id, done=done, total=total,
                                  what=redact(what)))

        def log(message: str) -> None:
            bus.emit(StepLog(run_id, step=step_id, message=redact(message)))

        return StepContext(
            project_root=self.project.root, workdir=state / "runs" / run_id / step_id,
            run_id=run_id, pipeline=self._pipeline_name, step_id=step_id, earlier=earlier,
            policy=self.project.config.policy, suppressions=self.project.suppressions,
            state_dir=state, progress=progress, log=log, cancel=threading.Event(),
            timeout=planned.timeout, cache_dir=user_cache_dir(), secrets=self._secrets,
            history=self.store, debug=self.debug, run_end=self._run_end,
        )

    def _run_step(self, planned: PlannedStep, ctx: StepContext, slot: _Slot) -> None:
        self.bus.emit(StepStarted(ctx.run_id, step=planned.step_id, kind=planned.kind_name,
                                  stage=planned.stage))
        started_wall, started = time.time(), time.monotonic()
        try:
            result = run_guarded(planned.kind, ctx, planned.settings)
            if slot.claim(result):
                failure = self._finished(ctx.run_id, planned, result, started_wall,
                                         time.monotonic() - started)
                if failure:  # what the run store does not hold did not happen, for a gate
                    slot.result = replace(result, status=StepStatus.ERROR, message=failure)
        finally:
            slot.done.set()

    def _finished(self, run_id: str, planned: PlannedStep, result: StepResult,
                  started: float, duration: float) -> str:
        """Record the step at once (a later crash keeps it), then tell the sinks. Returns ''
        or, when the run store refused the record (a full disk), why: the step then counts as
        an error."""
        with self._seq_lock:
            seq = self._seq
            self._seq += 1
        failure = ""
        try:
            self.store.record_step(run_id, seq, planned.step_id, planned.kind_name,
                                   planned.stage, started, duration, result)
            with self._seq_lock:
                self._recorded.add(planned.step_id)
        except StoreError as exc:
            failure = f"the step ended but could not be recorded: {exc.message}"
            result = replace(result, status=StepStatus.ERROR, message=failure)
        self.bus.emit(StepFinished.of(run_id, planned.step_id, planned.kind_name, planned.stage,
                                      result, duration))
        if result.gate is not None:
            self.bus.emit(GateDecided(run_id, step=planned.step_id, stage=planned.stage,
                                      decision=result.gate))
        return failure


def _stage_status(finished: list[FinishedStep]) -> StepStatus:
    """ERROR when any step errored, else FAILED when any failed, else PASSED."""
    statuses = {step.status for step in finished}
    if StepStatus.ERROR in statuses:
        return StepStatus.ERROR
    if StepStatus.FAILED in statuses:
        return StepStatus.FAILED
    return StepStatus.PASSED
