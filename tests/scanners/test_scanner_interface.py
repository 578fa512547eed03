"""The scanner interface: one settings base, one budget vocabulary, one walker, one meaning of
``exclude`` in every scanner (hostile samples built here, only ever scanned)."""

from __future__ import annotations

import binascii
import os
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secpipe.core import registry
from secpipe.core.errors import ConfigError, InputError
from secpipe.core.findings import Severity
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.pipeline.validation import validate_settings
from secpipe.scanners.base import RENAMED_KEYS, ArchiveScannerSettings, ScannerSettings
from secpipe.scanners.walk import DEFAULT_EXCLUDES, Excluder, collect, unreadable

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
SHARED = {"paths", "exclude", "default_excludes", "max_file_bytes"}
ARCHIVES = {"max_archive_depth", "max_archive_members", "max_archive_bytes"}


def _github_token() -> str:
    rng = random.Random(7)
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    value, check = binascii.crc32(body.encode()), ""
    while value:
        value, digit = divmod(value, 62)
        check = B62[digit] + check
    return "ghp_" + body + check.rjust(6, "0")


def _os_system_pickle() -> bytes:
    """``os.system('id')`` as pickle opcodes (never loaded; the model scanner flags it)."""
    return b"\x80\x02cos\nsystem\n(\x8c\x02idtR."


#: kind -> (write a file the scanner reports, is a finding of the planted kind)
PLANTS: dict[str, tuple[Callable[[Path], object], Callable[[str], bool]]] = {
    "scan-secrets": (lambda p: p.write_text(f"TOKEN = '{_github_token()}'\n"),
                     lambda rule: rule == "secrets.github-pat"),
    "scan-models": (lambda p: p.write_bytes(_os_system_pickle()),
                    lambda rule: rule == "models.pickle.dangerous-callable"),
}


def _scan(kind_name: str, root: Path, **settings: Any) -> StepResult:
    kind = registry.load_kind(kind_name)
    ctx = StepContext(project_root=root, workdir=root.parent / "work")
    return kind().run(ctx, kind.Settings.model_validate(settings))


def _found(kind_name: str, result: StepResult) -> set[str]:
    planted = PLANTS[kind_name][1]
    return {f.location.path for f in result.findings if planted(f.rule_id)}


def test_every_scanner_kind_derives_its_settings_from_the_base() -> None:
    for name, kind_name in registry.scanner_kinds(plugins=False).items():
        settings = registry.load_kind(kind_name).Settings
        assert issubclass(settings, ScannerSettings), name
        assert set(settings.model_fields) >= SHARED, name
        if name in ("models", "secrets"):  # these two read inside archives
            assert issubclass(settings, ArchiveScannerSettings), name
            assert set(settings.model_fields) >= SHARED | ARCHIVES, name
        for field in settings.model_fields.values():
            assert field.description, f"{name}: every setting documents itself for --help"


def test_old_budget_names_are_refused_naming_the_new_ones() -> None:
    models = registry.load_kind("scan-models")
    for old, new in RENAMED_KEYS.items():
        with pytest.raises(ConfigError) as info:
            validate_settings(models, {old: 3}, "pipelines.p.steps[0]")
        assert f"unknown key {old!r} (renamed {new!r})" in info.value.message
        assert new in models.Settings.model_fields
    with pytest.raises(ConfigError, match="unknown key"):
        validate_settings(models, {"max_dept": 3}, "x")


@pytest.fixture(params=sorted(PLANTS))
def kind_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _tree(root: Path, kind_name: str) -> None:
    plant = PLANTS[kind_name][0]
    for rel in ("src/app.bin", ".venv/lib/x.bin", "node_modules/m/x.bin", "fixtures/f.bin",
                "a/venv/deep.bin", "data.bin"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        plant(root / rel)


def test_exclude_adds_to_the_defaults_in_every_scanner(project: Path, kind_name: str) -> None:
    _tree(project, kind_name)
    everything = {"src/app.bin", ".venv/lib/x.bin", "node_modules/m/x.bin", "fixtures/f.bin",
                  "a/venv/deep.bin", "data.bin"}
    default = everything - {".venv/lib/x.bin", "node_modules/m/x.bin", "a/venv/deep.bin"}
    assert _found(kind_name, _scan(kind_name, project)) == default
    assert _found(kind_name, _scan(kind_name, project, exclude=["fixtures/", "data.bin"])) == {
        "src/app.bin"}
    assert _found(kind_name, _scan(kind_name, project, default_excludes=False)) == everything
    assert _found(kind_name, _scan(kind_name, project, default_excludes=False,
                                   exclude=["node_modules/"])) == everything - {
        "node_modules/m/x.bin"}


def test_a_file_named_explicitly_is_scanned_even_when_excluded(project: Path,
                                                                kind_name: str) -> None:
    _tree(project, kind_name)
    result = _scan(kind_name, project, paths=[".venv/lib/x.bin", "src"], exclude=["*.bin"])
    assert _found(kind_name, result) == {".venv/lib/x.bin"}


def test_links_and_special_files_are_reported_never_followed(project: Path, tmp_path: Path,
                                                             kind_name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    PLANTS[kind_name][0](outside / "secret.bin")
    (project / "link").symlink_to(outside, target_is_directory=True)
    (project / "file-link.bin").symlink_to(outside / "secret.bin")
    os.mkfifo(project / "pipe")
    result = _scan(kind_name, project)
    assert result.status is StepStatus.PASSED and _found(kind_name, result) == set()
    assert {(s.path, s.reason) for s in result.skipped} >= {
        ("link", "symbolic link (not followed)"),
        ("file-link.bin", "symbolic link (not followed)"),
        ("pipe", "not a regular file")}


def test_a_missing_path_is_an_input_error_naming_it(project: Path, kind_name: str) -> None:
    with pytest.raises(InputError, match=r"nope\.bin: no such file or folder"):
        _scan(kind_name, project, paths=["nope.bin"])


def test_an_unreadable_folder_is_reported(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "locked").mkdir()
    (project / "open").mkdir()
    (project / "open" / "a.txt").write_text("a")
    real = os.scandir

    def scandir(path: str) -> Any:  # what a folder without read permission does (even as root)
        if path.endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    skipped: list[Skipped] = []
    files = collect(project, ["."], (), skipped)
    assert [f.rel for f in files] == ["open/a.txt"]
    assert [(s.path, s.reason) for s in skipped] == [("locked", "unreadable: Permission denied")]
    assert unreadable(skipped) == skipped
    with pytest.raises(InputError, match=r"^locked: unreadable: Permission denied$"):
        collect(project, ["locked"], (), [])  # named explicitly: the scan cannot start


def test_an_unreadable_folder_met_while_walking_fails_every_scanner(
        project: Path, kind_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "locked").mkdir()
    (project / "ok.txt").write_text("fine\n")
    (project / "link.txt").symlink_to(project / "ok.txt")
    real = os.scandir

    def scandir(path: str) -> Any:  # as a folder without read permission does (even as root)
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = _scan(kind_name, project)
    found = [(f.rule_id, f.location.path, f.severity) for f in result.findings]
    rule = kind_name.removeprefix("scan-") + ".unreadable"
    assert found == [(rule, "locked", Severity.HIGH)]  # high: the default policy fails on it
    assert result.status is StepStatus.PASSED  # found by walking: a finding, not an error
    assert ("link.txt", "symbolic link (not followed)") in {(s.path, s.reason)
                                                           for s in result.skipped}
    with pytest.raises(InputError, match="locked: unreadable: Permission denied"):
        _scan(kind_name, project, paths=["locked"])


@pytest.mark.parametrize(("pattern", "rel", "is_dir", "excluded"), [
    ("node_modules/", "a/node_modules", True, True),  # NAME/ : a folder at any depth
    ("node_modules/", "node_modules", False, False),  # ... never a file
    ("docs/build/", "docs/build", True, True),  # a folder path
    ("docs/build/", "x/docs/build", True, False),
    ("venv", "a/b/venv", True, True),  # no slash: a name at any depth, folder ...
    ("*.min.js", "static/app.min.js", False, True),  # ... or file
    ("fixtures/**", "fixtures", True, True),  # a path glob matches the folder itself
    ("src/*.py", "src/a/b.py", False, True),  # * also matches /
    ("src/*.py", "lib/src/a.py", False, False),  # a path glob is anchored at the root
])
def test_exclude_glob_rules(pattern: str, rel: str, is_dir: bool, excluded: bool) -> None:
    ex = Excluder([pattern])
    name = rel.rsplit("/", 1)[-1]
    got = ex.dir_excluded(rel, name) if is_dir else ex.file_excluded(rel, name)
    assert got is excluded


def test_default_excludes_cover_both_former_lists() -> None:
    names = {p.rstrip("/") for p in DEFAULT_EXCLUDES}
    assert {".git", ".hg", ".svn", ".secpipe", ".venv", "venv", "node_modules", "__pycache__",
            ".tox", ".nox", ".mypy_cache", ".ruff_cache", ".pytest_cache"} <= names
    assert all(p.endswith("/") for p in DEFAULT_EXCLUDES)


def test_model_scan_reads_the_run_folder_from_the_context(project: Path, tmp_path: Path) -> None:
    models = registry.load_kind("scan-models")
    state = tmp_path / "state"  # a state folder outside the project (secpipe.yaml state_dir)
    (state / "runs" / "r1" / "train").mkdir(parents=True)
    (state / "runs" / "r1" / "train" / "model.pkl").write_bytes(_os_system_pickle())
    own = state / "runs" / "r1" / "models"
    own.mkdir()
    (own / "mine.pkl").write_bytes(_os_system_pickle())  # this step's own outputs: not scanned
    ctx = StepContext(project_root=project, workdir=own, run_id="r1", state_dir=state)
    result = models().run(ctx, models.Settings())
    assert _found("scan-models", result) == {(state / "runs/r1/train/model.pkl").as_posix()}
    other = StepContext(project_root=project, workdir=own, run_id="r2", state_dir=state)
    assert models().run(other, models.Settings()).findings == ()


def test_explicit_file_over_the_size_budget_is_an_error_in_every_scanner(
        project: Path, kind_name: str) -> None:
    PLANTS[kind_name][0](project / "big.bin")
    (project / "big.bin").write_bytes((project / "big.bin").read_bytes() + b"\n" * 4096)
    named = _scan(kind_name, project, paths=["big.bin"], max_file_bytes=100)
    assert named.status is StepStatus.ERROR and named.message.startswith("big.bin: too large")
    walked = _scan(kind_name, project, max_file_bytes=100)
    assert walked.status is StepStatus.PASSED  # found by walking: reported, not an error
    assert any(s.path == "big.bin" and "too large" in s.reason for s in walked.skipped)
    assert any(f.rule_id.endswith(".scan-incomplete") and f.location.path == "big.bin"
               for f in walked.findings)  # a budget hit is a finding, never a silent pass
