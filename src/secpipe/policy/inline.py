"""Suppressions written in the scanned source (``# secpipe:ignore RULE reason="…" expires=…``).

A scanner that reads such a comment (``scan-iac``, :mod:`secpipe.scanners.iac.suppress`) keeps
the finding and marks it with :data:`INLINE_TAG` and three properties: the reason, the expiry date
and where the comment is. The gate (:func:`secpipe.policy.evaluate.evaluate`) accepts a marked
finding while the expiry is today or later, like a ``suppressions:`` entry of ``secpipe.yaml``;
after it, the finding is counted and the decision says the inline suppression expired.

Only secpipe's own scanners mark findings: a tag a tool writes into its SARIF or JSON output is
dropped by :func:`secpipe.tools.suppressions.unmarked_tags`, so a tool can never accept its own
results through this marker. A could-not-decide finding
(:func:`secpipe.policy.baseline.undecided`) is never suppressed inline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from secpipe.core.findings import Finding
from secpipe.policy.baseline import undecided

INLINE_TAG = "secpipe:inline-suppressed"
"""The tag of a finding suppressed by a ``secpipe:ignore`` comment in the source."""
REASON_PROPERTY = "suppression-reason"
"""The comment's reason."""
EXPIRES_PROPERTY = "suppression-expires"
"""The comment's expiry date, ``YYYY-MM-DD``."""
WHERE_PROPERTY = "suppression-where"
"""Where the comment is, ``path:line``."""


def mark_inline(finding: Finding, reason: str, expires: dt.date, where: str) -> Finding:
    """``finding`` marked as suppressed by the comment at ``where`` (``path:line``) for
    ``reason`` until ``expires`` (inclusive). The gate decides whether it still holds."""
    props = dict(finding.properties)
    props[REASON_PROPERTY] = reason
    props[EXPIRES_PROPERTY] = expires.isoformat()
    props[WHERE_PROPERTY] = where
    tags = (*(t for t in finding.tags if t != INLINE_TAG), INLINE_TAG)
    return replace(finding, tags=tags, properties=tuple(sorted(props.items())))


@dataclass(frozen=True)
class InlineState:
    """What the gate reads of a finding's inline suppression."""

    where: str
    """``path:line`` of the comment (``unknown place`` when missing)."""
    reason: str
    """The reason, empty when missing."""
    expires: dt.date | None
    """The expiry, None when missing or not a date."""
    undecided: bool = False
    """The finding says its scanner could not decide (never suppressed inline)."""

    def problem(self, today: dt.date) -> str:
        """Why it does not suppress on ``today`` (empty when it does)."""
        if self.undecided:
            return (f"inline suppression at {self.where} covers a finding whose scanner could "
                    "not decide (scan-incomplete/unreadable/undecided): it does not suppress")
        if not self.reason.strip():
            return f"inline suppression at {self.where} has no reason: it does not suppress"
        if self.expires is None:
            return (f"inline suppression at {self.where} has no valid expiry date: it does not "
                    "suppress")
        if self.expires < today:
            return (f"inline suppression at {self.where} expired on {self.expires}: it no "
                    f"longer suppresses (reason was: {self.reason})")
        return ""


def inline_state(finding: Finding) -> InlineState | None:
    """The inline suppression ``finding`` carries, None when it carries none."""
    if INLINE_TAG not in finding.tags:
        return None
    props = dict(finding.properties)
    try:
        expires: dt.date | None = dt.date.fromisoformat(props.get(EXPIRES_PROPERTY, ""))
    except ValueError:
        expires = None
    return InlineState(where=props.get(WHERE_PROPERTY) or "unknown place",
                       reason=props.get(REASON_PROPERTY, ""), expires=expires,
                       undecided=undecided(finding.rule_id))
