"""The local OSV vulnerability database: a SQLite file of OSV records, indexed by package.

Filled from OSV's own exports: a per-ecosystem ``all.zip`` of ``ID.json`` files (what
``secpipe db update`` downloads from ``{url_base}/{ecosystem}/all.zip``), a folder of OSV JSON
files, or one JSON file holding a record or an array of records (``secpipe db import``). Every
import is bounded (files in a zip or folder, bytes per record and in all, JSON nesting) and
atomic: the new database is built in a temporary file beside the old one and renamed over it
only when complete, so a failed or interrupted import leaves the old one as it was. A record that
does not follow the OSV schema is counted and named in the import's report, never silently
dropped; an import with no valid record at all is an error.

An import replaces the data of the ecosystems it brings (the ones asked for, or every ecosystem
its records name) and keeps the others from the existing database, unless told to replace all.

Tables: ``vulns`` (one row per record id: dates, withdrawn, aliases, summary, details, severity
vectors, the database's own rating, CWE ids), ``affected`` (one row per record and affected
package: ecosystem, canonical name, the ranges and versions as JSON; indexed by ecosystem and
name), ``sources`` (per ecosystem: where its data came from, when it was loaded, how many
records, the newest ``modified`` date) and ``meta`` (the schema version).

Location: the ``database`` setting, else ``$SECPIPE_OSV_DB``, else
``$XDG_CACHE_HOME/secpipe/osv.sqlite3`` (``~/.cache/secpipe/osv.sqlite3``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError
from secpipe.scanners.deps.versions import EVENT_KINDS, RANGE_TYPES, canonical_name

SCHEMA_VERSION = "2"
"""2 (2026-12): ``vulns.upstream`` and ``affected.specific`` (distribution fix status); a
database of schema 1 is read by an import, which keeps its other ecosystems without them."""
DEFAULT_URL_BASE = "https://osv-vulnerabilities.storage.googleapis.com"
"""Where OSV publishes its per-ecosystem exports (``{base}/{ecosystem}/all.zip``)."""
ENV_DATABASE = "SECPIPE_OSV_DB"
DB_FILE = "osv.sqlite3"
MIB = 1 << 20


def default_database_path() -> Path:
    """``$SECPIPE_OSV_DB``, else ``$XDG_CACHE_HOME/secpipe/osv.sqlite3`` (``~/.cache``)."""
    env = os.environ.get(ENV_DATABASE)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "secpipe" / DB_FILE


def database_path(setting: str | None, root: Path | None = None) -> Path:
    """The database a setting names (relative to ``root``), else the default."""
    if setting:
        path = Path(setting).expanduser()
        return path if path.is_absolute() or root is None else root / path
    return default_database_path()


@dataclass(frozen=True)
class Limits:
    """Bounds of one import. Hitting one stops the import (nothing is replaced), except a record
    too large or too deep, which is counted as invalid."""

    max_files: int = 1_000_000
    """Most files in a zip or under a folder."""
    max_record_bytes: int = 16 * MIB
    """Largest single JSON file (a zip member or a file in a folder)."""
    max_total_bytes: int = 8192 * MIB
    """Most bytes read (uncompressed) over the whole import."""
    max_array_bytes: int = 1024 * MIB
    """Largest single JSON file holding an array of records."""
    max_depth: int = 32
    """Deepest JSON nesting of a record."""


DEFAULT_LIMITS = Limits()


@dataclass
class ImportReport:
    """What an import did."""

    path: Path
    sources: list[str] = field(default_factory=list)
    records: int = 0
    """Valid records imported."""
    invalid: int = 0
    """Records (or files) that did not validate."""
    problems: list[str] = field(default_factory=list)
    """The first invalid records, each ``where: why``."""
    withdrawn: int = 0
    per_ecosystem: dict[str, int] = field(default_factory=dict)
    newest_modified: dict[str, str] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    """Ecosystems kept from the database that was there before."""

    MAX_PROBLEMS = 20

    def invalid_record(self, where: str, why: str) -> None:
        self.invalid += 1
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")


@dataclass(frozen=True)
class EcosystemInfo:
    """What the database holds for one ecosystem."""

    ecosystem: str
    records: int
    loaded_at: float
    """Unix time of the import that loaded it."""
    source: str
    newest_modified: str
    """The newest ``modified`` date of its records ("data as of")."""

    def age_days(self, now: float | None = None) -> float:
        return max(0.0, ((time.time() if now is None else now) - self.loaded_at) / 86400.0)


@dataclass(frozen=True)
class Advisory:
    """One OSV record's identity and severity, as matching needs it."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    modified: str
    withdrawn: str | None
    severity: tuple[dict[str, str], ...]
    database_rating: str | None
    cwes: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    """The ids of the upstream vulnerabilities (a ``DSA-*``'s or ``DEBIAN-CVE-*``'s CVEs)."""
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class Affected:
    """One ``affected`` entry of a record, for one package."""

    advisory: Advisory
    ecosystem: str
    name: str
    ranges: tuple[dict[str, Any], ...]
    versions: tuple[str, ...]
    specific: dict[str, str] = field(default_factory=dict)
    """The distribution's status words for this entry (:func:`status_words`): ``urgency``,
    ``status``, ``nodsa_reason``."""


STATUS_KEYS = ("urgency", "status", "nodsa_reason")


def status_words(*sources: Any) -> dict[str, str]:
    """The status words (:data:`STATUS_KEYS`) of ``ecosystem_specific``/``database_specific``
    objects, lower case, without the tracker's trailing ``*``; the first source holding a key
    wins."""
    out: dict[str, str] = {}
    for src in sources:
        if not isinstance(src, dict):
            continue
        for key in STATUS_KEYS:
            value = src.get(key)
            if isinstance(value, str) and key not in out:
                out[key] = value.strip().rstrip("*").strip().lower()[:100]
    return out


class DatabaseMissing(InputError):
    """There is no database where one was looked for."""


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE vulns (id TEXT PRIMARY KEY, modified TEXT NOT NULL, published TEXT,
  withdrawn TEXT, aliases TEXT NOT NULL, related TEXT NOT NULL, summary TEXT NOT NULL,
  details TEXT NOT NULL, severity TEXT NOT NULL, db_severity TEXT, cwes TEXT NOT NULL,
  upstream TEXT NOT NULL DEFAULT '[]');
CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, vuln_id TEXT NOT NULL,
  package TEXT NOT NULL, ranges TEXT NOT NULL, versions TEXT NOT NULL,
  specific TEXT NOT NULL DEFAULT '{}');
CREATE TABLE sources (ecosystem TEXT PRIMARY KEY, source TEXT NOT NULL, loaded_at REAL NOT NULL,
  records INTEGER NOT NULL, newest_modified TEXT NOT NULL);
"""
_OTHER_SOURCES = ("SELECT ecosystem FROM old.sources WHERE ecosystem NOT IN "
                  "(SELECT ecosystem FROM imported) ORDER BY ecosystem")
_AFFECTED_V1 = "ecosystem, name, vuln_id, package, ranges, versions"
_VULNS_V1 = ("id, modified, published, withdrawn, aliases, related, summary, details, severity, "
             "db_severity, cwes")
_KEEP_AFFECTED = ("INSERT INTO affected ({cols}) SELECT {cols} FROM old.affected WHERE ecosystem "
                  "NOT IN (SELECT ecosystem FROM imported)")
_KEEP_VULNS = ("INSERT OR IGNORE INTO vulns ({cols}) SELECT {cols} FROM old.vulns WHERE id IN "
               "(SELECT vuln_id FROM old.affected WHERE ecosystem NOT IN "
               "(SELECT ecosystem FROM imported))")
_KEEP_SOURCES = ("INSERT INTO sources SELECT * FROM old.sources WHERE ecosystem NOT IN "
                 "(SELECT ecosystem FROM imported)")
_AFFECTED_QUERY = (
    "SELECT a.vuln_id, a.package, a.ranges, a.versions, v.aliases, v.summary, v.modified, "
    "v.withdrawn, v.severity, v.db_severity, v.cwes, v.related, {extra} FROM affected a "
    "JOIN vulns v ON v.id = a.vuln_id WHERE a.ecosystem = ? AND a.name = ?")
_AFFECTED_V2 = _AFFECTED_QUERY.format(extra="v.upstream, a.specific")
_AFFECTED_V1_QUERY = _AFFECTED_QUERY.format(extra="'[]', '{}'")
_INDEX = "CREATE INDEX affected_by_package ON affected (ecosystem, name)"


# ---------------------------------------------------------------- validation


def _json_depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests no deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children
                         if isinstance(child, dict | list))
    return True


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def validate_record(record: Any) -> str | None:
    """Why ``record`` is not an OSV record secpipe can use, or ``None`` when it is."""
    if not isinstance(record, dict):
        return f"not a JSON object ({type(record).__name__})"
    rid = record.get("id")
    if not isinstance(rid, str) or not rid.strip():
        return "no 'id'"
    if not isinstance(record.get("modified"), str):
        return f"{rid}: no 'modified' date"
    for key in ("aliases", "related", "upstream"):
        if key in record and record[key] is not None and not _str_list(record[key]):
            return f"{rid}: '{key}' is not a list of strings"
    for key in ("summary", "details", "published", "withdrawn"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"{rid}: '{key}' is not a string"
    severity = record.get("severity") or []
    if not isinstance(severity, list) or not all(
            isinstance(s, dict) and isinstance(s.get("type"), str)
            and isinstance(s.get("score"), str) for s in severity):
        return f"{rid}: 'severity' is not a list of {{type, score}}"
    for key in ("database_specific", "ecosystem_specific"):
        if record.get(key) is not None and not isinstance(record[key], dict):
            return f"{rid}: '{key}' is not an object"
    affected = record.get("affected") or []
    if not isinstance(affected, list):
        return f"{rid}: 'affected' is not a list"
    for i, entry in enumerate(affected):
        problem = _validate_affected(entry)
        if problem:
            return f"{rid}: affected[{i}]{problem}"
    return None


def _validate_affected(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return " is not an object"
    package = entry.get("package")
    if package is not None and (not isinstance(package, dict)
                                or not isinstance(package.get("ecosystem"), str)
                                or not isinstance(package.get("name"), str)):
        return ".package has no ecosystem and name"
    ranges = entry.get("ranges") or []
    if not isinstance(ranges, list):
        return ".ranges is not a list"
    for j, rng in enumerate(ranges):
        if not isinstance(rng, dict) or rng.get("type") not in RANGE_TYPES:
            return f".ranges[{j}] has no type among {', '.join(RANGE_TYPES)}"
        events = rng.get("events")
        if not isinstance(events, list) or not events:
            return f".ranges[{j}].events is not a non-empty list"
        for k, event in enumerate(events):
            if not isinstance(event, dict) or len(event) != 1:
                return f".ranges[{j}].events[{k}] is not an object with one key"
            ((kind, value),) = event.items()
            if kind not in EVENT_KINDS or not isinstance(value, str) or not value:
                return f".ranges[{j}].events[{k}]: {kind!r} is not an OSV event"
    versions = entry.get("versions")
    if versions is not None and not _str_list(versions):
        return ".versions is not a list of strings"
    return None


def decode_record(data: bytes, limits: Limits) -> tuple[Any, str | None]:
    """``(parsed, None)`` or ``(None, why)``: size, UTF-8, JSON syntax and nesting checked."""
    if len(data) > limits.max_record_bytes:
        return None, f"too large ({len(data)} bytes, limit {limits.max_record_bytes})"
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except RecursionError:
        return None, f"nested deeper than {limits.max_depth}"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not _json_depth(parsed, limits.max_depth + 1):  # +1: a top-level array of records
        return None, f"nested deeper than {limits.max_depth}"
    return parsed, None


# ---------------------------------------------------------------- reading sources


class _Budget:
    def __init__(self, limits: Limits, cancel: threading.Event | None) -> None:
        self.limits = limits
        self.bytes = 0
        self.files = 0
        self.cancel = cancel

    def take(self, size: int, where: str) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise InputError("import cancelled")
        self.files += 1
        self.bytes += size
        if self.files > self.limits.max_files:
            raise InputError(f"{where}: more than {self.limits.max_files} files: import stopped "
                             "(nothing was replaced)")
        if self.bytes > self.limits.max_total_bytes:
            raise InputError(f"{where}: more than {self.limits.max_total_bytes} bytes in all: "
                             "import stopped (nothing was replaced)")


def _read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit + 1`` of them; links and special files refused."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        return fh.read(limit + 1)


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError:
        return False


def iter_source(path: Path, budget: _Budget,
                report: ImportReport) -> Iterator[tuple[str, Any]]:
    """``(where, parsed record)`` of every record in a zip, folder or JSON file; records that do
    not even parse are reported and left out here."""
    limits = budget.limits
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        yield from _iter_folder(path, budget, report)
    elif not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file or a folder")
    elif _is_zip(path):
        yield from _iter_zip(path, budget, report)
    else:
        try:
            data = _read_bounded(path, limits.max_array_bytes)
        except OSError as exc:
            raise InputError(f"{path}: unreadable: {exc.strerror or exc}") from None
        if len(data) > limits.max_array_bytes:
            raise InputError(f"{path}: larger than {limits.max_array_bytes} bytes: not imported")
        budget.take(len(data), str(path))
        big = Limits(limits.max_files, limits.max_array_bytes, limits.max_total_bytes,
                     limits.max_array_bytes, limits.max_depth)
        parsed, why = decode_record(data, big)
        if why is not None:
            raise InputError(f"{path}: {why}")
        items = parsed if isinstance(parsed, list) else [parsed]
        for i, item in enumerate(items):
            yield (f"{path.name}[{i}]" if isinstance(parsed, list) else path.name), item


def _iter_zip(path: Path, budget: _Budget, report: ImportReport) -> Iterator[tuple[str, Any]]:
    limits = budget.limits
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip: {exc}") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_files:
            raise InputError(f"{path}: {len(members)} members (limit {limits.max_files}): "
                             "not imported")
        for info in members:
            if info.filename.endswith("/"):  # a folder (ZipInfo.is_dir() raises on "")
                continue
            if not info.filename.endswith(".json"):
                report.invalid_record(info.filename, "not a .json member")
                continue
            if info.file_size > limits.max_record_bytes:
                budget.take(0, str(path))
                report.invalid_record(info.filename, f"too large ({info.file_size} bytes, limit "
                                      f"{limits.max_record_bytes})")
                continue
            try:
                with archive.open(info) as fh:
                    data = fh.read(limits.max_record_bytes + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError,
                    EOFError, RuntimeError) as exc:  # RuntimeError: an encrypted member
                budget.take(0, str(path))
                report.invalid_record(info.filename, f"unreadable member: {exc}")
                continue
            budget.take(len(data), str(path))
            parsed, why = decode_record(data, limits)
            if why is not None:
                report.invalid_record(info.filename, why)
                continue
            yield info.filename, parsed


def _iter_folder(root: Path, budget: _Budget,
                 report: ImportReport) -> Iterator[tuple[str, Any]]:
    limits = budget.limits
    unreadable: list[OSError] = []

    def report_unreadable() -> None:
        for exc in unreadable:
            rel = os.path.relpath(exc.filename, root) if exc.filename else "."
            report.invalid_record(Path(rel).as_posix(),
                                  f"unreadable folder: {exc.strerror or exc}")
        unreadable.clear()

    for folder, dirs, files in os.walk(root, onerror=unreadable.append, followlinks=False):
        report_unreadable()
        for name in [d for d in dirs if (Path(folder) / d).is_symlink()]:
            dirs.remove(name)
            rel = (Path(folder) / name).relative_to(root).as_posix()
            report.invalid_record(rel, "a link to a folder: not followed")
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            try:
                data = _read_bounded(path, limits.max_record_bytes)
            except OSError as exc:
                budget.take(0, str(root))
                report.invalid_record(rel, f"unreadable: {exc.strerror or exc}")
                continue
            budget.take(len(data), str(root))
            parsed, why = decode_record(data, limits)
            if why is not None:
                report.invalid_record(rel, why)
                continue
            items = parsed if isinstance(parsed, list) else [parsed]
            for i, item in enumerate(items):
                yield (f"{rel}[{i}]" if isinstance(parsed, list) else rel), item
    report_unreadable()


# ---------------------------------------------------------------- building


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def _insert(conn: sqlite3.Connection, record: dict[str, Any], keep: set[str] | None,
            report: ImportReport, seen: set[str]) -> None:
    rid = record["id"]
    db_specific = record.get("database_specific") or {}
    rating = db_specific.get("severity")
    cwes = db_specific.get("cwe_ids")
    rows = []
    ecosystems: set[str] = set()
    for entry in record.get("affected") or []:
        package = entry.get("package")
        if not package:
            continue  # an affected entry without a package (a GIT-only one) matches no package
        ecosystem = package["ecosystem"]
        if keep is not None and ecosystem not in keep and ecosystem.split(":")[0] not in keep:
            continue  # "Debian" keeps "Debian:12" (a release's records name their release)
        ecosystems.add(ecosystem)
        words = status_words(entry.get("ecosystem_specific"), entry.get("database_specific"),
                             db_specific)
        rows.append((ecosystem, canonical_name(ecosystem, package["name"]), rid, package["name"],
                     json.dumps(entry.get("ranges") or []),
                     json.dumps(entry.get("versions") or []),
                     json.dumps(words, sort_keys=True) if words else "{}"))
    if not rows:
        return
    again = rid in seen
    if again:  # the same id twice: the later copy replaces the earlier one
        conn.execute("DELETE FROM affected WHERE vuln_id = ?", (rid,))
    seen.add(rid)
    conn.execute(
        "INSERT OR REPLACE INTO vulns VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (rid, record["modified"], record.get("published"), record.get("withdrawn"),
         json.dumps(record.get("aliases") or []), json.dumps(record.get("related") or []),
         (record.get("summary") or "")[:1000], (record.get("details") or "")[:4000],
         json.dumps(record.get("severity") or []),
         rating if isinstance(rating, str) else None,
         json.dumps([c for c in cwes if isinstance(c, str)] if isinstance(cwes, list) else []),
         json.dumps(record.get("upstream") or [])))
    conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?,?)", rows)
    if again:
        return
    report.records += 1
    if record.get("withdrawn"):
        report.withdrawn += 1
    for ecosystem in ecosystems:
        report.per_ecosystem[ecosystem] = report.per_ecosystem.get(ecosystem, 0) + 1
        if record["modified"] > report.newest_modified.get(ecosystem, ""):
            report.newest_modified[ecosystem] = record["modified"]


def import_sources(sources: Sequence[Path], db_path: Path, *,
                   ecosystems: Sequence[str] | None = None, replace: bool = False,
                   limits: Limits = DEFAULT_LIMITS, source_names: Sequence[str] | None = None,
                   now: float | None = None, cancel: threading.Event | None = None,
                   progress: Callable[[int], None] | None = None) -> ImportReport:
    """Build a database from ``sources`` and put it at ``db_path`` atomically.

    ``ecosystems`` keeps only those ecosystems' entries (``None``: every ecosystem the records
    name). The ecosystems imported replace theirs in the existing database; the others are kept
    from it (``replace``: dropped). Raises :class:`InputError` when a bound is hit, a source is
    unreadable or no valid record was found; the database in place is then untouched.
    """
    report = ImportReport(path=db_path)
    keep = set(ecosystems) if ecosystems else None
    names = list(source_names) if source_names else [str(s) for s in sources]
    report.sources = names
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{db_path.name}.", suffix=".tmp", dir=db_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = _connect(tmp)
        try:
            conn.executescript(_SCHEMA)
            conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            budget = _Budget(limits, cancel)
            seen: set[str] = set()
            conn.execute("BEGIN")
            for source in sources:
                for where, record in iter_source(source, budget, report):
                    why = validate_record(record)
                    if why is not None:
                        report.invalid_record(where, why)
                        continue
                    before = report.records
                    _insert(conn, record, keep, report, seen)
                    if progress is not None and report.records != before \
                            and report.records % 1000 == 0:
                        progress(report.records)
            conn.execute("COMMIT")
            if report.records == 0:
                detail = f" ({report.problems[0]})" if report.problems else ""
                raise InputError(f"no valid OSV record in {', '.join(names)}{detail}: "
                                 "nothing was imported")
            loaded = time.time() if now is None else now
            source_text = ", ".join(names)
            conn.executemany("INSERT INTO sources VALUES (?,?,?,?,?)", [
                (eco, source_text, loaded, count, report.newest_modified.get(eco, ""))
                for eco, count in sorted(report.per_ecosystem.items())])
            if not replace and db_path.exists():
                report.kept = _keep_others(conn, db_path, set(report.per_ecosystem))
            conn.execute(_INDEX)
        finally:
            conn.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, db_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return report


def _keep_others(conn: sqlite3.Connection, old: Path, imported: set[str]) -> list[str]:
    """Copy the ecosystems not in ``imported`` from the database at ``old``."""
    try:
        check = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
        try:
            version = _check_schema(check, old, accept=("1", SCHEMA_VERSION))
        finally:
            check.close()
    except sqlite3.Error as exc:
        raise InputError(f"{old}: the existing database cannot be read ({exc})",
                         hint="import with --replace to start a new one") from None
    conn.execute("ATTACH DATABASE ? AS old", (f"file:{old}?mode=ro",))
    try:
        conn.execute("CREATE TEMP TABLE imported (ecosystem TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO imported VALUES (?)", [(e,) for e in sorted(imported)])
        kept = [row[0] for row in conn.execute(_OTHER_SOURCES)]
        if kept:
            conn.execute("BEGIN")
            # a schema-1 database has no status columns: its rows keep the defaults
            full = version == SCHEMA_VERSION
            conn.execute(_KEEP_AFFECTED.format(
                cols=_AFFECTED_V1 + (", specific" if full else "")))
            conn.execute(_KEEP_VULNS.format(cols=_VULNS_V1 + (", upstream" if full else "")))
            conn.execute(_KEEP_SOURCES)
            conn.execute("COMMIT")
        conn.execute("DROP TABLE imported")
    finally:
        conn.execute("DETACH DATABASE old")
    return kept


def _check_schema(conn: sqlite3.Connection, path: Path,
                  accept: tuple[str, ...] = (SCHEMA_VERSION,)) -> str:
    """The schema version of the database ``conn`` reads (one of ``accept``)."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is not None and row[0] == "1" and "1" not in accept:
        raise sqlite3.DatabaseError("made by an older secpipe (schema 1, without distribution "
                                    "fix status)")
    if row is None or row[0] not in accept:
        raise sqlite3.DatabaseError(f"not a secpipe OSV database (schema {SCHEMA_VERSION})")
    return str(row[0])


# ---------------------------------------------------------------- reading


class OsvDatabase:
    """A database opened read-only for matching and status."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise DatabaseMissing(f"no OSV database at {path}")
        try:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                         check_same_thread=False)
            self.schema = _check_schema(self._conn, path, accept=("1", SCHEMA_VERSION))
        except sqlite3.Error as exc:
            raise InputError(f"{path}: not a usable OSV database ({exc})",
                             hint="rebuild it: secpipe db update, or secpipe db import FILE "
                             "--replace") from None
        self._advisories: dict[str, Advisory] = {}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> OsvDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ecosystems(self) -> dict[str, EcosystemInfo]:
        return {row[0]: EcosystemInfo(row[0], int(row[3]), float(row[2]), row[1], row[4])
                for row in self._conn.execute(
                    "SELECT ecosystem, source, loaded_at, records, newest_modified FROM sources "
                    "ORDER BY ecosystem")}

    def withdrawn_count(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM vulns WHERE withdrawn IS NOT NULL "
                                 "AND withdrawn != ''").fetchone()
        return int(row[0])

    def affected(self, ecosystem: str, name: str) -> list[Affected]:
        """Every affected entry of ``ecosystem`` for the package ``name`` (canonicalised here)."""
        canonical = canonical_name(ecosystem, name)
        query = _AFFECTED_V2 if self.schema != "1" else _AFFECTED_V1_QUERY
        rows = self._conn.execute(query, (ecosystem, canonical)).fetchall()
        out = []
        for vid, package, ranges, versions, aliases, summary, modified, withdrawn, severity, \
                rating, cwes, related, upstream, specific in rows:
            advisory = self._advisories.get(vid)
            if advisory is None:
                advisory = Advisory(vid, tuple(json.loads(aliases)), summary, modified,
                                    withdrawn or None, tuple(json.loads(severity)), rating,
                                    tuple(json.loads(cwes)), tuple(json.loads(upstream)),
                                    tuple(json.loads(related)))
                self._advisories[vid] = advisory
            out.append(Affected(advisory, ecosystem, package, tuple(json.loads(ranges)),
                                tuple(json.loads(versions)), json.loads(specific)))
        return out
