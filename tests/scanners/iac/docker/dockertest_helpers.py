"""Helpers for the Dockerfile/Compose tests: analyse a text, pick hits by rule."""

from __future__ import annotations

import textwrap

from secpipe.scanners.iac.docker import compose, dockerfile
from secpipe.scanners.iac.model import Analysis, IacHit


def df(text: str, rel: str = "Dockerfile") -> Analysis:
    """Analyse a Dockerfile text (dedented)."""
    return dockerfile.analyse_text(textwrap.dedent(text), rel)


def dc(text: str, rel: str = "docker-compose.yml") -> Analysis:
    """Analyse a Compose text (dedented)."""
    return compose.analyse_text(textwrap.dedent(text), rel)


def hits(analysis: Analysis, rule: str) -> list[IacHit]:
    """The hits of one rule (the full id, or the part after ``iac.docker.``/``iac.compose.``)."""
    return [h for h in analysis.hits if h.rule_id == rule or h.rule_id.endswith("." + rule)]


def problems(analysis: Analysis, rule: str) -> list[str]:
    return [p.message for p in analysis.problems if p.rule_id == rule]
