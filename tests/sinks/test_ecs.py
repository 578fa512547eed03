"""ECS log sinks: JSON lines to a file (rotated) or stdout, and the Elasticsearch ``_bulk`` client
against a real HTTP server on 127.0.0.1 that checks the NDJSON as Elasticsearch does (action line
then source line, each JSON, the body ending in a newline) and answers per-item statuses."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sink_helpers import RUN, context, run_events

from secpipe.core.events import Event, FindingBrief, RunFinished, StepFinished, StepLog
from secpipe.keys.refs import SecretResolver
from secpipe.sinks import SinkBus
from secpipe.sinks.ecs import (
    ECS_VERSION,
    EcsLogSettings,
    EcsLogSink,
    ElasticsearchSettings,
    ElasticsearchSink,
    file_path,
)

API_KEY = "".join(["VnVhQ2ZHY0JDZGJrUW0t", "ZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw", "=="])
PLANTED = "-".join(["pl4nted", "s3cret", "value"])
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("ES_KEY", API_KEY)
    monkeypatch.setenv("PLANTED", PLANTED)
    return SecretResolver(tmp_path)


def _planted_events(secrets: SecretResolver) -> list[Event]:
    planted = secrets.resolve("${env:PLANTED}")
    brief = FindingBrief("high", "leak", f"token {planted}", f"src/{planted}.py:4", "fp9")
    return [run_events()[0],
            StepLog(RUN, step="s", message=f"saw {planted}"),
            StepFinished(RUN, step="s", kind="scan-secrets", stage="scan", status="failed",
                         message=f"found {planted}", duration=0.5, findings=1,
                         severities={"high": 1}, top=(brief,)),
            RunFinished(RUN, pipeline="mlsecops", status="failed", exit_code=1)]


# -- ecs-log ----------------------------------------------------------------------------------
def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_writes_ecs_json_lines_with_an_alert_per_finding(secrets: SecretResolver,
                                                         tmp_path: Path) -> None:
    settings = EcsLogSettings(path="logs/secpipe.ndjson", events=["*"], labels={"team": "sec"})
    sink = EcsLogSink(settings, context("ecs", root=tmp_path, secrets=secrets))
    events = run_events()
    for event in events:
        sink.deliver(event)
    sink.close()
    docs = _lines(tmp_path / "logs/secpipe.ndjson")
    assert len(docs) == len(events) + 1  # one alert for the one finding
    for doc in docs:
        assert doc["ecs"] == {"version": ECS_VERSION}
        assert TIMESTAMP.match(doc["@timestamp"])
        assert doc["labels"] == {"team": "sec", "run_id": RUN, "pipeline": "mlsecops",
                                 "project": "demo"}
        assert doc["message"]
    assert docs[0]["event"]["kind"] == "event" and docs[0]["event"]["type"] == ["start"]
    alerts = [d for d in docs if d["event"]["kind"] == "alert"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["event"]["category"] == ["vulnerability"]
    assert alert["vulnerability"]["id"] == "aws-access-key"
    assert alert["vulnerability"]["severity"] == "high"
    assert alert["vulnerability"]["category"] == ["scan-secrets"]
    assert alert["rule"]["id"] == "aws-access-key" and alert["rule"]["name"] == "AWS access key"
    assert alert["file"]["path"] == "app.py"
    assert alert["message"] == "high aws-access-key: AWS access key at app.py:3"
    gate = next(d for d in docs if d["event"]["action"] == "gate.decided")
    assert gate["event"]["type"] == ["denied"] and gate["event"]["outcome"] == "failure"
    assert "1 high finding (max 0)" in gate["message"]
    finished = next(d for d in docs if d["event"]["action"] == "step.finished")
    assert finished["event"]["duration"] == 1_250_000_000


def test_file_is_appended_and_rotated_by_size(secrets: SecretResolver, tmp_path: Path) -> None:
    settings = EcsLogSettings(path=str(tmp_path / "out.log"), events=["*"], max_bytes=4096,
                              backups=2)
    for _ in range(3):  # three sinks (three runs) append to the same file
        sink = EcsLogSink(settings, context("ecs", root=tmp_path, secrets=secrets))
        for event in run_events() * 3:
            sink.deliver(event)
        sink.close()
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out.log"))
    assert files == ["out.log", "out.log.1", "out.log.2"]
    for name in files:
        path = tmp_path / name
        assert path.stat().st_size <= 4096
        assert all(d["ecs"]["version"] == ECS_VERSION for d in _lines(path))


def test_stdout_and_file_never_hold_a_planted_secret(secrets: SecretResolver, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    events = _planted_events(secrets)
    for path in ("-", "out.log"):
        sink = EcsLogSink(EcsLogSettings(path=path, events=["*"]),
                          context("ecs", root=tmp_path, secrets=secrets))
        for event in events:
            sink.deliver(event)
        sink.close()
    out = capsys.readouterr().out
    written = (tmp_path / "out.log").read_text()
    assert out == written
    assert PLANTED not in out and "***" in out
    alert = next(json.loads(x) for x in out.splitlines() if '"alert"' in x)
    assert alert["file"]["path"] == "src/***.py"


def test_file_path_of_displayed_locations() -> None:
    assert file_path("app.py:3") == "app.py"
    assert file_path("model.zip!archive/data.pkl@12") == "model.zip"
    assert file_path("0123456789ab:src/a.py:7") == "src/a.py"
    assert file_path("plain") == "plain"


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="label"):
        EcsLogSettings(labels={"run_id": "x"})
    with pytest.raises(ValidationError, match="placeholder"):
        ElasticsearchSettings(url="http://h:9200", index="s-{nope}")
    with pytest.raises(ValidationError, match="index name"):
        ElasticsearchSettings(url="http://h:9200", index="Upper-{date}")
    with pytest.raises(ValidationError, match="http"):
        ElasticsearchSettings(url="file:///etc/passwd")


# -- elasticsearch ----------------------------------------------------------------------------
@dataclass
class FakeElasticsearch:
    """``POST /_bulk``: validates the NDJSON, answers 200 with per-item statuses from
    ``plan`` (a list per request of {item position: status}), else 201 for every item."""

    url: str = ""
    plan: list[dict[int, int]] = field(default_factory=list)
    request_status: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    indexed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        self.requests.append((headers, raw))
        if self.request_status:
            code = self.request_status.pop(0)
            return code, {"error": {"type": "es_rejected_execution_exception"}, "status": code}
        if path != "/_bulk":
            return 404, {"error": "no handler"}
        if headers.get("Content-Type") != "application/x-ndjson":
            return 406, {"error": "Content-Type header is not supported"}
        if headers.get("Authorization") != f"ApiKey {API_KEY}":
            return 401, {"error": {"type": "security_exception"}}
        if not raw.endswith(b"\n"):
            return 400, {"error": {"type": "illegal_argument_exception",
                                   "reason": "The bulk request must be terminated by a newline"}}
        lines = raw.decode("utf-8").split("\n")[:-1]
        if len(lines) % 2:
            return 400, {"error": {"type": "illegal_argument_exception"}}
        statuses = self.plan.pop(0) if self.plan else {}
        items = []
        for i in range(0, len(lines), 2):
            action, source = json.loads(lines[i]), json.loads(lines[i + 1])
            assert list(action) == ["create"], action
            meta = action["create"]
            assert set(meta) == {"_index", "_id"}
            assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", meta["_index"]), meta
            assert source["ecs"]["version"] == ECS_VERSION and "@timestamp" in source
            status = statuses.get(i // 2, 201)
            if status == 201 and meta["_id"] in self.indexed:
                status = 409
            item: dict[str, Any] = {"_index": meta["_index"], "_id": meta["_id"],
                                    "status": status}
            if status == 201:
                self.indexed[meta["_id"]] = source
            elif status == 400:
                item["error"] = {"type": "mapper_parsing_exception",
                                 "reason": f"failed to parse {source.get('message')}"}
            elif status == 429:
                item["error"] = {"type": "es_rejected_execution_exception"}
            elif status == 409:
                item["error"] = {"type": "version_conflict_engine_exception"}
            items.append({"create": item})
        return 200, {"took": 1, "errors": any(it["create"]["status"] >= 300 for it in items),
                     "items": items}


@contextmanager
def elasticsearch(**options: Any) -> Iterator[FakeElasticsearch]:
    fake = FakeElasticsearch(**options)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                code, answer = fake.handle(self.path, dict(self.headers.items()), raw)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _es(fake: FakeElasticsearch, secrets: SecretResolver, **options: Any) -> ElasticsearchSink:
    options = {"retries": 3, "backoff": 0.01, **options}
    settings = ElasticsearchSettings(url=fake.url, api_key="${env:ES_KEY}", **options)
    return ElasticsearchSink(settings, context("es", secrets=secrets))


def _run(sink: ElasticsearchSink, events: list[Event]) -> SinkBus:
    bus = SinkBus([sink])
    for event in events:
        bus.emit(event)
    bus.close(10)
    return bus


def test_bulk_indexes_the_run_in_one_request_at_run_finished(secrets: SecretResolver) -> None:
    with elasticsearch() as fake:
        bus = _run(_es(fake, secrets, index="secpipe-{pipeline}-{date}"), run_events())
    assert bus.failures == []
    assert len(fake.requests) == 1  # batched: every document of the run in one _bulk
    docs = list(fake.indexed.values())
    assert len(docs) == 12  # 11 events (no progress, no log) + 1 finding alert
    action = json.loads(fake.requests[0][1].split(b"\n")[0])
    assert re.fullmatch(r"secpipe-mlsecops-\d{4}\.\d\d\.\d\d", action["create"]["_index"])
    assert any(d["event"]["kind"] == "alert" and d["file"]["path"] == "app.py" for d in docs)


def test_only_429_items_are_resent_and_rejected_items_are_reported(
        secrets: SecretResolver) -> None:
    with elasticsearch(plan=[{1: 429, 2: 400, 4: 429}]) as fake:
        bus = _run(_es(fake, secrets), run_events())
    first, second = fake.requests[0][1], fake.requests[1][1]
    assert first.count(b"\n") == 24 and second.count(b"\n") == 4  # two 429 items resent
    sent_again = [json.loads(x) for x in second.split(b"\n")[1::2] if x]
    first_docs = [json.loads(x) for x in first.split(b"\n")[1::2] if x]
    assert sent_again == [first_docs[1], first_docs[4]]
    assert len(fake.indexed) == 11  # all but the rejected one
    assert len(bus.failures) == 1
    assert "1 document(s) rejected (1 mapper_parsing_exception)" in bus.failures[0]
    assert "failed to parse" not in bus.failures[0]  # the reason may echo a document


def test_a_failed_request_is_resent_without_duplicates(secrets: SecretResolver) -> None:
    with elasticsearch(request_status=[503]) as fake:
        bus = _run(_es(fake, secrets, batch_size=4), run_events())
    assert bus.failures == []
    assert fake.requests[0][1] == fake.requests[1][1]  # the 503'd batch, resent as it was
    assert len(fake.indexed) == 12
    with elasticsearch(request_status=[401]) as fake:
        bus = _run(_es(fake, secrets), run_events()[:1] + run_events()[-1:])
    assert len(fake.requests) == 1  # 401: not retried
    assert "HTTP 401" in bus.failures[0] and API_KEY not in bus.failures[0]


def test_elasticsearch_never_receives_a_planted_secret(secrets: SecretResolver) -> None:
    with elasticsearch() as fake:
        bus = _run(_es(fake, secrets, events=["*"]), _planted_events(secrets))
    assert bus.failures == []
    raw = b"".join(body for _, body in fake.requests)
    assert PLANTED.encode() not in raw and b"***" in raw


def test_a_whole_run_is_logged(project: Path) -> None:
    from secpipe.cli.main import main

    (project / "settings.py").write_text('AWS_ACCESS_KEY_ID = "' + "AKIA" +
                                         'Q3EGRXMPL7ZT4WBN"\n')
    (project / "secpipe.yaml").write_text(
        "sinks:\n  logs: {uses: ecs-log, with: {path: logs/ecs.ndjson}}\n"
        "pipelines:\n  p:\n    stages:\n"
        "      - {name: scan, steps: [{uses: scan-secrets, with: {cache: false}}]}\n"
        "      - {name: gate, steps: [{uses: gate}]}\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    docs = _lines(project / "logs/ecs.ndjson")
    assert docs[0]["secpipe"]["event"] == "run.started"
    assert docs[-1]["secpipe"]["event"] == "run.finished"
    alert = next(d for d in docs if d["event"]["kind"] == "alert")
    assert alert["file"]["path"] == "settings.py"
    assert alert["labels"]["pipeline"] == "p" and alert["labels"]["project"] == "project"


def test_unsent_documents_are_bounded_while_elasticsearch_is_down(
        secrets: SecretResolver) -> None:
    with elasticsearch(request_status=[503] * 100) as fake:
        sink = _es(fake, secrets, batch_size=1, events=["*"], retries=0)
        bus = _run(sink, run_events())
    assert len(sink._pending) <= 10  # MAX_PENDING_BATCHES x batch_size
    assert any("dropped unsent" in line for line in bus.failures)
    assert all(API_KEY not in line for line in bus.failures)
