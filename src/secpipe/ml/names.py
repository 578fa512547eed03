"""The metric names ``train`` and ``evaluate`` produce, as ``fnmatch`` patterns.

The planner reads them (``StepKind.produces_metrics``) to refuse a gate bound on a metric no step
of the pipeline can produce. Held-out scores carry the same names whichever step measured them:
``evaluate`` on the held-out table, or command mode's own evaluation (``final`` in its
``metrics.json``), so ``accuracy >= 0.8`` means the same in both.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

HELDOUT_METRICS: tuple[str, ...] = (
    "accuracy", "balanced_accuracy", "precision_*", "recall_*", "f1_*", "support_*",
    "roc_auc_*", "ece", "brier", "log_loss",
)
"""Scores of a model on data it was not trained on (``precision_macro``, ``f1_<class>`` ...)."""

TRAIN_METRICS: tuple[str, ...] = (
    "cv_*", "fold_*", "epoch_*", "final_*", "seed", "train_rows", "holdout_rows",
    *HELDOUT_METRICS,
)
"""``train``: cross-validation, per fold and epoch, early stopping, and command mode's held-out
scores under their own names."""

EVALUATE_METRICS: tuple[str, ...] = (*HELDOUT_METRICS, "*_drop_vs_last", "robust_*")
"""``evaluate``: held-out scores, drops against the last passed run, robustness."""


def is_heldout(name: str) -> bool:
    """True when ``name`` is a held-out score (a name ``evaluate`` also uses)."""
    return any(fnmatchcase(name, pattern) for pattern in HELDOUT_METRICS)
