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
    assert ExecSettings(command=["x"], parse="none").ok_exit_codes == [0]
    assert ExecSettings(command=["x"], parse="none", ok_exit_codes=[0, 3]).ok_exit_codes == [0, 3]
    assert ExecSettings.model_validate({"command": ["x"], "max_sarif_bytes": 5}
                                       ).max_output_bytes == 5


@pytest.mark.parametrize(("settings", "error"), [
    ({"command": ["x", "--token", "${env:TOKEN}"]}, "not resolved in command"),
    ({"command": ["x"], "parse": "yaml"}, "parse"),
    ({"command": ["x"], "output": "a", "sarif": "b"}, "output or sarif, not both"),
    ({"command": ["x"], "parse": "json", "sarif": "b"}, "with parse: json use output"),
    ({"command": ["x"], "parse": "none", "output": "o"}, "parse: none reads no output"),
    ({"command": ["x", "{output}"], "parse": "none"}, "parse: none reads no output"),
    ({"command": ["x"], "ok_exit_codes": [0, 1], "fail_exit_codes": [1]}, "both ok and fail"),
    ({"command": ["x"], "env": {"A-B": "1"}}, "not a valid environment variable name"),
    ({"command": ["x"], "pass_env": ["1X"]}, "not a valid environment variable name"),
    ({"command": ["x"], "cwd": "${env:HOME}"}, "only resolved in env"),
])
def test_inconsistent_settings_are_errors(settings: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        ExecSettings.model_validate(settings)


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
    assert Path(result.artifacts[0].path).is_file()  # the redacted copy is kept for a look


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
    try:  # a zombie (exited, not yet reaped by its new parent) counts as dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _sleeper(project: Path) -> str:
    """A tool that starts a child in its own process group, writes "own-pid child-pid", then
    sleeps (as a 40 s scanner would)."""
    pids = project / "pids.txt"
    return _script(project, f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(60)"])
        open({str(pids) + ".tmp"!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        os.replace({str(pids) + ".tmp"!r}, {str(pids)!r})
        time.sleep(60)
    """, "sleeper.py")


def _wait_for_pids(path: Path) -> list[int]:
    for _ in range(200):
        if path.exists():
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.05)
    raise AssertionError("the tool never started its child")


def _all_gone(pids: list[int], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while any(_pid_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_timeout_kills_the_whole_process_group(project: Path) -> None:
    started = time.monotonic()
    result = _run(project, command=[PY, _sleeper(project)], ctx=_ctx(project, timeout=1.5))
    assert time.monotonic() - started < 10
    assert result.status is StepStatus.ERROR
    # the tool's limit is the step's timeout less a margin, so the step says so itself
    assert result.message == "timed out after 1.35 s: the command was stopped"
    assert _all_gone(_wait_for_pids(project / "pids.txt")), "the tool or its child survived"


def test_cancel_stops_the_tool_and_its_child_promptly(project: Path) -> None:
    """The issue's measurement: Ctrl-C while a 40 s tool runs. secpipe must not wait for the
    tool, and nothing the tool started may survive."""
    ctx = _ctx(project, timeout=60)
    box: list[Any] = []
    runner = threading.Thread(target=lambda: box.append(
        _run(project, command=[PY, _sleeper(project)], ctx=ctx)))
    runner.start()
    pids = _wait_for_pids(project / "pids.txt")
    assert len(pids) == 2 and all(_pid_alive(p) for p in pids)
    ctx.cancel.set()
    cancelled_at = time.monotonic()
    runner.join(5.0)
    assert not runner.is_alive(), "the step did not return within 5 s of the cancel"
    assert time.monotonic() - cancelled_at < 5
    (result,) = box
    assert result.status is StepStatus.ERROR
    assert result.message == "cancelled: the command was stopped"
    assert _all_gone(pids, 0.5), "the tool or its child survived the cancel"


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
