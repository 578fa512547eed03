"""The one matcher of project paths (sign's ``model``, store's ``paths``): globs, confinement to
the project, symbolic links, the state folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core.errors import InputError
from secpipe.provenance.sign_step import match_project


def _tree(root: Path) -> None:
    for rel in ("model.pkl", "a/b/c.pkl", "a/x.txt", ".hidden/h.pkl", ".secpipe/store/s.pkl"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")


def _rel(root: Path, found: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in found]


def test_double_star_matches_zero_or_more_folders_but_not_dot_or_state_folders(
        project: Path) -> None:
    _tree(project)
    found = match_project(project, "**/*.pkl", "p", (project / ".secpipe",))
    assert _rel(project, found) == ["a/b/c.pkl", "model.pkl"]
    assert _rel(project, match_project(project, ".hidden/*.pkl", "p")) == [".hidden/h.pkl"]
    assert _rel(project, match_project(project, "a/*", "p")) == ["a/b", "a/x.txt"]
    assert match_project(project, "nothing/*.pkl", "p") == []


def test_plain_paths_must_exist_and_stay_out_of_the_state_folder(project: Path) -> None:
    _tree(project)
    assert _rel(project, match_project(project, "./a/x.txt", "p")) == ["a/x.txt"]
    assert _rel(project, match_project(project, str(project / "model.pkl"), "p")) == [
        "model.pkl"]
    with pytest.raises(InputError, match=r"p missing\.pkl does not exist"):
        match_project(project, "missing.pkl", "p")
    with pytest.raises(InputError, match="state folder"):
        match_project(project, ".secpipe/store/s.pkl", "p", (project / ".secpipe",))


def test_nothing_outside_the_project_is_reached(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(b"x")
    (project / "in.pkl").write_bytes(b"x")
    (project / "out.pkl").symlink_to(outside)
    (project / "alias.pkl").symlink_to(project / "in.pkl")
    assert _rel(project, match_project(project, "*.pkl", "p")) == ["alias.pkl", "in.pkl"]
    for pattern, says in (("../outside.pkl", "climbs out"), (str(outside), "outside the project"),
                          ("out.pkl", "leads outside"), ("a/../../x", "climbs out")):
        with pytest.raises(InputError, match=says):
            match_project(project, pattern, "p")


def test_a_symlinked_folder_loop_ends(project: Path) -> None:
    (project / "d").mkdir()
    (project / "d" / "m.pkl").write_bytes(b"x")
    (project / "d" / "loop").symlink_to(project / "d")
    assert _rel(project, match_project(project, "**/*.pkl", "p")) == ["d/m.pkl"]
