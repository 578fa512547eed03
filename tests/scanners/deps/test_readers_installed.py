"""Installed environments read from their metadata files, and their site-packages found on disk
without running the interpreter."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from secpipe.scanners.deps.model import PYPI
from secpipe.scanners.deps.readers import read_installed, site_dirs_of


def dist_info(site: Path, name: str, version: str, headers: str = "", requested: bool = False,
              direct_url: dict[str, object] | None = None) -> Path:
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{headers}\n"
        "Long description: the body, which may say License: GPL without meaning it.\n",
        encoding="utf-8")
    (folder / "RECORD").write_text("")
    if requested:
        (folder / "REQUESTED").write_text("")
    if direct_url is not None:
        (folder / "direct_url.json").write_text(json.dumps(direct_url))
    return folder


def venv(root: Path, version: str = "3.11") -> Path:
    site = root / "lib" / f"python{version}" / "site-packages"
    site.mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin" / "python").write_text("not an interpreter: never run\n")
    (root / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {version}.7\n")
    return site


def test_metadata_names_versions_and_licences(tmp_path: Path) -> None:
    site = venv(tmp_path / ".venv")
    dist_info(site, "flask", "3.0.0", "License-Expression: BSD-3-Clause\nLicense: BSD\n",
              requested=True)
    dist_info(site, "numpy", "1.26.4", "License: BSD-3-Clause\n"
              "Classifier: License :: OSI Approved :: BSD License\n")
    dist_info(site, "requests", "2.31.0", "License: UNKNOWN\n"
              "Classifier: Programming Language :: Python\n"
              "Classifier: License :: OSI Approved :: Apache Software License\n")
    dist_info(site, "full-text", "1.0", "License: Copyright (c) 2020 Someone\n"
              "        Permission is hereby granted, free of charge, to any person\n"
              "        obtaining a copy of this software\n")
    dist_info(site, "bare", "0.1")
    egg = site / "legacy_pkg-0.9-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy-pkg\nVersion: 0.9\n"
                                  "License: MIT\n")
    (site / "single_file-2.0-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: single-file\nVersion: 2.0\n")
    (site / "flask").mkdir()  # the package itself is not metadata
    inv = read_installed([site])
    assert inv.problems == []
    deps = {d.name: d for d in inv.dependencies}
    assert set(deps) == {"flask", "numpy", "requests", "full-text", "bare", "legacy-pkg",
                         "single-file"}
    flask = deps["flask"]
    assert (flask.ecosystem, flask.version, flask.spec) == (PYPI, "3.0.0", "==3.0.0")
    assert flask.licence == "BSD-3-Clause"  # License-Expression wins
    assert flask.path == site.as_posix() and flask.member == "flask-3.0.0.dist-info"
    assert flask.source == "installed"
    assert deps["numpy"].licence == "BSD-3-Clause"
    assert deps["requests"].licence == "License :: OSI Approved :: Apache Software License"
    assert deps["full-text"].licence == "Copyright (c) 2020 Someone"
    assert deps["bare"].licence is None
    assert deps["legacy-pkg"].licence == "MIT"
    assert deps["single-file"].version == "2.0"
    # REQUESTED markers say which were asked for
    assert flask.direct is True and deps["numpy"].direct is False
    assert inv.manifests == [site.as_posix()]


def test_local_and_vcs_installs_are_not_matchable(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    dist_info(site, "my-project", "0.1.0",
              direct_url={"url": "file:///home/dev/my-project", "dir_info": {"editable": True}})
    dist_info(site, "forked", "2.0.0",
              direct_url={"url": "https://tok:secret@github.com/org/forked.git",
                          "vcs_info": {"vcs": "git", "commit_id": "abc"}})
    dist_info(site, "wheel-file", "1.0.0",
              direct_url={"url": "https://files.example.com/wheel_file-1.0.0-py3-none-any.whl",
                          "archive_info": {"hash": "sha256=00"}})
    deps = {d.name: d for d in read_installed([site]).dependencies}
    assert deps["my-project"].version is None
    assert deps["my-project"].spec.startswith("editable install from local folder")
    assert "not matchable" in deps["forked"].spec and "secret" not in deps["forked"].spec
    assert deps["wheel-file"].version == "1.0.0"
    assert all(d.direct for d in deps.values())  # no REQUESTED markers: undecided, declared


def test_broken_metadata_is_a_problem(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "ghost-1.0.dist-info").mkdir(parents=True)
    (site / "nameless-1.0.dist-info").mkdir()
    (site / "nameless-1.0.dist-info" / "METADATA").write_bytes(b"Metadata-Version: 2.1\n")
    (site / "binary-1.0.dist-info").mkdir()
    (site / "binary-1.0.dist-info" / "METADATA").write_bytes(b"\x00\x01\x02")
    (site / "old.egg").write_bytes(b"PK\x03\x04")
    (site / "linked-1.0.dist-info").symlink_to(tmp_path)
    fifo = site / "fifo-1.0.dist-info"
    fifo.mkdir()
    os.mkfifo(fifo / "METADATA")
    inv = read_installed([site, tmp_path / "missing"])
    problems = {p.member: p.reason for p in inv.problems}
    assert "metadata unreadable" in problems["ghost-1.0.dist-info"]
    assert "not a regular file" in problems["fifo-1.0.dist-info"]
    assert "is binary" in problems["binary-1.0.dist-info"]
    assert "zipped egg" in problems["old.egg"]
    assert "not a folder" in problems["linked-1.0.dist-info"]
    # the folder name still gives the name and version when METADATA lacks them
    assert [(d.name, d.version) for d in inv.dependencies] == [("nameless", "1.0")]
    assert any(p.path == (tmp_path / "missing").as_posix() and "cannot list" in p.reason
               for p in inv.problems)


def test_site_dirs_of_venv_interpreter_and_windows_layout(tmp_path: Path) -> None:
    site = venv(tmp_path / "env", "3.12")
    assert site_dirs_of(tmp_path / "env") == [site]
    assert site_dirs_of(tmp_path / "env" / "bin" / "python") == [site]
    assert site_dirs_of(site) == [site]
    win = tmp_path / "winenv"
    (win / "Lib" / "site-packages").mkdir(parents=True)
    (win / "Scripts").mkdir()
    (win / "Scripts" / "python.exe").write_text("")
    assert site_dirs_of(win / "Scripts" / "python.exe") == [win / "Lib" / "site-packages"]
    assert site_dirs_of(tmp_path / "nothing-here") == []


def test_site_dirs_of_a_prefix_and_system_site_packages(tmp_path: Path) -> None:
    base = tmp_path / "usr"
    base_site = base / "lib" / "python3.11" / "site-packages"
    base_site.mkdir(parents=True)
    other = base / "lib" / "python3.10" / "site-packages"
    other.mkdir(parents=True)
    debian = base / "lib" / "python3" / "dist-packages"
    debian.mkdir(parents=True)
    (base / "bin").mkdir()
    (base / "bin" / "python3.11").write_text("")
    # an interpreter named with its version reads only that version's folders
    assert site_dirs_of(base / "bin" / "python3.11") == [base_site, debian]
    env = tmp_path / "env"
    env_site = venv(env)
    (env / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\n"
                                    "include-system-site-packages = true\nversion = 3.11.7\n")
    assert site_dirs_of(env) == [env_site, base_site, debian]


def test_this_interpreter_environment_is_read_without_running_it() -> None:
    dirs = site_dirs_of(Path(sys.prefix))
    if not dirs:
        pytest.skip("this interpreter keeps no site-packages under its prefix")
    inv = read_installed(dirs)
    names = {d.name.lower() for d in inv.dependencies}
    assert "packaging" in names and "pyyaml" in names
