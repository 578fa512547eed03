"""Issue 10, "a private key left in the project": no private key inside the project tree by default,
``.secpipe/`` ignored by git from the moment it exists, and the secrets scanner reports a private
key committed anywhere, ``.secpipe/`` included, while passing over secpipe's own databases.

Every key and token here is generated at run time (the repository scans itself)."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from built_secrets import github_token
from secpipe.cli.main import main
from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import (
    default_key_path,
    legacy_key_warning,
    legacy_project_key,
    open_signing_key,
    trusted_public_key,
)
from secpipe.runstore import RunStore

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


PIPELINE = """
pipelines:
  p:
    stages:
      - name: scan
        steps: [{uses: scan-secrets, with: {workers: 1}}]
      - name: gate
        steps: [{uses: gate, with: {fail_on: none}}]
"""


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def _private_pem() -> bytes:
    """A fresh EC P-256 private key in PKCS#8 PEM, as secpipe used to write into the project."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _plant_legacy_key(project: Path) -> Path:
    """What an older secpipe left behind: ``.secpipe/keys/signing.pem`` (0600) and its ``.pub``."""
    pem = _private_pem()
    keys = project / ".secpipe" / "keys"
    keys.mkdir(parents=True, mode=0o700)
    path = keys / "signing.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    public = serialization.load_pem_private_key(pem, None).public_key()
    (keys / "signing.pem.pub").write_bytes(public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


_token = github_token


def _findings(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, str | None]]:
    report = json.loads(capsys.readouterr().out)
    return sorted((f["rule_id"], f["location"]["path"], f["location"].get("commit"))
                  for f in report["findings"])


def test_signing_writes_no_key_into_the_project(project: Path) -> None:
    model = project / "model.bin"
    model.write_bytes(os.urandom(4096))
    assert main(["sign", str(model), "-C", str(project), "-q"]) == 0
    assert not (project / ".secpipe" / "keys").exists()
    key = default_key_path()
    assert key.is_relative_to(Path(os.environ["XDG_CONFIG_HOME"]))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert main(["verify", str(model), "-C", str(project), "-q"]) == 0


@needs_git
def test_git_add_all_after_a_run_commits_nothing_of_the_state_folder(project: Path) -> None:
    (project / "secpipe.yaml").write_text(PIPELINE)
    (project / "app.py").write_text("print('hi')\n")
    _git(project, "init", "-q", "-b", "main")
    assert main(["run", "p", "-C", str(project), "-q"]) == 0
    model = project / "model.bin"
    model.write_bytes(os.urandom(4096))
    assert main(["sign", str(model), "-C", str(project), "-q"]) == 0
    assert (project / ".secpipe" / ".gitignore").read_text().splitlines()[-1] == "*"
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "everything")
    tracked = _git(project, "ls-files").splitlines()
    assert not [p for p in tracked if p.startswith(".secpipe")], tracked
    assert not [p for p in tracked if p.endswith(".pem")], tracked


def test_state_folder_gitignore_is_written_once_and_never_overwritten(project: Path) -> None:
    RunStore(project / ".secpipe" / "runs.db").close()
    ignore = project / ".secpipe" / ".gitignore"
    assert "*" in ignore.read_text().splitlines()
    ignore.write_text("# mine\n*\n!keep.txt\n")
    RunStore(project / ".secpipe" / "runs.db").close()
    assert ignore.read_text() == "# mine\n*\n!keep.txt\n"


def test_secrets_cache_folder_is_ignored_by_git_too(project: Path) -> None:
    (project / "app.py").write_text("print('hi')\n")
    assert main(["scan", "secrets", str(project), "-q"]) == 0
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "secpipe"
    assert (cache / ".gitignore").is_file()


@needs_git
@pytest.mark.parametrize("still_in_tree", [True, False], ids=["in-tree", "deleted"])
def test_history_scan_reports_a_private_key_committed_under_the_state_folder(
        project: Path, capsys: pytest.CaptureFixture[str], still_in_tree: bool) -> None:
    _git(project, "init", "-q", "-b", "main")
    (project / "app.py").write_text("print('hi')\n")
    key = _plant_legacy_key(project)
    # what `git add -A` did before secpipe wrote .secpipe/.gitignore
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "add everything")
    leaked = _git(project, "rev-parse", "HEAD")
    if not still_in_tree:
        _git(project, "rm", "-q", "-r", ".secpipe")
        _git(project, "commit", "-q", "-m", "remove the key")
    args = ["scan", "secrets", str(project), "--history", "--json", "-q", "--no-cache"]
    assert main(args) == 1
    found = _findings(capsys)
    assert found == [("secrets.private-key", ".secpipe/keys/signing.pem",
                      None if still_in_tree else leaked)]
    if still_in_tree:
        assert key.read_bytes().decode() not in json.dumps(found)


def test_secpipes_own_state_is_scanned_but_yields_no_findings(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run store and run outputs under .secpipe/ hold only redacted evidence: a second run
    scans them (binary databases skipped by content) and finds only the planted secret, once.
    The scan cache is the user's, never inside the project (a committed cache could hide
    findings)."""
    (project / "secpipe.yaml").write_text(PIPELINE)
    (project / "app.py").write_text(f"TOKEN = '{_token(random.Random(10))}'\n")
    for _ in range(2):
        assert main(["run", "p", "-C", str(project), "-q"]) == 0
    state = project / ".secpipe"
    assert not (state / "cache").exists() and (state / "runs.db").is_file()
    assert any((Path(os.environ["XDG_CACHE_HOME"]) / "secpipe").glob("secrets-*.sqlite"))
    capsys.readouterr()
    assert main(["scan", "secrets", str(project), "--json", "-q", "--no-cache"]) == 1
    assert _findings(capsys) == [("secrets.github-pat", "app.py", None)]


def test_a_key_left_in_the_project_is_kept_but_no_longer_signs(project: Path) -> None:
    legacy = _plant_legacy_key(project)
    before = legacy.read_bytes()
    resolver = SecretResolver(project)
    assert legacy_project_key(project) == legacy
    warning = legacy_key_warning(project)
    assert warning is not None and str(legacy) in warning and str(default_key_path()) in warning
    # verifying with the default key before any new signature names the old public key
    with pytest.raises(ConfigError) as err:
        trusted_public_key(None, None, project, resolver)
    assert err.value.hint is not None and f"{legacy}.pub" in err.value.hint
    key = open_signing_key(None, project, resolver)
    key.sign(b"x")
    assert default_key_path().is_file()
    assert legacy.read_bytes() == before  # never moved, rewritten or deleted
    old_public = (legacy.parent / "signing.pem.pub").read_bytes()
    assert key.public_pem() != old_public
    assert trusted_public_key(None, f"{legacy}.pub", project, resolver) == old_public


def test_no_warning_without_a_key_in_the_project(project: Path) -> None:
    assert legacy_project_key(project) is None and legacy_key_warning(project) is None
