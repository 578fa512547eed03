"""The shapes every IaC framework module shares (the interface ``scan-iac`` imports).

A framework module (:mod:`.terraform`, :mod:`.kubernetes`, :mod:`.docker`) turns the files the
step hands it into an :class:`Analysis`: rule hits (:class:`IacHit`, each naming an
:class:`IacRule`), problems (:class:`Problem`: what could not be analysed — a parse error, a
budget hit, a value that could not be resolved, a partial Helm render; never a silent pass) and
the resources it understood (:class:`IacResource`, which organisation policies in
``secpipe.yaml`` are evaluated on). The step turns hits and problems into findings, applies inline
suppressions and builds the rule docs page from every module's ``RULES``.

Values: a framework resolves what it statically can (Terraform variables' defaults,
``terraform.tfvars``, ``locals``, Helm values). What it cannot resolve stays an
:class:`Unresolved` (never ``None`` or a guess): a rule that needs it reports the hit with lower
confidence or a ``iac.unresolved`` problem, never treats it as safe. A reference to another
resource is a :class:`Ref` so that rules can follow it (``aws_s3_bucket_public_access_block``'s
``bucket = aws_s3_bucket.data.id``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from secpipe.core.findings import Confidence, Severity

FRAMEWORKS = ("terraform", "kubernetes", "helm", "dockerfile", "compose")
"""The framework names a rule or a resource carries (a Terraform plan JSON is ``terraform``,
Kustomize output ``kubernetes``)."""


@dataclass(frozen=True)
class IacRule:
    """One native rule; the docs page (docs/rules/iac.md) is generated from these fields."""

    id: str
    """Stable identifier ``iac.<framework>.<concern>``, e.g. ``iac.aws.s3-public-access``."""
    title: str
    """Short human title, phrased as the problem ("S3 bucket allows public access")."""
    severity: Severity
    """Default severity."""
    framework: str
    """One of :data:`FRAMEWORKS` (Helm charts are checked by the kubernetes rules)."""
    cwe: str
    """The CWE it is an instance of, e.g. ``CWE-732``."""
    controls: tuple[str, ...]
    """Compliance mappings: ``CIS-AWS-2.1.5``, ``CIS-K8S-5.2.6``, ``CIS-DOCKER-4.1``,
    ``NIST-800-53:AC-3``; at least one NIST 800-53 control."""
    rationale: str
    """Why it matters."""
    fix: str
    """What to do instead."""
    bad: str
    """A short example that is reported."""
    good: str
    """The fixed version (and, where one exists, the safe look-alike a careless rule flags)."""
    aliases: tuple[str, ...] = ()
    """Ids of other tools' rules about the same concern: checkov (``CKV_AWS_20``), trivy/tfsec
    (``AVD-AWS-0086``, ``aws-s3-block-public-acls``). Their inline skip comments mark our finding
    as tool-suppressed, and the benchmarks score concerns by them."""
    confidence: Confidence = Confidence.HIGH
    """Default confidence."""


@dataclass(frozen=True)
class IacHit:
    """One place a rule matched."""

    rule_id: str
    """The :class:`IacRule` id."""
    path: str
    """Project-relative file path (``/`` separators)."""
    line: int | None
    """1-based line of the attribute, instruction or key at fault (else of its block)."""
    message: str
    """What exactly, here: names the resource and the value (``aws_s3_bucket.data: acl is
    "public-read"``). Never contains a secret in clear (use :func:`secpipe.scanners.secrets`
    redaction or say "a literal value")."""
    resource: str = ""
    """The resource address (``module.store.aws_s3_bucket.data[0]``,
    ``Deployment/default/web``, ``Dockerfile stage runtime``, ``service api``)."""
    block: tuple[int, int] | None = None
    """First and last line of the enclosing resource/object/stage in ``path`` (inline
    suppressions inside or just above it apply)."""
    severity: Severity | None = None
    """This hit's severity when it differs from the rule's."""
    confidence: Confidence | None = None
    """This hit's confidence when it differs from the rule's (lowered when a value it needed
    was unresolved)."""
    evidence: str = ""
    """The offending text, redacted, at most one line."""


PROBLEM_RULES: dict[str, tuple[Severity, str]] = {
    "iac.parse-error": (Severity.MEDIUM, "IaC file could not be parsed"),
    "iac.too-large": (Severity.MEDIUM, "IaC file exceeds the size budget"),
    "iac.budget-exceeded": (Severity.MEDIUM, "IaC analysis stopped at a budget"),
    "iac.unresolved": (Severity.LOW, "IaC value could not be resolved statically"),
    "iac.partial-render": (Severity.LOW, "Helm chart rendered only partly"),
    "iac.module-unavailable": (Severity.LOW, "Terraform module source not analysed"),
    "iac.invalid-suppression": (Severity.LOW, "Inline suppression without a reason or expiry"),
}
"""Findings about the analysis itself: rule id -> (severity, title). They cannot be skipped."""


@dataclass(frozen=True)
class Problem:
    """Something that could not be analysed (becomes a finding of a :data:`PROBLEM_RULES`
    rule)."""

    rule_id: str
    """A key of :data:`PROBLEM_RULES`."""
    path: str
    """Project-relative file (or folder, for a module) path."""
    line: int | None
    """Where, when known."""
    message: str
    """What and why, in one line (``var.cidr has no default and no tfvars value: the ingress
    rule of aws_security_group.web was judged without it``)."""


@dataclass(frozen=True)
class Unresolved:
    """A value the scanner could not compute statically."""

    text: str
    """The expression as written (``var.cidr``, ``data.aws_vpc.main.cidr_block``)."""
    reason: str = ""
    """Why (``no default and no tfvars value``)."""

    def __str__(self) -> str:
        return f"<unresolved {self.text}>"


@dataclass(frozen=True)
class Ref:
    """A reference to another resource's attribute (``aws_s3_bucket.data.id``)."""

    address: str
    """The referenced resource address without the attribute (``aws_s3_bucket.data``,
    ``module.store.aws_kms_key.k``)."""
    attribute: str = ""
    """The attribute read (``id``, ``arn``), empty for the whole object."""

    def __str__(self) -> str:
        return f"{self.address}.{self.attribute}" if self.attribute else self.address


@dataclass
class IacResource:
    """One resource/object a framework understood, for organisation policies."""

    framework: str
    """One of :data:`FRAMEWORKS`."""
    type: str
    """``aws_s3_bucket``; a Kubernetes ``kind`` (``Deployment``); ``dockerfile``/``service``."""
    name: str
    """The address (``module.x.aws_s3_bucket.data``, ``Deployment/default/web``)."""
    path: str
    """Project-relative file."""
    line: int | None
    """First line of its block."""
    attrs: Mapping[str, Any]
    """Its attributes as resolved values: dict/list/str/int/float/bool, :class:`Unresolved`,
    :class:`Ref`. Nested Terraform blocks are lists of dicts under the block name."""
    end_line: int | None = None
    """Last line of its block."""
    lines: Mapping[str, int] = field(default_factory=dict)
    """Dotted attribute path -> line, where known (``versioning.enabled`` -> 12)."""


@dataclass
class Budget:
    """Bounds shared by the framework modules for one scan."""

    max_file_bytes: int = 5 << 20
    """Largest file parsed; a larger one is an ``iac.too-large`` problem."""
    max_depth: int = 64
    """Deepest nesting parsed (HCL blocks, YAML, JSON); deeper is an ``iac.parse-error``."""
    max_nodes: int = 2_000_000
    """Most YAML/JSON nodes once aliases are expanded."""
    max_seconds: float = 120.0
    """Wall-clock budget for the whole IaC scan; work left when it is spent is an
    ``iac.budget-exceeded`` problem per unanalysed file."""
    max_module_depth: int = 8
    """Deepest chain of local Terraform module calls followed (loops are cut and reported)."""
    started: float = field(default_factory=time.monotonic)

    def spent(self) -> bool:
        """True once ``max_seconds`` have passed since the scan started."""
        return time.monotonic() - self.started > self.max_seconds


@dataclass(frozen=True)
class IacFile:
    """A file handed to a framework module."""

    path: str
    """Absolute path on disk (read it with a bounded read; never follow it elsewhere)."""
    rel: str
    """Project-relative path with ``/`` separators (what findings name)."""
    size: int
    """Its size in bytes at collection time."""


@dataclass
class Analysis:
    """What one framework module found."""

    hits: list[IacHit] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    resources: list[IacResource] = field(default_factory=list)
    files: int = 0
    """Files analysed (parsed completely)."""

    def extend(self, other: Analysis) -> None:
        self.hits.extend(other.hits)
        self.problems.extend(other.problems)
        self.resources.extend(other.resources)
        self.files += other.files


def rule_table(rules: Iterable[IacRule]) -> dict[str, IacRule]:
    """``{rule.id: rule}``, refusing a duplicated id (a programming error)."""
    out: dict[str, IacRule] = {}
    for rule in rules:
        if rule.id in out:
            raise ValueError(f"duplicate IaC rule id {rule.id}")
        out[rule.id] = rule
    return out
