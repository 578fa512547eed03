"""Result types of a project scan (frozen; paths relative to the project, POSIX separators)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFile:
    """A file that holds a model."""

    path: str
    """Path relative to the project."""
    format: str
    """What its bytes say (``pickle``, ``zip``, ``hdf5``, ``safetensors``, ``gguf``, ``lfs
    pointer`` …), else what its name says."""
    size: int
    """Size in bytes."""
    named_by: tuple[str, ...] = ()
    """Source files (scripts, notebooks) whose text names this file: the code that loads it."""


@dataclass(frozen=True)
class TrainingScript:
    """A Python file that trains a model."""

    path: str
    """Path relative to the project."""
    reason: str
    """Why it counts: its name (``train*.py``) and/or a ``.fit(`` call."""
    builder: str | None = None
    """A top-level function whose name says it builds the estimator (``build_estimator``), for
    ``train``'s estimator mode; ``None`` when there is none."""


@dataclass(frozen=True)
class DataFile:
    """A data table."""

    path: str
    """Path relative to the project."""
    columns: tuple[str, ...] = ()
    """A CSV's header (empty for other formats or an unreadable header)."""
    label: str | None = None
    """The column whose name makes it the obvious label (``label``, ``target`` …)."""


@dataclass(frozen=True)
class ProjectScan:
    """Everything :func:`~secpipe.project_scan.scan_project` found."""

    models: tuple[ModelFile, ...] = ()
    training: tuple[TrainingScript, ...] = ()
    notebooks: tuple[str, ...] = ()
    """Jupyter notebooks."""
    notebooks_fitting: tuple[str, ...] = ()
    """Notebooks whose code calls ``.fit(``."""
    data: tuple[DataFile, ...] = ()
    requirements: tuple[str, ...] = ()
    """Requirement, manifest and lock files."""
    containers: tuple[str, ...] = ()
    """Dockerfiles, Containerfiles, compose files."""
    iac: tuple[str, ...] = ()
    """Terraform files, Kubernetes manifests, CloudFormation templates."""
    frameworks: tuple[str, ...] = ()
    """Libraries the Python code imports that matter here (flask, langchain, torch …)."""
    sources: int = 0
    """Python files and notebooks seen: what ``scan-code`` reads."""
    files_seen: int = 0
    """Files listed."""
    truncated: tuple[str, ...] = ()
    """Bounds that were hit (files listed, bytes read): the scan is then incomplete."""

    @property
    def empty(self) -> bool:
        """Nothing to wire was found."""
        return not (self.models or self.training or self.notebooks or self.data
                    or self.requirements or self.containers or self.iac)
