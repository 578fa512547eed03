"""Builds a recorded run with findings of every location kind, an errored step, a skipped input,
a step with zero findings, a failed gate, a skipped stage and embeddable artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from secpipe.core.artifacts import Artifact
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.core.results import GateDecision, Skipped, StepStatus
from secpipe.runstore.records import RunRecord, StageRecord, StepRecord

T0 = 1_790_000_000.0
SVG_OK = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="120" height="80" viewBox="0 0 120 80"><defs><path id="p" d="M0 0 L10 10"/></defs>'
    '<style type="text/css">*{stroke-linecap:butt}</style>'
    '<rect x="5" y="5" width="50" height="40" fill="#c62828"/><use xlink:href="#p"/>'
    '<text x="60" y="30">ROC AUC 0.97</text></svg>\n'
)
MODEL_CARD = (
    "# Model card: request-classifier\n\n"
    "A **logistic regression** over character n-grams.\n\n"
    "## Metrics\n\n| metric | value |\n|---|---|\n| accuracy | 0.97 |\n\n"
    "- trained on `payloads.csv`\n- see [docs](https://example.invalid/card)\n\n"
    "<script>alert('card')</script>\n"
)


def _f(rule: str, sev: Severity, scanner: str, loc: Location, *, title: str = "",
       message: str = "", **kw: Any) -> Finding:
    return Finding.create(rule_id=rule, title=title or f"title of {rule}", severity=sev,
                          scanner=scanner, location=loc, message=message or f"{rule} found here",
                          **kw)


def sample_findings() -> dict[str, tuple[Finding, ...]]:
    """Findings per step id."""
    secrets = (
        _f("secrets.aws-access-key", Severity.CRITICAL, "scan-secrets",
           Location("src/app/config.py", line=12, column=5, end_line=12),
           evidence="AKIA************MPLE", tags=("CWE-798", "OWASP-A07"), key="k1",
           remediation="Rotate the key | then remove it from history."),
        _f("secrets.hf-token", Severity.HIGH, "scan-secrets",
           Location("notebooks/train.ipynb", line=2, member="cell[3]/outputs[0]"),
           evidence="hf_A****", key="k2", confidence=Confidence.MEDIUM),
        _f("secrets.password-assignment", Severity.MEDIUM, "scan-secrets",
           Location("data/bundle.zip", line=1, member="inner/settings.env"), key="k3"),
        _f("secrets.generic", Severity.LOW, "scan-secrets",
           Location("docs/odd name #1 100%.txt", line=3, commit="0123456789abcdef0123"),
           message="generic secret with `backticks` and | pipes", key="k4"),
        _f("secrets.jwt", Severity.INFO, "scan-secrets", Location("README.md", line=40),
           key="k5"),
    )
    models = (
        _f("models.pickle-global", Severity.HIGH, "scan-models",
           Location("models/model.pkl", offset=132), properties={"callable": "os.system"}),
        _f("models.pickle-global", Severity.CRITICAL, "scan-models",
           Location("models/model.pt", member="archive/data.pkl", offset=57),
           properties={"callable": "builtins.exec"}),
    )
    gitleaks = (
        _f("github-pat", Severity.MEDIUM, "gitleaks", Location("config.py", line=1, column=17),
           title="GitHub personal access token", evidence="ghp_****", key="snippet:abc"),
    )
    return {"secrets": secrets, "models": models, "gitleaks": gitleaks}


def build_run(tmp_path: Path, *, findings: bool = True) -> RunRecord:
    found = sample_findings() if findings else {"secrets": (), "models": (), "gitleaks": ()}
    art_dir = tmp_path / "artifacts"
    art_dir.mkdir(exist_ok=True)
    (art_dir / "roc.svg").write_text(SVG_OK)
    (art_dir / "evil.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    (art_dir / "card.md").write_text(MODEL_CARD)
    (art_dir / "gitleaks.sarif").write_text('{"version": "2.1.0", "runs": []}')
    arts = (Artifact.from_file("roc", art_dir / "roc.svg", "image/svg+xml"),
            Artifact.from_file("evil-plot", art_dir / "evil.svg", "image/svg+xml"),
            Artifact.from_file("model-card", art_dir / "card.md", "text/markdown"))
    steps = (
        StepRecord("scan-secrets", "scan-secrets", "security-scan", StepStatus.PASSED, T0, 1.25,
                   message=f"{len(found['secrets'])} findings", tool="secpipe 0.1.0",
                   metrics={"files_scanned": 42.0, "bytes_scanned": 123456.0},
                   findings=found["secrets"],
                   skipped=(Skipped("data/huge.bin", "too large (300000000 bytes)"),)),
        StepRecord("scan-models", "scan-models", "security-scan", StepStatus.ERROR, T0, 0.5,
                   message="crashed: ValueError: truncated pickle stream", tool="secpipe 0.1.0",
                   findings=found["models"]),
        StepRecord("gitleaks", "exec", "security-scan", StepStatus.PASSED, T0, 0.7,
                   message="1 findings from gitleaks 8.30.1", tool="gitleaks 8.30.1",
                   findings=found["gitleaks"],
                   artifacts=(Artifact.from_file("gitleaks.sarif", art_dir / "gitleaks.sarif",
                                                 "application/sarif+json"),)),
        StepRecord("trivy", "exec", "security-scan", StepStatus.PASSED, T0, 0.2,
                   message="no findings from Trivy 0.76.0", tool="Trivy 0.76.0"),
        StepRecord("evaluate", "evaluate", "evaluate", StepStatus.PASSED, T0 + 2, 3.0,
                   metrics={"accuracy": 0.97, "f1": 0.9512}, artifacts=arts),
        StepRecord("gate", "gate", "quality-gate", StepStatus.FAILED, T0 + 5, 0.01,
                   message="failed: 2 critical findings (max 0)",
                   gate=GateDecision(passed=False, reasons=("2 critical findings (fail_on high)",),
                                     notes=("suppression for secrets.jwt expired on 2026-01-01",),
                                     counted=8, suppressed=0, baselined=0)),
        StepRecord("deploy", "deploy", "deploy", StepStatus.SKIPPED, T0 + 6, 0.0),
    )
    return RunRecord(
        run_id="20261126-103800-ab12", pipeline="mlsecops", project=str(tmp_path),
        started=T0, finished=T0 + 6.5, status="failed", exit_code=1, secpipe_version="0.1.0",
        stages=(StageRecord("security-scan", 0, StepStatus.ERROR),
                StageRecord("evaluate", 1, StepStatus.PASSED),
                StageRecord("quality-gate", 2, StepStatus.FAILED),
                StageRecord("deploy", 3, StepStatus.SKIPPED)),
        steps=steps,
    )


def empty_run(tmp_path: Path) -> RunRecord:
    """A run that recorded nothing at all (died before its first step)."""
    return RunRecord(run_id="20261126-103900-cd34", pipeline="p", project=str(tmp_path),
                     started=T0, finished=None, status="error", exit_code=2,
                     secpipe_version="0.1.0")
