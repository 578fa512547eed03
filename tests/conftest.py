"""Test-wide isolation: no test touches the real $HOME or the network unless marked; the
OSV fixture set is the vulnerability database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run unless asked otherwise, so a CI run judges
# the change and not the luck of the draw; `make fuzz` explores with fresh random seeds and many
# more examples (SECPIPE_FUZZ_RANDOM=1, SECPIPE_FUZZ_EXAMPLES).
settings.register_profile("secpipe", derandomize=os.environ.get("SECPIPE_FUZZ_RANDOM") != "1")
settings.load_profile("secpipe")

OSV_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "osv"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With SECPIPE_REQUIRE_EXTERNAL=1 (set by .ci/run), a test marked ``external`` that skips
    because its tool or server is missing fails instead: CI installs them all, so a skip there
    would hide a real-component test that did not run."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("SECPIPE_REQUIRE_EXTERNAL") == "1" \
            and item.get_closest_marker("external") is not None:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"external test skipped in CI (SECPIPE_REQUIRE_EXTERNAL=1): {reason}"


@pytest.fixture(scope="session")
def osv_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OSV fixture set imported once per run, as `secpipe db import` does: the vulnerability
    data every pipeline test's dependency scan reads (a test of "no database" unsets it)."""
    from secpipe.scanners.deps.osvdb import import_sources

    db = tmp_path_factory.mktemp("osv") / "osv.sqlite3"
    import_sources([OSV_FIXTURES], db)
    return db


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, osv_database: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("SECPIPE_OSV_DB", str(osv_database))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("SECPIPE_PROJECT", raising=False)
    monkeypatch.delenv("SECPIPE_CONFIG", raising=False)
    yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder."""
    root = tmp_path / "project"
    root.mkdir()
    return root

