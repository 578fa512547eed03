"""The wiring ``secpipe init`` proposes: which model file to sign, whether (and how) to train.
Each choice carries the sentence that explains it, which goes into the generated file."""

from __future__ import annotations

import os
from dataclasses import dataclass

from secpipe.core.errors import MissingExtra, require_extra
from secpipe.project_scan.model import DataFile, ModelFile, ProjectScan

_ASIDE = ("test/", "tests/", "example/", "examples/", "fixtures/", "docs/")
_HOLDOUT = ("test", "holdout", "valid", "eval")


@dataclass(frozen=True)
class TrainingPlan:
    """``train`` in estimator mode (and ``evaluate`` when a held-out table exists)."""

    estimator: str
    """``file.py:function``."""
    data: str
    """The training table."""
    target: str
    """Its label column."""
    holdout: str | None
    """A held-out table with the same label column, for ``evaluate``."""


@dataclass(frozen=True)
class Choices:
    """What the generated file wires."""

    sign_model: str | None
    """The model file ``sign`` signs (``defaults.sign.model``); ``None``: none chosen."""
    sign_why: str
    """Why that one (or why none), a clause to follow the path."""
    train: TrainingPlan | None
    """The training wired, or ``None``."""
    train_why: str
    """Why training is (not) wired."""


def ranked_models(scan: ProjectScan) -> list[tuple[ModelFile, str]]:
    """Model files, the one most likely shipped by the app first, each with the reason."""
    scripts = {t.path for t in scan.training}

    def app_users(m: ModelFile) -> list[str]:
        return [s for s in m.named_by if s not in scripts and not s.endswith(".ipynb")]

    def key(m: ModelFile) -> tuple[bool, bool, bool, bool, int, int]:
        aside = any(f"/{part}" in f"/{m.path}" for part in _ASIDE)
        return (m.format != "lfs pointer", bool(app_users(m)), bool(m.named_by), not aside,
                -m.path.count("/"), m.size)

    models = sorted(scan.models, key=key, reverse=True)
    ranked: list[tuple[ModelFile, str]] = []
    for m in models:
        users = app_users(m)
        if m.format == "lfs pointer":
            why = "a Git LFS pointer, not the model itself (run `git lfs pull` first)"
        elif users:
            why = f"the app's code names it: {', '.join(users[:3])}"
        elif m.named_by:
            why = f"named in {', '.join(m.named_by[:3])}"
        elif len(models) == 1:
            why = "the only model file found"
        else:
            why = "no code names it; chosen by place and size"
        ranked.append((m, why))
    return ranked


def training_plan(scan: ProjectScan) -> tuple[TrainingPlan | None, str]:
    """Estimator-mode training when a script defines a builder function and a CSV has an
    obvious label column; else ``None`` and the reason."""
    if not scan.training:
        if scan.notebooks_fitting:
            return None, (f"only notebooks train ({', '.join(scan.notebooks_fitting[:3])}); "
                          "`train` runs a script")
        return None, "no training script found"
    builders = [t for t in scan.training if t.builder]
    labelled = [d for d in scan.data if d.label and d.path.lower().endswith(".csv")]
    if not labelled:
        return None, "no CSV table with an obvious label column (label, target, class …)"
    table = _training_table(labelled)
    if table is None:
        return None, ("several CSV tables with a label column, none named train*: "
                      f"{', '.join(d.path for d in labelled[:4])}")
    if not builders:
        names = ", ".join(t.path for t in scan.training[:3])
        return None, (f"{names} train(s), but no function returns the estimator "
                      "(def build_estimator(seed): ...), which estimator mode calls")
    script = sorted(builders, key=lambda t: not os.path.basename(t.path).startswith("train"))[0]
    holdout = next((d.path for d in labelled if d is not table and d.label == table.label
                    and any(w in os.path.basename(d.path).lower() for w in _HOLDOUT)), None)
    assert table.label is not None and script.builder is not None
    return TrainingPlan(f"{script.path}:{script.builder}", table.path, table.label, holdout), (
        f"{script.path} defines {script.builder}() and {table.path} has a '{table.label}' column")


def _training_table(labelled: list[DataFile]) -> DataFile | None:
    named = [d for d in labelled if os.path.basename(d.path).lower().startswith("train")]
    if named:
        return named[0]
    plain = [d for d in labelled
             if not any(w in os.path.basename(d.path).lower() for w in _HOLDOUT)]
    return plain[0] if len(plain) == 1 else None


def default_choices(scan: ProjectScan) -> Choices:
    """The choices ``--yes`` (or a run without a terminal) takes."""
    ranked = [(m, why) for m, why in ranked_models(scan) if m.format != "lfs pointer"]
    if ranked:
        model, why = ranked[0]
        sign_model: str | None = model.path
        sign_why = why
    else:
        sign_model = None
        sign_why = ("no model file found; sign signs the model `train` writes, if any"
                    if scan.models == () else "only Git LFS pointers found; pull them first")
    plan, train_why = training_plan(scan)
    if plan is not None and not _has_extra("ml"):
        plan, train_why = None, (f"{train_why}, but secpipe's `ml` extra is not installed: "
                                 "pip install 'secpipe[ml]', then run `secpipe init` again")
    if sign_model is not None and not _has_extra("provenance"):
        sign_why = (f"{sign_why}; not wired: secpipe's `provenance` extra is not installed "
                    "(pip install 'secpipe[provenance]')")
        sign_model = None
    return Choices(sign_model, sign_why, plan, train_why)


def _has_extra(extra: str) -> bool:
    """The optional extra is installed (what a wired step needs to run)."""
    try:
        require_extra("secpipe init", extra)
    except MissingExtra:
        return False
    return True
