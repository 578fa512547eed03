"""Vulnerabilities of an image's packages, from the local OSV database, and their findings.

Distribution packages (dpkg, apk, rpm) are matched by **source** package against the records
of the image's release (:mod:`secpipe.images.distro_match`, with the distribution's fix
status); on Debian-family images a vulnerability whose CVE id the package's own
``usr/share/doc/<package>/changelog.Debian.gz`` names at or below the installed version is
dropped as backported, and the evidence kept. Python and npm packages found in the image are
matched by the dependency scanner's matcher (:mod:`secpipe.scanners.deps.match`).

VEX statements (:mod:`.vex`) are applied here, before any finding exists, so the gate never
sees a vulnerability a VEX document says does not affect the image.

What cannot be decided is never a pass: a release secpipe has no OSV ecosystem for, a
database without the release's data, a version that cannot be ordered are problems, reported
as ``image.incomplete`` findings by the step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from secpipe.core.errors import InputError
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.images.changelog import MAX_COMPRESSED, ChangelogError, inflate
from secpipe.images.distro_match import (
    DistroMatchError,
    FixStatus,
    Release,
    Vuln,
    advisories_from_db,
    drop_backported,
    lookup_name,
    match,
)
from secpipe.images.distro_versions import Scheme
from secpipe.images.layers import FileTree
from secpipe.images.layout import ImageError
from secpipe.images.pkg_model import APK, DEB, NPM, PYPI, RPM, ImageInventory, Package
from secpipe.images.sbom import purl
from secpipe.scanners.deps import match as mk
from secpipe.scanners.deps.cvss import record_severity
from secpipe.scanners.deps.model import NPM as OSV_NPM
from secpipe.scanners.deps.model import PYPI as OSV_PYPI
from secpipe.scanners.deps.model import Dependency
from secpipe.scanners.deps.osvdb import OsvDatabase
from secpipe.scanners.deps.versions import canonical_name
from secpipe.scanners.image.vex import SUPPRESSING, PackageKeys, VexStatement, decide

SCANNER = "scan-image"
VULNERABLE = "image.vulnerable"
INCOMPLETE = "image.incomplete"
STALE = "image.database-stale"
DISTRO_KINDS = (DEB, APK, RPM)
LANGUAGE_KINDS = {PYPI: OSV_PYPI, NPM: OSV_NPM}
"""Inventory ecosystem -> OSV ecosystem of the language packages matched."""
UNDECIDED = FixStatus.UNDECIDED.value
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_URGENCY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW,
            "unimportant": Severity.LOW}
TAGS = ("CWE-1395", "OWASP-LLM05", "OWASP-ML06")


@dataclass(frozen=True)
class ImageVuln:
    """One vulnerability of one package of an image, before VEX and the gate."""

    id: str
    """The id shown first (a CVE id for distribution records)."""
    ids: tuple[str, ...]
    """Every id that names it (the CVE id, DSA/DLA/DEBIAN-CVE records, GHSA/PYSEC aliases)."""
    package: Package
    version: str
    """The version compared (the source version for a distribution package when known)."""
    status: str
    """The distribution's fix status (:class:`~secpipe.images.distro_match.FixStatus`
    values); ``fixed``/``affected`` for language packages."""
    fixed: str | None
    severity: Severity
    severity_source: str
    summary: str = ""
    urgency: str = ""
    note: str = ""

    @property
    def purl(self) -> str:
        """The package's purl."""
        return purl(self.package)


@dataclass(frozen=True)
class BackportedVuln:
    """A vulnerability dropped because the package's changelog records its fix."""

    vuln: ImageVuln
    changelog_version: str
    line: str


@dataclass(frozen=True)
class VexSuppressed:
    """A vulnerability a VEX statement says does not affect the image (or is fixed)."""

    vuln: ImageVuln
    statement: VexStatement


@dataclass(frozen=True)
class MatchReport:
    """The vulnerabilities of one image's inventory, and what could not be decided."""

    vulns: tuple[ImageVuln, ...]
    backported: tuple[BackportedVuln, ...]
    problems: tuple[tuple[str, str], ...]
    """``(path, reason)`` pairs: matching that could not be done or decided."""
    ecosystems: tuple[str, ...]
    """OSV ecosystems whose data was used."""


# ---------------------------------------------------------------- distribution packages


def _changelog_text(tree: FileTree, package: str, cache: dict[str, str | None]) -> str | None:
    if package in cache:
        return cache[package]
    text: str | None = None
    if re.fullmatch(r"[a-z0-9][a-z0-9+.\-]*", package):
        try:
            data = tree.read_path(f"usr/share/doc/{package}/changelog.Debian.gz",
                                  limit=MAX_COMPRESSED)
            text = inflate(data).text if data is not None else None
        except (ImageError, ChangelogError, RecursionError):
            text = None  # no readable evidence: the vulnerability is kept
    cache[package] = text
    return text


def _distro_severity(vuln: Vuln) -> tuple[Severity, str]:
    severity, how = record_severity([{"type": t, "score": s} for t, s in vuln.severity], None)
    urgency = vuln.urgency.strip().lower()
    if how.startswith("default") and urgency in _URGENCY:
        severity, how = _URGENCY[urgency], f"Debian urgency: {urgency}"
    if urgency == "unimportant" and severity.rank > Severity.LOW.rank:
        severity, how = Severity.LOW, f"Debian urgency: unimportant ({how})"
    return severity, how


def distro_vulns(inv: ImageInventory, tree: FileTree,
                 db: OsvDatabase) -> tuple[list[ImageVuln], list[BackportedVuln],
                                           list[tuple[str, str]], list[str]]:
    """Vulnerabilities of the distribution packages of ``inv`` (backports dropped), the
    backported ones, problems, and the OSV ecosystems used."""
    packages = [p for p in inv.packages if p.ecosystem in DISTRO_KINDS]
    if not packages:
        return [], [], [], []
    where = packages[0].locations[0] if packages[0].locations else "/"
    if inv.distro is None:
        return [], [], [(where, f"{len(packages)} distribution packages not matched: the "
                                "release is unknown (no readable /etc/os-release)")], []
    release = Release.of(inv.distro)
    if not release.known:
        return [], [], [(where, f"{len(packages)} distribution packages not matched: no OSV "
                                f"ecosystem is known for {release.distro} "
                                f"{release.version or '(no VERSION_ID)'}")], []
    ecosystem = release.ecosystem
    have = [e for e in db.ecosystems() if e == ecosystem or e.startswith(ecosystem + ":")]
    if not have:
        return [], [], [(where, f"the OSV database has no {ecosystem} data: {len(packages)} "
                                f"distribution packages not matched (secpipe db import an "
                                f"OSV export of {ecosystem.split(':')[0]})")], []
    try:
        advisories = advisories_from_db(db, ecosystem, {lookup_name(p) for p in packages})
        found = match(packages, advisories, release)
    except (DistroMatchError, InputError) as exc:
        return [], [], [(where, f"distribution packages not matched: {exc}")], have
    backported: list[BackportedVuln] = []
    if release.scheme == Scheme.DPKG:
        cache: dict[str, str | None] = {}
        found, dropped = drop_backported(found, lambda v: _changelog_text(tree, v.package, cache))
        for item in dropped:
            backported.append(BackportedVuln(_image_vuln(item.vuln, packages),
                                             item.changelog_version, item.line))
    return [_image_vuln(v, packages) for v in found], backported, [], have


def _image_vuln(vuln: Vuln, packages: Sequence[Package]) -> ImageVuln:
    named = [p for p in packages if p.name == vuln.package]
    package = next((p for p in named if (p.source_version or p.version) == vuln.version),
                   named[0])
    severity, how = _distro_severity(vuln)
    ids = tuple(dict.fromkeys((vuln.id, *vuln.advisories)))
    return ImageVuln(id=vuln.id, ids=ids, package=package, version=vuln.version,
                     status=vuln.status.value, fixed=vuln.fixed, severity=severity,
                     severity_source=how, summary=vuln.summary, urgency=vuln.urgency,
                     note=vuln.note)


# ---------------------------------------------------------------- language packages


def language_vulns(inv: ImageInventory,
                   db: OsvDatabase) -> tuple[list[ImageVuln], list[tuple[str, str]], list[str]]:
    """Vulnerabilities of the Python and npm packages of ``inv`` (the dependency matcher),
    problems, and the OSV ecosystems used."""
    deps: list[Dependency] = []
    owners: dict[tuple[str, str, str, str], Package] = {}
    for package in inv.packages:
        osv = LANGUAGE_KINDS.get(package.ecosystem)
        if osv is None or not package.version:
            continue
        path = package.locations[0] if package.locations else package.name
        deps.append(Dependency(ecosystem=osv, name=package.name, version=package.version,
                               spec=f"=={package.version}", path=path, source="image"))
        owners[(osv, canonical_name(osv, package.name), package.version, path)] = package
    if not deps:
        return [], [], []
    infos = db.ecosystems()
    problems: list[tuple[str, str]] = []
    used = sorted({d.ecosystem for d in deps})
    for eco in used:
        if eco not in infos:
            count = sum(1 for d in deps if d.ecosystem == eco)
            problems.append((deps[0].path if len(used) == 1 else "/",
                             f"the OSV database has no {eco} data: {count} {eco} packages "
                             "not matched"))
    outcome = mk.match(deps, db, used, infos)
    out: list[ImageVuln] = []
    for finding in outcome.findings:
        props = dict(finding.properties)
        key = (props.get("ecosystem", ""), props.get("package", ""), props.get("version", ""),
               finding.location.path)
        owner = owners.get(key)
        if owner is None:
            problems.append((finding.location.path, finding.message))
            continue
        ids = tuple(i for i in props.get("advisories", "").split(",") if i)
        if finding.rule_id == mk.VULNERABLE:
            fixed = props.get("fixed") or None
            cves = [i for i in ids if _CVE.match(i)]
            out.append(ImageVuln(
                id=ids[0] if ids else finding.message, ids=ids or (finding.message,),
                package=owner, version=owner.version,
                status=FixStatus.FIXED.value if fixed else FixStatus.AFFECTED.value,
                fixed=fixed, severity=finding.severity,
                severity_source=props.get("severity_source", ""),
                summary=finding.message, note=f"CVE: {', '.join(cves)}" if cves else ""))
        elif finding.rule_id == mk.UNCOMPARABLE:
            out.append(ImageVuln(
                id=ids[0] if ids else "?", ids=ids or ("?",), package=owner,
                version=owner.version, status=UNDECIDED, fixed=None,
                severity=Severity.HIGH, severity_source="undecided",
                summary=finding.message, note=finding.message))
        else:
            problems.append((finding.location.path, finding.message))
    return out, problems, [e for e in used if e in infos]


# ---------------------------------------------------------------- both, VEX


def match_image(inv: ImageInventory, tree: FileTree, db: OsvDatabase) -> MatchReport:
    """Every vulnerability of the image's packages (distribution and language)."""
    vulns, backported, problems, used = distro_vulns(inv, tree, db)
    lang, lang_problems, lang_used = language_vulns(inv, db)
    return MatchReport(vulns=tuple(vulns + lang), backported=tuple(backported),
                       problems=tuple(problems + lang_problems),
                       ecosystems=tuple(used + lang_used))


def package_keys(vuln: ImageVuln, image_ids: Sequence[str]) -> PackageKeys:
    """What a VEX product may name for ``vuln``'s package."""
    names = [vuln.package.name]
    if vuln.package.source_name:
        names.append(vuln.package.source_name)
    return PackageKeys(purl=vuln.purl, names=tuple(names), image=tuple(image_ids))


def apply_vex(vulns: Sequence[ImageVuln], statements: Sequence[VexStatement],
              image_ids: Sequence[str]) -> tuple[list[ImageVuln], list[VexSuppressed]]:
    """Split ``vulns`` into those kept and those a ``not_affected``/``fixed`` statement
    removes (``affected`` and ``under_investigation`` keep a vulnerability)."""
    if not statements:
        return list(vulns), []
    kept: list[ImageVuln] = []
    dropped: list[VexSuppressed] = []
    for vuln in vulns:
        statement = decide(statements, vuln.ids, package_keys(vuln, image_ids))
        if statement is not None and statement.status in SUPPRESSING:
            dropped.append(VexSuppressed(vuln, statement))
        else:
            kept.append(vuln)
    return kept, dropped


# ---------------------------------------------------------------- findings

_REMEDIATION = {
    FixStatus.FIXED.value: "Upgrade {pkg} to {fixed} or later (rebuild the image on an updated "
                           "base or run the package manager's upgrade in the Dockerfile).",
    FixStatus.AFFECTED.value: "No fixed version of {pkg} is released for this release yet: "
                              "remove or replace it, or record why it does not apply in a VEX "
                              "document.",
    FixStatus.WILL_NOT_FIX.value: "The distribution will not fix this in this release: remove "
                                  "{pkg} if the image does not need it, or state in a VEX "
                                  "document why it does not apply.",
    FixStatus.DEFERRED.value: "The distribution has postponed the fix: watch for an update of "
                              "{pkg}, or state in a VEX document why it does not apply.",
    FixStatus.END_OF_LIFE.value: "{pkg} is no longer supported in this release: move the image "
                                 "to a supported release.",
    UNDECIDED: "The version of {pkg} could not be compared with the advisory: check it by hand.",
}


def vuln_finding(vuln: ImageVuln, image: str) -> Finding:
    """The ``image.vulnerable`` finding of ``vuln`` in the image named ``image``."""
    pkg = vuln.package
    where = pkg.locations[0].lstrip("/") if pkg.locations else pkg.name
    source = ""
    if pkg.source_name and pkg.source_name != pkg.name:
        source = f" (source {pkg.source_name} {vuln.version})"
    if vuln.status == FixStatus.FIXED.value:
        fix_text = f"fixed in {vuln.fixed}"
    else:
        fix_text = f"fix status: {vuln.status}" + (f" ({vuln.note})" if vuln.note else "")
    others = [i for i in vuln.ids if i != vuln.id]
    title_ids = vuln.id + (f" ({', '.join(others)})" if others else "")
    message = f"{image}: {pkg.name} {pkg.version}{source} is affected by {title_ids}"
    if vuln.summary and pkg.ecosystem in DISTRO_KINDS:
        message += f": {vuln.summary}"
    message += f"; {fix_text}"
    remediation = _REMEDIATION.get(vuln.status, _REMEDIATION[UNDECIDED]).format(
        pkg=pkg.name, fixed=vuln.fixed or "")
    return Finding.create(
        rule_id=VULNERABLE, title="Image package with a known vulnerability",
        severity=vuln.severity, scanner=SCANNER,
        location=Location(path=where, member=f"{pkg.name}@{pkg.version}"), message=message,
        key=f"{image}:{pkg.ecosystem}:{pkg.name}@{pkg.version}:{vuln.id}",
        confidence=Confidence.LOW if vuln.status == UNDECIDED else Confidence.HIGH,
        tags=TAGS, remediation=remediation,
        properties={"image": image, "ecosystem": pkg.ecosystem, "package": pkg.name,
                    "version": pkg.version, "source_package": pkg.source_name or "",
                    "compared_version": vuln.version, "purl": vuln.purl,
                    "advisories": ",".join(vuln.ids), "fix_status": vuln.status,
                    "fixed": vuln.fixed or "", "urgency": vuln.urgency,
                    "severity_source": vuln.severity_source})


def incomplete_finding(image: str, path: str, reason: str) -> Finding:
    """An ``image.incomplete`` finding: part of the image could not be analysed."""
    return Finding.create(
        rule_id=INCOMPLETE, title="Image could not be analysed completely",
        severity=Severity.HIGH, scanner=SCANNER, location=Location(path=path.lstrip("/") or "/"),
        message=f"{image}: {path}: {reason}", key=reason,
        remediation="What this covers was not checked: fix the image or the database, or "
                    "check it by hand.",
        properties={"image": image})


def stale_finding(db_path: str, age_days: float, limit: float) -> Finding:
    """An ``image.database-stale`` finding (``on_stale_database: finding``)."""
    return Finding.create(
        rule_id=STALE, title="Vulnerability data is older than allowed",
        severity=Severity.HIGH, scanner=SCANNER, location=Location(path=db_path),
        message=f"OSV data loaded {age_days:.1f} days ago (max_database_age_days {limit:g}): "
                "advisories published since are not known to this scan",
        key="stale", remediation="Run secpipe db update, or secpipe db import FILE with a "
                                 "fresh OSV export.")
