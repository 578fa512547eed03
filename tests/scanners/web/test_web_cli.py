"""``secpipe scan web URL …`` end to end: targets as positional arguments, SARIF properties,
--help, exit codes, no secret in any output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps_h4 import Served, echo_headers_app, free_port, other_app, serve, site_app

from secpipe.cli.main import main

TOKEN = "tk" + "_cli_5e4d3c2b1a09"


@pytest.fixture(scope="module")
def site() -> Iterator[Served]:
    with serve(other_app()) as other, serve(site_app(other.url)) as served:
        yield served


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["scan", "web", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option in ("URL [URL ...]", "--max-requests", "--max-seconds", "--max-pages",
                   "--allow-hosts", "--exclude-urls", "--probes", "--no-active",
                   "--no-time-based", "--concurrency", "--request-timeout"):
        assert option in out, option
    assert "--max-file-bytes" not in out and "--insecure" not in out


def test_a_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["scan", "web"])
    assert stop.value.code == 2


def test_sarif_report_has_the_properties(site: Served, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "x.sarif"
    code = main(["scan", "web", site.url + "/", "-q", "-f", "sarif", "-o", str(out),
                 "--max-requests", "400"])
    assert code == 1  # findings at low or worse
    doc = json.loads(out.read_text())
    results = doc["runs"][0]["results"]
    assert results
    for result in results:
        assert result["ruleId"].startswith("web.")
        details = result["properties"]["details"]
        assert set(details) >= {"kind", "route", "method", "param", "url", "replay"}
        assert result["ruleId"] == "web." + details["kind"]


def test_an_unreachable_only_target_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["scan", "web", f"http://127.0.0.1:{free_port()}/", "-q"])
    assert code == 2
    assert "no target answered" in capsys.readouterr().err


def test_an_out_of_scope_target_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "web", "http://8.8.8.8/", "-q"]) == 2
    assert "allow_hosts" in capsys.readouterr().err


def test_the_auth_token_never_reaches_any_output_or_run_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``auth`` is a secpipe.yaml setting: a pipeline run with the token from ${env:…} sends it,
    and neither the console, the report nor anything under .secpipe/ holds it."""
    app = echo_headers_app()
    app.config["EXPECTED"]["auth"] = f"Bearer {TOKEN}"
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("WEB_TOKEN", TOKEN)
    with serve(app) as served:
        (project / "secpipe.yaml").write_text(
            "pipelines:\n  web:\n    stages:\n      - name: dast\n        steps:\n"
            "          - uses: scan-web\n            with:\n"
            f"              targets: [{served.url}/]\n"
            "              max_requests: 300\n"
            "              auth: {header: {name: Authorization, "
            "value: 'Bearer ${env:WEB_TOKEN}'}}\n", encoding="utf-8")
        code = main(["run", "web", "-C", str(project), "-v", "--json"])
        assert code in (0, 1)
        assert "GET /secret?id=1" in served.hits
        assert all(h.get("Authorization") == f"Bearer {TOKEN}" for h in served.headers)
        report = tmp_path / "r.json"
        assert main(["report", "latest", "-C", str(project), "-f", "json", "-o",
                     str(report)]) == 0
    captured = capsys.readouterr()
    assert "web.missing-header" in captured.out
    assert TOKEN not in captured.out + captured.err + report.read_text()
    for path in (project / ".secpipe").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(("scanner", "usage"), [("ports", "TARGET [TARGET ...]"),
                                                ("host", "[TARGET ...]")])
def test_target_scanners_take_positional_targets(scanner: str, usage: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["scan", scanner, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert usage in out and "PATH [PATH" not in out and "--targets" not in out
