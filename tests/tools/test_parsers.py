"""The JSON, XML and line parsers: the generic findings shape, malformed, oversized and hostile
input (DTDs, entities, deep nesting) refused with an error naming the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secpipe.core.errors import InputError
from secpipe.core.findings import Severity
from secpipe.tools.parsers.json import ingest_json, read_json
from secpipe.tools.parsers.lines import LineSplitter, location_lines, read_lines
from secpipe.tools.parsers.xml import parse_xml, read_xml
from secpipe.tools.suppressions import TOOL_SUPPRESSED_REASON, is_tool_suppressed


def _ingest(root: Path, data: Any, **kw: Any) -> Any:
    return ingest_json(data, scanner="acme", project_root=root, **kw)


# -- JSON ---------------------------------------------------------------------------------------
def test_generic_json_findings(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    data = {"tool": {"name": "acme-scan", "version": "1.2"}, "findings": [
        {"rule_id": "acme.weak hash", "message": "MD5\nused", "severity": "HIGH",
         "path": "auth.py", "line": 12, "column": 5, "tags": ["CWE-328"], "extra": {"x": 1},
         "fingerprint": "abc"},
        {"rule_id": "acme.note", "title": "Just a note", "severity": "none"},
        {"rule_id": "acme.nosec", "message": "eval", "path": str(tmp_path / "sub" / "b.py"),
         "suppressed": True},
        {"rule_id": "acme.why", "message": "m", "suppressed": {"reason": "legacy"}},
    ]}
    got = _ingest(tmp_path, data, base_dir=tmp_path / "sub", default_severity=Severity.LOW)
    first, note, nosec, why = got.findings
    assert got.tool == "acme-scan 1.2" and got.suppressed == 2
    assert (first.rule_id, first.message, first.severity) == ("acme.weak-hash", "MD5 used",
                                                               Severity.HIGH)
    assert (first.location.path, first.location.line, first.location.column) == ("sub/auth.py",
                                                                                12, 5)
    assert first.tags == ("CWE-328",) and first.scanner == "acme"
    assert (note.message, note.severity, note.location.path) == ("Just a note", Severity.INFO,
                                                                 "(no location)")
    assert nosec.location.path == "sub/b.py" and is_tool_suppressed(nosec)
    assert nosec.message == f"eval [{TOOL_SUPPRESSED_REASON}]"
    assert "legacy" in why.message and is_tool_suppressed(why)
    moved = _ingest(tmp_path, [{**data["findings"][0], "line": 40}],
                    base_dir=tmp_path / "sub")
    assert moved.findings[0].fingerprint == first.fingerprint  # the tool's fingerprint is kept
    default = _ingest(tmp_path, [{"rule_id": "r", "message": "m"}], default_severity=Severity.LOW)
    assert default.findings[0].severity is Severity.LOW and default.tool == ""


@pytest.mark.parametrize(("data", "error"), [
    ({"results": []}, "not in the findings shape"),
    ("findings", "not in the findings shape"),
    (None, "not in the findings shape"),
    ([5], r"findings\[0\] is not an object"),
    ([{"message": "m"}], r"findings\[0\] has no rule_id"),
    ([{"rule_id": "r"}], "neither message nor title"),
    ([{"rule_id": "r", "message": "m", "line": "7"}], r"findings\[0\]\.line must be a positive"),
    ([{"rule_id": "r", "message": "m", "line": 0}], "line must be a positive"),
    ([{"rule_id": "r", "message": "m", "severity": "severe"}], "'severe' is not a severity"),
    ([{"rule_id": "r", "message": "m", "tags": "CWE-1"}], "tags must be a list of strings"),
    ([{"rule_id": 5, "message": "m"}], "rule_id must be a string"),
    ([{"rule_id": "r", "message": "m", "suppressed": "yes"}], "suppressed must be"),
])
def test_malformed_json_shapes_are_errors_never_no_findings(tmp_path: Path, data: Any,
                                                            error: str) -> None:
    with pytest.raises(InputError, match=error):
        _ingest(tmp_path, data)


def test_json_file_bounds_and_syntax(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text(json.dumps({"findings": []}))
    assert read_json(path) == {"findings": []}
    with pytest.raises(InputError, match=r"is \d+ bytes \(limit 10\)"):
        read_json(path, max_bytes=10)
    path.write_text("{oops")
    with pytest.raises(InputError, match="is not valid JSON"):
        read_json(path)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="is not valid JSON"):
        read_json(path)
    with pytest.raises(InputError, match="missing or unreadable"):
        read_json(tmp_path / "absent.json")
    with pytest.raises(InputError, match="holds 3 findings"):
        _ingest(tmp_path, [{"rule_id": "r", "message": "m"}] * 3, max_findings=2)


# -- XML ----------------------------------------------------------------------------------------
JUNIT = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites xmlns:x="urn:x"><testsuite name="checkov" tests="2">
  <testcase name="CKV_AWS_1" classname="main.tf"><failure message="open bucket">detail</failure>
  </testcase><testcase name="CKV_AWS_2" x:file="b.tf"/></testsuite></testsuites>"""


def test_xml_is_read_into_our_own_tree(tmp_path: Path) -> None:
    root = parse_xml(JUNIT)
    assert root.tag == "testsuites"
    cases = root.iter("testcase")
    assert [c.get("name") for c in cases] == ["CKV_AWS_1", "CKV_AWS_2"]
    (failure,) = root.iter("failure")
    assert failure.get("message") == "open bucket" and failure.text == "detail"
    assert cases[1].get("{urn:x}file") == "b.tf"
    path = tmp_path / "r.xml"
    path.write_bytes(JUNIT)
    assert read_xml(path) == root


@pytest.mark.parametrize(("doc", "error"), [
    (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>', "document type"),
    (b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     b"<lolz>&lol2;</lolz>", "document type"),
    (b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>', "document type"),
    (b'<!DOCTYPE a [<!ENTITY x SYSTEM "http://example.invalid/x">]><a>&x;</a>',
     "document type"),
    (b"<a><b></a>", "not well-formed"),
    (b"", "not well-formed"),
    (b"<a>&undefined;</a>", "not well-formed"),
])
def test_hostile_or_malformed_xml_is_refused(doc: bytes, error: str) -> None:
    with pytest.raises(InputError, match=error):
        parse_xml(doc)


def test_xml_bounds(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="deeper than 64"):
        parse_xml(b"<a>" * 100 + b"</a>" * 100)
    with pytest.raises(InputError, match="over 10 elements"):
        parse_xml(b"<r>" + b"<i/>" * 20 + b"</r>", max_elements=10)
    path = tmp_path / "big.xml"
    path.write_bytes(b"<r>" + b" " * 5000 + b"</r>")
    with pytest.raises(InputError, match=r"\(limit 1000\)"):
        read_xml(path, max_bytes=1000)


# -- lines --------------------------------------------------------------------------------------
def test_line_splitter_bounds_lines_across_chunks() -> None:
    splitter = LineSplitter(max_line=5)
    assert splitter.feed(b"ab") == []
    assert splitter.feed(b"c\r\nabcdefgh") == ["abc", "abcde"]
    assert splitter.feed(b"ijk\nz") == []
    assert splitter.finish() == ["z"] and splitter.dropped == 6


def test_read_lines_bounds(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("a\nb\nc\n")
    assert read_lines(path, max_bytes=100) == ("a", "b", "c")
    with pytest.raises(InputError, match=r"has 3 lines \(limit 2\)"):
        read_lines(path, max_bytes=100, max_lines=2)
    with pytest.raises(InputError, match=r"\(limit 4\)"):
        read_lines(path, max_bytes=4)


def test_compiler_style_location_lines() -> None:
    hits, other = location_lines([
        "src/app.py:12:5: F401 `os` imported but unused",
        "deploy.sh:3:1: warning: Double quote to prevent globbing [SC2086]",
        "notes.txt:7: TODO remove",
        "Found 3 errors.",
        "",
    ])
    assert other == 1
    assert [(h.path, h.line, h.column, h.severity, h.rule) for h in hits] == [
        ("src/app.py", 12, 5, "", "F401"), ("deploy.sh", 3, 1, "warning", "SC2086"),
        ("notes.txt", 7, None, "", "")]
    assert hits[1].message == "Double quote to prevent globbing"
