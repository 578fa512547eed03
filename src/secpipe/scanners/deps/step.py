"""The ``scan-deps`` step kind: dependencies with known vulnerabilities, from local OSV data.

Manifests, lock files and installed environments are read into one inventory (never imported or
run), matched against the local OSV database (:mod:`.osvdb`, filled by ``secpipe db update`` or
``secpipe db import``) and judged by the licence policy. No database is an error that says how to
get one; data older than ``max_database_age_days`` is an error or a finding
(``on_stale_database``); the data's age is in the step's message and metrics of every run. A
scan with nothing to read is SKIPPED (``nothing found:``), never a pass.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from secpipe import __version__
from secpipe.core.errors import InputError
from secpipe.core.findings import Finding
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.scanners.base import MIB, NOT_ON_CLI, ScannerSettings, collect_files, metavar
from secpipe.scanners.deps import match as mk
from secpipe.scanners.deps.licences import LicencePolicy, check_licences
from secpipe.scanners.deps.model import NPM, PYPI, Inventory, ManifestProblem
from secpipe.scanners.deps.osvdb import DatabaseMissing, EcosystemInfo, OsvDatabase, database_path
from secpipe.scanners.deps.readers import is_manifest, read_installed, read_manifest, site_dirs_of
from secpipe.scanners.walk import UNREADABLE, unreadable

HOW_TO_GET_DATA = ("run `secpipe db update` to download OSV's data, or on a machine without "
                   "network access `secpipe db import FILE` with an OSV export (an all.zip of "
                   "an ecosystem, a folder of OSV JSON files)")


class DepsSettings(ScannerSettings):
    """``with:`` settings of ``scan-deps`` (paths, excludes and budgets: the scanner base)."""

    database: str | None = Field(default=None, json_schema_extra=metavar("FILE"))
    """The OSV database file (default: $SECPIPE_OSV_DB, else
    $XDG_CACHE_HOME/secpipe/osv.sqlite3); relative to the project root."""
    max_database_age_days: float = Field(default=7.0, gt=0, json_schema_extra=metavar("DAYS"))
    """Oldest OSV data accepted, in days since it was loaded."""
    on_stale_database: Literal["error", "finding"] = "error"
    """What older data makes: the step an error, or a high finding (deps.database-stale)."""
    installed: list[str] = Field(default_factory=list, json_schema_extra=metavar("PATH"))
    """Virtual environments or Python interpreters whose installed packages are matched too."""
    ecosystems: list[str] = Field(default_factory=lambda: [PYPI, NPM],
                                  json_schema_extra=metavar("NAME"))
    """Ecosystems matched (PyPI, npm); dependencies of others are reported as not matched."""
    licences: LicencePolicy = Field(default_factory=LicencePolicy, json_schema_extra=NOT_ON_CLI)
    """Licence policy: allowed and denied SPDX licences, and what an unknown licence makes."""
    max_file_bytes: int = Field(default=10 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Largest manifest or lock file read; a larger one is reported."""


class DepsScanStep(StepKind[DepsSettings]):
    """Matches declared, locked and installed dependencies against local OSV data."""

    kind = "scan-deps"
    summary = "dependencies with known vulnerabilities (local OSV data) and licences"
    Settings = DepsSettings
    produces_metrics = ("dependencies", "vulnerable_dependencies", "vulnerabilities",
                        "manifests", "duration_seconds", "osv_database_age_days")

    def run(self, ctx: StepContext, settings: DepsSettings) -> StepResult:
        started = time.monotonic()
        root = ctx.project_root.resolve()
        unknown = sorted(set(settings.ecosystems) - {PYPI, NPM})
        if unknown:
            return _error(f"ecosystems: cannot match {', '.join(unknown)} (choose from PyPI, npm)")
        skipped: list[Skipped] = []
        inventory = Inventory()
        files = collect_files(root, settings, skipped)
        manifests = [entry for entry in files if is_manifest(entry.rel)]
        for entry in files:
            if entry.explicit and not is_manifest(entry.rel):
                return _error(f"{entry.rel}: not a dependency manifest secpipe reads")
        for done, entry in enumerate(manifests):
            if ctx.cancel.is_set():
                return _error("scan-deps: cancelled")
            ctx.progress(done, len(manifests), "manifests")
            inventory.extend(read_manifest(Path(entry.path), entry.rel, settings.max_file_bytes))
        ctx.progress(len(manifests), len(manifests), "manifests")
        for s in unreadable(skipped):
            inventory.problems.append(ManifestProblem(s.path, s.reason.removeprefix(UNREADABLE)))
        for named in settings.installed:
            target = Path(named).expanduser()
            target = target if target.is_absolute() else root / target
            where = "" if Path(named).expanduser().is_absolute() else (
                f" (looked in {target}: a relative path is taken from the project root, "
                f"{root})")
            if not target.exists():
                return _error(f"installed: {named}: no such environment or interpreter{where}")
            dirs = site_dirs_of(target)
            if not dirs:
                return _error(f"installed: {named}: no site-packages folder found{where}")
            inventory.extend(read_installed(dirs))
        if not (inventory.manifests or inventory.dependencies or inventory.problems):
            where = ", ".join(settings.paths)
            return StepResult(status=StepStatus.SKIPPED, skipped=tuple(skipped),
                              message=f"nothing found: no dependency manifest, lock file or "
                                      f"environment under {where}",
                              tool=f"secpipe {__version__}")
        db_path = database_path(settings.database, root)
        try:
            db = OsvDatabase(db_path)
        except DatabaseMissing:
            return _error(f"no OSV vulnerability database at {db_path}: {HOW_TO_GET_DATA} "
                          "(or name another file with `database:` or $SECPIPE_OSV_DB)")
        except InputError as exc:
            return _error(exc.message + (f" ({exc.hint})" if exc.hint else ""))
        with db:
            return self._match(ctx, settings, inventory, db, skipped, started)

    def _match(self, ctx: StepContext, settings: DepsSettings, inventory: Inventory,
               db: OsvDatabase, skipped: list[Skipped], started: float) -> StepResult:
        infos = db.ecosystems()
        wanted = [e for e in settings.ecosystems if e in (PYPI, NPM)]
        used: dict[str, int] = {}
        for dep in inventory.dependencies:
            if dep.ecosystem in wanted and dep.version is not None:
                used[dep.ecosystem] = used.get(dep.ecosystem, 0) + 1
        findings: list[Finding] = [mk.problem_finding(p) for p in inventory.problems]
        for ecosystem, count in sorted(used.items()):
            if ecosystem not in infos:
                findings.append(mk.no_data_finding(str(db.path), ecosystem, count))
        relevant = [infos[e] for e in used if e in infos] or list(infos.values())
        age = max((i.age_days() for i in relevant), default=0.0)
        outcome = mk.match(inventory.dependencies, db, wanted, infos)
        findings.extend(outcome.findings)
        findings.extend(_licence_findings(inventory, settings.licences))
        stale = age > settings.max_database_age_days
        if stale and settings.on_stale_database == "finding":
            findings.insert(0, mk.stale_finding(str(db.path), age,
                                                settings.max_database_age_days))
        metrics = {
            "dependencies": float(outcome.dependencies),
            "vulnerable_dependencies": float(outcome.vulnerable_dependencies),
            "vulnerabilities": float(outcome.vulnerabilities),
            "manifests": float(len(set(inventory.manifests))),
            "osv_database_age_days": round(age, 3),
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        data = data_age_text(age, relevant)
        message = (f"{outcome.vulnerable_dependencies} vulnerable of {outcome.dependencies} "
                   f"dependencies in {len(set(inventory.manifests))} manifest(s); {data}")
        status = StepStatus.PASSED
        if stale and settings.on_stale_database == "error":
            status = StepStatus.ERROR
            message = (f"{data}, older than max_database_age_days "
                       f"({settings.max_database_age_days:g}): run `secpipe db update`, or "
                       "`secpipe db import FILE` with a fresh OSV export (or set "
                       "on_stale_database: finding)")
        ctx.log(f"OSV database {db.path}: {data}")
        return StepResult(status=status, findings=tuple(findings), metrics=metrics,
                          skipped=tuple(skipped), message=message,
                          tool=f"secpipe {__version__}")


LICENCE_SOURCES = frozenset({"installed", "package-lock.json", "npm-shrinkwrap.json"})
"""Readers whose sources state each dependency's licence (a requirements file never does)."""


def _licence_findings(inventory: Inventory, policy: LicencePolicy) -> list[Finding]:
    """The licence policy's findings: none when no policy is set (``allow`` and ``deny`` both
    empty), and a missing licence judged only where the source would state one."""
    if not (policy.allow or policy.deny):
        return []
    judged = [d for d in inventory.dependencies
              if d.licence is not None or d.source in LICENCE_SOURCES]
    return check_licences(judged, policy)


def data_age_text(age_days: float, infos: list[EcosystemInfo]) -> str:
    """``OSV data loaded 2 days ago (as of 2026-12-01)``."""
    if age_days < 1:
        hours = int(age_days * 24)
        when = "less than an hour ago" if hours < 1 else f"{hours} hour(s) ago"
    else:
        days = int(age_days)
        when = f"{days} day{'s' if days != 1 else ''} ago"
    newest = max((i.newest_modified for i in infos), default="")
    return f"OSV data loaded {when}" + (f" (as of {newest[:10]})" if newest else "")


def _error(message: str) -> StepResult:
    return StepResult(status=StepStatus.ERROR, message=message, tool=f"secpipe {__version__}")
