"""Markdown report: every section present, user data escaped so it cannot break tables or
inject HTML."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from sample_run import build_run, empty_run

from secpipe.core.findings import Finding, Location, Severity
from secpipe.reports import markdown
from secpipe.reports.markdown import code, md
from secpipe.runstore.records import RunRecord


def test_sections_in_order(sample_run: RunRecord) -> None:
    text = markdown.render(sample_run)
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads == ["## Stages and steps", "## Gate decisions", "## Findings",
                     "## Inputs not fully analysed", "## Metrics", "## Artifacts"]
    assert text.startswith("# secpipe report: run 20261126-103800-ab12\n")
    assert "- **Findings:** 8 (critical 2, high 2, medium 2, low 1, info 1)" in text


def test_steps_table_has_status_and_timings(sample_run: RunRecord) -> None:
    text = markdown.render(sample_run)
    rows = [line for line in text.splitlines() if line.startswith("| security-scan |")]
    assert len(rows) == 4
    assert ("| security-scan | scan-models | scan-models | ERROR | 0.50 s | 2 | "
            "crashed: ValueError: truncated pickle stream |") in rows
    assert "| deploy | deploy | deploy | SKIPPED | 0.00 s | 0 |   |" in text


def test_gate_reasons_and_notes(sample_run: RunRecord) -> None:
    text = markdown.render(sample_run)
    assert "### gate: FAILED" in text
    assert "- 2 critical findings (fail\\_on high)" in text
    assert "- suppression for secrets.jwt expired on 2026-01-01" in text
    assert "Judged 8 findings; 0 suppressed, 0 in the baseline." in text


def test_findings_grouped_worst_first_with_all_fields(sample_run: RunRecord) -> None:
    text = markdown.render(sample_run)
    groups = [line for line in text.splitlines() if line.startswith("### ") and "(" in line]
    assert groups == ["### Critical (2)", "### High (2)", "### Medium (2)", "### Low (1)",
                      "### Info (1)"]
    assert "- **Location:** `notebooks/train.ipynb!cell[3]/outputs[0]:2`" in text
    assert "- **Location:** `models/model.pt!archive/data.pkl@57`" in text
    assert "- **Evidence (redacted):** `AKIA************MPLE`" in text
    assert "- **Remediation:** Rotate the key \\| then remove it from history." in text
    for f in sample_run.findings:
        assert f"- **Fingerprint:** `{f.fingerprint}`" in text


def test_pipes_backticks_and_html_are_escaped(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    hostile = Finding.create(
        rule_id="r|x", title="a | b `c` <img src=x onerror=alert(1)>", severity=Severity.HIGH,
        scanner="s", location=Location(path="dir/we`ird|name.py", line=1),
        message="pipe | tick ` star *bold* [link](http://x.example) <script>x</script>",
        evidence="ab``cd", key="h")
    first = dataclasses.replace(run.steps[0], findings=(hostile,),
                                message="step | message with `code`")
    text = markdown.render(dataclasses.replace(run, steps=(first, *run.steps[1:])))
    assert not re.search(r"(?<!\\)<(script|img)", text)  # only escaped forms remain
    assert ". a \\| b \\`c\\` \\<img src=x onerror=alert(1)\\>" in text
    assert ("pipe \\| tick \\` star \\*bold\\* \\[link\\](http://x.example) "
            "\\<script\\>x\\</script\\>") in text
    assert "- **Evidence (redacted):** ```ab``cd```" in text
    row = next(line for line in text.splitlines() if line.startswith("| security-scan | scan-s"))
    assert row.count(" | ") == 6  # the message's pipe did not add a column
    assert "step \\| message with \\`code\\`" in row


def test_code_spans_and_escaping_helpers() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x") == "`` `x ``"
    assert code("a|b", table=True) == "`a\\|b`"
    assert md("multi\nline  text") == "multi line text"
    assert md("50% & $5 ~x~") == "50% \\& \\$5 \\~x\\~"


def test_empty_run_and_no_findings(tmp_path: Path) -> None:
    text = markdown.render(empty_run(tmp_path))
    assert "No step was recorded." in text and "No gate ran." in text
    assert "No findings." in text and "Duration:** —" in text
    clean = markdown.render(build_run(tmp_path, findings=False))
    assert "No findings." in clean and "safe" not in clean.lower()
