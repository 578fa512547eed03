"""Issue 9, configuration: fail closed and never destroy.

Each test reproduces one defect as it was reported: configuration silently dropped (a duplicated
key, ``defaults:`` under a misspelt kind, a ``secpipe.yaml`` that is a folder, a blank reason)
or a crash instead of a diagnostic (an impossible date, deep nesting, ``-c /dev/zero``, ``-c
FIFO``, ``suppress`` in a read-only project). Every one must now be exit 2 with one line naming
the file (and the line and key when there is one), promptly, and nothing already written lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import main
from secpipe.core import registry
from secpipe.core.errors import ConfigError
from secpipe.core.findings import Finding, Location, Severity
from secpipe.core.results import StepResult
from secpipe.core.safeload import MAX_DEPTH, parse_yaml
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.pipeline.config import load_project
from secpipe.policy.baseline import load_baseline

PROMPT = 20.0
"""Seconds a subprocess gets; a hostile input must end well before (it used to hang)."""


class _LeakSettings(StepSettings):
    n: int = 1


class LeakStep(StepKind[_LeakSettings]):
    kind = "t-leak"
    summary = "plants a high finding"
    Settings = _LeakSettings

    def run(self, ctx: StepContext, settings: _LeakSettings) -> StepResult:
        return StepResult(findings=tuple(
            Finding.create(rule_id="t.leak", title="leak", severity=Severity.HIGH,
                           scanner=self.kind, location=Location(path=f"f{i}.py", line=1),
                           message="a leak")
            for i in range(settings.n)))


@pytest.fixture(autouse=True)
def _leak_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-leak", (__name__, "LeakStep"))


def _cli(project: Path, *argv: str) -> int:
    return main([*argv, "-C", str(project), "-q"])


def _one_line_error(err: str) -> str:
    """The error printed, checked to be one diagnostic line (plus an optional hint line)."""
    lines = err.strip().splitlines()
    assert lines and lines[0].startswith("secpipe: error:"), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert all(line.startswith("  hint:") for line in lines[1:]), err
    return lines[0]


def _secpipe(*argv: str, cwd: Path, user: list[str] | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m secpipe`` in a subprocess, so a hang shows as a timeout, not a stuck test."""
    started = time.monotonic()
    done = subprocess.run([*(user or []), sys.executable, "-m", "secpipe", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=PROMPT,
                          env={**os.environ, **(env or {})}, check=False)
    assert time.monotonic() - started < PROMPT
    return done


# -- configuration silently dropped ---------------------------------------------------------

LEAK_THEN_REDEFINED = """\
pipelines:
  p:
    stages:
      - {name: scan, steps: [{uses: t-leak}]}
      - {name: gate, steps: [{uses: gate}]}
  p:
    stages:
      - {name: gate, steps: [{uses: gate}]}
"""


def test_duplicate_key_dropping_a_scan_step_is_an_error(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # was: the second `p` silently replaced the first, its scan step vanished, the run passed
    (project / "secpipe.yaml").write_text(LEAK_THEN_REDEFINED)
    assert _cli(project, "run", "p") == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "secpipe.yaml: line 6: pipelines.p: duplicate key" in line
    assert "first defined on line 2" in line


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("policy: {fail_on: high}\npolicy: {fail_on: none}\n", "line 2: policy: duplicate"),
        ("policy:\n  fail_on: high\n  max: {}\n  fail_on: none\n",
         "line 4: policy.fail_on: duplicate"),
        ("suppressions:\n  - {rule: a, reason: fine, rule: b}\n",
         "line 2: suppressions[0].rule: duplicate"),
        ("version: 1\n1: a\n? !!int '1'\n: b\n", "line 3: [1]: duplicate"),
    ],
)
def test_duplicate_keys_anywhere_name_both_lines(project: Path, text: str, where: str) -> None:
    (project / "secpipe.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_project(project)
    assert where in info.value.message and "first defined on line" in info.value.message


def test_merge_keys_still_override_without_being_duplicates() -> None:
    doc = parse_yaml(b"base: &b {a: 1, c: 3}\nx: {<<: *b, a: 2}\n", "t.yaml")
    assert doc.data["x"] == {"a": 2, "c": 3}


@pytest.mark.parametrize(
    ("defaults", "expected"),
    [
        ("scan-secretz: {exclude: [fixtures/]}", "defaults.scan-secretz: unknown step kind"),
        ("t-leak: {nn: 2}", "defaults.t-leak.nn: unknown key"),
        ("t-leak: {n: many}", "defaults.t-leak.n: Input should be a valid integer"),
        ("t-leak: [n]", "defaults.t-leak: Input should be a valid dictionary"),
    ],
)
def test_defaults_under_an_unknown_kind_or_key_is_an_error(
        project: Path, capsys: pytest.CaptureFixture[str], defaults: str, expected: str) -> None:
    # was: `defaults:` under a misspelt kind (or key) was ignored and the run used the defaults
    (project / "secpipe.yaml").write_text(f"version: 1\ndefaults:\n  {defaults}\n")
    assert _cli(project, "runs") == 2
    line = _one_line_error(capsys.readouterr().err)
    assert f"secpipe.yaml: line 3: {expected}" in line


def test_unknown_default_kind_lists_the_known_ones(project: Path) -> None:
    (project / "secpipe.yaml").write_text("defaults: {scan-secretz: {}}\n")
    with pytest.raises(ConfigError) as info:
        load_project(project)
    assert info.value.hint is not None and "scan-secrets" in info.value.hint


def test_defaults_may_leave_required_and_cross_field_settings_to_the_steps(
        project: Path) -> None:
    # exec's `command` is required and train's `estimator` needs `data`: each step gives them
    (project / "secpipe.yaml").write_text(
        "defaults:\n  exec: {pass_env: [DOCKER_HOST]}\n  train: {estimator: 'm.py:build'}\n")
    assert set(load_project(project).config.defaults) == {"exec", "train"}


@pytest.mark.parametrize("name", ["secpipe.yaml", ".secpipe-suppressions.yaml"])
def test_a_config_file_that_is_a_folder_is_an_error(
        project: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    # was: a secpipe.yaml folder was skipped and the built-in pipeline ran with the defaults
    (project / name).mkdir()
    assert _cli(project, "runs") == 2
    assert f"{name}: is a directory, not a regular file" in _one_line_error(
        capsys.readouterr().err)


def test_a_dangling_config_symlink_is_an_error(project: Path) -> None:
    (project / "secpipe.yaml").symlink_to(project / "gone.yaml")
    with pytest.raises(ConfigError, match=r"secpipe\.yaml: cannot open"):
        load_project(project)


def test_two_config_files_are_an_error(project: Path) -> None:
    (project / "secpipe.yaml").write_text("policy: {fail_on: low}\n")
    (project / "secpipe.yml").write_text("policy: {fail_on: none}\n")
    with pytest.raises(ConfigError, match=r"secpipe\.yaml and secpipe\.yml both exist"):
        load_project(project)


@pytest.mark.parametrize("reason", ["   ", " \t ", "a b", "  ok  "])
def test_blank_suppression_reason_is_refused(project: Path, reason: str) -> None:
    # was: a reason of spaces passed `min_length=3`
    (project / "secpipe.yaml").write_text(f"suppressions: [{{rule: r, reason: '{reason}'}}]\n")
    with pytest.raises(ConfigError, match=r"line 1: suppressions\[0\]\.reason: .*3 characters"):
        load_project(project)


def test_blank_reason_is_refused_by_suppress(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(project, "suppress", "--rule", "r", "--reason", "    ") == 2
    assert "reason" in _one_line_error(capsys.readouterr().err)
    assert not (project / ".secpipe-suppressions.yaml").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("suppressions: [{rule: ' ', reason: fixture}]\n", "needs a fingerprint, a rule or a path"),
        ("pipelines: {p: {stages: [{name: '  ', steps: [{uses: gate}]}]}}\n",
         "stages[0].name"),
    ],
)
def test_other_blank_required_text_is_refused(project: Path, text: str, expected: str) -> None:
    (project / "secpipe.yaml").write_text(text)
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace(".", r"\.")):
        load_project(project)


def test_a_reason_is_kept_stripped(project: Path) -> None:
    (project / "secpipe.yaml").write_text("suppressions: [{rule: r, reason: '  test data '}]\n")
    assert load_project(project).suppressions[0].reason == "test data"


# -- crashes instead of diagnostics ----------------------------------------------------------

@pytest.mark.parametrize("command", ["runs", "run", "gate", "report", "baseline", "suppress"])
def test_impossible_date_is_a_config_error_for_every_command(
        project: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    # was: PyYAML's timestamp constructor raised ValueError and every command crashed
    (project / "secpipe.yaml").write_text(
        "suppressions:\n  - rule: r\n    reason: fixture\n    expires: 2027-13-01\n")
    argv = [command, "--rule", "x", "--reason", "fixture"] if command == "suppress" else [command]
    assert _cli(project, *argv) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "secpipe.yaml: line 4: suppressions[0].expires: cannot read '2027-13-01' as a date" \
        in line


@pytest.mark.parametrize("shape", ["[", "{a: "])
def test_deep_nesting_is_refused_before_recursion(
        project: Path, capsys: pytest.CaptureFixture[str], shape: str) -> None:
    # was: 5,000 levels recursed until RecursionError
    closing = {"[": "]", "{a: ": "}"}[shape]
    (project / "secpipe.yaml").write_text(shape * 5000 + "1" + closing * 5000 + "\n")
    assert _cli(project, "runs") == 2
    assert f"nested deeper than {MAX_DEPTH} levels" in _one_line_error(capsys.readouterr().err)


def test_nesting_within_the_bound_still_loads() -> None:
    depth = MAX_DEPTH - 1
    assert parse_yaml("[" * depth + "]" * depth, "t.yaml").data is not None


def test_aliases_do_not_deepen_past_the_bound() -> None:
    half = MAX_DEPTH // 2 + 2
    text = f"a: &a {'[' * half}1{']' * half}\nb: {'[' * half}*a{']' * half}\n"
    with pytest.raises(ConfigError, match="nested deeper"):
        parse_yaml(text, "t.yaml")


def test_billion_laughs_is_refused(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]")
    (project / "secpipe.yaml").write_text("\n".join(rows) + "\n")
    started = time.monotonic()
    assert _cli(project, "runs") == 2
    assert time.monotonic() - started < 5
    assert "nodes once aliases are expanded" in _one_line_error(capsys.readouterr().err)


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"line 1: a\[1\]: an alias refers to a node that"):
        parse_yaml("a: &x [1, *x]\n", "t.yaml")


@pytest.mark.parametrize("target", ["missing", "folder", "fifo", "/dev/zero", "/dev/null"])
def test_config_option_on_a_non_regular_file_exits_2_promptly(tmp_path: Path,
                                                              target: str) -> None:
    # was: `-c /dev/zero` read without bound and `-c FIFO` hung
    project = tmp_path / "p"
    project.mkdir()
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    path = target if target.startswith("/") else str(tmp_path / target)
    done = _secpipe("runs", "-C", str(project), "-c", path, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = _one_line_error(done.stderr)
    expected = {"missing": "does not exist", "folder": "is a directory",
                "fifo": "is a named pipe (FIFO)", "/dev/zero": "is a character device",
                "/dev/null": "is a character device"}[target]
    assert expected in line and path in line


def test_baseline_on_a_fifo_is_refused_promptly(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    os.mkfifo(project / "base.json")
    (project / "secpipe.yaml").write_text(
        "policy: {baseline: base.json}\n"
        "pipelines: {p: {stages: [{name: g, steps: [{uses: gate}]}]}}\n")
    done = _secpipe("run", "p", "-C", str(project), "-q", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is a named pipe (FIFO)" in done.stdout + done.stderr


def test_baseline_that_is_a_device_or_deep_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a character device"):
        load_baseline(Path("/dev/zero"))
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_baseline(deep)


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(64 << 30)  # sparse: 64 GiB nobody could read
    with pytest.raises(ConfigError, match="too large"):
        load_project(tmp_path, big)


# -- suppress in a project it cannot write ---------------------------------------------------

EXISTING = "# mine\n- {rule: kept, reason: written before}\n"


@pytest.fixture
def shared_project() -> Iterator[Path]:
    """A project another user can read: outside pytest's private (0700) temporary folder."""
    base = Path(tempfile.mkdtemp(prefix="secpipe-ro-"))
    base.chmod(0o755)
    project = base / "p"
    project.mkdir()
    (project / ".secpipe-suppressions.yaml").write_text(EXISTING)
    (project / ".secpipe-suppressions.yaml").chmod(0o644)
    project.chmod(0o555)
    try:
        yield project
    finally:
        project.chmod(0o755)
        shutil.rmtree(base)


def test_suppress_in_a_read_only_project_is_one_line_and_loses_nothing(
        shared_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # was: a PermissionError traceback; the target must be unwritable for real, so as root
    # the command runs with dropped privileges
    argv = ("suppress", "--rule", "x", "--reason", "fixture data", "-C", str(shared_project))
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make the project unwritable")
        done = _secpipe(*argv, cwd=shared_project.parent,
                        user=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
                        env={"HOME": str(shared_project.parent), "PYTHONDONTWRITEBYTECODE": "1"})
        code, err = done.returncode, done.stderr
    else:
        code, err = main(list(argv)), capsys.readouterr().err
    assert code == 2, err
    line = _one_line_error(err)
    assert "cannot write" in line and ".secpipe-suppressions.yaml" in line
    assert (shared_project / ".secpipe-suppressions.yaml").read_text() == EXISTING
    assert sorted(p.name for p in shared_project.iterdir()) == [".secpipe-suppressions.yaml"]


def test_suppress_failing_to_replace_keeps_the_file_and_no_temporary(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    target = project / ".secpipe-suppressions.yaml"
    target.write_text(EXISTING)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    assert _cli(project, "suppress", "--rule", "x", "--reason", "fixture data") == 2
    assert "No space left on device" in _one_line_error(capsys.readouterr().err)
    assert target.read_text() == EXISTING
    assert sorted(p.name for p in project.iterdir()) == [".secpipe-suppressions.yaml"]


def test_suppress_keeps_earlier_entries_and_the_file_mode(project: Path) -> None:
    target = project / ".secpipe-suppressions.yaml"
    target.write_text(EXISTING)
    target.chmod(0o664)
    assert _cli(project, "suppress", "--rule", "x", "--reason", "fixture data") == 0
    rules = [s.rule for s in load_project(project).suppressions]
    assert rules == ["kept", "x"] and (target.stat().st_mode & 0o777) == 0o664


def test_suppress_refuses_to_grow_the_file_past_the_limit(
        project: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import secpipe.pipeline.config as config

    target = project / ".secpipe-suppressions.yaml"
    target.write_text(EXISTING)
    monkeypatch.setattr(config, "MAX_CONFIG_BYTES", len(EXISTING) + 10)
    assert _cli(project, "suppress", "--rule", "x", "--reason", "fixture data") == 2
    assert "too large" in _one_line_error(capsys.readouterr().err)
    assert target.read_text() == EXISTING
