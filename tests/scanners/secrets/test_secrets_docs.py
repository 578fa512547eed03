"""The docs list every rule, and the pre-commit hook runs the real command."""

from __future__ import annotations

from pathlib import Path

import yaml

from secpipe.core.registry import scanner_kinds
from secpipe.scanners.secrets.rules import INCOMPLETE_RULE, UNREADABLE_RULE, reported_rules

REPO = Path(__file__).resolve().parents[3]


def test_docs_list_every_rule_id() -> None:
    doc = (REPO / "docs" / "secrets-scanner.md").read_text()
    missing = [r.rule_id for r in reported_rules() if f"`{r.rule_id}`" not in doc]
    assert missing == []
    assert INCOMPLETE_RULE in doc and UNREADABLE_RULE in doc


def test_pre_commit_hook_runs_secpipe_scan_secrets_on_the_staged_files() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "secpipe-secrets")
    assert hook["entry"] == "secpipe scan secrets"
    assert hook["language"] == "python" and hook["pass_filenames"] is True
    assert scanner_kinds(plugins=False)["secrets"] == "scan-secrets"
