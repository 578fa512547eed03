"""Suppression and policy settings: required free text must say something."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from secpipe.policy.model import SuppressionSpec, require_text


@pytest.mark.parametrize("reason", ["", "   ", "\t\n ", "ab", " a b ", "x\u3000y"])
def test_reason_needs_three_characters_besides_spaces(reason: str) -> None:
    with pytest.raises(ValidationError, match="at least 3 characters besides spaces"):
        SuppressionSpec(rule="r", reason=reason)


def test_reason_is_stripped() -> None:
    assert SuppressionSpec(rule="r", reason="  a b c\n").reason == "a b c"


@pytest.mark.parametrize("field", ["fingerprint", "rule", "path"])
def test_blank_selector_counts_as_absent(field: str) -> None:
    with pytest.raises(ValidationError, match="needs a fingerprint, a rule or a path"):
        SuppressionSpec.model_validate({field: "  ", "reason": "fixture"})


def test_require_text_wording() -> None:
    with pytest.raises(ValueError, match="a name needs at least 1 character besides spaces"):
        require_text(" ", 1, "a name")
