"""The ``FROM`` lines of a Dockerfile, read (never run) to know which images a build needs.

Only what ``build-image`` needs to decide before buildah starts: the stages, their base image
references, and which of those must come from outside (not ``scratch``, not an earlier stage).
Comments, blank lines, line continuations (``\\`` or the ``# escape=`` directive's character),
``--platform=…`` flags and ``AS name`` are understood; a reference holding ``$`` (an ``ARG``) is
kept as written and counts as external. Bounded: at most :data:`MAX_DOCKERFILE_BYTES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import ConfigError, InputError
from secpipe.core.safeload import read_regular_file

MAX_DOCKERFILE_BYTES = 1 << 20
_DIRECTIVE = re.compile(r"^#\s*escape\s*=\s*([\\`])\s*$", re.IGNORECASE)


class DockerfileError(InputError):
    """The Dockerfile cannot be read (not a regular file, too large, not text)."""


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` of the Dockerfile."""

    index: int
    base: str
    """The image reference as written (``python:3.11-slim``, ``scratch``, ``build``)."""
    name: str | None
    """The ``AS`` name, lower-cased."""
    external: bool
    """True when the base is neither ``scratch`` nor an earlier stage."""


def _logical_lines(text: str) -> list[str]:
    escape = "\\"
    lines = text.splitlines()
    for raw in lines[:5]:  # parser directives come first
        found = _DIRECTIVE.match(raw.strip())
        if found:
            escape = found.group(1)
            break
        if not raw.strip().startswith("#"):
            break
    out: list[str] = []
    current = ""
    for raw in lines:
        stripped = raw.strip()
        if stripped.startswith("#") and current == "":
            continue
        if current and (stripped.startswith("#") or not stripped):
            continue  # comments and blank lines inside a continued instruction
        if stripped.endswith(escape):
            current += stripped[:-1] + " "
            continue
        out.append(current + stripped)
        current = ""
    if current:
        out.append(current)
    return [line for line in out if line]


def parse_stages(text: str) -> list[Stage]:
    """The stages of the Dockerfile ``text``, in order."""
    stages: list[Stage] = []
    names: set[str] = set()
    for line in _logical_lines(text):
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if not args:
            continue
        base = args[0]
        name = args[2].lower() if len(args) >= 3 and args[1].upper() == "AS" else None
        internal = base.lower() == "scratch" or base.lower() in names
        stages.append(Stage(len(stages), base, name, not internal))
        if name:
            names.add(name)
    return stages


def read_stages(path: Path) -> list[Stage]:
    """:func:`parse_stages` of the file ``path`` (bounded, regular files only)."""
    try:
        data = read_regular_file(path, MAX_DOCKERFILE_BYTES, name=f"dockerfile {path.name}")
    except ConfigError as exc:
        raise DockerfileError(exc.message) from None
    try:
        return parse_stages(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise DockerfileError(f"dockerfile {path.name}: not UTF-8 text") from None


def missing_bases(stages: list[Stage], *, first_given: bool) -> list[str]:
    """The external base references a build cannot satisfy (nothing is pulled): every external
    base, except the first stage's when ``base:`` gives it."""
    return [s.base for s in stages if s.external and not (first_given and s.index == 0)]
