"""When the step judges licences: only under a policy, and a missing licence only where the
source would have stated one (an installed distribution does; a requirements line never does)."""

from __future__ import annotations

from pathlib import Path

import pytest
from osv_helpers import fixture_db

from secpipe.core.results import StepResult
from secpipe.core.step import StepContext
from secpipe.scanners.deps.step import DepsScanStep, DepsSettings


@pytest.fixture(autouse=True)
def _no_user_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECPIPE_OSV_DB", raising=False)


def _venv(root: Path, dists: dict[str, str | None]) -> Path:
    site = root / "venv" / "lib" / "python3.11" / "site-packages"
    for name, licence in dists.items():
        info = site / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        header = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
        if licence is not None:
            header += f"License-Expression: {licence}\n"
        (info / "METADATA").write_text(header + "\n")
    return root / "venv"


def _scan(root: Path, db: Path, **settings: object) -> StepResult:
    ctx = StepContext(project_root=root, workdir=root / ".work")
    return DepsScanStep().run(ctx, DepsSettings.model_validate(
        {"database": str(db), **settings}))


def _licence_rules(result: StepResult) -> list[tuple[str, str]]:
    return sorted((f.rule_id, dict(f.properties).get("package", ""))
                  for f in result.findings if f.rule_id.startswith("deps.licence"))


def test_no_policy_no_licence_findings(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "requirements.txt").write_text("flask==3.1.0\n")
    _venv(root, {"agplthing": "AGPL-3.0-only", "nolicence": None})
    result = _scan(root, fixture_db(tmp_path / "db"), installed=["venv"])
    assert _licence_rules(result) == []


def test_policy_judges_stated_and_missing_licences_but_not_requirement_lines(
        tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "requirements.txt").write_text("flask==3.1.0\n")
    _venv(root, {"agplthing": "AGPL-3.0-only", "nolicence": None, "mitthing": "MIT"})
    result = _scan(root, fixture_db(tmp_path / "db"), installed=["venv"],
                   licences={"deny": ["AGPL-3.0-only"], "unknown": "low"})
    found = _licence_rules(result)
    assert ("deps.licence-denied", "agplthing") in found
    assert ("deps.licence-unknown", "nolicence") in found
    assert all(pkg not in ("flask", "mitthing") for _, pkg in found), found
