"""Suppressions a tool wrote into its own output (``nosemgrep``, ``# noqa``-style, SARIF
``suppressions``).

secpipe's rule is that accepting a finding needs a reason and an expiry (``suppressions:`` in
``secpipe.yaml``). A tool's own suppression has neither, so its result is kept as a finding marked
with :data:`TOOL_SUPPRESSED_TAG`, and the gate counts it unless the policy sets
``accept_tool_suppressions: true`` (then it is accepted, with :data:`TOOL_SUPPRESSED_REASON`).
Only a parser marks a finding; a tag a tool writes itself is never taken as the marker.
"""

from __future__ import annotations

from dataclasses import replace

from secpipe.core.findings import Finding

TOOL_SUPPRESSED_TAG = "secpipe:tool-suppressed"
"""The tag of a finding the tool itself reported as suppressed."""
TOOL_SUPPRESSED_REASON = "suppressed in the tool's output, without reason or expiry"
"""What such a finding says, and the reason the gate gives when the policy accepts it."""
PROPERTY = "tool-suppression"
"""The finding property naming how the tool suppressed it (``inSource``, ``external`` …)."""


def mark_tool_suppressed(finding: Finding, how: str, justification: str = "") -> Finding:
    """``finding`` marked as suppressed by the tool (``how``: the tool's kind of suppression;
    ``justification``: the tool's own words, if any — there is still no expiry)."""
    note = TOOL_SUPPRESSED_REASON if not justification else (
        f"suppressed in the tool's output (its justification: {justification}), without expiry")
    props = dict(finding.properties)
    props[PROPERTY] = how or "unspecified"
    tags = (*(t for t in finding.tags if t != TOOL_SUPPRESSED_TAG), TOOL_SUPPRESSED_TAG)
    message = f"{finding.message} [{note}]" if finding.message else note
    return replace(finding, tags=tags, message=message, properties=tuple(sorted(props.items())))


RESERVED_TAG_PREFIX = "secpipe:"
"""Tags secpipe's own markers use (:data:`TOOL_SUPPRESSED_TAG`, the inline-suppression tag of
:mod:`secpipe.policy.inline`): a tool's output never carries one into a finding."""


def unmarked_tags(tags: list[str]) -> list[str]:
    """A tool's own tags without secpipe's markers (a tool can neither mark its results as
    tool-suppressed nor as suppressed inline with a reason): every tag that starts with
    ``secpipe:``, in any case and after any leading spaces, is dropped."""
    return [t for t in tags if not t.lstrip().lower().startswith(RESERVED_TAG_PREFIX)]


def is_tool_suppressed(finding: Finding) -> bool:
    """True when a parser marked ``finding`` as suppressed in the tool's output."""
    return TOOL_SUPPRESSED_TAG in finding.tags
