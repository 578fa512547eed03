"""The format registry is exactly what ``secpipe report`` offers, and every format renders a run
recorded by really running a pipeline (an ``exec`` step whose tool writes SARIF, then a gate)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from html_check import parse
from jsonschema import Draft7Validator

from secpipe.cli.main import main
from secpipe.reports import FORMATS

TOOL = textwrap.dedent('''
    import json, sys
    log = {"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "tinytool", "version": "1.2.3", "rules": [
            {"id": "TT001", "shortDescription": {"text": "Hard-coded credential"},
             "properties": {"security-severity": "8.1", "tags": ["CWE-798"]}}]}},
        "results": [{"ruleId": "TT001", "level": "error",
                     "message": {"text": "credential in settings | <b>bold</b>"},
                     "locations": [{"physicalLocation": {
                         "artifactLocation": {"uri": "app/settings.py"},
                         "region": {"startLine": 7}}}],
                     "partialFingerprints": {"tt/v1": "abc"}}]}]}
    with open(sys.argv[1], "w") as fh:
        json.dump(log, fh)
    print("scanned 1 file", file=sys.stderr)
''')


def _project(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "settings.py").write_text("x = 1\n")
    (root / "tinytool.py").write_text(TOOL)
    command = json.dumps([sys.executable, "tinytool.py", "{sarif}"])
    (root / "secpipe.yaml").write_text(textwrap.dedent(f"""
        pipelines:
          tiny:
            stages:
              - name: scan
                steps:
                  - uses: exec
                    id: tinytool
                    with:
                      command: {command}
                      tool: tinytool
              - name: gate
                steps: [{{uses: gate}}]
    """))
    return root


def test_formats_registry_is_exhaustive() -> None:
    assert set(FORMATS) == {"json", "sarif", "markdown", "html"}


@pytest.fixture
def recorded(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = _project(project)
    assert main(["run", "tiny", "-C", str(root), "-q"]) == 1  # the gate fails on the high finding
    capsys.readouterr()
    return root


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_report_renders_each_format(recorded: Path, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    assert main(["report", "latest", "--format", fmt, "-o", str(out), "-C", str(recorded)]) == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        assert data["findings"][0]["rule_id"] == "TT001"
        assert data["run"]["status"] == "failed"
    elif fmt == "sarif":
        schema = json.loads((Path(__file__).parents[1] / "data" /
                             "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
        log = json.loads(text)
        assert list(Draft7Validator(schema).iter_errors(log)) == []
        (run,) = log["runs"]
        assert run["tool"]["driver"]["name"] == "tinytool"
        assert run["results"][0]["level"] == "error"
        assert run["results"][0]["locations"][0]["physicalLocation"]["region"] == {
            "startLine": 7}
        assert run["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "8.0"
    elif fmt == "markdown":
        assert "### High (1)" in text
        assert "credential in settings \\| \\<b\\>bold\\</b\\>" in text
        assert "`app/settings.py:7`" in text
        assert "### gate: FAILED" in text
    else:
        parse(text)
        assert "credential in settings | &lt;b&gt;bold&lt;/b&gt;" in text
        assert "tinytool.sarif" in text  # the exec step registered the SARIF as an artifact


def test_markdown_is_the_default_format(recorded: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "-C", str(recorded)]) == 0
    assert capsys.readouterr().out.startswith("# secpipe report: run ")
