"""Verification policy over an attestation: requirements such as ``scan-models passed``.

Each requirement is ``NAME ran`` or ``NAME passed``; NAME is a step id or a step kind (every step
of that kind must satisfy it, and at least one must exist). ``gates passed`` requires every gate to
have passed. A list of requirements is all-of; an empty policy is an error, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from secpipe.core.errors import ConfigError

_REQUIREMENT = re.compile(r"^\s*(?P<name>[a-z0-9][a-z0-9_\-]*)\s+(?P<verb>ran|passed)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One parsed requirement."""

    name: str
    """Step id, step kind, or ``gates``."""
    verb: str
    """``ran`` or ``passed``."""

    def __str__(self) -> str:
        return f"{self.name} {self.verb}"


def parse_policy(items: Sequence[str]) -> list[Requirement]:
    if not items:
        raise ConfigError("verification policy is empty; name at least one requirement "
                          "such as 'scan-models passed'")
    parsed = []
    for item in items:
        match = _REQUIREMENT.match(item)
        if match is None:
            raise ConfigError(f"policy requirement {item!r}: write it as 'NAME ran' or "
                              "'NAME passed' (NAME: a step id or kind, or 'gates')")
        parsed.append(Requirement(match.group("name"), match.group("verb")))
    return parsed


def evaluate_policy(statement: Mapping[str, Any], requirements: Sequence[Requirement]) -> list[str]:
    """One line per unmet requirement (empty: all met)."""
    predicate = statement.get("predicate", {})
    steps = [s for s in predicate.get("steps", []) if isinstance(s, Mapping)]
    failures = []
    for req in requirements:
        if req.name == "gates":
            gates = [g for g in predicate.get("gates", []) if isinstance(g, Mapping)]
            if not gates:
                failures.append(f"{req}: no gate ran")
            elif req.verb == "passed" and not all(g.get("passed") is True for g in gates):
                failed = ", ".join(str(g.get("id")) for g in gates if g.get("passed") is not True)
                failures.append(f"{req}: gate {failed} failed")
            continue
        matching = [s for s in steps if req.name in (s.get("id"), s.get("kind"))]
        if not matching:
            failures.append(f"{req}: no step {req.name} ran in run {predicate.get('runId')}")
            continue
        if req.verb == "passed":
            bad = [s for s in matching if s.get("status") != "passed"]
            if bad:
                failures.append(f"{req}: step {bad[0].get('id')} ended {bad[0].get('status')}")
    return failures
