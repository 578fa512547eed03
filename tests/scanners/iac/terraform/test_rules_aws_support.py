"""Shared helpers of the AWS rule tests (no tests here): write HCL into a folder, load it with
the real Terraform loader and run the AWS checks on the model."""

from __future__ import annotations

from pathlib import Path

from secpipe.scanners.iac.model import Budget, IacFile, IacHit, Problem
from secpipe.scanners.iac.terraform import load
from secpipe.scanners.iac.terraform.model import TfModel
from secpipe.scanners.iac.terraform.rules_aws import CHECKS

Found = list[IacHit | Problem]


def model_of(root: Path, files: dict[str, str], tfvars: tuple[str, ...] = ()) -> TfModel:
    out: list[IacFile] = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(IacFile(str(path), rel, path.stat().st_size))
    models, problems = load(out, root, Budget(), tfvars)
    assert not [p for p in problems if p.rule_id == "iac.parse-error"], problems
    assert len(models) == 1, models
    return models[0]


def run_model(model: TfModel) -> Found:
    return [item for check in CHECKS for item in check(model)]


def scan(root: Path, hcl: str, **files: str) -> Found:
    """Findings of the AWS checks on ``main.tf`` = ``hcl`` (plus ``files``, names with ``__``
    for ``.``: ``terraform__tfvars``)."""
    tree = {"main.tf": hcl}
    tree.update({name.replace("__", "."): text for name, text in files.items()})
    return run_model(model_of(root, tree))


def hits(found: Found, rule_id: str) -> list[IacHit]:
    return [h for h in found if isinstance(h, IacHit) and h.rule_id == rule_id]


def unresolved(found: Found, rule_id: str) -> list[Problem]:
    return [p for p in found if isinstance(p, Problem) and p.rule_id == "iac.unresolved"
            and p.message.startswith(rule_id + ":")]
