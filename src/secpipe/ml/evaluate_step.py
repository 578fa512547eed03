"""The ``evaluate`` step: score the trained model on a held-out set, safely.

The model comes from this run's train step (its digest checked against the training record) or a
named file. A skops model is inspected before loading and refused when it holds types that are
neither trusted by skops nor allow-listed by the user; it is loaded in the secpipe process only when
every type comes from scikit-learn, NumPy or SciPy, else in a subprocess. An ONNX model is parsed
and checked (no external data, standard operators only) and run by onnxruntime in the process.
A pickle is loaded only with ``unsafe_allow_pickle`` and only in a subprocess. Metrics feed the
gate; the plots and the model card are artifacts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe import __version__
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError, SecpipeError, StepError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.ml import history, perturb
from secpipe.ml.card import render_card
from secpipe.ml.data import Table, load_table, resolve_inside
from secpipe.ml.formats import CODE_FORMATS, SAFE_FORMATS, detect_format
from secpipe.ml.names import EVALUATE_METRICS
from secpipe.ml.proc import run_child, subprocess_timeout
from secpipe.ml.record import RECORD_NAME, data_entry, read_record, write_json
from secpipe.ml.settings import TABULAR_FAMILIES, TEXT_FAMILIES, EvaluateSettings
from secpipe.ml.svg import confusion_svg, roc_svg


@dataclass
class _Gathered:
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def family_metric(family: str) -> str:
    """``url-encoding`` -> ``robust_url_encoding_accuracy_drop``."""
    return f"robust_{family.replace('-', '_')}_accuracy_drop"


class EvaluateStep(StepKind[EvaluateSettings]):
    """Score the model on held-out data: accuracy, P/R/F1, ROC AUC, calibration, robustness."""

    kind = "evaluate"
    summary = "evaluate the model on held-out data: metrics, plots, robustness, model card"
    Settings = EvaluateSettings
    produces_metrics = EVALUATE_METRICS

    def run(self, ctx: StepContext, settings: EvaluateSettings) -> StepResult:
        if settings.data is None and _split_of(ctx, settings) is None:
            return StepResult(status=StepStatus.SKIPPED, tool=f"secpipe {__version__}",
                              message="not configured: no held-out data (set 'data' under "
                              "defaults.evaluate, or 'holdout' under defaults.train, in "
                              "secpipe.yaml)")
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        got = _Gathered()
        try:
            message = self._evaluate(ctx, settings, got)
            status = StepStatus.PASSED
        except SecpipeError as exc:
            status, message = StepStatus.ERROR, exc.message
        return StepResult(status=status, metrics=got.metrics, artifacts=tuple(got.artifacts),
                          message=message, tool=f"secpipe {__version__}")

    # -- model -------------------------------------------------------------------------------
    def _model(self, ctx: StepContext, settings: EvaluateSettings
               ) -> tuple[Path, dict[str, Any], dict[str, Any]]:
        """(model path, training record or {}, model facts)."""
        if settings.model is not None:
            path = resolve_inside(ctx.project_root, settings.model, "model")
            if not path.is_file():
                raise InputError(f"model {settings.model} does not exist")
            entry = data_entry(path, settings.model)
            return path, {}, {"path": settings.model, "digest": "sha256:" + entry["sha256"],
                              "size": entry["size"]}
        record_path = _record_of(ctx, settings.train_step)
        record = read_record(record_path)
        if record.get("status") != "passed" or not isinstance(record.get("model"), dict):
            raise InputError(f"train step {settings.train_step!r} did not produce a model "
                             f"({record.get('error', record.get('status'))})")
        model = record["model"]
        path = Path(str(model["path"]))
        if not path.is_file():
            raise InputError(f"model {path} recorded by the train step is gone")
        actual = "sha256:" + data_entry(path, path.name)["sha256"]
        if actual != model.get("digest"):
            raise InputError(f"model {path.name} changed since training: digest {actual} is not "
                             f"the recorded {model.get('digest')}")
        return path, record, dict(model)

    def _predict(self, ctx: StepContext, settings: EvaluateSettings, path: Path, fmt: str,
                 sets: dict[str, Sequence[Any]]) -> dict[str, Any]:
        from secpipe.ml.predict import check_trusted, load_model, needs_subprocess, predict_sets

        if fmt == "skops":
            found = check_trusted(path, settings.trusted_types)
            if not needs_subprocess(found):
                ctx.progress(0, None, f"loading {path.name} (skops, trusted types only)")
                model = load_model(path, fmt, settings.trusted_types)
                try:
                    return predict_sets(model, sets)
                except SecpipeError:
                    raise
                except Exception as exc:  # the model rejects the data: an error, not a crash
                    first = (str(exc).splitlines() or [""])[0][:300]
                    raise StepError(f"model {path.name} failed to predict on {settings.data}: "
                                    f"{type(exc).__name__}: {first}") from None
        elif fmt == "onnx":
            from secpipe.ml.onnx_io import load_onnx, predict_onnx

            ctx.progress(0, None, f"loading {path.name} (ONNX, onnxruntime)")
            return predict_onnx(load_onnx(path), sets)
        elif fmt in CODE_FORMATS:
            if not settings.unsafe_allow_pickle:
                raise InputError(f"model {path.name} is a {fmt}: loading it runs code (set "
                                 "evaluate's unsafe_allow_pickle only for a model you trust)")
            ctx.log(f"warning: loading {fmt} model {path.name} in a subprocess "
                    "(unsafe_allow_pickle)")
        else:
            raise InputError(f"model {path.name}: format {fmt} cannot be evaluated "
                             "(skops, onnx, or pickle with unsafe_allow_pickle)")
        return self._predict_child(ctx, settings, path, "skops" if fmt == "skops" else "pickle",
                                   sets)

    def _predict_child(self, ctx: StepContext, settings: EvaluateSettings, path: Path, fmt: str,
                       sets: dict[str, Sequence[Any]]) -> dict[str, Any]:
        inputs, out = ctx.workdir / "predict-inputs.json", ctx.workdir / "predictions.json"
        inputs.write_text(json.dumps(sets), encoding="utf-8")
        spec = {"project": str(ctx.project_root), "model": str(path), "format": fmt,
                "trusted": settings.trusted_types, "inputs": str(inputs), "out": str(out),
                "unsafe_allow_pickle": settings.unsafe_allow_pickle}
        spec_path = ctx.workdir / "predict-spec.json"
        write_json(spec_path, spec)
        timeout = subprocess_timeout(ctx, settings.timeout)
        outcome = run_child(ctx, [sys.executable, "-I", "-m", "secpipe.ml.worker", "predict",
                                  str(spec_path)], cwd=ctx.project_root, timeout=timeout,
                            log_path=ctx.workdir / "predict.log")
        if outcome.returncode != 0:
            why = "timed out" if outcome.timed_out else f"failed: {outcome.error}"
            raise StepError(f"prediction subprocess {why}")
        try:
            data = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StepError(f"prediction subprocess wrote no readable predictions: {exc}") from None
        finally:  # copies of the held-out data, not results
            inputs.unlink(missing_ok=True)
            out.unlink(missing_ok=True)
        if not isinstance(data, dict) or not isinstance(data.get("sets"), dict):
            raise StepError("prediction subprocess wrote predictions in an unknown shape")
        return data

    # -- the work ----------------------------------------------------------------------------
    def _evaluate(self, ctx: StepContext, settings: EvaluateSettings, got: _Gathered) -> str:
        from secpipe.ml.scoring import score

        path, record, model = self._model(ctx, settings)
        fmt = detect_format(path)
        model.update(format=fmt, safe=fmt in SAFE_FORMATS)
        trained = (record.get("data") or [{}])[0]
        target = settings.target or trained.get("target") or "label"
        features = settings.features or trained.get("features")
        kind = settings.input if settings.input != "auto" else trained.get("kind", "auto")
        if settings.data is not None:
            display = settings.data
            holdout_path = resolve_inside(ctx.project_root, settings.data, "data file")
            got.artifacts.append(Artifact.from_file(f"data:{display}", holdout_path, "text/csv"))
        else:  # the train step's held-out split (already an artifact of that step)
            display, holdout_path = _checked_split(ctx, settings)
        table = load_table(holdout_path, display, target, features, kind,
                           settings.max_data_bytes, settings.exclude)
        holdout = {**data_entry(holdout_path, display), "rows": table.rows}
        sets = {"holdout": table.x, **self._perturbed(table, settings)}
        predictions = self._predict(ctx, settings, path, fmt, sets)
        classes = [str(c) for c in predictions.get("classes", [])]
        base = predictions["sets"]["holdout"]
        scores = score(table.y, base["pred"], classes, base.get("proba"), base.get("decision"))
        got.metrics.update(scores.metrics)
        robustness: dict[str, dict[str, float]] = {}
        for family in sets:
            if family == "holdout":
                continue
            perturbed = score(table.y, predictions["sets"][family]["pred"], classes)
            accuracy = perturbed.metrics["accuracy"]
            drop = scores.metrics["accuracy"] - accuracy
            robustness[family] = {"accuracy": accuracy, "drop": drop}
            got.metrics[family_metric(family)] = drop
            got.metrics[f"robust_{family.replace('-', '_')}_accuracy"] = accuracy
        if settings.compare_with_last:
            got.notes.append(self._compare(ctx, got.metrics))
        self._write(ctx, settings, got, scores, record, model, holdout, robustness)
        return self._summary(got, robustness)

    def _perturbed(self, table: Table, settings: EvaluateSettings) -> dict[str, Sequence[Any]]:
        if settings.robustness is None:
            return {}
        fitting = TEXT_FAMILIES if table.kind == "text" else TABULAR_FAMILIES
        families = settings.robustness.families or list(fitting)
        wrong = [f for f in families if f not in fitting]
        if wrong:
            raise InputError(f"robustness family {wrong[0]!r} does not apply to "
                             f"{table.kind} input (use: {', '.join(fitting)})")
        seed = settings.robustness.seed
        out: dict[str, Sequence[Any]] = {}
        for family in families:
            if table.kind == "text":
                out[family] = perturb.perturb_text(family, list(table.x), seed)  # type: ignore[arg-type]
            else:
                out[family] = perturb.perturb_tabular(table.x, settings.robustness.noise_scale,  # type: ignore[arg-type]
                                                      seed)
        return out

    def _compare(self, ctx: StepContext, metrics: dict[str, float]) -> str:
        run_id, previous = history.last_passed_metrics(ctx, self.kind)
        if not run_id:
            metrics.update(history.drops(metrics, metrics))  # 0.0: nothing to compare with
            return "no earlier passed run to compare with (drops are 0)"
        drops = history.drops(metrics, previous)
        metrics.update(drops)
        worst = max(drops.items(), key=lambda kv: kv[1], default=None)
        return f"vs run {run_id}: " + (f"largest drop {worst[0]} {worst[1]:+.4f}" if worst
                                       else "no shared metrics")

    def _write(self, ctx: StepContext, settings: EvaluateSettings, got: _Gathered, scores: Any,
               record: dict[str, Any], model: dict[str, Any], holdout: dict[str, Any],
               robustness: dict[str, dict[str, float]]) -> None:
        def save(name: str, filename: str, text: str, media: str) -> None:
            target = ctx.workdir / filename
            target.write_text(text, encoding="utf-8")
            got.artifacts.append(Artifact.from_file(name, target, media))

        save("confusion-matrix", "confusion-matrix.svg",
             confusion_svg(scores.labels, scores.confusion), "image/svg+xml")
        if scores.roc:
            save("roc-curves", "roc-curves.svg", roc_svg(scores.roc), "image/svg+xml")
        evaluation = {"version": 1, "run_id": ctx.run_id, "model": model, "holdout": holdout,
                      "metrics": got.metrics, "labels": scores.labels,
                      "confusion_matrix": scores.confusion, "robustness": robustness,
                      "notes": got.notes}
        write_json(ctx.workdir / "evaluation.json", evaluation)
        got.artifacts.append(Artifact.from_file("evaluation", ctx.workdir / "evaluation.json",
                                                "application/json"))
        card = render_card(run_id=ctx.run_id, pipeline=ctx.pipeline, record=record, model=model,
                           holdout=holdout, metrics=got.metrics, robustness=robustness,
                           findings=ctx.findings_so_far, intended_use=settings.intended_use,
                           limitations=settings.limitations)
        save("model-card", "model-card.md", card, "text/markdown")

    def _summary(self, got: _Gathered, robustness: dict[str, dict[str, float]]) -> str:
        m = got.metrics
        parts = [f"{k} {m[k]:.4f}" for k in ("accuracy", "f1_macro", "roc_auc_ovr", "ece")
                 if k in m]
        if robustness:
            family, worst = max(robustness.items(), key=lambda kv: kv[1]["drop"])
            parts.append(f"worst perturbation {family} (accuracy drop {worst['drop']:+.4f})")
        return ", ".join(parts) + "".join(f"; {n}" for n in got.notes)


def _split_of(ctx: StepContext, settings: EvaluateSettings) -> dict[str, Any] | None:
    """The held-out split the train step of this run recorded (``holdout``), or None."""
    if settings.model is not None:
        return None
    for step in ctx.earlier:
        if step.step_id == settings.train_step:
            for artifact in step.artifacts:
                if artifact.name == "training-record":
                    try:
                        split = read_record(Path(artifact.path)).get("holdout")
                    except SecpipeError:
                        return None
                    return split if isinstance(split, dict) else None
    return None


def _checked_split(ctx: StepContext, settings: EvaluateSettings) -> tuple[str, Path]:
    """(name, path) of the train step's held-out split, its digest checked against the record."""
    split = _split_of(ctx, settings)
    assert split is not None
    path = Path(str(split.get("file")))
    display = str(split.get("path"))
    if not path.is_file():
        raise InputError(f"held-out split {display} recorded by the train step is gone")
    if data_entry(path, display)["sha256"] != split.get("sha256"):
        raise InputError(f"held-out split {display} changed since training")
    return display, path


def _record_of(ctx: StepContext, step_id: str) -> Path:
    """The training record the train step ``step_id`` of this run produced."""
    for step in ctx.earlier:
        if step.step_id == step_id:
            for artifact in step.artifacts:
                if artifact.name == "training-record":
                    return Path(artifact.path)
            raise InputError(f"train step {step_id!r} did not produce a model ({step.message})")
    # the step runs on its own (no pipeline): the train step's folder beside its own
    return ctx.run_dir / step_id / RECORD_NAME
