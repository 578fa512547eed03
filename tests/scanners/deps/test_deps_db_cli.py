"""``secpipe db``: update over real HTTP (a loopback server serving an export zip built from the
fixture set), the unreachable case, import, status, and the database's location."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from osv_helpers import FIXTURES, fixture_records, fixture_zip, record, zip_bytes

from secpipe.cli.main import main
from secpipe.core import exitcodes
from secpipe.scanners.deps.osvdb import OsvDatabase
from servers import free_port


class _Exports(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path == "/Slow/all.zip":  # a trickle: one byte every 0.1 s of a 1 MB body
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b"P")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "no such export")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def osv_server() -> Iterator[str]:
    """A loopback HTTP server laid out like OSV's bucket: /{ecosystem}/all.zip."""
    records = fixture_records()
    by_eco: dict[str, list[dict[str, object]]] = {}
    for rec in records:
        eco = rec["affected"][0]["package"]["ecosystem"]
        by_eco.setdefault(eco, []).append(rec)
    _Exports.files = {f"/{eco}/all.zip": zip_bytes(recs) for eco, recs in by_eco.items()}
    _Exports.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Exports)
    server.daemon_threads = True  # a trickling handler ends on its own when the client leaves
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_update_downloads_each_ecosystem_over_http_and_imports(
        osv_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "osv.sqlite3"
    code = main(["db", "update", "--url-base", osv_server, "--database", str(db)])
    out, err = capsys.readouterr()
    assert code == exitcodes.PASSED, err
    assert _Exports.requests == ["/PyPI/all.zip", "/npm/all.zip"]
    assert f"downloading {osv_server}/PyPI/all.zip" in err  # progress on stderr
    assert "imported 42 OSV records (PyPI 35, npm 7)" in out
    with OsvDatabase(db) as osv:
        infos = osv.ecosystems()
        assert infos["PyPI"].source == f"{osv_server}/PyPI/all.zip, {osv_server}/npm/all.zip"
        assert infos["npm"].records == 7


def test_update_of_one_ecosystem_keeps_the_others(osv_server: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "osv.sqlite3"
    assert main(["db", "update", "-q", "--url-base", osv_server, "--database", str(db)]) == 0
    assert main(["db", "update", "-q", "--ecosystem", "npm", "--url-base", osv_server,
                 "--database", str(db)]) == 0
    assert "kept from the previous database: PyPI" in capsys.readouterr().out
    with OsvDatabase(db) as osv:
        assert set(osv.ecosystems()) == {"PyPI", "npm"}


def test_update_against_a_closed_port_fails_saying_to_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "osv.sqlite3"
    code = main(["db", "update", "--url-base", f"http://127.0.0.1:{free_port()}",
                 "--database", str(db), "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == exitcodes.ERROR
    assert "cannot download" in err
    assert "secpipe db import" in err
    assert "Traceback" not in err
    assert not db.exists()
    assert list(tmp_path.iterdir()) == []  # no partial download left behind


def test_update_http_error_and_size_bound(osv_server: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "osv.sqlite3"
    assert main(["db", "update", "--ecosystem", "Go", "--url-base", osv_server,
                 "--database", str(db)]) == exitcodes.ERROR
    assert "HTTP 404" in capsys.readouterr().err
    assert main(["db", "update", "--url-base", osv_server, "--database", str(db),
                 "--max-bytes", "100"]) == exitcodes.ERROR
    assert "--max-bytes 100" in capsys.readouterr().err
    assert not db.exists()


def test_update_refuses_other_url_schemes(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["db", "update", "--url-base", f"file://{tmp_path}", "--database",
                 str(tmp_path / "db")])
    assert code == exitcodes.ERROR
    assert "only http:// and https://" in capsys.readouterr().err


def test_import_a_zip_and_report_invalid_records(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    records = [*fixture_records()[:3], {"id": "BROKEN-1"},
               record("T-2", "x", [{"introduced": "0", "fixed": "1"}])]
    archive = fixture_zip(tmp_path / "all.zip", records)
    db = tmp_path / "osv.sqlite3"
    assert main(["db", "import", str(archive), "--database", str(db)]) == exitcodes.PASSED
    out = capsys.readouterr().out
    assert "imported 3 OSV records" in out
    assert "2 record(s) did not validate and were not imported" in out
    assert "BROKEN-1.json: BROKEN-1: no 'modified' date" in out


def test_import_json_output_and_missing_source(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "osv.sqlite3"
    assert main(["db", "import", str(FIXTURES), "--database", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["records"] == 42 and data["invalid"] == 0 and data["withdrawn"] == 1
    assert main(["db", "import", str(tmp_path / "nope.zip"), "--database", str(db)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_status_shows_path_counts_and_age(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "osv.sqlite3"
    assert main(["db", "import", "-q", str(FIXTURES), "--database", str(db)]) == 0
    capsys.readouterr()
    assert main(["db", "status", "--database", str(db)]) == exitcodes.PASSED
    out = capsys.readouterr().out
    assert str(db) in out
    assert "PyPI" in out and "35 records" in out and "days ago" in out
    assert "data as of 2025-06-10" in out
    assert "1 withdrawn record(s)" in out
    assert main(["db", "status", "--database", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ecosystems"]["npm"]["records"] == 7
    assert data["ecosystems"]["npm"]["age_days"] < 0.1


def test_status_without_database_exits_2_saying_how_to_get_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["db", "status", "--database", str(tmp_path / "none.sqlite3")])
    err = capsys.readouterr().err
    assert code == exitcodes.ERROR
    assert "no OSV database at" in err
    assert "secpipe db update" in err and "secpipe db import" in err


def test_environment_variable_names_the_database(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # a folder without secpipe.yaml: no project setting
    db = tmp_path / "env" / "osv.sqlite3"
    monkeypatch.setenv("SECPIPE_OSV_DB", str(db))
    assert main(["db", "import", "-q", str(FIXTURES)]) == 0
    assert db.exists()
    assert main(["db", "status"]) == 0
    assert str(db) in capsys.readouterr().out


def test_project_setting_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "secpipe.yaml").write_text(
        "version: 1\ndefaults:\n  scan-deps:\n    database: data/osv.sqlite3\n")
    monkeypatch.setenv("SECPIPE_OSV_DB", str(tmp_path / "env.sqlite3"))  # the setting wins
    assert main(["db", "import", "-q", "-C", str(project), str(FIXTURES)]) == 0
    assert (project / "data" / "osv.sqlite3").exists()
    assert not (tmp_path / "env.sqlite3").exists()
    assert main(["db", "status", "-C", str(project)]) == 0
    assert str(project / "data" / "osv.sqlite3") in capsys.readouterr().out


def test_update_time_bound_stops_a_trickling_download(osv_server: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    code = main(["db", "update", "--ecosystem", "Slow", "--url-base", osv_server,
                 "--database", str(tmp_path / "db.sqlite3"), "--max-seconds", "1"])
    assert code == exitcodes.ERROR
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "not downloaded within --max-seconds 1" in err
    assert not (tmp_path / "db.sqlite3").exists()
