"""Shared helpers of the Terraform loader tests: write a tree, load it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from secpipe.scanners.iac.model import Budget, IacFile, Problem
from secpipe.scanners.iac.terraform import load
from secpipe.scanners.iac.terraform.model import TfModel, TfResource

SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json", ".json")


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> list[IacFile]:
    out: list[IacFile] = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name.endswith(SUFFIXES):
            out.append(IacFile(str(path), path.relative_to(root).as_posix(),
                               path.stat().st_size))
    return out


def load_tree(root: Path, files: Mapping[str, str | bytes], budget: Budget | None = None,
              tfvars: tuple[str, ...] = ()) -> tuple[list[TfModel], list[Problem]]:
    return load(write_tree(root, files), root, budget or Budget(), tfvars)


def one_model(root: Path, files: Mapping[str, str | bytes],
              **kwargs: object) -> tuple[TfModel, list[Problem]]:
    models, problems = load_tree(root, files, **kwargs)  # type: ignore[arg-type]
    assert len(models) == 1, [m.root for m in models]
    return models[0], problems


def by_address(model: TfModel) -> dict[str, TfResource]:
    return {r.address: r for r in model.resources}
