"""The scanner interface: the settings every ``scan-X`` step kind shares, and its file list.

A scanner is a step kind named ``scan-X``: ``secpipe scan X`` runs it, and its ``Settings`` derive
from :class:`ScannerSettings` (the registry refuses a ``scan-X`` kind whose settings do not). The
base gives every scanner the same ``paths``, the same ``exclude`` meaning (globs *added* to
:data:`~secpipe.scanners.walk.DEFAULT_EXCLUDES`; ``default_excludes: false`` drops those) and the
same budget names; :func:`collect_files` is the one walker (links never followed, special files
and unreadable folders reported as skipped, a file named explicitly scanned even if excluded).

Budgets, one name each wherever they apply (defaults and bounds may differ per scanner):

* ``max_file_bytes`` (all scanners): the largest file analysed whole;
* ``max_archive_depth``, ``max_archive_members``, ``max_archive_bytes``
  (:class:`ArchiveScannerSettings`, scanners that open archives): nesting, members, bytes one
  file may expand to;
* scanner-specific ones (``max_member_bytes``, ``max_seconds_per_file``, ``max_history_bytes``)
  live on that scanner's settings.

``secpipe scan X`` derives its options from the fields: ``paths`` is the positional ``PATH``, a
bool is ``--name/--no-name``, an int, float or str ``--name VALUE``, a ``list[str]`` a repeatable
``--name VALUE``; help comes from the field's docstring. A field opts out of the command line with
``json_schema_extra=NOT_ON_CLI``, and names its value with ``json_schema_extra=metavar("GLOB")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from secpipe.core.results import Skipped
from secpipe.core.step import StepSettings
from secpipe.scanners.walk import DEFAULT_EXCLUDES, FileEntry, collect

MIB = 1 << 20

NOT_ON_CLI: JsonDict = {"cli": False}
"""``json_schema_extra`` of a field that ``secpipe scan`` does not offer as an option."""

RENAMED_KEYS: dict[str, str] = {
    "max_depth": "max_archive_depth",
    "max_members": "max_archive_members",
    "max_total_bytes": "max_archive_bytes",
}
"""Budget keys that were renamed when the scanners got one set of names: old -> new."""


def metavar(name: str) -> JsonDict:
    """``json_schema_extra`` naming the option's value in ``--help`` (``--exclude GLOB``)."""
    return {"metavar": name}


class ScannerSettings(StepSettings):
    """Base of every scanner's ``with:`` settings."""

    # a settings class builds its validator when first used, not when defined: these bases are
    # never validated themselves, and ``secpipe scan X`` validates only X's settings
    model_config = ConfigDict(defer_build=True)

    paths: list[str] = Field(default_factory=lambda: ["."])
    """Files or folders to scan, relative to the project root; a file named here is scanned even
    when an exclude glob matches it."""
    exclude: list[str] = Field(default_factory=list, json_schema_extra=metavar("GLOB"))
    """Globs of paths to skip, added to the default excludes (NAME/ matches a folder at any
    depth, a glob without / a file or folder name)."""
    default_excludes: bool = True
    """Skip version-control folders, .secpipe/, virtual environments, node_modules/ and tool
    caches."""
    max_file_bytes: int = Field(default=25 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Largest file analysed whole; a larger one is reported."""

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        """A renamed budget key is an error naming its new name."""
        if isinstance(data, dict):
            old = sorted(k for k in data if k in RENAMED_KEYS and k not in cls.model_fields)
            if old:
                raise ValueError("; ".join(f"unknown key {k!r} (renamed {RENAMED_KEYS[k]!r})"
                                           for k in old))
        return data

    def excludes(self) -> list[str]:
        """The exclude globs in force: the defaults (unless turned off) plus ``exclude``."""
        return [*(DEFAULT_EXCLUDES if self.default_excludes else ()), *self.exclude]


class ArchiveScannerSettings(ScannerSettings):
    """Settings of a scanner that reads inside archives and compressed streams."""

    max_archive_depth: int = Field(default=4, ge=0, json_schema_extra=metavar("N"))
    """Deepest nesting of archives and compressed layers."""
    max_archive_members: int = Field(default=10_000, gt=0, json_schema_extra=metavar("N"))
    """Most archive members read from one file."""
    max_archive_bytes: int = Field(default=100 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Most bytes one file may expand to over all its archive members."""


def collect_files(root: Path, settings: ScannerSettings,
                  skipped: list[Skipped]) -> list[FileEntry]:
    """The files ``settings`` asks to scan under ``root`` (see :mod:`secpipe.scanners.walk`)."""
    return collect(root, settings.paths, settings.excludes(), skipped)
