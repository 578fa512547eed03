"""The ``scan-code`` step on real files built here: rule pack and bandit findings, notebooks,
what cannot be analysed, ``# nosec``, explicit files, an empty tree, settings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from code_helpers import RunCode, notebook

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding, Severity
from secpipe.core.results import StepStatus
from secpipe.policy.evaluate import evaluate
from secpipe.policy.model import PolicySpec
from secpipe.tools.suppressions import TOOL_SUPPRESSED_TAG

FLASK_APP = """\
import subprocess
from flask import Flask, request

app = Flask(__name__)


@app.route("/run")
def run():
    return subprocess.check_output("ls " + request.args["d"], shell=True)


if __name__ == "__main__":
    app.run(host="127.0.0.1", debug=True)
"""


def at(findings: tuple[Finding, ...], rule: str) -> list[tuple[str, str | None, int | None]]:
    return [(f.location.path, f.location.member, f.location.line)
            for f in findings if f.rule_id == rule]


def test_flask_debug_and_shell_injection_found_once_each(project: Path,
                                                         run_code: RunCode) -> None:
    (project / "app.py").write_text(FLASK_APP)
    result = run_code(project)
    assert result.status is StepStatus.PASSED
    rules = {(f.rule_id, f.location.line) for f in result.findings}
    assert ("code.debug-server", 13) in rules
    # bandit's B201 reports the same concern on the same line: the rule pack's finding is kept
    assert ("code.bandit.B201", 13) not in rules
    shell = [f for f in result.findings if f.rule_id == "code.bandit.B602"]
    assert [f.location.line for f in shell] == [9]
    assert {"CWE-78", "bandit:B602"} <= set(shell[0].tags)
    assert shell[0].severity is Severity.HIGH and shell[0].scanner == "scan-code"
    assert "bandit" in shell[0].remediation
    assert result.metrics["files_scanned"] == 1
    assert result.metrics["lines_scanned"] == FLASK_APP.count("\n")
    assert result.metrics["findings_bandit"] >= 2 and result.metrics["findings_secpipe"] >= 1
    assert result.message.startswith(f"{len(result.findings)} findings in 1 file (")
    assert "bandit" in result.tool


def test_pickle_load_is_reported_by_the_rule_pack_not_twice(project: Path,
                                                            run_code: RunCode) -> None:
    (project / "load.py").write_text(
        "import pickle\nimport urllib.request\n"
        "path, _ = urllib.request.urlretrieve('https://example.com/m.pkl')\n"
        "with open(path, 'rb') as fh:\n    model = pickle.load(fh)\n")
    findings = run_code(project).findings
    lines = {f.rule_id: f.location.line for f in findings}
    assert lines.get("code.pickle-deserialization") == 5
    assert "code.bandit.B301" not in lines  # same concern, same line: bandit's dropped
    assert lines.get("code.bandit.B403") == 1  # the import is another line: kept


def test_notebook_code_cells_are_analysed_and_located_by_cell(project: Path,
                                                              run_code: RunCode) -> None:
    (project / "train.ipynb").write_text(notebook([
        ("markdown", "# Training\n"),
        ("code", "%pip install torch\nimport torch\n"),
        ("code", "for f in ['a']:\n    !ls {f}\nfiles = !ls\n"
                 "state = torch.load('model.pt')\n"),
        ("code", "%%bash\ncurl example.com | sh\n"),
    ]))
    result = run_code(project)
    assert at(result.findings, "code.torch-load-unsafe") == [("train.ipynb", "cell[2]", 4)]
    assert not at(result.findings, "code.unparsed")  # magics and shell escapes blanked
    assert result.metrics["lines_scanned"] == 2 + 4
    assert any(s.path == "train.ipynb!cell[3]" and "%%bash" in s.reason
               for s in result.skipped)


def test_notebook_of_another_language_is_listed_not_analysed(project: Path,
                                                             run_code: RunCode) -> None:
    (project / "r.ipynb").write_text(notebook([("code", "x <- 1\n")], language="R"))
    result = run_code(project)
    assert result.findings == ()
    assert [s.reason for s in result.skipped] == ["notebook in r (not Python)"]


def test_broken_notebook_is_a_finding(project: Path, run_code: RunCode) -> None:
    (project / "bad.ipynb").write_text('{"cells": [')
    assert at(run_code(project).findings, "code.not-a-notebook") == [("bad.ipynb", None, None)]


def test_syntax_error_is_a_finding_with_its_line(project: Path, run_code: RunCode) -> None:
    (project / "ok.py").write_text("x = 1\n")
    (project / "broken.py").write_text("x = 1\n\ndef f(:\n    pass\n")
    result = run_code(project)
    assert result.status is StepStatus.PASSED
    assert at(result.findings, "code.unparsed") == [("broken.py", None, 3)]
    finding = next(f for f in result.findings if f.rule_id == "code.unparsed")
    assert finding.severity is Severity.MEDIUM and "syntax error at line 3" in finding.message
    assert result.metrics["files_incomplete"] == 1


def test_unknown_and_wrong_encodings_are_findings(project: Path, run_code: RunCode) -> None:
    (project / "cookie.py").write_bytes(b"#!/usr/bin/env python\n# -*- coding: klingon -*-\n")
    (project / "bytes.py").write_bytes(b"x = 1\ny = '\xff\xfe'\n")
    (project / "bom.py").write_bytes(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n")
    result = run_code(project)
    found = sorted(at(result.findings, "code.undecodable"))
    assert found == [("bom.py", None, 1), ("bytes.py", None, 2), ("cookie.py", None, 2)]
    messages = " ".join(f.message for f in result.findings)
    assert "unknown encoding 'klingon'" in messages


def test_declared_latin1_source_is_decoded_and_analysed(project: Path,
                                                        run_code: RunCode) -> None:
    (project / "legacy.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\nimport subprocess\n"
        b"subprocess.call('ls', shell=True)\n")
    result = run_code(project)
    assert at(result.findings, "code.bandit.B602") == [("legacy.py", None, 4)]
    assert not at(result.findings, "code.undecodable")


def test_a_50_mb_generated_file_is_a_finding_in_bounded_time(project: Path,
                                                              run_code: RunCode) -> None:
    line = "value_%d = compute(alpha, beta, [1, 2, 3], {'k': %d})\n"
    with (project / "generated.py").open("w") as fh:
        for i in range(0, 900_000):
            fh.write(line % (i, i))
    assert (project / "generated.py").stat().st_size > 50_000_000
    (project / "small.py").write_text("import pickle\n")
    started = time.monotonic()
    result = run_code(project)
    assert time.monotonic() - started < 10
    assert at(result.findings, "code.too-large") == [("generated.py", None, None)]
    assert result.status is StepStatus.PASSED
    assert at(result.findings, "code.bandit.B403") == [("small.py", None, 1)]
    # named explicitly, the same file makes the step an error
    explicit = run_code(project, paths=["generated.py"])
    assert explicit.status is StepStatus.ERROR
    assert explicit.message.startswith("generated.py: too large")


def test_nosec_findings_stay_visible_marked_and_the_policy_decides(project: Path,
                                                                   run_code: RunCode) -> None:
    (project / "tool.py").write_text(
        "import subprocess, sys\ncmd = sys.argv[1]\n"
        "subprocess.call(cmd, shell=True)  # nosec\n"
        "subprocess.call(cmd, shell=True)  # nosec B602\n"
        "subprocess.call(cmd, shell=True)  # nosec B101\n"
        "x = '# nosec'; subprocess.call(cmd, shell=True)\n")
    findings = run_code(project).findings
    shell = {f.location.line: f for f in findings if f.rule_id == "code.bandit.B602"}
    assert sorted(shell) == [3, 4, 5, 6]
    assert all(f.severity is Severity.HIGH for f in shell.values())
    marked = sorted(n for n, f in shell.items() if TOOL_SUPPRESSED_TAG in f.tags)
    assert marked == [3, 4]  # a nosec naming another test, or in a string, does not count
    strict = evaluate(PolicySpec(fail_on=Severity.HIGH), findings, {})
    lenient = evaluate(PolicySpec(fail_on=Severity.HIGH, accept_tool_suppressions=True),
                       findings, {})
    assert not strict.passed and strict.counted == len(findings)
    assert lenient.counted == len(findings) - 2 and not lenient.passed  # lines 5 and 6 count
    only_marked = [f for f in findings if f.location.line in (3, 4)]
    assert evaluate(PolicySpec(fail_on=Severity.HIGH, accept_tool_suppressions=True),
                    only_marked, {}).passed


def test_explicit_file_that_cannot_be_analysed_is_an_error(project: Path,
                                                            run_code: RunCode) -> None:
    (project / "broken.py").write_text("def (\n")
    (project / "fine.py").write_text("x = 1\n")
    result = run_code(project, paths=["broken.py", "fine.py"])
    assert result.status is StepStatus.ERROR
    assert result.message == "broken.py: syntax error at line 1: invalid syntax"
    assert at(result.findings, "code.unparsed") == [("broken.py", None, 1)]


def test_tree_without_python_is_skipped_as_nothing_found(project: Path,
                                                         run_code: RunCode) -> None:
    (project / "README.md").write_text("# hi\n")
    (project / "types.pyi").write_text("def f() -> int: ...\n")
    result = run_code(project)
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("nothing found:")
    assert result.findings == ()


def test_python_scripts_are_found_by_their_shebang(project: Path, run_code: RunCode) -> None:
    (project / "deploy").write_text("#!/usr/bin/env python3\nimport os\nos.system('make')\n")
    (project / "build").write_text("#!/bin/sh\nmake\n")
    result = run_code(project)
    assert result.metrics["files_scanned"] == 1
    assert ("deploy", None, 3) in at(result.findings, "code.bandit.B605")


def test_hardcoded_password_is_not_echoed(project: Path, run_code: RunCode) -> None:
    (project / "conf.py").write_text("password = 'Tr0ub4dor&3-horse'\n")
    finding = next(f for f in run_code(project).findings if f.rule_id == "code.bandit.B105")
    assert "Tr0ub4dor" not in finding.message + finding.evidence


def test_skip_rules_and_min_severity(project: Path, run_code: RunCode) -> None:
    (project / "a.py").write_text("import pickle, sys\nassert True\n"
                                  "import subprocess\nsubprocess.call(sys.argv[1], shell=True)\n")
    every = {f.rule_id for f in run_code(project).findings}
    assert {"code.bandit.B101", "code.bandit.B403", "code.bandit.B602"} <= every
    fewer = {f.rule_id for f in run_code(project, skip_rules=["B101", "code.bandit.B403"])
             .findings}
    assert "code.bandit.B101" not in fewer and "code.bandit.B403" not in fewer
    assert "code.bandit.B602" in fewer
    high = {f.rule_id for f in run_code(project, min_severity="high").findings}
    assert high == {"code.bandit.B602"}
    assert {f.rule_id for f in run_code(project, bandit=False).findings} <= {
        r for r in every if not r.startswith("code.bandit.")}


def test_skip_rules_refuses_unknown_ids_and_analysis_findings(project: Path,
                                                              run_code: RunCode) -> None:
    (project / "a.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="unknown rule 'B999'"):
        run_code(project, skip_rules=["B999"])
    with pytest.raises(ConfigError, match="cannot be skipped"):
        run_code(project, skip_rules=["code.unparsed"])
    with pytest.raises(ValueError, match="unknown severity"):
        run_code(project, min_severity="severe")


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("deep.py", ("x = " + "+".join(["a"] * 20_000) + "\n").encode(), "RecursionError"),
    ("parens.py", ("x = " + "(" * 400 + "1" + ")" * 400 + "\n").encode(), "nested parentheses"),
    ("nul.py", b"x = 1\x00\n", "null bytes"),
    ("py2.py", b"print 'hello'\n", "syntax error at line 1"),
])
def test_hostile_sources_are_findings_never_crashes(project: Path, run_code: RunCode,
                                                    name: str, data: bytes,
                                                    reason: str) -> None:
    (project / name).write_bytes(data)
    result = run_code(project)
    assert result.status is StepStatus.PASSED
    assert [(f.rule_id, f.location.path) for f in result.findings] == [("code.unparsed", name)]
    assert reason in result.findings[0].message
