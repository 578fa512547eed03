"""The example project (examples/request-classifier) builds, trains, serves and keeps its plants.

These tests import the example's own modules (our code, not scanned input). They never unpickle
anything but the artifacts the test itself just trained.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "request-classifier"
NOTEBOOK = EXAMPLE / "notebooks" / "explore.ipynb"
HF_TOKEN = re.compile(r"hf_[A-Za-z]{34}(?![A-Za-z])")
LEAK_CELL = 5  # the README names this cell index; keep them in step
SIBLINGS = ("build_dataset", "model", "train")


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def dataset() -> ModuleType:
    return _load(EXAMPLE / "build_dataset.py", "rc_build_dataset")


@pytest.fixture(scope="module")
def data_dir(dataset: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out: Path = tmp_path_factory.mktemp("rc-data")
    dataset.build(out)
    return out


@pytest.fixture(scope="module")
def example_on_path() -> Iterator[None]:
    """Make train.py's sibling imports resolve, and forget them afterwards."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        yield
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in SIBLINGS:
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def trained(
    example_on_path: None, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, float]:
    pytest.importorskip("sklearn")
    train = importlib.import_module("train")
    out: Path = tmp_path_factory.mktemp("rc-artifacts")
    accuracy, _report = train.train(data_dir / "requests.csv", data_dir / "holdout.csv", out)
    return out, accuracy


# ---------------------------------------------------------------- dataset


def test_dataset_has_expected_columns_labels_and_row_counts(
    dataset: ModuleType, data_dir: Path
) -> None:
    train_rows, holdout_rows = _read(data_dir / "requests.csv"), _read(data_dir / "holdout.csv")
    with (data_dir / "requests.csv").open(encoding="utf-8") as fh:
        assert fh.readline().strip() == "payload,label"
    assert len(train_rows) == 4000
    assert len(holdout_rows) == 1000
    expected = {"benign", "sqli", "xss", "cmdi", "path_traversal"}
    assert set(dataset.LABELS) == expected
    counts = Counter(r["label"] for r in train_rows)
    assert counts == {"benign": 2000, "sqli": 500, "xss": 500, "cmdi": 500, "path_traversal": 500}
    assert {r["label"] for r in holdout_rows} == expected
    train_payloads = [r["payload"] for r in train_rows]
    assert len(set(train_payloads)) == len(train_payloads)
    assert not set(train_payloads) & {r["payload"] for r in holdout_rows}


def test_dataset_is_deterministic_per_seed(dataset: ModuleType, tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        dataset.build(tmp_path / name, rows=500, holdout=100, seed=seed)
    for csv_name in ("requests.csv", "holdout.csv"):
        first = (tmp_path / "a" / csv_name).read_bytes()
        assert first == (tmp_path / "b" / csv_name).read_bytes()
        assert first != (tmp_path / "c" / csv_name).read_bytes()


def test_dataset_builds_in_well_under_two_seconds(dataset: ModuleType, tmp_path: Path) -> None:
    start = time.perf_counter()
    dataset.build(tmp_path)
    assert time.perf_counter() - start < 2.0


def test_dataset_has_obfuscated_attacks_and_hard_benign_rows(data_dir: Path) -> None:
    rows = _read(data_dir / "requests.csv")
    attacks = [r["payload"] for r in rows if r["label"] != "benign"]
    benign = [r["payload"] for r in rows if r["label"] == "benign"]
    for marker in ("%27", "%252e", "/**/", "${IFS}", "&lt;", "..\\"):
        assert any(marker in p for p in attacks), marker
    # benign traffic that shares words and characters with attacks
    for marker in ("select", "union", "<p>", "%27", "/srv/data/"):
        assert any(marker in p.lower() for p in benign), marker


def test_cli_writes_both_files(dataset: ModuleType, tmp_path: Path) -> None:
    assert dataset.main(["--out", str(tmp_path), "--rows", "200", "--holdout", "50"]) == 0
    assert len(_read(tmp_path / "requests.csv")) == 200
    assert len(_read(tmp_path / "holdout.csv")) == 50


# ---------------------------------------------------------------- notebook and README


def _notebook() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return loaded


def _output_text(output: dict[str, Any]) -> str:
    text = output.get("text", output.get("data", {}).get("text/plain", ""))
    return "".join(text) if isinstance(text, list) else str(text)


def test_notebook_is_valid_nbformat4() -> None:
    nb = _notebook()
    assert nb["nbformat"] == 4
    assert isinstance(nb["nbformat_minor"], int)
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids)
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("markdown", "code")
        assert isinstance(cell["source"], list) and isinstance(cell["metadata"], dict)
        if cell["cell_type"] == "code":
            assert isinstance(cell["execution_count"], int)
            for output in cell["outputs"]:
                assert output["output_type"] in ("stream", "execute_result")
        # every code cell compiles (the notebook is real, not a prop)
        if cell["cell_type"] == "code":
            compile("".join(cell["source"]), "<cell>", "exec")


def test_notebook_leaks_one_token_in_an_output_and_none_in_sources() -> None:
    cells = _notebook()["cells"]
    leaks = [
        (index, match)
        for index, cell in enumerate(cells)
        for output in cell.get("outputs", [])
        for match in HF_TOKEN.findall(_output_text(output))
    ]
    assert [index for index, _ in leaks] == [LEAK_CELL]
    assert "HF_TOKEN=hf_" in _output_text(cells[LEAK_CELL]["outputs"][0])
    token = leaks[0][1]
    assert token[3:] != token[3:].lower() and token[3:] != token[3:].upper()  # mixed case
    sources = "".join("".join(cell["source"]) for cell in cells)
    assert not HF_TOKEN.search(sources)
    # the decoys the secrets scan must not report
    assert 'os.environ["HF_TOKEN"]' in sources
    assert 'api_key = "<your-key-here>"' in sources


def test_readme_lists_every_planted_problem() -> None:
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert f"index {LEAK_CELL}" in readme
    for needle in ("explore.ipynb", "pickle.load", "app/serve.py", "model.pkl",
                   "tokenizer.pkl", "label_encoder.pkl", "<your-key-here>"):
        assert needle in readme, needle
    serve_source = (EXAMPLE / "app" / "serve.py").read_text(encoding="utf-8")
    assert "pickle.load(" in serve_source and "deliberate" in serve_source.lower()


def test_generated_files_are_ignored_by_git() -> None:
    ignored = (EXAMPLE / ".gitignore").read_text(encoding="utf-8").split()
    assert "data/*.csv" in ignored and "artifacts/" in ignored


# ---------------------------------------------------------------- model, training, app


def test_build_estimator_is_unfitted_and_beats_090_on_holdout(data_dir: Path) -> None:
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import Pipeline

    model = _load(EXAMPLE / "model.py", "rc_model")
    estimator = model.build_estimator(seed=0)
    assert isinstance(estimator, Pipeline)
    with pytest.raises(NotFittedError):
        estimator.predict(["GET /"])
    x_train, y_train = model.load_data(data_dir / "requests.csv")
    x_test, y_test = model.load_data(data_dir / "holdout.csv")
    estimator.fit(x_train, y_train)
    assert accuracy_score(y_test, estimator.predict(x_test)) > 0.9


def test_load_data_names_a_missing_column(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    model = _load(EXAMPLE / "model.py", "rc_model")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nGET /,benign\n", encoding="utf-8")
    with pytest.raises(ValueError, match="payload"):
        model.load_data(bad)


def test_train_script_writes_three_pickles_and_reports_accuracy(
    trained: tuple[Path, float],
) -> None:
    out, accuracy = trained
    assert accuracy > 0.9
    for name in ("model.pkl", "tokenizer.pkl", "label_encoder.pkl"):
        assert (out / name).read_bytes()[:1] == b"\x80"  # pickle protocol header


def test_app_predict_and_health(trained: tuple[Path, float]) -> None:
    pytest.importorskip("flask")
    serve = _load(EXAMPLE / "app" / "serve.py", "rc_serve")
    client = serve.create_app(trained[0]).test_client()

    assert client.get("/health").get_json() == {"status": "ok"}
    cases = {
        "GET /search?q=1%27%20UNION%20SELECT%20passwd%20FROM%20users--": "sqli",
        "POST /comments body=<img src=x onerror=alert(document.cookie)>": "xss",
        "GET /download?file=../../../../etc/passwd": "path_traversal",
        "GET /tools/lookup?domain=example.com;cat /etc/passwd": "cmdi",
        "GET /search?q=red+running+shoes&page=2": "benign",
    }
    for payload, label in cases.items():
        response = client.post("/predict", json={"payload": payload})
        assert response.status_code == 200
        body = response.get_json()
        assert body["label"] == label, payload
        assert 0.0 < body["score"] <= 1.0

    assert client.post("/predict", json={"text": "x"}).status_code == 400
    assert client.post("/predict", data="not json").status_code == 400
    assert client.post("/predict", json={"payload": "a" * 9000}).status_code == 413
