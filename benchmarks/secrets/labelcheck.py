"""Check that labels.json describes the corpus on disk (used by the tests and ``run.py``)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any


def _member_text(archive: Path, member: str) -> str:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member).decode()
    with tarfile.open(archive, "r:*") as tf:
        fh = tf.extractfile(member)
        if fh is None:
            raise AssertionError(f"{archive}!{member} is not a file")
        data: bytes = fh.read()
        return data.decode()


def _git_text(repo: Path, commit: str, rel: str) -> str:
    return subprocess.run(
        ["git", "show", f"{commit}:{rel}"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def label_text(out: Path, label: dict[str, Any]) -> str:
    """The text (file, member or committed file) a label points into."""
    path: Path = out / str(label["root"]) / str(label["path"])
    if label.get("member"):
        return _member_text(path, label["member"])
    if label.get("commits"):
        return _git_text(out / str(label["root"]), str(label["commits"][0]), str(label["path"]))
    return path.read_text(encoding="utf-8")


def secret_at(text: str, label: dict[str, Any]) -> str:
    """The secret as written at the label's line/column, decoded if JSON-escaped."""
    lines = text.split("\n")
    if label["line"] > len(lines):
        raise AssertionError(f"{label['id']}: line {label['line']} past end of file")
    offset = sum(len(ln) + 1 for ln in lines[: label["line"] - 1]) + label["column"] - 1
    written = text[offset : offset + label["length"]]
    if label["written"] == "base64":
        return base64.b64decode(written).decode()
    if label["written"] == "json":
        decoded: str = json.loads('"' + written + '"')
        return decoded
    return written


def check(out: Path) -> list[str]:
    """Every problem found (empty when labels and corpus agree)."""
    doc = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    problems = []
    for label in doc["secrets"]:
        try:
            text = label_text(out, label)
            got = hashlib.sha256(secret_at(text, label).encode()).hexdigest()
            if got != label["sha256"]:
                problems.append(f"{label['id']} {label['path']}:{label['line']}: sha256 mismatch")
        except (OSError, KeyError, AssertionError, subprocess.CalledProcessError) as exc:
            problems.append(f"{label['id']} {label['path']}: {exc}")
    for label in doc["decoys"]:
        try:
            text = label_text(out, label)
            if label["line"] > text.count("\n") + 1:
                problems.append(f"{label['id']} {label['path']}: line past end")
        except (OSError, KeyError, AssertionError, subprocess.CalledProcessError) as exc:
            problems.append(f"{label['id']} {label['path']}: {exc}")
    return problems
