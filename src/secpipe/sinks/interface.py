"""The sink interface: what every sink implements, and the settings every sink shares.

A sink receives the run's typed events (:mod:`secpipe.core.events`) one at a time, in emit order,
on its own delivery thread (:class:`secpipe.sinks.bus.SinkBus`). ``deliver`` either returns (the
event is delivered) or raises :class:`SinkError`; the bus retries with backoff and records what
could not be delivered. A sink never sees an event its settings filter out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secpipe.core.errors import SecpipeError
from secpipe.core.events import EVENT_TYPES, Event, StepFinished
from secpipe.core.findings import Severity
from secpipe.core.interfaces import Secrets

EVENT_NAMES: tuple[str, ...] = tuple(t.type for t in EVENT_TYPES)
"""Every event type name, in the order a run emits them."""
CHATTY_EVENTS: tuple[str, ...] = ("step.progress", "step.log")
"""High-volume events a remote sink does not receive unless its ``events:`` names them."""
DEFAULT_EVENTS: tuple[str, ...] = tuple(n for n in EVENT_NAMES if n not in CHATTY_EVENTS)
"""The default ``events:`` of a sink: everything but progress and log lines."""


MAX_RETRY_AFTER = 86_400.0
"""The longest ``Retry-After`` :func:`retry_after_from` reports (a day); longer is cut to it."""


class SinkError(SecpipeError):
    """A sink could not deliver an event. The message is one line and never holds a secret;
    ``retry=False`` says another attempt cannot succeed (a rejected request), so the bus records
    the failure without retrying. ``retry_after`` is how many seconds the receiver asked the
    sender to wait (HTTP ``Retry-After``, Telegram's ``parameters.retry_after``): the bus waits
    at least that long before the next attempt, and spools the event when the wait is longer
    than a retry may wait."""

    def __init__(self, message: str, *, hint: str | None = None, retry: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry = retry
        self.retry_after = _clean_delay(retry_after)


def _clean_delay(value: float | None) -> float | None:
    """A usable delay in seconds (0 … :data:`MAX_RETRY_AFTER`), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def retry_after_from(headers: Mapping[str, str] | Message | None, *,
                     now: float | None = None) -> float | None:
    """The delay an HTTP ``Retry-After`` header asks for, in seconds, or None.

    ``headers`` is any case-insensitive header collection (``HTTPError.headers``, an
    ``http.client.HTTPResponse.headers``) or a plain mapping (looked up in any case). The value
    is either delay-seconds (``120``) or an HTTP-date (``Wed, 21 Oct 2015 07:28:00 GMT``, made
    relative to ``now``, Unix time, default the clock; a date in the past is 0). A missing,
    malformed or negative value is None; a delay is cut to :data:`MAX_RETRY_AFTER`. Sinks pass
    the result on: ``raise SinkError(..., retry_after=retry_after_from(exc.headers))``.
    """
    if headers is None:
        return None
    raw: object = None
    if isinstance(headers, Message):
        raw = headers.get("Retry-After")
    else:
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == "retry-after":
                raw = value
                break
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > 64:
        return None
    if text.isascii() and text.replace(".", "", 1).isdigit():
        return _clean_delay(float(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:  # RFC 9110: an HTTP-date is always GMT
        return None
    current = time.time() if now is None else now
    return _clean_delay(max(0.0, when.timestamp() - current))


class SinkSettings(BaseModel):
    """Settings every sink has (its ``with:`` block in ``secpipe.yaml``); unknown keys are errors.
    A sink kind subclasses this model to add its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    events: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    """Glob patterns over event type names (``step.*``, ``gate.decided``); an event is delivered
    when one matches. Default: every type but ``step.progress`` and ``step.log``."""
    min_severity: Severity | None = None
    """Drop ``step.finished`` events whose worst finding is below this (a step that found
    nothing is below every severity; a step that errored is always delivered). Events that carry
    no severity (run, stage, gate, log, progress) are never dropped by it."""
    retries: int = Field(default=3, ge=0, le=10)
    """Further attempts after a failed delivery, before the event is recorded as not delivered."""
    backoff: float = Field(default=0.5, ge=0, le=30)
    """Seconds before the first retry; doubled for each further retry (at most 30 s each)."""
    timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds one delivery attempt may take (the sink applies it to its requests)."""

    @field_validator("events")
    @classmethod
    def _known_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not any(fnmatchcase(name, pattern) for name in EVENT_NAMES):
                raise ValueError(f"{pattern!r} matches no event type "
                                 f"(known: {', '.join(EVENT_NAMES)})")
        return value

    @field_validator("min_severity", mode="before")
    @classmethod
    def _parse_severity(cls, value: object) -> object:
        return Severity.parse(value) if isinstance(value, str) else value

    def accepts(self, event: Event) -> bool:
        """True when this sink should receive ``event``."""
        if not any(fnmatchcase(event.type, pattern) for pattern in self.events):
            return False
        if self.min_severity is None or type(event).severity is Event.severity:
            return True  # no threshold, or an event type that carries no severity
        if isinstance(event, StepFinished) and event.status == "error":
            return True  # could not judge: never "below" a threshold
        worst = event.severity
        return worst is not None and worst.rank >= self.min_severity.rank


@dataclass(frozen=True)
class SinkContext:
    """What a sink may use besides its settings."""

    name: str
    """The sink's name (its key under ``sinks:``); failure lines and errors name it."""
    project_root: Path
    """The project folder (the one holding ``secpipe.yaml``)."""
    secrets: Secrets
    """The run's resolver: ``resolve(value, what)`` for ``${env:…}`` references in settings,
    ``redact(text)`` to mask every value it handed out."""


class NoSecrets:
    """A :class:`~secpipe.core.interfaces.Secrets` for sinks made outside a run (the console of
    ``secpipe scan``): it resolves nothing and has nothing to redact."""

    def resolve(self, value: str, what: str = "setting") -> str:
        return value

    def resolve_optional(self, value: str | None, what: str = "setting") -> str | None:
        return value

    def resolve_all(self, value: Any, what: str = "settings", _depth: int = 0) -> Any:
        return value

    def redact(self, text: str) -> str:
        return text


SettingsT = TypeVar("SettingsT", bound=SinkSettings)


class Sink(Generic[SettingsT]):
    """Base class of sinks: ``class MySink(Sink[MySettings])`` sets ``kind``, ``summary``,
    ``Settings = MySettings`` and implements ``deliver`` (and ``close`` if it holds resources).

    ``__init__`` runs when the run starts (resolve secret references there, so a missing secret
    is a configuration error before any step runs); ``deliver`` and ``close`` run on the sink's
    own delivery thread, never concurrently with each other.
    """

    kind: ClassVar[str] = ""
    """The ``uses:`` name."""
    summary: ClassVar[str] = ""
    """One line saying where events go."""
    Settings: ClassVar[type[SinkSettings]] = SinkSettings
    """The ``with:`` model (the same class as the type parameter)."""
    spools: ClassVar[bool] = True
    """Whether events it could not deliver are spooled for ``secpipe notify replay`` (when the
    bus has a spool). A sink whose output cannot be replayed later (the console) sets False."""

    def __init__(self, settings: SettingsT, context: SinkContext) -> None:
        self.settings = settings
        self.context = context

    @property
    def name(self) -> str:
        return self.context.name

    def deliver(self, event: Event) -> None:  # pragma: no cover - abstract
        """Deliver one event or raise :class:`SinkError` (one line, no secret)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sink holds; called once, after its last delivery."""
        return None

    def redact(self, text: str) -> str:
        """``text`` with every secret value of the run masked."""
        return self.context.secrets.redact(text)
