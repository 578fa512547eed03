"""The ``telegram`` sink: a run summary sent with the Bot API's ``sendMessage``.

It accumulates the run's events and sends a summary when a trigger arrives (``send_on``, see
:mod:`secpipe.sinks.summary`): at once when a gate fails, and at the end of the run.

The text uses ``parse_mode: MarkdownV2``: every one of ``_ * [ ] ( ) ~ ` > # + - = | { } . !``
and the backslash is escaped with a backslash in ordinary text, only the backtick and the
backslash inside code, only ``)`` and the backslash inside a link's URL. Telegram takes at most
:data:`MESSAGE_LIMIT` characters a message; the sink counts them *after* escaping and in UTF-16
code units (never fewer than Telegram counts), and a longer summary becomes several messages sent
in order, split between lines, or, for one line over the limit, between two characters of its
unformatted form without ever cutting an escape (``\\.``) in two.

The bot token is a secret reference (``${env:TELEGRAM_BOT_TOKEN}``); it is part of the request
path, so no message ever shows the URL. ``api_base`` (default ``https://api.telegram.org``)
lets tests point the sink at a local receiver. A 429 carries ``parameters.retry_after`` to the
bus; 5xx and network errors are retried, other errors are not.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import has_refs
from secpipe.sinks.interface import SinkContext, SinkError, retry_after_from
from secpipe.sinks.summary import (
    ChatSettings,
    ChatSink,
    Line,
    RunSummary,
    pack_lines,
    post_json,
    short,
    utf16_len,
)

MESSAGE_LIMIT = 4096
"""Characters of one message (counted after escaping, in UTF-16 code units)."""
SPECIAL = "_*[]()~`>#+-=|{}.!\\"
"""Characters MarkdownV2 needs escaped in ordinary text."""
_ESCAPE = re.compile("([" + re.escape(SPECIAL) + "])")
_TOKEN = re.compile(r"\\.|.", re.DOTALL)
_TOKEN_FORMAT = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,200}$")
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,64})$")
_ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "interrupted": "⏹️"}


def escape(text: str) -> str:
    """``text`` escaped for ordinary MarkdownV2 text."""
    return _ESCAPE.sub(r"\\\1", text)


def code(text: str) -> str:
    """An inline code entity: inside it only the backtick and the backslash are escaped."""
    inner = text.replace("\\", "\\\\").replace("`", "\\`")
    return f"`{inner}`" if inner else "` `"


def link(label: str, url: str) -> str:
    """An inline link: inside the URL only ``)`` and the backslash are escaped."""
    return f"[{escape(label)}](" + url.replace("\\", "\\\\").replace(")", "\\)") + ")"


def render_lines(summary: RunSummary) -> list[Line]:
    """The summary as MarkdownV2 lines (each with its unformatted, escaped form)."""
    lines: list[Line] = []

    def add(formatted: str, plain: str) -> None:
        lines.append(Line(formatted, plain))

    head = escape(summary.headline)
    add(f"*{head}*", head)
    run = f"run {summary.run_id}" + (f" · exit code {summary.exit_code}"
                                     if summary.exit_code is not None else "")
    add(escape(run), escape(run))
    if summary.stages:
        add("*Stages*", "Stages")
        for name, status in summary.stages:
            text = f"{_ICON.get(status, '•')} {name}: {status}"
            add(escape(text), escape(text))
        if summary.more_stages:
            add(escape(f"({summary.more_stages} more stages)"), "")
    for gate in summary.gates:
        verdict = "passed" if gate.passed else "failed"
        text = f"{_ICON[verdict]} Gate {gate.step} (stage {gate.stage}): {verdict}"
        add(f"{_ICON[verdict]} *Gate {escape(gate.step)}* "
            f"{escape(f'(stage {gate.stage}): {verdict}')}", escape(text))
        for reason in gate.reasons:
            add(escape(f"• {reason}"), "")
        if gate.more_reasons:
            add(escape(f"({gate.more_reasons} more reasons)"), "")
    if summary.more_gates:
        add(escape(f"({summary.more_gates} more gates)"), "")
    if summary.errored:
        add("*Steps that could not complete*", "Steps that could not complete")
        for step in summary.errored:
            add(escape(f"⚠️ {step.step} (stage {step.stage}): {step.message}"), "")
        if summary.more_errored:
            add(escape(f"({summary.more_errored} more errored steps)"), "")
    counts = f"Findings: {summary.counts_text()}"
    add(f"*Findings:* {escape(summary.counts_text())}", escape(counts))
    if summary.top:
        title = f"Top findings ({len(summary.top)} of {summary.total_findings})"
        add(f"*{escape(title)}*", escape(title))
        for brief in summary.top:
            text = (f"• {brief.severity.upper()} {brief.rule_id} {brief.title} — "
                    f"{brief.location}")
            add(f"• *{escape(brief.severity.upper())}* {code(brief.rule_id)} "
                f"{escape(brief.title)} — {code(brief.location)}", escape(text))
    if summary.more_findings:
        add(escape(f"({summary.more_findings} more findings)"), "")
    if summary.report_url:
        add(link("Open the report", summary.report_url), escape(summary.report_url))
    return lines


def render_texts(summary: RunSummary) -> list[str]:
    """The texts of the messages that say ``summary``, each at most :data:`MESSAGE_LIMIT`."""
    return pack_lines(render_lines(summary), MESSAGE_LIMIT, _TOKEN, utf16_len)


class TelegramSettings(ChatSettings):
    """``with:`` of a ``telegram`` sink."""

    bot_token: str = Field(min_length=1)
    """The bot's token, as a secret reference (``${env:TELEGRAM_BOT_TOKEN}``)."""
    chat_id: str
    """The chat: a numeric id (``-1001234567890``) or a channel's ``@username``."""
    api_base: str = "https://api.telegram.org"
    """The Bot API's address (tests point it at a local receiver)."""
    message_thread_id: int | None = Field(default=None, ge=1)
    """A forum topic of the chat to post in."""
    disable_notification: bool = False
    """Send silently."""

    @field_validator("chat_id", mode="before")
    @classmethod
    def _valid_chat(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _CHAT_ID.match(value):
            raise ValueError("must be a numeric chat id or a @channel username")
        return value

    @field_validator("bot_token")
    @classmethod
    def _is_a_reference(cls, value: str) -> str:
        if not has_refs(value):
            raise ValueError("must be a secret reference such as ${env:TELEGRAM_BOT_TOKEN}")
        return value

    @field_validator("api_base")
    @classmethod
    def _valid_base(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#@]+(/[^\s?#]*)?$", value):
            raise ValueError("must be an http:// or https:// URL without credentials, "
                             "query or fragment")
        return value.rstrip("/")


class TelegramSink(ChatSink[TelegramSettings]):
    """Sends a MarkdownV2 run summary to a Telegram chat through the Bot API."""

    kind = "telegram"
    summary = "send a run summary (gates, top findings, report link) to a Telegram chat"
    Settings = TelegramSettings

    def __init__(self, settings: TelegramSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        self._token = context.secrets.resolve(settings.bot_token, "with.bot_token")
        if not _TOKEN_FORMAT.match(self._token):
            raise ConfigError("with.bot_token: the resolved value is not a bot token "
                              "(digits, a colon, then letters, digits, _ or -)")
        self._url = f"{settings.api_base}/bot{self._token}/sendMessage"
        self._where = "Telegram sendMessage"

    def render(self, summary: RunSummary) -> list[dict[str, Any]]:
        payloads = []
        for text in render_texts(summary):
            payload: dict[str, Any] = {
                "chat_id": self.settings.chat_id, "text": text, "parse_mode": "MarkdownV2",
                "link_preview_options": {"is_disabled": True}}
            if self.settings.message_thread_id is not None:
                payload["message_thread_id"] = self.settings.message_thread_id
            if self.settings.disable_notification:
                payload["disable_notification"] = True
            payloads.append(payload)
        return payloads

    def _clean(self, text: str) -> str:
        return short(self.redact(text.replace(self._token, "***")), 160)

    def send(self, payload: dict[str, Any]) -> None:
        reply = post_json(self._url, payload, timeout=self.settings.timeout, where=self._where)
        data = reply.json()
        data = data if isinstance(data, dict) else {}
        if 200 <= reply.status < 300 and data.get("ok") is True:
            return
        code_ = data.get("error_code", reply.status)
        code_ = code_ if isinstance(code_, int) else reply.status
        said = data.get("description")
        detail = f": {self._clean(said)}" if isinstance(said, str) and said else ""
        params = data.get("parameters")
        params = params if isinstance(params, dict) else {}
        if code_ == 429 or reply.status == 429:
            delay = params.get("retry_after")
            wait = (float(delay) if isinstance(delay, int | float) and not isinstance(delay, bool)
                    else retry_after_from(reply.headers))
            raise SinkError(f"{self._where}: HTTP 429 (rate limited){detail}", retry_after=wait)
        migrated = params.get("migrate_to_chat_id")
        if isinstance(migrated, int) and not isinstance(migrated, bool):
            raise SinkError(f"{self._where}: the chat became a supergroup; set chat_id to "
                            f"{migrated}", retry=False)
        if 200 <= reply.status < 300:  # 2xx without ok: true is not a delivery
            raise SinkError(f"{self._where}: HTTP {reply.status} without ok{detail}")
        if 300 <= reply.status < 400:
            raise SinkError(f"{self._where}: HTTP {reply.status} (redirects are not followed)",
                            retry=False)
        raise SinkError(f"{self._where}: HTTP {reply.status}{detail}",
                        retry=reply.status >= 500 or reply.status in (408, 425))
