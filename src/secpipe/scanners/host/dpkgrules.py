"""Package rules decided by secpipe's own dpkg reader, where OpenSCAP cannot decide them.

openscap 1.3's ``dpkginfo`` probe reads the dpkg database through APT of the *running* system:
under ``OSCAP_PROBE_ROOT`` (a container's mounted root, an unpacked image, a chroot folder) it
fails, and every ``package_<name>_installed`` / ``package_<name>_removed`` rule is undecided.
This module decides exactly those rules itself:

1. :func:`package_checks` reads the datastream oscap evaluated (streamed with expat, a document
   type or entity refused, size bounded) and keeps the rules whose OVAL definition is one
   ``dpkginfo_test`` (no negation, no state, no other criterion) on a ``dpkginfo_object`` with a
   literal package name: ``check_existence="none_exist"`` means "removed",
   ``all_exist`` / ``at_least_one_exists`` "installed". A rule whose check is anything else
   stays undecided; a rule the datastream has no OVAL definition for at all falls back to its id
   (``package_<name>_removed`` / ``_installed``), said in the decision's ``source``.
2. :func:`read_inventory` reads the root's ``/var/lib/dpkg/status`` and distroless
   ``status.d`` with the image scanner's parser (:func:`secpipe.images.pkg_dpkg.read_dpkg`)
   through :class:`RootView`, which opens every path component ``O_NOFOLLOW`` beneath the root
   (a link in the scanned tree is never followed, so nothing outside it is read). No database,
   an oversized one, or a stanza that could not be parsed: no inventory (the rules stay
   undecided: a dropped stanza could hide an installed package).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from secpipe.core.errors import InputError
from secpipe.images.pkg_dpkg import STATUS, STATUS_D, read_dpkg
from secpipe.images.pkg_model import Problem
from secpipe.tools.parsers.xml import guarded_parser

DECIDED_BY = "secpipe's dpkg reader"
"""The ``decided_by`` property of a rule secpipe decided."""
MAX_DATASTREAM_BYTES = 256 << 20
MAX_DEPTH = 64
RULE_PREFIX_OF = "xccdf_org.ssgproject.content_rule_"
"""The prefix of the full XCCDF rule ids the checks are keyed by."""
_ID_FALLBACK = re.compile(r"^package_([a-z0-9][a-z0-9+.-]*)_(removed|installed)$")
_EXISTENCE = {"none_exist": False, "all_exist": True, "at_least_one_exists": True}


@dataclass(frozen=True)
class PackageCheck:
    """What a package rule asks."""

    package: str
    installed: bool
    """True: the package must be installed; False: it must not be."""
    source: str
    """``oval`` (from the rule's OVAL definition) or ``rule id``."""

    def judge(self, installed: frozenset[str]) -> str:
        """``pass`` or ``fail`` against the set of installed package names."""
        return "pass" if (self.package in installed) == self.installed else "fail"


@dataclass
class _Definition:
    tests: list[str] = field(default_factory=list)
    simple: bool = True


@dataclass
class _Collect:
    """Expat handlers collecting rules' OVAL references, definitions, tests and objects."""

    parser: Any = None
    depth: int = 0
    rule: str = ""
    rule_checks: dict[str, list[str]] = field(default_factory=dict)
    definition: str = ""
    criteria_depth: int = 0
    definitions: dict[str, _Definition] = field(default_factory=dict)
    test: str = ""
    tests: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    """test id -> (check_existence, object id, has a state)."""
    obj: str = ""
    name_ok: bool = False
    in_name: bool = False
    text: list[str] = field(default_factory=list)
    objects: dict[str, str | None] = field(default_factory=dict)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InputError(f"the datastream nests deeper than {MAX_DEPTH} elements")
        local = name.rpartition("\x1f")[2]
        if local == "Rule":
            self.rule = attrs.get("id", "")
        elif local == "check-content-ref" and self.rule and attrs.get("name", "").startswith(
                "oval:"):
            self.rule_checks.setdefault(self.rule, []).append(attrs["name"])
        elif local == "definition" and "id" in attrs:
            self.definition = attrs["id"]
            self.definitions[self.definition] = _Definition()
        elif self.definition and local == "criteria":
            self.criteria_depth += 1
            if self.criteria_depth > 1 or attrs.get("negate", "false") == "true":
                self.definitions[self.definition].simple = False
        elif self.definition and local == "criterion":
            entry = self.definitions[self.definition]
            entry.tests.append(attrs.get("test_ref", ""))
            if attrs.get("negate", "false") == "true":
                entry.simple = False
        elif self.definition and local == "extend_definition":
            self.definitions[self.definition].simple = False
        elif local == "dpkginfo_test" and "id" in attrs:
            self.test = attrs["id"]
            self.tests[self.test] = (attrs.get("check_existence", "at_least_one_exists"), "",
                                     False)
        elif self.test and local in ("object", "state"):
            existence, ref, state = self.tests[self.test]
            if local == "object":
                ref = attrs.get("object_ref", "")
            self.tests[self.test] = (existence, ref, state or local == "state")
        elif local == "dpkginfo_object" and "id" in attrs:
            self.obj, self.name_ok = attrs["id"], True
            self.objects[self.obj] = None
        elif self.obj and local == "name":
            literal = not attrs.get("var_ref") and attrs.get("operation", "equals") == "equals"
            self.in_name, self.name_ok, self.text = True, literal, []
        elif self.obj and local in ("set", "filter", "behaviors"):
            self.name_ok = False

    def data(self, text: str) -> None:
        if self.in_name:
            self.text.append(text)

    def end(self, name: str) -> None:
        self.depth -= 1
        local = name.rpartition("\x1f")[2]
        if local == "Rule":
            self.rule = ""
        elif local == "definition":
            self.definition, self.criteria_depth = "", 0
        elif local == "criteria" and self.definition:
            self.criteria_depth -= 1
        elif local == "dpkginfo_test":
            self.test = ""
        elif local == "name" and self.in_name:
            self.in_name = False
            value = "".join(self.text).strip()
            self.objects[self.obj] = value if self.name_ok and value else None
        elif local == "dpkginfo_object":
            if not self.name_ok:
                self.objects[self.obj] = None
            self.obj = ""


def package_checks(datastream: Path) -> dict[str, PackageCheck]:
    """Full rule id -> :class:`PackageCheck` for every package rule of ``datastream`` that
    can be decided from a package inventory; :class:`InputError` when the datastream is
    oversized or hostile."""
    try:
        size = datastream.stat().st_size
    except OSError as exc:
        raise InputError(f"datastream {datastream}: {exc.strerror}") from None
    if size > MAX_DATASTREAM_BYTES:
        raise InputError(f"datastream {datastream} is {size} bytes "
                         f"(limit {MAX_DATASTREAM_BYTES})")
    scan = _Collect()
    parser = guarded_parser("the datastream", InputError)
    scan.parser = parser
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    parser.CharacterDataHandler = scan.data
    try:
        with datastream.open("rb") as fh:
            parser.ParseFile(fh)
    except expat.ExpatError as exc:
        raise InputError(f"datastream {datastream} is not well-formed XML: "
                         f"{expat.ErrorString(exc.code)} (line {exc.lineno})") from None
    return _decidable(scan)


def _decidable(scan: _Collect) -> dict[str, PackageCheck]:
    out: dict[str, PackageCheck] = {}
    for rule, refs in scan.rule_checks.items():
        known = [scan.definitions[r] for r in refs if r in scan.definitions]
        if known:
            check = _from_definition(known[0], scan) if len(known) == 1 else None
            if check is not None:
                out[rule] = check
            continue
        short = rule.rpartition("_rule_")[2]
        match = _ID_FALLBACK.match(short)
        if match:
            out[rule] = PackageCheck(match.group(1), match.group(2) == "installed", "rule id")
    return out


def _from_definition(definition: _Definition, scan: _Collect) -> PackageCheck | None:
    if not definition.simple or len(definition.tests) != 1:
        return None
    test = scan.tests.get(definition.tests[0])
    if test is None:
        return None
    existence, ref, has_state = test
    package = scan.objects.get(ref)
    if has_state or package is None or existence not in _EXISTENCE:
        return None
    return PackageCheck(package, _EXISTENCE[existence], "oval")


class RootView:
    """A read-only :class:`~secpipe.images.pkg_model.FsView` of a root folder that never
    follows a symbolic link (every component is opened ``O_NOFOLLOW`` beneath the root): a
    link reads as missing."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def _open(self, path: str, directory: bool) -> Any:
        parts = [p for p in path.split("/") if p and p != "."]
        if ".." in parts:
            yield None
            return
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        fds: list[int] = []
        try:
            fd = os.open(self.root, flags | os.O_DIRECTORY)
            fds.append(fd)
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                extra = os.O_DIRECTORY if (directory or not last) else 0
                fd = os.open(part, flags | extra, dir_fd=fd)
                fds.append(fd)
            yield fd
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EACCES,
                                 errno.ENXIO):
                raise
            yield None
        finally:
            for fd in fds:
                os.close(fd)

    def read(self, path: str, limit: int) -> bytes | None:
        """At most ``limit`` bytes of the regular file ``path``; None for anything else."""
        with self._open(path, False) as fd:
            if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks: list[bytes] = []
            left = limit
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

    def listdir(self, path: str) -> list[str]:
        """Names in the directory ``path`` ([] when it is not one, or a link)."""
        with self._open(path, True) as fd:
            return [] if fd is None else os.listdir(fd)

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (without following a link on the way)."""
        with self._open(path, False) as fd:
            return fd is not None

    def owner(self, path: str) -> tuple[int, int] | None:
        """(uid, gid) of ``path``."""
        with self._open(path, False) as fd:
            if fd is None:
                return None
            info = os.fstat(fd)
            return info.st_uid, info.st_gid


@dataclass(frozen=True)
class Inventory:
    """The installed packages of a root, or why there are none to judge by."""

    installed: frozenset[str] | None
    """Names of installed packages; None when the database is missing or unreadable."""
    why: str = ""
    databases: tuple[str, ...] = ()


def read_inventory(root: Path) -> Inventory:
    """The root's dpkg inventory (see the module text for when it is None)."""
    problems: list[Problem] = []
    databases: list[str] = []
    packages = read_dpkg(RootView(root), None, problems, databases)
    bad = [p for p in problems if p.path == STATUS or p.path.startswith(STATUS_D + "/")
           or p.path == STATUS_D]
    if bad:
        return Inventory(None, f"the dpkg database could not be read completely "
                               f"({bad[0].path}: {bad[0].reason[:120]})", tuple(databases))
    if not databases:
        return Inventory(None, "no dpkg database in the root (neither /var/lib/dpkg/status "
                               "nor status.d)")
    return Inventory(frozenset(p.name for p in packages), databases=tuple(databases))
