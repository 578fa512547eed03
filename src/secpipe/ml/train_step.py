"""The ``train`` step: the project's training, in a subprocess, with everything recorded.

Estimator mode runs :mod:`secpipe.ml.worker` (``python -I``, working folder = the project) on a
``file.py:function`` the project names; command mode runs the project's own command. Either way
the output folder must end up holding a model file and a ``metrics.json`` in secpipe's schema
(:mod:`secpipe.ml.schema`). The step records the data files by digest, seeds, library versions,
per-fold and per-epoch metrics, and the model and a training record as artifacts. On any error
the record is still written, with what was known so far.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe import __version__
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError, SecpipeError, StepError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.ml.data import load_table, resolve_inside, split_file
from secpipe.ml.formats import CODE_FORMATS, SAFE_FORMATS, detect_format
from secpipe.ml.interpreter import WORKER_NEEDS, resolve_python, worker_argv
from secpipe.ml.names import TRAIN_METRICS, is_heldout
from secpipe.ml.proc import ProcOutcome, child_env, run_child, subprocess_timeout
from secpipe.ml.record import RECORD_NAME, data_entry, flatten, write_json
from secpipe.ml.schema import read_metrics_file
from secpipe.ml.settings import TrainSettings

_MODEL_MEDIA = {"skops": "application/vnd.skops+zip", "safetensors": "application/octet-stream",
                "onnx": "application/onnx", "pickle": "application/x-pickle"}


@dataclass
class _Progress:
    """What the run has gathered so far (kept when a later part fails)."""

    record: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _describe_failure(outcome: ProcOutcome, timeout: float, what: str) -> str:
    if outcome.timed_out:
        return f"{what} timed out after {timeout:g} s (it was killed)"
    if outcome.cancelled:
        return f"{what} was cancelled"
    if outcome.returncode is None:
        return f"{what} could not start: {outcome.error}"
    reason = f": {outcome.error}" if outcome.error else ""
    return f"{what} failed (exit code {outcome.returncode}){reason}"


class TrainStep(StepKind[TrainSettings]):
    """Train in a subprocess: stratified k-fold CV with early stopping, or the project's command."""

    kind = "train"
    summary = "train the model in a subprocess: k-fold CV, early stopping, safe-format model"
    Settings = TrainSettings
    produces_metrics = TRAIN_METRICS

    def run(self, ctx: StepContext, settings: TrainSettings) -> StepResult:
        if not settings.configured():
            return StepResult(status=StepStatus.SKIPPED, tool=f"secpipe {__version__}",
                              message="not configured: no training (set 'estimator' and 'data', or "
                              "'command', under defaults.train in secpipe.yaml)")
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        state = _Progress(record={
            "version": 1, "run_id": ctx.run_id, "step_id": ctx.step_id, "status": "running",
            "mode": "estimator" if settings.estimator else "command",
            "settings": settings.model_dump(mode="json"), "seed": settings.seed, "data": [],
            "started": time.time(), "secpipe": __version__,
        })
        try:
            message = self._train(ctx, settings, state)
            status = StepStatus.PASSED
            state.record["status"] = "passed"
        except SecpipeError as exc:
            status, message = StepStatus.ERROR, exc.message
            state.record.update(status="error", error=exc.message)
        state.record["duration"] = time.time() - state.record["started"]
        record_path = ctx.workdir / RECORD_NAME
        write_json(record_path, state.record)
        state.artifacts.append(Artifact.from_file("training-record", record_path,
                                                  "application/json"))
        libs = state.record.get("libraries", {})
        tool = f"secpipe {__version__}" + (
            f" (scikit-learn {libs['scikit-learn']})" if "scikit-learn" in libs else "")
        return StepResult(status=status, findings=tuple(state.findings), metrics=state.metrics,
                          artifacts=tuple(state.artifacts), message=message, tool=tool)

    # -- the work ----------------------------------------------------------------------------
    def _train(self, ctx: StepContext, settings: TrainSettings, state: _Progress) -> str:
        root = ctx.project_root
        out = ctx.workdir / "out"
        out.mkdir(parents=True, exist_ok=True)
        for old in out.iterdir():  # a re-run of the same step id starts clean
            if old.is_file():
                old.unlink()
        python = resolve_python(root, settings.python)
        state.record["python"] = python or sys.executable
        train_data: Path | None = None
        if settings.data is not None:
            data_path = resolve_inside(root, settings.data, "data file")
            if not data_path.is_file():
                raise InputError(f"data file {settings.data} does not exist")
            state.record["data"].append(data_entry(data_path, settings.data))
            media = "text/csv" if data_path.suffix.lower() == ".csv" else \
                "application/octet-stream"
            state.artifacts.append(Artifact.from_file(f"data:{settings.data}", data_path, media))
            train_data = self._split(ctx, settings, data_path, state) if settings.holdout \
                else data_path
        timeout = subprocess_timeout(ctx, settings.timeout)
        log_path = ctx.workdir / "train.log"
        if settings.estimator is not None:
            assert train_data is not None
            argv, env = self._estimator_argv(ctx, settings, state, out, train_data, python)
            what = f"training {settings.estimator}"
        else:
            argv = self._command_argv(settings, out, train_data, state, python)
            env = self._command_env(settings, out)
            what = f"training command {argv[0]!r}"
        state.record["command"] = argv
        ctx.progress(0, None, what)
        outcome = run_child(ctx, argv, cwd=root, timeout=timeout, log_path=log_path, env=env)
        state.artifacts.append(Artifact.from_file("training-log", log_path, "text/plain"))
        state.record["train_seconds"] = outcome.seconds
        if outcome.returncode != 0:
            failure = _describe_failure(outcome, timeout, what)
            if python and settings.estimator and "ModuleNotFoundError" in outcome.error:
                failure += f" (estimator mode under python: {settings.python} needs " \
                           f"{WORKER_NEEDS} installed there)"
            raise StepError(failure)
        metrics_file = read_metrics_file(out / "metrics.json")
        state.artifacts.append(Artifact.from_file("training-metrics", out / "metrics.json",
                                                  "application/json"))
        state.record["metrics_file"] = metrics_file.model_dump(mode="json")
        state.record["libraries"] = metrics_file.libraries
        flat, capped = flatten(metrics_file)
        state.metrics.update(flat)
        for name, value in metrics_file.final.items():  # the project's own held-out scores,
            if is_heldout(name):                         # named as evaluate names them
                state.metrics.setdefault(name, value)
        if settings.estimator is not None and (out / "worker-info.json").is_file():
            state.record["estimator"] = _bounded_json(out / "worker-info.json")
        model_path = self._model_file(out, metrics_file.model)
        fmt = detect_format(model_path)
        model = Artifact.from_file("model", model_path, _MODEL_MEDIA.get(fmt,
                                                                         "application/octet-stream"))
        state.artifacts.insert(0, model)
        state.record["model"] = {"path": str(model_path), "digest": model.digest,
                                 "size": model.size, "format": fmt, "safe": fmt in SAFE_FORMATS}
        notes = []
        if fmt not in SAFE_FORMATS:
            note = (f"model saved as {fmt}: loading it can run code, the model scan's findings "
                    "apply" if fmt in CODE_FORMATS else
                    f"model format {fmt} is not one secpipe knows to be safe")
            ctx.log("warning: " + note)
            notes.append(note)
            state.findings.append(Finding.create(
                rule_id="ml.unsafe-model-format", title="Model saved in a format that can run code",
                severity=Severity.MEDIUM if fmt in CODE_FORMATS else Severity.LOW,
                scanner=self.kind,  # located at the setting, so the fingerprint survives runs
                location=Location(path="secpipe.yaml", member=f"{ctx.step_id or 'train'}.format"),
                message=f"{note} ({_rel(model_path, ctx.project_root)})", key=fmt,
                tags=("CWE-502", "OWASP-ML06"),
                remediation="save with format: skops or format: onnx (or safetensors)"))
        if capped:
            notes.append("per-epoch metrics beyond 1000 kept in the training record only")
        summary = self._summary(flat, metrics_file.folds, fmt)
        return "; ".join([summary, *notes])

    def _split(self, ctx: StepContext, settings: TrainSettings, data_path: Path,
               state: _Progress) -> Path:
        """Hold ``settings.holdout`` of the table out (seeded, stratified); the training part."""
        assert settings.data is not None and settings.holdout is not None
        folder = ctx.workdir / "split"
        folder.mkdir(parents=True, exist_ok=True)
        train_part, holdout_part = folder / "train.csv", folder / "holdout.csv"
        target = settings.target or "label"
        rows, held = split_file(data_path, settings.data, target, settings.holdout, settings.seed,
                                settings.max_data_bytes, train_part, holdout_part)
        display = f"{settings.data}#holdout"
        state.record["holdout"] = {
            **data_entry(holdout_part, display), "file": str(holdout_part), "rows": held,
            "fraction": settings.holdout, "seed": settings.seed, "stratified_by": target}
        state.metrics["holdout_rows"] = float(held)
        state.artifacts.append(Artifact.from_file(f"data:{display}", holdout_part, "text/csv"))
        ctx.log(f"held out {held} of {rows + held} rows of {settings.data} "
                f"({settings.holdout:g}, seed {settings.seed}, stratified by {target!r})")
        return train_part

    def _estimator_argv(self, ctx: StepContext, settings: TrainSettings, state: _Progress,
                        out: Path, data_path: Path, python: str | None
                        ) -> tuple[list[str], dict[str, str]]:
        file, func = settings.estimator_parts()
        if settings.format == "onnx":
            missing = [m for m in ("skl2onnx", "onnxruntime")
                       if importlib.util.find_spec(m) is None]
            if missing:
                raise InputError(f"format onnx needs {' and '.join(missing)} "
                                 "(pip install 'secpipe[onnx]'), or use format: skops")
        source = resolve_inside(ctx.project_root, file, "estimator file")
        if not source.is_file():
            raise InputError(f"estimator file {file} does not exist")
        state.record["estimator_source"] = data_entry(source, file)
        assert settings.data is not None
        target = settings.target or "label"
        display = f"{settings.data}#train" if settings.holdout else settings.data
        table = load_table(data_path, display, target, settings.features, settings.input,
                           settings.max_data_bytes, settings.exclude)
        counts = Counter(table.y)
        state.record["data"][0].update(rows=table.rows, kind=table.kind, target=target,
                                       features=list(table.features), classes=dict(counts))
        state.metrics["train_rows"] = float(table.rows)
        if len(counts) < 2:
            raise InputError(f"data file {settings.data}: label {target!r} has only one class")
        rare, n = min(counts.items(), key=lambda kv: kv[1])
        if n < settings.folds:
            raise InputError(f"data file {settings.data}: class {rare!r} has {n} row(s), fewer "
                             f"than folds={settings.folds}")
        spec = {
            "project": str(ctx.project_root), "estimator_file": file, "function": func,
            "data": str(data_path), "data_display": display, "target": target,
            "features": list(table.features), "input": table.kind,
            "max_data_bytes": settings.max_data_bytes, "folds": settings.folds,
            "shuffle": settings.shuffle, "seed": settings.seed,
            "early_stopping": settings.early_stopping.model_dump()
            if settings.early_stopping else None,
            "format": settings.format, "outdir": str(out),
        }
        spec_path = ctx.workdir / "train-spec.json"
        write_json(spec_path, spec)
        env = child_env({"PYTHONHASHSEED": str(settings.seed)})
        return worker_argv(python, ctx.workdir, "train", str(spec_path)), env

    def _command_argv(self, settings: TrainSettings, out: Path, data: Path | None,
                      state: _Progress, python: str | None) -> list[str]:
        holdout = state.record.get("holdout", {}).get("file", "")
        values = {"outdir": str(out), "seed": str(settings.seed),
                  "python": python or sys.executable,
                  "data": (str(data) if settings.holdout else settings.data) or "",
                  "holdout": holdout}
        argv = []
        for arg in settings.command or []:
            for key, value in values.items():
                arg = arg.replace("{" + key + "}", value)
            argv.append(arg)
        return argv

    def _command_env(self, settings: TrainSettings, out: Path) -> dict[str, str]:
        return child_env({"SECPIPE_OUTDIR": str(out), "SECPIPE_SEED": str(settings.seed),
                          "PYTHONHASHSEED": str(settings.seed)})

    def _model_file(self, out: Path, named: str | None) -> Path:
        if named is not None:
            path = out / named
            if not path.is_file():
                raise InputError(f"metrics.json: model: {named!r} is not a file in {out}")
            return path
        found = sorted(p for p in out.glob("model.*") if p.is_file())
        if len(found) != 1:
            raise InputError(f"the training must write exactly one model.* file into {out} "
                             f"(found {len(found)})")
        return found[0]

    def _summary(self, flat: dict[str, float], folds: list[Any], fmt: str) -> str:
        parts = [f"{len(folds)}-fold CV" if folds else "trained"]
        for name in ("accuracy", "f1_macro"):
            if f"cv_{name}_mean" in flat:
                parts.append(f"{name} {flat[f'cv_{name}_mean']:.4f} ± "
                             f"{flat[f'cv_{name}_std']:.4f}")
        stops = [int(v) for k, v in flat.items() if k.endswith("_stopped_epoch")]
        if stops:
            parts.append(f"early stop at epochs {','.join(map(str, stops))}")
        parts.append(f"model: {fmt}")
        return ", ".join(parts)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _bounded_json(path: Path) -> Any:
    import json

    try:
        if path.stat().st_size > 1 << 20:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
