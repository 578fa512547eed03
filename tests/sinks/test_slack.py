"""The Slack sink against a real HTTP receiver on 127.0.0.1, and Block Kit's limits on long
inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from chat_receiver import chat_receiver
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sink_helpers import RUN, context, run_events

from secpipe.core.errors import ConfigError
from secpipe.core.events import FindingBrief
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.interface import SinkError
from secpipe.sinks.registry import load_sink
from secpipe.sinks.slack import (
    FIELD_LIMIT,
    HEADER_LIMIT,
    MAX_BLOCKS,
    MAX_FIELDS,
    SECTION_LIMIT,
    SlackSettings,
    SlackSink,
    escape,
    render_messages,
)
from secpipe.sinks.summary import GateVerdict, RunSummary, utf16_len

pytestmark = pytest.mark.server

HOOK_PATH = "/services/T0/B0/" + "".join(["hook", "Secr3t", "Path"])
PLANTED = "-".join(["pl4nted", "s3cret", "value"])


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("PLANTED", PLANTED)
    return SecretResolver(tmp_path)


def _sink(base: str, secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch,
          **options: Any) -> SlackSink:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", base + HOOK_PATH)
    settings = SlackSettings(webhook_url="${env:SLACK_WEBHOOK_URL}", **options)
    return SlackSink(settings, context("slack", secrets=secrets))


def _check_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= MAX_BLOCKS
    assert blocks[0]["type"] == "header"
    for block in blocks:
        if block["type"] == "header":
            assert utf16_len(block["text"]["text"]) <= HEADER_LIMIT
            assert block["text"]["type"] == "plain_text"
        else:
            assert block["type"] == "section"
            if "text" in block:
                assert 0 < utf16_len(block["text"]["text"]) <= SECTION_LIMIT
                _check_escaped(block["text"]["text"])
            fields = block.get("fields", [])
            assert len(fields) <= MAX_FIELDS
            for item in fields:
                assert 0 < utf16_len(item["text"]) <= FIELD_LIMIT
                _check_escaped(item["text"])


def _check_escaped(text: str) -> None:
    """mrkdwn: & only as an entity; < and > only around the report link."""
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    outside_links = re.sub(r"<https?://[^<>|]+\|Open the report>", "", text)
    assert "<" not in outside_links and ">" not in outside_links


def test_a_run_posts_the_gate_failure_at_once_then_the_summary(
        secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_receiver() as recv:
        sink = _sink(recv.base, secrets, monkeypatch,
                     report_url="https://ci.example/runs/{run_id}?view=all&x=1")
        bus = SinkBus([sink])
        for event in run_events():
            bus.emit(event)
        bus.close(10)
    assert bus.failures == []
    assert [path for path, _ in recv.requests] == [HOOK_PATH, HOOK_PATH]
    gate_msg, end_msg = recv.bodies()
    assert gate_msg["blocks"][0]["text"]["text"] == "secpipe: mlsecops on demo: GATE FAILED (gate)"
    assert end_msg["blocks"][0]["text"]["text"] == "secpipe: mlsecops on demo: FAILED"
    assert end_msg["text"] == "secpipe: mlsecops on demo: FAILED"
    fields = [f["text"] for f in end_msg["blocks"][1]["fields"]]
    assert fields == ["*Status*\nfailed", "*Pipeline*\nmlsecops", "*Project*\ndemo",
                      f"*Run*\n{RUN}", "*Findings*\n1 high", "*Exit code*\n1"]
    texts = [b["text"]["text"] for b in end_msg["blocks"] if "text" in b]
    assert "*Stages*\n✅ `scan`: passed\n❌ `gate`: failed" in texts
    assert "❌ *Gate* `gate` (stage `gate`): *failed*\n• 1 high finding (max 0)" in texts
    assert "*HIGH* `aws-access-key` AWS access key\n`app.py:3`" in texts
    assert (f"<https://ci.example/runs/{RUN}?view=all&amp;x=1|Open the report>") in texts
    for message in (gate_msg, end_msg):
        _check_limits(message)
        assert message["unfurl_links"] is False


def _long_summary(findings: int, title: str, reasons: int) -> RunSummary:
    top = tuple(FindingBrief("critical", f"rule-{i:03}", f"{i:03} {title}", f"a&b<{i}>.py:1",
                             f"fp{i}") for i in range(findings))
    gate = GateVerdict("gate", "gate", False, tuple(f"reason {i} <{title[:50]}>"
                                                   for i in range(reasons)))
    return RunSummary(run_id=RUN, pipeline="p" * 400, project="q&" * 1500,
                      trigger="run.finished", status="failed", exit_code=1,
                      stages=tuple((f"stage-{i}", "passed") for i in range(100)),
                      gates=(gate,), counts=(("critical", 1234),), total_findings=1234,
                      top=top, report_url="https://ci.example/r?a=1&b=2")


def test_long_summaries_are_split_within_every_limit_and_in_order() -> None:
    summary = _long_summary(findings=50, title="&<>" * 700 + "end", reasons=20)
    messages = render_messages(summary)
    assert len(messages) > 1
    for message in messages:
        _check_limits(message)
    headers = [m["blocks"][0]["text"]["text"] for m in messages]
    assert headers[0].startswith("secpipe: " + "p" * 10)
    assert headers[0].endswith("…")  # a header over 150 is cut visibly
    for index, header in enumerate(headers[1:], 2):
        assert header.startswith(f"(continued {index}/{len(messages)}) ")
    # every finding is there, in order, whole: its pieces put together give its whole text
    texts = [b["text"]["text"] for m in messages for b in m["blocks"][1:] if "text" in b]
    body = "".join(texts)
    positions = [body.index(f"`rule-{i:03}`") for i in range(50)]
    assert positions == sorted(positions)
    assert body.count(escape("&<>" * 700) + "end") == 50
    assert "(1184 more findings)" in texts
    assert texts[-1] == "<https://ci.example/r?a=1&amp;b=2|Open the report>"


@settings(max_examples=25)
@given(st.text(min_size=0, max_size=4000), st.integers(min_value=0, max_value=50),
       st.integers(min_value=0, max_value=25))
def test_any_text_stays_within_the_limits(title: str, findings: int, reasons: int) -> None:
    for message in render_messages(_long_summary(findings, title, reasons)):
        _check_limits(message)


def test_a_429_carries_retry_after_and_a_retry_resumes(
        secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    limited = (429, {"Retry-After": "7"}, b"rate_limited")
    with chat_receiver(script=[(200, {}, b"ok"), limited]) as recv:
        sink = _sink(recv.base, secrets, monkeypatch)
        summary = _long_summary(findings=50, title="&" * 1000, reasons=0)
        monkeypatch.setattr(sink, "render", lambda _summary: render_messages(summary))
        end = run_events()[-1]
        with pytest.raises(SinkError) as caught:
            sink.deliver(end)
        assert caught.value.retry is True
        assert caught.value.retry_after == 7.0
        assert "HTTP 429 (rate limited): rate_limited" in caught.value.message
        sink.deliver(end)  # the bus's retry
    bodies = recv.bodies()
    expected = render_messages(summary)
    assert len(expected) >= 3
    assert bodies == [expected[0], expected[1], *expected[1:]]  # message 2 refused once


@pytest.mark.parametrize(("reply", "retry"), [
    ((400, {}, b"invalid_blocks"), False),
    ((404, {}, b"no_service"), False),
    ((302, {"Location": "http://127.0.0.1:1/"}, b""), False),
    ((500, {}, b"oops"), True),
    ((503, {}, b""), True),
])
def test_errors_say_what_slack_said_without_the_url(
        secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch,
        reply: tuple[int, dict[str, str], bytes], retry: bool) -> None:
    with chat_receiver(default=reply) as recv:
        sink = _sink(recv.base, secrets, monkeypatch)
        with pytest.raises(SinkError) as caught:
            sink.deliver(run_events()[-1])
    message = caught.value.message
    assert caught.value.retry is retry
    assert message.startswith(f"Slack webhook: HTTP {reply[0]}")
    assert reply[2].decode() in message
    assert "127.0.0.1" not in message and "Secr3t" not in message


def test_an_unreachable_webhook_is_a_retryable_error_without_the_url(
        secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_receiver() as recv:
        base = recv.base
    sink = _sink(base, secrets, monkeypatch, timeout=2)
    with pytest.raises(SinkError) as caught:
        sink.deliver(run_events()[-1])
    assert caught.value.retry is True
    assert caught.value.message.startswith("POST to the Slack webhook: ")
    assert "127.0.0.1" not in caught.value.message


def test_a_planted_secret_never_reaches_a_payload(
        secrets: SecretResolver, monkeypatch: pytest.MonkeyPatch) -> None:
    from sink_helpers import GATE  # noqa: F401 - the same run, with the secret planted

    from secpipe.core.events import GateDecided, RunStarted, StepFinished
    from secpipe.core.results import GateDecision

    assert secrets.resolve("${env:PLANTED}") == PLANTED  # a step resolved it during the run
    brief = FindingBrief("high", "leak", f"token {PLANTED} in code", f"{PLANTED}.py:1", "fp")
    events = [
        RunStarted(RUN, pipeline="mlsecops", project=f"demo {PLANTED}", stage_names=("scan",)),
        StepFinished(RUN, step="scan", kind="k", stage="scan", status="error",
                     message=f"tool printed {PLANTED}", duration=1.0, severities={"high": 1},
                     top=(brief,)),
        GateDecided(RUN, step="gate", stage="scan", decision=GateDecision(
            passed=False, reasons=(f"because {PLANTED}",))),
        run_events()[-1],
    ]
    with chat_receiver() as recv:
        bus = SinkBus([_sink(recv.base, secrets, monkeypatch, send_on=["gate.decided",
                                                                       "run.finished"])])
        for event in events:
            bus.emit(event)
        bus.close(10)
    assert bus.failures == [] and len(recv.requests) == 2
    for _, raw in recv.requests:
        assert PLANTED.encode() not in raw
        assert json.loads(raw)  # still valid JSON
    assert "***" in recv.requests[-1][1].decode()


def test_the_webhook_url_must_be_a_secret_reference(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="must be a secret reference"):
        SlackSettings(webhook_url="https://hooks.slack.com/services/T/B/x")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "file:///etc/passwd")
    settings = SlackSettings(webhook_url="${env:SLACK_WEBHOOK_URL}")
    with pytest.raises(ConfigError, match="not an http") as caught:
        SlackSink(settings, context("slack", secrets=SecretResolver(tmp_path)))
    assert "passwd" not in str(caught.value)


def test_the_registry_names_it() -> None:
    assert load_sink("slack") is SlackSink


def test_configuration_errors_name_the_key() -> None:
    from secpipe.pipeline.model import SinkSpec
    from secpipe.sinks.registry import validate_sinks

    specs = {"team": SinkSpec.model_validate({"uses": "slack", "with": {
        "webhook_url": "${env:SLACK_WEBHOOK_URL}", "events": ["step.*"]}})}
    with pytest.raises(ConfigError, match=r"sinks\.team\.with: .*send_on: gate\.failed needs"):
        validate_sinks(specs)
    specs = {"team": SinkSpec.model_validate({"uses": "slack", "with": {
        "webhook_url": "${env:SLACK_WEBHOOK_URL}", "chanel": "#x"}})}
    with pytest.raises(ConfigError, match="chanel"):
        validate_sinks(specs)
