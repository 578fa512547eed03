"""SARIF ingestion: tolerant of missing fields, bounded, severities and paths mapped, secrets in
snippets never kept in clear."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import pytest

from secpipe.core.errors import InputError
from secpipe.core.findings import Confidence, Severity
from secpipe.tools.parsers.sarif import ingest_sarif, load_sarif, read_sarif
from secpipe.tools.redact import mask, redact_tokens
from secpipe.tools.suppressions import (
    TOOL_SUPPRESSED_REASON,
    TOOL_SUPPRESSED_TAG,
    is_tool_suppressed,
)


def _log(results: list[dict[str, Any]], rules: list[dict[str, Any]] | None = None,
         **run: Any) -> dict[str, Any]:
    driver: dict[str, Any] = {"name": "tool", "version": "1.0"}
    if rules is not None:
        driver["rules"] = rules
    return {"version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results, **run}]}


def _one(root: Path, result: dict[str, Any], rules: list[dict[str, Any]] | None = None,
         **run: Any) -> Any:
    (finding,) = ingest_sarif(_log([result], rules, **run), project_root=root).findings
    return finding


def test_minimal_result_is_tolerated(tmp_path: Path) -> None:
    f = _one(tmp_path, {"message": {"text": "m"}})
    assert f.rule_id == "sarif.unknown-rule" and f.severity is Severity.MEDIUM
    assert f.location.path == "(no location)" and f.scanner == "tool"
    bare = ingest_sarif({"runs": [{}, "junk", {"tool": 5, "results": [7, None]}]},
                        project_root=tmp_path)
    assert len(bare.findings) == 2 and bare.tools == ("unknown-tool", "unknown-tool",
                                                       "unknown-tool")


@pytest.mark.parametrize(("result", "rule", "expected"), [
    ({"level": "error"}, {}, Severity.HIGH),
    ({"level": "warning"}, {}, Severity.MEDIUM),
    ({"level": "note"}, {}, Severity.LOW),
    ({"level": "none"}, {}, Severity.INFO),
    ({}, {"defaultConfiguration": {"level": "error"}}, Severity.HIGH),
    ({"level": "note"}, {"properties": {"security-severity": "9.1"}}, Severity.CRITICAL),
    ({}, {"properties": {"security-severity": "7.0"}}, Severity.HIGH),
    ({}, {"properties": {"security-severity": 5}}, Severity.MEDIUM),
    ({}, {"properties": {"security-severity": "2.0"}}, Severity.LOW),
    ({}, {"properties": {"security-severity": "0.0"}}, Severity.INFO),
    ({}, {"properties": {"security-severity": "nan", "tags": ["x", "CRITICAL"]}},
     Severity.CRITICAL),
    ({"properties": {"severity": "info"}}, {"properties": {"security-severity": "9.5"}},
     Severity.INFO),
    ({"properties": {"security-severity": "8.0"}}, {"properties": {"severity": "low"}},
     Severity.HIGH),
])
def test_severity_mapping(tmp_path: Path, result: dict[str, Any], rule: dict[str, Any],
                          expected: Severity) -> None:
    f = _one(tmp_path, {"ruleId": "R1", "message": {"text": "m"}, **result}, [{"id": "R1", **rule}])
    assert f.severity is expected


def test_default_severity_only_when_sarif_is_silent(tmp_path: Path) -> None:
    log = _log([{"ruleId": "a", "message": {"text": "m"}},
                {"ruleId": "b", "level": "note", "message": {"text": "m"}}])
    a, b = ingest_sarif(log, project_root=tmp_path, default_severity=Severity.HIGH).findings
    assert a.severity is Severity.HIGH and b.severity is Severity.LOW


def test_rule_metadata(tmp_path: Path) -> None:
    rule = {"id": "R1", "shortDescription": {"text": "Short"}, "help": {"text": "Fix it"},
            "properties": {"tags": ["CWE-798", "security", 7], "precision": "medium"}}
    f = _one(tmp_path, {"ruleIndex": 0, "message": {"text": "msg"}}, [rule])
    assert (f.rule_id, f.title, f.remediation) == ("R1", "Short", "Fix it")
    assert f.tags == ("CWE-798", "security") and f.confidence is Confidence.MEDIUM


def test_message_strings_and_arguments(tmp_path: Path) -> None:
    rule = {"id": "R1", "messageStrings": {"default": {"text": "{0} calls {1}"}}}
    f = _one(tmp_path, {"ruleId": "R1", "message": {"id": "default", "arguments": ["a", "b"]}},
             [rule])
    assert f.message == "a calls b"


def test_rule_id_is_data_only(tmp_path: Path) -> None:
    f = _one(tmp_path, {"ruleId": "x\x1b[31m\n$(rm -rf /) " + "y" * 500, "message": {"text": "m"}})
    assert "\x1b" not in f.rule_id and "\n" not in f.rule_id and " " not in f.rule_id
    assert len(f.rule_id) <= 200 and f.rule_id.startswith("x-[31m-$(rm--rf-/)")


def test_paths_from_base_ids_file_uris_and_relative(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    sub = root / "sub"
    sub.mkdir(parents=True)
    results = [
        {"message": {"text": "a"}, "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": "src/a%20b.py", "uriBaseId": "ROOT"}, "region": {"startLine": 3,
                                                                    "startColumn": 2}}}]},
        {"message": {"text": "b"}, "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": (root / "c.py").as_uri()}}}]},
        {"message": {"text": "c"}, "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": "d.py"}}}]},
        {"message": {"text": "d"}, "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": "/etc/passwd"}}}]},
        {"message": {"text": "e"}, "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": "https://registry.example/pkg"}}}]},
        {"message": {"text": "f"}, "locations": [{"physicalLocation": {"artifactLocation": {
            "uri": "../../outside.py"}}}]},
    ]
    log = _log(results, originalUriBaseIds={"ROOT": {"uri": root.as_uri() + "/"}})
    found = ingest_sarif(log, project_root=root, base_dir=sub).findings
    paths = [f.location.path for f in found]
    assert paths == ["src/a b.py", "c.py", "sub/d.py", "/etc/passwd",
                     "https://registry.example/pkg", str(tmp_path / "outside.py")]
    assert (found[0].location.line, found[0].location.column) == (3, 2)


def test_snippet_secret_never_kept_in_clear(tmp_path: Path) -> None:
    rnd = random.Random(3)
    secret = "ghp_" + "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(36))
    f = _one(tmp_path, {"ruleId": "github-pat", "message": {"text": f"found {secret} here"},
                        "locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": "a.py"},
                            "region": {"startLine": 1, "snippet": {"text": secret}}}}]})
    assert secret not in repr(f)
    assert f.evidence == "ghp_" + "*" * 20
    assert f.message == "found ghp_******************** here"


def test_fingerprints_become_the_key(tmp_path: Path) -> None:
    def fp(result: dict[str, Any], line: int) -> str:
        loc = [{"physicalLocation": {"artifactLocation": {"uri": "a.py"},
                                     "region": {"startLine": line}}}]
        return str(_one(tmp_path, {"ruleId": "R", "message": {"text": "m"}, "locations": loc,
                                   **result}).fingerprint)

    tool_fp = {"partialFingerprints": {"commitSha": "abc", "email": ""}}
    assert fp(tool_fp, 1) == fp(tool_fp, 9)  # independent of line moves
    assert fp({}, 1) != fp({}, 2)  # nothing identifying: the line is used
    own = {"partialFingerprints": {"secpipe/v1": "0" * 32}}
    assert fp(own, 1) == "0" * 32
    assert fp({"partialFingerprints": {"secpipe/v1": "not-ours"}}, 1) != "not-ours"


def test_pass_results_are_dropped_and_tool_suppressions_kept_marked(tmp_path: Path) -> None:
    log = _log([{"message": {"text": "a"}, "kind": "pass"},
                {"message": {"text": "b"}, "suppressions": [{"kind": "inSource"}],
                 "properties": {"tags": ["secpipe:tool-suppressed", "CWE-1"]}},
                {"message": {"text": "c"}, "suppressions": [{"kind": "external",
                                                             "status": "rejected"}]},
                {"message": {"text": "d"}, "suppressions": [{"kind": "external",
                                                             "status": "underReview"}]},
                {"message": {"text": "e"}, "properties": {"tags": ["secpipe:tool-suppressed"]}},
                {"message": {"text": "f"}, "suppressions": [
                    {"kind": "external", "justification": "legacy code"}]}])
    got = ingest_sarif(log, project_root=tmp_path)
    by_text = {f.message[0]: f for f in got.findings}
    assert sorted(by_text) == ["b", "c", "d", "e", "f"] and got.suppressed == 2
    b, f = by_text["b"], by_text["f"]
    assert b.message == f"b [{TOOL_SUPPRESSED_REASON}]" and is_tool_suppressed(b)
    assert b.tags == ("CWE-1", TOOL_SUPPRESSED_TAG)
    assert dict(b.properties)["tool-suppression"] == "inSource"
    assert f.message == ("f [suppressed in the tool's output (its justification: legacy code), "
                         "without expiry]") and is_tool_suppressed(f)
    # rejected / under review do not suppress; a tool cannot set our marker in its own tags
    assert not any(is_tool_suppressed(by_text[k]) for k in "cde")
    # the marker does not change the identity: a reasoned suppression by fingerprint still works
    plain = _log([{"message": {"text": "b"}, "properties": {"tags": ["CWE-1"]}}])
    (same,) = ingest_sarif(plain, project_root=tmp_path).findings
    assert same.fingerprint == b.fingerprint


def test_tool_notifications_and_failed_invocations(tmp_path: Path) -> None:
    inv = {"executionSuccessful": False, "toolExecutionNotifications": [
        {"message": {"text": "could not parse x.tf"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "x.tf"}}}]}]}
    got = ingest_sarif(_log([], invocations=[inv]), project_root=tmp_path)
    assert got.skipped[0].path == "x.tf" and got.skipped[0].reason == "could not parse x.tf"
    assert got.failures == ("tool reported an unsuccessful run: could not parse x.tf",)


def test_too_many_results_is_a_finding_not_a_silent_cut(tmp_path: Path) -> None:
    log = _log([{"message": {"text": str(i)}} for i in range(12)])
    got = ingest_sarif(log, project_root=tmp_path, max_results=10, source="big.sarif")
    assert len(got.findings) == 11
    assert got.findings[-1].rule_id == "sarif.truncated"
    assert "10 of 12" in got.findings[-1].message and got.skipped[-1].path == "big.sarif"


def test_read_sarif_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.sarif"
    with pytest.raises(InputError, match=r"none\.sarif is missing"):
        read_sarif(missing)
    big = tmp_path / "big.sarif"
    big.write_text(json.dumps(_log([])) + " " * 100)
    with pytest.raises(InputError, match=r"big\.sarif is .* bytes"):
        read_sarif(big, max_bytes=50)
    bad = tmp_path / "bad.sarif"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.sarif is not valid JSON"):
        read_sarif(bad)
    deep = tmp_path / "deep.sarif"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(InputError, match=r"deep\.sarif"):
        read_sarif(deep)
    other = tmp_path / "other.sarif"
    other.write_text('{"version": "2.1.0"}')
    with pytest.raises(InputError, match=r"other\.sarif is not a SARIF log"):
        load_sarif(other, project_root=tmp_path)


def test_redaction_helpers() -> None:
    assert mask("abc") == "****"
    assert mask("AKIAABCDEFGHIJKLMNOP") == "AKIA" + "*" * 16
    example_key = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"  # assembled: no literal in the repo
    assert redact_tokens(f"key {example_key} end") == \
        "key sk_l******************** end"
    keep = "path src/secpipe/steps/exec.py and word internationalization_words"
    assert redact_tokens(keep) == keep


def test_multi_line_messages_become_one_line(tmp_path: Path) -> None:
    text = "Artifact: a.py\nType: \n\nSecret X\r\nSeverity: HIGH"
    f = _one(tmp_path, {"message": {"text": text}})
    assert f.message == "Artifact: a.py; Type:; Secret X; Severity: HIGH"


def test_unparseable_artifact_uri_is_kept_as_written(tmp_path: Path) -> None:
    loc = {"physicalLocation": {"artifactLocation": {"uri": "https://[bad/x.py"}}}
    f = _one(tmp_path, {"message": {"text": "m"}, "locations": [loc]})
    assert f.location.path == "https://[bad/x.py"
