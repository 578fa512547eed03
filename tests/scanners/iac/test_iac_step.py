"""``scan-iac`` as a step and as ``secpipe scan iac``: files sorted into frameworks, findings
with rule metadata, what could not be analysed reported, bad settings exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secpipe.core.errors import ConfigError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.scanners.iac.classify import classify
from secpipe.scanners.iac.rules import all_rules
from secpipe.scanners.iac.step import IacScanStep
from secpipe.scanners.walk import collect

SECPIPE = Path(sys.executable).with_name("secpipe")

TERRAFORM = """\
variable "ssh_cidr" {
  default = "0.0.0.0/0"
}

resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.ssh_cidr]
  }
}
"""
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: apps}
spec:
  containers:
    - name: app
      image: registry.example.com/app:1.0
      securityContext:
        privileged: true
"""
DOCKERFILE = """\
FROM python:3.11-slim
RUN curl -fsSL https://get.example.com/install.sh | sh
USER 10001
"""
COMPOSE = """\
services:
  builder:
    image: docker:27.1
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
"""


def run_iac(root: Path, tmp_path: Path, **settings: Any) -> StepResult:
    ctx = StepContext(project_root=root, workdir=tmp_path / "work", cache_dir=tmp_path / "cache")
    return IacScanStep().run(ctx, IacScanStep.Settings.model_validate(settings))


def _project(root: Path) -> Path:
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "main.tf").write_text(TERRAFORM)
    (root / "k8s").mkdir()
    (root / "k8s" / "pod.yaml").write_text(POD)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "docker-compose.yml").write_text(COMPOSE)
    (root / "config.yaml").write_text("logging: {level: info}\n")  # YAML, but not IaC
    return root


def _rules_by_path(result: StepResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in result.findings:
        out.setdefault(f.location.path, set()).add(f.rule_id)
    return out


def test_classification_by_name_and_content(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "plan.json").write_text(json.dumps({"format_version": "1.2",
                                                "planned_values": {"root_module": {}}}))
    (root / "package.json").write_text('{"name": "x", "version": "1.0.0"}')
    (root / "chart" / "templates").mkdir(parents=True)
    (root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (root / "chart" / "templates" / "d.yaml").write_text("apiVersion: v1\nkind: Pod\n")
    entries = collect(root, ["."], [], [])
    buckets = classify(entries, frozenset({"terraform", "kubernetes", "helm", "dockerfile",
                                           "compose"}))
    assert sorted(f.rel for f in buckets.terraform) == ["infra/main.tf", "plan.json"]
    assert [f.rel for f in buckets.kubernetes] == ["k8s/pod.yaml"]
    assert [f.rel for f in buckets.charts] == ["chart/Chart.yaml"]  # templates go with it
    assert [f.rel for f in buckets.dockerfiles] == ["Dockerfile"]
    assert [f.rel for f in buckets.composes] == ["docker-compose.yml"]
    assert {e.rel for e in buckets.not_iac} == {"config.yaml", "package.json"}
    only = classify(entries, frozenset({"dockerfile"}))
    assert only.count() == 1


def test_every_framework_reports_with_rule_metadata(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    result = run_iac(root, tmp_path)
    assert result.status is StepStatus.PASSED, result.message
    found = _rules_by_path(result)
    assert set(found) == {"infra/main.tf", "k8s/pod.yaml", "Dockerfile", "docker-compose.yml"}
    rules = all_rules()
    for f in result.findings:
        rule = rules[f.rule_id]
        assert f.scanner == "scan-iac" and f.remediation == rule.fix
        assert rule.cwe in f.tags and any(t.startswith("NIST-800-53:") for t in f.tags)
        assert f.location.line is not None
    ssh = [f for f in result.findings if f.location.path == "infra/main.tf"]
    assert any("aws_security_group.web" in f.message for f in ssh)
    assert result.metrics["files_scanned"] == 4
    assert result.metrics["resources"] >= 3
    assert result.metrics["findings_terraform"] >= 1 and result.metrics["findings_compose"] >= 1


def test_skip_rules_and_min_severity(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    first = run_iac(root, tmp_path)
    some = sorted({f.rule_id for f in first.findings})
    again = run_iac(root, tmp_path, skip_rules=[some[0]])
    assert some[0] not in {f.rule_id for f in again.findings}
    high = run_iac(root, tmp_path, min_severity="high")
    assert all(f.severity.rank >= 3 or "secpipe:incomplete" in f.tags for f in high.findings)
    with pytest.raises(ConfigError, match="unknown rule"):
        run_iac(root, tmp_path, skip_rules=["iac.no-such-rule"])
    with pytest.raises(ConfigError, match="cannot be skipped"):
        run_iac(root, tmp_path, skip_rules=["iac.parse-error"])


def test_unparsable_file_is_a_finding_and_an_error_when_named(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "broken.tf").write_text('resource "aws_s3_bucket" "b" {\n  bucket = \n')
    (root / "ok.tf").write_text('resource "aws_s3_bucket" "ok" {\n  bucket = "x"\n}\n')
    tree = run_iac(root, tmp_path)
    assert "iac.parse-error" in {f.rule_id for f in tree.findings}
    assert tree.status is StepStatus.PASSED
    assert tree.metrics["files_incomplete"] == 1
    named = run_iac(root, tmp_path, paths=["broken.tf"])
    assert named.status is StepStatus.ERROR and "broken.tf" in named.message


def test_nothing_to_scan_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "README.md").write_text("# hi\n")
    result = run_iac(root, tmp_path)
    assert result.status is StepStatus.SKIPPED
    assert result.message.startswith("nothing found:")


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SECPIPE), "scan", "iac", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_json_sarif_and_bad_input(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    done = _cli(root, ".", "--json", "-q")
    assert done.returncode == 1, done.stderr  # high findings fail the default gate
    report = json.loads(done.stdout)
    assert report["steps"][0]["kind"] == "scan-iac"
    assert any(f["location"]["path"] == "Dockerfile" for f in report["findings"])
    sarif = _cli(root, "k8s/pod.yaml", "--format", "sarif", "-q")
    run = json.loads(sarif.stdout)["runs"][0]
    assert run["results"] and all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "k8s/pod.yaml"
        for r in run["results"])
    bad = _cli(root, ".", "--frameworks", "cloudformation")
    assert bad.returncode == 2 and "unknown framework" in bad.stderr
    missing = _cli(root, "nope.tf")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    help_text = _cli(root, "--help")
    assert help_text.returncode == 0 and "--tfvars" in help_text.stdout


def test_a_module_called_from_two_roots_is_reported_once(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "modules" / "sg").mkdir(parents=True)
    (root / "modules" / "sg" / "main.tf").write_text(TERRAFORM)
    for env in ("dev", "prod"):
        (root / env).mkdir()
        (root / env / "main.tf").write_text('module "web" {\n  source = "../modules/sg"\n}\n')
    result = run_iac(root, tmp_path)
    ssh = [f for f in result.findings if "port 22" in f.message]
    assert len(ssh) == 1 and ssh[0].location.path == "modules/sg/main.tf"
    assert len({f.fingerprint for f in result.findings}) == len(result.findings)
    assert result.metrics["findings"] == len(result.findings)


def test_markers_far_into_a_long_file_still_classify_it(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # a manifest whose apiVersion/kind come after 64 KiB of comments (a generated list, a big
    # ConfigMap first), a plan with a long head, and a long YAML that is no manifest
    from secpipe.scanners.iac import classify as cls

    root = tmp_path / "p"
    (root / "k8s").mkdir(parents=True)
    filler = "".join(f"# generated line {i:06d} " + "x" * 60 + "\n" for i in range(1200))
    assert len(filler) > cls.HEAD_BYTES
    (root / "k8s" / "late.yaml").write_text(filler + POD)
    (root / "data.yaml").write_text(filler + "rows: [1, 2, 3]\n")
    plan = {"format_version": "1.2", "padding": "p" * (cls.HEAD_BYTES + 10),
            "planned_values": {"root_module": {}}}
    (root / "plan.json").write_text(json.dumps(plan))
    entries = collect(root, ["."], [], [])
    buckets = classify(entries, frozenset({"terraform", "kubernetes"}))
    assert [f.rel for f in buckets.kubernetes] == ["k8s/late.yaml"]
    assert [f.rel for f in buckets.terraform] == ["plan.json"]
    assert [e.rel for e in buckets.not_iac] == ["data.yaml"]
    result = run_iac(root, tmp_path, paths=["k8s"])
    assert "iac.k8s.privileged" in _rules_by_path(result).get("k8s/late.yaml", set())
    # longer than the bound and undecided: handed to the Kubernetes reader, never "not IaC"
    monkeypatch.setattr(cls, "MAX_CLASSIFY_BYTES", cls.HEAD_BYTES + 1024)
    entries = collect(root, ["."], [], [])
    buckets = classify(entries, frozenset({"terraform", "kubernetes"}))
    assert "data.yaml" in [f.rel for f in buckets.kubernetes]
