"""The defectdojo sink against a recorded-shape fake DefectDojo: a real HTTP server on 127.0.0.1.

Where the fake's shape comes from (DefectDojo ``django-DefectDojo`` sources):

* ``dojo/api_v2/serializers.py`` — ``CommonImportScanSerializer``, ``ImportScanSerializer`` and
  ``ReImportScanSerializer``: the multipart field names, ``test``/``test_id``/``engagement_id``/
  ``product_id``/``product_type_id`` in the 201 answer, ``close_old_findings`` defaulting to true
  on reimport, a reimport by unknown test id answering 400 ``Invalid pk``.
* ``dojo/tools/generic/json_parser.py`` — the Generic Findings Import ``required`` and ``allowed``
  finding keys; any other key fails the import ("Not allowed fields are present").
* Token authentication: ``Authorization: Token <key>``; 401 ``Invalid token.`` otherwise.

Stricter than the real server on one point, on purpose: an unknown multipart field is a 400 here
(DRF would silently ignore it), so a misspelt field cannot pass the test unnoticed.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sink_helpers import context

from secpipe.core.events import RunFinished
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import GateDecision, StepResult, StepStatus
from secpipe.keys.refs import SecretResolver
from secpipe.runstore.sqlite import RunStore
from secpipe.sinks import SinkBus
from secpipe.sinks.defectdojo import DefectDojoSettings, DefectDojoSink, check_generic

pytestmark = pytest.mark.server

TOKEN = "".join(["6dbd46fb21e8e5", "262e92d817d34cd7127d3854bb"])
PLANTED = "-".join(["pl4nted", "s3cret", "value"])

_COMMON = {"scan_date", "minimum_severity", "active", "verified", "scan_type", "endpoint_to_add",
           "file", "product_type_name", "product_name", "engagement_name",
           "engagement_end_date", "source_code_management_uri", "test_title",
           "auto_create_context", "deduplication_on_engagement", "lead", "push_to_jira",
           "environment", "build_id", "branch_tag", "commit_hash", "api_scan_configuration",
           "service", "group_by", "create_finding_groups_for_all_findings",
           "apply_tags_to_findings", "apply_tags_to_endpoints"}
IMPORT_FIELDS = _COMMON | {"engagement", "tags", "close_old_findings",
                           "close_old_findings_product_scope", "version"}
REIMPORT_FIELDS = _COMMON | {"do_not_reactivate", "test", "close_old_findings",
                             "close_old_findings_product_scope", "version", "tags"}
BOOLEANS = {"active", "verified", "auto_create_context", "close_old_findings",
            "deduplication_on_engagement", "push_to_jira", "do_not_reactivate"}
SEVERITIES = {"Info", "Low", "Medium", "High", "Critical"}
GENERIC_REQUIRED = {"title", "severity", "description"}
GENERIC_ALLOWED = GENERIC_REQUIRED | {
    "date", "cwe", "cve", "epss_score", "epss_percentile", "cvssv3", "cvssv3_score", "cvssv4",
    "cvssv4_score", "mitigation", "impact", "steps_to_reproduce", "severity_justification",
    "references", "active", "verified", "false_p", "out_of_scope", "risk_accepted",
    "under_review", "is_mitigated", "thread_id", "mitigated", "numerical_severity", "param",
    "payload", "line", "file_path", "component_name", "component_version", "static_finding",
    "dynamic_finding", "scanner_confidence", "unique_id_from_tool", "vuln_id_from_tool",
    "sast_source_object", "sast_sink_object", "sast_source_line", "sast_source_file_path",
    "nb_occurences", "publish_date", "service", "planned_remediation_date",
    "planned_remediation_version", "effort_for_fixing", "tags", "kev_date", "known_exploited",
    "ransomware_used", "fix_available", "fix_version",
    "endpoints", "files", "vulnerability_ids", "cwes"}  # popped before the check


class Refused(Exception):
    def __init__(self, status: int, answer: Any) -> None:
        super().__init__(status)
        self.status, self.answer = status, answer


@dataclass
class FakeDojo:
    url: str = ""
    fail: list[int] = field(default_factory=list)
    uploads: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    products: dict[str, int] = field(default_factory=dict)
    engagements: dict[tuple[str, str], int] = field(default_factory=dict)
    tests: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 10

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        self.raw.append(raw)
        if self.fail:
            return self.fail.pop(0), {"detail": "Server Error"}
        if headers.get("Authorization") != f"Token {TOKEN}":
            return 401, {"detail": "Invalid token."}
        endpoint = {"/api/v2/import-scan/": "import-scan",
                    "/api/v2/reimport-scan/": "reimport-scan"}.get(path)
        if endpoint is None:
            return 404, {"detail": "Not found."}
        try:
            fields, report = self._form(headers.get("Content-Type", ""), raw, endpoint)
            self.uploads.append((endpoint, fields, report))
            findings = self._parse(fields["scan_type"], report)
            return 201, self._store(endpoint, fields, findings)
        except Refused as exc:
            return exc.status, exc.answer

    def _form(self, content_type: str, raw: bytes,
              endpoint: str) -> tuple[dict[str, str], bytes]:
        if not content_type.startswith("multipart/form-data; boundary="):
            raise Refused(415, {"detail": f"Unsupported media type \"{content_type}\""})
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields: dict[str, str] = {}
        report = b""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            if name == "file":
                if not part.get_filename():
                    raise Refused(400, {"file": ["The submitted data was not a file."]})
                report = payload
            else:
                fields[str(name)] = payload.decode("utf-8")
        allowed = IMPORT_FIELDS if endpoint == "import-scan" else REIMPORT_FIELDS
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise Refused(400, {"unknown": unknown})
        errors: dict[str, list[str]] = {}
        for key in BOOLEANS & set(fields):
            if fields[key] not in ("true", "false"):
                errors[key] = ["Must be a valid boolean."]
        if fields.get("scan_type") not in ("SARIF", "Generic Findings Import"):
            errors["scan_type"] = ["not a valid choice."]
        if fields.get("minimum_severity", "Info") not in SEVERITIES:
            errors["minimum_severity"] = ["not a valid choice."]
        if "scan_date" in fields:
            day = dt.date.fromisoformat(fields["scan_date"])
            if day > dt.datetime.now(dt.UTC).date():
                errors["scan_date"] = ["The scan_date cannot be in the future!"]
        if not report:
            errors["non_field_errors"] = ["Uploading a Report File is required"]
        if errors:
            raise Refused(400, errors)
        return fields, report

    def _parse(self, scan_type: str, report: bytes) -> dict[str, str]:
        """uid -> title of the report's findings; refuses what DefectDojo's parsers refuse."""
        data = json.loads(report)
        out: dict[str, str] = {}
        if scan_type == "SARIF":
            if data.get("version") != "2.1.0" or not isinstance(data.get("runs"), list):
                raise Refused(400, ["Unsupported SARIF version"])
            for run in data["runs"]:
                rules = {r["id"]: r for r in run["tool"]["driver"].get("rules", [])}
                for result in run.get("results", []):
                    uid = result.get("partialFingerprints", {}).get("secpipe/v1") or \
                        result["ruleId"]
                    out[uid] = rules[result["ruleId"]]["shortDescription"]["text"]
            return out
        for item in data.get("findings", []):
            missing = sorted(GENERIC_REQUIRED - set(item))
            if missing:
                raise Refused(400, [f"Required fields are missing: {missing}"])
            extra = sorted(set(item) - GENERIC_ALLOWED)
            if extra:
                raise Refused(400, [f"Not allowed fields are present: {extra}"])
            if item["severity"] not in SEVERITIES:
                raise Refused(400, ["bad severity"])
            out[item.get("unique_id_from_tool") or item["title"]] = item["title"]
        return out

    def _engagement(self, fields: dict[str, str]) -> int:
        product, name = fields.get("product_name"), fields.get("engagement_name")
        if not product or not name:
            raise Refused(400, ["product_name and engagement_name are required"])
        create = fields.get("auto_create_context") == "true"
        if product not in self.products:
            if not create:
                raise Refused(400, [f"Product '{product}' doesn't exist"])
            self.products[product] = self._id()
        if (product, name) not in self.engagements:
            if not create:
                raise Refused(400, [f"Engagement '{name}' doesn't exist"])
            self.engagements[(product, name)] = self._id()
        return self.engagements[(product, name)]

    def _store(self, endpoint: str, fields: dict[str, str],
               findings: dict[str, str]) -> dict[str, Any]:
        test_id: int | None = None
        if endpoint == "reimport-scan":
            if "test" in fields:
                test_id = int(fields["test"])
                if test_id not in self.tests:
                    raise Refused(400, {"test": [f"Invalid pk \"{test_id}\" - object does "
                                                 "not exist."]})
            else:
                engagement = self._engagement(fields)
                test_id = next((i for i, t in self.tests.items()
                                if t["engagement"] == engagement
                                and t["title"] == fields.get("test_title")
                                and t["scan_type"] == fields["scan_type"]), None)
        if test_id is None:  # import, or a reimport that matched no test
            test_id = self._id()
            self.tests[test_id] = {"engagement": self._engagement(fields),
                                   "title": fields.get("test_title"),
                                   "scan_type": fields["scan_type"], "findings": {}}
        test = self.tests[test_id]
        if endpoint == "reimport-scan" and fields.get("close_old_findings", "true") == "true":
            for uid in test["findings"]:
                if uid not in findings:
                    test["findings"][uid] = "closed"
        for uid in findings:
            test["findings"][uid] = "active"
        engagement_id = test["engagement"]
        product = next(p for (p, _), e in self.engagements.items() if e == engagement_id)
        return {"test": test_id, "test_id": test_id, "engagement_id": engagement_id,
                "product_id": self.products[product], "product_type_id": 1,
                "scan_type": fields["scan_type"], "statistics": {"after": {}}}


@contextmanager
def defectdojo(**options: Any) -> Iterator[FakeDojo]:
    fake = FakeDojo(**options)
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


# -- recorded runs ------------------------------------------------------------------------------
def _finding(rule: str, path: str, line: int, title: str = "", message: str = "",
             severity: Severity = Severity.HIGH) -> Finding:
    return Finding.create(rule_id=rule, title=title or f"{rule} found", severity=severity,
                          scanner="scan-secrets", location=Location(path, line=line),
                          message=message or f"{rule} at {path}", tags=("CWE-798", "secret"),
                          evidence="AKIA************",
                          remediation="Rotate it.")


def _record(project: Path, findings: list[Finding], status: str = "failed") -> RunFinished:
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        run_id = store.start_run("mlsecops", str(project))
        store.record_step(run_id, 0, "scan-secrets", "scan-secrets", "scan", 1.0, 0.5,
                          StepResult(findings=tuple(findings), message="scanned"))
        gate = GateDecision(passed=not findings, reasons=("high findings",) if findings else ())
        store.record_step(run_id, 1, "gate", "gate", "gate", 2.0, 0.1,
                          StepResult(status=StepStatus.FAILED if findings else StepStatus.PASSED,
                                     gate=gate))
        store.finish_run(run_id, status, 1 if status == "failed" else 0)
    finally:
        store.close()
    return RunFinished(run_id, pipeline="mlsecops", status=status,
                       exit_code=1 if status == "failed" else 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    root.mkdir()
    return root


@pytest.fixture
def secrets(project: Path, monkeypatch: pytest.MonkeyPatch) -> SecretResolver:
    monkeypatch.setenv("DOJO_TOKEN", TOKEN)
    monkeypatch.setenv("PLANTED", PLANTED)
    return SecretResolver(project)


def _sink(fake: FakeDojo, secrets: SecretResolver, project: Path,
          **options: Any) -> DefectDojoSink:
    settings = DefectDojoSettings(url=fake.url, token="${env:DOJO_TOKEN}", retries=2,
                                  backoff=0.01, **options)
    return DefectDojoSink(settings, context("dojo", root=project, secrets=secrets))


def _deliver(sink: DefectDojoSink, event: RunFinished) -> list[str]:
    bus = SinkBus([sink])
    bus.emit(event)
    bus.close(10)
    return bus.failures


A = ("aws-access-key", "app.py", 3)
B = ("github-token", "ci/deploy.sh", 9)


@pytest.mark.parametrize("scan_type", ["SARIF", "Generic Findings Import"])
def test_imports_then_reimports_and_closes_what_is_gone(scan_type: str, secrets: SecretResolver,
                                                        project: Path) -> None:
    first = _record(project, [_finding(*A), _finding(*B)])
    with defectdojo() as fake:
        assert _deliver(_sink(fake, secrets, project, scan_type=scan_type), first) == []
        second = _record(project, [_finding(*A)])
        assert _deliver(_sink(fake, secrets, project, scan_type=scan_type), second) == []
    (ep1, f1, _), (ep2, f2, report2) = fake.uploads
    assert ep1 == "import-scan" and ep2 == "reimport-scan"
    assert f1["product_name"] == "demo" and f1["engagement_name"] == "secpipe mlsecops"
    assert f1["test_title"] == "secpipe mlsecops" and f1["auto_create_context"] == "true"
    assert f1["product_type_name"] == "secpipe" and f1["scan_type"] == scan_type
    assert f1["build_id"] == first.run_id and f1["close_old_findings"] == "false"
    test_id = int(f2["test"])
    assert f2["close_old_findings"] == "true" and "product_name" not in f2
    assert f2["build_id"] == second.run_id
    [test] = fake.tests.values()
    assert list(fake.tests) == [test_id]
    assert sorted(test["findings"].values()) == ["active", "closed"]
    state = json.loads((project / ".secpipe/defectdojo/dojo.json").read_text())
    assert list(state.values()) == [test_id]
    if scan_type == "Generic Findings Import":
        item = json.loads(report2)["findings"][0]
        assert item["severity"] == "High" and item["cwe"] == 798
        assert item["file_path"] == "app.py" and item["line"] == 3
        assert item["tags"] == ["secret"] and item["mitigation"] == "Rotate it."
        assert set(item) <= GENERIC_ALLOWED
    else:
        sarif = json.loads(report2)
        assert sarif["version"] == "2.1.0"
        results = [r for run in sarif["runs"] for r in run["results"]]
        assert len(results) == 1 and "evidence" not in results[0]["properties"]


def test_generic_documents_are_refused_with_a_key_defectdojo_refuses() -> None:
    good = {"name": "x", "findings": [{"title": "t", "severity": "High", "description": "d"}]}
    check_generic(good)
    with pytest.raises(ValueError, match="not allowed"):
        check_generic({"findings": [{"title": "t", "severity": "High", "description": "d",
                                     "fingerprint": "fp"}]})
    with pytest.raises(ValueError, match="missing"):
        check_generic({"findings": [{"title": "t", "severity": "High"}]})
    with pytest.raises(ValueError, match="does not allow"):
        check_generic({"findings": [], "runs": []})


def test_a_deleted_test_is_recreated_by_names(secrets: SecretResolver, project: Path) -> None:
    state = project / ".secpipe/defectdojo/dojo.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"demo\nsecpipe mlsecops\nsecpipe mlsecops": 999}))
    with defectdojo() as fake:
        failures = _deliver(_sink(fake, secrets, project), _record(project, [_finding(*A)]))
    assert failures == []
    (_, by_id, _), (_, by_names, _) = fake.uploads
    assert by_id["test"] == "999" and "test" not in by_names
    assert by_names["product_name"] == "demo"
    assert list(json.loads(state.read_text()).values()) == list(fake.tests)


def test_mode_reimport_without_a_kept_id_reimports_by_names(secrets: SecretResolver,
                                                            project: Path) -> None:
    with defectdojo() as fake:
        event = _record(project, [_finding(*A)])
        assert _deliver(_sink(fake, secrets, project, mode="reimport"), event) == []
    [(endpoint, fields, _)] = fake.uploads
    assert endpoint == "reimport-scan" and fields["test_title"] == "secpipe mlsecops"
    assert len(fake.tests) == 1


def test_a_partial_run_is_not_uploaded(secrets: SecretResolver, project: Path) -> None:
    with defectdojo() as fake:
        failures = _deliver(_sink(fake, secrets, project),
                            _record(project, [_finding(*A)], status="error"))
    assert fake.raw == []
    assert len(failures) == 1 and "after 1 attempt(s)" in failures[0]
    assert "ended error: not imported" in failures[0]


def test_5xx_is_retried_401_is_not_and_the_token_never_shows(secrets: SecretResolver,
                                                             project: Path) -> None:
    event = _record(project, [_finding(*A)])
    with defectdojo(fail=[502]) as fake:
        assert _deliver(_sink(fake, secrets, project), event) == []
    assert len(fake.raw) == 2 and len(fake.uploads) == 1
    with defectdojo() as fake:
        settings = DefectDojoSettings(url=fake.url, token="wrong-token-value", retries=2,
                                      backoff=0.01)
        sink = DefectDojoSink(settings, context("dojo", root=project, secrets=secrets))
        failures = _deliver(sink, event)
    assert len(fake.raw) == 1
    assert "import-scan to DefectDojo at http://127.0.0.1" in failures[0]
    assert "HTTP 401" in failures[0] and TOKEN not in failures[0]


@pytest.mark.parametrize("scan_type", ["SARIF", "Generic Findings Import"])
def test_a_planted_secret_never_reaches_defectdojo(scan_type: str, secrets: SecretResolver,
                                                   project: Path) -> None:
    planted = secrets.resolve("${env:PLANTED}")
    leak = _finding("leak", f"cfg/{planted}.env", 1, title=f"token {planted}",
                    message=f"the value {planted} is hard-coded")
    with defectdojo() as fake:
        assert _deliver(_sink(fake, secrets, project, scan_type=scan_type),
                        _record(project, [leak])) == []
    [raw] = fake.raw
    assert PLANTED.encode() not in raw and b"***" in raw


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"run\.finished"):
        DefectDojoSettings(url="http://h", token="t", events=["gate.decided"])
    with pytest.raises(ValidationError, match="placeholder"):
        DefectDojoSettings(url="http://h", token="t", engagement_name="{branch}")
    with pytest.raises(ValidationError, match="scan_type"):
        DefectDojoSettings(url="http://h", token="t", scan_type="ZAP Scan")


RUN_CONFIG = """
sinks:
  dojo:
    uses: defectdojo
    with: {{url: "{url}", token: "${{env:DOJO_TOKEN}}", scan_type: "{scan_type}"}}
pipelines:
  p:
    stages:
      - name: scan
        steps: [{{uses: scan-secrets, with: {{cache: false}}}}]
      - name: gate
        steps: [{{uses: gate}}]
"""


def test_a_whole_run_is_imported(project: Path, secrets: SecretResolver,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from secpipe.cli.main import main

    key = "AKIA" + "Q3EGRXMPL7ZT4WBN"
    (project / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key}"\n')
    with defectdojo() as fake:
        (project / "secpipe.yaml").write_text(
            RUN_CONFIG.format(url=fake.url, scan_type="Generic Findings Import"))
        assert main(["run", "p", "-C", str(project), "-q"]) == 1  # the gate fails
    assert "sink dojo" not in capsys.readouterr().err
    [(endpoint, fields, report)] = fake.uploads
    assert endpoint == "import-scan" and fields["product_name"] == "demo"
    assert fields["engagement_name"] == "secpipe p"
    findings = json.loads(report)["findings"]
    assert any(f["vuln_id_from_tool"].endswith("aws-access-key") for f in findings)
    assert key.encode() not in fake.raw[0]
