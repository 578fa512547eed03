"""Scoring predictions on a held-out set with scikit-learn's metrics.

Metric names are what a gate bounds: ``accuracy``, ``balanced_accuracy``, ``precision_macro``,
``recall_macro``, ``f1_macro``, ``f1_weighted``, per class ``precision_<class>``,
``recall_<class>``, ``f1_<class>``, ``support_<class>``, and where the model gives scores
``roc_auc_ovr`` (macro mean of the one-vs-rest AUCs of the classes that have both positives and
negatives), ``roc_auc_<class>``, and with probabilities the calibration ``ece`` (expected
calibration error, 10 equal-width bins of top-label confidence), ``brier`` and ``log_loss``.
Class names are folded to ``[a-z0-9_]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

ECE_BINS = 10


def metric_key(label: str) -> str:
    """A class name folded into a metric-name part (``path traversal`` -> ``path_traversal``)."""
    key = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_")
    return key[:40] or "class"


@dataclass(frozen=True)
class Scores:
    """Everything measured on one held-out set."""

    metrics: dict[str, float]
    """Named numbers for the gate."""
    labels: list[str]
    """Class order of the confusion matrix."""
    confusion: list[list[int]]
    """Rows: true class, columns: predicted class."""
    roc: dict[str, tuple[list[float], list[float], float]] = field(default_factory=dict)
    """Per class: (false positive rates, true positive rates, AUC)."""


def _class_scores(classes: list[str], proba: Any, decision: Any) -> np.ndarray | None:
    """One score column per model class (or None when the model gives no scores)."""
    if proba is not None:
        return np.asarray(proba, dtype=float)
    if decision is None:
        return None
    values = np.asarray(decision, dtype=float)
    if values.ndim == 1 and len(classes) == 2:
        return np.column_stack([-values, values])
    return values


def expected_calibration_error(correct: np.ndarray, confidence: np.ndarray,
                               bins: int = ECE_BINS) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += abs(float(correct[mask].mean()) - float(confidence[mask].mean())) * \
                float(mask.sum())
    return total / max(1, len(correct))


def score(y_true: list[str], y_pred: list[str], classes: list[str], proba: Any = None,
          decision: Any = None) -> Scores:
    """Score predictions; ``classes`` is the model's class order (the columns of ``proba``)."""
    labels = list(classes) + sorted(set(y_true) - set(classes))
    metrics: dict[str, float] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "rows": float(len(y_true)),
    }
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                     average=average, zero_division=0)
        metrics.update({f"precision_{average}": float(p), f"recall_{average}": float(r),
                        f"f1_{average}": float(f)})
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        key = metric_key(label)
        metrics.update({f"precision_{key}": float(p[i]), f"recall_{key}": float(r[i]),
                        f"f1_{key}": float(f[i]), f"support_{key}": float(s[i])})
    matrix = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    result = Scores(metrics, labels, matrix)
    columns = _class_scores(classes, proba, decision)
    truth = np.asarray(y_true)
    if columns is not None and columns.shape == (len(y_true), len(classes)):
        aucs = []
        for i, label in enumerate(classes):
            positive = truth == label
            if positive.all() or not positive.any():
                continue  # AUC is undefined for this class on this set
            auc = float(roc_auc_score(positive, columns[:, i]))
            fpr, tpr, _ = roc_curve(positive, columns[:, i])
            result.roc[label] = (fpr.tolist(), tpr.tolist(), auc)
            metrics[f"roc_auc_{metric_key(label)}"] = auc
            aucs.append(auc)
        if aucs:
            metrics["roc_auc_ovr"] = float(np.mean(aucs))
    if proba is not None and set(y_true) <= set(classes) and len(classes) >= 2:
        probs = np.asarray(proba, dtype=float)
        top = probs.argmax(axis=1)
        correct = np.asarray(classes, dtype=object)[top] == truth
        metrics["ece"] = expected_calibration_error(correct, probs.max(axis=1))
        if len(classes) > 2:
            metrics["brier"] = float(brier_score_loss(y_true, probs, labels=classes))
        else:
            metrics["brier"] = float(brier_score_loss(truth == classes[1], probs[:, 1]))
        metrics["log_loss"] = float(log_loss(y_true, probs, labels=classes))
    return result
