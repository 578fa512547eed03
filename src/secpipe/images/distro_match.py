"""Matching an image's distribution packages against OSV records of its release.

Which records apply: those of the release's OSV ecosystem only (``Debian:12``, ``Alpine:v3.20``,
``Ubuntu:22.04:LTS`` …: :func:`osv_ecosystem` maps ``/etc/os-release``'s ``ID`` and
``VERSION_ID`` to it); a package is looked up by its **source** name — Debian's records name
the source package (the security tracker is keyed by it), Alpine's the ``origin`` (the
``o:`` field of the apk database). The version compared is the source version when the package
database names one (``Source: openssl (3.0.11-1~deb12u2)``), else the binary version.

How a record is read (OSV schema 1.6, as the Debian and Alpine exports publish it):

* ``ECOSYSTEM`` ranges are evaluated with the release's comparator (dpkg, apk, rpm), events in
  OSV's documented order: ``introduced`` at or below the version opens the range, ``fixed`` at
  or below it closes it, ``last_affected`` strictly below it closes it; an explicit
  ``versions`` list matches by equality in the same ordering. Other range types are not
  evaluated.
* A range with no ``fixed`` event is "affected, no fix" (Debian's tracker status *open*, or an
  ``<unfixed>``/``<end-of-life>`` line of a DSA/DLA list). ``fixed: "0"`` (Alpine's secfixes
  "0") means never affected.
* Fix status beyond fixed/unfixed. What the real exports carry (osv.dev's converters, read for
  this module): ``DEBIAN-CVE-*`` records put the tracker's *urgency* of each release in
  ``affected[].ecosystem_specific.urgency`` (``unimportant``, ``low``, ``medium``, ``high``,
  ``not yet assigned``, ``end-of-life``); a release the tracker marks *not affected* gets no
  ``affected`` entry at all. ``DSA-*``/``DLA-*`` records carry no status (``<not-affected>``
  lines are left out; ``<unfixed>`` and ``<end-of-life>`` both become a range without a fix).
  ``ALPINE-CVE-*`` records only list fixed versions. The tracker's *no-DSA* reasons
  (``ignored`` = will not fix, ``postponed`` = deferred) are not carried by the OSV exports
  today; this module reads them when a record carries them, in ``ecosystem_specific`` or
  ``database_specific`` of the affected entry or the record, under ``nodsa_reason`` or
  ``status`` (``not-affected``, ``will-not-fix``/``ignored``, ``deferred``/``postponed``,
  ``end-of-life``). Urgency ``end-of-life`` without a fix is reported as end-of-life.
* "Not affected" is never reported: an explicit not-affected status for the package in a record
  of the release overrides the other records of that vulnerability for that package.
* Records are grouped by vulnerability: a record's own CVE id (``DEBIAN-CVE-2023-4911`` and
  ``ALPINE-CVE-…`` name it in ``upstream``), its ``aliases``, and for an advisory such as
  ``DSA-5514-1`` each CVE of its ``upstream`` (or, in older exports, ``related``) list: a DSA
  fixing two CVEs adds itself to both.

What cannot be decided is reported, never passed: a version that the ordering cannot place (the
installed one or one in a record) gives a :class:`Vuln` with status ``undecided``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from secpipe.core.errors import InputError
from secpipe.images.distro_versions import Comparator, InvalidDistroVersion, Scheme, comparator

if TYPE_CHECKING:
    from secpipe.scanners.deps.osvdb import OsvDatabase

__all__ = [
    "Backported",
    "DistroAdvisory",
    "DistroMatchError",
    "DistroPackage",
    "FixStatus",
    "PackageLike",
    "Release",
    "Vuln",
    "advisories_from_db",
    "advisories_from_osv",
    "drop_backported",
    "match",
    "osv_ecosystem",
    "range_affected",
]

MAX_RECORDS = 2_000_000
"""Most OSV records one match reads."""

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_PREFIXED_CVE = re.compile(r"^[A-Z]+-(CVE-\d{4}-\d{4,})$")
_ADVISORY_PREFIXES = ("DSA-", "DLA-", "DTSA-")


class DistroMatchError(InputError):
    """A release or record set that cannot be matched (an unknown distribution, a record that
    is not an OSV record, too many records)."""


class FixStatus(Enum):
    """What the distribution says about a vulnerability of an installed package."""

    FIXED = "fixed"
    """A fixed version exists (above the installed one): upgrade."""
    AFFECTED = "affected"
    """Affected, no fix released (yet)."""
    WILL_NOT_FIX = "will-not-fix"
    DEFERRED = "deferred"
    END_OF_LIFE = "end-of-life"
    """The package is no longer supported in this release: no fix will come."""
    UNDECIDED = "undecided"
    """A version could not be compared: check by hand."""


# statuses a record can state that are not ranges
_NOT_AFFECTED = "not-affected"
_STATUS_WORDS: dict[str, str] = {
    "not-affected": _NOT_AFFECTED, "not_affected": _NOT_AFFECTED, "not affected": _NOT_AFFECTED,
    "will-not-fix": FixStatus.WILL_NOT_FIX.value, "will_not_fix": FixStatus.WILL_NOT_FIX.value,
    "will not fix": FixStatus.WILL_NOT_FIX.value, "wontfix": FixStatus.WILL_NOT_FIX.value,
    "ignored": FixStatus.WILL_NOT_FIX.value,
    "deferred": FixStatus.DEFERRED.value, "postponed": FixStatus.DEFERRED.value,
    "end-of-life": FixStatus.END_OF_LIFE.value, "end_of_life": FixStatus.END_OF_LIFE.value,
}
_STATUS_RANK = {FixStatus.END_OF_LIFE.value: 3, FixStatus.WILL_NOT_FIX.value: 2,
                FixStatus.DEFERRED.value: 1}


@dataclass(frozen=True)
class Release:
    """An image's distribution release, as ``/etc/os-release`` names it."""

    distro: str
    """``ID``: ``debian``, ``alpine``, ``ubuntu`` …"""
    version: str
    """``VERSION_ID``: ``12``, ``3.20.3``, ``22.04`` …"""

    @property
    def ecosystem(self) -> str:
        """The OSV ecosystem of this release."""
        eco = osv_ecosystem(self.distro, self.version)
        if eco is None:
            raise DistroMatchError(f"no OSV ecosystem is known for {self.distro} "
                                   f"{self.version!r}")
        return eco

    @property
    def known(self) -> bool:
        """Whether secpipe knows this release's OSV ecosystem (Debian sid, which has no
        ``VERSION_ID``, and unknown distributions are not: report them, match nothing)."""
        eco = osv_ecosystem(self.distro, self.version)
        return eco is not None and eco.split(":", 1)[0] in {n for n, _ in _DISTROS.values()}

    @property
    def scheme(self) -> Scheme:
        """The release's version scheme."""
        return _scheme_of(self.ecosystem)

    @classmethod
    def of(cls, distro: Any) -> Release:
        """The release of an inventory's ``Distro`` (``id``, ``version_id``)."""
        return cls(str(distro.id), str(distro.version_id or ""))


_DISTROS: dict[str, tuple[str, Scheme]] = {
    "debian": ("Debian", Scheme.DPKG),
    "ubuntu": ("Ubuntu", Scheme.DPKG),
    "alpine": ("Alpine", Scheme.APK),
    "rocky": ("Rocky Linux", Scheme.RPM),
    "almalinux": ("AlmaLinux", Scheme.RPM),
}


def osv_ecosystem(distro: str, version: str) -> str | None:
    """The OSV ecosystem of ``os-release`` ``ID``/``VERSION_ID``: Debian by major version
    (``12.5`` → ``Debian:12``), Alpine by ``v`` + major.minor (``3.20.3`` → ``Alpine:v3.20``),
    Ubuntu by version (``Ubuntu:22.04``; OSV adds ``:LTS`` to LTS releases, matched too),
    Rocky and Alma Linux by major version. ``None`` for anything else."""
    distro = distro.strip().lower()
    version = version.strip().strip('"')
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        return None
    parts = version.split(".")
    if distro == "debian":
        return f"Debian:{parts[0]}"
    if distro == "alpine":
        return f"Alpine:v{parts[0]}.{parts[1]}" if len(parts) >= 2 else None
    if distro == "ubuntu":
        return f"Ubuntu:{parts[0]}.{parts[1]}" if len(parts) >= 2 else None
    if distro in ("rocky", "almalinux"):
        return f"{_DISTROS[distro][0]}:{parts[0]}"
    return None


def _scheme_of(ecosystem: str) -> Scheme:
    base = ecosystem.split(":", 1)[0]
    for name, scheme in _DISTROS.values():
        if name == base:
            return scheme
    raise DistroMatchError(f"{ecosystem}: not a distribution ecosystem secpipe can order")


def _same_release(record_ecosystem: str, ecosystem: str) -> bool:
    """``Ubuntu:22.04:LTS`` and ``Ubuntu:22.04`` are one release; otherwise exact."""
    return record_ecosystem == ecosystem or record_ecosystem.startswith(ecosystem + ":")


class PackageLike(Protocol):
    """What matching reads of an installed package (:class:`DistroPackage`, or the image
    inventory's ``secpipe.images.pkg_model.Package``)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def source_name(self) -> str | None: ...

    @property
    def source_version(self) -> str | None: ...


@dataclass(frozen=True)
class DistroPackage:
    """One installed package of an image's package database."""

    name: str
    """The binary package name (``libssl3``)."""
    version: str
    """The installed (binary) version."""
    source_name: str | None = None
    """The source package (Debian ``Source:``) or origin (apk ``o:``); ``None``: the name."""
    source_version: str | None = None
    """The source version when the database names one that differs (``None``: the version)."""
    ecosystem: str = ""
    """The inventory's package type (``deb``, ``apk``, ``rpm``), ``""`` when not stated."""


def lookup_name(pkg: PackageLike) -> str:
    """The name records are looked up by: the source package, else the binary name."""
    return (pkg.source_name or pkg.name).strip().lower()


def compared_version(pkg: PackageLike) -> str:
    """The version records are compared with: the source version, else the installed one."""
    return pkg.source_version or pkg.version


_PACKAGE_TYPES = {Scheme.DPKG: "deb", Scheme.APK: "apk", Scheme.RPM: "rpm"}


@dataclass(frozen=True)
class DistroAdvisory:
    """One OSV record's entry for one source package of one release."""

    id: str
    package: str
    """The source package name (lower case)."""
    ecosystem: str
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    """The ``ECOSYSTEM`` ranges, each a tuple of ``(event kind, version)``."""
    versions: tuple[str, ...]
    vulnerabilities: tuple[str, ...]
    """The vulnerability ids this record speaks for (CVE ids, else its own id)."""
    status: str = ""
    """A status the record states: ``not-affected``, ``will-not-fix``, ``deferred``,
    ``end-of-life`` or ``""``."""
    urgency: str = ""
    """Debian's urgency for this release (``unimportant``, ``low`` …), ``""`` when none."""
    summary: str = ""
    severity: tuple[tuple[str, str], ...] = ()
    """``(type, score)`` pairs of the record's ``severity``."""
    withdrawn: bool = False


@dataclass(frozen=True)
class Vuln:
    """A vulnerability of one installed package, with the distribution's fix status."""

    id: str
    """The vulnerability (a CVE id when there is one)."""
    package: str
    """The binary package installed."""
    source: str
    """The source package records named."""
    version: str
    """The version compared (source version when known)."""
    status: FixStatus
    fixed: str | None
    """The smallest fixed version above ``version`` (``status`` FIXED), else ``None``."""
    advisories: tuple[str, ...]
    """The records that say so (``DEBIAN-CVE-…``, ``DSA-…``, ``ALPINE-CVE-…``)."""
    urgency: str = ""
    summary: str = ""
    severity: tuple[tuple[str, str], ...] = ()
    note: str = ""
    """Why the status is ``undecided``, or other detail worth a report line."""


# ---------------------------------------------------------------- reading records


def _vulnerability_ids(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The CVE ids a record speaks for (its own, ``aliases``, ``upstream``; for a DSA/DLA also
    ``related``, where older exports listed them), else its own id."""
    rid = str(record.get("id", ""))
    ids: list[str] = []
    own = _PREFIXED_CVE.match(rid)
    if _CVE.match(rid):
        ids.append(rid)
    elif own:
        ids.append(own.group(1))
    keys = ["aliases", "upstream"]
    if rid.startswith(_ADVISORY_PREFIXES):
        keys.append("related")
    for key in keys:
        for value in record.get(key) or ():
            if isinstance(value, str) and _CVE.match(value) and value not in ids:
                ids.append(value)
    return tuple(ids) or (rid,)


def advisories_from_osv(records: Iterable[Mapping[str, Any]],
                        ecosystem: str) -> list[DistroAdvisory]:
    """The entries of ``records`` (parsed OSV JSON) for ``ecosystem``'s release. Raises
    :class:`DistroMatchError` for a record that is not an OSV record (checked as the database
    import checks it) or when there are more than :data:`MAX_RECORDS`."""
    from secpipe.scanners.deps.osvdb import status_words, validate_record

    out: list[DistroAdvisory] = []
    for count, record in enumerate(records, 1):
        if count > MAX_RECORDS:
            raise DistroMatchError(f"more than {MAX_RECORDS} OSV records: not matched")
        why = validate_record(record)
        if why is not None:
            raise DistroMatchError(f"not an OSV record: {why}")
        rid = record["id"]
        ids = _vulnerability_ids(record)
        severity = tuple((s["type"], s["score"]) for s in record.get("severity") or ())
        for entry in record.get("affected") or ():
            package = entry.get("package")
            if not package or not _same_release(package["ecosystem"], ecosystem):
                continue
            words = status_words(entry.get("ecosystem_specific"),
                                 entry.get("database_specific"), record.get("database_specific"))
            ranges = tuple(
                tuple(next(iter(event.items())) for event in rng["events"])
                for rng in entry.get("ranges") or () if rng.get("type") == "ECOSYSTEM")
            out.append(DistroAdvisory(
                id=rid, package=package["name"].strip().lower(), ecosystem=package["ecosystem"],
                ranges=ranges, versions=tuple(entry.get("versions") or ()),
                vulnerabilities=ids, status=_status_of(words), urgency=words.get("urgency", ""),
                summary=str(record.get("summary") or "")[:1000], severity=severity,
                withdrawn=bool(record.get("withdrawn"))))
    return out


def _status_of(words: Mapping[str, str]) -> str:
    return _STATUS_WORDS.get(words.get("status", ""), "") or \
        _STATUS_WORDS.get(words.get("nodsa_reason", ""), "")


def advisories_from_db(db: OsvDatabase, ecosystem: str,
                       names: Iterable[str]) -> list[DistroAdvisory]:
    """The entries of the local OSV database (:mod:`secpipe.scanners.deps.osvdb`) for the
    source packages ``names`` of ``ecosystem``'s release, read as :func:`advisories_from_osv`
    reads the record JSON: schema 2 keeps ``upstream`` and each entry's status words. A
    database of schema 1 has neither (``db.schema``): a ``DSA-*`` record is then its own
    vulnerability and no entry has an urgency or status; the image scanner says so."""
    release_ecosystems = [e for e in db.ecosystems() if _same_release(e, ecosystem)]
    out: list[DistroAdvisory] = []
    for name in sorted({n.strip().lower() for n in names}):
        for eco in release_ecosystems:
            for entry in db.affected(eco, name):
                adv = entry.advisory
                ids = _vulnerability_ids({"id": adv.id, "aliases": list(adv.aliases),
                                          "upstream": list(adv.upstream),
                                          "related": list(adv.related)})
                ranges = tuple(
                    tuple(next(iter(event.items())) for event in rng.get("events") or ())
                    for rng in entry.ranges if rng.get("type") == "ECOSYSTEM")
                severity = tuple((str(s.get("type")), str(s.get("score")))
                                 for s in adv.severity)
                out.append(DistroAdvisory(
                    id=adv.id, package=entry.name.strip().lower(), ecosystem=eco,
                    ranges=ranges, versions=entry.versions, vulnerabilities=ids,
                    status=_status_of(entry.specific), urgency=entry.specific.get("urgency", ""),
                    summary=adv.summary, severity=severity, withdrawn=bool(adv.withdrawn)))
    return out


# ---------------------------------------------------------------- evaluating


class _Undecided(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _cmp(compare: Comparator, a: str, b: str) -> int:
    try:
        return compare(a, b)
    except InvalidDistroVersion as exc:
        raise _Undecided(str(exc)) from None


_EVENT_ORDER = {"fixed": 0, "last_affected": 1, "introduced": 2}


def range_affected(version: str, events: Sequence[tuple[str, str]],
                   compare: Comparator) -> bool:
    """Whether ``version`` is inside one OSV range (OSV's evaluation; ``limit`` events cap it;
    a range without any ``introduced`` event, which the schema does not allow, is read as
    starting at ``0`` — the reading that reports rather than hides). Raises
    :class:`InvalidDistroVersion` for a version the comparator cannot place."""
    limits = [at for kind, at in events if kind == "limit" and at != "*"]
    if limits and all(compare(version, at) >= 0 for at in limits):
        return False
    walk = [(kind, at) for kind, at in events if kind in _EVENT_ORDER]
    if not any(kind == "introduced" for kind, _ in walk):
        walk.append(("introduced", "0"))  # off-schema (no start): read as open from the start

    def order(a: tuple[str, str], b: tuple[str, str]) -> int:
        za, zb = a == ("introduced", "0"), b == ("introduced", "0")
        if za or zb:
            return int(zb) - int(za) if za != zb else 0
        return compare(a[1], b[1]) or _EVENT_ORDER[a[0]] - _EVENT_ORDER[b[0]]

    walk.sort(key=functools.cmp_to_key(order))
    affected = False
    for kind, at in walk:
        if kind == "introduced":
            if at == "0" or compare(version, at) >= 0:
                affected = True
        elif kind == "fixed":
            if compare(version, at) >= 0:
                affected = False
        elif compare(version, at) > 0:  # last_affected
            affected = False
    return affected


def _affects(adv: DistroAdvisory, version: str, compare: Comparator) -> bool:
    if any(_cmp(compare, version, listed) == 0 for listed in adv.versions):
        return True
    for events in adv.ranges:
        try:
            if range_affected(version, events, compare):
                return True
        except InvalidDistroVersion as exc:
            raise _Undecided(str(exc)) from None
    return False


def _fixes_above(adv: DistroAdvisory, version: str, compare: Comparator) -> list[str]:
    out = []
    for events in adv.ranges:
        for kind, at in events:
            if kind == "fixed":
                try:
                    if compare(at, version) > 0:
                        out.append(at)
                except InvalidDistroVersion:
                    continue
    return out


def match(packages: Sequence[PackageLike],
          records: Iterable[Mapping[str, Any] | DistroAdvisory],
          release: Release) -> list[Vuln]:
    """The vulnerabilities of ``packages`` (one image, of ``release``) that ``records`` (parsed
    OSV records, or advisories already read by :func:`advisories_from_osv`) report, one
    :class:`Vuln` per package and vulnerability, sorted by package, then id. Not-affected and
    withdrawn records never give one."""
    ecosystem = release.ecosystem
    compare = comparator(release.scheme)
    items = list(records)
    advisories = [a for a in items if isinstance(a, DistroAdvisory)]
    raw: list[Mapping[str, Any]] = [r for r in items if not isinstance(r, DistroAdvisory)]
    if raw:
        advisories.extend(advisories_from_osv(raw, ecosystem))
    by_source: dict[str, list[DistroAdvisory]] = {}
    for adv in advisories:
        if adv.withdrawn or not _same_release(adv.ecosystem, ecosystem):
            continue
        by_source.setdefault(adv.package, []).append(adv)
    out: list[Vuln] = []
    seen: set[tuple[str, str, str]] = set()
    wanted_type = _PACKAGE_TYPES[release.scheme]
    for pkg in packages:
        kind = getattr(pkg, "ecosystem", "")
        if kind and kind != wanted_type:
            continue  # a Python or npm package of the image: not the distribution's
        entries = by_source.get(lookup_name(pkg))
        if not entries:
            continue
        for vuln in _package_vulns(pkg, entries, compare):
            key = (vuln.package, vuln.version, vuln.id)
            if key not in seen:
                seen.add(key)
                out.append(vuln)
    out.sort(key=lambda v: (v.package, v.id))
    return out


def _package_vulns(pkg: PackageLike, entries: Sequence[DistroAdvisory],
                   compare: Comparator) -> list[Vuln]:
    version = compared_version(pkg)
    groups: dict[str, list[DistroAdvisory]] = {}
    for adv in entries:
        for vid in adv.vulnerabilities:
            groups.setdefault(vid, []).append(adv)
    out = []
    for vid, members in sorted(groups.items()):
        if any(a.status == _NOT_AFFECTED for a in members):
            continue
        hits: list[DistroAdvisory] = []
        problem = ""
        for adv in members:
            try:
                if _affects(adv, version, compare):
                    hits.append(adv)
            except _Undecided as exc:
                problem = problem or f"{adv.id}: {exc.text}"
        if not hits:
            if problem:
                out.append(_vuln(pkg, vid, members, FixStatus.UNDECIDED, None, problem))
            continue
        fixed = _first_safe_fix(version, hits, compare)
        if fixed is not None:
            status = FixStatus.FIXED
        else:
            stated = sorted((a.status for a in hits if a.status in _STATUS_RANK),
                            key=_STATUS_RANK.__getitem__, reverse=True)
            if stated:
                status = FixStatus(stated[0])
            elif any(a.urgency == "end-of-life" for a in hits):
                status = FixStatus.END_OF_LIFE
            else:
                status = FixStatus.AFFECTED
        out.append(_vuln(pkg, vid, hits, status, fixed, ""))
    return out


def _first_safe_fix(version: str, hits: Sequence[DistroAdvisory],
                    compare: Comparator) -> str | None:
    """The smallest fixed version above ``version`` that no record of the group still
    affects, else the smallest one above it; ``None`` when none names a fix."""
    candidates = sorted({f for adv in hits for f in _fixes_above(adv, version, compare)},
                        key=functools.cmp_to_key(compare))
    for text in candidates:
        try:
            if not any(_affects(adv, text, compare) for adv in hits):
                return text
        except _Undecided:
            continue
    return candidates[0] if candidates else None


def _vuln(pkg: PackageLike, vid: str, members: Sequence[DistroAdvisory], status: FixStatus,
          fixed: str | None, note: str) -> Vuln:
    urgency = next((a.urgency for a in members if a.urgency), "")
    summary = next((a.summary for a in members if a.summary), "")
    severity = next((a.severity for a in members if a.severity), ())
    return Vuln(id=vid, package=pkg.name, source=lookup_name(pkg), version=compared_version(pkg),
                status=status, fixed=fixed, advisories=tuple(sorted({a.id for a in members})),
                urgency=urgency, summary=summary, severity=severity, note=note)


# ---------------------------------------------------------------- backports


@dataclass(frozen=True)
class Backported:
    """A vulnerability dropped because the package's own changelog records its fix."""

    vuln: Vuln
    changelog_version: str
    """The changelog entry that mentions the id (at or below the installed version)."""
    line: str
    """The changelog line that names it (the evidence kept for the report)."""


def drop_backported(vulns: Sequence[Vuln],
                    changelog_for: Callable[[Vuln], str | None]) -> tuple[list[Vuln],
                                                                          list[Backported]]:
    """Split ``vulns`` into those kept and those the image's changelogs show fixed.
    ``changelog_for`` returns the decoded ``changelog.Debian`` text of a vulnerability's package
    (``None`` when the image has none; Debian-family images only: entries are compared in dpkg
    order). Only CVE ids are looked for; a vulnerability that is ``undecided``, or whose
    version dpkg cannot place, is never dropped."""
    from secpipe.images.changelog import changelog_evidence

    kept: list[Vuln] = []
    dropped: list[Backported] = []
    for vuln in vulns:
        text = changelog_for(vuln) if vuln.status != FixStatus.UNDECIDED \
            and _CVE.match(vuln.id) else None
        try:
            evidence = changelog_evidence(text, vuln.id, vuln.version) if text else None
        except InvalidDistroVersion:
            evidence = None  # an installed version dpkg cannot place proves nothing
        if evidence is None:
            kept.append(vuln)
        else:
            dropped.append(Backported(vuln, evidence.version, evidence.line))
    return kept, dropped
