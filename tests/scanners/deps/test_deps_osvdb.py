"""The OSV store: imports from a zip, a folder and a JSON file, validation counted and reported,
bounds, atomic replacement, per-ecosystem merge, metadata."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
from osv_helpers import FIXTURES, fixture_records, fixture_zip, record

from secpipe.core.errors import InputError
from secpipe.scanners.deps.osvdb import (
    DatabaseMissing,
    Limits,
    OsvDatabase,
    database_path,
    default_database_path,
    import_sources,
    validate_record,
)


def test_folder_import_counts_every_fixture_record(tmp_path: Path) -> None:
    db = tmp_path / "osv.sqlite3"
    report = import_sources([FIXTURES], db, now=1_700_000_000.0)
    assert report.records == len(fixture_records()) == 42
    assert report.invalid == 0
    assert report.per_ecosystem == {"PyPI": 35, "npm": 7}
    assert report.withdrawn == 1
    with OsvDatabase(db) as osv:
        infos = osv.ecosystems()
        assert infos["PyPI"].records == 35
        assert infos["PyPI"].loaded_at == 1_700_000_000.0
        assert infos["PyPI"].newest_modified == "2025-06-10T18:59:27Z"
        assert infos["npm"].newest_modified == "2024-08-01T21:30:17Z"
        assert osv.withdrawn_count() == 1
        # indexed by canonical name: "Flask" (PYSEC) and "flask" (GHSA) are one package
        ids = {a.advisory.id for a in osv.affected("PyPI", "FLASK")}
        assert ids == {"PYSEC-2023-62", "GHSA-m2qf-hxjv-5gpq"}
        assert {a.advisory.id for a in osv.affected("PyPI", "Scikit_Learn")} == {
            "GHSA-jw8x-6495-233v", "PYSEC-2024-110"}


def test_zip_import_equals_folder_import(tmp_path: Path) -> None:
    archive = fixture_zip(tmp_path / "all.zip")
    db = tmp_path / "osv.sqlite3"
    report = import_sources([archive], db)
    assert report.records == 42
    with OsvDatabase(db) as osv:
        assert len(osv.affected("npm", "lodash")) == 4


def test_json_array_and_single_record_files(tmp_path: Path) -> None:
    arr = tmp_path / "records.json"
    arr.write_text(json.dumps([record("T-1", "alpha", [{"introduced": "0"}]),
                               record("T-2", "beta", [{"introduced": "1.0"}])]))
    one = tmp_path / "one.json"
    one.write_text(json.dumps(record("T-3", "gamma", [{"introduced": "0"}], ecosystem="npm",
                                     rtype="SEMVER")))
    report = import_sources([arr, one], tmp_path / "db.sqlite3")
    assert report.records == 3
    assert report.per_ecosystem == {"PyPI": 2, "npm": 1}


def test_invalid_records_are_counted_and_named_not_dropped_silently(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.json").write_text(json.dumps(record("T-1", "alpha", [{"introduced": "0"}])))
    (src / "noid.json").write_text(json.dumps({"modified": "2024-01-01T00:00:00Z"}))
    (src / "badevent.json").write_text(json.dumps(
        record("T-2", "beta", [{"introduced": "0", "fixed": "1.0"}])))
    (src / "badtype.json").write_text(json.dumps(
        record("T-3", "gamma", [{"introduced": "0"}], rtype="CALVER")))
    (src / "syntax.json").write_text("{not json")
    (src / "latin1.json").write_bytes(b'{"id": "caf\xe9"}')
    report = import_sources([src], tmp_path / "db.sqlite3")
    assert report.records == 1
    assert report.invalid == 5
    text = "\n".join(report.problems)
    assert "noid.json: no 'id'" in text
    assert "T-2: affected[0].ranges[0].events[0] is not an object with one key" in text
    assert "T-3: affected[0].ranges[0] has no type" in text
    assert "syntax.json: not JSON" in text
    assert "latin1.json: not UTF-8" in text


@pytest.mark.parametrize(("value", "why"), [
    ([], "not a JSON object"),
    ({"id": "X"}, "no 'modified'"),
    ({"id": "X", "modified": "m", "aliases": "CVE-1"}, "'aliases' is not a list"),
    ({"id": "X", "modified": "m", "severity": [{"type": "CVSS_V3"}]}, "'severity'"),
    ({"id": "X", "modified": "m", "affected": [{"package": {"name": "a"}}]}, "package"),
    ({"id": "X", "modified": "m", "affected": [{"versions": [1, 2]}]}, "versions"),
    ({"id": "X", "modified": "m",
      "affected": [{"ranges": [{"type": "SEMVER", "events": []}]}]}, "non-empty"),
])
def test_validate_record_names_the_problem(value: object, why: str) -> None:
    problem = validate_record(value)
    assert problem is not None and why in problem


def test_no_valid_record_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x"}]))
    db = tmp_path / "db.sqlite3"
    with pytest.raises(InputError, match="no valid OSV record"):
        import_sources([bad], db)
    assert not db.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no temporary file left behind


def test_failed_import_leaves_the_old_database_untouched(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    import_sources([FIXTURES], db)
    before = db.read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text("[")
    with pytest.raises(InputError):
        import_sources([bad], db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "db.sqlite3"]


def test_zip_member_bounds(tmp_path: Path) -> None:
    records = [record(f"T-{i}", f"p{i}", [{"introduced": "0"}]) for i in range(5)]
    archive = fixture_zip(tmp_path / "all.zip", records)
    with pytest.raises(InputError, match="5 members"):
        import_sources([archive], tmp_path / "db.sqlite3", limits=Limits(max_files=4))
    assert not (tmp_path / "db.sqlite3").exists()


def test_oversized_member_is_counted_invalid_without_being_read_whole(tmp_path: Path) -> None:
    big = record("T-BIG", "big", [{"introduced": "0"}], details="x" * 200_000)
    small = record("T-SMALL", "small", [{"introduced": "0"}])
    archive = fixture_zip(tmp_path / "all.zip", [big, small])
    report = import_sources([archive], tmp_path / "db.sqlite3",
                            limits=Limits(max_record_bytes=10_000))
    assert report.records == 1
    assert report.invalid == 1
    assert "T-BIG.json: too large" in report.problems[0]


def test_highly_compressed_member_stops_at_the_total_bound(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(20):
            padded = record(f"T-{i}", f"p{i}", [{"introduced": "0"}], details=" " * 50_000)
            zf.writestr(f"T-{i}.json", json.dumps(padded))
    assert archive.stat().st_size < 50_000
    with pytest.raises(InputError, match="bytes in all"):
        import_sources([archive], tmp_path / "db.sqlite3", limits=Limits(max_total_bytes=500_000))


def test_deeply_nested_record_is_invalid_not_a_crash(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    deep = record("T-DEEP", "deep", [{"introduced": "0"}])
    (src / "deep.json").write_text(json.dumps(deep)[:-1] + ', "database_specific": '
                                   + "{\"a\": " * 100_000 + "1" + "}" * 100_000 + "}")
    (src / "ok.json").write_text(json.dumps(record("T-OK", "ok", [{"introduced": "0"}])))
    report = import_sources([src], tmp_path / "db.sqlite3")
    assert report.records == 1
    assert report.invalid == 1
    assert "nested deeper" in report.problems[0]


def test_import_keeps_other_ecosystems_and_replace_drops_them(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    import_sources([FIXTURES], db, now=1000.0)
    npm_only = tmp_path / "npm.json"
    npm_only.write_text(json.dumps([record("T-NPM", "left-pad", [{"introduced": "0"}],
                                           ecosystem="npm", rtype="SEMVER")]))
    report = import_sources([npm_only], db, now=2000.0)
    assert report.kept == ["PyPI"]
    with OsvDatabase(db) as osv:
        infos = osv.ecosystems()
        assert infos["npm"].records == 1 and infos["npm"].loaded_at == 2000.0
        assert infos["PyPI"].records == 35 and infos["PyPI"].loaded_at == 1000.0
        assert osv.affected("npm", "lodash") == []  # npm data replaced as a whole
        assert len(osv.affected("PyPI", "flask")) == 2
    import_sources([npm_only], db, replace=True)
    with OsvDatabase(db) as osv:
        assert set(osv.ecosystems()) == {"npm"}
        assert osv.affected("PyPI", "flask") == []


def test_ecosystem_filter_keeps_only_the_named_ecosystem(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    report = import_sources([FIXTURES], db, ecosystems=["npm"])
    assert report.per_ecosystem == {"npm": 7}
    with OsvDatabase(db) as osv:
        assert set(osv.ecosystems()) == {"npm"}


def test_missing_and_foreign_databases(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissing, match="no OSV database"):
        OsvDatabase(tmp_path / "absent.sqlite3")
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="not a usable OSV database"):
        OsvDatabase(other)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(InputError, match="not a usable OSV database"):
        OsvDatabase(junk)


def test_database_location_setting_env_and_default(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECPIPE_OSV_DB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_database_path() == tmp_path / "cache" / "secpipe" / "osv.sqlite3"
    monkeypatch.setenv("SECPIPE_OSV_DB", str(tmp_path / "env.sqlite3"))
    assert default_database_path() == tmp_path / "env.sqlite3"
    assert database_path("data/osv.db", tmp_path) == tmp_path / "data" / "osv.db"
    assert database_path(None, tmp_path) == tmp_path / "env.sqlite3"


def test_a_link_in_an_import_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(record("T-OUT", "out", [{"introduced": "0"}])))
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.json").write_text(json.dumps(record("T-OK", "ok", [{"introduced": "0"}])))
    (src / "link.json").symlink_to(outside)
    report = import_sources([src], tmp_path / "db.sqlite3")
    assert report.records == 1
    assert report.invalid == 1 and "link.json: unreadable" in report.problems[0]


def test_a_linked_folder_in_an_import_folder_is_reported_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "T-OUT.json").write_text(json.dumps(record("T-OUT", "out", [{"introduced": "0"}])))
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.json").write_text(json.dumps(record("T-OK", "ok", [{"introduced": "0"}])))
    (src / "more").symlink_to(outside, target_is_directory=True)
    report = import_sources([src], tmp_path / "db.sqlite3")
    assert report.records == 1
    assert report.problems == ["more: a link to a folder: not followed"]


def test_encrypted_or_corrupt_member_is_counted_not_a_crash(tmp_path: Path) -> None:
    archive = fixture_zip(tmp_path / "all.zip", [record("T-1", "a", [{"introduced": "0"}]),
                                                 record("T-2", "b", [{"introduced": "0"}])])
    data = bytearray(archive.read_bytes())
    # set the "encrypted" flag of the first member in its local and central headers
    local = data.find(b"PK\x03\x04")
    data[local + 6] |= 1
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1
    archive.write_bytes(bytes(data))
    report = import_sources([archive], tmp_path / "db.sqlite3")
    assert report.records == 1
    assert report.invalid == 1 and "T-1.json: unreadable member" in report.problems[0]
