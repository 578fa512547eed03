"""What the plain path of ``secpipe scan models`` records cannot drift from what it stands for.

The recorded option table (:mod:`secpipe.core.scan_options`) is derived again from the scanner's
pydantic settings and compared; the plain values built from options are compared with the
model's validated values; the plain crash guard with the pipeline's ``run_guarded`` on the same
failures; the project files that send a scan down the model's path with the names the
configuration loader reads.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from secpipe.cli import scan_cmd
from secpipe.cli.main import build_parser, main
from secpipe.core.errors import InputError
from secpipe.core.guard import guarded
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.scan_options import RECORDED, OptionSpec, within
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.pipeline.config import CONFIG_NAMES, SUPPRESSIONS_FILE
from secpipe.pipeline.execute import run_guarded
from secpipe.scanners.models.engine import ModelScanOptions
from secpipe.scanners.models.step import ModelScanSettings, ModelScanStep
from secpipe.scanners.options import derived_tables, plain_values, settings_from_args


def test_the_recorded_tables_are_what_the_models_give() -> None:
    assert derived_tables() == RECORDED
    assert RECORDED["models"].plain  # ModelScanSettings has no validator of its own
    script = [sys.executable, "-m", "secpipe.scanners.options", "--check"]
    assert subprocess.run(script, check=False).returncode == 0


def test_a_changed_field_would_be_seen() -> None:
    """The comparison above is sensitive to a field's bounds, help and default."""
    table = RECORDED["models"]
    depth = table.option("max_archive_depth")
    assert depth is not None and depth.bounds == (("ge", 1), ("le", 32))
    changed = table._replace(options=tuple(
        o._replace(bounds=(("ge", 0),)) if o.name == "max_archive_depth" else o
        for o in table.options))
    assert changed != derived_tables()["models"]


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(["scan", "models", "--help"])
    return capsys.readouterr().out


def test_the_parser_from_the_record_is_the_models(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``scan models --help`` built from the record equals the one derived from the model."""
    monkeypatch.setenv("COLUMNS", "100")
    recorded = _help(capsys)
    monkeypatch.setattr(scan_cmd, "RECORDED", {})  # the scanner's model is read instead
    assert _help(capsys) == recorded
    assert "--max-archive-depth N" in recorded


@pytest.mark.parametrize("argv", [
    [],
    ["--exclude", "a/", "--exclude", "*.bin", "--no-default-excludes"],
    ["--allow", "x.y", "--allow", "z.w", "--max-file-bytes", "0", "--max-archive-depth", "32"],
    ["--max-archive-members", "1", "--max-archive-bytes", "7", "--max-member-bytes", "3",
     "--max-seconds-per-file", "0.5", "--default-excludes"],
])
def test_plain_values_are_the_models_values(argv: list[str]) -> None:
    args = build_parser("scan", ["models"]).parse_args(["scan", "models", "f.pkl", *argv])
    values = plain_values(RECORDED["models"], args, ["f.pkl"])
    assert values is not None
    settings = settings_from_args(ModelScanSettings, args, ["f.pkl"], "scan models")
    assert values == settings.model_dump()
    assert ModelScanOptions.from_values(values) == settings.plain()


@pytest.mark.parametrize(("option", "value"), [
    ("--max-archive-depth", "0"), ("--max-archive-depth", "33"), ("--max-file-bytes", "-1"),
    ("--max-archive-members", "0"), ("--max-seconds-per-file", "0"),
    ("--max-seconds-per-file", "nan"),
])
def test_a_value_the_model_refuses_is_left_to_the_model(option: str, value: str) -> None:
    args = build_parser("scan", ["models"]).parse_args(["scan", "models", "f", option, value])
    assert plain_values(RECORDED["models"], args, ["f"]) is None
    with pytest.raises(InputError, match=option):
        settings_from_args(ModelScanSettings, args, ["f"], "scan models")


def test_bounds_are_checked_as_the_model_does() -> None:
    spec = OptionSpec("n", "int", "", bounds=(("gt", 0), ("le", 3)))
    assert [within(spec, v) for v in (0, 1, 3, 4)] == [False, True, True, False]
    assert not within(spec._replace(checked=False), 1)  # a constraint the record cannot check


def test_the_project_files_are_the_configuration_loaders() -> None:
    assert set(scan_cmd.PROJECT_FILES) == {*CONFIG_NAMES, SUPPRESSIONS_FILE}


class _Raises(StepKind[StepSettings]):
    kind = "raises"
    error: ClassVar[type[Exception]] = ValueError

    def run(self, ctx: StepContext, settings: StepSettings) -> StepResult:
        raise self.error("bad\nvalue")


class _NoResult(StepKind[StepSettings]):
    kind = "no-result"

    def run(self, ctx: StepContext, settings: StepSettings) -> StepResult:
        return "passed"  # type: ignore[return-value]


class _Secret:
    def redact(self, text: str) -> str:
        return text.replace("value", "*****")

    def resolve(self, value: str, what: str = "setting") -> str:
        return value

    def resolve_optional(self, value: str | None, what: str = "setting") -> str | None:
        return value

    def resolve_all(self, value: Any, what: str = "settings", _depth: int = 0) -> Any:
        return value


@pytest.mark.parametrize("kind", [_Raises, _NoResult])
@pytest.mark.parametrize("error", [ValueError, InputError])
@pytest.mark.parametrize("debug", [False, True])
def test_the_plain_guard_is_the_pipelines(tmp_path: Path, kind: type[StepKind[Any]],
                                          error: type[Exception], debug: bool) -> None:
    _Raises.error = error
    results = []
    for run in (lambda ctx: run_guarded(kind, ctx, StepSettings()),
                lambda ctx: guarded(ctx, lambda: kind().run(ctx, StepSettings()), kind.kind)):
        logged: list[str] = []
        ctx = StepContext(project_root=tmp_path, workdir=tmp_path / "w", debug=debug,
                          secrets=_Secret(), log=logged.append, cancel=threading.Event())
        result = run(ctx)
        # the traceback's frames differ (two callers); its first line and the error's do not
        results.append((result, [line for line in logged if not line.startswith(" ")]))
    assert results[0] == results[1]
    result = results[0][0]
    assert result.status is StepStatus.ERROR
    assert "value" not in result.message  # redacted
    if kind is _Raises and error is ValueError:
        assert result.message.startswith("crashed: ValueError: bad *****")


def test_the_steps_run_is_the_engines(tmp_path: Path) -> None:
    """The step converts its settings and runs the same function the plain path runs."""
    (tmp_path / "m.pkl").write_bytes(b"\x80\x04K\x01.")
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path / ".w")
    settings = ModelScanSettings(paths=["m.pkl"])
    result = ModelScanStep().run(ctx, settings)
    assert result.status is StepStatus.PASSED
    assert result.metrics["models_found"] == 1.0


def _pb(field: int, value: bytes | int) -> bytes:
    """One protobuf field: a varint, or length-delimited bytes (lengths below 128)."""
    if isinstance(value, int):
        out, tag = b"", field << 3
        while True:
            out, value = out + bytes([(value & 0x7F) | (0x80 if value > 0x7F else 0)]), value >> 7
            if not value:
                return bytes([tag]) + out
    return bytes([field << 3 | 2, len(value)]) + value


def test_the_engine_skips_only_what_the_protobuf_reader_refuses() -> None:
    """The engine imports the leftover-protobuf reader only for the first bytes it reads."""
    from secpipe.scanners.models.engine import PROTOBUF_FIRST_BYTES
    from secpipe.scanners.models.report import Collector, Where
    from secpipe.scanners.models.savedmodel import scan_other_protobuf

    fingerprint = _pb(1, 123456789) + _pb(2, 42) + _pb(6, _pb(1, 1))
    graph = _pb(1, _pb(1, b"w") + _pb(2, b"WriteFile")) + _pb(4, _pb(1, 1808))
    for message in (fingerprint, graph):
        assert message[0] in PROTOBUF_FIRST_BYTES
        assert scan_other_protobuf(message, Where("x.pb"), Collector())
        for first in set(range(256)) - PROTOBUF_FIRST_BYTES:
            assert not scan_other_protobuf(bytes([first]) + message[1:], Where("x.pb"),
                                           Collector())


def test_the_engine_skips_only_names_the_config_reader_refuses() -> None:
    from secpipe.scanners.models import configs
    from secpipe.scanners.models.engine import CONFIG_SUFFIXES

    assert all(name.endswith(CONFIG_SUFFIXES) for name in configs._TOP_NAMES)
    for name in ("notes.txt", "config.toml", "hparams.yaml.bak", "CONFIG", "x.jsonl"):
        assert not configs.is_config_name(name, True)
        assert not name.lower().endswith(CONFIG_SUFFIXES)
