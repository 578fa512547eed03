"""SQLite run store under ``.secpipe/runs.db``. Each step is committed as it ends, so a run that
dies midway keeps everything recorded so far."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from secpipe import __version__
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import StoreError
from secpipe.core.findings import Finding
from secpipe.core.results import GateDecision, Skipped, StepResult, StepStatus
from secpipe.runstore.records import RunRecord, StageRecord, StepRecord

SCHEMA_VERSION = 1
_HISTORY_RUNS = 50
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, project TEXT NOT NULL,
  started REAL NOT NULL, finished REAL, status TEXT NOT NULL, exit_code INTEGER,
  secpipe_version TEXT NOT NULL, extra TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS stages (
  run_id TEXT NOT NULL REFERENCES runs(run_id), idx INTEGER NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL REFERENCES runs(run_id), step_id TEXT NOT NULL, kind TEXT NOT NULL,
  stage TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL, started REAL NOT NULL,
  duration REAL NOT NULL, message TEXT NOT NULL, tool TEXT NOT NULL, metrics TEXT NOT NULL,
  skipped TEXT NOT NULL, artifacts TEXT NOT NULL, gate TEXT,
  PRIMARY KEY (run_id, step_id)
);
CREATE TABLE IF NOT EXISTS findings (
  run_id TEXT NOT NULL REFERENCES runs(run_id), step_id TEXT NOT NULL, seq INTEGER NOT NULL,
  fingerprint TEXT NOT NULL, rule_id TEXT NOT NULL, severity TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_run ON findings(run_id, step_id);
"""


def private_dir(folder: Path) -> None:
    """Create ``folder`` (secpipe's state folder) readable by its owner only, and tighten it when
    an older version left it open: it holds run outputs, logs and keys."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = folder.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        folder.chmod(0o700)
    ignore_all(folder)


def ignore_all(folder: Path) -> None:
    """Give ``folder`` a ``.gitignore`` of ``*`` so that ``git add -A`` never picks up what secpipe
    keeps there; one that exists (a link included) is left as it is. Best effort: a folder where
    it cannot be written still works."""
    try:
        fd = os.open(folder / ".gitignore",
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError:  # it exists, or the folder is read-only
        return
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write("# written by secpipe: nothing in this folder belongs in version control\n*\n")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


#: every character :func:`new_run_id` writes; a run reference holding another is refused
RUN_ID_ALPHABET = frozenset("0123456789abcdef-")


class RunStore:
    """Thread-safe SQLite store (one connection guarded by a lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            private_dir(path.parent)
            if not path.exists():  # created private; SQLite gives its -wal/-shm the same mode
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)",
                (str(SCHEMA_VERSION),),
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"run store {path}: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"run store {self.path}: {exc}") from None

    # -- writing ---------------------------------------------------------------------------
    def start_run(self, pipeline: str, project: str, extra: dict[str, Any] | None = None) -> str:
        run_id = new_run_id()
        self._exec(
            "INSERT INTO runs(run_id, pipeline, project, started, status, secpipe_version, extra) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?)",
            (run_id, pipeline, project, time.time(), __version__, json.dumps(extra or {})),
        )
        return run_id

    def record_stage(self, run_id: str, index: int, name: str, status: StepStatus) -> None:
        self._exec(
            "INSERT OR REPLACE INTO stages(run_id, idx, name, status) VALUES (?, ?, ?, ?)",
            (run_id, index, name, status.value),
        )

    def record_step(
        self, run_id: str, seq: int, step_id: str, kind: str, stage: str, started: float,
        duration: float, result: StepResult,
    ) -> None:
        """Write one finished step and its findings in a single transaction."""
        gate = json.dumps(result.gate.to_dict()) if result.gate else None
        rows = [
            (run_id, step_id, i, f.fingerprint, f.rule_id, f.severity.value,
             json.dumps(f.to_dict()))
            for i, f in enumerate(result.findings)
        ]
        step_row = (
            run_id, step_id, kind, stage, seq, result.status.value, started, duration,
            result.message, result.tool, json.dumps(dict(result.metrics)),
            json.dumps([s.__dict__ for s in result.skipped]),
            json.dumps([a.to_dict() for a in result.artifacts]), gate,
        )
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.execute(
                        "INSERT OR REPLACE INTO steps(run_id, step_id, kind, stage, seq, status,"
                        " started, duration, message, tool, metrics, skipped, artifacts, gate)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", step_row)
                    self._db.execute("DELETE FROM findings WHERE run_id=? AND step_id=?",
                                     (run_id, step_id))
                    self._db.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?)",
                                         rows)
                    self._db.execute("COMMIT")
                except sqlite3.Error:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")  # never leave the connection mid-way
                    raise
        except sqlite3.Error as exc:
            raise StoreError(f"run store {self.path}: {exc}") from None

    def finish_run(self, run_id: str, status: str, exit_code: int) -> None:
        self._exec(
            "UPDATE runs SET finished=?, status=?, exit_code=? WHERE run_id=?",
            (time.time(), status, exit_code, run_id),
        )

    # -- reading ---------------------------------------------------------------------------
    def list_runs(self, limit: int = 20, pipeline: str | None = None) -> list[RunRecord]:
        sql = "SELECT run_id FROM runs"
        params: tuple[Any, ...] = ()
        if pipeline:
            sql += " WHERE pipeline=?"
            params = (pipeline,)
        sql += " ORDER BY started DESC, run_id DESC LIMIT ?"
        ids = [row[0] for row in self._exec(sql, (*params, limit)).fetchall()]
        return [self.get_run(run_id, with_findings=False) for run_id in ids]

    def latest_run_id(self, pipeline: str | None = None) -> str | None:
        runs = self.list_runs(limit=1, pipeline=pipeline)
        return runs[0].run_id if runs else None

    def resolve(self, ref: str) -> str:
        """A run id, a unique prefix of one, or ``latest``; errors name the reference."""
        if ref == "latest":
            latest = self.latest_run_id()
            if latest is None:
                raise StoreError("no runs recorded yet", hint="run `secpipe run` first")
            return latest
        if not ref or len(ref) > 64 or not set(ref) <= RUN_ID_ALPHABET:
            raise StoreError(f"invalid run reference {ref[:80]!r}: a run id is "
                             "YYYYmmdd-HHMMSS-xxxx (digits, a-f and '-'), a unique prefix of one, "
                             "or 'latest'",
                             hint="`secpipe runs` lists them")
        # a prefix match, never a pattern: LIKE's wildcards (and the escape) are escaped
        prefix = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._exec(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY run_id",
            (prefix + "%",)).fetchall()
        if not rows:
            raise StoreError(f"no run {ref!r} in {self.path}", hint="`secpipe runs` lists them")
        if len(rows) > 1:
            raise StoreError(f"run reference {ref!r} is ambiguous ({len(rows)} runs match)")
        return str(rows[0][0])

    def get_run(self, run_id: str, with_findings: bool = True) -> RunRecord:
        row = self._exec(
            "SELECT run_id, pipeline, project, started, finished, status, exit_code,"
            " secpipe_version, extra FROM runs WHERE run_id=?", (run_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}")
        stages = tuple(
            StageRecord(name=r[1], index=r[0], status=StepStatus(r[2]))
            for r in self._exec(
                "SELECT idx, name, status FROM stages WHERE run_id=? ORDER BY idx", (run_id,)
            ).fetchall()
        )
        findings: dict[str, list[Finding]] = {}
        if with_findings:
            for step_id, data in self._exec(
                "SELECT step_id, data FROM findings WHERE run_id=? ORDER BY step_id, seq", (run_id,)
            ).fetchall():
                findings.setdefault(step_id, []).append(Finding.from_dict(json.loads(data)))
        steps = []
        for r in self._exec(
            "SELECT step_id, kind, stage, status, started, duration, message, tool, metrics,"
            " skipped, artifacts, gate FROM steps WHERE run_id=? ORDER BY seq", (run_id,),
        ).fetchall():
            steps.append(StepRecord(
                step_id=r[0], kind=r[1], stage=r[2], status=StepStatus(r[3]), started=r[4],
                duration=r[5], message=r[6], tool=r[7], metrics=json.loads(r[8]),
                findings=tuple(findings.get(r[0], ())),
                skipped=tuple(Skipped(**s) for s in json.loads(r[9])),
                artifacts=tuple(Artifact.from_dict(a) for a in json.loads(r[10])),
                gate=GateDecision.from_dict(json.loads(r[11])) if r[11] else None,
            ))
        return RunRecord(
            run_id=row[0], pipeline=row[1], project=row[2], started=row[3], finished=row[4],
            status=row[5], exit_code=row[6], secpipe_version=row[7], stages=stages,
            steps=tuple(steps), extra=json.loads(row[8]),
        )

    def last_passed_metrics(self, pipeline: str, *, exclude_run: str, step_id: str,
                            kind: str) -> tuple[str, dict[str, float]]:
        """:class:`secpipe.core.interfaces.RunHistory`: (run id, metrics) of the newest passed
        run of ``pipeline`` other than ``exclude_run`` — of step ``step_id`` when it ran there,
        else of a step of the same ``kind`` — or ``("", {})``."""
        rows = self._exec(
            "SELECT run_id FROM runs WHERE pipeline=? AND status='passed' AND run_id<>?"
            " ORDER BY started DESC, run_id DESC LIMIT ?", (pipeline, exclude_run, _HISTORY_RUNS),
        ).fetchall()
        for (run_id,) in rows:
            found = self._exec(
                "SELECT metrics FROM steps WHERE run_id=? AND kind=?"
                " ORDER BY step_id<>?, seq", (run_id, kind, step_id),
            ).fetchall()
            for (metrics,) in found:
                values = json.loads(metrics)
                if values:
                    return str(run_id), {str(k): float(v) for k, v in values.items()}
        return "", {}

    def count_findings(self, run_id: str) -> dict[str, int]:
        return {
            sev: n for sev, n in self._exec(
                "SELECT severity, COUNT(DISTINCT fingerprint) FROM findings WHERE run_id=?"
                " GROUP BY severity", (run_id,),
            ).fetchall()
        }
