"""The ``prometheus`` sink: one push per run to a Prometheus Pushgateway.

The sink gathers what a run's events say (durations of the run, its stages and steps; findings
by severity and by rule; gate verdicts; step metrics such as a model's accuracy) and, when
``run.finished`` arrives, PUTs it once to the Pushgateway group
``/metrics/job/<job>/pipeline/<pipeline>/project/<project>[/<label>/<value>…]``, replacing
whatever the previous run of that pipeline left there. The body is the Prometheus text
exposition format 0.0.4, written here (no client library needed).

A run that passed also PUTs ``secpipe_last_success_timestamp_seconds`` to a second group (the
same key plus ``outcome="passed"``), so a failed run, which replaces the first group, does not
erase when the pipeline last passed: ``monitoring/alerts.yml`` alerts on both timestamps.

Label values pass through the run's secret redaction and are cut to
:data:`MAX_LABEL_VALUE` characters; counts are bounded (:data:`MAX_STEPS`, ``top_rules``,
:data:`MAX_STEP_METRICS`), so one run cannot flood the Pushgateway with series.
"""

from __future__ import annotations

import base64
import math
import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from secpipe import __version__
from secpipe.core.errors import ConfigError
from secpipe.core.events import (
    Event,
    GateDecided,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
    StepFinished,
)
from secpipe.core.findings import Severity
from secpipe.keys.refs import has_refs
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings
from secpipe.sinks.webhook import (
    _MANAGED,
    _RETRYABLE_4XX,
    _TOKEN,
    _check_header_value,
    _check_url,
    _NoRedirect,
    _reason,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The exposition format the body is written in."""
MAX_LABEL_VALUE = 200
"""Characters kept of a label value (a longer one is cut and ends with ``…``)."""
MAX_STEPS = 500
"""Steps (and stages) given series; later ones are counted in ``secpipe_series_dropped``."""
MAX_STEP_METRICS = 200
"""Step metrics pushed per run; the rest are counted in ``secpipe_series_dropped``."""
MAX_BODY = 4 * 1024 * 1024
"""Largest body pushed (the bounds above keep a run far below it)."""
OTHER_RULE = "other"
"""The ``rule`` label of findings outside the ``top_rules`` most frequent rules."""
RUN_STATUSES = ("passed", "failed", "error", "interrupted")
STEP_STATUSES = ("passed", "failed", "error", "skipped")
SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9._~-]+$")
SAMPLE_LABELS = frozenset({"stage", "step", "kind", "status", "severity", "rule", "gate",
                           "name", "outcome"})
"""Label names the sink's series use; a ``grouping`` label may not take one of them."""
_RESERVED_GROUPING = SAMPLE_LABELS | {"job", "pipeline", "project", "instance"}
_NEEDED_EVENTS = ("run.started", "step.finished", "run.finished")
TEST_RUN_PREFIX = "notify-test-"
"""Run ids of ``secpipe notify test`` events: a lone ``run.finished`` of such a run checks the
connection (PUT, then DELETE of a ``pipeline="notify-test"`` group) instead of failing."""


def grouping_path(labels: Iterable[tuple[str, str]]) -> str:
    """The Pushgateway URL path of a grouping key (``job`` first): ``/job/secpipe/pipeline/x``.
    A value that is empty or holds anything but letters, digits and ``._~-`` is written
    base64url-encoded with the ``@base64`` suffix on its label name, as the Pushgateway
    documents (so a ``/`` in a project name cannot split the path)."""
    parts: list[str] = []
    for name, value in labels:
        if _PLAIN_VALUE.match(value):
            parts += [name, quote(value, safe="")]
        else:
            encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
            parts += [f"{name}@base64", encoded]
    return "/" + "/".join(parts)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


@dataclass
class _Family:
    name: str
    help: str
    samples: list[tuple[tuple[tuple[str, str], ...], float]] = field(default_factory=list)


class Exposition:
    """Gauges in the text exposition format 0.0.4 (one ``# HELP``/``# TYPE`` per family)."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def add(self, name: str, help_text: str, value: float,
            labels: Mapping[str, str] | None = None) -> None:
        """One sample of gauge ``name``."""
        family = self._families.setdefault(name, _Family(name, help_text))
        family.samples.append((tuple((labels or {}).items()), float(value)))

    def render(self) -> str:
        """The body: families in the order first added, each sample on one line."""
        lines: list[str] = []
        for family in self._families.values():
            lines.append(f"# HELP {family.name} "
                         + family.help.replace("\\", "\\\\").replace("\n", "\\n"))
            lines.append(f"# TYPE {family.name} gauge")
            for labels, value in family.samples:
                text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
                lines.append(f"{family.name}{{{text}}} {_format_value(value)}" if text
                             else f"{family.name} {_format_value(value)}")
        return "\n".join(lines) + "\n"


class PrometheusSettings(SinkSettings):
    """``with:`` of a ``prometheus`` sink."""

    pushgateway: str = Field(min_length=1)
    """The Pushgateway's base URL (``http://pushgateway:9091``, a path prefix allowed), or a
    secret reference to one."""
    job: str = Field(default="secpipe", min_length=1, max_length=100)
    """The ``job`` label of the group (the shipped alert rules and dashboard expect
    ``secpipe``)."""
    project: str | None = Field(default=None, min_length=1, max_length=MAX_LABEL_VALUE)
    """The ``project`` label; default: the project name the run reports."""
    grouping: dict[str, str] = Field(default_factory=dict, max_length=10)
    """Further grouping labels (``environment: prod``): part of the group's URL and of every
    series."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers (``Authorization: "Basic ${env:PUSHGATEWAY_AUTH}"``); values may be
    secret references and are never shown in messages."""
    top_rules: int = Field(default=20, ge=1, le=100)
    """Rules given their own ``secpipe_findings_by_rule`` series (the most frequent); the
    findings of every other rule are summed under ``rule="other"``."""

    @field_validator("pushgateway")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not has_refs(value):  # a reference is checked once resolved, when the run starts
            _check_url(value)
        return value

    @field_validator("grouping")
    @classmethod
    def _valid_grouping(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a valid Prometheus label name")
            if name in _RESERVED_GROUPING:
                raise ValueError(f"{name!r} is a label the sink sets itself")
            if not text or len(text) > MAX_LABEL_VALUE:
                raise ValueError(f"{name}: the value must have 1 to {MAX_LABEL_VALUE} "
                                 "characters")
        return value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in _MANAGED:
                raise ValueError(f"{name} is set by the sink itself")
            try:
                _check_header_value(text)
            except ValueError as exc:
                raise ValueError(f"{name}: the value {exc}") from None
        return value

    @model_validator(mode="after")
    def _sees_the_run(self) -> PrometheusSettings:
        from fnmatch import fnmatchcase

        missing = [n for n in _NEEDED_EVENTS
                   if not any(fnmatchcase(n, p) for p in self.events)]
        if missing:
            raise ValueError("the prometheus sink pushes a run's metrics when it ends and "
                             f"needs these events: {', '.join(missing)}")
        if self.min_severity is not None:
            raise ValueError("min_severity cannot be used with the prometheus sink: the "
                             "metrics cover every step (filter in Prometheus instead)")
        return self


@dataclass
class _Step:
    stage: str
    step: str
    kind: str
    status: str
    duration: float
    skipped: int
    metrics: dict[str, float]


@dataclass
class _RunState:
    run_id: str
    pipeline: str
    project: str
    started: float
    stage_started: dict[str, float] = field(default_factory=dict)
    stages: dict[str, tuple[str, float]] = field(default_factory=dict)
    steps: dict[tuple[str, str], _Step] = field(default_factory=dict)
    severities: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    gates: dict[tuple[str, str], bool] = field(default_factory=dict)
    dropped: int = 0


class PrometheusSink(Sink[PrometheusSettings]):
    """Pushes one run's metrics to a Pushgateway when the run ends."""

    kind = "prometheus"
    summary = "push a run's metrics to a Prometheus Pushgateway when it ends"
    Settings = PrometheusSettings

    def __init__(self, settings: PrometheusSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        secrets = context.secrets
        base = secrets.resolve(settings.pushgateway, "with.pushgateway")
        try:
            origin = _check_url(base)
        except ValueError as exc:
            raise ConfigError(f"with.pushgateway: the resolved URL {exc}") from None
        self._base = base.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        self._where = "the Pushgateway from a secret" if has_refs(settings.pushgateway) \
            else origin
        self._headers = {"Content-Type": CONTENT_TYPE, "User-Agent": f"secpipe/{__version__}"}
        for name, value in settings.headers.items():
            resolved = secrets.resolve(value, f"with.headers.{name}")
            try:
                _check_header_value(resolved)
            except ValueError as exc:
                raise ConfigError(f"with.headers.{name}: the resolved value {exc}") from None
            self._headers[name] = resolved
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._run: _RunState | None = None

    # -- gathering ------------------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._run = _RunState(event.run_id, event.pipeline,
                                  self.settings.project or event.project, event.time)
            return
        run = self._run
        if run is None or run.run_id != event.run_id:
            if isinstance(event, RunFinished) and event.run_id.startswith(TEST_RUN_PREFIX):
                self._check_connection(event)
                return
            if isinstance(event, RunFinished):
                raise SinkError("run.finished arrived without its run.started: nothing to "
                                "push (the group keeps the previous run's metrics)",
                                retry=False)
            return  # a stray event of another run: nothing to add
        if isinstance(event, StageStarted):
            run.stage_started.setdefault(event.stage, event.time)
        elif isinstance(event, StageFinished):
            self._stage(run, event)
        elif isinstance(event, StepFinished):
            self._step(run, event)
        elif isinstance(event, GateDecided):
            run.gates[(event.stage, event.step)] = event.decision.passed
        elif isinstance(event, RunFinished):
            self._push(run, event)

    def _stage(self, run: _RunState, event: StageFinished) -> None:
        if event.stage not in run.stages and len(run.stages) >= MAX_STEPS:
            run.dropped += 1
            return
        began = run.stage_started.get(event.stage, event.time)
        run.stages[event.stage] = (event.status, max(0.0, event.time - began))

    def _step(self, run: _RunState, event: StepFinished) -> None:
        for name, count in event.severities.items():
            run.severities[name] += int(count)
        self._count_rules(run, event)
        if event.gate is not None:
            run.gates[(event.stage, event.step)] = event.gate.passed
        key = (event.stage, event.step)
        if key not in run.steps and len(run.steps) >= MAX_STEPS:
            run.dropped += 1
            return
        metrics: dict[str, float] = {}
        raw = getattr(event, "metrics", None)  # StepResult.metrics, when events carry them
        if isinstance(raw, Mapping):
            for name, value in raw.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics[str(name)] = float(value)
        run.steps[key] = _Step(event.stage, event.step, event.kind, event.status,
                               max(0.0, float(event.duration)), int(event.skipped), metrics)

    @staticmethod
    def _count_rules(run: _RunState, event: StepFinished) -> None:
        counts = getattr(event, "rules", None)  # a full count per rule, when events carry one
        if isinstance(counts, Mapping) and counts:
            for rule, count in counts.items():
                run.rules[str(rule)] += int(count)
            return
        listed = Counter(brief.rule_id for brief in event.top)
        run.rules.update(listed)
        rest = int(event.findings) - sum(listed.values())
        if rest > 0:  # findings the event does not list one by one
            run.rules[OTHER_RULE] += rest

    # -- pushing --------------------------------------------------------------------------------
    def _label(self, value: str) -> str:
        text = self.redact(str(value))
        return text if len(text) <= MAX_LABEL_VALUE else text[: MAX_LABEL_VALUE - 1] + "…"

    def _grouping(self, run: _RunState) -> list[tuple[str, str]]:
        return [("job", self.settings.job), ("pipeline", self._label(run.pipeline)),
                ("project", self._label(run.project)),
                *((k, self._label(v)) for k, v in self.settings.grouping.items())]

    def exposition(self, run: _RunState, finished: RunFinished) -> str:
        """The body of the run's push (public for tests and ``secpipe notify test``)."""
        out = Exposition()
        lab = self._label
        out.add("secpipe_last_run_timestamp_seconds",
                "Unix time the last run of this pipeline ended.", finished.time)
        out.add("secpipe_run_duration_seconds", "Duration of the last run.",
                max(0.0, finished.time - run.started))
        for status in RUN_STATUSES:
            out.add("secpipe_run_status", "1 for the last run's status, 0 for the others.",
                    1.0 if finished.status == status else 0.0, {"status": status})
        out.add("secpipe_run_exit_code", "Exit code of the last run (0 passed, 1 a gate "
                "failed, 2 error, 130 interrupted).", finished.exit_code)
        for stage, (status, seconds) in run.stages.items():
            out.add("secpipe_stage_duration_seconds", "Duration of each stage of the last run.",
                    seconds, {"stage": lab(stage)})
            out.add("secpipe_stage_passed", "1 when the stage passed in the last run.",
                    1.0 if status == "passed" else 0.0, {"stage": lab(stage)})
        metric_count = 0
        for step in run.steps.values():
            ids = {"stage": lab(step.stage), "step": lab(step.step), "kind": lab(step.kind)}
            out.add("secpipe_step_duration_seconds", "Duration of each step of the last run.",
                    step.duration, ids)
            for status in STEP_STATUSES:
                out.add("secpipe_step_status", "1 for each step's status, 0 for the others.",
                        1.0 if step.status == status else 0.0, {**ids, "status": status})
            out.add("secpipe_step_unanalysed_inputs", "Inputs a step could not fully analyse.",
                    step.skipped, ids)
            for name, value in step.metrics.items():
                metric_count += 1
                if metric_count > MAX_STEP_METRICS:
                    run.dropped += 1
                    continue
                out.add("secpipe_step_metric", "Named numbers of each step (a model's "
                        "accuracy, files scanned …) in the last run.", value,
                        {**ids, "name": lab(name)})
        for severity in SEVERITIES:
            out.add("secpipe_findings", "Findings of the last run by severity.",
                    run.severities.get(severity, 0), {"severity": severity})
        top = [(rule, n) for rule, n in run.rules.most_common() if rule != OTHER_RULE]
        kept = top[: self.settings.top_rules]
        other = run.rules.get(OTHER_RULE, 0) + sum(n for _, n in top[self.settings.top_rules:])
        rule_help = ("Findings of the last run by rule (the most frequent rules; the rest "
                     f"under rule=\"{OTHER_RULE}\").")
        for rule, count in kept:
            out.add("secpipe_findings_by_rule", rule_help, count, {"rule": lab(rule)})
        out.add("secpipe_findings_by_rule", rule_help, other, {"rule": OTHER_RULE})
        for (stage, gate), passed in run.gates.items():
            out.add("secpipe_gate_passed", "1 when the gate passed in the last run, 0 when "
                    "it failed.", 1.0 if passed else 0.0, {"stage": lab(stage), "gate": lab(gate)})
        out.add("secpipe_series_dropped", "Stages, steps and step metrics left out by the "
                "sink's bounds.", run.dropped)
        return out.render()

    def _push(self, run: _RunState, finished: RunFinished) -> None:
        grouping = self._grouping(run)
        body = self.exposition(run, finished).encode()
        if len(body) > MAX_BODY:  # cannot happen within the bounds; never send a huge body
            raise SinkError(f"metrics of the run are {len(body)} bytes (limit {MAX_BODY})",
                            retry=False)
        self._put(grouping_path(grouping), body)
        if finished.status == "passed":
            success = Exposition()
            success.add("secpipe_last_success_timestamp_seconds",
                        "Unix time the last passing run of this pipeline ended.", finished.time)
            self._put(grouping_path([*grouping, ("outcome", "passed")]),
                      success.render().encode())

    def _check_connection(self, finished: RunFinished) -> None:
        """``secpipe notify test``: PUT one sample to a ``pipeline="notify-test"`` group, then
        DELETE that group, so the check proves the URL and credentials and leaves nothing."""
        grouping = [("job", self.settings.job), ("pipeline", "notify-test"),
                    ("project", self._label(self.settings.project or "notify-test")),
                    *((k, self._label(v)) for k, v in self.settings.grouping.items())]
        body = Exposition()
        body.add("secpipe_notify_test_timestamp_seconds",
                 "Unix time of a `secpipe notify test` (the group is deleted right after).",
                 finished.time)
        path = grouping_path(grouping)
        self._put(path, body.render().encode())
        self._put(path, b"", method="DELETE")

    def _put(self, path: str, body: bytes, method: str = "PUT") -> None:
        request = urllib.request.Request(  # noqa: S310 - _check_url allows http(s) only
            f"{self._base}/metrics{path}", data=body if method == "PUT" else None,
            headers=self._headers, method=method)
        try:
            with self._opener.open(request, timeout=self.settings.timeout):
                return  # urllib raises HTTPError for anything but 2xx
        except urllib.error.HTTPError as exc:
            code = exc.code
            detail = _answer(exc)
            exc.close()
            note = " (redirects are not followed)" if 300 <= code < 400 else ""
            retry = code >= 500 or code in _RETRYABLE_4XX
            raise SinkError(self.redact(f"{method} to {self._where}: HTTP {code}{note}{detail}"),
                            retry=retry) from None
        except urllib.error.URLError as exc:
            raise SinkError(f"{method} to {self._where}: {_reason(exc.reason)}") from None
        except (OSError, HTTPException, ValueError) as exc:
            raise SinkError(f"{method} to {self._where}: {_reason(exc)}") from None


def _answer(exc: urllib.error.HTTPError) -> str:
    """The first line of a Pushgateway error answer (it says which line of the body it
    refused), bounded; empty when unreadable."""
    try:
        text = exc.read(500).decode("utf-8", "replace")
    except Exception:
        return ""
    line = " ".join(text.split())[:200]
    return f": {line}" if line else ""
