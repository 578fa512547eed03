"""The :class:`Finding` model every scanner returns, with a stable fingerprint."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


def _sha256_function() -> Callable[[bytes], Any]:
    """The interpreter's own SHA-256 (``_sha256``; ``_sha2`` from Python 3.12), else hashlib's.

    Same digest either way; the built-in one spares a one-file scan loading OpenSSL (hashlib
    imports its binding, about 2.5 ms) just to fingerprint a few short strings."""
    for name in ("_sha256", "_sha2"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    return importlib.import_module("hashlib").sha256  # type: ignore[no-any-return]


_sha256 = _sha256_function()


class Severity(StrEnum):
    """How bad a finding is, from ``critical`` down to ``info``."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 … info=0."""
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name (case-insensitive); raises ``ValueError`` naming the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Confidence(StrEnum):
    """How sure the scanner is that the finding is real."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Location:
    """Where a finding is. Only ``path`` is required; the rest narrows it down."""

    path: str
    """Path relative to the scanned root (POSIX separators), or a URI for remote artifacts."""
    line: int | None = None
    """1-based line number in the (inner) text, when the input is text."""
    column: int | None = None
    """1-based column of the match start."""
    end_line: int | None = None
    """Last line of the match, when it spans lines."""
    member: str | None = None
    """Position inside a container: archive member, notebook cell (``cell[3]/outputs[0]``),
    pickle stream inside a zip (``archive/data.pkl``)."""
    offset: int | None = None
    """Byte offset inside the file or member (pickle opcodes, binary formats)."""
    commit: str | None = None
    """Git commit id when found in history."""

    def display(self) -> str:
        """A one-line human form: ``path!member:line`` (commit prefix when from history)."""
        text = self.path
        if self.member:
            text += f"!{self.member}"
        if self.line is not None:
            text += f":{self.line}"
        elif self.offset is not None:
            text += f"@{self.offset}"
        if self.commit:
            text = f"{self.commit[:12]}:{text}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Location:
        return cls(**data)


@dataclass(frozen=True)
class Finding:
    """One problem a step found. Frozen; build it with :meth:`Finding.create`."""

    rule_id: str
    """Stable rule identifier, e.g. ``secrets.aws-access-key``."""
    title: str
    """Short human title of the rule."""
    severity: Severity
    """How bad it is."""
    scanner: str
    """The step kind that produced it, e.g. ``scan-secrets``."""
    location: Location
    """Where it is."""
    message: str
    """What exactly was found here (never contains a secret in clear)."""
    fingerprint: str
    """Stable identity across runs (for baselines, suppressions and dedup)."""
    confidence: Confidence = Confidence.HIGH
    """How sure the scanner is."""
    evidence: str = ""
    """Redacted evidence (e.g. ``AKIA****************MPLE``)."""
    tags: tuple[str, ...] = ()
    """Classification tags: ``CWE-798``, ``OWASP-ML06``, ``ATLAS:AML.T0010`` …"""
    remediation: str = ""
    """What to do about it."""
    properties: tuple[tuple[str, str], ...] = field(default=())
    """Extra scanner-specific facts as sorted (key, value) pairs (e.g. ``callable``)."""

    @classmethod
    def create(
        cls,
        *,
        rule_id: str,
        title: str,
        severity: Severity,
        scanner: str,
        location: Location,
        message: str,
        key: str | None = None,
        confidence: Confidence = Confidence.HIGH,
        evidence: str = "",
        tags: tuple[str, ...] | list[str] = (),
        remediation: str = "",
        properties: dict[str, str] | None = None,
    ) -> Finding:
        """Build a finding and compute its fingerprint.

        ``key`` is what identifies *this* occurrence independent of line moves (for a secret, a
        hash of the secret itself; for a pickle, the callable). Without it the line is used.
        """
        ident = key if key is not None else str(location.line or location.offset or "")
        fingerprint = compute_fingerprint(scanner, rule_id, location.path, location.member, ident)
        return cls(
            rule_id=rule_id,
            title=title,
            severity=severity,
            scanner=scanner,
            location=location,
            message=message,
            fingerprint=fingerprint,
            confidence=confidence,
            evidence=evidence,
            tags=tuple(tags),
            remediation=remediation,
            properties=tuple(sorted((properties or {}).items())),
        )

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity.value,
            "confidence": self.confidence.value,
            "scanner": self.scanner,
            "location": self.location.to_dict(),
            "message": self.message,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
            "tags": list(self.tags),
            "remediation": self.remediation,
            "properties": dict(self.properties),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            rule_id=data["rule_id"],
            title=data["title"],
            severity=Severity(data["severity"]),
            scanner=data["scanner"],
            location=Location.from_dict(data["location"]),
            message=data["message"],
            fingerprint=data["fingerprint"],
            confidence=Confidence(data.get("confidence", "high")),
            evidence=data.get("evidence", ""),
            tags=tuple(data.get("tags", ())),
            remediation=data.get("remediation", ""),
            properties=tuple(sorted(data.get("properties", {}).items())),
        )


def compute_fingerprint(
    scanner: str, rule_id: str, path: str, member: str | None, ident: str
) -> str:
    """SHA-256 over the identifying fields, truncated to 32 hex digits."""
    text = "\x1f".join((scanner, rule_id, path, member or "", ident))
    digest: str = _sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    return digest[:32]
