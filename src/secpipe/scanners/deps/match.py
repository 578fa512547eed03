"""Matching an inventory of dependencies against the OSV database, and the findings it makes.

For each dependency with an exact version (pinned, locked or installed) in an ecosystem secpipe
orders (PyPI, npm): every OSV ``affected`` entry of its canonical name is evaluated (withdrawn
records skipped; ``ECOSYSTEM`` and ``SEMVER`` ranges by :func:`~.versions.range_affected`, the
explicit ``versions`` list by equality, ``GIT`` ranges not evaluated). The records that affect it
are grouped by their aliases (a GHSA, a PYSEC and a CVE id of the same flaw are one group), and
each group is one ``deps.vulnerable`` finding naming every id, the smallest fixed version above
the installed one that no record of the group still affects, and the worst severity of the group.

What cannot be decided is a finding, never a pass: ``deps.unpinned`` (a range, no version: low,
once per manifest and name), ``deps.uncomparable`` (a version the ordering cannot place while an
advisory names the package), ``deps.unmatched-ecosystem`` (an ecosystem secpipe does not order,
once per manifest), ``deps.manifest-unreadable`` (from the readers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.scanners.deps.cvss import record_severity
from secpipe.scanners.deps.model import Dependency, ManifestProblem
from secpipe.scanners.deps.osvdb import Advisory, Affected, OsvDatabase
from secpipe.scanners.deps.versions import (
    GIT,
    MATCHED_ECOSYSTEMS,
    Uncomparable,
    canonical_name,
    fixed_above,
    listed,
    parser_for,
    range_affected,
)

SCANNER = "scan-deps"
VULNERABLE = "deps.vulnerable"
UNPINNED = "deps.unpinned"
UNCOMPARABLE = "deps.uncomparable"
UNMATCHED = "deps.unmatched-ecosystem"
UNREADABLE = "deps.manifest-unreadable"
STALE = "deps.database-stale"
NO_DATA = "deps.database-missing-ecosystem"
SUPPLY_CHAIN_TAGS = ("CWE-1395", "OWASP-LLM05", "OWASP-ML06")
"""Dependency on a vulnerable third-party component; OWASP LLM and ML supply-chain risks."""
_ID_ORDER = {"GHSA": 0, "PYSEC": 1, "CVE": 3}


def id_order(vid: str) -> tuple[int, str]:
    """GHSA ids first, then PYSEC, then other databases' ids, CVE ids last."""
    return _ID_ORDER.get(vid.split("-", 1)[0], 2), vid


@dataclass(frozen=True)
class Verdict:
    """How one ``affected`` entry judges one version."""

    affected: bool
    problem: str | None = None
    """Why it could not be decided (a version the ordering cannot place)."""


def judge(version: str, entry: Affected) -> Verdict:
    """Whether ``version`` of ``entry``'s package is affected by it."""
    if listed(version, entry.versions, parser_for(entry.ecosystem)):
        return Verdict(True)
    problem = None
    for rng in entry.ranges:
        rtype = rng.get("type")
        if rtype == GIT:
            continue
        parse = parser_for(entry.ecosystem, str(rtype))
        if parse is None:
            problem = f"{entry.ecosystem} {rtype} ranges cannot be ordered"
            continue
        try:
            if range_affected(version, rng.get("events") or [], parse):
                return Verdict(True)
        except Uncomparable as exc:
            problem = str(exc)
    return Verdict(False, problem)


def fixed_version(version: str, entries: Sequence[Affected]) -> str | None:
    """The smallest ``fixed`` version above ``version`` among ``entries``' ranges that none of
    them affects (the first safe upgrade), else the smallest one above it; ``None`` when no
    record names a fix."""
    candidates: dict[str, object] = {}
    for entry in entries:
        for rng in entry.ranges:
            parse = parser_for(entry.ecosystem, str(rng.get("type")))
            if parse is None:
                continue
            for text in fixed_above(version, rng.get("events") or [], parse):
                key = parse(text)
                if key is not None:
                    candidates.setdefault(text, key)
    if not candidates:
        return None
    ordered = sorted(candidates.items(), key=_SortKey)
    for text, _ in ordered:
        if not any(judge(text, e).affected for e in entries):
            return text
    return ordered[0][0]


class _SortKey:
    """Sort ``(text, parsed)`` pairs by the parsed version (mixed orderings never mixed: one
    package's fixes come from one ecosystem's ordering)."""

    def __init__(self, item: tuple[str, object]) -> None:
        self.key = item[1]

    def __lt__(self, other: _SortKey) -> bool:
        return bool(self.key < other.key)  # type: ignore[operator]


class _Groups:
    """Union-find over advisory ids and their aliases."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class MatchOutcome:
    """Findings of one match, and what was counted."""

    findings: list[Finding] = field(default_factory=list)
    dependencies: int = 0
    vulnerable_dependencies: int = 0
    vulnerabilities: int = 0
    matched: int = 0
    """Dependencies with a version that were looked up."""
    ecosystems_used: set[str] = field(default_factory=set)


def _location(dep: Dependency) -> Location:
    return Location(path=dep.path, line=dep.line, member=dep.member)


def match(deps: Sequence[Dependency], db: OsvDatabase,
          ecosystems: Iterable[str] = MATCHED_ECOSYSTEMS,
          available: Iterable[str] | None = None) -> MatchOutcome:
    """Match ``deps`` against ``db``. ``ecosystems`` are matched (others are reported as
    unmatched); ``available`` (default: every ecosystem the database has data for) limits
    matching to ecosystems with data (the caller reports the rest)."""
    wanted = {e for e in ecosystems if e in MATCHED_ECOSYSTEMS}
    have = set(db.ecosystems()) if available is None else set(available)
    out = MatchOutcome(dependencies=len(deps))
    cache: dict[tuple[str, str], list[Affected]] = {}
    unpinned: set[tuple[str, str, str]] = set()
    unmatched: dict[tuple[str, str], list[str]] = {}
    vulnerable: set[tuple[str, str, str, str]] = set()
    seen: set[str] = set()
    for dep in deps:
        if dep.ecosystem not in wanted:
            names = unmatched.setdefault((dep.path, dep.ecosystem), [])
            if dep.name not in names:
                names.append(dep.name)
            continue
        out.ecosystems_used.add(dep.ecosystem)
        canonical = canonical_name(dep.ecosystem, dep.name)
        if dep.version is None:
            if dep.source == "constraints":
                continue  # a range in a constraints file only narrows what another file asks for
            key = (dep.path, dep.ecosystem, canonical)
            if key not in unpinned:
                unpinned.add(key)
                out.findings.append(unpinned_finding(dep, canonical))
            continue
        if dep.ecosystem not in have:
            continue
        out.matched += 1
        entries = cache.get((dep.ecosystem, canonical))
        if entries is None:
            entries = [e for e in db.affected(dep.ecosystem, canonical)
                       if not e.advisory.withdrawn]
            cache[(dep.ecosystem, canonical)] = entries
        found = [f for f in _dependency_findings(dep, canonical, entries)
                 if f.fingerprint not in seen]  # a line declared twice: one finding
        seen.update(f.fingerprint for f in found)
        out.findings.extend(found)
        hits = sum(1 for f in found if f.rule_id == VULNERABLE)
        if hits:
            out.vulnerabilities += hits
            vulnerable.add((dep.path, dep.ecosystem, canonical, dep.version))
    out.vulnerable_dependencies = len({v[1:] for v in vulnerable})
    for (path, ecosystem), names in sorted(unmatched.items()):
        out.findings.append(unmatched_finding(path, ecosystem, names, wanted))
    return out


def _dependency_findings(dep: Dependency, canonical: str,
                         entries: Sequence[Affected]) -> list[Finding]:
    assert dep.version is not None
    hits: list[Affected] = []
    problems: dict[str, str] = {}
    for entry in entries:
        verdict = judge(dep.version, entry)
        if verdict.affected:
            hits.append(entry)
        elif verdict.problem is not None:
            problems.setdefault(entry.advisory.id, verdict.problem)
    findings = []
    groups = _Groups()
    for entry in hits:
        for alias in entry.advisory.aliases:
            groups.union(entry.advisory.id, alias)
    grouped: dict[str, list[Affected]] = {}
    for entry in hits:
        grouped.setdefault(groups.find(entry.advisory.id), []).append(entry)
    for members in grouped.values():
        findings.append(vulnerable_finding(dep, canonical, members))
    # an advisory that could not be decided, unless its group was found affected anyway
    undecided = sorted((vid for vid in problems if groups.find(vid) not in grouped),
                       key=id_order)
    if undecided:
        findings.append(uncomparable_finding(dep, canonical, undecided, problems[undecided[0]]))
    return findings


def vulnerable_finding(dep: Dependency, canonical: str, members: Sequence[Affected]) -> Finding:
    assert dep.version is not None
    advisories: dict[str, Advisory] = {e.advisory.id: e.advisory for e in members}
    ids = set(advisories)
    for advisory in advisories.values():
        ids.update(advisory.aliases)
    names = sorted(ids, key=id_order)
    primary = sorted(advisories, key=id_order)[0]
    worst, why = Severity.INFO, ""
    for advisory in sorted(advisories.values(), key=lambda a: id_order(a.id)):
        sev, how = record_severity(advisory.severity, advisory.database_rating)
        if sev.rank > worst.rank or not why:
            worst, why = sev, how
    summary = next((advisories[v].summary for v in sorted(advisories, key=id_order)
                    if advisories[v].summary), "")
    fixed = fixed_version(dep.version, members)
    fix_text = f"fixed in {fixed}" if fixed else "no fixed version is known"
    title = " / ".join(names)
    message = f"{dep.name} {dep.version} is affected by {title}"
    message += f": {summary}" if summary else ""
    message += f" ({fix_text})"
    remediation = (f"Upgrade {dep.name} to {fixed} or later." if fixed else
                   f"No release of {dep.name} fixes {primary} yet: remove or replace it, or "
                   "accept the risk with a suppression that has a reason and an expiry.")
    cwes = sorted({c for a in advisories.values() for c in a.cwes})
    return Finding.create(
        rule_id=VULNERABLE, title="Dependency with a known vulnerability", severity=worst,
        scanner=SCANNER, location=_location(dep), message=message,
        key=f"{dep.ecosystem}:{canonical}@{dep.version}:{primary}",
        tags=(*cwes, *SUPPLY_CHAIN_TAGS), remediation=remediation,
        properties={"ecosystem": dep.ecosystem, "package": canonical, "version": dep.version,
                    "advisories": ",".join(names), "fixed": fixed or "",
                    "severity_source": why, "source": dep.source},
    )


def unpinned_finding(dep: Dependency, canonical: str) -> Finding:
    spec = f" ({dep.spec})" if dep.spec else ""
    return Finding.create(
        rule_id=UNPINNED, title="Unpinned dependency: cannot be matched", severity=Severity.LOW,
        scanner=SCANNER, location=_location(dep),
        message=f"{dep.name}{spec} is not pinned to one version: it cannot be matched against "
                "vulnerability data (a locked or installed version is matched when present)",
        key=f"{dep.ecosystem}:{canonical}", confidence=Confidence.HIGH,
        remediation="Pin it (==), or commit a lock file (poetry.lock, uv.lock, "
                    "package-lock.json, pip-compile output), or scan the environment with "
                    "--installed.",
        properties={"ecosystem": dep.ecosystem, "package": canonical, "spec": dep.spec},
    )


def uncomparable_finding(dep: Dependency, canonical: str, advisories: Sequence[str],
                         reason: str) -> Finding:
    return Finding.create(
        rule_id=UNCOMPARABLE, title="Dependency version could not be compared",
        severity=Severity.HIGH, scanner=SCANNER, location=_location(dep),
        message=f"could not compare {dep.name} {dep.version} with {', '.join(advisories)}: "
                f"{reason}",
        key=f"{dep.ecosystem}:{canonical}@{dep.version}", confidence=Confidence.LOW,
        remediation="Check these advisories by hand, or pin a standard version.",
        properties={"ecosystem": dep.ecosystem, "package": canonical,
                    "version": dep.version or "", "advisories": ",".join(advisories)},
    )


def unmatched_finding(path: str, ecosystem: str, names: Sequence[str],
                      wanted: Iterable[str]) -> Finding:
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    matched = " and ".join(sorted(wanted)) or "no ecosystem"
    return Finding.create(
        rule_id=UNMATCHED, title="Dependencies of an ecosystem that is not matched",
        severity=Severity.MEDIUM, scanner=SCANNER, location=Location(path=path),
        message=f"{len(names)} {ecosystem} package(s) not matched against vulnerability data "
                f"({shown}): this scan matches {matched}",
        key=ecosystem, confidence=Confidence.HIGH,
        remediation="Check them with a scanner of that ecosystem, or declare them through pip "
                    "or npm where they exist there.",
        properties={"ecosystem": ecosystem, "packages": ",".join(names)},
    )


def problem_finding(problem: ManifestProblem) -> Finding:
    return Finding.create(
        rule_id=UNREADABLE, title="Dependency manifest could not be analysed",
        severity=Severity.HIGH, scanner=SCANNER,
        location=Location(path=problem.path, line=problem.line, member=problem.member),
        message=f"{problem.path}: {problem.reason}", key=problem.reason,
        remediation="Fix or regenerate the file; what it declares was not checked.",
    )


def stale_finding(db_path: str, age_days: float, limit: float) -> Finding:
    return Finding.create(
        rule_id=STALE, title="Vulnerability data is older than allowed",
        severity=Severity.HIGH, scanner=SCANNER, location=Location(path=db_path),
        message=f"OSV data loaded {age_days:.1f} days ago (max_database_age_days {limit:g}): "
                "advisories published since are not known to this scan",
        key="stale", remediation="Run secpipe db update, or secpipe db import FILE with a "
                                 "fresh OSV export.",
    )


def no_data_finding(db_path: str, ecosystem: str, count: int) -> Finding:
    return Finding.create(
        rule_id=NO_DATA, title="No vulnerability data for an ecosystem",
        severity=Severity.HIGH, scanner=SCANNER, location=Location(path=db_path),
        message=f"the OSV database has no {ecosystem} data: {count} {ecosystem} "
                "dependencies were not matched",
        key=ecosystem,
        remediation=f"Run secpipe db update --ecosystem {ecosystem}, or secpipe db import "
                    f"{ecosystem}'s all.zip (offline).",
        properties={"ecosystem": ecosystem},
    )
