"""What the dashboard reads from the run store: read-only, bounded.

The store is opened per request with SQLite's ``mode=ro`` (:class:`ReadOnlyRunStore`): the
dashboard can never create, migrate or write the database, and a run being recorded by
``secpipe run`` at the same time is read as far as it got. Every list it returns is bounded
(:data:`MAX_RUNS`, :data:`PAGE_SIZE`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.core.errors import InputError, StoreError
from secpipe.core.findings import Finding
from secpipe.runstore.records import RunRecord
from secpipe.runstore.sqlite import RunStore

MAX_RUNS = 200
"""Most runs a list or a trend shows."""
DEFAULT_RUNS = 50
"""Runs shown when the query does not say."""
PAGE_SIZE = 50
"""Findings per page."""
MAX_PAGE = 10_000
"""Highest page number accepted."""
MAX_VALUE = 200
"""Longest query value accepted (characters)."""
MAX_METRIC_CHARTS = 12
"""Most model-metric series a trend shows (the first ones by name)."""
MODEL_KINDS = frozenset({"train", "evaluate"})
"""Step kinds whose metrics are the model's (charted before the scanners' counters)."""
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


class ReadOnlyRunStore(RunStore):
    """:class:`RunStore`'s readers over a read-only SQLite connection (``mode=ro``)."""

    def __init__(self, path: Path) -> None:  # not RunStore's: it writes
        self.path = path
        if not path.is_file():
            raise StoreError(f"no run store at {path}", hint="run `secpipe run` first")
        try:
            self._db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True,
                                       check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"run store {path}: {exc}") from None
        self._lock = threading.Lock()


@dataclass(frozen=True)
class RunRow:
    """One line of the runs list."""

    run: RunRecord
    counts: dict[str, int]
    """Distinct findings per severity."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def list_runs(store: RunStore, limit: int, pipeline: str | None) -> list[RunRow]:
    """The newest ``limit`` runs (of ``pipeline`` when given), newest first, with counts."""
    runs = store.list_runs(limit=min(limit, MAX_RUNS), pipeline=pipeline or None)
    return [RunRow(r, store.count_findings(r.run_id)) for r in runs]


@dataclass(frozen=True)
class Trends:
    """Series over runs, oldest run first."""

    runs: tuple[RunRecord, ...]
    severities: dict[str, list[float | None]]
    """severity -> distinct findings per run."""
    metrics: dict[str, list[float | None]] = field(default_factory=dict)
    """``step.metric`` -> value per run (None where that run did not produce it)."""
    more_metrics: int = 0
    """Series left out beyond :data:`MAX_METRIC_CHARTS`."""


def trends(store: RunStore, limit: int, pipeline: str | None, metric: str = "") -> Trends:
    """Findings by severity and model metrics of the newest ``limit`` runs; only the metric
    series whose ``step.metric`` name contains ``metric`` (any case) when it is given."""
    rows = list(reversed(list_runs(store, limit, pipeline)))
    severities: dict[str, list[float | None]] = {
        s: [float(r.counts.get(s, 0)) for r in rows] for s in SEVERITY_ORDER}
    names: dict[str, bool] = {}  # step.metric -> from a model step
    for row in rows:
        for step in row.run.steps:
            for key in step.metrics:
                name = f"{step.step_id}.{key}"
                if metric and metric.lower() not in name.lower():
                    continue
                names[name] = names.get(name, False) or step.kind in MODEL_KINDS
    ordered = sorted(names, key=lambda n: (not names[n], n))  # model metrics first
    shown = ordered[:MAX_METRIC_CHARTS]
    metrics: dict[str, list[float | None]] = {}
    for name in shown:
        step_id, _, key = name.partition(".")
        values: list[float | None] = []
        for row in rows:
            value = next((s.metrics.get(key) for s in row.run.steps
                          if s.step_id == step_id and key in s.metrics), None)
            values.append(None if value is None else float(value))
        metrics[name] = values
    return Trends(runs=tuple(r.run for r in rows), severities=severities, metrics=metrics,
                  more_metrics=len(ordered) - len(shown))


def load_run(store: RunStore, ref: str) -> RunRecord:
    """The run ``ref`` names (an id, a unique prefix, or ``latest``)."""
    return store.get_run(store.resolve(ref))


# -- query strings -----------------------------------------------------------------------------
def one(query: Mapping[str, list[str]], name: str) -> str:
    """The single value of ``name`` ('' when absent); refused when repeated or too long."""
    values = query.get(name, [])
    if len(values) > 1:
        raise InputError(f"query parameter {name!r} is given more than once")
    value = values[0].strip() if values else ""
    if len(value) > MAX_VALUE:
        raise InputError(f"query parameter {name!r} is longer than {MAX_VALUE} characters")
    return value


def number(query: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high] (``default`` when absent)."""
    text = one(query, name)
    if not text:
        return default
    if not text.isdigit() or len(text) > 6:
        raise InputError(f"query parameter {name!r} must be a whole number")
    value = int(text)
    if not low <= value <= high:
        raise InputError(f"query parameter {name!r} must be between {low} and {high}")
    return value


@dataclass(frozen=True)
class FindingFilter:
    """The findings page's filters (all optional) and page number."""

    severity: str = ""
    scanner: str = ""
    rule: str = ""
    text: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> FindingFilter:
        severity = one(query, "severity").lower()
        if severity and severity not in SEVERITY_ORDER:
            raise InputError(f"unknown severity {severity!r}: one of {', '.join(SEVERITY_ORDER)}")
        return cls(severity=severity, scanner=one(query, "scanner"), rule=one(query, "rule"),
                   text=one(query, "q"), page=number(query, "page", 1, 1, MAX_PAGE))

    def query(self, page: int | None = None) -> dict[str, str]:
        """The non-empty filters as query parameters (with ``page`` when not the first)."""
        out = {k: v for k, v in (("severity", self.severity), ("scanner", self.scanner),
                                 ("rule", self.rule), ("q", self.text)) if v}
        wanted = self.page if page is None else page
        if wanted > 1:
            out["page"] = str(wanted)
        return out

    def matches(self, finding: Finding) -> bool:
        """Severity and scanner match exactly, the rule as a substring, the text (any case)
        inside the title, message, rule, scanner or location."""
        if self.severity and finding.severity.value != self.severity:
            return False
        if self.scanner and finding.scanner != self.scanner:
            return False
        if self.rule and self.rule.lower() not in finding.rule_id.lower():
            return False
        if self.text:
            hay = " ".join((finding.title, finding.message, finding.rule_id, finding.scanner,
                            finding.location.display())).lower()
            if self.text.lower() not in hay:
                return False
        return True


@dataclass(frozen=True)
class FindingPage:
    """One page of a run's filtered findings."""

    items: tuple[Finding, ...]
    total: int
    """Findings matching the filters (all pages)."""
    pages: int
    page: int
    scanners: tuple[str, ...]
    """Every scanner of the run (the filter's choices)."""


_RANK = {s: i for i, s in enumerate(SEVERITY_ORDER)}


def find(run: RunRecord, flt: FindingFilter) -> FindingPage:
    """The findings of ``run`` that match ``flt``, worst first then by location, one page."""
    findings = run.findings
    matched = sorted((f for f in findings if flt.matches(f)),
                     key=lambda f: (_RANK.get(f.severity.value, 9), f.location.display(),
                                    f.rule_id))
    pages = max(1, -(-len(matched) // PAGE_SIZE))
    start = (flt.page - 1) * PAGE_SIZE
    return FindingPage(items=tuple(matched[start:start + PAGE_SIZE]), total=len(matched),
                       pages=pages, page=flt.page,
                       scanners=tuple(sorted({f.scanner for f in findings})))


# -- JSON --------------------------------------------------------------------------------------
def run_summary(row: RunRow) -> dict[str, Any]:
    """A run as the API lists it."""
    r = row.run
    return {"id": r.run_id, "pipeline": r.pipeline, "status": r.status,
            "exit_code": r.exit_code, "started": r.started, "finished": r.finished,
            "secpipe_version": r.secpipe_version, "findings": row.counts}


def run_detail(run: RunRecord) -> dict[str, Any]:
    """A run's stages, steps and gate decisions (its findings are under ``/findings``)."""
    return {
        "id": run.run_id, "pipeline": run.pipeline, "status": run.status,
        "exit_code": run.exit_code, "started": run.started, "finished": run.finished,
        "secpipe_version": run.secpipe_version,
        "stages": [{"name": s.name, "index": s.index, "status": s.status.value}
                   for s in run.stages],
        "steps": [{"id": s.step_id, "kind": s.kind, "stage": s.stage, "status": s.status.value,
                   "started": s.started, "duration": s.duration, "message": s.message,
                   "tool": s.tool, "metrics": s.metrics, "findings": len(s.findings),
                   "gate": s.gate.to_dict() if s.gate else None} for s in run.steps],
        "findings": severity_counts(run.findings),
    }


def severity_counts(findings: tuple[Finding, ...]) -> dict[str, int]:
    """severity -> count, every severity present."""
    counts = dict.fromkeys(SEVERITY_ORDER, 0)
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    return counts


def finding_page_json(page: FindingPage) -> dict[str, Any]:
    return {"total": page.total, "page": page.page, "pages": page.pages,
            "page_size": PAGE_SIZE, "findings": [f.to_dict() for f in page.items]}


__all__ = ["FindingFilter", "FindingPage", "ReadOnlyRunStore", "RunRow", "Trends",
           "find", "list_runs", "load_run", "trends"]
