"""The ``slack`` sink: a Block Kit summary of the run posted to a Slack incoming webhook.

It accumulates the run's events and posts a summary when a trigger arrives (``send_on``, see
:mod:`secpipe.sinks.summary`): at once when a gate fails, and at the end of the run. The message
holds a header, a section of fields (status, pipeline, project, run, findings by severity, exit
code), the stages, the gate verdicts with their reasons, errored steps, a section per top finding
and the report link.

Slack's limits are kept exactly, never by silent truncation: a header's text is at most
:data:`HEADER_LIMIT` characters, a section's text at most :data:`SECTION_LIMIT`, a section has at
most :data:`MAX_FIELDS` fields of at most :data:`FIELD_LIMIT` each, and a message at most
:data:`MAX_BLOCKS` blocks. Longer text becomes several sections (split between lines, or between
characters of a line without cutting an ``&amp;``), more blocks become several messages posted in
order, findings beyond ``max_findings`` are counted (``(n more findings)``). Lengths are counted
in UTF-16 code units, never fewer than Slack's characters. Text is escaped for mrkdwn (``&``,
``<``, ``>``).

The webhook URL holds Slack's credential, so it must be a secret reference
(``${env:SLACK_WEBHOOK_URL}``); no message ever shows it. A 429 carries Slack's ``Retry-After``
to the bus; 5xx and network errors are retried, other 4xx are not.
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

HEADER_LIMIT = 150
"""Characters of a header block's text."""
SECTION_LIMIT = 3000
"""Characters of a section block's text."""
FIELD_LIMIT = 2000
"""Characters of one field of a section."""
MAX_FIELDS = 10
"""Fields of one section."""
MAX_BLOCKS = 50
"""Blocks of one message."""
_TOKEN = re.compile(r"&(?:amp|lt|gt);|.", re.DOTALL)
_ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "interrupted": "⏹️"}


def escape(text: str) -> str:
    """``text`` escaped for Slack mrkdwn: ``&``, ``<`` and ``>`` as HTML entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """An inline code span (a backtick inside would end it: shown as ')."""
    return "`" + escape(text.replace("`", "'")) + "`" if text else "``"


def fit(text: str, limit: int) -> str:
    """Escaped ``text`` of at most ``limit`` units, cut visibly (``…``) between two tokens."""
    if utf16_len(text) <= limit:
        return text
    out, size = [], 0
    for match in _TOKEN.finditer(text):
        tok = match.group(0)
        if size + utf16_len(tok) > limit - 1:
            break
        out.append(tok)
        size += utf16_len(tok)
    return "".join(out) + "…"


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": fit(text, HEADER_LIMIT),
                                       "emoji": True}}


def _sections(lines: list[Line]) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
            for chunk in pack_lines(lines, SECTION_LIMIT, _TOKEN, utf16_len)]


def _fields(summary: RunSummary) -> dict[str, Any]:
    pairs = [("Status", summary.outcome if summary.trigger != "run.finished"
              else summary.status),
             ("Pipeline", summary.pipeline), ("Project", summary.project or "-"),
             ("Run", summary.run_id), ("Findings", summary.counts_text())]
    if summary.exit_code is not None:
        pairs.append(("Exit code", str(summary.exit_code)))
    fields = [{"type": "mrkdwn", "text": fit(f"*{label}*\n" + escape(value), FIELD_LIMIT)}
              for label, value in pairs[:MAX_FIELDS]]
    return {"type": "section", "fields": fields}


def _body_lines(summary: RunSummary) -> list[list[Line]]:
    """Groups of lines; each group becomes one or more sections."""
    groups: list[list[Line]] = []
    if summary.stages:
        lines = [Line("*Stages*")]
        lines += [Line(f"{_ICON.get(status, '•')} {_code(name)}: {escape(status)}")
                  for name, status in summary.stages]
        if summary.more_stages:
            lines.append(Line(f"({summary.more_stages} more stages)"))
        groups.append(lines)
    for gate in summary.gates:
        verdict = "passed" if gate.passed else "failed"
        lines = [Line(f"{_ICON[verdict]} *Gate* {_code(gate.step)} (stage {_code(gate.stage)}):"
                      f" *{verdict}*")]
        lines += [Line(f"• {escape(reason)}") for reason in gate.reasons]
        if gate.more_reasons:
            lines.append(Line(f"({gate.more_reasons} more reasons)"))
        groups.append(lines)
    if summary.more_gates:
        groups.append([Line(f"({summary.more_gates} more gates)")])
    if summary.errored:
        lines = [Line("*Steps that could not complete* (they judged nothing)")]
        lines += [Line(f"⚠️ {_code(s.step)} (stage {_code(s.stage)}): {escape(s.message)}")
                  for s in summary.errored]
        if summary.more_errored:
            lines.append(Line(f"({summary.more_errored} more errored steps)"))
        groups.append(lines)
    return groups


def render_blocks(summary: RunSummary) -> list[dict[str, Any]]:
    """Every block of the summary, the header first (before splitting into messages)."""
    blocks: list[dict[str, Any]] = [_header(summary.headline), _fields(summary)]
    for group in _body_lines(summary):
        blocks += _sections(group)
    if summary.top:
        blocks += _sections([Line(f"*Top findings* ({len(summary.top)} of "
                                  f"{summary.total_findings})")])
        for brief in summary.top:
            blocks += _sections([
                Line(f"*{escape(brief.severity.upper())}* {_code(brief.rule_id)} "
                     f"{escape(brief.title)}"),
                Line(_code(brief.location))])
    if summary.more_findings:
        blocks += _sections([Line(f"({summary.more_findings} more findings)")])
    if summary.report_url:
        url = escape(summary.report_url)
        blocks += _sections([Line(f"<{url}|Open the report>", url)])
    return blocks


def render_messages(summary: RunSummary) -> list[dict[str, Any]]:
    """The messages (webhook payloads) that say ``summary``, each within Slack's limits."""
    blocks = render_blocks(summary)
    header, body = blocks[0], blocks[1:]
    per = MAX_BLOCKS - 1  # every message starts with a header block
    parts = [body[i:i + per] for i in range(0, len(body), per)] or [[]]
    messages = []
    for index, part in enumerate(parts, 1):
        head = header
        if index > 1:
            head = _header(f"(continued {index}/{len(parts)}) {summary.headline}")
        messages.append({"text": fit(escape(summary.headline), HEADER_LIMIT),
                         "blocks": [head, *part], "unfurl_links": False,
                         "unfurl_media": False})
    return messages


class SlackSettings(ChatSettings):
    """``with:`` of a ``slack`` sink."""

    webhook_url: str = Field(min_length=1)
    """The incoming webhook URL, as a secret reference (``${env:SLACK_WEBHOOK_URL}``): the URL
    is Slack's credential."""

    @field_validator("webhook_url")
    @classmethod
    def _is_a_reference(cls, value: str) -> str:
        if not has_refs(value):
            raise ValueError("must be a secret reference such as ${env:SLACK_WEBHOOK_URL} "
                             "(the URL is a credential)")
        return value


class SlackSink(ChatSink[SlackSettings]):
    """Posts a Block Kit run summary to a Slack incoming webhook."""

    kind = "slack"
    summary = "post a run summary (gates, top findings, report link) to a Slack webhook"
    Settings = SlackSettings

    def __init__(self, settings: SlackSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        self._url = context.secrets.resolve(settings.webhook_url, "with.webhook_url")
        if not re.match(r"^https?://[^\s/?#@]+(/|$)", self._url):
            raise ConfigError("with.webhook_url: the resolved value is not an http(s) URL "
                              "without credentials")

    def render(self, summary: RunSummary) -> list[dict[str, Any]]:
        return render_messages(summary)

    def send(self, payload: dict[str, Any]) -> None:
        reply = post_json(self._url, payload, timeout=self.settings.timeout,
                          where="the Slack webhook")
        if 200 <= reply.status < 300:
            return
        code = reply.status
        said = short(self.redact(reply.body.decode("utf-8", "replace")).replace(self._url, ""),
                     80)
        detail = f": {said}" if said else ""
        if code == 429:
            raise SinkError(f"Slack webhook: HTTP 429 (rate limited){detail}",
                            retry_after=retry_after_from(reply.headers))
        if 300 <= code < 400:
            raise SinkError(f"Slack webhook: HTTP {code} (redirects are not followed)",
                            retry=False)
        raise SinkError(f"Slack webhook: HTTP {code}{detail}",
                        retry=code >= 500 or code in (408, 425))
