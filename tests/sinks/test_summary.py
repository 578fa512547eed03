"""The run summary the chat sinks share: accumulation, triggers, redaction, bounds, splitting,
and resuming a multi-message summary after a failed message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sink_helpers import GATE, RUN, context, run_events

from secpipe.core.events import (
    FindingBrief,
    GateDecided,
    RunFinished,
    RunStarted,
    StepFinished,
)
from secpipe.core.results import GateDecision
from secpipe.keys.refs import SecretResolver
from secpipe.sinks.interface import SinkError
from secpipe.sinks.summary import (
    MAX_KEPT_FINDINGS,
    MAX_TEXT,
    ChatSettings,
    ChatSink,
    Line,
    RunSummary,
    SummaryBuilder,
    bounded,
    pack_lines,
    trigger_of,
    utf16_len,
)

PLANTED = "-".join(["pl4nted", "s3cret", "value"])  # built at run time, never a literal


def _built(events: list[Any] | None = None, **options: Any) -> SummaryBuilder:
    builder = SummaryBuilder(lambda s: s, **options)
    for event in events if events is not None else run_events():
        builder.add(event)
    return builder


def _finding(i: int, severity: str = "high", title: str = "t") -> FindingBrief:
    return FindingBrief(severity, f"rule-{i}", title, f"f{i:03}.py:{i}", f"fp{i}")


def test_a_whole_run_becomes_a_summary() -> None:
    summary = _built(report_url="https://ci.example/r/{run_id}?p={pipeline}").summary(
        "run.finished")
    assert (summary.pipeline, summary.project, summary.run_id) == ("mlsecops", "demo", RUN)
    assert summary.status == "failed" and summary.exit_code == 1
    assert summary.stages == (("scan", "passed"), ("gate", "failed"))
    assert [(g.step, g.passed, g.reasons) for g in summary.gates] == [
        ("gate", False, ("1 high finding (max 0)",))]
    assert summary.counts == (("high", 1),) and summary.total_findings == 1
    assert [f.rule_id for f in summary.top] == ["aws-access-key"]
    assert summary.more_findings == 0
    assert summary.report_url == f"https://ci.example/r/{RUN}?p=mlsecops"
    assert summary.headline == "secpipe: mlsecops on demo: FAILED"


def test_a_gate_trigger_mid_run_shows_pending_stages_and_the_gate() -> None:
    events = run_events()
    gate_at = next(i for i, e in enumerate(events) if isinstance(e, GateDecided))
    summary = _built(events[: gate_at + 1]).summary("gate.failed", "gate")
    assert summary.status == "running"
    assert summary.stages == (("scan", "passed"), ("gate", "pending"))
    assert summary.headline == "secpipe: mlsecops on demo: GATE FAILED (gate)"


def test_stages_that_never_finished_are_not_run_once_the_run_is_over() -> None:
    events = [RunStarted(RUN, pipeline="p", project="x", stage_names=("a", "b")),
              RunFinished(RUN, pipeline="p", status="error", exit_code=2)]
    assert _built(events).summary("run.finished").stages == (("a", "not run"),
                                                             ("b", "not run"))


def test_triggers() -> None:
    failed = GateDecided(RUN, step="g", stage="s", decision=GATE)
    passed = GateDecided(RUN, step="g", stage="s", decision=GateDecision(passed=True))
    end = RunFinished(RUN, pipeline="p", status="passed", exit_code=0)
    default = ["gate.failed", "run.finished"]
    assert trigger_of(failed, default) == "gate.failed"
    assert trigger_of(passed, default) is None
    assert trigger_of(end, default) == "run.finished"
    assert trigger_of(passed, ["gate.decided"]) == "gate.decided"
    assert trigger_of(end, ["gate.decided"]) is None
    assert trigger_of(run_events()[0], default) is None


def test_counts_add_up_and_only_the_worst_findings_are_kept() -> None:
    steps = [StepFinished(RUN, step=f"s{n}", kind="k", stage="scan", status="failed",
                          message="", duration=0.1, findings=30,
                          severities={"low": 20, "critical": 10},
                          top=tuple(_finding(n * 100 + i, "critical" if i < 3 else "low")
                                    for i in range(10)))
             for n in range(10)]
    summary = _built(steps, max_findings=7).summary("run.finished")
    assert summary.counts == (("critical", 100), ("low", 200))
    assert summary.total_findings == 300
    assert len(summary.top) == 7 and {f.severity for f in summary.top} == {"critical"}
    assert summary.more_findings == 293
    many = _built(steps, max_findings=500)  # capped at the kept maximum
    assert len(many.summary("run.finished").top) == MAX_KEPT_FINDINGS
    assert len(many._findings) <= MAX_KEPT_FINDINGS


def test_a_new_run_id_starts_afresh() -> None:
    builder = _built()
    builder.add(RunStarted("other-run", pipeline="devsecops", project="x"))
    summary = builder.summary("run.finished")
    assert summary.run_id == "other-run" and summary.top == () and summary.gates == ()


def test_long_texts_are_cut_visibly() -> None:
    assert bounded("x" * 10) == "x" * 10
    cut = bounded("y" * (MAX_TEXT + 123))
    assert cut.startswith("y" * MAX_TEXT) and cut.endswith("… (+123 characters)")
    step = StepFinished(RUN, step="s", kind="k", stage="scan", status="error",
                        message="m" * 10_000, duration=1.0)
    summary = _built([step]).summary("run.finished")
    assert summary.errored[0].message.endswith("… (+8000 characters)")


def test_every_text_is_redacted_on_entry(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTED", PLANTED)
    secrets = SecretResolver(tmp_path)
    assert secrets.resolve("${env:PLANTED}") == PLANTED  # a step asked for it during the run
    brief = FindingBrief("high", f"r-{PLANTED}", f"key {PLANTED}", f"{PLANTED}.py:1", "fp")
    events = [
        RunStarted(RUN, pipeline=f"p{PLANTED}", project=PLANTED, stage_names=(PLANTED,)),
        StepFinished(RUN, step=PLANTED, kind="k", stage=PLANTED, status="error",
                     message=f"failed with {PLANTED}", duration=1.0, severities={"high": 1},
                     top=(brief,)),
        GateDecided(RUN, step="gate", stage="gate",
                    decision=GateDecision(passed=False, reasons=(f"saw {PLANTED}",))),
        RunFinished(RUN, pipeline=PLANTED, status="failed", exit_code=1),
    ]
    builder = SummaryBuilder(secrets.redact, report_url="https://ci.example/{project}")
    for event in events:
        builder.add(event)
    summary = builder.summary("run.finished")
    assert PLANTED not in repr(summary)
    assert "***" in summary.top[0].title and "***" in summary.gates[0].reasons[0]


@pytest.mark.parametrize(("options", "message"), [
    ({"report_url": "https://x/${env:TOKEN}"}, "secret reference"),
    ({"report_url": "https://x/{run_id.__class__}"}, "only {run_id}"),
    ({"report_url": "ftp://x/{run_id}"}, "http"),
    ({"report_url": "https://x/a b"}, "space"),
    ({"events": ["step.*"]}, "send_on: gate.failed needs gate.decided in events"),
    ({"events": ["gate.*"], "send_on": ["run.finished"]}, "needs run.finished"),
    ({"send_on": ["step.finished"]}, "send_on"),
    ({"send_on": []}, "send_on"),
    ({"max_findings": 51}, "max_findings"),
])
def test_bad_settings_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ChatSettings(**options)


def test_good_settings() -> None:
    settings = ChatSettings(events=["gate.decided", "run.*", "step.finished"],
                            send_on=["gate.decided"], report_url="https://ci/{run_id}",
                            max_findings=0)
    assert settings.send_on == ["gate.decided"]
    assert ChatSettings().send_on == ["gate.failed", "run.finished"]


# -- splitting -------------------------------------------------------------------------------

ESCAPED = re.compile(r"\\.|.", re.DOTALL)
WELL_FORMED = re.compile(r"(?:\\.|[^\\])*", re.DOTALL)


def _esc(text: str) -> str:
    return re.sub(r"([_*\[\]()~`>#+\-=|{}.!\\])", r"\\\1", text)


@given(st.lists(st.text(alphabet="ab\\.*_ 😀é", max_size=120), max_size=30),
       st.integers(min_value=8, max_value=90))
def test_packed_chunks_respect_the_limit_and_never_cut_an_escape(raw: list[str],
                                                                 limit: int) -> None:
    lines = [Line(f"*{_esc(text)}*", _esc(text)) for text in raw]
    chunks = pack_lines(lines, limit, ESCAPED, utf16_len)
    for chunk in chunks:
        assert utf16_len(chunk) <= limit
        assert WELL_FORMED.fullmatch(chunk), chunk  # no lone trailing backslash
    # nothing lost but blank chunks (a chat refuses an empty message): every line's
    # formatted or plain text, in order
    joined = re.sub(r"\s", "", "".join(chunks))
    expected = "".join(line.formatted if utf16_len(line.formatted) <= limit else line.plain
                       for line in lines)
    assert joined == re.sub(r"\s", "", expected)


def test_lines_that_fit_are_never_split() -> None:
    lines = [Line("a" * 10), Line("b" * 10), Line("c" * 10)]
    assert pack_lines(lines, 21, ESCAPED) == ["a" * 10 + "\n" + "b" * 10, "c" * 10]
    assert pack_lines(lines, 32, ESCAPED) == ["\n".join(x.formatted for x in lines)]


# -- resuming after a failed message -----------------------------------------------------------

class ThreeMessages(ChatSink[ChatSettings]):
    kind = "three"
    Settings = ChatSettings

    def __init__(self, fail_at: set[int]) -> None:
        super().__init__(ChatSettings(), context("three"))
        self.fail_at = fail_at
        self.attempt = 0
        self.posted: list[str] = []

    def render(self, summary: RunSummary) -> list[Any]:
        return [f"{summary.trigger} {i}" for i in (1, 2, 3)]

    def send(self, payload: Any) -> None:
        self.attempt += 1
        if self.attempt in self.fail_at:
            raise SinkError("refused")
        self.posted.append(payload)


def test_a_retry_resumes_with_the_first_unsent_message() -> None:
    sink = ThreeMessages(fail_at={2})
    end = run_events()[-1]
    with pytest.raises(SinkError):
        sink.deliver(end)
    sink.deliver(end)  # the bus retries with the same event
    assert sink.posted == ["run.finished 1", "run.finished 2", "run.finished 3"]
    assert sink.sent == 3


def test_an_event_given_up_on_does_not_leak_into_the_next_one() -> None:
    sink = ThreeMessages(fail_at={2})
    gate = next(e for e in run_events() if isinstance(e, GateDecided))
    with pytest.raises(SinkError):
        sink.deliver(gate)
    sink.deliver(run_events()[-1])  # the bus gave up on the gate event
    assert sink.posted == ["gate.failed 1", "run.finished 1", "run.finished 2",
                           "run.finished 3"]


def test_events_that_trigger_nothing_send_nothing() -> None:
    sink = ThreeMessages(fail_at=set())
    for event in run_events()[:5]:
        sink.deliver(event)
    assert sink.posted == []


def test_a_lone_event_still_makes_a_message_for_both_chats() -> None:
    """What ``secpipe notify test`` or a replayed spool hands a fresh sink: one event."""
    from secpipe.sinks.slack import render_messages
    from secpipe.sinks.telegram import render_texts

    gate = next(e for e in run_events() if isinstance(e, GateDecided))
    summary = _built([gate]).summary("gate.failed", "gate")
    assert summary.headline == "secpipe: a run: GATE FAILED (gate)"
    end = _built([RunFinished("notify-test-1", pipeline="notify-test", status="passed",
                              exit_code=0)]).summary("run.finished")
    assert end.headline == "secpipe: notify-test: PASSED"
    for one in (summary, end):
        assert render_messages(one)[0]["blocks"][0]["text"]["text"] == one.headline
        assert render_texts(one)[0].startswith("*secpipe: ")


def test_stages_gates_and_a_zero_max_findings_are_bounded() -> None:
    from secpipe.core.events import StageFinished

    events: list[Any] = [StageFinished(RUN, stage=f"s{i}", status="passed") for i in range(500)]
    events += [GateDecided(RUN, step=f"g{i}", stage="s", decision=GATE) for i in range(500)]
    events += [e for e in run_events() if isinstance(e, StepFinished)]
    summary = _built(events, max_findings=0).summary("run.finished")
    assert len(summary.stages) == 100 and summary.more_stages == 400
    assert len(summary.gates) == 20 and summary.more_gates == 481  # 500 + "gate", 20 listed
    assert summary.top == () and summary.more_findings == 1
