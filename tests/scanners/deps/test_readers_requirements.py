"""Requirements files read as pip reads them: comments, continuations, includes, hashes,
markers, extras, pins and ranges, URLs and paths, option lines, bad lines."""

from __future__ import annotations

from pathlib import Path

from secpipe.scanners.deps.model import PYPI, Dependency, Inventory
from secpipe.scanners.deps.readers import read_manifest


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read(root: Path, rel: str, text: str | bytes, max_bytes: int = 1 << 20) -> Inventory:
    return read_manifest(write(root, rel, text), rel, max_bytes)


def by_name(inv: Inventory) -> dict[str, Dependency]:
    return {d.name: d for d in inv.dependencies}


REAL_WORLD = """\
# Production dependencies of the request classifier
--index-url https://pypi.org/simple
--extra-index-url https://download.pytorch.org/whl/cpu
--trusted-host download.pytorch.org

flask==3.0.0            # web front
scikit-learn>=1.4,<1.6
numpy==1.26.4 ; python_version >= "3.9"
requests[socks,security]==2.31.0
torch===2.1.0+cpu
pandas~=2.1.0
jinja2
Werkzeug == 2.3.7
urllib3 \\
    ==1.26.18
PyYAML (>=6.0)
"""


def test_pins_ranges_markers_extras_and_comments(tmp_path: Path) -> None:
    inv = read(tmp_path, "requirements.txt", REAL_WORLD)
    assert inv.problems == []
    assert inv.manifests == ["requirements.txt"]
    deps = by_name(inv)
    assert set(deps) == {"flask", "scikit-learn", "numpy", "requests", "torch", "pandas",
                         "jinja2", "Werkzeug", "urllib3", "PyYAML"}
    assert deps["flask"].version == "3.0.0"
    assert deps["flask"].spec == "==3.0.0"
    assert deps["flask"].line == 6
    assert deps["flask"].ecosystem == PYPI and deps["flask"].source == "requirements"
    assert deps["scikit-learn"].version is None
    assert deps["scikit-learn"].spec == ">=1.4,<1.6"
    # the marker is kept in the spec, the pin still counts
    assert deps["numpy"].version == "1.26.4"
    assert deps["numpy"].spec == '==1.26.4 ; python_version >= "3.9"'
    assert deps["requests"].version == "2.31.0"
    assert deps["requests"].spec.startswith("[socks,security]==2.31.0")
    assert deps["torch"].version == "2.1.0+cpu"  # === arbitrary equality is a pin too
    assert deps["pandas"].version is None  # ~= is a range
    assert deps["jinja2"].version is None and deps["jinja2"].spec == ""
    assert deps["Werkzeug"].version == "2.3.7"  # the name as written
    # a continued line is one requirement, at the line where it starts
    assert deps["urllib3"].version == "1.26.18" and deps["urllib3"].line == 14
    assert deps["PyYAML"].version is None and deps["PyYAML"].spec == "(>=6.0)"
    assert all(d.direct for d in inv.dependencies)


def test_wildcard_equality_is_a_range(tmp_path: Path) -> None:
    deps = by_name(read(tmp_path, "requirements.txt", "django==4.2.*\n"))
    assert deps["django"].version is None
    assert deps["django"].spec == "==4.2.*"


def test_hashes_and_per_requirement_options_are_dropped(tmp_path: Path) -> None:
    text = (
        "certifi==2024.2.2 \\\n"
        "    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f \\\n"
        "    --hash=sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1\n"
        "    # via requests\n"
        "idna==3.6 --hash=sha256:c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f"
        "\n"
        "pkg==1.0 --config-settings=--build-option=--cpu\n"
    )
    inv = read(tmp_path, "requirements.txt", text)
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["certifi"].version == "2024.2.2" and deps["certifi"].spec == "==2024.2.2"
    assert deps["certifi"].line == 1
    assert deps["idna"].version == "3.6" and deps["idna"].line == 5
    assert deps["pkg"].version == "1.0"


def test_includes_follow_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "requirements/base.txt", "flask==3.0.0\n-c ../constraints/pins.txt\n")
    write(tmp_path, "constraints/pins.txt", "urllib3==1.26.18\n")
    inv = read(tmp_path, "requirements/dev.txt",
               "-r base.txt\n--requirement=./lint.txt\npytest==8.0.0\n")
    write(tmp_path, "requirements/lint.txt", "ruff==0.4.0\n")
    inv = read_manifest(tmp_path / "requirements/dev.txt", "requirements/dev.txt", 1 << 20)
    assert inv.problems == []
    assert inv.manifests == ["requirements/dev.txt", "requirements/base.txt",
                             "constraints/pins.txt", "requirements/lint.txt"]
    deps = by_name(inv)
    assert deps["flask"].path == "requirements/base.txt" and deps["flask"].line == 1
    assert deps["pytest"].path == "requirements/dev.txt"
    assert deps["ruff"].path == "requirements/lint.txt"
    # a constraint is a pin, not a declaration
    assert deps["urllib3"].direct is False and deps["urllib3"].source == "constraints"
    assert deps["flask"].direct is True


def test_include_cycle_is_a_problem_and_terminates(tmp_path: Path) -> None:
    write(tmp_path, "b.txt", "-r requirements.txt\nrequests==2.0.0\n")
    inv = read(tmp_path, "requirements.txt", "-r b.txt\nflask==3.0.0\n")
    assert {d.name for d in inv.dependencies} == {"flask", "requests"}
    cycles = [p for p in inv.problems if "cycle" in p.reason]
    assert len(cycles) == 1
    assert cycles[0].path == "b.txt" and cycles[0].line == 1
    assert "requirements.txt -> b.txt -> requirements.txt" in cycles[0].reason


def test_diamond_include_is_read_once_without_problem(tmp_path: Path) -> None:
    write(tmp_path, "common.txt", "numpy==1.26.4\n")
    write(tmp_path, "a.txt", "-r common.txt\n")
    write(tmp_path, "b.txt", "-r common.txt\n")
    inv = read(tmp_path, "requirements.txt", "-r a.txt\n-r b.txt\n")
    assert inv.problems == []
    assert [d.name for d in inv.dependencies] == ["numpy"]


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    for i in range(12):
        write(tmp_path, f"r{i}.txt", f"-r r{i + 1}.txt\npkg{i}==1.0\n")
    write(tmp_path, "r12.txt", "last==1.0\n")
    inv = read(tmp_path, "requirements.txt", "-r r0.txt\n")
    assert any("nested deeper than 8" in p.reason for p in inv.problems)
    names = {d.name for d in inv.dependencies}
    assert "pkg0" in names and "last" not in names


def test_missing_remote_and_escaping_includes_are_problems(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret-internal==1.0\n")
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "link.txt").symlink_to(outside)
    inv = read(root, "requirements.txt",
               "-r missing.txt\n-r https://example.com/reqs.txt\n-r ../outside.txt\n"
               "-r /etc/hosts\n-r sub/link.txt\n")
    reasons = [(p.line, p.reason) for p in inv.problems]
    assert inv.dependencies == []
    assert reasons[0][0] == 1 and "does not exist" in reasons[0][1]
    assert reasons[1][0] == 2 and "remote" in reasons[1][1]
    assert reasons[2][0] == 3 and "outside the scanned root" in reasons[2][1]
    assert reasons[3][0] == 4 and "outside the scanned root" in reasons[3][1]
    assert reasons[4][0] == 5 and "leaving the scanned root" in reasons[4][1]


def test_urls_vcs_and_paths_are_recorded_not_matchable(tmp_path: Path) -> None:
    text = (
        "-e git+https://github.com/org/tool.git@v1.2.0#egg=org-tool\n"
        "-e .\n"
        "./vendor/fastlib-2.0.0-py3-none-any.whl\n"
        "https://files.example.com/pkgs/mylib-0.3.0.tar.gz\n"
        "private @ git+https://ghp_TOKENVALUE123@github.com/org/private.git@main\n"
        "git+https://user:hunter2@git.example.com/team/thing.git\n"
    )
    inv = read(tmp_path, "requirements.txt", text)
    assert inv.problems == []
    deps = inv.dependencies
    assert all(d.version is None and "not matchable" in d.spec for d in deps)
    assert [d.name for d in deps[:4]] == ["org-tool", ".", "fastlib", "mylib"]
    assert deps[0].spec.startswith("editable VCS reference")
    assert deps[1].spec.startswith("editable local path")
    assert deps[2].spec.startswith("local path") and deps[3].spec.startswith("URL")
    assert deps[4].name == "private" and deps[4].spec.startswith("@ git+https://***@github.com")
    # credentials never appear, wherever the URL ends up
    everything = repr(inv)
    assert "ghp_TOKENVALUE123" not in everything and "hunter2" not in everything


def test_bad_lines_are_problems_with_line_numbers(tmp_path: Path) -> None:
    text = "flask==3.0.0\nnumpy==\n--frobnicate\nok-pkg>=1\nbad name here\npkg==1.0 --weird\n"
    inv = read(tmp_path, "requirements.txt", text)
    assert [d.name for d in inv.dependencies] == ["flask", "ok-pkg", "pkg"]
    lines = {p.line: p.reason for p in inv.problems}
    assert set(lines) == {2, 3, 5, 6}
    assert "not a valid requirement" in lines[2]
    assert "unknown option --frobnicate" in lines[3]
    assert "unknown option --weird" in lines[6]


def test_comment_line_ending_in_backslash_does_not_swallow_the_next(tmp_path: Path) -> None:
    inv = read(tmp_path, "requirements.txt", "# a comment \\\nflask==3.0.0\n")
    assert [(d.name, d.line) for d in inv.dependencies] == [("flask", 2)]


def test_pip_compile_via_comments_decide_direct(tmp_path: Path) -> None:
    text = """\
#
# This file is autogenerated by pip-compile with Python 3.11
# by the following command:
#
#    pip-compile requirements.in
#
blinker==1.7.0
    # via flask
click==8.1.7
    # via
    #   -r requirements.in
    #   flask
flask==3.0.0
    # via -r requirements.in
itsdangerous==2.1.2
    # via flask
"""
    deps = by_name(read(tmp_path, "requirements.txt", text))
    assert deps["flask"].direct is True
    assert deps["click"].direct is True
    assert deps["blinker"].direct is False
    assert deps["itsdangerous"].direct is False


def test_pip_tools_input_and_constraints_files(tmp_path: Path) -> None:
    inv = read(tmp_path, "requirements.in", "flask>=3\n-c constraints.txt\n")
    write(tmp_path, "constraints.txt", "werkzeug==3.0.1\n")
    inv = read_manifest(tmp_path / "requirements.in", "requirements.in", 1 << 20)
    deps = by_name(inv)
    assert deps["flask"].direct and deps["werkzeug"].direct is False
    alone = read_manifest(tmp_path / "constraints.txt", "constraints.txt", 1 << 20)
    assert alone.dependencies[0].source == "constraints"
    assert alone.dependencies[0].direct is False
    assert alone.dependencies[0].version == "3.0.1"


def test_windows_line_endings_and_bom(tmp_path: Path) -> None:
    data = "\ufeffflask==3.0.0\r\nnumpy>=1\r\n".encode()
    inv = read(tmp_path, "requirements.txt", data)
    assert inv.problems == []
    assert [(d.name, d.version) for d in inv.dependencies] == [("flask", "3.0.0"),
                                                                ("numpy", None)]
    utf16 = "requests==2.31.0\n".encode("utf-16")
    inv16 = read(tmp_path, "requirements-utf16.txt", utf16)
    assert [(d.name, d.version) for d in inv16.dependencies] == [("requests", "2.31.0")]
