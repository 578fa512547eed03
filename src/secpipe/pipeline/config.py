"""Loading ``secpipe.yaml``: safe YAML, size-bounded, validated, errors that name the bad key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from secpipe.core.errors import ConfigError
from secpipe.core.registry import load_kind
from secpipe.core.step import StepKind, StepSettings
from secpipe.pipeline.builtin import builtin_pipeline, builtin_pipeline_names
from secpipe.pipeline.model import PipelineSpec, ProjectConfig, StepSpec
from secpipe.pipeline.validation import format_validation_error, validate_settings
from secpipe.policy.model import SuppressionSpec

CONFIG_NAMES = ("secpipe.yaml", "secpipe.yml", ".secpipe.yaml")
SUPPRESSIONS_FILE = ".secpipe-suppressions.yaml"
MAX_CONFIG_BYTES = 1 << 20


def read_yaml(path: Path) -> Any:
    """Parse YAML with ``yaml.safe_load`` after size checks; errors are :class:`ConfigError`."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size} bytes is too large for a configuration file (max 1 MiB)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from None


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
    for name in CONFIG_NAMES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    return None


def _validate(model: type[BaseModel], data: Any, source: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def load_project(root: Path, config_path: Path | None = None) -> Project:
    """Load the project at ``root`` (``secpipe.yaml`` optional; defaults when absent)."""
    if not root.exists():
        raise ConfigError(f"project folder {root} does not exist")
    if not root.is_dir():
        raise ConfigError(f"project path {root} is not a folder")
    path = config_path if config_path is not None else find_config(root)
    data: Any = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"configuration file {path} does not exist")
        data = read_yaml(path)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path.name}: the top level must be a mapping of keys")
    config: ProjectConfig = _validate(ProjectConfig, data, path.name if path else "secpipe.yaml")
    suppressions = list(config.suppressions)
    extra = root / SUPPRESSIONS_FILE
    if extra.is_file():
        raw = read_yaml(extra) or []
        if not isinstance(raw, list):
            raise ConfigError(f"{SUPPRESSIONS_FILE}: must be a list of suppressions")
        for index, item in enumerate(raw):
            suppressions.append(_validate(SuppressionSpec, item, f"{SUPPRESSIONS_FILE}[{index}]"))
    return Project(root=root.resolve(), config=config, config_path=path,
                   suppressions=tuple(suppressions))
