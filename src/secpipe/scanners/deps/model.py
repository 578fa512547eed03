"""What the dependency readers produce and the matcher and licence policy consume.

Readers never import or run what they read: manifests are parsed as text (TOML by ``tomllib``,
JSON by ``json``, YAML by the strict loader of :mod:`secpipe.core.safeload`), installed
environments by reading ``*.dist-info/METADATA`` files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PYPI = "PyPI"
NPM = "npm"
"""OSV ecosystem names, exactly as OSV spells them."""


@dataclass(frozen=True)
class Dependency:
    """One package a project depends on, as one manifest, lock file or environment states it."""

    ecosystem: str
    """OSV ecosystem: :data:`PYPI` or :data:`NPM`."""
    name: str
    """The name as written (matching canonicalises it: PEP 503 for PyPI)."""
    version: str | None
    """The exact version when the source pins, locks or installs one; ``None`` for a range."""
    spec: str
    """The requirement as written (``>=1.0,<2``, ``==1.2.3``, ``^1.2.0``; ``""`` when none)."""
    path: str
    """The manifest's path relative to the scanned root (POSIX), or the environment's folder."""
    line: int | None = None
    """1-based line of the declaration, when the format has lines worth pointing at."""
    member: str | None = None
    """Position inside a container: a notebook cell (``cell[3]``), a Dockerfile instruction."""
    direct: bool = True
    """Declared by the project (``False``: pulled in transitively, as a lock file records)."""
    licence: str | None = None
    """The licence the source declares (an SPDX expression or free text), when it carries one."""
    source: str = ""
    """The reader that produced it: ``requirements``, ``poetry.lock``, ``installed`` …"""


@dataclass(frozen=True)
class ManifestProblem:
    """A manifest (or part of one) that could not be read: reported as a finding, never skipped."""

    path: str
    reason: str
    line: int | None = None
    member: str | None = None


@dataclass
class Inventory:
    """Everything the readers found under one root."""

    dependencies: list[Dependency] = field(default_factory=list)
    problems: list[ManifestProblem] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    """Relative paths of every manifest read (whether or not it declared anything)."""

    def extend(self, other: Inventory) -> None:
        self.dependencies.extend(other.dependencies)
        self.problems.extend(other.problems)
        self.manifests.extend(other.manifests)
