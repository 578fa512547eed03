"""The spool (redacted, bounded, ordered, replay deletes only what it delivered), the event codec
and the ``Retry-After`` helper."""

from __future__ import annotations

import json
import os
import stat
from email.message import Message
from email.utils import formatdate
from pathlib import Path

import pytest
from sink_helpers import RUN, run_events

from secpipe.core.event_codec import EventDecodeError, event_from_dict
from secpipe.core.events import Event, FindingBrief, StepFinished, StepLog
from secpipe.core.results import GateDecision
from secpipe.keys.refs import SecretResolver
from secpipe.sinks.interface import MAX_RETRY_AFTER, SinkError, retry_after_from
from secpipe.sinks.spool import Spool, SpoolBusy, decode_entry, is_spool_file, spooled_sinks

SECRET = "".join(["s3cr", 'et"q\\', "uote-9f8e7d"])  # JSON escapes " and \ : both forms checked


def _planted(resolver: SecretResolver) -> list[Event]:
    """Events that carry the secret in a message, a finding title, a key and a gate reason."""
    assert resolver.resolve("${env:PLANTED}") == SECRET
    brief = FindingBrief("high", "leak", f"token {SECRET} in code", f"app.py:{SECRET}", "fp")
    return [
        StepLog(RUN, step="scan", message=f"using {SECRET}"),
        StepFinished(RUN, step="scan", kind="scan", stage="s", status="failed",
                     message=SECRET, duration=1.0, findings=1, severities={SECRET: 1},
                     top=(brief,), gate=GateDecision(False, reasons=(f"key {SECRET}",))),
    ]


@pytest.fixture
def resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("PLANTED", SECRET)
    return SecretResolver(tmp_path)


def _no_secret_anywhere(folder: Path) -> None:
    forms = [SECRET.encode(), json.dumps(SECRET)[1:-1].encode(), b"uote-9f8e7d"]
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for form in forms:
                assert form not in data, f"{path.name} holds the secret"


def test_events_round_trip_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "hook")
    events = run_events()
    assert spool.write(events[:5], "down", str).written == 5
    assert spool.write(events[5:], "down", str).written == len(events) - 5
    assert list(spool.events()) == events
    assert spool.count() == len(events)
    assert spooled_sinks(tmp_path) == {"hook": len(events)}


def test_the_spool_never_holds_a_planted_secret(tmp_path: Path,
                                                resolver: SecretResolver) -> None:
    spool = Spool(tmp_path / "spool", "hook")
    wrote = spool.write(_planted(resolver), f"HTTP 500 for {SECRET}", resolver.redact)
    assert wrote.written == 2 and wrote.dropped == 0
    _no_secret_anywhere(tmp_path)
    replayed = list(spool.events())
    assert [e.type for e in replayed] == ["step.log", "step.finished"]
    assert isinstance(replayed[0], StepLog) and replayed[0].message == "using ***"


def test_files_are_private_and_complete(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "hook")
    spool.write(run_events()[:2], "down", str)
    (path,) = spool.files()
    assert is_spool_file(path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o700
    assert not [p for p in spool.path.iterdir() if p.name.startswith(".tmp-")]
    entry = json.loads(path.read_text().splitlines()[0])
    assert entry["format"] == 1 and entry["reason"] == "down"
    assert entry["event"]["type"] == "run.started"


def test_size_bounds_drop_and_say_so(tmp_path: Path) -> None:
    events = run_events()
    small = Spool(tmp_path, "hook", max_bytes=900)
    wrote = small.write(events, "r", str)
    assert 0 < wrote.written < len(events)
    assert wrote.dropped == len(events) - wrote.written
    assert "spool full" in wrote.problem
    assert sum(p.stat().st_size for p in small.files()) <= 900
    assert list(small.events()) == events[:wrote.written]  # the oldest are kept
    again = small.write(events[:1], "r", str)
    assert again.written == 0 and again.dropped == 1
    tiny = Spool(tmp_path, "other", max_entry=50)
    assert tiny.write(events[:1], "r", str).problem.endswith("larger than 50 bytes")
    few = Spool(tmp_path, "few", max_files=1)
    assert few.write(events[:1], "r", str).written == 1
    assert few.write(events[1:2], "r", str).problem == "spool full (1 files)"


def test_order_follows_reservation_not_writing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "hook")
    events = run_events()
    first, second = spool.reserve(), spool.reserve()
    spool.write(events[1:3], "later", str, second)
    spool.write(events[:1], "earlier", str, first)
    assert list(spool.events()) == events[:3]


def test_replay_stops_at_a_failure_and_keeps_what_it_did_not_deliver(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "hook")
    events = run_events()
    spool.write(events[:4], "r", str)
    spool.write(events[4:], "r", str)
    sent: list[Event] = []

    def flaky(event: Event) -> str | None:
        if len(sent) == 2:
            return "HTTP 503"
        sent.append(event)
        return None

    result = spool.replay(flaky)
    assert (result.delivered, result.left, result.error) == (2, len(events) - 2, "HTTP 503")
    assert list(spool.events()) == events[2:]  # the first file rewritten, the second untouched
    sent.clear()
    result = spool.replay(lambda e: sent.append(e))
    assert result.delivered == len(events) - 2 and result.left == 0
    assert sent == events[2:]
    assert spool.files() == [] and spool.count() == 0


def test_replay_never_deletes_what_it_did_not_create(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "hook")
    spool.write(run_events()[:2], "r", str)
    (spool.path / "notes.txt").write_text("mine")
    (spool.path / "1.jsonl").write_text("{}\n")
    (path,) = spool.files()
    with path.open("a") as fh:
        fh.write("not json\n")
    result = spool.replay(lambda e: None)
    assert (result.delivered, result.unreadable, result.left) == (2, 1, 1)
    assert path.read_text() == "not json\n"  # the unreadable line is kept as it was
    assert (spool.path / "notes.txt").read_text() == "mine"
    assert (spool.path / "1.jsonl").exists()


def test_one_replay_at_a_time(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "hook")
    spool.write(run_events()[:1], "r", str)
    nested: list[BaseException] = []

    def deliver(event: Event) -> str | None:
        try:
            Spool(tmp_path, "hook").replay(lambda e: None)
        except SpoolBusy as exc:
            nested.append(exc)
        return None

    assert spool.replay(deliver).delivered == 1
    assert len(nested) == 1 and "another replay" in str(nested[0])


def test_bad_names_and_symlinked_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path, "../etc")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "spool").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "spool" / "hook")
    wrote = Spool(tmp_path / "spool", "hook").write(run_events()[:1], "r", str)
    assert wrote.written == 0 and "symbolic link" in wrote.problem
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_codec_rejects_what_is_not_an_event() -> None:
    finished = next(e for e in run_events() if isinstance(e, StepFinished))
    good = finished.to_dict()
    assert event_from_dict(json.loads(json.dumps(good))) == finished
    for bad in ({"type": "nope"}, {**good, "duration": "slow"}, {**good, "top": [{"x": 1}]},
                {k: v for k, v in good.items() if k != "step"}, {**good, "findings": True}):
        with pytest.raises(EventDecodeError):
            event_from_dict(bad)
    with pytest.raises(EventDecodeError):
        decode_entry('{"format": 2, "event": {}}')
    assert event_from_dict({**good, "added_later": 1}) == finished


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0), (" 3 ", 3.0), ("1.5", 1.5), ("0", 0.0), ("-1", None), ("soon", None),
    ("", None), ("1e9", None), ("99999999", MAX_RETRY_AFTER),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
])
def test_retry_after_parses_seconds_and_dates(value: str, expected: float | None) -> None:
    assert retry_after_from({"Retry-After": value}) == expected


def test_retry_after_reads_any_header_collection() -> None:
    now = 1_700_000_000.0
    date = formatdate(now + 90, usegmt=True)
    assert retry_after_from({"retry-after": date}, now=now) == pytest.approx(90.0)
    message = Message()
    message["RETRY-AFTER"] = "7"
    assert retry_after_from(message) == 7.0
    assert retry_after_from({}) is None and retry_after_from(None) is None
    assert SinkError("x", retry_after=2.5).retry_after == 2.5
    assert SinkError("x", retry_after=-3).retry_after is None
    assert SinkError("x").retry_after is None and SinkError("x").retry is True
