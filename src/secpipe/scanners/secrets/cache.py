"""Content-addressed cache of scan results, with a stat-based fast path.

Results are keyed by the SHA-256 of a file's bytes, in a database named after the rules version
(new rules never reuse old results). A second table maps a path to the (size, mtime_ns, inode,
digest) seen when it was last scanned, so an unchanged file is not even read again. The fast path
is trusted only when the file was last modified more than :data:`RACY_NS` before it was recorded
(a file changed within the same clock tick as the scan is hashed again). The cache holds no secret:
only redacted evidence and hashes. A damaged cache is ignored, never fatal.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from secpipe.scanners.secrets.engine import FileScan, Hit
from secpipe.scanners.secrets.rules import RULES_VERSION

RACY_NS = 2_000_000_000
_READERS: dict[str, sqlite3.Connection] = {}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
                                  ino INTEGER, digest TEXT, seen_ns INTEGER);
CREATE TABLE IF NOT EXISTS results (digest TEXT PRIMARY KEY, data TEXT);
CREATE TABLE IF NOT EXISTS history (commit_id TEXT PRIMARY KEY, data TEXT);
"""

StatKey = tuple[int, int, int]
_EMPTY = ""


def _dump(scan: FileScan) -> str:
    if not (scan.hits or scan.problems or scan.skipped):
        return _EMPTY
    return json.dumps(scan.to_json())


def cache_path(cache_dir: Path) -> Path:
    """The database for the current rules version."""
    return cache_dir / f"secrets-{RULES_VERSION}.sqlite"


def lookup(db_path: str, digest: str) -> FileScan | None:
    """The cached result for a content digest (used by worker processes), or None."""
    try:
        conn = _READERS.get(db_path)
        if conn is None:
            conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
            _READERS[db_path] = conn
        row = conn.execute("SELECT data FROM results WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            return None
        return FileScan(digest=digest) if row[0] == _EMPTY else FileScan.from_json(
            json.loads(row[0]), digest)
    except (sqlite3.Error, ValueError, KeyError, TypeError, IndexError):
        return None


class ScanCache:
    """The cache of one scan (opened in the main process)."""

    def __init__(self, cache_dir: Path) -> None:
        from secpipe.runstore.sqlite import ignore_all

        cache_dir.mkdir(parents=True, exist_ok=True)
        ignore_all(cache_dir)  # in a project (.secpipe/cache), git must not pick it up
        self.path = cache_path(cache_dir)
        self.conn = sqlite3.connect(self.path, timeout=10)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError:  # damaged: start again
            self.conn.close()
            self.path.unlink(missing_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=10)
            self.conn.executescript(_SCHEMA)

    def known(self, prefix: str) -> dict[str, tuple[StatKey, str, int]]:
        """path -> ((size, mtime_ns, inode), digest, seen_ns) for paths under ``prefix``."""
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, ino, digest, seen_ns FROM files "
            "WHERE path >= ? AND path < ?", (prefix, prefix + "\uffff"))
        return {r[0]: ((r[1], r[2], r[3]), r[4], r[5]) for r in rows}

    def results(self, digests: Iterable[str]) -> dict[str, FileScan]:
        """Cached results of these digests."""
        out: dict[str, FileScan] = {}
        wanted = list(dict.fromkeys(digests))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for digest, data in self.conn.execute(
                    f"SELECT digest, data FROM results WHERE digest IN ({marks})", chunk):  # noqa: S608
                if data == _EMPTY:  # most files: nothing found, nothing skipped
                    out[digest] = FileScan(digest=digest)
                    continue
                try:
                    out[digest] = FileScan.from_json(json.loads(data), digest)
                except (ValueError, KeyError, TypeError, IndexError):
                    continue
        return out

    def store(self, entries: list[tuple[str, StatKey, FileScan]]) -> None:
        """Remember scanned files (path, stat key, result)."""
        now = time.time_ns()
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                [(p, k[0], k[1], k[2], s.digest, now) for p, k, s in entries])
            self.conn.executemany(
                "INSERT OR IGNORE INTO results VALUES (?, ?)",
                [(s.digest, _dump(s)) for _, _, s in entries])

    def history_known(self, commits: list[str]) -> dict[str, list[tuple[str, Hit]]]:
        """Cached (path, hit) lists of the commits already scanned."""
        out: dict[str, list[tuple[str, Hit]]] = {}
        for i in range(0, len(commits), 500):
            chunk = commits[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for commit, data in self.conn.execute(
                    f"SELECT commit_id, data FROM history WHERE commit_id IN ({marks})",  # noqa: S608
                    chunk):
                try:
                    out[commit] = [(p, Hit(*h)) for p, h in json.loads(data)] if data else []
                except (ValueError, TypeError):
                    continue
        return out

    def history_store(self, results: dict[str, list[tuple[str, Hit]]]) -> None:
        """Remember the (path, hit) lists of freshly scanned commits."""
        rows = [(c, json.dumps([[p, list(h.__dict__.values())] for p, h in hits]) if hits else "")
                for c, hits in results.items()]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO history VALUES (?, ?)", rows)

    def close(self) -> None:
        self.conn.close()


def trusted(entry: tuple[StatKey, str, int], key: StatKey) -> bool:
    """The stat fast path applies: same size, mtime and inode, and not modified near recording."""
    stat_key, _digest, seen_ns = entry
    return stat_key == key and key[1] < seen_ns - RACY_NS
