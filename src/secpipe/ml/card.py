"""The Markdown model card written by the ``evaluate`` step, one per run.

Sections: model, intended use and limitations, training data (digests and sizes), training
configuration, cross-validation metrics with 95% confidence intervals (Student's t over the folds),
held-out metrics, robustness, and the scan results gathered so far in the run.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from secpipe.core.findings import Finding

#: Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(df: int) -> float:
    """t(0.975, df); the normal 1.96 beyond 30 (within 2% of the exact value)."""
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def confidence_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high) of the 95% t-interval of the mean; a single value has width 0."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, mean, mean
    half = t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fold_table(folds: Sequence[Mapping[str, Any]]) -> list[str]:
    if not folds:
        return ["No cross-validation folds were recorded."]
    names = sorted(set.intersection(*(set(f.get("metrics", {})) for f in folds)))
    lines = [f"{len(folds)} folds; mean with 95% confidence interval (t-distribution, "
             f"{len(folds) - 1} degrees of freedom).", "",
             "| metric | mean | 95% CI | per fold |", "|---|---|---|---|"]
    for name in names:
        values = [float(f["metrics"][name]) for f in folds]
        mean, low, high = confidence_interval(values)
        per = ", ".join(f"{v:.4f}" for v in values)
        lines.append(f"| {name} | {mean:.4f} | [{low:.4f}, {high:.4f}] | {per} |")
    stops = [f.get("stopped_epoch") for f in folds if f.get("stopped_epoch")]
    if stops:
        lines += ["", f"Early stopping ended the folds at epochs {', '.join(map(str, stops))} "
                  f"(best epochs {', '.join(str(f.get('best_epoch')) for f in folds)})."]
    return lines


def _findings(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return ["No findings were reported by the scans that ran before evaluation."]
    counts = Counter((f.scanner, f.severity.value) for f in findings)
    lines = ["| scanner | severity | findings |", "|---|---|---|"]
    for (scanner, severity), n in sorted(counts.items()):
        lines.append(f"| {_cell(scanner)} | {severity} | {n} |")
    return lines


def render_card(
    *, run_id: str, pipeline: str, record: Mapping[str, Any], model: Mapping[str, Any],
    holdout: Mapping[str, Any], metrics: Mapping[str, float],
    robustness: Mapping[str, Mapping[str, float]], findings: Sequence[Finding],
    intended_use: str, limitations: str,
) -> str:
    """The card as Markdown text."""
    settings = record.get("settings", {})
    name = settings.get("estimator") or " ".join(settings.get("command") or []) or "model"
    lines = [f"# Model card: {_cell(name)}", "",
             f"Run `{run_id}` of pipeline `{pipeline or 'adhoc'}`.", "", "## Model", "",
             f"- File: `{_cell(model.get('path', ''))}`",
             f"- Digest: `{model.get('digest', '')}` ({model.get('size', 0)} bytes)",
             f"- Format: {model.get('format', 'unknown')}"
             + (" (cannot run code when loaded)" if model.get("safe") else
                " (loading it can run code: see the model scan)"), ""]
    estimator = record.get("estimator")
    if isinstance(estimator, Mapping) and estimator.get("estimator"):
        lines += ["```", str(estimator["estimator"])[:2000], "```", ""]
    lines += ["## Intended use", "", intended_use or "_Not stated (set `intended_use` in the "
              "evaluate step's settings)._", "", "## Limitations", "",
              limitations or "_Not stated (set `limitations`)._", "", "## Data", "",
              "| role | file | sha256 | bytes | rows |", "|---|---|---|---|---|"]
    for entry in record.get("data", []):
        lines.append(f"| training | {_cell(entry.get('path'))} | `{entry.get('sha256')}` | "
                     f"{entry.get('size')} | {entry.get('rows', '')} |")
    lines.append(f"| held-out | {_cell(holdout.get('path'))} | `{holdout.get('sha256')}` | "
                 f"{holdout.get('size')} | {holdout.get('rows', '')} |")
    libs = record.get("libraries") or {}
    lines += ["", "## Training configuration", "", "| setting | value |", "|---|---|"]
    for key, value in sorted(settings.items()):
        if value not in (None, [], {}):
            lines.append(f"| {key} | `{_cell(value)}` |")
    if libs:
        lines.append(f"| libraries | {_cell(', '.join(f'{k} {v}' for k, v in libs.items()))} |")
    folds = (record.get("metrics_file") or {}).get("folds", [])
    lines += ["", "## Cross-validation", "", *_fold_table(folds), "", "## Held-out evaluation",
              "", "| metric | value |", "|---|---|"]
    for key in sorted(metrics):
        if not key.startswith("robust_"):
            lines.append(f"| {key} | {metrics[key]:.4f} |")
    lines += ["", "## Robustness", ""]
    if robustness:
        lines += ["| family | accuracy | accuracy drop |", "|---|---|---|"]
        for family, values in robustness.items():
            lines.append(f"| {family} | {values['accuracy']:.4f} | {values['drop']:+.4f} |")
    else:
        lines.append("_Not evaluated (enable `robustness` in the evaluate step)._")
    lines += ["", "## Scan results so far", "", *_findings(findings), ""]
    return "\n".join(lines)
