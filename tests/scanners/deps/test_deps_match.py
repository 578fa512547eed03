"""Matching dependencies against the fixture database: alias groups, fixed versions, withdrawn
records, explicit version lists, last_affected, SEMVER ranges, and what cannot be decided."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from osv_helpers import dep, open_fixture_db, record

from secpipe.core.findings import Finding, Severity
from secpipe.scanners.deps.match import match
from secpipe.scanners.deps.osvdb import OsvDatabase, import_sources


@pytest.fixture
def osv(tmp_path: Path) -> OsvDatabase:
    db = open_fixture_db(tmp_path)
    yield db  # type: ignore[misc]
    db.close()


def vulns(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule_id == "deps.vulnerable"]


def props(finding: Finding) -> dict[str, str]:
    return dict(finding.properties)


def test_alias_group_is_one_finding_naming_every_id_and_the_fix(osv: OsvDatabase) -> None:
    out = match([dep("Flask", "2.2.4")], osv)
    [finding] = out.findings
    assert finding.rule_id == "deps.vulnerable"
    assert "GHSA-m2qf-hxjv-5gpq / PYSEC-2023-62 / CVE-2023-30861" in finding.message
    assert "fixed in 2.2.5" in finding.message
    assert props(finding)["advisories"] == "GHSA-m2qf-hxjv-5gpq,PYSEC-2023-62,CVE-2023-30861"
    assert props(finding)["fixed"] == "2.2.5"
    assert "Upgrade Flask to 2.2.5" in finding.remediation
    assert finding.severity is Severity.HIGH  # CVSS 7.5 of the GHSA record
    assert props(finding)["severity_source"] == "CVSS 7.5"
    assert finding.location.path == "requirements.txt" and finding.location.line == 1
    assert "CWE-539" in finding.tags


def test_second_branch_names_the_fix_of_its_own_branch(osv: OsvDatabase) -> None:
    [finding] = match([dep("flask", "2.3.1")], osv).findings
    assert props(finding)["fixed"] == "2.3.2"
    assert match([dep("flask", "2.2.5")], osv).findings == []
    assert match([dep("flask", "2.3.2")], osv).findings == []


def test_fixed_version_is_the_first_that_no_record_of_the_group_affects(tmp_path: Path) -> None:
    src = tmp_path / "r.json"
    # two records of one flaw disagree: the fix must satisfy both (2.0.1 is still affected)
    src.write_text(json.dumps([
        record("GHSA-aaaa-bbbb-cccc", "pkg", [{"introduced": "0"}, {"fixed": "2.0.1"}],
               aliases=("CVE-2099-1",)),
        record("PYSEC-2099-1", "pkg", [{"introduced": "0"}, {"fixed": "2.0.3"}],
               aliases=("CVE-2099-1",)),
    ]))
    import_sources([src], tmp_path / "db")
    with OsvDatabase(tmp_path / "db") as osv:
        [finding] = match([dep("pkg", "1.0")], osv).findings
    assert props(finding)["fixed"] == "2.0.3"
    assert "GHSA-aaaa-bbbb-cccc / PYSEC-2099-1 / CVE-2099-1" in finding.message


def test_distinct_flaws_stay_distinct_findings(osv: OsvDatabase) -> None:
    out = match([dep("werkzeug", "2.2.2")], osv)
    groups = sorted(props(f)["advisories"].split(",")[0] for f in vulns(out.findings))
    assert groups == ["GHSA-2g68-c3qc-8985", "GHSA-hrfv-mqp8-q5rw", "GHSA-xg9f-g7g7-2323"]
    assert out.vulnerabilities == 3
    assert out.vulnerable_dependencies == 1


def test_withdrawn_record_never_matches(osv: OsvDatabase) -> None:
    assert match([dep("numpy", "1.26.4")], osv).findings == []  # only the withdrawn one covers it
    [finding] = match([dep("numpy", "1.21.0")], osv).findings
    assert "SECPIPE-TEST" not in finding.message
    assert props(finding)["advisories"] == "GHSA-fpfv-jqm9-f5jm,CVE-2021-34141"


def test_explicit_versions_list_only(osv: OsvDatabase) -> None:
    [finding] = match([dep("ctx", "0.2.2")], osv).findings
    assert finding.severity is Severity.CRITICAL  # the database's rating: no vector
    assert "no fixed version is known" in finding.message
    assert props(finding)["fixed"] == ""
    assert match([dep("ctx", "0.2.3")], osv).findings == []


def test_last_affected_has_no_fix_and_stops_after(osv: OsvDatabase) -> None:
    [finding] = match([dep("ip", "2.0.1", ecosystem="npm", path="package-lock.json")],
                      osv).findings
    assert "GHSA-2p57-rm9w-gvfp" in finding.message
    assert "no fixed version is known" in finding.message
    assert match([dep("ip", "2.0.2", ecosystem="npm")], osv).findings == []


def test_npm_semver_ranges_and_prereleases(osv: OsvDatabase) -> None:
    out = match([dep("lodash", "4.17.20", ecosystem="npm", path="package-lock.json", line=None)],
                osv)
    ids = sorted(props(f)["advisories"] for f in out.findings)
    assert ids == ["GHSA-29mw-wpgm-hmr9,CVE-2020-28500", "GHSA-35jh-r3h4-6jhm,CVE-2021-23337"]
    assert all(props(f)["fixed"] == "4.17.21" for f in out.findings)
    # a pre-release of the fix is still before the fix
    assert len(match([dep("lodash", "4.17.21-rc.1", ecosystem="npm")], osv).findings) == 2
    assert match([dep("lodash", "4.17.21", ecosystem="npm")], osv).findings == []
    [mini] = match([dep("minimist", "1.2.5", ecosystem="npm")], osv).findings
    assert props(mini)["fixed"] == "1.2.6" and mini.severity is Severity.CRITICAL


def test_cvss_v4_only_record_takes_the_database_rating(osv: OsvDatabase) -> None:
    [finding] = match([dep("torch", "2.5.1")], osv).findings
    assert finding.severity is Severity.CRITICAL
    assert props(finding)["severity_source"] == "database: CRITICAL"
    assert "GHSA-53q9-r3pm-6pq6 / PYSEC-2025-41 / CVE-2025-32434" in finding.message


def test_git_ranges_are_ignored(tmp_path: Path) -> None:
    src = tmp_path / "r.json"
    git = {"type": "GIT", "repo": "https://example.invalid/r",
           "events": [{"introduced": "0"}, {"fixed": "deadbeef"}]}
    rec = record("T-GIT", "gitpkg", [])
    rec["affected"][0]["ranges"] = [git]
    src.write_text(json.dumps(rec))
    import_sources([src], tmp_path / "db")
    with OsvDatabase(tmp_path / "db") as osv:
        assert match([dep("gitpkg", "1.0")], osv).findings == []


def test_unpinned_is_reported_once_per_manifest_and_name(osv: OsvDatabase) -> None:
    deps = [dep("requests", None, spec=">=2"), dep("Requests", None, spec=">=2.1", line=4),
            dep("requests", None, path="pyproject.toml", spec=">=2"),
            dep("requests", "2.30.0", path="poetry.lock", line=None)]
    out = match(deps, osv)
    unpinned = [f for f in out.findings if f.rule_id == "deps.unpinned"]
    assert sorted(f.location.path for f in unpinned) == ["pyproject.toml", "requirements.txt"]
    assert all(f.severity is Severity.LOW for f in unpinned)
    assert "cannot be matched" in unpinned[0].message
    locked = vulns(out.findings)  # the locked version is matched
    assert {f.location.path for f in locked} == {"poetry.lock"}
    assert "GHSA-j8r2-6x86-q33q / PYSEC-2023-74 / CVE-2023-32681" in " ".join(
        f.message for f in locked)


def test_unmatched_ecosystem_is_one_finding_per_manifest(osv: OsvDatabase) -> None:
    deps = [dep("python", "3.11", ecosystem="conda", path="environment.yml"),
            dep("cudatoolkit", "11.8", ecosystem="conda", path="environment.yml"),
            dep("python", "3.11", ecosystem="conda", path="environment.yml")]
    [finding] = match(deps, osv).findings
    assert finding.rule_id == "deps.unmatched-ecosystem"
    assert "2 conda package(s)" in finding.message and "cudatoolkit" in finding.message
    assert finding.severity is Severity.MEDIUM
    # an ecosystem left out by the settings is reported the same way
    [npm] = match([dep("lodash", "4.17.20", ecosystem="npm")], osv, ecosystems=["PyPI"]).findings
    assert npm.rule_id == "deps.unmatched-ecosystem"


def test_installed_version_that_does_not_parse_is_could_not_compare(osv: OsvDatabase) -> None:
    [finding] = match([dep("flask", "two-point-oh")], osv).findings
    assert finding.rule_id == "deps.uncomparable"
    assert finding.severity is Severity.HIGH
    assert "could not compare flask two-point-oh" in finding.message
    assert "GHSA-m2qf-hxjv-5gpq" in finding.message
    # a package no advisory names has nothing to compare with: no finding
    assert match([dep("no-such-package", "weird")], osv).findings == []


def test_event_version_that_does_not_parse_is_could_not_compare(tmp_path: Path) -> None:
    src = tmp_path / "r.json"
    src.write_text(json.dumps([
        record("T-BAD", "pkg", [{"introduced": "0"}, {"fixed": "1.x"}]),
        record("T-GOOD", "pkg", [{"introduced": "0"}, {"fixed": "3.0"}]),
    ]))
    import_sources([src], tmp_path / "db")
    with OsvDatabase(tmp_path / "db") as osv:
        findings = match([dep("pkg", "2.0")], osv).findings
    rules = sorted(f.rule_id for f in findings)
    assert rules == ["deps.uncomparable", "deps.vulnerable"]
    bad = next(f for f in findings if f.rule_id == "deps.uncomparable")
    assert "T-BAD" in bad.message and "'1.x'" in bad.message


def test_missing_ecosystem_data_is_skipped_by_match(osv: OsvDatabase) -> None:
    out = match([dep("lodash", "4.17.20", ecosystem="npm")], osv, available=["PyPI"])
    assert out.findings == [] and out.matched == 0


def test_fingerprints_are_stable_and_distinct(osv: OsvDatabase) -> None:
    a = match([dep("flask", "2.2.4", line=3)], osv).findings[0]
    b = match([dep("flask", "2.2.4", line=9)], osv).findings[0]
    c = match([dep("flask", "2.2.3", line=3)], osv).findings[0]
    assert a.fingerprint == b.fingerprint  # a moved line is the same finding
    assert a.fingerprint != c.fingerprint


def test_local_version_label_of_an_ml_wheel_is_still_matched(osv: OsvDatabase) -> None:
    [finding] = match([dep("torch", "2.5.1+cu121")], osv).findings
    assert dict(finding.properties)["fixed"] == "2.6.0"
    assert match([dep("torch", "2.6.0+cpu")], osv).findings == []


def test_the_same_pin_declared_twice_in_one_file_is_one_finding(osv: OsvDatabase) -> None:
    out = match([dep("flask", "2.2.4", line=1), dep("Flask", "2.2.4", line=7)], osv)
    assert len(out.findings) == 1
    other_file = match([dep("flask", "2.2.4"), dep("flask", "2.2.4", path="poetry.lock")], osv)
    assert len(other_file.findings) == 2  # each file is told
