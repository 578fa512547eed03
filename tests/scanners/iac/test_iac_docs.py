"""docs/rules/iac.md is what scripts/gen-rule-docs.py writes from the rules, and every rule
carries what its page and its findings promise (a CWE, a NIST control, a fix, examples)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from secpipe.scanners.iac.model import FRAMEWORKS, PROBLEM_RULES
from secpipe.scanners.iac.rules import all_rules, by_alias

REPO = Path(__file__).resolve().parents[3]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_rule_docs",
                                                  REPO / "scripts" / "gen-rule-docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_rule_docs", module)
    spec.loader.exec_module(module)
    return module


def test_committed_iac_rule_page_is_the_generators_output() -> None:
    page = (REPO / "docs" / "rules" / "iac.md").read_text(encoding="utf-8")
    assert page == generator().render_iac(), "run: .venv/bin/python scripts/gen-rule-docs.py"


def test_every_rule_is_complete_and_documented() -> None:
    text = generator().render_iac()
    rules = all_rules()
    assert len(rules) >= 100
    for rule in rules.values():
        assert f"### `{rule.id}`" in text
        assert re.fullmatch(r"iac\.(aws|azure|gcp|k8s|docker|compose)\.[a-z0-9-]+", rule.id)
        assert rule.framework in FRAMEWORKS
        assert re.fullmatch(r"CWE-\d+", rule.cwe), rule.id
        assert any(c.startswith("NIST-800-53:") for c in rule.controls), rule.id
        assert rule.rationale and rule.fix and rule.bad and rule.good, rule.id
        assert rule.id not in PROBLEM_RULES
    for rule_id in PROBLEM_RULES:
        assert f"`{rule_id}`" in text


def test_aliases_name_other_tools_rules() -> None:
    aliases = by_alias()
    assert "CKV_AWS_24" in aliases  # checkov: SSH open to the world
    assert any(a.startswith("AVD-KSV-") for a in aliases)
    assert any(a.startswith("AVD-DS-") or a.startswith("DS") for a in aliases)
