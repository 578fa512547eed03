"""The Telegram sink against a real HTTP receiver on 127.0.0.1 standing in for the Bot API:
MarkdownV2 escaping, the 4096 limit after escaping, 429 retry_after, the token kept secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chat_receiver import chat_receiver, telegram_error, telegram_ok
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sink_helpers import RUN, context, run_events

from secpipe.core.errors import ConfigError
from secpipe.core.events import FindingBrief, GateDecided, RunStarted, StepFinished
from secpipe.core.results import GateDecision
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.interface import SinkError
from secpipe.sinks.registry import load_sink
from secpipe.sinks.summary import GateVerdict, RunSummary, utf16_len
from secpipe.sinks.telegram import (
    MESSAGE_LIMIT,
    SPECIAL,
    TelegramSettings,
    TelegramSink,
    code,
    escape,
    link,
    render_texts,
)

pytestmark = pytest.mark.server

BOT_TOKEN = "123456789:" + "".join(["AAH", "tok3nV4lue", "_-xyzXYZ0123456"])
PLANTED = "-".join(["pl4nted", "s3cret", "value"])
MDV2 = "_*[]()~`>#+-=|{}.!\\"
"""Telegram's documented set of characters to escape in MarkdownV2 text (and the backslash)."""


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("PLANTED", PLANTED)
    return SecretResolver(tmp_path)


def _sink(base: str, secrets: SecretResolver, **options: Any) -> TelegramSink:
    settings = TelegramSettings(bot_token="${env:TELEGRAM_BOT_TOKEN}", chat_id=-100123,
                                api_base=base, **options)
    return TelegramSink(settings, context("tg", secrets=secrets))


def well_formed(text: str) -> bool:
    """A small MarkdownV2 checker: every special character outside an entity is escaped, and
    bold, code and link entities are closed (with the escapes each of them allows)."""
    i, bold = 0, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in MDV2:
                return False
            i += 2
        elif c == "*":
            bold = not bold
            i += 1
        elif c == "`":
            i += 1
            while i < len(text) and text[i] != "`":
                if text[i] == "\\":
                    if i + 1 >= len(text) or text[i + 1] not in "`\\":
                        return False
                    i += 1
                i += 1
            if i >= len(text):
                return False
            i += 1
        elif c == "[":
            end = text.find("](", i)
            if end < 0 or not well_formed(text[i + 1:end]):
                return False
            i = end + 2
            while i < len(text) and text[i] != ")":
                if text[i] == "\\":
                    if i + 1 >= len(text) or text[i + 1] not in ")\\":
                        return False
                    i += 1
                i += 1
            if i >= len(text):
                return False
            i += 1
        elif c in MDV2:
            return False
        else:
            i += 1
    return not bold


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


@given(st.text(max_size=300))
def test_escaping_round_trips_and_leaves_no_special_character_bare(text: str) -> None:
    escaped = escape(text)
    assert unescape(escaped) == text
    assert well_formed(escaped)


def test_the_exact_escape_set() -> None:
    assert sorted(SPECIAL) == sorted(MDV2) and len(MDV2) == 19
    assert escape("_*[]()~`>#+-=|{}.!\\") == "".join("\\" + c for c in "_*[]()~`>#+-=|{}.!\\")
    assert escape("plain text, ok: 42 @ $ % ^ & ; ' \" / ? <") == (
        "plain text, ok: 42 @ $ % ^ & ; ' \" / ? <")
    assert code("a`b\\c.d") == "`a\\`b\\\\c.d`"
    assert link("Report (1)", "https://x/a_(b)\\c") == "[Report \\(1\\)](https://x/a_(b\\)\\\\c)"


def test_a_run_sends_the_gate_failure_at_once_then_the_summary(
        secrets: SecretResolver) -> None:
    with chat_receiver(default=telegram_ok()) as recv:
        bus = SinkBus([_sink(recv.base, secrets, report_url="https://ci.example/r/{run_id}",
                             disable_notification=True)])
        for event in run_events():
            bus.emit(event)
        bus.close(10)
    assert bus.failures == []
    assert [path for path, _ in recv.requests] == [f"/bot{BOT_TOKEN}/sendMessage"] * 2
    gate_msg, end_msg = recv.bodies()
    for body in (gate_msg, end_msg):
        assert body["chat_id"] == "-100123" and body["parse_mode"] == "MarkdownV2"
        assert body["link_preview_options"] == {"is_disabled": True}
        assert body["disable_notification"] is True
        assert well_formed(body["text"])
    assert gate_msg["text"].startswith("*secpipe: mlsecops on demo: GATE FAILED \\(gate\\)*\n")
    assert end_msg["text"] == "\n".join([
        "*secpipe: mlsecops on demo: FAILED*",
        "run 20250101\\-000000\\-abcd · exit code 1",
        "*Stages*", "✅ scan: passed", "❌ gate: failed",
        "❌ *Gate gate* \\(stage gate\\): failed", "• 1 high finding \\(max 0\\)",
        "*Findings:* 1 high",
        "*Top findings \\(1 of 1\\)*",
        "• *HIGH* `aws-access-key` AWS access key — `app.py:3`",
        f"[Open the report](https://ci.example/r/{RUN})",
    ])


def _long_summary(title: str, findings: int = 50, reasons: int = 20) -> RunSummary:
    top = tuple(FindingBrief("high", f"rule_{i}.x", f"{i:02} {title}", f"src/{i}_a.py:1",
                             f"fp{i}") for i in range(findings))
    gate = GateVerdict("gate", "gate", False, tuple(f"r{i}. {title[:300]}"
                                                   for i in range(reasons)))
    return RunSummary(run_id=RUN, pipeline="mlsecops", project="demo", trigger="run.finished",
                      status="failed", exit_code=1, gates=(gate,), counts=(("high", 500),),
                      total_findings=500, top=top, report_url="https://ci.example/r")


def test_long_summaries_are_chunked_after_escaping_without_cutting_an_escape() -> None:
    title = "._!😀" * 700  # 2800 characters, 4200 after escaping, 3500 UTF-16 units raw
    texts = render_texts(_long_summary(title))
    assert len(texts) > 10
    for text in texts:
        assert utf16_len(text) <= MESSAGE_LIMIT
        assert well_formed(text), text[:200]
    joined = unescape("".join(texts))
    for i in range(50):
        assert f"{i:02} {title}" in joined  # every finding whole, across chunks
    assert joined.index("rule_3.x") < joined.index("rule_4.x")
    assert "(450 more findings)" in joined


@settings(max_examples=30)
@given(st.text(max_size=6000), st.integers(min_value=0, max_value=12))
def test_any_text_is_chunked_within_the_limit(title: str, findings: int) -> None:
    for text in render_texts(_long_summary(title, findings, reasons=3)):
        assert 0 < utf16_len(text) <= MESSAGE_LIMIT
        assert well_formed(text)


def test_a_429_carries_retry_after_and_a_retry_resumes(secrets: SecretResolver,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    limited = telegram_error(429, "Too Many Requests: retry after 5", retry_after=5)
    with chat_receiver(default=telegram_ok(), script=[telegram_ok(), limited]) as recv:
        sink = _sink(recv.base, secrets)
        summary = _long_summary("." * 2000)
        payloads = TelegramSink.render(sink, summary)
        monkeypatch.setattr(sink, "render", lambda _summary: payloads)
        end = run_events()[-1]
        with pytest.raises(SinkError) as caught:
            sink.deliver(end)
        assert caught.value.retry is True and caught.value.retry_after == 5.0
        assert "HTTP 429 (rate limited): Too Many Requests: retry after 5" in caught.value.message
        sink.deliver(end)
    texts = [b["text"] for b in recv.bodies()]
    expected = render_texts(summary)
    assert len(expected) >= 3
    assert texts == [expected[0], expected[1], *expected[1:]]


@pytest.mark.parametrize(("reply", "retry", "said"), [
    (telegram_error(400, "Bad Request: can't parse entities"), False,
     "HTTP 400: Bad Request: can't parse entities"),
    (telegram_error(401, "Unauthorized"), False, "HTTP 401: Unauthorized"),
    (telegram_error(403, "Forbidden: bot was blocked by the user"), False, "HTTP 403"),
    (telegram_error(502, "Bad Gateway"), True, "HTTP 502: Bad Gateway"),
    (telegram_error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to_chat_id=-1009876), False,
     "the chat became a supergroup; set chat_id to -1009876"),
    ((200, {}, b'{"ok":false}'), True, "HTTP 200 without ok"),
    ((200, {}, b"not json"), True, "HTTP 200 without ok"),
    ((500, {}, b"<html>" + BOT_TOKEN.encode() + b"</html>"), True, "HTTP 500"),
])
def test_errors_never_show_the_token(secrets: SecretResolver,
                                     reply: tuple[int, dict[str, str], bytes],
                                     retry: bool, said: str) -> None:
    with chat_receiver(default=reply) as recv:
        sink = _sink(recv.base, secrets)
        with pytest.raises(SinkError) as caught:
            sink.deliver(run_events()[-1])
    assert caught.value.retry is retry
    assert said in caught.value.message
    assert caught.value.message.startswith("Telegram sendMessage: ")
    assert BOT_TOKEN not in caught.value.message and "tok3n" not in caught.value.message


def test_a_token_echoed_in_a_description_is_masked(secrets: SecretResolver) -> None:
    reply = telegram_error(404, f"Not Found: bot{BOT_TOKEN}")
    with chat_receiver(default=reply) as recv:
        bus = SinkBus([_sink(recv.base, secrets, retries=0)])
        bus.emit(run_events()[-1])
        bus.close(10)
    assert len(bus.failures) == 1
    assert BOT_TOKEN not in bus.failures[0] and "Not Found: bot***" in bus.failures[0]


def test_an_unreachable_api_is_retryable_and_the_failure_line_has_no_token(
        secrets: SecretResolver) -> None:
    with chat_receiver() as recv:
        base = recv.base
    bus = SinkBus([_sink(base, secrets, retries=1, backoff=0.01, timeout=2)])
    bus.emit(run_events()[-1])
    bus.close(10)
    assert len(bus.failures) == 1
    line = bus.failures[0]
    assert line.startswith("sink tg: run.finished not delivered after 2 attempt(s): "
                           "POST to Telegram sendMessage: ")
    assert BOT_TOKEN not in line and "/bot" not in line


def test_a_planted_secret_never_reaches_a_payload(secrets: SecretResolver) -> None:
    assert secrets.resolve("${env:PLANTED}") == PLANTED  # a step resolved it during the run
    brief = FindingBrief("high", f"rule.{PLANTED}", f"token {PLANTED}", f"{PLANTED}.py:1", "f")
    events = [
        RunStarted(RUN, pipeline="mlsecops", project=PLANTED, stage_names=(PLANTED,)),
        StepFinished(RUN, step="scan", kind="k", stage=PLANTED, status="error",
                     message=f"tool printed {PLANTED}", duration=1.0, severities={"high": 1},
                     top=(brief,)),
        GateDecided(RUN, step="gate", stage="scan", decision=GateDecision(
            passed=False, reasons=(f"because {PLANTED}",))),
        run_events()[-1],
    ]
    with chat_receiver(default=telegram_ok()) as recv:
        bus = SinkBus([_sink(recv.base, secrets)])
        for event in events:
            bus.emit(event)
        bus.close(10)
    assert bus.failures == [] and len(recv.requests) == 2
    for _, raw in recv.requests:
        assert PLANTED.encode() not in raw and BOT_TOKEN.encode() not in raw
        body = json.loads(raw)
        assert well_formed(body["text"]) and "\\*\\*\\*" in body["text"]


def test_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="must be a secret reference"):
        TelegramSettings(bot_token=BOT_TOKEN, chat_id="1")
    for chat in ("", "12ab", "@x", 1.5, True):
        with pytest.raises(ValidationError, match="chat id"):
            TelegramSettings(bot_token="${env:T}", chat_id=chat)
    for base in ("ftp://x", "https://u:p@x", "https://x/?q=1", "https://x y"):
        with pytest.raises(ValidationError, match="api_base"):
            TelegramSettings(bot_token="${env:T}", chat_id="1", api_base=base)
    ok = TelegramSettings(bot_token="${env:T}", chat_id="@secpipe_alerts",
                          api_base="http://127.0.0.1:8081/tg/")
    assert ok.api_base == "http://127.0.0.1:8081/tg" and ok.chat_id == "@secpipe_alerts"
    monkeypatch.setenv("T", "not a token/../x?")
    with pytest.raises(ConfigError, match="not a bot token") as caught:
        TelegramSink(ok, context("tg", secrets=SecretResolver(tmp_path)))
    assert "../x" not in str(caught.value)


def test_the_registry_names_it() -> None:
    assert load_sink("telegram") is TelegramSink


def test_the_bus_waits_the_retry_after_telegram_asks_for(secrets: SecretResolver) -> None:
    limited = telegram_error(429, "Too Many Requests: retry after 1", retry_after=1)
    with chat_receiver(default=telegram_ok(), script=[limited]) as recv:
        bus = SinkBus([_sink(recv.base, secrets, retries=2, backoff=0.01)])
        bus.emit(run_events()[-1])
        bus.close(10)
    assert bus.failures == []
    assert len(recv.requests) == 2 and recv.bodies()[0] == recv.bodies()[1]
    assert recv.times[1] - recv.times[0] >= 0.9  # not the 0.01 s backoff
