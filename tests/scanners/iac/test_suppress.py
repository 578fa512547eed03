"""Inline suppressions in IaC files: secpipe:ignore with reason and expiry, and the skip comments
of checkov, tfsec and trivy, matched to hits by place and by rule id or alias."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secpipe.core.findings import Finding, Location, Severity
from secpipe.policy.inline import INLINE_TAG, inline_state
from secpipe.scanners.iac.model import IacHit, IacRule, rule_table
from secpipe.scanners.iac.suppress import (
    Inline,
    Marking,
    apply,
    findings_with_suppressions,
    mark_finding,
    parse_comments,
)
from secpipe.tools.suppressions import is_tool_suppressed

TODAY = dt.date(2026, 12, 4)
RULE = IacRule(
    id="iac.aws.s3-encryption", title="S3 bucket is not encrypted", severity=Severity.HIGH,
    framework="terraform", cwe="CWE-311", controls=("NIST-800-53:SC-28",), rationale="r",
    fix="f", bad="b", good="g",
    aliases=("CKV_AWS_19", "AVD-AWS-0088", "aws-s3-enable-bucket-encryption"))
OTHER = IacRule(
    id="iac.aws.s3-versioning", title="S3 bucket without versioning", severity=Severity.MEDIUM,
    framework="terraform", cwe="CWE-693", controls=("NIST-800-53:CP-9",), rationale="r",
    fix="f", bad="b", good="g", aliases=("CKV_AWS_21", "AVD-AWS-0090"))
RULES = rule_table([RULE, OTHER])


def hit(rule: IacRule = RULE, line: int = 3, block: tuple[int, int] | None = (2, 5),
        path: str = "main.tf") -> IacHit:
    return IacHit(rule.id, path, line, "m", resource="aws_s3_bucket.data", block=block)


def tf(comment: str, *, above: bool = True) -> str:
    """A bucket with ``comment`` just above it (line 1) or inside it (line 3)."""
    if above:
        return f'{comment}\nresource "aws_s3_bucket" "data" {{\n  bucket = "d"\n}}\n'
    return f'\nresource "aws_s3_bucket" "data" {{\n  {comment}\n  bucket = "d"\n}}\n'


def marked(text: str, hits: list[IacHit], rel: str = "main.tf") -> list[Marking | None]:
    inlines, problems = parse_comments(text, rel, today=TODAY)
    assert problems == []
    return [m for _, m in apply(hits, inlines, RULES, TODAY)]


def finding() -> Finding:
    return Finding.create(rule_id=RULE.id, title=RULE.title, severity=RULE.severity,
                          scanner="scan-iac", location=Location("main.tf", 3), message="m")


# --- secpipe:ignore ----------------------------------------------------------------------------


def test_secpipe_ignore_above_the_resource_suppresses_with_reason_and_expiry() -> None:
    text = tf('# secpipe:ignore iac.aws.s3-encryption reason="public assets" '
              "expires=2027-01-31")
    (marking,) = marked(text, [hit(line=3, block=(2, 4))])
    assert marking is not None and marking.by_secpipe
    assert marking.inline.reason == "public assets"
    assert marking.inline.expires == dt.date(2027, 1, 31)
    assert marking.inline.where == "main.tf:1"
    out = mark_finding(finding(), marking)
    assert INLINE_TAG in out.tags
    state = inline_state(out)
    assert state is not None and state.where == "main.tf:1"
    assert state.reason == "public assets" and state.expires == dt.date(2027, 1, 31)


def test_secpipe_ignore_inside_the_block_and_with_double_slash() -> None:
    text = tf("// secpipe:ignore iac.aws.s3-encryption reason=website expires=2027-01-31",
              above=False)
    (marking,) = marked(text, [hit(line=4, block=(2, 5))])
    assert marking is not None and marking.inline.reason == "website"


def test_secpipe_ignore_names_only_its_rules() -> None:
    text = tf("# secpipe:ignore iac.aws.s3-versioning reason=website expires=2027-01-31")
    enc, ver = marked(text, [hit(RULE, block=(2, 4)), hit(OTHER, block=(2, 4))])
    assert enc is None
    assert ver is not None and ver.inline.ids == ("iac.aws.s3-versioning",)


def test_several_ids_comma_separated_and_keys_in_either_order() -> None:
    text = tf("# secpipe:ignore iac.aws.s3-encryption, iac.aws.s3-versioning "
              "expires=2027-01-31 reason='static site, no data'")
    enc, ver = marked(text, [hit(RULE, block=(2, 4)), hit(OTHER, block=(2, 4))])
    assert enc is not None and ver is not None
    assert enc.inline.reason == "static site, no data"


def test_secpipe_ignore_does_not_take_an_alias() -> None:
    text = tf("# secpipe:ignore CKV_AWS_19 reason=website expires=2027-01-31")
    assert marked(text, [hit(block=(2, 4))]) == [None]


def test_unused_secpipe_ignore_is_not_a_problem() -> None:
    text = tf("# secpipe:ignore iac.aws.gone reason=website expires=2027-01-31")
    assert marked(text, []) == []


@pytest.mark.parametrize(("comment", "says"), [
    ("# secpipe:ignore iac.aws.s3-encryption expires=2027-01-31", "no reason"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=website", "no expires"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=website expires=2027-02-30",
     "is not a date"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=website expires=31/01/2027",
     "is not a date"),
    ('# secpipe:ignore iac.aws.s3-encryption reason="  " expires=2027-01-31',
     "at least 3 characters"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=ok expires=2027-01-31", "at least 3"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=website expires=2026-12-03",
     "expired on 2026-12-03"),
    ("# secpipe:ignore * reason=website expires=2027-01-31", "no wildcard"),
    ("# secpipe:ignore reason=website expires=2027-01-31", "rule ids"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=website expire=2027-01-31",
     "unknown key expire="),
    ('# secpipe:ignore iac.aws.s3-encryption reason="website expires=2027-01-31',
     "no closing quote"),
    ("# secpipe:ignore iac.aws.s3-encryption reason=web site expires=2027-01-31",
     "unexpected text 'site'"),
    ("# secpipe:ignore iac.parse-error reason=website expires=2027-01-31",
     "cannot be suppressed"),
    ("# secpipe:ignore:iac.aws.s3-encryption reason=website expires=2027-01-31", "rule ids"),
])
def test_an_invalid_secpipe_ignore_suppresses_nothing_and_says_why(comment: str,
                                                                   says: str) -> None:
    inlines, problems = parse_comments(tf(comment), "main.tf", today=TODAY)
    assert [i for i in inlines if i.tool == "secpipe"] == []
    (problem,) = problems
    assert problem.rule_id == "iac.invalid-suppression"
    assert (problem.path, problem.line) == ("main.tf", 1)
    assert says in problem.message, problem.message
    assert [m for _, m in apply([hit(block=(2, 4))], inlines, RULES, TODAY)] == [None]


def test_expiry_today_still_suppresses_and_apply_rechecks_expiry() -> None:
    text = tf("# secpipe:ignore iac.aws.s3-encryption reason=website expires=2026-12-04")
    (marking,) = marked(text, [hit(block=(2, 4))])
    assert marking is not None
    inlines, _ = parse_comments(text, "main.tf", today=TODAY)
    later = TODAY + dt.timedelta(days=1)
    assert [m for _, m in apply([hit(block=(2, 4))], inlines, RULES, later)] == [None]


def test_a_reason_may_quote_other_markers() -> None:
    text = tf('# secpipe:ignore iac.aws.s3-encryption reason="not # trivy:ignore:AVD-AWS-0088" '
              "expires=2027-01-31")
    inlines, problems = parse_comments(text, "main.tf", today=TODAY)
    assert problems == [] and [i.tool for i in inlines] == ["secpipe"]


# --- tools' skip comments ----------------------------------------------------------------------


def test_checkov_skip_with_justification_marks_tool_suppressed() -> None:
    text = tf("  # checkov:skip=CKV_AWS_19:the bucket is public by design", above=False)
    (marking,) = marked(text, [hit(line=4, block=(2, 5))])
    assert marking is not None and not marking.by_secpipe
    assert marking.inline.reason == "the bucket is public by design"
    out = mark_finding(finding(), marking)
    assert is_tool_suppressed(out) and INLINE_TAG not in out.tags
    assert dict(out.properties)["tool-suppression"] == "inSource"
    assert "the bucket is public by design" in out.message


def test_checkov_skip_without_justification() -> None:
    (marking,) = marked(tf("#checkov:skip=CKV_AWS_19", above=False), [hit(line=4,
                                                                          block=(2, 5))])
    assert marking is not None and marking.inline.ids == ("CKV_AWS_19",)


@pytest.mark.parametrize("comment", [
    "#trivy:ignore:AVD-AWS-0088", "# trivy:ignore:avd-aws-0088", "# trivy:ignore:AWS-0088",
    "# tfsec:ignore:aws-s3-enable-bucket-encryption",
    "// tfsec:ignore:AWS-S3-ENABLE-BUCKET-ENCRYPTION:exp:2027-01-02",
    "# trivy:ignore:AVD-AWS-0090 trivy:ignore:AVD-AWS-0088",
])
def test_trivy_and_tfsec_ignores_match_aliases(comment: str) -> None:
    (marking,) = marked(tf(comment), [hit(line=3, block=(2, 4))])
    assert marking is not None and marking.inline.tool in ("trivy", "tfsec")


@pytest.mark.parametrize("comment", [
    "# tfsec:ignore:aws-s3-enable-bucket-encryption:exp:2026-01-02",  # past
    "# trivy:ignore:AVD-AWS-0088:exp:2026-13-40",  # unreadable: trivy would not honour it
    "# trivy:ignore:AVD-AWS-0088[bucket=other]",  # selector, not evaluated
    "# trivy:ignore:AVD-AWS-0086",  # another check
    "# checkov:skip=CKV_AWS_190:looks similar",
    "# trivy:ignore:*",
])
def test_tool_ignores_that_do_not_apply(comment: str) -> None:
    assert marked(tf(comment), [hit(line=3, block=(2, 4))]) == [None]


def test_a_tool_skip_for_a_rule_without_aliases_does_not_apply() -> None:
    text = tf("# checkov:skip=CKV_AWS_19")
    assert marked(text, [IacHit("org.owner-tag", "main.tf", 3, "m", block=(2, 4))]) == [None]


def test_secpipe_ignore_wins_over_a_tool_skip() -> None:
    text = ("# checkov:skip=CKV_AWS_19:x\n"
            "# secpipe:ignore iac.aws.s3-encryption reason=website expires=2027-01-31\n"
            'resource "aws_s3_bucket" "data" {\n}\n')
    (marking,) = marked(text, [hit(line=3, block=(3, 4))])
    assert marking is not None and marking.by_secpipe


def test_kubernetes_checkov_annotation() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
            '    checkov.io/skip1: "CKV_K8S_20=needs privilege escalation for ping"\n'
            "spec:\n  containers:\n  - name: c\n    image: x\n")
    k8s = IacRule(id="iac.k8s.allow-privilege-escalation", title="t", severity=Severity.HIGH,
                  framework="kubernetes", cwe="CWE-250", controls=("NIST-800-53:AC-6",),
                  rationale="r", fix="f", bad="b", good="g", aliases=("CKV_K8S_20",))
    inlines, problems = parse_comments(text, "k8s/pod.yaml", today=TODAY)
    assert problems == []
    pairs = apply([IacHit(k8s.id, "k8s/pod.yaml", 9, "m", block=(1, 10))], inlines,
                  rule_table([k8s]), TODAY)
    marking = pairs[0][1]
    assert marking is not None and marking.inline.reason == "needs privilege escalation for ping"


# --- scope --------------------------------------------------------------------------------------


def test_scope_of_a_comment_above_is_the_next_block_only() -> None:
    text = ("# trivy:ignore:AVD-AWS-0088\n"
            "# another comment line\n"
            'resource "aws_s3_bucket" "a" {\n}\n'
            'resource "aws_s3_bucket" "b" {\n}\n')
    first, second = marked(text, [hit(line=3, block=(3, 4)), hit(line=5, block=(5, 6))])
    assert first is not None and second is None


def test_a_blank_line_breaks_just_above() -> None:
    text = '# trivy:ignore:AVD-AWS-0088\n\nresource "aws_s3_bucket" "a" {\n}\n'
    assert marked(text, [hit(line=3, block=(3, 4))]) == [None]


def test_inline_comment_on_the_attribute_line_without_a_block() -> None:
    text = 'resource "aws_s3_bucket" "a" {\n  acl = "x" # trivy:ignore:AVD-AWS-0088\n}\n'
    on_line, elsewhere = marked(text, [hit(line=2, block=None), hit(line=7, block=None)])
    assert on_line is not None and elsewhere is None


def test_other_files_are_not_affected() -> None:
    text = tf("# trivy:ignore:AVD-AWS-0088")
    assert marked(text, [hit(path="other.tf", block=(2, 4))]) == [None]


# --- not comments -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "rel"), [
    ('resource "x" "y" {\n  description = "# trivy:ignore:AVD-AWS-0088"\n}\n', "main.tf"),
    ('resource "x" "y" {\n  description = "a \\" # trivy:ignore:AVD-AWS-0088"\n}\n', "main.tf"),
    ("a:\n  b: 'x # trivy:ignore:AVD-AWS-0088'\n", "k8s.yaml"),
    ("a:\n  url: http://example.com//trivy:ignore:AVD-AWS-0088\n", "k8s.yaml"),
    ("a:\n  b: x#trivy:ignore:AVD-AWS-0088\n", "k8s.yaml"),
    ("a:\n  b: x # notrivy:ignore:AVD-AWS-0088\n", "k8s.yaml"),
])
def test_look_alikes_in_strings_and_values_are_not_comments(text: str, rel: str) -> None:
    inlines, problems = parse_comments(text, rel, today=TODAY)
    assert inlines == [] and problems == []


def test_yaml_apostrophe_in_a_plain_value_does_not_hide_a_comment() -> None:
    inlines, _ = parse_comments("a:\n  b: it's # trivy:ignore:AVD-AWS-0088\n", "x.yaml",
                                today=TODAY)
    assert [i.ids for i in inlines] == [("AVD-AWS-0088",)]


def test_dockerfile_comment() -> None:
    text = "# trivy:ignore:AVD-DS-0002\nFROM python:3.11\n"
    (inline,) = parse_comments(text, "Dockerfile", today=TODAY)[0]
    assert inline == Inline("trivy", ("AVD-DS-0002",), "Dockerfile", 1, 2)


def test_hostile_text_is_bounded_and_never_raises() -> None:
    long_line = "# secpipe:ignore " + "a," * 50_000 + " reason=x"
    text = "\n".join([long_line, "#" * 10_000, '"' * 9_999, "\x00\ufeff# checkov:skip=",
                      "# secpipe:ignore iac.x reason=\"" + "y" * 5000 + "\" expires=2027-01-01",
                      "# trivy:ignore:", "# tfsec:ignore::exp:"])
    inlines, problems = parse_comments(text, "main.tf", today=TODAY)
    assert all(p.rule_id == "iac.invalid-suppression" for p in problems)
    assert all(len(i.reason) <= 300 for i in inlines)
    assert len(problems) == 2


# --- what the step calls ----------------------------------------------------------------------


def _make(h: IacHit, rule: IacRule | None) -> Finding:
    assert rule is not None
    return Finding.create(rule_id=h.rule_id, title=rule.title, severity=rule.severity,
                          scanner="scan-iac", location=Location(h.path, h.line), message=h.message)


def test_findings_with_suppressions_reads_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        "# secpipe:ignore iac.aws.s3-encryption reason=website expires=2027-01-31\n"
        'resource "aws_s3_bucket" "a" {\n'
        "  # checkov:skip=CKV_AWS_21:versioned elsewhere\n"
        "}\n"
        "# secpipe:ignore iac.aws.s3-versioning reason=website\n"
        'resource "aws_s3_bucket" "b" {\n}\n', encoding="utf-8")
    (tmp_path / "other.tf").write_text("# secpipe:ignore iac.x reason=website\n")
    hits = [hit(RULE, 2, (2, 4)), hit(OTHER, 2, (2, 4)), hit(RULE, 6, (6, 7)),
            hit(OTHER, 6, (6, 7))]
    findings, problems = findings_with_suppressions(tmp_path, hits, RULES, 1 << 20, TODAY, _make)
    assert [f.location.line for f in findings] == [2, 2, 6, 6]
    assert INLINE_TAG in findings[0].tags
    assert is_tool_suppressed(findings[1]) and INLINE_TAG not in findings[1].tags
    assert findings[2].tags == () and findings[3].tags == ()
    # problems of the files with hits only (other.tf has none)
    assert [(p.rule_id, p.path, p.line) for p in problems] == [
        ("iac.invalid-suppression", "main.tf", 5)]


def test_an_unreadable_or_escaping_file_suppresses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.tf").write_text("# trivy:ignore:AVD-AWS-0088\nresource {\n}\n")
    big = root / "big.tf"
    big.write_text("# trivy:ignore:AVD-AWS-0088\nresource {\n}\n" + "#" * 2000)
    hits = [hit(path="../outside.tf", line=2, block=(2, 3)),
            hit(path="big.tf", line=2, block=(2, 3)), hit(path="gone.tf", line=2, block=(2, 3))]
    findings, problems = findings_with_suppressions(root, hits, RULES, 1000, TODAY, _make)
    assert [f.tags for f in findings] == [(), (), ()] and problems == []


def test_a_bom_does_not_hide_the_first_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_bytes(
        b"\xef\xbb\xbf# trivy:ignore:AVD-AWS-0088\nresource \"aws_s3_bucket\" \"a\" {\n}\n")
    findings, _ = findings_with_suppressions(tmp_path, [hit(line=2, block=(2, 3))], RULES,
                                             1 << 20, TODAY, _make)
    assert is_tool_suppressed(findings[0])


_PIECES = ["# ", "// ", "secpipe:ignore ", "checkov:skip=", "tfsec:ignore:", "trivy:ignore:",
           "iac.aws.s3-encryption", ",", "reason=", "expires=", "2027-01-31", ":exp:", '"',
           "'", " ", "\n", "[", "]", "=", "CKV_AWS_19", "AVD-AWS-0088", "\\", "\x00", "é",
           "checkov.io/skip1: ", "*"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40), st.sampled_from(["a.tf", "b.yaml",
                                                                         "Dockerfile"]))
def test_any_text_parses_without_raising(pieces: list[str], rel: str) -> None:
    inlines, problems = parse_comments("".join(pieces), rel, today=TODAY)
    assert all(p.rule_id == "iac.invalid-suppression" and p.path == rel for p in problems)
    for inline in inlines:
        assert inline.ids and inline.path == rel
        if inline.tool == "secpipe":
            assert inline.expires is not None and inline.expires >= TODAY
            assert len(inline.reason.strip()) >= 3
    apply([hit(path=rel, line=1, block=(1, 3))], inlines, RULES, TODAY)


def test_lines_are_counted_by_newlines_only() -> None:
    text = ('resource "aws_s3_bucket" "a" {\r\n  description = "x\x0cy\u2028z"\r\n'
            "  # trivy:ignore:AVD-AWS-0088\r\n}\r\n")
    (inline,) = parse_comments(text, "main.tf", today=TODAY)[0]
    assert inline.line == 3 and inline.next_line == 4
