"""The ``scan-iac`` step kind: Terraform (HCL, JSON and plans), Kubernetes manifests, Helm charts,
Kustomize, Dockerfiles and Compose files, parsed with bounded parsers (never applied, rendered by
a template engine or built) and checked by secpipe's own rules and the project's policies.

Files are sorted into frameworks by :mod:`.classify`; each framework module returns hits,
problems (what could not be analysed: a finding, never a pass) and the resources it understood.
Inline suppressions (``# secpipe:ignore RULE reason=… expires=…``) and other tools' skip comments
(checkov, tfsec, trivy) are applied by :mod:`.suppress`; organisation policies written in
``secpipe.yaml`` by :mod:`.orgpolicy`. See ``docs/iac-scanner.md``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from secpipe import __version__
from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, user_cache_dir
from secpipe.scanners.base import MIB, NOT_ON_CLI, ScannerSettings, collect_files, metavar
from secpipe.scanners.iac.classify import Buckets
from secpipe.scanners.iac.model import (
    FRAMEWORKS,
    PROBLEM_RULES,
    Analysis,
    Budget,
    IacHit,
    IacRule,
    Problem,
)
from secpipe.scanners.walk import unreadable

SCANNER = "scan-iac"
#: Problems about a whole file: when the file was named explicitly, the step did not complete.
_FILE_FAILURES = frozenset({"iac.parse-error", "iac.too-large", "iac.budget-exceeded"})


class IacSettings(ScannerSettings):
    """``with:`` settings of ``scan-iac`` (paths, excludes and ``max_file_bytes``: the scanner
    base)."""

    max_file_bytes: int = Field(default=5 * MIB, gt=0, json_schema_extra=metavar("N"))
    """Largest IaC file parsed; a larger one gets an iac.too-large finding."""
    frameworks: list[str] = Field(default_factory=lambda: list(FRAMEWORKS),
                                  json_schema_extra=metavar("NAME"))
    """Frameworks to scan: terraform, kubernetes, helm, dockerfile, compose (default: all)."""
    tfvars: list[str] = Field(default_factory=list, json_schema_extra=metavar("FILE"))
    """Extra Terraform variable files (project-relative), read after terraform.tfvars and
    *.auto.tfvars, like `terraform plan -var-file`."""
    skip_rules: list[str] = Field(default_factory=list, json_schema_extra=metavar("RULE"))
    """Rule ids not to report (iac.aws.s3-versioning); findings about the analysis itself
    cannot be skipped."""
    min_severity: str = Field(default="info", json_schema_extra=metavar("SEVERITY"))
    """Drop rule findings below this severity (info, low, medium, high, critical)."""
    max_seconds: float = Field(default=300.0, gt=0, json_schema_extra=metavar("SECONDS"))
    """Wall-clock budget of the whole scan; files left when it is spent get an
    iac.budget-exceeded finding."""
    max_depth: int = Field(default=64, gt=0, json_schema_extra=metavar("N"))
    """Deepest nesting parsed (HCL blocks and expressions, YAML, JSON)."""
    cache: bool = True
    """Keep parsed Terraform files in the user's cache folder (~/.cache/secpipe/iac, never
    inside the scanned tree) so an unchanged tree is re-scanned quickly."""
    policies: list[dict[str, Any]] = Field(default_factory=list, json_schema_extra=NOT_ON_CLI)
    """The organisation's own rules (resource type, attribute path, condition), see
    docs/iac-policies.md."""

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        return Severity.parse(value).value

    @field_validator("frameworks")
    @classmethod
    def _frameworks(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in FRAMEWORKS]
        if bad:
            raise ValueError(f"unknown framework {bad[0]!r} (choose from "
                             f"{', '.join(FRAMEWORKS)})")
        if not value:
            raise ValueError("name at least one framework")
        return value


class IacScanStep(StepKind[IacSettings]):
    """Infrastructure as code: Terraform, Kubernetes/Helm/Kustomize, Dockerfile, Compose."""

    kind = "scan-iac"
    summary = ("infrastructure as code: Terraform (AWS, Azure, GCP; plans too), Kubernetes, "
               "Helm, Kustomize, Dockerfiles and Compose files, plus your own policies")
    Settings = IacSettings
    produces_metrics = ("files_scanned", "resources", "findings", "findings_*",
                        "files_incomplete", "duration_seconds")

    def run(self, ctx: StepContext, settings: IacSettings) -> StepResult:
        from secpipe.scanners.iac import orgpolicy
        from secpipe.scanners.iac.classify import classify
        from secpipe.scanners.iac.rules import all_rules

        started = time.monotonic()
        root = ctx.project_root.resolve()
        rules = dict(all_rules())
        skip = _skip_ids(settings.skip_rules, rules)
        org_rules = orgpolicy.compile_policies(settings.policies)
        skipped: list[Skipped] = []
        entries = collect_files(root, settings, skipped)
        buckets = classify(entries, frozenset(settings.frameworks))
        explicit = {e.rel for e in entries if e.explicit}
        for entry in buckets.not_iac:
            if entry.explicit:
                skipped.append(Skipped(entry.rel, "not an IaC file (Terraform, Kubernetes, Helm "
                                                  "chart, Dockerfile or Compose file)"))
        findings = [_unreadable(s.path, s.reason) for s in unreadable(skipped)]
        if not buckets.count() and not findings:
            return StepResult(status=StepStatus.SKIPPED, skipped=tuple(skipped),
                              message="nothing found: no Terraform, Kubernetes, Helm, "
                                      "Dockerfile or Compose files",
                              tool=f"secpipe {__version__}")
        budget = Budget(max_file_bytes=settings.max_file_bytes, max_depth=settings.max_depth,
                        max_seconds=settings.max_seconds)
        analysis = _analyse(ctx, root, buckets, budget, settings)
        hits, problems, org_rule_table = orgpolicy.evaluate(org_rules, analysis.resources)
        analysis.hits.extend(hits)
        analysis.problems.extend(problems)
        rules.update({r.id: r for r in org_rule_table})
        floor = Severity.parse(settings.min_severity)
        kept = [h for h in analysis.hits if h.rule_id not in skip
                and _severity(h, rules).rank >= floor.rank]
        rule_findings, suppress_problems = _with_suppressions(root, kept, rules, budget)
        analysis.problems.extend(suppress_problems)
        findings.extend(rule_findings)
        findings.extend(_problem_finding(p) for p in _dedup_problems(analysis.problems))
        # one finding per fingerprint: a local module called from two roots with the same
        # address, or a base built by two overlays, is one place in one file
        unique: dict[str, Finding] = {}
        for f in findings:
            unique.setdefault(f.fingerprint, f)
        findings = sorted(unique.values(), key=_order)
        why: dict[str, str] = {}
        for p in analysis.problems:
            if p.rule_id in _FILE_FAILURES and p.path in explicit:
                why.setdefault(p.path, p.message)
        failed = sorted(why)
        incomplete = len({p.path for p in analysis.problems if p.rule_id in _FILE_FAILURES})
        frameworks = {"terraform": 0, "kubernetes": 0, "dockerfile": 0, "compose": 0,
                      "policy": 0}
        for f in findings:
            fw = dict(f.properties).get("framework")
            if fw in frameworks:
                frameworks[fw] += 1
        scanned = buckets.count()
        metrics: dict[str, float] = {
            "files_scanned": float(scanned), "resources": float(len(analysis.resources)),
            "findings": float(len(findings)), "files_incomplete": float(incomplete),
            **{f"findings_{k}": float(v) for k, v in frameworks.items()},
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        message = (f"{len(findings)} finding{'s' if len(findings) != 1 else ''} in {scanned} "
                   f"file{'s' if scanned != 1 else ''} ({len(analysis.resources)} resources)")
        status = StepStatus.PASSED
        if failed:
            status = StepStatus.ERROR
            first = why[failed[0]]
            message = (first if first.startswith(failed[0]) else
                       f"{failed[0]} could not be analysed: {first}")
            message += f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return StepResult(status=status, findings=tuple(findings), metrics=metrics,
                          skipped=tuple(skipped), message=message,
                          tool=f"secpipe {__version__}")


def _analyse(ctx: StepContext, root: Path, buckets: Buckets, budget: Budget,
             settings: IacSettings) -> Analysis:
    from secpipe.scanners.iac import docker, kubernetes, terraform

    out = Analysis()
    if buckets.terraform:
        cache_dir = _cache_dir(ctx, root) if settings.cache else None
        out.extend(terraform.analyse(buckets.terraform, root, budget, list(settings.tfvars),
                                     cache_dir=cache_dir))
    if buckets.kubernetes or buckets.charts:
        out.extend(kubernetes.analyse(buckets.kubernetes, buckets.charts, root, budget))
    if buckets.dockerfiles or buckets.composes:
        out.extend(docker.analyse(buckets.dockerfiles, buckets.composes, root, budget))
    return out


def _cache_dir(ctx: StepContext, root: Path) -> Path:
    """Where parsed Terraform files are kept: the run's cache folder when it is outside the
    scanned tree, else the user's. A cache inside the tree could be committed by whoever writes
    the repository, with entries that hide resources."""
    base = ctx.cache_dir
    if base is None or base.resolve().is_relative_to(root):
        base = user_cache_dir()
    return base / "iac"


def _severity(hit: IacHit, rules: Mapping[str, IacRule]) -> Severity:
    rule = rules.get(hit.rule_id)
    return hit.severity or (rule.severity if rule else Severity.MEDIUM)


def _skip_ids(given: list[str], rules: Mapping[str, IacRule]) -> frozenset[str]:
    out: set[str] = set()
    for text in given:
        name = text.strip()
        if name in PROBLEM_RULES:
            raise ConfigError(f"skip_rules: {name!r} reports what could not be analysed and "
                              "cannot be skipped (exclude the file instead)")
        if name not in rules and not name.startswith("org."):
            raise ConfigError(f"skip_rules: unknown rule {name!r}",
                              hint="`secpipe steps scan-iac` and docs/rules/iac.md list them")
        out.add(name)
    return frozenset(out)


def _finding(hit: IacHit, rule: IacRule | None) -> Finding:
    severity = hit.severity or (rule.severity if rule else Severity.MEDIUM)
    title = rule.title if rule else hit.rule_id
    tags: list[str] = []
    framework = rule.framework if rule else "policy"
    if rule:
        if rule.cwe:
            tags.append(rule.cwe)
        tags.extend(rule.controls)
    if hit.rule_id.startswith("org."):
        framework = "policy"
    props = {"framework": framework}
    if hit.resource:
        props["resource"] = hit.resource
    confidence = hit.confidence or (rule.confidence if rule else None)
    extra: dict[str, Any] = {} if confidence is None else {"confidence": confidence}
    return Finding.create(
        rule_id=hit.rule_id, title=title, severity=severity, scanner=SCANNER,
        location=Location(hit.path, line=hit.line), message=hit.message,
        key=f"{hit.resource}\x1f{hit.message}" if hit.resource else None,
        evidence=hit.evidence, tags=tuple(tags), remediation=rule.fix if rule else "",
        properties=props, **extra)


def _problem_finding(problem: Problem) -> Finding:
    severity, title = PROBLEM_RULES.get(problem.rule_id,
                                        (Severity.MEDIUM, "IaC analysis incomplete"))
    return Finding.create(
        rule_id=problem.rule_id, title=title, severity=severity, scanner=SCANNER,
        location=Location(problem.path, line=problem.line), message=problem.message,
        key=f"{problem.rule_id}\x1f{problem.message}", tags=("secpipe:incomplete",),
        remediation=_PROBLEM_FIX.get(problem.rule_id, ""), properties={"framework": "analysis"})


_PROBLEM_FIX = {
    "iac.parse-error": "Fix the syntax error (or exclude the file if it is not IaC); nothing "
                       "after the error was analysed.",
    "iac.too-large": "Raise max_file_bytes, or exclude the generated file; it was not analysed.",
    "iac.budget-exceeded": "Raise max_seconds (or max_depth), or exclude generated files; the "
                           "analysis did not finish.",
    "iac.unresolved": "Give the variable a value in terraform.tfvars (or `tfvars:`), or scan a "
                      "plan (`terraform show -json plan.out > plan.json`).",
    "iac.partial-render": "Install helm (`helm template` renders the chart exactly), or review "
                          "the templates the message names.",
    "iac.module-unavailable": "Run `terraform init` and scan the plan JSON, or vendor the module "
                              "into the repository; its resources were not analysed.",
    "iac.invalid-suppression": "Write `# secpipe:ignore RULE reason=\"…\" expires=YYYY-MM-DD`; "
                               "without a reason and an expiry it does not suppress.",
}


def _dedup_problems(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str, int | None, str]] = set()
    out: list[Problem] = []
    for p in problems:
        key = (p.rule_id, p.path, p.line, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _with_suppressions(root: Path, hits: list[IacHit], rules: Mapping[str, IacRule],
                       budget: Budget) -> tuple[list[Finding], list[Problem]]:
    """Findings of ``hits`` with inline suppressions and other tools' skip comments applied."""
    from secpipe.scanners.iac import suppress

    return suppress.findings_with_suppressions(root, hits, rules, budget.max_file_bytes,
                                               dt.date.today(), _finding)


def _unreadable(path: str, reason: str) -> Finding:
    return _problem_finding(Problem("iac.parse-error", path, None, reason))


def _order(finding: Finding) -> tuple[str, int, str]:
    return (finding.location.path, finding.location.line or 0, finding.rule_id)
