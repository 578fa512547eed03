"""Dependency readers: every manifest, lock file and installed environment ``scan-deps`` reads,
turned into one :class:`~secpipe.scanners.deps.model.Inventory`.

One module per format family:

=====================  ==========================================================================
``requirements``       ``requirements*.txt``, ``*-requirements.txt``, ``requirements/*.txt``,
                       pip-tools ``requirements*.in``, ``constraints*.txt``, Rye's
                       ``requirements*.lock``
``python_projects``    ``pyproject.toml`` (PEP 621, PEP 735, Poetry, uv, PDM), ``setup.cfg``,
                       ``Pipfile``
``python_locks``       ``poetry.lock``, ``pdm.lock``, ``uv.lock``, ``Pipfile.lock``
``conda``              ``environment.yml``/``.yaml`` (and ``environment-*.yml``, MLflow's
                       ``conda.yaml`` and ``python_env.yaml``)
``npm``                ``package.json``, ``package-lock.json``, ``npm-shrinkwrap.json``
``notebooks``          ``*.ipynb`` (``!pip``/``%pip`` lines, ``%%bash`` cells)
``dockerfiles``        ``Dockerfile``, ``*.Dockerfile``, ``Dockerfile.*``, ``Containerfile``
``installed``          ``*.dist-info`` / ``*.egg-info`` of site-packages folders
=====================  ==========================================================================

Nothing read is imported, executed or unpickled. A reader never raises on bad input: a file too
large, undecodable, malformed, nested too deep, or holding more than
:data:`~.common.MAX_ENTRIES` dependencies gives a
:class:`~secpipe.scanners.deps.model.ManifestProblem` with the reason (URL credentials redacted).

``Dependency.spec`` is the requirement as written without its name (extras, specifiers, marker:
``[socks]>=2.0; python_version < "3.8"``); a URL, VCS reference or local path has
``version=None`` and a spec ending ``(not matchable)``. Conda packages have ecosystem
:data:`~.common.CONDA`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from secpipe.scanners.deps.model import Inventory
from secpipe.scanners.deps.readers import common
from secpipe.scanners.deps.readers.common import CONDA, Collector
from secpipe.scanners.deps.readers.conda import read_environment, read_python_env
from secpipe.scanners.deps.readers.dockerfiles import read_dockerfile
from secpipe.scanners.deps.readers.installed import read_installed, site_dirs_of
from secpipe.scanners.deps.readers.notebooks import read_notebook
from secpipe.scanners.deps.readers.npm import read_package_json, read_package_lock
from secpipe.scanners.deps.readers.python_locks import (
    read_pdm_lock,
    read_pipfile_lock,
    read_poetry_lock,
    read_uv_lock,
)
from secpipe.scanners.deps.readers.python_projects import (
    read_pipfile,
    read_pyproject,
    read_setup_cfg,
)
from secpipe.scanners.deps.readers.requirements import read_requirements

__all__ = ["CONDA", "is_manifest", "read_installed", "read_manifest", "reader_of",
           "site_dirs_of"]

Reader = Callable[[Path, str, int, Collector], None]

_EXACT: dict[str, Reader] = {
    "pyproject.toml": read_pyproject,
    "setup.cfg": read_setup_cfg,
    "Pipfile": read_pipfile,
    "Pipfile.lock": read_pipfile_lock,
    "poetry.lock": read_poetry_lock,
    "pdm.lock": read_pdm_lock,
    "uv.lock": read_uv_lock,
    "package.json": read_package_json,
    "package-lock.json": read_package_lock,
    "npm-shrinkwrap.json": read_package_lock,
    "python_env.yaml": read_python_env,
}
_REQUIREMENTS = re.compile(r"(?i)^(?:requirements[\w.-]*|[\w.-]*[-_]requirements[\w.-]*)"
                           r"\.(?:txt|in)$|^requirements(?:-[\w.]+)?\.lock$")
_CONSTRAINTS = re.compile(r"(?i)^(?:constraints[\w.-]*|[\w.-]*[-_]constraints)\.txt$")
_CONDA = re.compile(r"(?i)^(?:environment(?:[-_.][\w.-]+)?|conda)\.ya?ml$")
_DOCKERFILE = re.compile(r"^(?:(?:Dockerfile|Containerfile)(?:\.[\w.-]+)?|[\w.-]+\.Dockerfile|"
                         r"[\w.-]+\.Containerfile)$", re.IGNORECASE)


def _read_constraints(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    read_requirements(path, rel, max_bytes, out, constraints=True)


def reader_of(rel: str) -> Reader | None:
    """The reader of a file at this relative path, chosen by its name (``None``: none)."""
    pure = PurePosixPath(rel.replace("\\", "/"))
    name = pure.name
    exact = _EXACT.get(name)
    if exact is not None:
        return exact
    lower = name.lower()
    if _REQUIREMENTS.match(name):
        return read_requirements
    if _CONSTRAINTS.match(name):
        return _read_constraints
    if pure.parent.name.lower() == "requirements" and lower.endswith((".txt", ".in")):
        return read_requirements
    if _CONDA.match(name):
        return read_environment
    if lower.endswith(".ipynb"):
        return read_notebook
    if _DOCKERFILE.match(name):
        return read_dockerfile
    return None


def is_manifest(rel: str) -> bool:
    """True when a file at this relative path is a manifest some reader handles (by its name:
    requirements*.txt, requirements/*.txt, requirements*.in, constraints*.txt, pyproject.toml,
    poetry.lock, uv.lock, Pipfile, Pipfile.lock, environment.yml/yaml, package.json,
    package-lock.json, npm-shrinkwrap.json, *.ipynb, Dockerfile / *.Dockerfile / Containerfile,
    setup.cfg; also pdm.lock, Rye's requirements*.lock, MLflow's conda.yaml and
    python_env.yaml)."""
    return reader_of(rel) is not None


def read_manifest(path: Path, rel: str, max_bytes: int) -> Inventory:
    """Parse one manifest (never raises on bad input: problems go in ``Inventory.problems``,
    with the reason). ``rel`` is its path relative to the scanned root (POSIX); files it includes
    are read relative to it and never outside the root."""
    out = Collector(max_entries=common.MAX_ENTRIES)
    reader = reader_of(rel)
    if reader is None:
        out.manifest(rel)
        out.problem(rel, "not a manifest format secpipe reads")
        return out.finish()
    try:
        reader(path, rel, max_bytes, out)
    except RecursionError:
        out.problem(rel, "nested too deeply to read")
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OSError) as exc:
        # a shape no reader expected: still the file's fault, reported, never a crash
        out.problem(rel, f"could not be read ({type(exc).__name__}: {str(exc)[:160]})")
    return out.finish()
