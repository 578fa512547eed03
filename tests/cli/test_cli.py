"""The CLI in-process: exit codes, runs, reports, gate re-evaluation, baseline, suppress, init."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import COMMANDS, build_parser, main
from secpipe.core import registry
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepResult
from secpipe.core.step import StepContext, StepKind, StepSettings


class _S(StepSettings):
    n: int = 1
    accuracy: float = 0.9


class PlantStep(StepKind):
    kind = "t-plant"
    Settings = _S

    def run(self, ctx: StepContext, settings: Any) -> StepResult:
        return StepResult(
            findings=tuple(
                Finding.create(rule_id="t.leak", title="leak", severity=Severity.HIGH,
                               scanner=self.kind, location=Location(path=f"f{i}.py", line=3),
                               message="a leak", evidence="hf_A****zz")
                for i in range(settings.n)),
            metrics={"accuracy": settings.accuracy},
        )


PIPELINE = """
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-plant, id: plant}]}
      - {name: gate, steps: [{uses: gate}]}
"""


@pytest.fixture(autouse=True)
def _plant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-plant", (__name__, "PlantStep"))


def _project(project: Path, extra: str = "") -> Path:
    (project / "secpipe.yaml").write_text(extra + PIPELINE)
    return project


def test_every_command_has_a_parser() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]


def test_lazy_help_lines_match_the_modules_own() -> None:
    # only the command being run is imported; the others show COMMANDS' help line, which must be
    # the same as the one their module gives
    full = build_parser().format_help()
    for name in COMMANDS:
        assert build_parser(only=name).format_help() == full, name


def test_run_gate_fails_then_suppression_passes(project: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _project(project)
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    out = json.loads((capsys.readouterr(), main(["runs", "-C", str(project), "--json"]))
                     and capsys.readouterr().out)
    assert out[0]["status"] == "failed" and out[0]["findings"] == {"high": 1}
    assert main(["report", "latest", "-C", str(project), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fingerprint = report["findings"][0]["fingerprint"]
    assert main(["suppress", fingerprint, "--reason", "test fixture", "-C", str(project)]) == 0
    assert main(["gate", "-C", str(project)]) == 0  # re-judged with the suppression
    assert main(["run", "p", "-C", str(project), "-q"]) == 0


def test_suppression_without_reason_is_refused(project: Path) -> None:
    _project(project)
    with pytest.raises(SystemExit) as info:
        main(["suppress", "abc", "-C", str(project)])
    assert info.value.code == 2


def test_expired_suppression_fails_again(project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _project(project, "suppressions: [{rule: t.leak, reason: old, expires: 2020-01-01}]\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    assert "expired on 2020-01-01" in capsys.readouterr().out


def test_baseline_then_only_new_findings_fail(project: Path) -> None:
    _project(project)
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    assert main(["baseline", "-C", str(project)]) == 0
    assert (project / ".secpipe-baseline.json").is_file()
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    cfg = (project / "secpipe.yaml").read_text().replace("{uses: t-plant, id: plant}",
                                                         "{uses: t-plant, id: plant, with: {n: 2}}")
    (project / "secpipe.yaml").write_text(cfg)
    assert main(["run", "p", "-C", str(project), "-q"]) == 1  # f1.py is new


def test_gate_metric_bound_from_cli(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _project(project, "policy: {fail_on: none}\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    capsys.readouterr()
    assert main(["gate", "--metric", "accuracy >= 0.95", "-C", str(project)]) == 1
    assert "metric accuracy = 0.9" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "unknown pipeline 'nope'"),
        (["report", "20990101-000000-beef"], "no run '20990101-000000-beef'"),
        (["gate"], "no runs recorded yet"),
    ],
)
def test_errors_exit_2_with_one_line(project: Path, capsys: pytest.CaptureFixture[str],
                                     argv: list[str], message: str) -> None:
    _project(project)
    assert main([*argv, "-C", str(project), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("secpipe: error:")


def test_malformed_config_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "secpipe.yaml").write_text("pipelines: {p: {stages: [{name: s, steps: "
                                          "[{uses: not-a-kind}]}]}}\n")
    assert main(["run", "p", "-C", str(project)]) == 2
    assert "unknown step kind 'not-a-kind'" in capsys.readouterr().err
    assert main(["runs", "-C", str(project), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # planning failed before a run started


def test_missing_project_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-C", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_init_writes_a_loadable_config_and_refuses_overwrite(project: Path) -> None:
    assert main(["init", "-C", str(project)]) == 0
    from secpipe.pipeline.config import load_project

    cfg = load_project(project).config
    assert cfg.policy.fail_on is not None and "scan-secrets" in cfg.defaults
    assert main(["init", "-C", str(project)]) == 2


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "exit codes" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--fail-on", "severe"], "gate options: fail_on: unknown severity 'severe'"),
        (["--metric", "accuracy is good"], "gate options: metrics: bad metric bound"),
    ],
)
def test_gate_option_errors_name_the_option(project: Path, capsys: pytest.CaptureFixture[str],
                                            option: list[str], message: str) -> None:
    _project(project, "policy: {fail_on: none}\n")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    capsys.readouterr()
    assert main(["gate", *option, "-C", str(project)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
