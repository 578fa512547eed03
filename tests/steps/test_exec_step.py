"""The ``exec`` step with small Python programs as the external tool: placeholders, exit codes,
missing tools and SARIF files, timeouts and cancellation (whole process group), never a shell."""

from __future__ import annotations

import json
import os
import random
import string
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from secpipe.core.findings import Severity
from secpipe.core.results import StepStatus
from secpipe.core.step import StepContext
from secpipe.steps.exec import ExecSettings, ExecStep

PY = sys.executable
LOG = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "fake", "version": "0.9"}},
                                     "results": [{"ruleId": "F1", "message": {"text": "hit"},
                                                  "locations": [{"physicalLocation": {
                                                      "artifactLocation": {"uri": "a.py"},
                                                      "region": {"startLine": 2}}}]}]}]}


def _ctx(root: Path, **kw: Any) -> StepContext:
    return StepContext(project_root=root, workdir=root / ".secpipe" / "runs" / "r1" / "ex",
                       step_id="ex", **kw)


def _script(root: Path, body: str, name: str = "tool.py") -> str:
    path = root / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def _run(root: Path, **settings: Any) -> Any:
    ctx = settings.pop("ctx", None) or _ctx(root)
    return ExecStep().run(ctx, ExecSettings(**settings))


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        ExecSettings(command=[])
    with pytest.raises(ValidationError):
        ExecSettings(command=[" "])
    with pytest.raises(ValidationError):
        ExecSettings.model_validate({"command": ["x"], "shell": True})
    assert ExecSettings(command=["x"]).ok_exit_codes == [0, 1]


def test_sarif_placeholder_and_project(project: Path) -> None:
    tool = _script(project, f"""
        import json, sys
        assert sys.argv[2] == {str(project)!r}
        json.dump({LOG!r}, open(sys.argv[1], "w"))
    """)
    result = _run(project, command=[PY, tool, "{sarif}", "{project}"])
    assert result.status is StepStatus.PASSED, result.message
    (f,) = result.findings
    assert (f.rule_id, f.location.path, f.location.line) == ("F1", "a.py", 2)
    assert f.scanner == f"exec:{Path(PY).name}"  # default: the command's basename
    assert result.tool == "fake 0.9" and result.message == "1 findings from fake 0.9"
    (art,) = result.artifacts
    assert art.media_type == "application/sarif+json" and art.name == "ex.sarif"
    assert Path(art.path) == project / ".secpipe/runs/r1/ex/results.sarif"
    assert result.metrics["exec_exit_code"] == 0 and result.metrics["sarif_results"] == 1


def test_sarif_from_stdout_with_cwd_env_and_tool_name(project: Path) -> None:
    (project / "sub").mkdir()
    tool = _script(project, f"""
        import json, os
        assert os.getcwd().endswith("sub") and os.environ["FAKE_MODE"] == "x"
        print(json.dumps({LOG!r}))
    """)
    result = _run(project, command=[PY, tool], cwd="sub", env={"FAKE_MODE": "x"}, tool="fake",
                  default_severity=Severity.HIGH)
    assert result.status is StepStatus.PASSED, result.message
    (f,) = result.findings
    assert f.scanner == "fake" and f.location.path == "sub/a.py" and f.severity is Severity.HIGH


def test_sarif_setting_names_the_file_the_tool_writes(project: Path) -> None:
    tool = _script(project, f"import json; json.dump({LOG!r}, open('out/r.sarif', 'w'))")
    (project / "out").mkdir()
    result = _run(project, command=[PY, tool], sarif="out/r.sarif")
    assert result.status is StepStatus.PASSED and len(result.findings) == 1


def test_stale_sarif_file_is_not_ingested(project: Path) -> None:
    (project / "old.sarif").write_text(json.dumps(LOG))
    result = _run(project, command=[PY, "-c", "pass"], sarif="old.sarif")
    assert result.status is StepStatus.ERROR
    assert result.message == f"{PY} wrote no SARIF file at {project / 'old.sarif'}"


def test_missing_command(project: Path) -> None:
    result = _run(project, command=["secpipe-no-such-tool-xyz", "--version"])
    assert result.status is StepStatus.ERROR
    assert result.message == "command not found: secpipe-no-such-tool-xyz"
    rel = _run(project, command=["./not-here.sh"])
    assert rel.message == "command not found: ./not-here.sh"


# Stripe's documented example key, assembled at run time so the repository holds no literal
_EXAMPLE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"


def test_bad_exit_code_reports_stderr_tail(project: Path) -> None:
    tool = _script(project, """
        import sys
        print("\\x1b[31mfatal:\\x1b[0m config broken", file=sys.stderr)
        print("token KEY leaked in log", file=sys.stderr)
        sys.exit(3)
    """.replace("KEY", _EXAMPLE_KEY))
    result = _run(project, command=[PY, tool, "{sarif}"])
    assert result.status is StepStatus.ERROR
    assert result.message.startswith(f"{PY} exited with code 3: fatal: config broken | token ")
    assert _EXAMPLE_KEY not in result.message and "\x1b" not in result.message
    assert _run(project, command=[PY, tool, "{sarif}"], ok_exit_codes=[3]).message.endswith(
        "wrote no SARIF file at " + str(project / ".secpipe/runs/r1/ex/results.sarif"))


def test_missing_or_malformed_sarif_names_the_file(project: Path) -> None:
    none = _run(project, command=[PY, "-c", "pass", "{sarif}"])
    assert none.status is StepStatus.ERROR and "results.sarif" in none.message
    bad = _script(project, "import sys; open(sys.argv[1], 'w').write('{oops')")
    result = _run(project, command=[PY, bad, "{sarif}"])
    assert result.status is StepStatus.ERROR
    assert "results.sarif is not valid JSON" in result.message
    big = _script(project, "import sys; open(sys.argv[1], 'w').write(' ' * 5000)", "big.py")
    result = _run(project, command=[PY, big, "{sarif}"], max_sarif_bytes=1000)
    assert result.status is StepStatus.ERROR and "(limit 1000)" in result.message


def test_tool_reporting_failure_is_an_error_but_keeps_findings(project: Path) -> None:
    log = json.loads(json.dumps(LOG))
    log["runs"][0]["invocations"] = [{"executionSuccessful": False, "toolExecutionNotifications": [
        {"message": {"text": "rules failed to load"}}]}]
    tool = _script(project, f"import json, sys; json.dump({log!r}, open(sys.argv[1], 'w'))")
    result = _run(project, command=[PY, tool, "{sarif}"])
    assert result.status is StepStatus.ERROR and len(result.findings) == 1
    assert result.message == "fake reported an unsuccessful run: rules failed to load"


def test_no_shell_is_involved(project: Path) -> None:
    marker = project / "pwned"
    tool = _script(project, """
        import json, sys
        json.dump({"version": "2.1.0", "runs": []}, open(sys.argv[1], "w"))
        open(sys.argv[2] + ".seen", "w").write(sys.argv[2])
    """)
    arg = "x; touch pwned"
    result = _run(project, command=[PY, tool, "{sarif}", arg], cwd=".")
    assert result.status is StepStatus.PASSED and result.message.startswith("no findings")
    assert not marker.exists() and (project / (arg + ".seen")).read_text() == arg


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _sleeper(project: Path) -> str:
    return _script(project, f"""
        import subprocess, sys, time
        child = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(60)"])
        open({str(project / "child.pid")!r}, "w").write(str(child.pid))
        time.sleep(60)
    """, "sleeper.py")


def _wait_for(path: Path) -> int:
    for _ in range(100):
        if path.exists() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError("the child never started")


def test_timeout_kills_the_whole_process_group(project: Path) -> None:
    started = time.monotonic()
    result = _run(project, command=[PY, _sleeper(project)], ctx=_ctx(project, timeout=1.5))
    assert time.monotonic() - started < 10
    assert result.status is StepStatus.ERROR
    assert result.message == "timed out after 1.5 s: the command was stopped"
    child = _wait_for(project / "child.pid")
    for _ in range(40):
        if not _pid_alive(child):
            break
        time.sleep(0.05)
    assert not _pid_alive(child), "the tool's own child survived the timeout"


def test_cancel_stops_the_tool(project: Path) -> None:
    ctx = _ctx(project, timeout=60)
    timer = threading.Timer(0.5, ctx.cancel.set)
    timer.start()
    try:
        result = _run(project, command=[PY, _sleeper(project)], ctx=ctx)
    finally:
        timer.cancel()
    assert result.status is StepStatus.ERROR and result.message.startswith("cancelled")


def test_kept_sarif_and_logs_are_redacted(project: Path) -> None:
    rnd = random.Random(5)
    secret = "sk_live_" + "".join(rnd.choice(string.ascii_letters + string.digits)
                                  for _ in range(24))
    log = json.loads(json.dumps(LOG))
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    region["snippet"] = {"text": secret}
    log["runs"][0]["results"][0]["message"]["text"] = f"found {secret}"
    tool = _script(project, f"""
        import json, sys
        json.dump({log!r}, open(sys.argv[1], "w"))
        print("leaked {secret}", file=sys.stderr)
        print("also {secret}")
    """)
    result = _run(project, command=[PY, tool, "{sarif}"])
    assert result.status is StepStatus.PASSED
    workdir = project / ".secpipe/runs/r1/ex"
    for name in ("results.sarif", "stderr.log", "stdout.log"):
        assert secret not in (workdir / name).read_text(), name
    kept = json.loads((workdir / "results.sarif").read_text())
    assert kept["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"][
        "snippet"]["text"] == "sk_l" + "*" * 20
    assert "sk_l****" in (workdir / "stderr.log").read_text()
