"""The ``pagerduty`` sink: PagerDuty Events API v2 — page on a failed gate, resolve on a pass.

* A ``gate.decided`` that failed sends a ``trigger`` to ``{api_base}/v2/enqueue``; one that
  passed sends a ``resolve`` for the same ``dedup_key`` (PagerDuty keeps the incident's state; a
  resolve for a key with no open incident is accepted and does nothing, so no local state is
  needed).
* Only in the configured ``environments``: the run's environment is the sink's ``environment``
  setting (it may be a reference, ``${env:DEPLOY_ENV}``), else the ``SECPIPE_ENVIRONMENT``
  variable. Nothing else in secpipe knows a run's environment today.
* ``dedup_key``: ``secpipe/<project>/<pipeline>/<gate step>@<environment>`` (``dedup: gate``), or
  one per finding fingerprint (``dedup: finding``; the triggered keys are kept in
  ``.secpipe/pagerduty/<sink>.json`` so the next pass — or a fingerprint that went away — can be
  resolved). A key over 255 characters becomes ``secpipe/`` plus its SHA-256.
* ``payload.summary`` is cut to 1,024 characters; ``custom_details`` holds the gate's reasons and
  the run's worst findings (bounded). Every string goes through the run's secret redaction.
* HTTP 429 and 5xx are retried (by the bus); 400 (an invalid event) is not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from secpipe.core.errors import ConfigError
from secpipe.core.events import Event, FindingBrief, GateDecided, RunStarted, StepFinished
from secpipe.sinks import _http
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings

MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_FINDINGS = 50
"""Top findings kept per run (for details and ``dedup: finding``)."""
MAX_DETAIL = 500
"""Characters of one reason or finding title in ``custom_details``."""
ENV_VAR = "SECPIPE_ENVIRONMENT"
DEFAULT_API = "https://events.pagerduty.com"
SEVERITIES = ("critical", "error", "warning", "info")
_FROM_FINDING = {"critical": "critical", "high": "error", "medium": "warning", "low": "info",
                 "info": "info"}
_ENV_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class PagerDutySettings(SinkSettings):
    """``with:`` of a ``pagerduty`` sink."""

    events: list[str] = Field(default_factory=lambda: ["run.started", "step.finished",
                                                       "gate.decided"])
    """Must match ``gate.decided``; ``run.started`` names the pipeline in the key and
    ``step.finished`` supplies the findings (severity, details, ``dedup: finding``)."""
    routing_key: str = Field(min_length=1)
    """The service integration's routing key; write it as a secret reference."""
    environments: list[str] = Field(default_factory=lambda: ["production"], min_length=1)
    """Page only when the run's environment is one of these."""
    environment: str | None = None
    """The run's environment (may be a reference such as ``${env:DEPLOY_ENV}``); unset: the
    ``SECPIPE_ENVIRONMENT`` variable."""
    dedup: Literal["gate", "finding"] = "gate"
    """One incident per project + pipeline + gate (+ environment), or one per finding."""
    max_incidents: int = Field(default=20, ge=1, le=MAX_FINDINGS)
    """``dedup: finding``: at most this many findings (worst first) are paged per gate."""
    severity: Literal["auto", "critical", "error", "warning", "info"] = "auto"
    """PagerDuty severity; ``auto`` maps the worst finding: critical→critical, high→error,
    medium→warning, low/info→info (``error`` when the gate failed without findings)."""
    project: str | None = None
    """Project name in the key and ``source`` (default: the project folder's name)."""
    api_base: str = DEFAULT_API
    """Events API origin (tests point it at a local receiver)."""
    state_dir: str = ".secpipe"
    """Where ``dedup: finding`` keeps the keys it triggered (relative to the project)."""

    @field_validator("api_base")
    @classmethod
    def _valid_base(cls, value: str) -> str:
        _http.origin(value)
        return value.rstrip("/")

    @field_validator("environments")
    @classmethod
    def _valid_envs(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment name (letters, digits, ._-)")
        return value

    @model_validator(mode="after")
    def _needs_gates(self) -> PagerDutySettings:
        if not any(fnmatchcase("gate.decided", p) for p in self.events):
            raise ValueError("events must match gate.decided (the sink pages on gate decisions)")
        return self


def dedup_key(text: str) -> str:
    """``text`` when it fits PagerDuty's 255 characters, else ``secpipe/`` + its SHA-256."""
    if len(text) <= MAX_DEDUP_KEY:
        return text
    return "secpipe/" + hashlib.sha256(text.encode()).hexdigest()


class PagerDutySink(Sink[PagerDutySettings]):
    """Triggers a PagerDuty incident when a gate fails; resolves it when the gate passes."""

    kind = "pagerduty"
    summary = "page on-call (PagerDuty Events API v2) when a gate fails, resolve on the next pass"
    Settings = PagerDutySettings

    def __init__(self, settings: PagerDutySettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        secrets = context.secrets
        self._routing_key = secrets.resolve(settings.routing_key, "with.routing_key")
        if not self._routing_key.strip():
            raise ConfigError("with.routing_key: resolved to an empty value")
        if settings.environment is not None:
            env = secrets.resolve(settings.environment, "with.environment")
        else:
            env = os.environ.get(ENV_VAR, "")
        self.environment = env.strip()
        self._where = f"to PagerDuty at {_http.origin(settings.api_base)}"
        self._url = f"{settings.api_base}/v2/enqueue"
        self._project = settings.project or context.project_root.resolve().name or "project"
        self._pipeline = "pipeline"
        self._findings: list[FindingBrief] = []
        self._state = state_path(context.project_root, settings, context.name)

    @property
    def active(self) -> bool:
        """True when the run's environment is one the sink pages in."""
        return self.environment in self.settings.environments

    def deliver(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._pipeline = event.pipeline
            self._findings = []
            return
        if isinstance(event, StepFinished):
            self._remember(event.top)
            return
        if not isinstance(event, GateDecided) or not self.active:
            return
        if self.settings.dedup == "gate":
            key = dedup_key(self._gate_key(event.step))
            if event.decision.passed:
                self._send(self._resolve(key))
            else:
                accepted = {fp for fp, _ in event.decision.accepted}
                counted = [f for f in self._findings if f.fingerprint not in accepted]
                self._send(self._trigger(key, event, counted))
            return
        self._per_finding(event)

    # -- events ------------------------------------------------------------------------------
    def _gate_key(self, step: str) -> str:
        return f"secpipe/{self._project}/{self._pipeline}/{step}@{self.environment}"

    def _remember(self, top: tuple[FindingBrief, ...]) -> None:
        known = {f.fingerprint for f in self._findings}
        for brief in top:
            if brief.fingerprint not in known:
                known.add(brief.fingerprint)
                self._findings.append(brief)
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
        self._findings.sort(key=lambda f: rank.get(f.severity, 5))
        del self._findings[MAX_FINDINGS:]

    def _severity(self, findings: list[FindingBrief]) -> str:
        if self.settings.severity != "auto":
            return self.settings.severity
        return _FROM_FINDING.get(findings[0].severity, "error") if findings else "error"

    def _trigger(self, key: str, event: GateDecided,
                 findings: list[FindingBrief]) -> dict[str, Any]:
        reasons = [_http.cut(r, MAX_DETAIL) for r in event.decision.reasons[:20]]
        head = f"secpipe: gate {event.step} failed in {self._pipeline} ({self._project}, " \
               f"{self.environment})"
        if len(findings) == 1 and self.settings.dedup == "finding":
            f = findings[0]
            head += f": {f.severity} {f.rule_id} {f.title} at {f.location}"
        elif reasons:
            head += ": " + "; ".join(reasons)
        details: dict[str, Any] = {
            "run_id": event.run_id, "pipeline": self._pipeline, "project": self._project,
            "environment": self.environment, "gate": event.step, "stage": event.stage,
            "reasons": reasons, "counted": event.decision.counted,
            "findings": [{"severity": f.severity, "rule_id": f.rule_id,
                          "title": _http.cut(f.title, MAX_DETAIL),
                          "location": _http.cut(f.location, MAX_DETAIL),
                          "fingerprint": f.fingerprint} for f in findings[:10]],
        }
        return {
            "routing_key": self._routing_key, "event_action": "trigger", "dedup_key": key,
            "client": "secpipe",
            "payload": {
                "summary": head, "source": f"secpipe/{self._project}",
                "timestamp": dt.datetime.fromtimestamp(event.time, tz=dt.UTC).isoformat(),
                "severity": self._severity(findings), "component": self._pipeline,
                "group": self._project, "class": "security gate",
                "custom_details": details,
            },
        }

    def _resolve(self, key: str) -> dict[str, Any]:
        return {"routing_key": self._routing_key, "event_action": "resolve", "dedup_key": key}

    def _per_finding(self, event: GateDecided) -> None:
        gate = self._gate_key(event.step)
        state = self._load_state()
        before = set(state.get(gate, []))
        now: dict[str, FindingBrief] = {}
        if not event.decision.passed:
            accepted = {fp for fp, _ in event.decision.accepted}
            for brief in self._findings:
                if brief.fingerprint in accepted:
                    continue
                now[dedup_key(f"{gate}/{brief.fingerprint}")] = brief
                if len(now) >= self.settings.max_incidents:
                    break
            if not now:  # failed for another reason (an errored step, a metric): page the gate
                now[dedup_key(gate)] = FindingBrief("", "", "", "", "")
        sent: set[str] = set()
        try:
            for key, brief in now.items():
                findings = [brief] if brief.fingerprint else []
                self._send(self._trigger(key, event, findings))
                sent.add(key)
            for key in sorted(before - set(now)):
                self._send(self._resolve(key))
                before.discard(key)
        finally:  # what PagerDuty now holds open for this gate, even after a failed request
            state[gate] = sorted(before | sent)
            if not state[gate]:
                del state[gate]
            self._save_state(state)

    # -- state (dedup: finding) ----------------------------------------------------------------
    def _load_state(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self._state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): [str(x) for x in v][:MAX_FINDINGS * 4]
                for k, v in data.items() if isinstance(v, list)}

    def _save_state(self, state: dict[str, list[str]]) -> None:
        try:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._state.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
            tmp.replace(self._state)
        except OSError as exc:
            raise SinkError(f"cannot keep PagerDuty keys in {self.settings.state_dir}: "
                            f"{exc.strerror or type(exc).__name__}", retry=False) from None

    # -- transport -----------------------------------------------------------------------------
    def _send(self, body: dict[str, Any]) -> None:
        routing = body.pop("routing_key")
        safe = _http.redact_tree(body, self.redact)
        payload = safe.get("payload")
        if isinstance(payload, dict):
            payload["summary"] = _http.cut(str(payload["summary"]), MAX_SUMMARY)
        safe["dedup_key"] = dedup_key(str(safe["dedup_key"]))
        data = _http.json_body({"routing_key": routing, **safe})
        _http.request("POST", self._url, body=data,
                      headers={"Content-Type": "application/json"},
                      timeout=self.settings.timeout, where=self._where)


def state_path(project_root: Path, settings: PagerDutySettings, name: str) -> Path:
    """Where ``dedup: finding`` keeps its keys."""
    return project_root / settings.state_dir / "pagerduty" / f"{name}.json"
