"""Stratified k-fold cross-validation with early stopping (runs inside the training subprocess).

An estimator "learns incrementally" when it (or the last step of a scikit-learn ``Pipeline``) has
``partial_fit``. Then, with early stopping configured, each fold fits the pipeline's transformers on
the training part once and calls ``partial_fit`` on the final estimator once per epoch (one pass
over the training part, in a seeded order), watching a validation metric; training stops after
``patience`` epochs without an improvement above ``min_delta`` and the best epoch's weights are
kept. The final fit on all the data runs for the median of the folds' best epochs.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_class_weight

Emit = Callable[[dict[str, Any]], None]


@dataclass
class CVOutcome:
    """What cross-validation measured."""

    folds: list[dict[str, Any]] = field(default_factory=list)
    """Entries of the metrics file's ``folds`` list."""
    epochs: list[dict[str, Any]] = field(default_factory=list)
    """Entries of its ``epochs`` list."""
    best_epochs: list[int] = field(default_factory=list)
    """Best epoch per fold (incremental training only)."""


def incremental(estimator: Any) -> bool:
    """True when the estimator (or a pipeline's last step) has ``partial_fit``."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    return hasattr(final, "partial_fit")


def scores(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Accuracy and macro precision/recall/F1 (zero division counts as 0)."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "precision_macro": float(precision_score(y_true, y_pred, average="macro",
                                                 zero_division=0)),
        "recall_macro": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
    }


def _split(estimator: Any) -> tuple[Any | None, Any]:
    if isinstance(estimator, Pipeline):
        prefix = estimator[:-1] if len(estimator.steps) > 1 else None
        return prefix, estimator.steps[-1][1]
    return None, estimator


def _epoch_metrics(final: Any, xv: Any, yv: Any, classes: Any) -> dict[str, float]:
    out = {f"val_{k}": v for k, v in scores(yv, final.predict(xv)).items()
           if k in ("accuracy", "f1_macro")}
    if hasattr(final, "predict_proba"):
        out["val_loss"] = float(log_loss(yv, final.predict_proba(xv), labels=classes))
    return out


def fit_epochs(
    estimator: Any, x: Any, y: Any, classes: Any, early: dict[str, Any], seed: int,
    val: tuple[Any, Any] | None, epochs: int | None, emit: Emit, fold: int | None,
) -> tuple[int, int, list[dict[str, Any]]]:
    """Train ``estimator`` in place epoch by epoch; returns (stopped, best epoch, epoch entries).

    With ``val`` it early-stops on ``early['monitor']``; without, it runs exactly ``epochs``.
    """
    prefix, final = _split(estimator)
    xt = prefix.fit_transform(x, y) if prefix is not None else x
    xv = prefix.transform(val[0]) if (prefix is not None and val is not None) else \
        (val[0] if val is not None else None)
    monitor = early["monitor"]
    if monitor == "loss" and not hasattr(final, "predict_proba"):
        raise ValueError("early_stopping.monitor 'loss' needs an estimator with predict_proba")
    if getattr(final, "class_weight", None) == "balanced":  # partial_fit needs explicit weights
        weights = compute_class_weight("balanced", classes=classes, y=y)
        final.set_params(class_weight={str(c): float(w) for c, w in zip(classes, weights,
                                                                         strict=True)})
    key = f"val_{monitor}"
    lower_better = monitor == "loss"
    limit = epochs if epochs is not None else int(early["max_epochs"])
    rng = np.random.default_rng(seed)
    best, best_epoch, best_state, waited, entries = None, 1, None, 0, []
    stopped = limit
    for epoch in range(1, limit + 1):
        order = rng.permutation(len(y))
        final.partial_fit(xt[order], y[order], classes=classes)
        if val is None:
            continue
        measured = _epoch_metrics(final, xv, val[1], classes)
        entries.append({"epoch": epoch, "fold": fold, "metrics": measured})
        value = measured[key]
        emit({"event": "progress", "done": epoch, "total": limit,
              "what": f"fold {fold} epoch {epoch}: {key} {value:.4f}"})
        gain = (best - value if lower_better else value - best) if best is not None else 1.0
        improved = best is None or gain > early["min_delta"]
        if improved:
            best, best_epoch, best_state, waited = value, epoch, copy.deepcopy(final), 0
        else:
            waited += 1
            if waited >= int(early["patience"]):
                stopped = epoch
                break
    if best_state is not None:
        if isinstance(estimator, Pipeline):
            estimator.steps[-1] = (estimator.steps[-1][0], best_state)
        else:  # a bare estimator: copy the best weights back into the caller's object
            estimator.__dict__.update(best_state.__dict__)
    return stopped, best_epoch, entries


def cross_validate(
    build: Callable[[], Any], x: Any, y: Any, folds: int, shuffle: bool, seed: int,
    early: dict[str, Any] | None, emit: Emit,
) -> CVOutcome:
    """Stratified k-fold CV; per-fold validation scores, per-epoch ones when early-stopping."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=shuffle,
                               random_state=seed if shuffle else None)
    classes = np.unique(y)
    outcome = CVOutcome()
    if early is not None and not incremental(build()):
        emit({"event": "log", "message": "early stopping not applied: the estimator has no "
              "partial_fit (it is fitted in one call)"})
    for number, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
        estimator = build()
        entry: dict[str, Any] = {"fold": number, "train_size": len(train), "val_size": len(test)}
        if early is not None and incremental(estimator):
            stopped, best, entries = fit_epochs(
                estimator, x[train], y[train], classes, early, seed + number,
                (x[test], y[test]), None, emit, number)
            entry.update(stopped_epoch=stopped, best_epoch=best)
            outcome.epochs.extend(entries)
            outcome.best_epochs.append(best)
        else:
            estimator.fit(x[train], y[train])
        entry["metrics"] = scores(y[test], estimator.predict(x[test]))
        outcome.folds.append(entry)
        emit({"event": "progress", "done": number, "total": folds,
              "what": f"fold {number}/{folds}: accuracy {entry['metrics']['accuracy']:.4f}"})
    return outcome


def slim(estimator: Any) -> list[str]:
    """Shrink a fitted model before saving, without changing what it predicts.

    Drops ``stop_words_`` (scikit-learn documents it as introspection-only, safe to remove) and
    stores a vectorizer's ``vocabulary_`` indices as plain ints (skops writes each NumPy scalar
    as a file of its own)."""
    parts = [s for _, s in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    changed = []
    for part in parts:
        if getattr(part, "stop_words_", None) is not None:
            part.stop_words_ = None
            changed.append(f"{type(part).__name__}.stop_words_ dropped")
        vocabulary = getattr(part, "vocabulary_", None)
        if isinstance(vocabulary, dict) and any(isinstance(v, np.integer)
                                                for v in vocabulary.values()):
            part.vocabulary_ = {k: int(v) for k, v in vocabulary.items()}
            changed.append(f"{type(part).__name__}.vocabulary_ as ints")
    return changed


def final_fit(build: Callable[[], Any], x: Any, y: Any, early: dict[str, Any] | None,
              best_epochs: list[int], seed: int, emit: Emit) -> tuple[Any, int | None]:
    """Fit on all the data; incremental estimators run the folds' median best epoch count."""
    estimator = build()
    if early is not None and incremental(estimator) and best_epochs:
        epochs = max(1, round(statistics.median(best_epochs)))
        fit_epochs(estimator, x, y, np.unique(y), early, seed, None, epochs, emit, None)
        return estimator, epochs
    estimator.fit(x, y)
    return estimator, None
