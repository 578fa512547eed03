"""``secpipe scan``: derived from the registry (plugins included), options derived from the
settings, and the crash guard (a crashing scanner is exit 2 with one line, never exit 1)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from secpipe.cli.main import build_parser, main
from secpipe.core import exitcodes, registry
from secpipe.core.errors import ConfigError

SRC = Path(__file__).resolve().parents[2] / "src"

PLUGIN = '''
from typing import Literal

from pydantic import Field

from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import Skipped, StepResult
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.scanners.base import NOT_ON_CLI, ScannerSettings, collect_files, metavar


class MarkerSettings(ScannerSettings):
    word: str = "TODO"
    """The marker to report."""
    min_count: int = Field(default=1, ge=1, json_schema_extra=metavar("COUNT"))
    """Report a file holding at least this many markers."""
    weight: float = 1.0
    """A number (checks float options)."""
    strict: bool = False
    """Report markers in comments only."""
    level: Literal["low", "high"] = "low"
    """Severity of a finding."""
    tags: list[str] = Field(default_factory=list)
    """Extra tags (repeatable)."""
    internal: bool = Field(default=True, json_schema_extra=NOT_ON_CLI)
    """Not on the command line."""


class MarkerScanner(StepKind[MarkerSettings]):
    kind = "scan-{name}"
    summary = "{name} markers left in files (a test plugin)"
    Settings = MarkerSettings

    def run(self, ctx: StepContext, settings: MarkerSettings) -> StepResult:
        skipped: list[Skipped] = []
        found = []
        for entry in collect_files(ctx.project_root.resolve(), settings, skipped):
            with open(entry.path, "rb") as fh:
                data = fh.read()
            if b"HOSTILE" in data:  # a parser bug an attacker found
                raise ValueError("unbalanced bracket in " + entry.rel)
            if data.count(settings.word.encode()) >= settings.min_count:
                found.append(Finding.create(
                    rule_id="marker.found", title="marker", scanner=self.kind,
                    severity=Severity(settings.level), location=Location(path=entry.rel),
                    message=f"{{settings.word}} x{{data.count(settings.word.encode())}} "
                            f"strict={{settings.strict}} weight={{settings.weight}} "
                            f"tags={{','.join(settings.tags)}} internal={{settings.internal}}"))
        return StepResult(findings=tuple(found), skipped=tuple(skipped),
                          message=f"{{len(found)}} file(s) with markers")


class PlainSettings(StepSettings):
    paths: list[str] = ["."]


class NotAScanner(StepKind[PlainSettings]):
    kind = "scan-plain"
    summary = "settings that do not derive from ScannerSettings"
    Settings = PlainSettings


class ClashSettings(ScannerSettings):
    quiet: bool = False
    """Clashes with the common --quiet."""


class ClashScanner(StepKind[ClashSettings]):
    kind = "scan-clash"
    summary = "a setting named like a common option"
    Settings = ClashSettings
'''


RAISE_LINE = next(i for i, line in enumerate(PLUGIN.splitlines(), 1) if "raise ValueError" in line)


def _install(site: Path, name: str) -> Path:
    """An installed plugin distribution (``.dist-info`` with entry points) under ``site``."""
    module = f"secpipe_test_{name}"
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(PLUGIN.format(name=name))
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[secpipe.steps]\nscan-{name} = {module}:MarkerScanner\n"
        f"scan-plain = {module}:NotAScanner\nscan-clash = {module}:ClashScanner\n")
    return site


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A plugin scanner installed for this test; its name is unique to the test."""
    name = "mark" + str(abs(hash(request.node.nodeid)) % 10**8)
    monkeypatch.syspath_prepend(str(_install(tmp_path / "site", name)))
    return name


def _scan_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    command = next(a for a in parser._actions if a.dest == "command")
    scan = command.choices["scan"]  # type: ignore[index]
    assert isinstance(scan, argparse.ArgumentParser)
    return scan


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    inner = next(a for a in parser._actions if a.dest == "scanner")
    return set(inner.choices)  # type: ignore[arg-type]


def test_every_scan_kind_of_the_registry_is_a_scan_subcommand(plugin: str) -> None:
    kinds = {k for k in registry.available_kinds() if k.startswith("scan-")}
    assert {"scan-secrets", "scan-models", f"scan-{plugin}", "scan-plain", "scan-clash"} <= kinds
    assert _subcommands(_scan_parser()) == {k.removeprefix("scan-") for k in kinds}
    assert registry.scanner_kinds() == {k.removeprefix("scan-"): k for k in sorted(kinds)}


def test_builtin_scanners_are_listed_without_plugins() -> None:
    assert registry.scanner_kinds(plugins=False) == {
        "code": "scan-code", "deps": "scan-deps", "iac": "scan-iac", "image": "scan-image",
        "models": "scan-models", "secrets": "scan-secrets", "host": "scan-host",
        "ports": "scan-ports", "web": "scan-web"}


def test_plugin_scanner_runs_with_options_derived_from_its_settings(
        plugin: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "a.txt").write_text("TODO TODO\n")
    (project / "b.txt").write_text("TODO\n")
    argv = ["scan", plugin, str(project), "--json", "--min-count", "2", "--weight", "0.5",
            "--strict", "--level", "high", "--tags", "x", "--tags", "y"]
    assert main(argv) == exitcodes.GATE_FAILED
    out = capsys.readouterr().out
    assert '"a.txt"' in out and '"b.txt"' not in out
    assert "strict=True weight=0.5 tags=x,y internal=True" in out
    assert main(["scan", plugin, str(project), "-q", "--word", "FIXME"]) == exitcodes.PASSED


def test_option_values_are_checked_by_the_settings_model(
        plugin: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", plugin, str(project), "--min-count", "0"]) == exitcodes.ERROR
    err = capsys.readouterr().err
    assert "--min-count:" in err and "greater than or equal to 1" in err
    with pytest.raises(SystemExit) as info:  # not an option: argparse's usage error
        main(["scan", plugin, str(project), "--internal"])
    assert info.value.code == exitcodes.ERROR


def test_plugin_crash_is_exit_2_with_one_line_and_traceback_only_with_v(
        plugin: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "evil.txt").write_text("HOSTILE [[[\n")
    assert main(["scan", plugin, str(project), "-q"]) == exitcodes.ERROR
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["secpipe: error: crashed: ValueError: unbalanced bracket in evil.txt "
                     f"at secpipe_test_{plugin}.py:{RAISE_LINE}"]
    assert main(["scan", plugin, str(project), "-q", "-v"]) == exitcodes.ERROR
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "raise ValueError" in err
    assert err.rstrip().splitlines()[-1].startswith("secpipe: error: crashed: ValueError")


def test_a_scan_kind_without_scanner_settings_is_refused(
        plugin: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="ScannerSettings"):
        registry.load_kind("scan-plain")
    assert main(["scan", "plain", str(project)]) == exitcodes.ERROR
    assert "'scan-plain' is named as a scanner" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    out = capsys.readouterr().out
    assert "plain" in out and "cannot be used" in out and plugin in out


def test_a_setting_that_clashes_with_a_common_option_names_the_scanner(
        plugin: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "clash", str(project)]) == exitcodes.ERROR
    err = capsys.readouterr().err
    assert "scanner 'clash': setting 'quiet' clashes with the command's option --quiet" in err
    assert "NOT_ON_CLI" in err
    assert main(["scan", plugin, str(project), "-q"]) == exitcodes.PASSED  # others unaffected


def test_cli_flags_users_type_keep_working() -> None:
    scan = _scan_parser()
    inner = next(a for a in scan._actions if a.dest == "scanner")
    secrets = inner.choices["secrets"].format_help()  # type: ignore[index]
    models = inner.choices["models"].format_help()  # type: ignore[index]
    for flag in ("--history", "--no-cache", "--exclude GLOB", "--max-file-bytes N",
                 "--workers N", "--fail-on", "--format", "--output", "--insecure", "--json",
                 "--quiet", "--verbose"):
        assert flag in secrets, flag
    for flag in ("--allow MODULE.NAME", "--exclude GLOB", "--max-file-bytes N",
                 "--max-archive-depth N", "--max-seconds-per-file SECONDS"):
        assert flag in models, flag
    assert "--run-outputs" not in models  # NOT_ON_CLI: a pipeline matter
    assert "default: 25 MiB" in secrets


def test_scanner_crash_on_hostile_input_to_a_builtin_scanner_is_exit_2(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # an engine bug an attacker's file could trigger: the reader raises something unforeseen
    from secpipe.scanners.models import engine
    from secpipe.scanners.models.pickle_vm import Buf

    real = engine.sniff

    def sniff(buf: Buf) -> str | None:
        if bytes(buf[:7]) == b"HOSTILE":
            raise RecursionError("maximum recursion depth exceeded")
        return real(buf)

    monkeypatch.setattr(engine, "sniff", sniff)
    (project / "ok.bin").write_bytes(b"plain data")
    (project / "evil.bin").write_bytes(b"HOSTILE" + b"(" * 100)
    assert main(["scan", "models", str(project), "-q"]) == exitcodes.ERROR
    err = capsys.readouterr().err
    assert err.startswith("secpipe: error: crashed: RecursionError: maximum recursion depth")
    assert "Traceback" not in err


def test_unexpected_error_outside_a_step_is_an_internal_error_exit_2(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from secpipe.cli import scan_cmd

    def boom(given: list[str]) -> tuple[Path, list[str]]:
        raise KeyError("surprise")

    monkeypatch.setattr(scan_cmd, "_local_paths", boom)
    assert main(["scan", "secrets", str(project)]) == exitcodes.ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("secpipe: error: internal error: KeyError")
    assert "-v shows the traceback" in err
    assert main(["scan", "secrets", str(project), "-v"]) == exitcodes.ERROR
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def _run(args: list[str], env_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([str(env_path)] if env_path else []))
    return subprocess.run([sys.executable, "-m", "secpipe", *args], env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_plugin_scanner_appears_in_scan_help_and_runs_in_a_real_process(
        tmp_path: Path, project: Path) -> None:
    site = _install(tmp_path / "site", "fixme")
    helped = _run(["scan", "--help"], site)
    assert helped.returncode == 0, helped.stderr
    assert "fixme markers left in files" in helped.stdout
    assert "secrets" in helped.stdout and "models" in helped.stdout
    (project / "x.py").write_text("# TODO\n")
    ran = _run(["scan", "fixme", str(project / "x.py"), "-q"], site)
    assert ran.returncode == exitcodes.GATE_FAILED, ran.stderr
    assert "marker.found" in ran.stdout
    (project / "y.py").write_text("HOSTILE\n")
    crashed = _run(["scan", "fixme", str(project), "-q"], site)
    assert crashed.returncode == exitcodes.ERROR
    assert crashed.stderr.strip().splitlines() == [
        "secpipe: error: crashed: ValueError: unbalanced bracket in y.py "
        f"at secpipe_test_fixme.py:{RAISE_LINE}"]


def test_a_one_file_secrets_scan_imports_only_the_secrets_scanner(project: Path) -> None:
    (project / "a.py").write_text("print('hi')\n")
    code = textwrap.dedent(f"""
        import sys
        from secpipe.cli.main import main
        rc = main(["scan", "secrets", {str(project / "a.py")!r}, "-q"])
        loaded = sorted(m for m in sys.modules if m.startswith("secpipe."))
        print(rc, " ".join(loaded))
    """)
    env = dict(os.environ, PYTHONPATH=str(SRC))
    out = subprocess.run([sys.executable, "-c", code], env=env, text=True, capture_output=True,
                         timeout=120, check=True).stdout.split("\n")[-2].split()
    assert out[0] == "0"
    loaded = set(out[1:])
    assert "secpipe.scanners.secrets.step" in loaded
    assert not {m for m in loaded if m.startswith("secpipe.scanners.models")}
    assert not {m for m in loaded if m.startswith(("secpipe.ml", "secpipe.provenance",
                                                    "secpipe.stores", "secpipe.policy.gate",
                                                    "secpipe.scanners.secrets.history"))}
