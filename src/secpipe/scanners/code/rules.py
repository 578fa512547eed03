"""The shape of a code rule and of one place it matched (the interface the code step imports)."""

from __future__ import annotations

from dataclasses import dataclass

from secpipe.core.findings import Confidence, Severity


@dataclass(frozen=True)
class CodeRule:
    """One rule of secpipe's ML/LLM rule pack; the docs page is generated from these fields."""

    id: str
    """Stable identifier, e.g. ``code.torch-load-unsafe``."""
    title: str
    """Short human title."""
    severity: Severity
    """Default severity; a hit may be reported higher or lower by what flows into it."""
    confidence: Confidence
    """Default confidence."""
    cwe: str
    """The CWE it is an instance of, e.g. ``CWE-502``."""
    tags: tuple[str, ...]
    """OWASP Top 10 for LLM Applications 2025 (``OWASP-LLM05``) and ML Top 10 (``OWASP-ML06``)
    ids."""
    rationale: str
    """Why it matters."""
    fix: str
    """What to do instead."""
    bad: str
    """A short example that matches."""
    good: str
    """The fixed version, which does not match."""


@dataclass(frozen=True)
class CodeHit:
    """One place a rule matched in one file."""

    rule_id: str
    """The :class:`CodeRule` id."""
    line: int
    """1-based line of the call or statement."""
    column: int
    """1-based column."""
    end_line: int | None
    """Last line of the matched node, when it spans lines."""
    message: str
    """What exactly, here: names the call and, for flow rules, the tainted source and its line.
    Never contains a secret in clear."""
    severity: Severity | None = None
    """This hit's severity when it differs from the rule's (taint raises or lowers it)."""
    confidence: Confidence | None = None
    """This hit's confidence when it differs from the rule's."""
