"""pyproject.toml (PEP 621, PEP 735, Poetry), setup.cfg, Pipfile and the Python lock files."""

from __future__ import annotations

import json
from pathlib import Path

from secpipe.scanners.deps.model import Dependency, Inventory
from secpipe.scanners.deps.readers import read_manifest


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read(root: Path, rel: str, text: str, max_bytes: int = 1 << 20) -> Inventory:
    return read_manifest(write(root, rel, text), rel, max_bytes)


def by_name(inv: Inventory) -> dict[str, Dependency]:
    return {d.name: d for d in inv.dependencies}


PEP621 = """\
[build-system]
requires = ["hatchling>=1.18"]
build-backend = "hatchling.build"

[project]
name = "request-classifier"
version = "0.3.0"
requires-python = ">=3.10"
dependencies = [
    "flask==3.0.0",
    "scikit-learn>=1.4,<1.6",
    'numpy==1.26.4; python_version >= "3.9"',
    "requests[socks]>=2.31",
]

[project.optional-dependencies]
serve = ["gunicorn==21.2.0"]
gpu = ["torch>=2.1"]

[dependency-groups]
test = ["pytest==8.0.0", "hypothesis"]
dev = [{include-group = "test"}, "ruff==0.4.0"]
"""


def test_pep621_and_dependency_groups(tmp_path: Path) -> None:
    inv = read(tmp_path, "pyproject.toml", PEP621)
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["flask"].version == "3.0.0" and deps["flask"].member == "project.dependencies"
    assert deps["flask"].line == 10
    assert deps["scikit-learn"].version is None
    assert deps["numpy"].version == "1.26.4" and deps["numpy"].line == 12
    assert deps["numpy"].spec == '==1.26.4; python_version >= "3.9"'
    assert deps["requests"].spec == "[socks]>=2.31"
    assert deps["gunicorn"].member == "project.optional-dependencies.serve"
    assert deps["gunicorn"].version == "21.2.0"
    assert deps["pytest"].member == "dependency-groups.test"
    assert deps["ruff"].member == "dependency-groups.dev" and deps["ruff"].version == "0.4.0"
    assert deps["hatchling"].member == "build-system.requires"
    assert {d.source for d in inv.dependencies} == {"pyproject.toml"}
    assert all(d.direct for d in inv.dependencies)
    assert len(inv.dependencies) == 10  # the include-group entry is not a package


POETRY = """\
[tool.poetry]
name = "churn-model"
version = "0.1.0"
description = ""
authors = ["Data Team <data@example.com>"]

[tool.poetry.dependencies]
python = "^3.10"
pandas = "^2.1.0"
numpy = "1.26.4"
requests = { version = "~2.31", extras = ["socks"] }
torch = [
    { version = "2.1.0", markers = "sys_platform == 'linux'" },
    { version = "2.0.1", markers = "sys_platform == 'darwin'" },
]
internal-lib = { git = "https://deploy:s3cr3t@git.example.com/ml/internal-lib.git", tag = "v0.4" }
local-utils = { path = "../utils", develop = true }

[tool.poetry.group.dev.dependencies]
pytest = "==8.0.0"
black = "*"

[tool.poetry.dev-dependencies]
mypy = ">=1.8"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""


def test_poetry_tables_groups_and_constraint_forms(tmp_path: Path) -> None:
    inv = read(tmp_path, "pyproject.toml", POETRY)
    assert inv.problems == []
    deps = inv.dependencies
    names = [d.name for d in deps if d.member and d.member.startswith("tool.poetry")]
    assert "python" not in names
    index = by_name(inv)
    assert index["pandas"].spec == "^2.1.0" and index["pandas"].version is None
    assert index["numpy"].version == "1.26.4"  # a bare version is Poetry's exact pin
    assert index["numpy"].line == 10
    assert index["requests"].spec == "[socks]~2.31" and index["requests"].version is None
    torches = [d for d in deps if d.name == "torch"]
    assert [t.version for t in torches] == ["2.1.0", "2.0.1"]
    assert "sys_platform == 'linux'" in torches[0].spec
    assert index["internal-lib"].version is None
    assert "not matchable" in index["internal-lib"].spec
    assert "s3cr3t" not in index["internal-lib"].spec
    assert "tag v0.4" in index["internal-lib"].spec
    assert index["local-utils"].spec.startswith("path ../utils")
    assert index["pytest"].version == "8.0.0"
    assert index["pytest"].member == "tool.poetry.group.dev.dependencies"
    assert index["black"].version is None
    assert index["mypy"].member == "tool.poetry.dev-dependencies"


def test_pyproject_wrong_shapes_and_syntax_errors(tmp_path: Path) -> None:
    bad_shape = read(tmp_path, "a/pyproject.toml",
                     '[project]\nname = "x"\ndependencies = "flask"\n'
                     "[project.optional-dependencies]\nx = [3]\n")
    reasons = [p.reason for p in bad_shape.problems]
    assert any("project.dependencies is not an array" in r for r in reasons)
    assert any("entry is not a requirement string" in r for r in reasons)
    broken = read(tmp_path, "b/pyproject.toml", '[project]\nname = "x"\ndependencies = [\n')
    assert broken.dependencies == []
    assert len(broken.problems) == 1
    assert broken.problems[0].reason.startswith("malformed TOML")
    assert broken.problems[0].line is not None


SETUP_CFG = """\
[metadata]
name = legacy-app
version = 1.0

[options]
packages = find:
install_requires =
    flask==2.2.5
    # old pin, see issue 12
    jinja2>=3.0  # templates
    importlib-metadata; python_version<"3.10"
setup_requires = setuptools_scm==8.0.4

[options.extras_require]
test =
    pytest==7.4.0
"""


def test_setup_cfg_install_requires_and_extras(tmp_path: Path) -> None:
    inv = read(tmp_path, "setup.cfg", SETUP_CFG)
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["flask"].version == "2.2.5" and deps["flask"].line == 8
    assert deps["flask"].member == "options.install_requires"
    assert deps["jinja2"].spec == ">=3.0"
    assert deps["importlib-metadata"].spec == '; python_version<"3.10"'
    assert deps["setuptools_scm"].member == "options.setup_requires"
    assert deps["pytest"].member == "options.extras_require.test"
    assert deps["pytest"].version == "7.4.0"


def test_setup_cfg_syntax_error(tmp_path: Path) -> None:
    inv = read(tmp_path, "setup.cfg", "[options]\ninstall_requires = a\n[options]\n")
    assert inv.dependencies == []
    assert "malformed setup.cfg" in inv.problems[0].reason


PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
flask = "==3.0.0"
requests = {version = ">=2.31", extras = ["socks"]}
gunicorn = "*"
mytool = {git = "https://github.com/org/mytool.git", ref = "v1.0", editable = true}

[dev-packages]
pytest = "==8.0.0"

[requires]
python_version = "3.11"
"""


def test_pipfile_categories_and_forms(tmp_path: Path) -> None:
    inv = read(tmp_path, "Pipfile", PIPFILE)
    assert inv.problems == []
    deps = by_name(inv)
    assert set(deps) == {"flask", "requests", "gunicorn", "mytool", "pytest"}
    assert deps["flask"].version == "3.0.0" and deps["flask"].member == "packages"
    assert deps["flask"].line == 7
    assert deps["requests"].spec == "[socks]>=2.31" and deps["requests"].version is None
    assert deps["gunicorn"].spec == "*"
    assert deps["mytool"].version is None and deps["mytool"].spec.startswith("editable git")
    assert deps["pytest"].member == "dev-packages"


def _pipfile_lock() -> str:
    sha = "sha256:" + "ab" * 32
    return json.dumps({
        "_meta": {"hash": {"sha256": "00" * 32}, "pipfile-spec": 6,
                  "requires": {"python_version": "3.11"},
                  "sources": [{"name": "pypi", "url": "https://pypi.org/simple",
                               "verify_ssl": True}]},
        "default": {
            "flask": {"hashes": [sha], "index": "pypi", "markers": "python_version >= '3.8'",
                      "version": "==3.0.0"},
            "werkzeug": {"hashes": [sha], "index": "pypi", "version": "==3.0.1"},
            "mytool": {"editable": True, "git": "https://github.com/org/mytool.git",
                       "ref": "0123456789abcdef0123456789abcdef01234567"},
        },
        "develop": {"pytest": {"hashes": [sha], "index": "pypi", "version": "==8.0.0"}},
    }, indent=4)


def test_pipfile_lock_with_its_pipfile_decides_direct(tmp_path: Path) -> None:
    write(tmp_path, "Pipfile", PIPFILE)
    text = _pipfile_lock()
    inv = read(tmp_path, "Pipfile.lock", text)
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["flask"].version == "3.0.0" and deps["flask"].direct is True
    assert deps["flask"].spec == "==3.0.0; python_version >= '3.8'"
    assert deps["werkzeug"].direct is False  # not in the Pipfile: pulled in
    assert deps["pytest"].member == "develop" and deps["pytest"].direct is True
    assert deps["mytool"].version is None
    assert deps["flask"].line == text.splitlines().index('        "flask": {') + 1
    assert deps["flask"].source == "Pipfile.lock"


def test_pipfile_lock_alone_counts_everything_direct(tmp_path: Path) -> None:
    inv = read(tmp_path, "Pipfile.lock", _pipfile_lock())
    assert all(d.direct for d in inv.dependencies)


POETRY_LOCK = """\
# This file is automatically @generated by Poetry 1.8.2 and should not be changed by hand.

[[package]]
name = "certifi"
version = "2024.2.2"
description = "Python package for providing Mozilla's CA Bundle."
optional = false
python-versions = ">=3.6"
files = [
    {file = "certifi-2024.2.2-py3-none-any.whl", hash = "@SHA_CERTIFI@"},
]

[[package]]
name = "internal-lib"
version = "0.4.0"
description = ""
optional = false
python-versions = "^3.10"
files = []
develop = false

[package.source]
type = "git"
url = "https://deploy:s3cr3t@git.example.com/ml/internal-lib.git"
reference = "v0.4"
resolved_reference = "9f1c2a3b4d5e6f708192a3b4c5d6e7f809192a3b"

[[package]]
name = "pandas"
version = "2.1.4"
description = "Powerful data structures for data analysis"
optional = false
python-versions = ">=3.9"
files = []

[package.dependencies]
numpy = {version = ">=1.23.2,<2", markers = "python_version == \\"3.11\\""}

[[package]]
name = "numpy"
version = "1.26.4"
description = "Fundamental package for array computing in Python"
optional = false
python-versions = ">=3.9"
files = []

[metadata]
lock-version = "2.0"
python-versions = "^3.10"
content-hash = "5f1c2a3b4d5e6f708192a3b4c5d6e7f809192a3b4c5d6e7f809192a3b4c5d6e7"
""".replace("@SHA_CERTIFI@",
            "sha256:dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1")


def test_poetry_lock_versions_sources_and_direct_from_pyproject(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", POETRY)
    inv = read(tmp_path, "poetry.lock", POETRY_LOCK)
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["certifi"].version == "2024.2.2" and deps["certifi"].line == 4
    assert deps["certifi"].direct is False
    assert deps["pandas"].direct is True and deps["numpy"].direct is True
    assert deps["pandas"].spec == "==2.1.4" and deps["pandas"].source == "poetry.lock"
    git = deps["internal-lib"]
    assert git.version is None and "not matchable" in git.spec and "s3cr3t" not in git.spec
    assert "9f1c2a3b" in git.spec


UV_LOCK = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "anyio"
version = "4.3.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
    { name = "sniffio" },
]
sdist = { url = "@FILES@/anyio-4.3.0.tar.gz", hash = "@SHA_SDIST@", size = 159642 }
wheels = [
    { url = "@FILES@/anyio-4.3.0-py3-none-any.whl", hash = "@SHA_WHEEL@", size = 85584 },
]

[[package]]
name = "idna"
version = "3.6"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "my-service"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "anyio" },
    { name = "shared", editable = "libs/shared" },
]

[package.optional-dependencies]
dev = [
    { name = "pytest" },
]

[package.metadata]
requires-dist = [
    { name = "anyio", specifier = ">=4" },
    { name = "pytest", marker = "extra == 'dev'", specifier = "==8.0.0" },
]

[[package]]
name = "pytest"
version = "8.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "shared"
version = "0.2.0"
source = { editable = "libs/shared" }

[[package]]
name = "sniffio"
version = "1.3.1"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "vendored"
version = "1.0.0"
source = { git = "https://github.com/org/vendored?tag=v1.0.0#@COMMIT@" }
""".replace("@FILES@", "https://files.pythonhosted.org/packages/2b/b4/d323b0a5f6a44c7d9d8d1").replace(
    "@SHA_SDIST@", "sha256:f75253795a87df48568485fd18cdd2a3fa5c4f7c5be8e5e36637733fce06fed6"
).replace(
    "@SHA_WHEEL@", "sha256:048e05d0f6caeed70d731f3db756d35dcc1f35747c8c403364a8332c630441b8"
).replace("@COMMIT@", "0123456789abcdef0123456789abcdef01234567")


def test_uv_lock_direct_from_the_project_entry(tmp_path: Path) -> None:
    inv = read(tmp_path, "uv.lock", UV_LOCK)
    assert inv.problems == []
    deps = by_name(inv)
    assert "my-service" not in deps  # the project itself
    assert deps["anyio"].direct is True and deps["anyio"].version == "4.3.0"
    assert deps["anyio"].line == 5
    assert deps["pytest"].direct is True  # an optional dependency of the project
    assert deps["idna"].direct is False and deps["sniffio"].direct is False
    assert deps["shared"].version is None and "editable libs/shared" in deps["shared"].spec
    assert deps["vendored"].version is None and deps["vendored"].spec.startswith("git ")
    assert deps["idna"].source == "uv.lock"


def test_lock_files_with_bad_entries(tmp_path: Path) -> None:
    inv = read(tmp_path, "poetry.lock",
               '[[package]]\nname = "a"\n\n[[package]]\nversion = "1.0"\n\n'
               '[[package]]\nname = "c"\nversion = "2.0"\n')
    assert [d.name for d in inv.dependencies] == ["c"]
    reasons = [p.reason for p in inv.problems]
    assert "package a has no version" in reasons
    assert "package[1] has no name" in reasons
    shape = read(tmp_path, "x/uv.lock", 'version = 1\npackage = "nope"\n')
    assert shape.problems[0].reason == "[[package]] is not an array of tables"
    lock = read(tmp_path, "y/Pipfile.lock", '{"default": {"flask": {"version": ">=oops"}}}')
    assert "not a valid version specifier" in lock.problems[0].reason


PDM_LOCK = """\
# This file is @generated by PDM.
# It is not intended for manual editing.

[metadata]
groups = ["default", "dev"]
strategy = ["cross_platform", "inherit_metadata"]
lock_version = "4.4.1"
content_hash = "sha256:0011"

[[package]]
name = "flask"
version = "3.0.0"
requires_python = ">=3.8"
summary = "A simple framework for building complex web applications."
groups = ["default"]
dependencies = [
    "blinker>=1.6.2",
]
files = [
    {file = "flask-3.0.0-py3-none-any.whl", hash = "@WHEEL@"},
    {file = "flask-3.0.0.tar.gz", hash = "@SDIST@"},
]

[[package]]
name = "blinker"
version = "1.7.0"
requires_python = ">=3.8"
summary = "Fast, simple object-to-object and broadcast signaling"
groups = ["default"]
files = []

[[package]]
name = "patched"
version = "0.5.0"
git = "https://github.com/org/patched.git"
revision = "0123456789abcdef0123456789abcdef01234567"
summary = ""
groups = ["default"]
""".replace("@WHEEL@", "sha256:21128f47e4e3b9d597a3e8521a329bf56909b690fcc3fa3e477725aa81367638"
            ).replace("@SDIST@",
                      "sha256:cfadcdb638b609361d29ec22360d6070a77d7463dcb3ab08d2c2f2f168845f58")


def test_pdm_lock(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml",
          '[project]\nname = "svc"\nversion = "0.1"\ndependencies = ["flask>=3", '
          '"patched @ git+https://github.com/org/patched.git"]\n')
    inv = read(tmp_path, "pdm.lock", PDM_LOCK)
    assert inv.problems == []
    deps = by_name(inv)
    assert (deps["flask"].version, deps["flask"].direct, deps["flask"].line) == ("3.0.0", True,
                                                                                  11)
    assert deps["blinker"].direct is False and deps["blinker"].source == "pdm.lock"
    assert deps["patched"].version is None and "git https://github.com" in deps["patched"].spec


def test_rye_lock_and_project_via_comments(tmp_path: Path) -> None:
    text = """\
# generated by rye
# use `rye lock` or `rye sync` to update this lockfile
#
# last locked with the following flags:
#   pre: false
#   features: []
#   all-features: false
#   with-sources: false

-e file:.
anyio==4.3.0
    # via httpx
    # via svc (pyproject.toml)
httpx==0.26.0
    # via svc (pyproject.toml)
sniffio==1.3.1
    # via anyio
"""
    inv = read(tmp_path, "requirements-dev.lock", text)
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["httpx"].direct is True and deps["anyio"].direct is True
    assert deps["sniffio"].direct is False
    assert deps["file:."].version is None and "editable" in deps["file:."].spec
