"""Loading ``secpipe.yaml``: safe YAML, size-bounded, validated, errors that name the bad key.

Fails closed: a configuration file that exists is read or refused, never skipped (a folder, FIFO
or device named ``secpipe.yaml`` is an error, and so are two configuration files side by side);
``defaults:`` may only name known step kinds and their known settings.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from secpipe.core.errors import ConfigError
from secpipe.core.registry import load_kind
from secpipe.core.safeload import MAX_YAML_BYTES, YamlDocument, load_yaml
from secpipe.core.step import StepKind, StepSettings
from secpipe.pipeline.builtin import builtin_pipeline, builtin_pipeline_names
from secpipe.pipeline.model import PipelineSpec, ProjectConfig, StepSpec
from secpipe.pipeline.validation import (
    LineOf,
    Loc,
    format_validation_error,
    validate_defaults,
    validate_settings,
)
from secpipe.policy.model import SuppressionSpec

CONFIG_NAMES = ("secpipe.yaml", "secpipe.yml", ".secpipe.yaml")
SUPPRESSIONS_FILE = ".secpipe-suppressions.yaml"
MAX_CONFIG_BYTES = MAX_YAML_BYTES


def read_yaml(path: Path, name: str | None = None) -> YamlDocument:
    """Read a configuration file with the one YAML loader (:mod:`secpipe.core.safeload`): a
    regular file of at most :data:`MAX_CONFIG_BYTES`; every problem is a :class:`ConfigError`."""
    return load_yaml(path, name, MAX_CONFIG_BYTES)


@dataclass(frozen=True)
class Project:
    """A project folder and its validated configuration."""

    root: Path
    """The project folder."""
    config: ProjectConfig
    """Validated configuration (defaults when there is no file)."""
    config_path: Path | None = None
    """The file it came from, if any."""
    suppressions: tuple[SuppressionSpec, ...] = field(default=())
    """Suppressions from ``secpipe.yaml`` and ``.secpipe-suppressions.yaml`` together."""

    @property
    def state_dir(self) -> Path:
        return self.root / self.config.state_dir

    def pipeline(self, name: str) -> PipelineSpec:
        """The named pipeline: the project's own, else a built-in; unknown names are errors."""
        if name in self.config.pipelines:
            return self.config.pipelines[name]
        spec = builtin_pipeline(name)
        if spec is None:
            known = sorted(set(self.config.pipelines) | set(builtin_pipeline_names()))
            raise ConfigError(f"unknown pipeline {name!r}", hint="known: " + ", ".join(known))
        return spec

    def step_names(self) -> set[str]:
        """Every step kind secpipe has (installed or in a built-in layout) and every step id of
        the project's and the built-in pipelines: what ``policy.require`` may name."""
        from secpipe.core.registry import available_kinds
        from secpipe.pipeline.builtin import builtin_layout

        names = set(available_kinds())
        for name in builtin_pipeline_names():
            for _, steps in builtin_layout(name) or []:
                names.update(part for kind, step_id, _ in steps for part in (kind, step_id))
        for spec in self.config.pipelines.values():
            for ids in spec.step_ids():
                names.update(ids)
        return names

    def pipeline_names(self) -> list[str]:
        return sorted(set(self.config.pipelines) | set(builtin_pipeline_names()))

    def step_settings(self, step: StepSpec, where: str) -> tuple[type[StepKind[Any]], StepSettings]:
        """Load the step's kind and validate its ``with:`` (over the project's defaults)."""
        try:
            kind = load_kind(step.uses)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None
        merged = {**self.config.defaults.get(step.uses, {}), **step.with_}
        return kind, validate_settings(kind, merged, where)


def find_config(root: Path) -> Path | None:
    """The project's configuration file; anything by one of :data:`CONFIG_NAMES` counts (a
    folder or a dangling link too, so that reading it fails instead of being skipped)."""
    present = [root / name for name in CONFIG_NAMES if os.path.lexists(root / name)]
    if len(present) > 1:
        names = " and ".join(p.name for p in present)
        raise ConfigError(f"{names} {'both' if len(present) == 2 else 'all'} exist in {root}: "
                          "secpipe would read only the first", hint="keep one of them")
    return present[0] if present else None


def _validate(model: type[BaseModel], data: Any, source: str,
              line_of: LineOf | None = None) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, line_of)) from None


def read_suppressions(path: Path) -> list[SuppressionSpec]:
    """The suppressions of a ``.secpipe-suppressions.yaml`` file, validated."""
    doc = read_yaml(path, path.name)
    raw = [] if doc.data is None else doc.data
    if not isinstance(raw, list):
        raise ConfigError(f"{path.name}: must be a list of suppressions")
    specs = []
    for index, item in enumerate(raw):
        def line_of(loc: Loc, at: int = index) -> int | None:
            return doc.line_of((at, *loc))

        specs.append(_validate(SuppressionSpec, item, f"{path.name}[{index}]", line_of))
    return specs


def load_project(root: Path, config_path: Path | None = None) -> Project:
    """Load the project at ``root`` (``secpipe.yaml`` optional; defaults when absent)."""
    try:
        is_dir = stat.S_ISDIR(root.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"project folder {root} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"project folder {root}: cannot open: {exc.strerror}") from None
    if not is_dir:
        raise ConfigError(f"project path {root} is not a folder")
    if config_path is not None and not os.path.lexists(config_path):
        raise ConfigError(f"configuration file {config_path} does not exist")
    path = config_path if config_path is not None else find_config(root)
    source = "secpipe.yaml"
    doc = YamlDocument(data={}, lines={})
    if path is not None:
        source = str(config_path) if config_path is not None else path.name
        doc = read_yaml(path, source)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    config: ProjectConfig = _validate(ProjectConfig, data, source, doc.line_of)
    validate_defaults(config.defaults, source, doc.line_of)
    suppressions = list(config.suppressions)
    extra = root / SUPPRESSIONS_FILE
    if os.path.lexists(extra):
        suppressions.extend(read_suppressions(extra))
    return Project(root=root.resolve(), config=config, config_path=path,
                   suppressions=tuple(suppressions))
