"""``secpipe init`` on a team's own project: three kinds of repository, built by code here, each
read (never run: the pickle below is written, never loaded), wired, loaded back."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import main
from secpipe.pipeline.config import load_project
from secpipe.pipeline.runner import plan
from secpipe.policy.require import check_required_names


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def flask_app(root: Path) -> Path:
    """(a) A Flask app serving a pickled model, with its training script and data."""
    return _write(root, {
        "app.py": "import pickle\nfrom flask import Flask, request\n\napp = Flask(__name__)\n"
                  "with open('model.pkl', 'rb') as f:\n    model = pickle.load(f)\n",
        "model.pkl": pickle.dumps({"weights": [0.1, 0.2], "classes": ["ok", "attack"]}),
        "requirements.txt": "flask==3.0.3\nscikit-learn==1.5.2\n",
        "Dockerfile": "FROM python:3.11-slim\nCOPY . /app\nCMD [\"python\", \"/app/app.py\"]\n",
        "train.py": "import pickle\nimport pandas as pd\n"
                    "from sklearn.linear_model import LogisticRegression\n"
                    "from sklearn.pipeline import make_pipeline\n"
                    "from sklearn.feature_extraction.text import TfidfVectorizer\n\n\n"
                    "def build_estimator(seed=0):\n"
                    "    return make_pipeline(TfidfVectorizer(), "
                    "LogisticRegression(random_state=seed))\n\n\n"
                    "if __name__ == '__main__':\n"
                    "    df = pd.read_csv('data/train.csv')\n"
                    "    model = build_estimator().fit(df['text'], df['label'])\n"
                    "    pickle.dump(model, open('model.pkl', 'wb'))\n",
        "data/train.csv": "text,label\nhello,ok\n<script>,attack\n",
    })


def _notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": c.splitlines(True),
                                  "metadata": {}, "outputs": [], "execution_count": None}
                                 for c in cells], "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5})


def notebooks_only(root: Path) -> Path:
    """(b) Two notebooks and a CSV: exploration and training live in notebooks."""
    return _write(root, {
        "explore.ipynb": _notebook("import pandas as pd\ndf = pd.read_csv('churn.csv')\n"),
        "model.ipynb": _notebook("from sklearn.ensemble import RandomForestClassifier\n",
                                 "clf = RandomForestClassifier().fit(X, y)\n"),
        "churn.csv": "tenure,plan,churn\n3,basic,1\n40,pro,0\n",
    })


def llm_app(root: Path) -> Path:
    """(c) An LLM app: the model is a remote API, no model file."""
    return _write(root, {
        "app.py": "import streamlit as st\nfrom langchain_openai import ChatOpenAI\n"
                  "from langchain.prompts import PromptTemplate\n\n"
                  "llm = ChatOpenAI(model='gpt-4o-mini')\nst.title('Ask me')\n",
        "requirements.txt": "streamlit==1.39.0\nlangchain==0.3.7\nlangchain-openai==0.2.8\n",
    })


def _init(root: Path, *extra: str) -> int:
    return main(["init", "-C", str(root), "--yes", *extra])


def _defaults(root: Path) -> dict[str, Any]:
    return {k: v.model_dump() if hasattr(v, "model_dump") else v
            for k, v in load_project(root).config.defaults.items()}


def _check_twice_and_quiet(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _init(root) == 2  # an existing file is not overwritten without --force
    capsys.readouterr()
    assert _init(root, "--force", "-q") == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # quiet means quiet
    lines = (root / ".gitignore").read_text().splitlines()
    assert lines.count(".secpipe/") == 1
    load_project(root)


def test_flask_app_wires_model_training_and_store(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = flask_app(tmp_path)
    assert _init(root) == 0
    out = capsys.readouterr().out
    assert "sign: model.pkl (the app's code names it: app.py)" in out
    cfg = load_project(root).config
    assert cfg.policy.require == ["scan-secrets", "scan-code", "scan-deps", "scan-iac",
                                  "scan-models", "train", "sign", "store"]
    text = (root / "secpipe.yaml").read_text()
    assert 'model: "model.pkl"' in text and "app.py" in text  # the choice, and why
    defaults = _defaults(root)
    assert defaults["scan-models"]["paths"] == ["model.pkl"]
    assert defaults["sign"]["model"] == "model.pkl"
    assert defaults["store"]["paths"] == ["requirements.txt", "Dockerfile"]
    assert defaults["scan-deps"]["max_database_age_days"] == 7  # and how to get the data
    assert "secpipe db update" in text and "secpipe db import" in text
    train = defaults["train"]
    assert (train["estimator"], train["data"], train["target"]) == (
        "train.py:build_estimator", "data/train.csv", "label")
    assert "evaluate" not in defaults and "# evaluate:" in text
    assert "uses: exec" in text and "hadolint" in text  # commented tool example
    _check_twice_and_quiet(root, capsys)


def test_flask_app_with_holdout_wires_evaluate(tmp_path: Path) -> None:
    root = flask_app(tmp_path)
    _write(root, {"data/test.csv": "text,label\nbye,ok\n"})
    assert _init(root, "-q") == 0
    assert _defaults(root)["evaluate"]["data"] == "data/test.csv"
    assert load_project(root).config.policy.require == [
        "scan-secrets", "scan-code", "scan-deps", "scan-iac", "scan-models", "train", "evaluate",
        "sign", "store"]


def test_notebooks_only_leaves_training_commented(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = notebooks_only(tmp_path)
    assert _init(root) == 0
    out = capsys.readouterr().out
    assert "train: not wired (only notebooks train (model.ipynb)" in out
    cfg = load_project(root).config
    assert cfg.policy.require == ["scan-secrets", "scan-code"]  # notebooks are code
    defaults = _defaults(root)
    assert "train" not in defaults and "sign" not in defaults and "scan-models" not in defaults
    text = (root / "secpipe.yaml").read_text()
    assert "explore.ipynb, model.ipynb" in text
    assert "churn.csv (label column 'churn')" in text
    assert '#   target: "churn"' in text
    _check_twice_and_quiet(root, capsys)


def test_llm_app_without_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = llm_app(tmp_path)
    assert _init(root) == 0
    capsys.readouterr()
    cfg = load_project(root).config
    assert cfg.policy.require == ["scan-secrets", "scan-code", "scan-deps", "store"]
    defaults = _defaults(root)
    assert "sign" not in defaults and "train" not in defaults
    assert defaults["store"]["paths"] == ["requirements.txt"]
    text = (root / "secpipe.yaml").read_text()
    assert "langchain, streamlit" in text and "no model file found" in text
    _check_twice_and_quiet(root, capsys)


@pytest.mark.parametrize("build", [flask_app, notebooks_only, llm_app])
def test_existing_gitignore_kept_line_for_line(tmp_path: Path,
                                               build: Callable[[Path], Path]) -> None:
    root = build(tmp_path)
    (root / ".gitignore").write_text("__pycache__/\n*.log")  # no newline at the end
    assert _init(root, "-q") == 0
    assert (root / ".gitignore").read_text() == "__pycache__/\n*.log\n.secpipe/\n"
    assert _init(root, "-q", "--force") == 0
    assert (root / ".gitignore").read_text() == "__pycache__/\n*.log\n.secpipe/\n"


def test_model_pickle_is_never_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = flask_app(tmp_path)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("init unpickled a project file")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert _init(root, "-q") == 0


@pytest.mark.parametrize("build", [flask_app, notebooks_only, llm_app])
def test_required_steps_are_steps_of_mlsecops(tmp_path: Path,
                                              build: Callable[[Path], Path]) -> None:
    """What init requires can be met: every name is a step a built-in pipeline plans (scan-iac
    only devsecops), and mlsecops plans every requirement but scan-iac."""
    root = build(tmp_path)
    assert _init(root, "-q") == 0
    project = load_project(root)
    kinds: dict[str, set[str]] = {}
    for name in ("mlsecops", "devsecops"):
        stages = plan(project, name, project.pipeline(name))
        kinds[name] = {p.kind_name for stage in stages for p in stage}
    require = project.config.policy.require or []
    assert require and set(require) <= kinds["mlsecops"] | kinds["devsecops"]
    assert set(require) - {"scan-iac"} <= kinds["mlsecops"]
    check_required_names(require, project.step_names())  # every name is one secpipe knows
