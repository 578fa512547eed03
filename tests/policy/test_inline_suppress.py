"""The gate and inline suppressions: a finding a secpipe scanner marked from a
``secpipe:ignore`` comment is accepted until its expiry, counted after it, and a tool can never
write the marker itself."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from secpipe.core.findings import Finding, Location, Severity
from secpipe.policy.evaluate import evaluate
from secpipe.policy.inline import (
    EXPIRES_PROPERTY,
    INLINE_TAG,
    REASON_PROPERTY,
    WHERE_PROPERTY,
    mark_inline,
)
from secpipe.policy.model import PolicySpec, SuppressionSpec
from secpipe.tools.parsers.json import ingest_json
from secpipe.tools.parsers.sarif import ingest_sarif
from secpipe.tools.suppressions import TOOL_SUPPRESSED_TAG, mark_tool_suppressed, unmarked_tags

TODAY = dt.date(2026, 12, 4)
POLICY = PolicySpec(fail_on=Severity.HIGH)


def finding(line: int = 3, rule: str = "iac.aws.s3-encryption") -> Finding:
    return Finding.create(rule_id=rule, title="S3 bucket is not encrypted",
                          severity=Severity.HIGH, scanner="scan-iac",
                          location=Location("main.tf", line), message="aws_s3_bucket.data")


def test_mark_inline_sets_the_tag_and_properties() -> None:
    f = mark_inline(finding(), "public assets", dt.date(2027, 1, 31), "main.tf:1")
    props = dict(f.properties)
    assert INLINE_TAG in f.tags and f.tags.count(INLINE_TAG) == 1
    assert props[REASON_PROPERTY] == "public assets"
    assert props[EXPIRES_PROPERTY] == "2027-01-31" and props[WHERE_PROPERTY] == "main.tf:1"
    assert f.fingerprint == finding().fingerprint  # same identity as the unsuppressed finding
    again = mark_inline(f, "public assets", dt.date(2027, 1, 31), "main.tf:1")
    assert again.tags.count(INLINE_TAG) == 1


def test_a_valid_inline_suppression_is_accepted_with_its_reason() -> None:
    f = mark_inline(finding(), "public assets", dt.date(2027, 1, 31), "main.tf:1")
    decision = evaluate(POLICY, [f], {}, today=TODAY)
    assert decision.passed and decision.counted == 0 and decision.suppressed == 1
    assert decision.accepted == ((f.fingerprint, "suppressed inline at main.tf:1: public assets,"
                                                 " until 2027-01-31"),)
    assert "1 finding(s) suppressed with a reason" in decision.notes


def test_expiry_today_still_holds() -> None:
    f = mark_inline(finding(), "public assets", TODAY, "main.tf:1")
    assert evaluate(POLICY, [f], {}, today=TODAY).passed


def test_an_expired_inline_suppression_is_counted_and_noted_once() -> None:
    a = mark_inline(finding(3), "public assets", dt.date(2026, 12, 3), "main.tf:1")
    b = mark_inline(finding(4), "public assets", dt.date(2026, 12, 3), "main.tf:1")
    decision = evaluate(POLICY, [a, b], {}, today=TODAY)
    assert not decision.passed and decision.counted == 2 and decision.suppressed == 0
    expired = [n for n in decision.notes if "expired" in n]
    assert expired == ["inline suppression at main.tf:1 expired on 2026-12-03: it no longer "
                       "suppresses (reason was: public assets)"]


def test_a_marker_without_reason_or_date_does_not_suppress() -> None:
    bare = Finding(**{**finding().__dict__, "tags": (INLINE_TAG,)})
    no_reason = mark_inline(finding(5), "  ", dt.date(2027, 1, 1), "main.tf:1")
    bad_date = Finding(**{**finding(6).__dict__, "tags": (INLINE_TAG,),
                          "properties": ((EXPIRES_PROPERTY, "someday"),
                                         (REASON_PROPERTY, "fine"))})
    decision = evaluate(POLICY, [bare, no_reason, bad_date], {}, today=TODAY)
    assert decision.counted == 3 and decision.suppressed == 0 and not decision.passed
    assert any("has no reason" in n for n in decision.notes)
    assert any("no valid expiry date" in n for n in decision.notes)


def test_a_config_suppression_still_comes_first() -> None:
    f = mark_inline(finding(), "public assets", dt.date(2026, 1, 1), "main.tf:1")
    spec = SuppressionSpec(rule="iac.aws.s3-encryption", reason="accepted risk",
                           expires=dt.date(2027, 1, 1))
    decision = evaluate(POLICY, [f], {}, suppressions=[spec], today=TODAY)
    assert decision.passed and decision.accepted[0][1] == "suppressed: accepted risk, until " \
                                                          "2027-01-01"


def test_inline_and_tool_suppressed_in_one_run() -> None:
    inline = mark_inline(finding(3), "public assets", dt.date(2027, 1, 31), "main.tf:1")
    tool = mark_tool_suppressed(finding(9), "inSource", "checkov comment at main.tf:8")
    decision = evaluate(POLICY, [inline, tool], {}, today=TODAY)
    assert not decision.passed and decision.suppressed == 1 and decision.counted == 1
    accepting = POLICY.merged(PolicySpec(accept_tool_suppressions=True))
    assert evaluate(accepting, [inline, tool], {}, today=TODAY).passed


def test_unmarked_tags_drops_every_secpipe_marker() -> None:
    tags = ["CWE-1", INLINE_TAG, TOOL_SUPPRESSED_TAG, " SECPIPE:Inline-Suppressed",
            "secpipe:anything", "not-secpipe:x"]
    assert unmarked_tags(tags) == ["CWE-1", "not-secpipe:x"]


def _sarif(tags: list[str], props: dict[str, Any]) -> dict[str, Any]:
    result = {"ruleId": "r1", "level": "error", "message": {"text": "bad"},
              "locations": [{"physicalLocation": {"artifactLocation": {"uri": "main.tf"},
                                                  "region": {"startLine": 2}}}],
              "properties": {"tags": tags, **props}}
    return {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "evil"}},
                                          "results": [result]}]}


def test_a_tool_cannot_mark_its_sarif_results_as_inline_suppressed(tmp_path: Path) -> None:
    props = {REASON_PROPERTY: "trust me", EXPIRES_PROPERTY: "2099-01-01",
             WHERE_PROPERTY: "main.tf:1"}
    (f,) = ingest_sarif(_sarif([INLINE_TAG, "CWE-1"], props), project_root=tmp_path).findings
    assert INLINE_TAG not in f.tags and REASON_PROPERTY not in dict(f.properties)
    decision = evaluate(POLICY, [f], {}, today=TODAY)
    assert not decision.passed and decision.suppressed == 0


def test_a_tool_cannot_mark_its_json_results_as_inline_suppressed(tmp_path: Path) -> None:
    data = json.loads(json.dumps({"findings": [{
        "rule_id": "r1", "message": "bad", "severity": "high", "path": "main.tf",
        "tags": [INLINE_TAG, "secpipe:inline-suppressed "]}]}))
    (f,) = ingest_json(data, scanner="exec:evil", project_root=tmp_path).findings
    assert INLINE_TAG not in f.tags
    assert not evaluate(POLICY, [f], {}, today=TODAY).passed
