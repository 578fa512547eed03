"""conda environment files, package.json and npm lock files v1, v2 and v3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from secpipe.scanners.deps.model import NPM, PYPI, Dependency, Inventory
from secpipe.scanners.deps.readers import CONDA, read_manifest


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read(root: Path, rel: str, text: str, max_bytes: int = 1 << 20) -> Inventory:
    return read_manifest(write(root, rel, text), rel, max_bytes)


def by_name(inv: Inventory) -> dict[str, Dependency]:
    return {d.name: d for d in inv.dependencies}


ENVIRONMENT = """\
name: training
channels:
  - pytorch
  - conda-forge
  - defaults
dependencies:
  - python=3.11
  - numpy=1.26.4=py311h64a7726_0
  - pytorch::pytorch==2.1.0
  - cudatoolkit=11.8
  - scipy>=1.11
  - pip
  - pip:
      - transformers==4.36.0
      - -r requirements-extra.txt
      - --extra-index-url https://download.pytorch.org/whl/cu118
      - datasets>=2.14
"""


def test_conda_packages_are_conda_and_the_pip_list_is_pypi(tmp_path: Path) -> None:
    write(tmp_path, "requirements-extra.txt", "accelerate==0.25.0\n")
    inv = read(tmp_path, "environment.yml", ENVIRONMENT)
    assert inv.problems == []
    assert inv.manifests == ["environment.yml", "requirements-extra.txt"]
    deps = by_name(inv)
    conda = {n: d for n, d in deps.items() if d.ecosystem == CONDA}
    assert set(conda) == {"python", "numpy", "pytorch", "cudatoolkit", "scipy", "pip"}
    assert conda["numpy"].version == "1.26.4"  # name=version=build is exact
    assert conda["numpy"].line == 8
    assert conda["pytorch"].version == "2.1.0"  # channel::name==version
    assert conda["python"].version is None  # conda's = is a prefix match
    assert conda["python"].spec == "=3.11"
    assert conda["scipy"].version is None and conda["scipy"].spec == ">=1.11"
    assert deps["transformers"].ecosystem == PYPI
    assert deps["transformers"].version == "4.36.0"
    assert deps["transformers"].line == 14 and deps["transformers"].member == "pip"
    assert deps["datasets"].ecosystem == PYPI and deps["datasets"].version is None
    assert deps["accelerate"].path == "requirements-extra.txt"
    assert deps["accelerate"].source == "requirements"  # read as the file it is
    assert {d.source for d in inv.dependencies if d.path == "environment.yml"} == {"conda"}


def test_mlflow_conda_yaml_and_bad_shapes(tmp_path: Path) -> None:
    mlflow = ("channels:\n- conda-forge\ndependencies:\n- python=3.10.12\n- pip<=23.3\n"
              "- pip:\n  - mlflow==2.9.2\n  - cloudpickle==2.2.1\nname: mlflow-env\n")
    inv = read(tmp_path, "model/conda.yaml", mlflow)
    assert inv.problems == []
    assert {(d.name, d.ecosystem) for d in inv.dependencies} >= {("mlflow", PYPI),
                                                                  ("python", CONDA)}
    bad = read(tmp_path, "environment.yaml", "dependencies:\n  - {a: 1}\n  - pip: nope\n")
    reasons = [p.reason for p in bad.problems]
    assert any("neither a package nor a pip" in r for r in reasons)
    assert any("pip: entry is not a list" in r for r in reasons)
    broken = read(tmp_path, "x/environment.yml", "dependencies:\n  - numpy\n  bad: [\n")
    assert broken.dependencies == [] and "malformed YAML" in broken.problems[0].reason
    dup = read(tmp_path, "y/environment.yml", "name: a\nname: b\ndependencies: []\n")
    assert "duplicate key" in dup.problems[0].reason and dup.problems[0].line == 2


PACKAGE_JSON = {
    "name": "dashboard",
    "version": "1.0.0",
    "license": "MIT",
    "dependencies": {
        "express": "^4.18.2",
        "lodash": "4.17.20",
        "left-pad": "=1.3.0",
        "react": "~18.2.0",
        "my-lodash": "npm:lodash@4.17.21",
        "internal": "git+https://deploy:s3cr3t@git.example.com/ui/internal.git#v2.0.0",
        "shared": "file:../shared",
        "gh-thing": "someuser/some-repo#main",
    },
    "devDependencies": {"jest": "29.7.0", "typescript": "latest"},
    "peerDependencies": {"react-dom": ">=18"},
}


def test_package_json_ranges_pins_aliases_and_references(tmp_path: Path) -> None:
    inv = read(tmp_path, "web/package.json", json.dumps(PACKAGE_JSON, indent=2))
    assert inv.problems == []
    deps = {(d.member, d.name): d for d in inv.dependencies if not d.spec.startswith("npm:")}
    assert all(d.ecosystem == NPM and d.direct for d in inv.dependencies)
    assert deps["dependencies", "express"].version is None
    assert deps["dependencies", "express"].spec == "^4.18.2"
    assert deps["dependencies", "lodash"].version == "4.17.20"
    assert deps["dependencies", "lodash"].line == 7
    assert deps["dependencies", "left-pad"].version == "1.3.0"
    assert deps["dependencies", "react"].version is None
    alias = [d for d in inv.dependencies if d.spec == "npm:lodash@4.17.21"]
    assert alias and alias[0].name == "lodash" and alias[0].version == "4.17.21"
    internal = deps["dependencies", "internal"]
    assert internal.version is None and "not matchable" in internal.spec
    assert "s3cr3t" not in internal.spec
    assert deps["dependencies", "shared"].version is None
    assert deps["dependencies", "gh-thing"].version is None
    assert deps["devDependencies", "jest"].version == "29.7.0"
    assert deps["devDependencies", "typescript"].version is None
    assert deps["peerDependencies", "react-dom"].spec == ">=18"


def _lock_v3() -> dict[str, Any]:
    return {
        "name": "dashboard",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {
            "": {"name": "dashboard", "version": "1.0.0", "license": "MIT",
                 "workspaces": ["packages/*"],
                 "dependencies": {"express": "^4.18.2", "lodash": "4.17.20"},
                 "devDependencies": {"jest": "29.7.0"}},
            "node_modules/express": {
                "version": "4.18.2",
                "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz",
                "integrity": "sha512-5/PsL6iGPdfQ/lKM1UuielYgv3BUoJfz1aUwU9vHZ+J7gyvwdQXFEBIEIa"
                             "xeGf0GIcreATNyBExtalisDbuMqQ==",
                "license": "MIT",
                "dependencies": {"body-parser": "1.20.1", "qs": "6.11.0"}},
            "node_modules/body-parser": {
                "version": "1.20.1",
                "resolved": "https://registry.npmjs.org/body-parser/-/body-parser-1.20.1.tgz",
                "license": "MIT"},
            "node_modules/body-parser/node_modules/qs": {
                "version": "6.10.3",
                "resolved": "https://registry.npmjs.org/qs/-/qs-6.10.3.tgz",
                "license": "BSD-3-Clause"},
            "node_modules/qs": {"version": "6.11.0", "license": "BSD-3-Clause"},
            "node_modules/lodash": {"version": "4.17.20", "license": "MIT"},
            "node_modules/jest": {"version": "29.7.0", "dev": True, "license": "MIT"},
            "node_modules/@babel/core": {"version": "7.23.7", "dev": True,
                                         "license": "MIT"},
            "node_modules/string-width-cjs": {
                "name": "string-width", "version": "4.2.3",
                "resolved": "https://registry.npmjs.org/string-width/-/string-width-4.2.3.tgz"},
            "node_modules/ui-kit": {"resolved": "packages/ui-kit", "link": True},
            "packages/ui-kit": {"name": "ui-kit", "version": "0.1.0",
                                "dependencies": {"classnames": "^2.3.2"}},
            "packages/ui-kit/node_modules/classnames": {"version": "2.3.2",
                                                         "license": "MIT"},
            "node_modules/private-widget": {
                "version": "1.0.0",
                "resolved": "git+ssh://git@github.com/org/private-widget.git#0123abc",
            },
        },
    }


def test_package_lock_v3_paths_nesting_workspaces_aliases(tmp_path: Path) -> None:
    text = json.dumps(_lock_v3(), indent=2)
    inv = read(tmp_path, "package-lock.json", text)
    assert inv.problems == []
    deps = {d.member: d for d in inv.dependencies}
    assert "node_modules/ui-kit" not in deps and "packages/ui-kit" not in deps
    express = deps["node_modules/express"]
    assert (express.name, express.version, express.direct) == ("express", "4.18.2", True)
    assert express.licence == "MIT" and express.ecosystem == NPM
    assert express.line == text.splitlines().index('    "node_modules/express": {') + 1
    assert deps["node_modules/body-parser"].direct is False
    nested = deps["node_modules/body-parser/node_modules/qs"]
    assert (nested.name, nested.version, nested.direct) == ("qs", "6.10.3", False)
    assert nested.licence == "BSD-3-Clause"
    assert deps["node_modules/jest"].direct is True  # a devDependency is declared too
    assert deps["node_modules/@babel/core"].name == "@babel/core"
    assert deps["node_modules/string-width-cjs"].name == "string-width"
    workspace_dep = deps["packages/ui-kit/node_modules/classnames"]
    assert workspace_dep.direct is True and workspace_dep.name == "classnames"
    git = deps["node_modules/private-widget"]
    assert git.version is None and "not matchable" in git.spec
    assert {d.source for d in inv.dependencies} == {"package-lock.json"}


def test_package_lock_v1_tree_with_sibling_package_json(tmp_path: Path) -> None:
    write(tmp_path, "package.json", json.dumps(
        {"name": "old", "dependencies": {"request": "^2.88.0", "alias-x": "npm:x@1.0.0"}}))
    lock = {
        "name": "old", "version": "1.0.0", "lockfileVersion": 1, "requires": True,
        "dependencies": {
            "request": {
                "version": "2.88.2",
                "resolved": "https://registry.npmjs.org/request/-/request-2.88.2.tgz",
                "requires": {"tough-cookie": "~2.5.0"},
                "dependencies": {
                    "tough-cookie": {"version": "2.5.0",
                                     "dependencies": {"punycode": {"version": "1.4.1"}}},
                }},
            "alias-x": {"version": "npm:x@1.0.0"},
            "tough-cookie": {"version": "4.1.3"},
            "from-git": {"version": "git+https://github.com/org/from-git.git#abcdef"},
        },
    }
    text = json.dumps(lock, indent=2)
    inv = read(tmp_path, "npm-shrinkwrap.json", text)
    assert inv.problems == []
    deps = {d.member: d for d in inv.dependencies}
    assert deps["node_modules/request"].direct is True
    assert deps["node_modules/request"].version == "2.88.2"
    inner = deps["node_modules/request/node_modules/tough-cookie"]
    assert (inner.version, inner.direct) == ("2.5.0", False)
    deepest = deps["node_modules/request/node_modules/tough-cookie/node_modules/punycode"]
    assert deepest.version == "1.4.1"
    assert deepest.line == text[:text.index('"punycode": {')].count("\n") + 1
    top_tough = deps["node_modules/tough-cookie"]
    assert top_tough.direct is False  # hoisted, not declared
    assert (deps["node_modules/alias-x"].name, deps["node_modules/alias-x"].version) == (
        "x", "1.0.0")
    assert deps["node_modules/from-git"].version is None
    assert inv.dependencies[0].source == "npm-shrinkwrap.json"


def test_npm_bad_inputs(tmp_path: Path) -> None:
    broken = read(tmp_path, "package-lock.json", '{"lockfileVersion": 3, "packages": {\n')
    assert broken.problems[0].reason.startswith("malformed JSON") and broken.problems[0].line
    weird = read(tmp_path, "a/package-lock.json", json.dumps(
        {"lockfileVersion": 3, "packages": {"": {}, "node_modules/x": {"version": 3},
                                            "node_modules/y": "str"}}))
    reasons = [p.reason for p in weird.problems]
    assert any("x has no version" in r for r in reasons)
    assert any("is not an object" in r for r in reasons)
    unknown = read(tmp_path, "b/package-lock.json", json.dumps({"lockfileVersion": 9}))
    assert "not a package-lock this reader knows" in unknown.problems[0].reason
    top = read(tmp_path, "c/package.json", "[1, 2]")
    assert "top level is not an object" in top.problems[0].reason
    section = read(tmp_path, "d/package.json", json.dumps({"dependencies": ["a"]}))
    assert "dependencies is not an object" in section.problems[0].reason


def test_mlflow_python_env_yaml(tmp_path: Path) -> None:
    write(tmp_path, "model/requirements.txt", "mlflow==2.9.2\nscikit-learn==1.3.2\n")
    inv = read(tmp_path, "model/python_env.yaml",
               "python: 3.10.12\nbuild_dependencies:\n- pip==23.3.1\n- setuptools==68.2.2\n"
               "- wheel==0.41.3\ndependencies:\n- -r requirements.txt\n- cloudpickle==2.2.1\n")
    assert inv.problems == []
    deps = by_name(inv)
    assert deps["pip"].member == "build_dependencies" and deps["pip"].line == 3
    assert deps["pip"].source == "python_env.yaml"
    assert deps["cloudpickle"].version == "2.2.1" and deps["cloudpickle"].line == 8
    assert deps["mlflow"].path == "model/requirements.txt"
    assert all(d.ecosystem == PYPI for d in inv.dependencies)
    bad = read(tmp_path, "x/python_env.yaml", "dependencies: nope\n")
    assert bad.problems[0].reason == "dependencies is not a list"
