"""docs/rules/code.md is what scripts/gen-rule-docs.py writes from the rules, and the scanner's
design page names every rule id it reports about its own work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from secpipe.scanners.code.meta import META_RULES
from secpipe.scanners.code.mlrules import RULES

REPO = Path(__file__).resolve().parents[3]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_rule_docs",
                                                  REPO / "scripts" / "gen-rule-docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_rule_docs", module)
    spec.loader.exec_module(module)
    return module


def test_committed_rule_page_is_the_generators_output() -> None:
    page = (REPO / "docs" / "rules" / "code.md").read_text(encoding="utf-8")
    assert page == generator().render(), "run: .venv/bin/python scripts/gen-rule-docs.py"


def test_rule_page_documents_every_rule_with_its_examples() -> None:
    text = generator().render()
    for rule in RULES.values():
        assert f"### `{rule.id}`" in text
        assert rule.rationale in text and rule.fix in text
        if rule.bad:
            assert rule.bad.rstrip("\n") in text
    for rule_id in META_RULES:
        assert f"| `{rule_id}` |" in text
    assert "| `code.bandit.B602` |" in text and "| `code.bandit.B301` |" in text


def test_design_page_names_the_analysis_rules_and_settings() -> None:
    doc = (REPO / "docs" / "code-scanner.md").read_text(encoding="utf-8")
    for rule_id in META_RULES:
        assert f"`{rule_id}`" in doc
    for key in ("max_file_bytes", "max_notebook_bytes", "max_seconds_per_file", "bandit",
                "skip_rules", "min_severity", "workers"):
        assert f"`{key}`" in doc
