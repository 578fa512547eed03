"""pip install lines inside notebooks and Dockerfiles."""

from __future__ import annotations

import json
from pathlib import Path

from secpipe.scanners.deps.model import PYPI, Dependency, Inventory
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


def notebook(*cells: tuple[str, str]) -> str:
    """A notebook as Jupyter writes it (nbformat 4, sources as lists of lines)."""
    return json.dumps({
        "cells": [{"cell_type": kind, "execution_count": None, "id": f"c{i}",
                   "metadata": {}, "outputs": [] if kind == "code" else None,
                   "source": source.splitlines(keepends=True)}
                  if kind == "code" else
                  {"cell_type": kind, "id": f"c{i}", "metadata": {},
                   "source": source.splitlines(keepends=True)}
                  for i, (kind, source) in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python", "version": "3.11.7"}},
        "nbformat": 4, "nbformat_minor": 5,
    }, indent=1)


def test_notebook_pip_lines_by_cell_and_line(tmp_path: Path) -> None:
    nb = notebook(
        ("markdown", "# Fine-tuning\n!pip install not-code==1.0\n"),
        ("code", "import sys\n!pip install -q transformers==4.36.0 'datasets>=2.14'\n"),
        ("code", "%pip install --upgrade torch==2.1.0 \\\n    torchvision==0.16.0\n"
                 "print('ok')\n"),
        ("code", "!{sys.executable} -m pip install accelerate==0.25.0\n"
                 "!python3 -m pip install -U peft\n%conda install -y -c conda-forge faiss-cpu=1.7.4"
                 "\n"),
        ("code", "%%bash\nset -e\npip install --no-cache-dir bitsandbytes==0.41.1 && "
                 "echo done\n"),
        ("code", "version = '1.2'\n!pip install sentencepiece=={version} $EXTRA\n"
                 "!pip install -r requirements.txt\n!ls -la\n"),
    )
    inv = read(tmp_path, "notebooks/finetune.ipynb", nb)
    deps = by_name(inv)
    assert "not-code" not in deps  # markdown cells are not run
    assert deps["transformers"].member == "cell[1]" and deps["transformers"].line == 2
    assert deps["transformers"].version == "4.36.0"
    assert deps["datasets"].spec == ">=2.14" and deps["datasets"].version is None
    assert deps["torch"].member == "cell[2]" and deps["torch"].line == 1
    assert deps["torchvision"].line == 2 and deps["torchvision"].version == "0.16.0"
    assert deps["accelerate"].member == "cell[3]" and deps["accelerate"].line == 1
    assert deps["peft"].line == 2 and deps["peft"].version is None
    assert deps["faiss-cpu"].ecosystem == CONDA and deps["faiss-cpu"].line == 3
    assert deps["bitsandbytes"].member == "cell[4]" and deps["bitsandbytes"].line == 3
    assert deps["bitsandbytes"].ecosystem == PYPI
    assert {d.source for d in inv.dependencies} == {"notebook"}
    # values filled in when the cell runs cannot be decided; -r is not followed
    assert {(p.member, p.line) for p in inv.problems} == {("cell[5]", 2)}
    assert len(inv.problems) == 2
    assert all("cannot be decided" in p.reason for p in inv.problems)
    assert "requirements" not in " ".join(d.name for d in inv.dependencies)


def test_notebook_bad_inputs(tmp_path: Path) -> None:
    broken = read(tmp_path, "a.ipynb", '{"cells": [')
    assert broken.problems[0].reason.startswith("malformed JSON")
    not_nb = read(tmp_path, "b.ipynb", json.dumps({"nbformat": 4}))
    assert "no cells list" in not_nb.problems[0].reason
    odd = read(tmp_path, "c.ipynb", json.dumps(
        {"cells": [3, {"cell_type": "code", "source": 7}], "nbformat": 4}))
    assert [(p.member, p.reason) for p in odd.problems] == [
        ("cell[0]", "cell is not an object"),
        ("cell[1]", "cell source is neither text nor a list of lines")]
    quote = read(tmp_path, "d.ipynb", notebook(("code", "!pip install 'unterminated\n")))
    assert "cannot split" in quote.problems[0].reason and quote.problems[0].line == 1


DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim AS builder
ARG TORCH_VERSION=2.1.0
ENV PIP_NO_CACHE_DIR=1 \\
    TRANSFORMERS_VERSION=4.36.0
WORKDIR /app
COPY requirements.txt .
RUN apt-get update && apt-get install -y --no-install-recommends gcc \\
    && pip install --upgrade pip==23.3.1 \\
    # comments inside a continued RUN are dropped
    && pip install -r requirements.txt \\
    && python -m pip install "torch==${TORCH_VERSION}" transformers==$TRANSFORMERS_VERSION \\
    && rm -rf /var/lib/apt/lists/*
RUN ["pip3", "install", "gunicorn==21.2.0"]
RUN --mount=type=cache,target=/root/.cache uv pip install --system fastapi==0.109.0
RUN pip install $UNKNOWN_PACKAGES

FROM python:3.11-slim
RUN <<EOF
set -e
pip3 install --no-deps uvicorn==0.25.0
EOF
RUN ["/bin/sh", "-c", "pip install 'pydantic>=2' && conda install -y numpy=1.26.4=h1"]
CMD ["gunicorn", "app:app"]
"""


def test_dockerfile_run_forms_variables_and_lines(tmp_path: Path) -> None:
    inv = read(tmp_path, "docker/Dockerfile", DOCKERFILE)
    deps = by_name(inv)
    assert set(deps) == {"pip", "torch", "transformers", "gunicorn", "fastapi", "uvicorn",
                         "pydantic", "numpy"}
    assert deps["pip"].version == "23.3.1" and deps["pip"].line == 10
    assert deps["torch"].version == "2.1.0" and deps["torch"].line == 13  # from ARG
    assert deps["transformers"].version == "4.36.0"  # from ENV
    assert deps["gunicorn"].line == 15 and deps["gunicorn"].member == "RUN (stage builder)"
    assert deps["fastapi"].version == "0.109.0" and deps["fastapi"].line == 16
    assert deps["uvicorn"].line == 22 and deps["uvicorn"].member == "RUN (stage 1)"
    assert deps["pydantic"].version is None and deps["pydantic"].line == 24
    assert deps["numpy"].ecosystem == CONDA and deps["numpy"].version == "1.26.4"
    assert {d.source for d in deps.values()} == {"dockerfile"}
    assert [(p.line, "$UNKNOWN_PACKAGES" in p.reason) for p in inv.problems] == [(17, True)]


def test_dockerfile_escape_directive_and_single_stage(tmp_path: Path) -> None:
    text = ("# escape=`\nFROM mcr.microsoft.com/windows/servercore\n"
            "RUN pip install `\n    requests==2.31.0\n")
    inv = read(tmp_path, "Dockerfile.windows", text)
    assert [(d.name, d.version, d.line, d.member) for d in inv.dependencies] == [
        ("requests", "2.31.0", 4, "RUN")]


def test_dockerfile_names(tmp_path: Path) -> None:
    for rel in ("Containerfile", "gpu.Dockerfile", "Dockerfile.gpu"):
        inv = read(tmp_path, rel, "FROM x\nRUN pip3 install flask==3.0.0\n")
        assert [d.name for d in inv.dependencies] == ["flask"], rel


def test_npm_installs_in_a_dockerfile(tmp_path: Path) -> None:
    text = ("FROM node:20-slim\n"
            "RUN npm install -g --registry https://registry.npmjs.org @angular/cli@17.0.8 "
            "serve@^14 \\\n && yarn global add typescript@5.3.3 && pnpm add ./local-pkg \\\n"
            " && npm ci && npm i left-pad\n")
    inv = read(tmp_path, "Dockerfile", text)
    assert inv.problems == []
    deps = {d.name: d for d in inv.dependencies}
    assert set(deps) == {"@angular/cli", "serve", "typescript", "./local-pkg", "left-pad"}
    assert all(d.ecosystem == "npm" for d in deps.values())
    assert deps["@angular/cli"].version == "17.0.8" and deps["@angular/cli"].line == 2
    assert deps["serve"].version is None and deps["serve"].spec == "^14"
    assert deps["typescript"].version == "5.3.3" and deps["typescript"].line == 3
    assert "not matchable" in deps["./local-pkg"].spec
    assert deps["left-pad"].line == 4 and deps["left-pad"].spec == ""


def test_shell_redirections_are_not_packages(tmp_path: Path) -> None:
    text = ("FROM python:3.11\n"
            "RUN pip install -q flask==3.0.0 > /var/log/pip.log 2>&1 \\\n"
            "    && pip install numpy>=1.0 2>/dev/null \\\n"
            "    && pip install \"pandas>=2\" &>/dev/null\n")
    inv = read(tmp_path, "Dockerfile", text)
    assert inv.problems == []
    # unquoted, the shell reads numpy>=1.0 as numpy with its output sent to a file "=1.0"
    assert [(d.name, d.spec) for d in inv.dependencies] == [
        ("flask", "==3.0.0"), ("numpy", ""), ("pandas", ">=2")]
