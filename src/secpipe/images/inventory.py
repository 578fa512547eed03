"""Package inventory of an image's final filesystem: dpkg, apk, rpm, Python and npm packages.

:func:`inventory` reads every package database it knows through a read-only :class:`FsView`
(an applied image: ``inventory(FileTreeView(apply_layers(image)))``, the adapter in
:mod:`secpipe.images.pkg_filetree`), never executes or imports anything, and bounds every
read. It does not raise on hostile input: a database that does not parse, parses only in part
or is over a bound is a :class:`Problem` in the result, and an inventory with problems is
incomplete and says so (a caller turns problems into findings or an error).

:func:`wanted_for_inventory` names the files the inventory, the changelog backport check and
the pending-update check (:mod:`secpipe.images.apt_pending`: ``var/lib/apt/lists``) read:
``apply_layers(image, keep=wanted_for_inventory)`` spools only those when the layers' contents
are not scanned. A file the inventory needed whose bytes were not kept anyway (a
hardlink or a symlink to an unselected file) is a problem, never a silent miss.
"""

from __future__ import annotations

import posixpath
import re
import threading
from collections.abc import Iterable

from secpipe.images.pkg_apk import read_apk
from secpipe.images.pkg_dpkg import read_dpkg
from secpipe.images.pkg_lang import read_language_packages
from secpipe.images.pkg_model import (
    APK,
    DEB,
    ECOSYSTEMS,
    NPM,
    PYPI,
    RPM,
    Distro,
    FsView,
    ImageInventory,
    Package,
    Problem,
    read_text,
)
from secpipe.images.pkg_rpm import read_rpm

__all__ = ["APK", "DEB", "ECOSYSTEMS", "NPM", "PYPI", "RPM", "Distro", "FsView",
           "ImageInventory", "Package", "Problem", "file_owners", "inventory", "read_distro",
           "wanted_for_inventory"]

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
MAX_OS_RELEASE_BYTES = 64 << 10
_ASSIGN = re.compile(r"^([A-Z0-9_]+)=(.*)$")
_WANTED_NAMES = frozenset({
    "os-release",  # etc/, usr/lib/
    "copyright", "changelog.Debian.gz",  # usr/share/doc/PACKAGE/: licences, backport evidence
    "rpmdb.sqlite", "rpmdb.sqlite-wal",  # var/lib/rpm/, usr/lib/sysimage/rpm/
    "package.json",  # npm, in and out of node_modules
})
_WANTED_IN = {  # parent folder suffix -> names read there
    ".dist-info": frozenset({"METADATA", "RECORD"}),
    ".egg-info": frozenset({"PKG-INFO", "installed-files.txt"}),
}


def wanted_for_inventory(path: str) -> bool:
    """Whether :func:`inventory`, the changelog check or the apt pending-update check may read
    the file at tree path ``path`` (``var/lib/dpkg/status``, no leading slash): a ``keep``
    predicate for ``apply_layers``.

    It matches by name and parent folder, not by full path, so a database under a symlinked
    folder (``lib -> usr/lib``) is kept wherever the layer stored it.
    """
    parent, name = posixpath.split(path)
    if name in _WANTED_NAMES or name.endswith(".egg-info"):
        return True
    if parent.endswith("dpkg/status.d") or (path.endswith("dpkg/status") and name == "status"):
        return True
    if parent.endswith("dpkg/info") and name.endswith(".list"):
        return True
    if name == "installed" and parent.endswith("apk/db"):
        return True
    if parent.endswith("apt/lists"):  # Packages indexes and their (In)Release files
        return True
    return any(parent.endswith(suffix) and name in names for suffix, names in _WANTED_IN.items())


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        quote, value = value[0], value[1:-1]
        if quote == '"':
            value = re.sub(r"\\(.)", r"\1", value)
    return value


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines (shell quoting removed; nothing expanded or executed)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _ASSIGN.match(line.strip())
        if match:
            out[match.group(1)] = _unquote(match.group(2))
    return out


def read_distro(fs: FsView, problems: list[Problem]) -> Distro | None:
    """The distribution release from ``/etc/os-release`` (or ``/usr/lib/os-release``)."""
    for path in OS_RELEASE:
        text = read_text(fs, path, MAX_OS_RELEASE_BYTES, problems)
        if text is None:
            continue
        fields = parse_os_release(text)
        if not fields.get("ID"):
            problems.append(Problem(path, "os-release without ID"))
            return None
        return Distro(id=fields["ID"].lower(), version_id=fields.get("VERSION_ID") or None,
                      codename=fields.get("VERSION_CODENAME") or None,
                      pretty_name=fields.get("PRETTY_NAME") or None)
    return None


def inventory(fs: FsView, *, cancel: threading.Event | None = None) -> ImageInventory:
    """Every package installed in the filesystem ``fs``, with the problems met reading them.

    Distribution packages (dpkg, apk, rpm) carry the release of ``/etc/os-release``; an image
    with distribution packages but no readable os-release gets a problem (its packages cannot
    be matched to a release's security data). ``cancel`` (a step's ``ctx.cancel``) stops the
    filesystem walk for language packages; the result then has a "cancelled" problem.
    """
    problems: list[Problem] = []
    databases: list[str] = []
    distro = read_distro(fs, problems)
    packages: list[Package] = []
    for reader in (read_dpkg, read_apk, read_rpm):
        packages.extend(reader(fs, distro, problems, databases))
    if packages and distro is None:
        problems.append(Problem(OS_RELEASE[0], "distribution packages but no os-release: "
                                               "the release is unknown"))
    packages.extend(read_language_packages(fs, problems, databases, cancel))
    for path in getattr(fs, "not_kept", ()):
        problems.append(Problem(path, "content not kept when the layers were applied "
                                      "(metadata-only mode): not read"))
    return ImageInventory(packages=tuple(packages), problems=tuple(problems), distro=distro,
                          databases=tuple(databases))


def file_owners(packages: Iterable[Package]) -> dict[str, tuple[Package, ...]]:
    """Path -> the packages whose database lists it (dpkg ``.list``, apk ``R:``, rpm file
    lists, Python ``RECORD``): which package a file found in the image belongs to."""
    owners: dict[str, list[Package]] = {}
    for package in packages:
        for path in package.files:
            owners.setdefault(path, []).append(package)
    return {path: tuple(found) for path, found in owners.items()}
