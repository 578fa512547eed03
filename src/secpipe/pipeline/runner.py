"""The runner: stages in order, the steps of a stage concurrently, each under a timeout.

A step that raises, times out or returns ERROR makes its stage fail closed; a gate that returns
FAILED fails the run with exit code 1. Every finished step is written to the run store at once, so a
run that dies midway keeps what it had.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

from secpipe.core.errors import SecpipeError
from secpipe.core.events import Event, EventBus
from secpipe.core.findings import Finding
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.keys.refs import SecretResolver
from secpipe.pipeline.config import Project
from secpipe.pipeline.model import PipelineSpec
from secpipe.runstore import RunStore

EXIT_PASSED, EXIT_GATE_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(frozen=True)
class PlannedStep:
    """A step resolved before the run: kind class loaded, settings validated."""

    stage: str
    step_id: str
    kind_name: str
    kind: type[StepKind]
    settings: StepSettings
    timeout: float


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    run_id: str
    status: str
    exit_code: int


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
    return stages


class Runner:
    """Runs one pipeline of a project, recording into a :class:`RunStore`."""

    def __init__(self, project: Project, store: RunStore, bus: EventBus) -> None:
        self.project = project
        self.store = store
        self.bus = bus
        self._cancel = threading.Event()
        self._pipeline_name = ""
        self._secrets = SecretResolver(project.root)
        self._seq = 0
        self._seq_lock = threading.Lock()

    def run(self, name: str, spec: PipelineSpec | None = None) -> RunOutcome:
        spec = spec or self.project.pipeline(name)
        self._pipeline_name = name
        stages = plan(self.project, name, spec)
        run_id = self.store.start_run(name, str(self.project.root))
        self.bus.emit(Event("run.started", run_id, {
            "pipeline": name, "project": str(self.project.root),
            "stages": [[p.step_id for p in stage] for stage in stages],
            "stage_names": [s.name for s in spec.stages],
        }))
        findings: list[Finding] = []
        metrics: dict[str, float] = {}
        errors: list[str] = []
        exit_code, status = EXIT_PASSED, "passed"
        try:
            for index, stage in enumerate(stages):
                stage_name = spec.stages[index].name
                if exit_code != EXIT_PASSED:
                    self.store.record_stage(run_id, index, stage_name, StepStatus.SKIPPED)
                    continue
                self.bus.emit(Event("stage.started", run_id, {"stage": stage_name, "index": index}))
                results = self._run_stage(run_id, stage, tuple(findings), dict(metrics),
                                          tuple(errors))
                stage_status = StepStatus.PASSED
                for planned, (_, _, result) in zip(stage, results, strict=True):
                    findings.extend(result.findings)
                    for key, value in result.metrics.items():
                        metrics[key] = value
                        metrics[f"{planned.step_id}.{key}"] = value
                    if result.status is StepStatus.ERROR:
                        errors.append(f"{planned.step_id}: {result.message}")
                        stage_status = StepStatus.ERROR
                    elif result.status is StepStatus.FAILED and stage_status is StepStatus.PASSED:
                        stage_status = StepStatus.FAILED
                self.store.record_stage(run_id, index, stage_name, stage_status)
                self.bus.emit(Event("stage.finished", run_id,
                                    {"stage": stage_name, "status": stage_status.value}))
                if stage_status is StepStatus.ERROR:
                    exit_code, status = EXIT_ERROR, "error"
                elif stage_status is StepStatus.FAILED:
                    exit_code, status = EXIT_GATE_FAILED, "failed"
        except KeyboardInterrupt:
            self._cancel.set()
            exit_code, status = EXIT_INTERRUPTED, "interrupted"
        finally:
            self.store.finish_run(run_id, status, exit_code)
            self.bus.emit(Event("run.finished", run_id, {"status": status, "exit_code": exit_code}))
        return RunOutcome(run_id, status, exit_code)

    # -- one stage -------------------------------------------------------------------------
    def _run_stage(
        self, run_id: str, stage: list[PlannedStep], findings: tuple[Finding, ...],
        metrics: dict[str, float], errors: tuple[str, ...],
    ) -> list[tuple[float, float, StepResult]]:
        slots: list[tuple[float, float, StepResult] | None] = [None] * len(stage)
        threads: list[tuple[threading.Thread, StepContext, float]] = []
        for i, planned in enumerate(stage):
            ctx = self._context(run_id, planned, findings, metrics, errors)
            thread = threading.Thread(
                target=self._run_step, args=(planned, ctx, slots, i),
                name=f"secpipe-{planned.step_id}", daemon=True,
            )
            started = time.monotonic()
            thread.start()
            threads.append((thread, ctx, started + planned.timeout))
        wall_start = time.time()
        for i, (thread, ctx, deadline) in enumerate(threads):
            while thread.is_alive():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                thread.join(min(remaining, 0.2))
            if thread.is_alive():
                ctx.cancel.set()
                thread.join(2.0)  # a cooperative step stops at the next check
                planned = stage[i]
                result = StepResult(
                    status=StepStatus.ERROR,
                    message=f"timed out after {planned.timeout:g} s (it was stopped)",
                )
                slots[i] = (wall_start, planned.timeout, result)
                self._finished(run_id, planned, result, wall_start, planned.timeout)
        return [s if s is not None else (wall_start, 0.0, StepResult(
            status=StepStatus.ERROR, message="step ended without a result")) for s in slots]

    def _context(self, run_id: str, planned: PlannedStep, findings: tuple[Finding, ...],
                 metrics: dict[str, float], errors: tuple[str, ...]) -> StepContext:
        workdir = self.project.state_dir / "runs" / run_id / planned.step_id
        bus = self.bus

        def progress(done: int, total: int | None, what: str) -> None:
            bus.emit(Event("step.progress", run_id,
                           {"step": planned.step_id, "done": done, "total": total, "what": what}))

        def log(message: str) -> None:
            bus.emit(Event("step.log", run_id, {"step": planned.step_id,
                                                "message": self._secrets.redact(message)}))

        return StepContext(
            project_root=self.project.root, workdir=workdir, run_id=run_id,
            pipeline=self._pipeline_name, step_id=planned.step_id, findings_so_far=findings,
            metrics_so_far=metrics, errors_so_far=errors, config=self.project.as_mapping(),
            progress=progress, log=log, cancel=threading.Event(), timeout=planned.timeout,
            cache_dir=self.project.state_dir / "cache", secrets=self._secrets,
        )

    def _run_step(self, planned: PlannedStep, ctx: StepContext,
                  slots: list[tuple[float, float, StepResult] | None], index: int) -> None:
        self.bus.emit(Event("step.started", ctx.run_id,
                            {"step": planned.step_id, "kind": planned.kind_name,
                             "stage": planned.stage}))
        started_wall, started = time.time(), time.monotonic()
        try:
            Path(ctx.workdir).mkdir(parents=True, exist_ok=True)
            result = planned.kind().run(ctx, planned.settings)
        except SecpipeError as exc:
            result = StepResult(status=StepStatus.ERROR, message=exc.message)
        except Exception as exc:  # fail closed: a crashed step is an error, never clean
            last = traceback.extract_tb(exc.__traceback__)[-1:] or None
            where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
            result = StepResult(status=StepStatus.ERROR,
                                message=f"crashed: {type(exc).__name__}: {exc}{where}")
        duration = time.monotonic() - started
        # a value resolved from a secret reference never reaches the store or the sinks
        result = replace(result, message=self._secrets.redact(result.message))
        if ctx.cancel.is_set():
            return  # the runner already recorded the timeout
        slots[index] = (started_wall, duration, result)
        self._finished(ctx.run_id, planned, result, started_wall, duration)

    def _finished(self, run_id: str, planned: PlannedStep, result: StepResult,
                  started: float, duration: float) -> None:
        """Record the step at once (a later crash keeps it), then tell the sinks."""
        with self._seq_lock:
            seq = self._seq
            self._seq += 1
        self.store.record_step(run_id, seq, planned.step_id, planned.kind_name, planned.stage,
                               started, duration, result)
        self.bus.emit(Event("step.finished", run_id, {
            "step": planned.step_id, "kind": planned.kind_name, "stage": planned.stage,
            "status": result.status.value, "message": result.message, "duration": duration,
            "findings": len(result.findings),
            "severities": _count(result.findings),
            "gate": result.gate.to_dict() if result.gate else None,
        }))


def _count(findings: tuple[Finding, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    return counts
