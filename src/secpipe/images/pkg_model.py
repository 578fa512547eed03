"""Types of the image package inventory: the filesystem view it reads, packages, problems.

The inventory never executes or imports what it reads: package databases are parsed as text
(dpkg, apk, Python metadata), JSON (npm) or a bounded binary header parser (rpm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

DEB = "deb"
APK = "apk"
RPM = "rpm"
PYPI = "pypi"
NPM = "npm"
ECOSYSTEMS = (DEB, APK, RPM, PYPI, NPM)
"""Ecosystem names, as package URLs spell their types."""


class FsView(Protocol):
    """A read-only view of an image's final filesystem (absolute POSIX paths, ``/`` is the root).

    Nothing here touches the host: an implementation resolves symbolic links inside the image
    only. ``read`` follows links and returns at most ``limit`` bytes (the first ``limit`` bytes
    of a longer file) of a regular file, ``None`` when the path is missing or not a regular file;
    ``listdir`` returns the names in a directory and does NOT follow a link at ``path`` itself
    (``[]`` for a link or anything else), so a walk sees each file once (``/lib -> usr/lib``);
    ``owner`` is (uid, gid).
    """

    def read(self, path: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes of the regular file at ``path``; ``None`` if there is none."""
        ...

    def listdir(self, path: str) -> list[str]:
        """Names of the entries of the directory ``path`` (``[]`` if it is not one)."""
        ...

    def exists(self, path: str) -> bool:
        """Whether anything (file, directory, link) is at ``path``."""
        ...

    def owner(self, path: str) -> tuple[int, int] | None:
        """(uid, gid) of the entry at ``path``; ``None`` if there is none."""
        ...


@dataclass(frozen=True)
class Distro:
    """The distribution release as ``/etc/os-release`` states it."""

    id: str
    """``ID``: debian, ubuntu, alpine, fedora, rhel …"""
    version_id: str | None = None
    """``VERSION_ID``: 12, 3.20.3, 9.4 (absent on rolling releases such as Debian sid)."""
    codename: str | None = None
    """``VERSION_CODENAME``: bookworm …"""
    pretty_name: str | None = None
    """``PRETTY_NAME``, for reports."""

    @property
    def release(self) -> str:
        """``ID-VERSION_ID`` (or the codename), as package URLs' ``distro`` qualifier spells it."""
        tail = self.version_id or self.codename
        return f"{self.id}-{tail}" if tail else self.id


@dataclass(frozen=True)
class Package:
    """One installed package found in an image."""

    ecosystem: str
    """One of :data:`ECOSYSTEMS`."""
    name: str
    """The (binary) package name as its database spells it."""
    version: str
    """The installed version; dpkg and rpm versions carry the epoch as ``N:`` when there is one."""
    source_name: str | None = None
    """The source package (dpkg ``Source:`` or the name, apk origin ``o:`` or the name, the
    rpm's SOURCERPM name; ``None`` for an rpm without SOURCERPM and for language packages)."""
    source_version: str | None = None
    """The source package's version (dpkg: the ``Source: name (version)`` one when it differs)."""
    arch: str | None = None
    """The architecture (amd64, x86_64, all, noarch …) when the database states one."""
    distro: Distro | None = None
    """The image's distribution release, for distribution packages."""
    locations: tuple[str, ...] = ()
    """The database file(s) or metadata file(s) that record the package."""
    licence: str | None = None
    """The licence the package declares (SPDX expression or free text), when it declares one."""
    files: tuple[str, ...] = ()
    """Files the package's database says it installed (dpkg ``.list``, apk ``R:``), bounded."""


@dataclass(frozen=True)
class Problem:
    """A package database (or part of one) that could not be read: never silently skipped."""

    path: str
    reason: str


@dataclass(frozen=True)
class ImageInventory:
    """Everything :func:`secpipe.images.inventory.inventory` found in one filesystem."""

    packages: tuple[Package, ...]
    problems: tuple[Problem, ...]
    distro: Distro | None
    databases: tuple[str, ...]
    """Paths of every package database or metadata file read."""

    def count(self, ecosystem: str) -> int:
        """How many packages of ``ecosystem`` were found."""
        return sum(1 for p in self.packages if p.ecosystem == ecosystem)


def read_text(fs: FsView, path: str, limit: int, problems: list[Problem]) -> str | None:
    """The file as text (UTF-8, bad bytes replaced), or ``None`` plus a problem when too large."""
    data = fs.read(path, limit + 1)
    if data is None:
        return None
    if len(data) > limit:
        problems.append(Problem(path, f"larger than {limit} bytes: not read"))
        return None
    return data.decode("utf-8", errors="replace")
