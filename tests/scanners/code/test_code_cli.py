"""``secpipe scan code`` end to end, through the installed command (a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from code_helpers import notebook

SECPIPE = Path(sys.executable).with_name("secpipe")


def scan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SECPIPE), "scan", "code", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def test_json_report_of_a_flask_app_and_a_notebook(project: Path) -> None:
    (project / "app").mkdir()
    (project / "app" / "serve.py").write_text(
        "from flask import Flask\napp = Flask(__name__)\napp.run(debug=True)\n")
    (project / "explore.ipynb").write_text(notebook([
        ("code", "!pip install transformers\n"),
        ("code", "from transformers import AutoModel\n"
                 "m = AutoModel.from_pretrained('org/x', trust_remote_code=True)\n"),
    ]))
    done = scan(project, ".", "--json", "-q")
    assert done.returncode == 1, done.stderr  # high findings: the default --fail-on is low
    report = json.loads(done.stdout)
    where = {(f["rule_id"], f["location"]["path"], f["location"].get("member"),
              f["location"].get("line")) for f in report["findings"]}
    assert ("code.debug-server", "app/serve.py", None, 3) in where
    assert ("code.trust-remote-code", "explore.ipynb", "cell[1]", 2) in where
    step = report["steps"][0]
    assert step["kind"] == "scan-code" and step["status"] == "passed"
    assert step["metrics"]["files_scanned"] == 2
    assert step["message"].endswith("in 2 files (6 lines)")
    assert "Traceback" not in done.stderr


def test_sarif_report_carries_bandit_findings_and_nosec(project: Path) -> None:
    (project / "run.py").write_text("import os, sys\nos.system(sys.argv[1])  # nosec\n")
    done = scan(project, "run.py", "--format", "sarif", "-q")
    assert done.returncode == 1, done.stderr
    run = json.loads(done.stdout)["runs"][0]
    results = {r["ruleId"]: r for r in run["results"]}
    assert "code.bandit.B605" in results
    assert results["code.bandit.B605"]["locations"][0]["physicalLocation"]["region"][
        "startLine"] == 2
    assert "secpipe:tool-suppressed" in json.dumps(results["code.bandit.B605"])


def test_explicit_unparsable_file_exits_2_naming_it(project: Path) -> None:
    (project / "broken.py").write_text("print 'python 2'\n")
    done = scan(project, "broken.py", "-q")
    assert done.returncode == 2
    assert "broken.py: syntax error at line 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_empty_tree_is_nothing_found_and_bad_option_exits_2(project: Path) -> None:
    (project / "notes.txt").write_text("nothing here\n")
    done = scan(project, ".")
    assert done.returncode == 0
    assert "nothing found:" in done.stdout
    bad = scan(project, ".", "--skip-rules", "code.too-large")
    assert bad.returncode == 2 and "cannot be skipped" in bad.stderr
