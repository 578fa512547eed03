"""Log sinks in Elastic Common Schema: ``ecs-log`` (JSON lines to a file or stdout, for Filebeat or
Logstash) and ``elasticsearch`` (the ``_bulk`` API).

One event becomes one ECS document (``event.kind: event``); every finding a ``step.finished``
carries (its worst :data:`~secpipe.core.events.TOP_FINDINGS`) becomes one more document with
``event.kind: alert``, ``event.category: ["vulnerability"]``, ``vulnerability.*``, ``rule.*`` and
``file.path``. Labels name the pipeline, project and run. Every string passes through the run's
secret redaction before it is written or sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

from pydantic import Field, field_validator

from secpipe import __version__
from secpipe.core.errors import ConfigError
from secpipe.core.events import (
    Event,
    FindingBrief,
    GateDecided,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
    StepFinished,
    StepLog,
    StepProgress,
    StepStarted,
)
from secpipe.keys.refs import has_refs
from secpipe.sinks import _http
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings

ECS_VERSION = "8.11.0"
MAX_TEXT = 8192
"""Characters of one message or title in a document."""
_SEVERITY_SCORE = {"critical": 9.5, "high": 8.0, "medium": 5.5, "low": 2.0, "info": 0.0}
_POSITION = re.compile(r"(?::\d+|@\d+)$")
_COMMIT = re.compile(r"^[0-9a-f]{12}:")


def _timestamp(ts: float) -> str:
    when = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def file_path(location: str) -> str:
    """The file of a finding's displayed location (``app.py:3`` → ``app.py``,
    ``model.zip!data.pkl@12`` → ``model.zip``, ``<commit>:a.py:3`` → ``a.py``)."""
    path = _POSITION.sub("", location)
    path = _COMMIT.sub("", path)
    return path.split("!", 1)[0]


class EcsMapper:
    """Turns a run's events into ECS documents; remembers the pipeline and project from
    ``run.started`` for the labels."""

    def __init__(self, labels: dict[str, str] | None = None) -> None:
        self.extra_labels = dict(labels or {})
        self.pipeline = ""
        self.project = ""

    def documents(self, event: Event) -> list[dict[str, Any]]:
        """The ECS documents of one event: its own, then one alert per finding it carries."""
        if isinstance(event, RunStarted):
            self.pipeline, self.project = event.pipeline, Path(event.project).name
        elif isinstance(event, RunFinished):
            self.pipeline = event.pipeline
        docs = [self._event_doc(event)]
        if isinstance(event, StepFinished):
            docs.extend(self._finding_doc(event, f) for f in event.top)
        return docs

    def _labels(self, event: Event) -> dict[str, str]:
        labels = {**self.extra_labels, "run_id": event.run_id}
        if self.pipeline:
            labels["pipeline"] = self.pipeline
        if self.project:
            labels["project"] = self.project
        return labels

    def _base(self, event: Event, kind: str) -> dict[str, Any]:
        return {
            "@timestamp": _timestamp(event.time),
            "ecs": {"version": ECS_VERSION},
            "event": {"kind": kind, "action": event.type, "dataset": "secpipe.run",
                      "module": "secpipe", "created": _timestamp(event.time)},
            "labels": self._labels(event),
            "observer": {"vendor": "secpipe", "product": "secpipe", "version": __version__,
                         "type": "security-pipeline"},
        }

    def _event_doc(self, event: Event) -> dict[str, Any]:
        doc = self._base(event, "event")
        ev: dict[str, Any] = doc["event"]
        secpipe: dict[str, Any] = {"event": event.type}
        message = event.type
        if isinstance(event, RunStarted):
            ev["type"] = ["start"]
            message = f"run of {event.pipeline} started ({len(event.stage_names)} stages)"
        elif isinstance(event, RunFinished):
            ev["type"] = ["end"]
            ev["outcome"] = "success" if event.status == "passed" else "failure"
            secpipe.update(status=event.status, exit_code=event.exit_code)
            message = f"run of {event.pipeline} {event.status} (exit {event.exit_code})"
        elif isinstance(event, StageStarted | StageFinished | StepStarted):
            secpipe["stage"] = event.stage
            if isinstance(event, StepStarted):
                secpipe.update(step=event.step, kind=event.kind)
                ev["type"] = ["start"]
                message = f"step {event.step} ({event.kind}) started"
            elif isinstance(event, StageStarted):
                ev["type"] = ["start"]
                message = f"stage {event.stage} started"
            else:
                ev["type"] = ["end"]
                secpipe["status"] = event.status
                message = f"stage {event.stage} {event.status}"
        elif isinstance(event, StepProgress):
            ev["type"] = ["info"]
            secpipe.update(step=event.step, done=event.done, total=event.total)
            message = f"step {event.step}: {event.done}/{event.total or '?'} {event.what}"
        elif isinstance(event, StepLog):
            ev["type"] = ["info"]
            secpipe["step"] = event.step
            message = f"step {event.step}: {event.message}"
        elif isinstance(event, StepFinished):
            ev["type"] = ["error"] if event.status == "error" else ["end"]
            ev["outcome"] = "success" if event.status == "passed" else "failure"
            ev["duration"] = int(max(event.duration, 0.0) * 1e9)
            secpipe.update(step=event.step, kind=event.kind, stage=event.stage,
                           status=event.status, findings=event.findings,
                           severities=dict(event.severities), skipped=event.skipped)
            message = f"step {event.step} {event.status}: {event.message}"
        elif isinstance(event, GateDecided):
            ev["type"] = ["allowed"] if event.decision.passed else ["denied"]
            ev["outcome"] = "success" if event.decision.passed else "failure"
            ev["reason"] = _http.cut("; ".join(event.decision.reasons), MAX_TEXT)
            secpipe.update(step=event.step, stage=event.stage,
                           gate=event.decision.to_dict() | {"accepted": len(
                               event.decision.accepted)})
            verdict = "passed" if event.decision.passed else "failed"
            message = f"gate {event.step} {verdict}" + (
                f": {ev['reason']}" if ev["reason"] else "")
        doc["message"] = _http.cut(message, MAX_TEXT)
        doc["secpipe"] = secpipe
        return doc

    def _finding_doc(self, event: StepFinished, f: FindingBrief) -> dict[str, Any]:
        doc = self._base(event, "alert")
        doc["event"].update(category=["vulnerability"], type=["info"],
                            severity=int(_SEVERITY_SCORE.get(f.severity, 0) * 10))
        title = _http.cut(f.title, MAX_TEXT)
        doc["vulnerability"] = {
            "id": f.rule_id, "severity": f.severity, "category": [event.kind],
            "description": title,
            "score": {"base": _SEVERITY_SCORE.get(f.severity, 0.0)},
            "scanner": {"vendor": "secpipe"},
        }
        doc["rule"] = {"id": f.rule_id, "name": title, "ruleset": event.kind,
                       "category": event.kind}
        doc["file"] = {"path": file_path(f.location)}
        doc["message"] = _http.cut(f"{f.severity} {f.rule_id}: {f.title} at {f.location}",
                                   MAX_TEXT)
        doc["secpipe"] = {"event": "finding", "step": event.step, "stage": event.stage,
                          "fingerprint": f.fingerprint, "location": f.location}
        return doc


def _ecs_labels(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        if not re.match(r"^[A-Za-z0-9_]{1,64}$", key):
            raise ValueError(f"label {key!r}: use letters, digits and _ (ECS label keys)")
        if key in ("run_id", "pipeline", "project"):
            raise ValueError(f"label {key!r} is set by the sink")
    return value


# -- ecs-log ----------------------------------------------------------------------------------
class EcsLogSettings(SinkSettings):
    """``with:`` of an ``ecs-log`` sink."""

    path: str = "-"
    """File the JSON lines are appended to (relative to the project), or ``-`` for stdout."""
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=4096, le=1024 ** 3)
    """Size at which the file is rotated (``f`` → ``f.1`` → … ``f.N``)."""
    backups: int = Field(default=5, ge=0, le=100)
    """Rotated files kept; 0 truncates the file instead."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra ECS ``labels`` (``team: appsec``)."""

    @field_validator("labels")
    @classmethod
    def _valid_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _ecs_labels(value)


class EcsLogSink(Sink[EcsLogSettings]):
    """Writes every accepted event (and each finding it carries) as one ECS JSON line."""

    kind = "ecs-log"
    summary = "Elastic Common Schema JSON lines to a file or stdout (for Filebeat or Logstash)"
    Settings = EcsLogSettings

    def __init__(self, settings: EcsLogSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        self._mapper = EcsMapper(settings.labels)
        self._path: Path | None = None
        if settings.path != "-":
            path = Path(settings.path)
            self._path = path if path.is_absolute() else context.project_root / path
            if self._path.is_dir():
                raise ConfigError(f"with.path: {settings.path} is a folder")
        self._file: IO[str] | None = None

    def deliver(self, event: Event) -> None:
        lines = [json.dumps(_http.redact_tree(doc, self.redact), ensure_ascii=False,
                            separators=(",", ":"), default=str) + "\n"
                 for doc in self._mapper.documents(event)]
        text = "".join(lines)
        if self._path is None:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except (OSError, ValueError) as exc:
                raise SinkError(f"cannot write to stdout: {type(exc).__name__}",
                                retry=False) from None
            return
        try:
            self._write(text)
        except OSError as exc:
            self._close_file()
            raise SinkError(f"cannot write {self.settings.path}: "
                            f"{exc.strerror or type(exc).__name__}") from None

    def _write(self, text: str) -> None:
        assert self._path is not None
        size = len(text.encode())
        try:
            current = self._path.stat().st_size
        except FileNotFoundError:
            current = 0
        if current and current + size > self.settings.max_bytes:
            self._rotate()
        if self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._file.write(text)
        self._file.flush()

    def _rotate(self) -> None:
        assert self._path is not None
        self._close_file()
        if self.settings.backups == 0:
            os.truncate(self._path, 0)
            return
        for index in range(self.settings.backups - 1, 0, -1):
            older = self._path.with_name(f"{self._path.name}.{index}")
            if older.exists():
                older.replace(self._path.with_name(f"{self._path.name}.{index + 1}"))
        self._path.replace(self._path.with_name(f"{self._path.name}.1"))

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        self._close_file()


# -- elasticsearch ----------------------------------------------------------------------------
MAX_PENDING_BATCHES = 10
"""Documents kept unsent at most, in batches; older ones are dropped (and reported) beyond."""
_INDEX_BAD = re.compile(r'[\\/*?"<>| ,#:A-Z]')
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_INDEX_FIELDS = ("date", "month", "pipeline")


class ElasticsearchSettings(SinkSettings):
    """``with:`` of an ``elasticsearch`` sink."""

    url: str = Field(min_length=1)
    """Elasticsearch origin (``https://es.example.com:9200``), or a secret reference to it."""
    api_key: str | None = None
    """Encoded API key (``Authorization: ApiKey …``); write it as a secret reference."""
    index: str = "secpipe-{date}"
    """Index (or data stream) name; ``{date}`` (``2026.12.04``), ``{month}`` (``2026.12``) and
    ``{pipeline}`` are filled from the event."""
    batch_size: int = Field(default=200, ge=1, le=5000)
    """Documents per ``_bulk`` request; a batch is also sent at ``run.finished`` and at close."""
    max_batch_bytes: int = Field(default=5 * 1024 * 1024, ge=64 * 1024, le=100 * 1024 * 1024)
    """Bytes per ``_bulk`` request at most."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra ECS ``labels``."""

    @field_validator("labels")
    @classmethod
    def _valid_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _ecs_labels(value)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not has_refs(value):
            _http.origin(value)
        return value

    @field_validator("index")
    @classmethod
    def _valid_index(cls, value: str) -> str:
        names = _PLACEHOLDER.findall(value)
        for name in names:
            if name not in _INDEX_FIELDS:
                raise ValueError(f"{{{name}}} is not a placeholder ({', '.join(_INDEX_FIELDS)})")
        probe = _PLACEHOLDER.sub("x", value)
        if not probe or probe[0] in "-_+." or _INDEX_BAD.search(probe) or len(probe) > 200:
            raise ValueError("is not a valid index name (lowercase; no spaces or \\/*?\"<>|,#:; "
                             "not starting with - _ + .)")
        return value


def index_name(template: str, event: Event, pipeline: str) -> str:
    """The index an event's documents go to."""
    when = dt.datetime.fromtimestamp(event.time, tz=dt.UTC)
    safe_pipeline = re.sub(r"[^a-z0-9_.-]", "-", (pipeline or "unknown").lower())
    values = {"date": when.strftime("%Y.%m.%d"), "month": when.strftime("%Y.%m"),
              "pipeline": safe_pipeline}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


class ElasticsearchSink(Sink[ElasticsearchSettings]):
    """Indexes the same ECS documents through the ``_bulk`` API (``create`` with a
    deterministic ``_id``, so a resent document is not indexed twice)."""

    kind = "elasticsearch"
    summary = "index ECS documents in Elasticsearch or OpenSearch through the _bulk API"
    Settings = ElasticsearchSettings

    def __init__(self, settings: ElasticsearchSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        secrets = context.secrets
        url, self._where = _http.service_url(secrets, settings.url, "Elasticsearch")
        self._url = url + "/_bulk"
        self._headers = {"Content-Type": "application/x-ndjson", "Accept": "application/json"}
        if settings.api_key is not None:
            key = secrets.resolve(settings.api_key, "with.api_key")
            if not key.strip() or any(c in key for c in "\r\n\0"):
                raise ConfigError("with.api_key: resolved to an empty or multi-line value")
            self._headers["Authorization"] = f"ApiKey {key.strip()}"
        self._mapper = EcsMapper(settings.labels)
        self._pending: list[tuple[str, bytes]] = []
        """(index name, document line) not yet accepted by Elasticsearch."""
        self._last: Event | None = None
        self._unreported: list[str] = []
        """Error types of rejected documents not yet reported in a SinkError."""
        self.rejected = 0
        """Documents Elasticsearch refused for good (mapping errors …)."""

    def deliver(self, event: Event) -> None:
        if event is not self._last:  # a retried delivery must not queue the event twice
            self._last = event
            index = index_name(self.settings.index, event, self._mapper.pipeline or
                               getattr(event, "pipeline", ""))
            for doc in self._mapper.documents(event):
                line = json.dumps(_http.redact_tree(doc, self.redact), ensure_ascii=False,
                                  separators=(",", ":"), default=str).encode()
                self._pending.append((index, line))
            overflow = len(self._pending) - MAX_PENDING_BATCHES * self.settings.batch_size
            if overflow > 0:  # Elasticsearch has been unreachable for a while: bound memory
                del self._pending[:overflow]
                self._unreported += ["dropped unsent (too many pending)"] * overflow
        if len(self._pending) >= self.settings.batch_size or isinstance(event, RunFinished):
            self.flush()

    def close(self) -> None:
        """Send what is still pending; 429 answers are retried here (``retries`` times, with
        ``backoff``), because the bus does not retry a close."""
        attempt = 0
        while self._pending or self._unreported:
            try:
                self.flush()
                return
            except SinkError as exc:
                attempt += 1
                if not exc.retry or attempt > self.settings.retries:
                    raise
                time.sleep(min(self.settings.backoff * 2 ** (attempt - 1), 30.0))

    def flush(self) -> None:
        """Send what is pending, in batches; raise :class:`SinkError` when documents are
        left (429 items: retryable) or were rejected."""
        rejected_types = self._unreported
        self._unreported = []
        retry_left = False
        while self._pending:
            batch: list[tuple[str, bytes]] = []
            size = 0
            for index, line in self._pending:
                if batch and (len(batch) >= self.settings.batch_size
                              or size + len(line) > self.settings.max_batch_bytes):
                    break
                batch.append((index, line))
                size += len(line) + 128
            try:
                keep, types = self._send(batch)
            except SinkError as exc:
                if not rejected_types:
                    raise
                # report what was lost with this failure (once), then let the bus retry
                raise SinkError(exc.message + _rejects(rejected_types), retry=exc.retry) from None
            rejected_types += types
            self._pending = keep + self._pending[len(batch):]
            if keep:  # Elasticsearch is shedding load: let the bus back off and retry
                retry_left = True
                break
        if retry_left:  # rejections are reported once the retried documents are settled
            self._unreported = rejected_types
            raise SinkError(f"_bulk {self._where}: {len(self._pending)} document(s) answered "
                            "429, will be resent" + _rejects(rejected_types))
        if rejected_types:
            raise SinkError(f"_bulk {self._where}: " + _rejects(rejected_types).lstrip("; "),
                            retry=False)

    def _send(self, batch: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[str]]:
        body = bytearray()
        for index, line in batch:
            doc_id = hashlib.sha256(line).hexdigest()[:40]
            body += _http.json_body({"create": {"_index": index, "_id": doc_id}}) + b"\n"
            body += line + b"\n"
        try:
            _, data = _http.request("POST", self._url, body=bytes(body), headers=self._headers,
                                    timeout=self.settings.timeout, where=self._where)
        except SinkError as exc:
            if not exc.retry:  # the whole request was refused: resending it cannot help
                self._pending = self._pending[len(batch):]
            raise
        answer = _http.parse_json(data)
        if not isinstance(answer, dict) or not isinstance(answer.get("items"), list) \
                or len(answer["items"]) != len(batch):
            raise SinkError(f"_bulk {self._where}: the answer is not a bulk response")
        if not answer.get("errors"):
            return [], []
        keep: list[tuple[str, bytes]] = []
        types: list[str] = []
        for item, sent in zip(answer["items"], batch, strict=True):
            result: Any = next(iter(item.values()), {}) if isinstance(item, dict) and item \
                else {}
            status = result.get("status", 0) if isinstance(result, dict) else 0
            if not isinstance(status, int):
                status = 0
            if 200 <= status < 300 or status == 409:  # 409: this _id is already indexed
                continue
            if status == 429:
                keep.append(sent)
                continue
            error = result.get("error") if isinstance(result, dict) else None
            kind = error.get("type") if isinstance(error, dict) else None
            types.append(str(kind) if isinstance(kind, str) and re.fullmatch(r"[a-z_]{1,80}",
                                                                            kind)
                         else f"HTTP {status}")
        self.rejected += len(types)
        return keep, types


def _rejects(types: list[str]) -> str:
    if not types:
        return ""
    counts: dict[str, int] = {}
    for t in types:
        counts[t] = counts.get(t, 0) + 1
    listed = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    return f"; {len(types)} document(s) rejected ({listed})"
