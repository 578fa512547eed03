"""Version orderings of the ecosystems secpipe matches, and OSV range evaluation.

PyPI versions are ordered by PEP 440 (:class:`packaging.version.Version`), npm versions and every
``SEMVER`` range by Semantic Versioning 2.0 precedence (:class:`semver.Version`: a pre-release
sorts below its release, build metadata is ignored). A version that does not parse is never
guessed at: :func:`parse` returns ``None`` and the caller reports "could not compare".

:func:`range_affected` follows the evaluation the OSV schema documents for one range: events
sorted by version (``introduced: "0"`` first), walked in order; ``introduced`` at or below the
version makes it affected, ``fixed`` at or below it unaffected, ``last_affected`` strictly below
it unaffected; ``limit`` events cap the range (a version at or above every limit is outside it;
``"*"`` is no limit). ``GIT`` ranges are not evaluated (commit hashes have no order here); a
record's explicit ``versions`` list is matched instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import semver
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from secpipe.scanners.deps.model import NPM, PYPI

ECOSYSTEM = "ECOSYSTEM"
SEMVER = "SEMVER"
GIT = "GIT"
RANGE_TYPES = (ECOSYSTEM, SEMVER, GIT)
"""OSV range types."""
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
"""OSV event kinds: each event is an object with exactly one of these keys."""
MATCHED_ECOSYSTEMS = (PYPI, NPM)
"""Ecosystems whose versions secpipe can order."""


Parser = Callable[[str], Any]


def canonical_name(ecosystem: str, name: str) -> str:
    """The name packages are indexed by: PEP 503 for PyPI, lower case for npm and the rest."""
    if ecosystem == PYPI:
        return str(canonicalize_name(name.strip()))
    return name.strip().lower()


@functools.lru_cache(maxsize=65536)
def parse_pep440(text: str) -> Version | None:
    """A PEP 440 version, or ``None`` when ``text`` is not one."""
    try:
        return Version(text.strip())
    except (InvalidVersion, TypeError):
        return None


@functools.lru_cache(maxsize=65536)
def parse_semver(text: str) -> semver.Version | None:
    """A Semantic Versioning 2.0 version (a leading ``v`` or ``=`` tolerated, as npm does), or
    ``None`` when ``text`` is not one."""
    cleaned = text.strip().lstrip("=v").strip()
    try:
        return semver.Version.parse(cleaned)
    except (ValueError, TypeError):
        return None


def parser_for(ecosystem: str, range_type: str = ECOSYSTEM) -> Parser | None:
    """The version parser of a range of ``range_type`` in ``ecosystem``; ``None`` when secpipe
    cannot order that ecosystem's versions (or the range type is ``GIT``)."""
    if range_type == SEMVER:
        return parse_semver
    if range_type != ECOSYSTEM:
        return None
    if ecosystem == PYPI:
        return parse_pep440
    if ecosystem == NPM:
        return parse_semver
    return None


class Uncomparable(Exception):
    """A version (installed or in an event) that the range's ordering cannot place."""

    def __init__(self, text: str, scheme: str) -> None:
        super().__init__(f"{text!r} is not a valid {scheme} version")
        self.text = text


def scheme_name(parse: Parser) -> str:
    return "PEP 440" if parse is parse_pep440 else "SemVer 2.0"


def range_affected(version: str, events: Sequence[dict[str, str]], parse: Parser) -> bool:
    """Whether ``version`` falls inside the range ``events`` describe (OSV's algorithm, above).
    Raises :class:`Uncomparable` naming the version that does not parse."""
    scheme = scheme_name(parse)
    v = parse(version)
    if v is None:
        raise Uncomparable(version, scheme)
    walk: list[tuple[int, Any, str]] = []
    limits: list[Any] = []
    for event in events:
        ((kind, text),) = event.items()
        if kind == "introduced" and text == "0":
            walk.append((0, None, kind))
            continue
        if kind == "limit" and text == "*":
            continue
        parsed = parse(text)
        if parsed is None:
            raise Uncomparable(text, scheme)
        if kind == "limit":
            limits.append(parsed)
        else:
            walk.append((1, parsed, kind))
    if limits and all(v >= limit for limit in limits):
        return False
    walk.sort(key=functools.cmp_to_key(_cmp_events))
    affected = False
    for _, at, kind in walk:
        if kind == "introduced":
            if at is None or v >= at:
                affected = True
        elif kind == "fixed":
            if v >= at:
                affected = False
        elif kind == "last_affected" and v > at:
            affected = False
    return affected


_EVENT_ORDER = {"fixed": 0, "last_affected": 1, "introduced": 2}


def _cmp_events(a: tuple[int, Any, str], b: tuple[int, Any, str]) -> int:
    """Events by version ("0" first); at one version, fixed before introduced."""
    if a[0] != b[0]:
        return a[0] - b[0]
    if a[1] is not None and b[1] is not None:
        if a[1] < b[1]:
            return -1
        if b[1] < a[1]:
            return 1
    return _EVENT_ORDER[a[2]] - _EVENT_ORDER[b[2]]


def fixed_above(version: str, events: Sequence[dict[str, str]], parse: Parser) -> list[str]:
    """The ``fixed`` versions of ``events`` above ``version`` (unparseable ones left out)."""
    v = parse(version)
    if v is None:
        return []
    out = []
    for event in events:
        text = event.get("fixed")
        if text is not None:
            at = parse(text)
            if at is not None and at > v:
                out.append(text)
    return out


def smallest(versions: Sequence[str], parse: Parser) -> str | None:
    """The lowest of ``versions`` in ``parse``'s ordering (``None`` for none)."""
    keyed = [(p, text) for text in versions if (p := parse(text)) is not None]
    if not keyed:
        return None
    best = keyed[0]
    for item in keyed[1:]:
        if item[0] < best[0]:
            best = item
    return best[1]


def listed(version: str, versions: Sequence[str], parse: Parser | None) -> bool:
    """Whether ``version`` is one of an explicit ``versions`` list: the same string, or (with a
    parser) the same version (``1.0`` and ``1.0.0`` are one PEP 440 version)."""
    if version in versions:
        return True
    if parse is None:
        return False
    v = parse(version)
    return v is not None and any(parse(text) == v for text in versions)
