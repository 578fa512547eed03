"""A neutral run summary for chat sinks (Slack, Telegram), built from the events a sink sees.

A chat sink does not post one message per event: it *accumulates* the events it receives
(``run.started``, ``step.finished``, ``stage.finished``, ``gate.decided``, ``run.finished``) in a
:class:`SummaryBuilder` and posts a summary when a *trigger* arrives (``send_on``):

* ``gate.failed`` — a ``gate.decided`` whose gate failed: the team hears of it at once, with the
  reasons and the worst findings so far, not only when the run ends;
* ``gate.decided`` — every gate decision, passed or failed;
* ``run.finished`` — the whole run: stage statuses, gate verdicts, counts by severity, top
  findings, report link.

:class:`ChatSink` is the shared base: the builder, the trigger, and an *outbox* of rendered
messages for the current trigger. A summary longer than one message is several messages sent in
order; when one of them fails the bus retries the same event and the sink resumes with the first
message not yet sent, so a retry never posts a message twice.

Every text that enters the summary passes the run's secret redaction first (before any escaping,
so an escaped secret cannot slip through), and is bounded (:data:`MAX_TEXT` characters, cut with
a visible marker). Rendering and the exact limits of each service are the sinks' business.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http.client import HTTPException
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from secpipe import __version__
from secpipe.core.events import (
    Event,
    FindingBrief,
    GateDecided,
    RunFinished,
    RunStarted,
    StageFinished,
    StepFinished,
)
from secpipe.core.findings import Severity
from secpipe.keys.refs import has_refs
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings

Trigger = Literal["gate.failed", "gate.decided", "run.finished"]
TRIGGERS: tuple[str, ...] = ("gate.failed", "gate.decided", "run.finished")
"""What ``send_on`` may name."""
MAX_TEXT = 2000
"""Characters of one text (a title, a reason, a message) a summary keeps; longer is cut with
``… (+N characters)``."""
MAX_KEPT_FINDINGS = 50
"""Findings a builder keeps (the worst); ``max_findings`` cannot exceed it."""
MAX_GATES = 20
"""Gate verdicts a summary lists; more are counted."""
MAX_REASONS = 20
"""Reasons listed per gate; more are counted."""
MAX_ERRORED = 20
"""Errored steps listed; more are counted."""
MAX_STAGES = 100
"""Stages listed; more are counted."""
MAX_RESPONSE = 64 * 1024
"""Bytes of a response body a chat sink reads at most."""
_PLACEHOLDERS = ("{run_id}", "{pipeline}", "{project}")
_SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on at most ``limit`` characters, visibly cut (``… (+N characters)``)."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… (+{len(text) - limit} characters)"


@dataclass(frozen=True)
class GateVerdict:
    """One gate's decision as a summary shows it."""

    step: str
    stage: str
    passed: bool
    reasons: tuple[str, ...]
    more_reasons: int = 0
    """Reasons not listed (beyond :data:`MAX_REASONS`)."""


@dataclass(frozen=True)
class ErroredStep:
    """A step that could not complete (it judged nothing)."""

    step: str
    stage: str
    message: str


@dataclass(frozen=True)
class RunSummary:
    """What a chat message says about a run, already redacted and bounded."""

    run_id: str
    pipeline: str
    project: str
    trigger: str
    """Why it is sent: ``gate.failed``, ``gate.decided`` or ``run.finished``."""
    status: str
    """``running`` until ``run.finished``, then passed, failed, error or interrupted."""
    exit_code: int | None = None
    gate: str | None = None
    """The gate step whose decision triggered it (gate triggers)."""
    stages: tuple[tuple[str, str], ...] = ()
    """(stage, status): passed, failed, error, or ``pending`` / ``not run``."""
    more_stages: int = 0
    gates: tuple[GateVerdict, ...] = ()
    more_gates: int = 0
    errored: tuple[ErroredStep, ...] = ()
    more_errored: int = 0
    counts: tuple[tuple[str, int], ...] = ()
    """(severity, count), worst first, only non-zero counts."""
    total_findings: int = 0
    top: tuple[FindingBrief, ...] = ()
    """The worst findings, at most ``max_findings``."""
    report_url: str | None = None

    @property
    def more_findings(self) -> int:
        """Findings counted but not listed in :attr:`top`."""
        return max(0, self.total_findings - len(self.top))

    @property
    def outcome(self) -> str:
        """One word for the headline: the gate's verdict or the run's status, upper case."""
        if self.trigger != "run.finished":
            verdict = next((g for g in self.gates if g.step == self.gate), None)
            return "GATE FAILED" if verdict is None or not verdict.passed else "GATE PASSED"
        return self.status.upper()

    @property
    def headline(self) -> str:
        """``secpipe: mlsecops on demo: FAILED`` (plain text, unescaped)."""
        pipeline = self.pipeline or "a run"  # e.g. a replayed event without its run.started
        subject = f"{pipeline} on {self.project}" if self.project else pipeline
        gate = f" ({self.gate})" if self.gate and self.trigger != "run.finished" else ""
        return f"secpipe: {subject}: {self.outcome}{gate}"

    def counts_text(self) -> str:
        """``1 critical, 2 high`` or ``none``."""
        return ", ".join(f"{n} {s}" for s, n in self.counts) or "none"


def trigger_of(event: Event, send_on: Iterable[str]) -> str | None:
    """The ``send_on`` trigger ``event`` fires, or None."""
    wanted = set(send_on)
    if isinstance(event, RunFinished) and "run.finished" in wanted:
        return "run.finished"
    if isinstance(event, GateDecided):
        if "gate.decided" in wanted:
            return "gate.decided"
        if "gate.failed" in wanted and not event.decision.passed:
            return "gate.failed"
    return None


def report_link(template: str | None, run_id: str, pipeline: str, project: str) -> str | None:
    """``report_url`` with ``{run_id}``, ``{pipeline}``, ``{project}`` filled in (URL-quoted)."""
    if not template:
        return None
    url = template
    for name, value in (("run_id", run_id), ("pipeline", pipeline), ("project", project)):
        url = url.replace("{" + name + "}", quote(value, safe=""))
    return url


class SummaryBuilder:
    """Accumulates one run's events into a :class:`RunSummary` (bounded, redacted on entry)."""

    def __init__(self, redact: Callable[[str], str], *, max_findings: int = 10,
                 report_url: str | None = None) -> None:
        self._redact = redact
        self._max_findings = max(0, min(max_findings, MAX_KEPT_FINDINGS))
        self._report_url = report_url
        self.reset("")

    def reset(self, run_id: str) -> None:
        """Forget everything; start on ``run_id``."""
        self.run_id = run_id
        self.pipeline = ""
        self.project = ""
        self.status = "running"
        self.exit_code: int | None = None
        self._stages: dict[str, str] = {}
        self._gates: dict[str, GateVerdict] = {}
        self._errored: list[ErroredStep] = []
        self._errored_more = 0
        self._more_stages: set[str] = set()
        self._more_gates: set[str] = set()
        self._counts: dict[str, int] = {}
        self._findings: dict[str, FindingBrief] = {}

    def _text(self, value: object) -> str:
        return bounded(self._redact(str(value)))

    def add(self, event: Event) -> None:
        """Take one event into the summary (a new ``run_id`` starts afresh)."""
        if event.run_id != self.run_id:
            self.reset(event.run_id)
        if isinstance(event, RunStarted):
            self.pipeline = self._text(event.pipeline)
            self.project = self._text(event.project)
            for name in event.stage_names:
                self._add_stage(self._text(name), "pending", keep=True)
        elif isinstance(event, StageFinished):
            self._add_stage(self._text(event.stage), self._text(event.status))
        elif isinstance(event, StepFinished):
            self._add_step(event)
        elif isinstance(event, GateDecided):
            self._add_gate(event.step, event.stage, event.decision.passed,
                           event.decision.reasons)
        elif isinstance(event, RunFinished):
            self.pipeline = self.pipeline or self._text(event.pipeline)
            self.status = self._text(event.status)
            self.exit_code = event.exit_code

    def _add_stage(self, name: str, status: str, keep: bool = False) -> None:
        if name in self._stages:
            if not keep:
                self._stages[name] = status
        elif len(self._stages) < MAX_STAGES:
            self._stages[name] = status
        else:
            _add_bounded(self._more_stages, name)

    def _add_step(self, event: StepFinished) -> None:
        for severity, count in event.severities.items():
            if count > 0:
                self._counts[severity] = self._counts.get(severity, 0) + int(count)
        for brief in event.top:
            key = brief.fingerprint or f"{brief.rule_id}@{brief.location}"
            if key not in self._findings:
                self._findings[key] = FindingBrief(
                    self._text(brief.severity), self._text(brief.rule_id),
                    self._text(brief.title), self._text(brief.location), brief.fingerprint)
        if len(self._findings) > MAX_KEPT_FINDINGS:  # keep the worst only
            worst = sorted(self._findings.items(), key=lambda kv: _finding_order(kv[1]))
            self._findings = dict(worst[:MAX_KEPT_FINDINGS])
        if event.status == "error":
            if len(self._errored) < MAX_ERRORED:
                self._errored.append(ErroredStep(self._text(event.step), self._text(event.stage),
                                                 self._text(event.message)))
            else:
                self._errored_more += 1
        if event.gate is not None:  # a gate's verdict also arrives here (and in gate.decided)
            self._add_gate(event.step, event.stage, event.gate.passed, event.gate.reasons)

    def _add_gate(self, step: str, stage: str, passed: bool, reasons: Sequence[str]) -> None:
        name = self._text(step)
        if name not in self._gates and len(self._gates) >= MAX_GATES:
            _add_bounded(self._more_gates, name)
            return
        self._gates[name] = GateVerdict(
            name, self._text(stage), passed,
            tuple(self._text(r) for r in reasons[:MAX_REASONS]),
            max(0, len(reasons) - MAX_REASONS))

    def summary(self, trigger: str, gate: str | None = None) -> RunSummary:
        """The summary as it stands, for ``trigger`` (and the gate step that fired it)."""
        stages = list(self._stages.items())
        if self.status != "running":  # the run is over: a stage never finished did not run
            stages = [(n, "not run" if s == "pending" else s) for n, s in stages]
        gates = list(self._gates.values())
        counts = tuple((s, self._counts[s]) for s in _SEVERITIES if self._counts.get(s))
        counts += tuple(sorted((s, n) for s, n in self._counts.items() if s not in _SEVERITIES))
        top = sorted(self._findings.values(), key=_finding_order)[: self._max_findings]
        return RunSummary(
            run_id=self._text(self.run_id), pipeline=self.pipeline, project=self.project,
            trigger=trigger, status=self.status, exit_code=self.exit_code,
            gate=self._text(gate) if gate is not None else None,
            stages=tuple(stages), more_stages=len(self._more_stages),
            gates=tuple(gates), more_gates=len(self._more_gates),
            errored=tuple(self._errored), more_errored=self._errored_more,
            counts=counts, total_findings=sum(n for _, n in counts), top=tuple(top),
            report_url=self._link())

    def _link(self) -> str | None:
        url = report_link(self._report_url, self.run_id, self.pipeline, self.project)
        return None if url is None else self._redact(url)


def _add_bounded(names: set[str], name: str) -> None:
    """Remember a name beyond the listed ones, to count it (bounded memory)."""
    if len(names) < 10_000:
        names.add(name[:200])


def _finding_order(brief: FindingBrief) -> tuple[int, str, str]:
    try:
        rank = Severity(brief.severity).rank
    except ValueError:
        rank = -1
    return (-rank, brief.location, brief.rule_id)


def _default_triggers() -> list[Trigger]:
    return ["gate.failed", "run.finished"]


class ChatSettings(SinkSettings):
    """Keys every chat sink (Slack, Telegram) has, besides the common ones."""

    send_on: list[Trigger] = Field(default_factory=_default_triggers, min_length=1)
    """When a summary is posted: ``gate.failed`` (a gate failed: at once), ``gate.decided``
    (every gate decision), ``run.finished`` (the whole run)."""
    max_findings: int = Field(default=10, ge=0, le=MAX_KEPT_FINDINGS)
    """Top findings listed (worst first); the rest are counted, ``(n more findings)``."""
    report_url: str | None = None
    """Link to the run's report; ``{run_id}``, ``{pipeline}`` and ``{project}`` are filled in.
    It is posted to the chat, so it must not hold a secret reference."""

    @field_validator("report_url")
    @classmethod
    def _valid_report_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if has_refs(value):
            raise ValueError("must not hold a secret reference (it is posted to the chat)")
        rest = value
        for placeholder in _PLACEHOLDERS:
            rest = rest.replace(placeholder, "")
        if "{" in rest or "}" in rest:
            raise ValueError("only {run_id}, {pipeline} and {project} may be filled in")
        if not re.match(r"^https?://[^\s/?#]+", value):
            raise ValueError("must be an http:// or https:// URL")
        if any(c.isspace() or c in "<>|\"`" for c in value):
            raise ValueError("holds a space or one of < > | \" `")
        return value

    @model_validator(mode="after")
    def _triggers_are_received(self) -> ChatSettings:
        for trigger in self.send_on:
            event = "run.finished" if trigger == "run.finished" else "gate.decided"
            if not any(fnmatchcase(event, pattern) for pattern in self.events):
                raise ValueError(f"send_on: {trigger} needs {event} in events")
        return self


SettingsT = TypeVar("SettingsT", bound=ChatSettings)


class ChatSink(Sink[SettingsT]):
    """Base of the chat sinks: accumulate events, render a summary on a trigger, send it as one
    or more messages, resume after the first unsent message when the bus retries the event.

    Subclasses implement :meth:`render` (a summary to the payloads of its messages, each within
    the service's limits) and :meth:`send` (one payload; raise :class:`SinkError` on failure).
    """

    def __init__(self, settings: SettingsT, context: SinkContext) -> None:
        super().__init__(settings, context)
        self.builder = SummaryBuilder(self.redact, max_findings=settings.max_findings,
                                      report_url=settings.report_url)
        self._last: Event | None = None
        self._outbox: list[Any] = []
        self.sent = 0
        """Messages sent so far (tests and ``notify test`` read it)."""

    def deliver(self, event: Event) -> None:
        if event is not self._last:  # a new event (the bus retries with the same object)
            self._last = event
            self._outbox = []  # an unsent rest of an earlier event was given up by the bus
            self.builder.add(event)
            trigger = trigger_of(event, self.settings.send_on)
            if trigger is not None:
                gate = event.step if isinstance(event, GateDecided) else None
                self._outbox = list(self.render(self.builder.summary(trigger, gate)))
        while self._outbox:
            self.send(self._outbox[0])
            self._outbox.pop(0)
            self.sent += 1

    def render(self, summary: RunSummary) -> list[Any]:  # pragma: no cover - abstract
        """The payloads of the messages that say ``summary``, in order."""
        raise NotImplementedError

    def send(self, payload: Any) -> None:  # pragma: no cover - abstract
        """Post one message; raise :class:`SinkError` (one line, no secret) on failure."""
        raise NotImplementedError


# -- text splitting shared by the renderers ------------------------------------------------

def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (how Telegram counts; never less than ``len``)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Line:
    """One line of a message: ``formatted`` (escaped, with markup) and ``plain`` (escaped, no
    markup) used when the formatted line alone is over a limit and must be split."""

    formatted: str
    plain: str = ""

    def __post_init__(self) -> None:
        if not self.plain:
            object.__setattr__(self, "plain", self.formatted)


@dataclass
class _Packer:
    limit: int
    measure: Callable[[str], int]
    chunks: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    size: int = 0

    def flush(self) -> None:
        if self.current:
            self.chunks.append("\n".join(self.current))
        self.current, self.size = [], 0

    def add(self, text: str) -> None:
        cost = self.measure(text) + (1 if self.current else 0)
        if self.size + cost > self.limit:
            self.flush()
            cost = self.measure(text)
        self.current.append(text)
        self.size += cost


def pack_lines(lines: Sequence[Line], limit: int, token: re.Pattern[str],
               measure: Callable[[str], int] = len) -> list[str]:
    """Join ``lines`` with newlines into chunks of at most ``limit`` (by ``measure``), breaking
    between lines; a line over the limit is split, in its plain form, between two ``token``
    matches (so an escape such as ``\\.`` or ``&amp;`` is never cut in two)."""
    packer = _Packer(limit, measure)
    for line in lines:
        if measure(line.formatted) <= limit:
            packer.add(line.formatted)
            continue
        piece: list[str] = []
        size = 0
        for match in token.finditer(line.plain):
            tok = match.group(0)
            cost = measure(tok)
            if size + cost > limit and piece:
                packer.add("".join(piece))
                piece, size = [], 0
            piece.append(tok)
            size += cost
        if piece:
            packer.add("".join(piece))
    packer.flush()
    return [c for c in packer.chunks if c.strip()]


# -- HTTP shared by the chat sinks ----------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Reply:
    """A receiver's answer: status, headers (lower-case names) and at most
    :data:`MAX_RESPONSE` bytes of body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


def post_json(url: str, payload: Any, *, timeout: float, where: str) -> Reply:
    """POST ``payload`` as JSON; the reply whatever its status (redirects not followed). A
    network error or timeout raises a retryable :class:`SinkError` naming ``where`` only."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - the sinks check for http(s)
        url, data=body, method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "User-Agent": f"secpipe/{__version__}"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Reply(int(response.status),
                         {k.lower(): v for k, v in response.headers.items()},
                         response.read(MAX_RESPONSE))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read(MAX_RESPONSE)
        except (OSError, HTTPException):
            data = b""
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        exc.close()
        return Reply(exc.code, headers, data)
    except urllib.error.URLError as exc:
        raise SinkError(f"POST to {where}: {_reason(exc.reason)}") from None
    except (OSError, HTTPException, ValueError) as exc:
        raise SinkError(f"POST to {where}: {_reason(exc)}") from None


def _reason(exc: object) -> str:
    """A short cause that cannot hold a URL: a timeout, an OS error string, or a type name."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__ if isinstance(exc, BaseException) else "network error"


def short(text: str, limit: int = 120) -> str:
    """One line of at most ``limit`` printable characters (a receiver's error text)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
