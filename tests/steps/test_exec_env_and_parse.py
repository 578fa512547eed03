"""The ``exec`` step's environment (allowlist, declared variables with references resolved and
redacted, pass_env), its ``parse`` modes (sarif, json, none) and exit-code policy, and the
suppressions a tool writes into its own SARIF."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from secpipe.core.findings import Severity
from secpipe.core.results import StepStatus
from secpipe.core.step import StepContext
from secpipe.keys.refs import SecretResolver
from secpipe.steps.exec import ExecSettings, ExecStep
from secpipe.tools.suppressions import TOOL_SUPPRESSED_REASON, is_tool_suppressed

PY = sys.executable
SECRET = "s3cr3t-Value-of-the-deploy-token"


def _ctx(root: Path, **kw: Any) -> StepContext:
    return StepContext(project_root=root, workdir=root / ".secpipe" / "runs" / "r1" / "ex",
                       step_id="ex", timeout=60, **kw)


def _script(root: Path, body: str, name: str = "tool.py") -> str:
    (root / name).write_text(textwrap.dedent(body))
    return str(root / name)


def _run(root: Path, ctx: StepContext | None = None, **settings: Any) -> Any:
    return ExecStep().run(ctx or _ctx(root), ExecSettings(**settings))


ENV_DUMP = """
    import json, os, sys
    json.dump(dict(os.environ), open(sys.argv[1], "w"))
    print("token is", os.environ.get("DEPLOY_TOKEN"))
    print("stderr token", os.environ.get("DEPLOY_TOKEN"), file=sys.stderr)
"""


@pytest.fixture
def parent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "hvs.parent-vault-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-aws-secret-key")
    monkeypatch.setenv("SECPIPE_KEY_PASSWORD", "parent-key-password")
    monkeypatch.setenv("DEPLOY_SOURCE", SECRET)
    monkeypatch.setenv("HARMLESS_SETTING", "yes")


@pytest.mark.usefixtures("parent_env")
def test_the_tool_sees_the_allowlist_and_what_the_step_declares(project: Path) -> None:
    tool = _script(project, ENV_DUMP)
    dump = project / "env.json"
    ctx = _ctx(project, secrets=SecretResolver(project))
    result = _run(project, ctx, command=[PY, tool, str(dump)], parse="none",
                  env={"DEPLOY_TOKEN": "${env:DEPLOY_SOURCE}", "MODE": "{workdir}/m"},
                  pass_env=["HARMLESS_SETTING"])
    assert result.status is StepStatus.PASSED, result.message
    seen = json.loads(dump.read_text())
    for name in ("VAULT_TOKEN", "AWS_SECRET_ACCESS_KEY", "SECPIPE_KEY_PASSWORD",
                 "DEPLOY_SOURCE"):
        assert name not in seen, name
    assert seen["DEPLOY_TOKEN"] == SECRET  # the reference was resolved for the tool
    assert seen["MODE"] == str(ctx.workdir / "m") and seen["HARMLESS_SETTING"] == "yes"
    assert seen["PATH"] and seen["HOME"]
    for log in ("stdout.log", "stderr.log"):  # the resolved value never lands in what we keep
        text = (ctx.workdir / log).read_text()
        assert SECRET not in text and "token" in text and "***" in text, log
    assert ctx.redact(f"x {SECRET}") == "x ***"  # the run's resolver knows it now


@pytest.mark.usefixtures("parent_env")
def test_without_a_run_resolver_the_step_makes_its_own_and_redacts(project: Path) -> None:
    tool = _script(project, "import os, sys; sys.exit(f\"bad {os.environ['T']}\")")
    result = _run(project, command=[PY, tool], parse="none", env={"T": "${env:DEPLOY_SOURCE}"})
    assert result.status is StepStatus.ERROR
    assert result.message.endswith(": bad ***") and SECRET not in result.message


def test_an_unresolvable_reference_is_an_error_naming_it(project: Path) -> None:
    result = _run(project, command=[PY, "-c", "pass"], parse="none",
                  env={"T": "${env:SECPIPE_TEST_UNSET_VARIABLE}"})
    assert result.status is StepStatus.ERROR
    assert "exec env T" in result.message and "SECPIPE_TEST_UNSET_VARIABLE" in result.message


@pytest.mark.parametrize(("code", "settings", "status", "message"), [
    (0, {}, StepStatus.PASSED, "exited with code 0"),
    (1, {}, StepStatus.ERROR, "exited with code 1: boom"),
    (3, {"ok_exit_codes": [0, 3]}, StepStatus.PASSED, "exited with code 3"),
    (2, {"fail_exit_codes": [2]}, StepStatus.FAILED, "exited with code 2, a fail exit code: boom"),
    (7, {"fail_exit_codes": [2]}, StepStatus.ERROR, "exited with code 7: boom"),
])
def test_parse_none_turns_exit_codes_into_a_result(project: Path, code: int,
                                                   settings: dict[str, Any], status: StepStatus,
                                                   message: str) -> None:
    tool = _script(project, f"import sys; print('boom', file=sys.stderr); sys.exit({code})")
    result = _run(project, command=[PY, tool], parse="none", **settings)
    assert result.status is status and result.message.endswith(message), result.message
    assert result.findings == () and result.artifacts == ()
    if status is not StepStatus.ERROR:
        assert result.metrics["exec_exit_code"] == code


FINDINGS = {"tool": {"name": "acme", "version": "2"}, "findings": [
    {"rule_id": "acme.r1", "message": "bad thing", "severity": "critical", "path": "a.py",
     "line": 3},
    {"rule_id": "acme.r2", "message": "ignored here", "suppressed": True}]}


def test_parse_json_reads_the_generic_shape(project: Path) -> None:
    tool = _script(project, f"import json, sys; json.dump({FINDINGS!r}, open(sys.argv[1], 'w'))")
    result = _run(project, command=[PY, tool, "{output}"], parse="json")
    assert result.status is StepStatus.PASSED, result.message
    first, second = result.findings
    assert (first.rule_id, first.severity, first.location.path) == ("acme.r1",
                                                                    Severity.CRITICAL, "a.py")
    assert is_tool_suppressed(second) and result.metrics["json_suppressed"] == 1
    assert result.message.startswith("2 findings from acme 2 (1 suppressed by the tool itself")
    (artifact,) = result.artifacts
    assert artifact.name == "ex.json" and artifact.media_type == "application/json"
    stdout = _script(project, f"import json; print(json.dumps({FINDINGS['findings']!r}))", "o.py")
    assert len(_run(project, command=[PY, stdout], parse="json").findings) == 2


def test_parse_json_refuses_an_unknown_shape_and_keeps_no_raw_output(project: Path) -> None:
    tool = _script(project, "print('{\"results\": [\"SECRET-LOOKING-1234567890abcdef\"]}')")
    result = _run(project, command=[PY, tool], parse="json")
    assert result.status is StepStatus.ERROR and "not in the findings shape" in result.message
    assert not (project / ".secpipe/runs/r1/ex/results.json").exists()


def test_output_over_the_limit_is_an_error(project: Path) -> None:
    tool = _script(project, "print('[' + ' ' * 5000 + ']')")
    result = _run(project, command=[PY, tool], parse="json", max_output_bytes=1000)
    assert result.status is StepStatus.ERROR
    assert result.message.endswith("standard output (limit 1000)")


def test_fail_exit_code_keeps_the_findings_as_a_verdict(project: Path) -> None:
    tool = _script(project, f"import json, sys; json.dump({FINDINGS!r}, open(sys.argv[1], 'w'));"
                            " sys.exit(4)")
    result = _run(project, command=[PY, tool, "{output}"], parse="json", fail_exit_codes=[4])
    assert result.status is StepStatus.FAILED and len(result.findings) == 2
    assert result.message.startswith(f"{PY} exited with code 4, a fail exit code; 2 findings")
    silent = _run(project, command=[PY, "-c", "import sys; sys.exit(4)", "{output}"],
                  parse="json", fail_exit_codes=[4])
    assert silent.status is StepStatus.FAILED and "wrote no JSON file" in silent.message


def test_suppressions_in_the_tools_sarif_become_marked_findings(project: Path) -> None:
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": [
        {"ruleId": "python.eval", "message": {"text": "eval of input"}, "level": "error",
         "suppressions": [{"kind": "inSource"}],
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app.py"},
                                             "region": {"startLine": 9}}}]}]}]}
    tool = _script(project, f"import json, sys; json.dump({log!r}, open(sys.argv[1], 'w'))")
    result = _run(project, command=[PY, tool, "{sarif}"], tool="semgrep")
    assert result.status is StepStatus.PASSED
    (finding,) = result.findings
    assert is_tool_suppressed(finding) and finding.severity is Severity.HIGH
    assert finding.message == f"eval of input [{TOOL_SUPPRESSED_REASON}]"
    assert result.metrics["sarif_suppressed"] == 1 and result.metrics["sarif_results"] == 1
