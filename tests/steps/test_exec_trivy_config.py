"""``trivy config`` (IaC misconfigurations) through the ``exec`` step, offline: its embedded
checks (``--skip-check-update``), a cache in the test's folder, SARIF ingested as findings with
trivy's paths, lines and severities, and its ``#trivy:ignore:`` comments honoured by trivy itself
(the ignored result is left out of its SARIF; an ignore whose ``:exp:`` date is past is not)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from secpipe.core.findings import Finding, Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.policy.evaluate import evaluate
from secpipe.policy.model import PolicySpec
from secpipe.steps.exec import ExecSettings, ExecStep
from secpipe.tools.suppressions import is_tool_suppressed

pytestmark = pytest.mark.external

TRIVY = shutil.which("trivy", path=str(Path(sys.executable).parent))

SG = """resource "aws_security_group" "{name}" {{
  name        = "{name}"
  description = "{name} access"
  ingress {{
    description = "ssh"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }}
}}
"""


def build(root: Path) -> dict[str, int]:
    """A small Terraform + Dockerfile project; returns the line of each group's open CIDR."""
    blocks = [
        ("", 'resource "aws_s3_bucket" "site" {\n  bucket = "site"\n  acl    = "public-read"\n}\n'),
        ("web", ""),
        ("ssh", "#trivy:ignore:AVD-AWS-0107\n"),
        ("admin", "# trivy:ignore:aws-ec2-no-public-ingress-sgr\n"),
        ("old", "#trivy:ignore:AVD-AWS-0107:exp:2020-01-01\n"),
    ]
    text, lines = "", {}
    for name, head in blocks:
        if not name:
            text += head + "\n"
            continue
        start = text.count("\n") + head.count("\n") + 1
        lines[name] = start + 8  # the cidr_blocks line of SG
        text += head + SG.format(name=name) + "\n"
    (root / "infra").mkdir()
    (root / "infra" / "main.tf").write_text(text, encoding="utf-8")
    (root / "Dockerfile").write_text('FROM python:3.11\nRUN pip install flask\n'
                                     'CMD ["python", "app.py"]\n', encoding="utf-8")
    return lines


def settings(tmp_path: Path, *extra: str, repo_config: bool = False,
             **kw: object) -> ExecSettings:
    """trivy config, offline; the scanned repository's trivy.yaml and .trivyignore are not read
    (``--config=``, ``--ignorefile=``) unless ``repo_config``."""
    assert TRIVY is not None
    own = [] if repo_config else ["--config=", "--ignorefile="]
    return ExecSettings.model_validate({
        "command": [TRIVY, "config", "--skip-check-update", "--skip-version-check",
                    "--disable-telemetry", "--quiet", "--format", "sarif", "--output", "{sarif}",
                    "--skip-dirs", ".secpipe", *own, *extra, "."],
        "env": {"TRIVY_CACHE_DIR": str(tmp_path / "trivy-cache")}, "tool": "trivy", **kw})


def run(root: Path, s: ExecSettings) -> StepResult:
    ctx = StepContext(project_root=root, workdir=root / ".secpipe" / "runs" / "r" / "trivy",
                      step_id="trivy", timeout=120)
    return ExecStep().run(ctx, s)


def short(rule_id: str) -> str:
    """``AVD-AWS-0107`` and ``AWS-0107`` (trivy's ids before and after 0.6x) alike."""
    return rule_id.upper().removeprefix("AVD-")


def by_rule(findings: tuple[Finding, ...], rule: str) -> list[Finding]:
    return [f for f in findings if short(f.rule_id) == rule]


@pytest.mark.skipif(TRIVY is None, reason="trivy is not installed in the venv")
def test_trivy_config_findings_are_ingested_and_its_ignores_honoured(project: Path,
                                                                     tmp_path: Path) -> None:
    lines = build(project)
    result = run(project, settings(tmp_path, "--exit-code", "1"))
    assert result.status is StepStatus.PASSED, result.message
    assert result.metrics["exec_exit_code"] == 1  # --exit-code 1: 1 is an ok code by default
    assert result.tool.startswith("Trivy")
    paths = {f.location.path for f in result.findings}
    assert paths == {"infra/main.tf", "Dockerfile"}  # project-relative, nothing of .secpipe

    # the open SSH ingress: reported at the cidr_blocks line, high (security-severity 8.0)
    open_ssh = sorted(f.location.line or 0 for f in by_rule(result.findings, "AWS-0107"))
    assert open_ssh == sorted([lines["web"], lines["old"]])
    assert all(f.severity is Severity.HIGH for f in by_rule(result.findings, "AWS-0107"))
    # the ignored groups (AVD id, long id) are left out by trivy; the expired ignore is not
    assert lines["ssh"] not in open_ssh and lines["admin"] not in open_ssh
    assert not any(is_tool_suppressed(f) for f in result.findings)  # nothing kept as marked

    (acl,) = by_rule(result.findings, "AWS-0092")
    assert (acl.location.path, acl.location.line) == ("infra/main.tf", 3)
    (root_user,) = by_rule(result.findings, "DS-0002")
    assert (root_user.location.path, root_user.location.line) == ("Dockerfile", 1)
    assert root_user.severity is Severity.HIGH
    (healthcheck,) = by_rule(result.findings, "DS-0026")
    assert healthcheck.severity is Severity.LOW  # security-severity 2.0

    decision = evaluate(PolicySpec(fail_on=Severity.HIGH), result.findings, {})
    high = sum(f.severity.rank >= Severity.HIGH.rank for f in result.findings)
    assert not decision.passed and decision.counted == len(result.findings)
    assert decision.reasons[0].startswith(f"{high} finding(s) at high or worse")


@pytest.mark.skipif(TRIVY is None, reason="trivy is not installed in the venv")
def test_trivy_config_as_a_verdict_with_fail_exit_codes(project: Path, tmp_path: Path) -> None:
    (project / "Dockerfile").write_text("FROM python:3.11\n", encoding="utf-8")
    failing = settings(tmp_path, "--exit-code", "3", "--severity", "HIGH,CRITICAL",
                       ok_exit_codes=[0], fail_exit_codes=[3])
    result = run(project, failing)
    assert result.status is StepStatus.FAILED
    assert "exited with code 3, a fail exit code" in result.message
    assert [short(f.rule_id) for f in result.findings] == ["DS-0002"]
    (project / "Dockerfile").write_text("FROM python:3.11\nUSER app\n", encoding="utf-8")
    assert run(project, failing).status is StepStatus.PASSED


@pytest.mark.skipif(TRIVY is None, reason="trivy is not installed in the venv")
def test_the_scanned_repository_cannot_reconfigure_trivy(project: Path, tmp_path: Path) -> None:
    (project / "Dockerfile").write_text("FROM python:3.11\n", encoding="utf-8")
    (project / "trivy.yaml").write_text("severity: [CRITICAL]\n", encoding="utf-8")
    (project / ".trivyignore").write_text("AVD-DS-0002\nDS-0002\n", encoding="utf-8")
    hijacked = run(project, settings(tmp_path, repo_config=True))
    assert "DS-0002" not in {short(f.rule_id) for f in hijacked.findings}  # what trivy does
    ours = run(project, settings(tmp_path))
    assert {"DS-0002", "DS-0026"} <= {short(f.rule_id) for f in ours.findings}
