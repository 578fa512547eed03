"""Issue 10, "sign and store what ships": on a Flask app serving a pickled model, the file the
app loads is scanned, gated, signed and stored, with the same digest all along; glob forms; steps
with nothing to do end SKIPPED ("not configured: " / "nothing found: "), never passed; and
`secpipe run devsecops` runs its scans and gate before any model was published.

The model is a pickle of a plain dict, written with ``pickle.dumps`` and only ever scanned."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import main
from secpipe.runstore import RunStore
from secpipe.runstore.records import RunRecord
from secpipe.stores.manifest import Manifest

APP = '''"""A small Flask app serving the model."""
import pickle

from flask import Flask, jsonify, request

app = Flask(__name__)
with open("model.pkl", "rb") as fh:
    MODEL = pickle.load(fh)


@app.post("/predict")
def predict():
    x = request.get_json()["x"]
    return jsonify(y=sum(c * v for c, v in zip(MODEL["coef"], x)) + MODEL["intercept"])
'''

DOCKERFILE = """FROM python:3.11-slim
COPY app.py model.pkl requirements.txt /app/
RUN pip install -r /app/requirements.txt
USER 10001
CMD ["flask", "--app", "/app/app.py", "run"]
"""

SHIP = """
version: 1
pipelines:
  ship:
    stages:
      - {{name: model-scan, steps: [{{uses: scan-models, id: models}}]}}
      - {{name: model-gate, steps: [{{uses: gate, id: model-gate}}]}}
      - {{name: sign, steps: [{{uses: sign, id: sign-model, with: {sign}}}]}}
      - {{name: store, steps: [{{uses: store, id: store-app, with: {store}}}]}}
  use:
    stages:
      - name: load
        steps:
          - uses: load
            id: load-model
            with: {{run: latest, pipeline: ship, verify: true,
                    require: ["scan-models passed", "gates passed"]}}
"""


def _app(project: Path) -> bytes:
    model = pickle.dumps({"coef": [0.25, -1.5, 3.0], "intercept": 0.5, "classes": ["a", "b"]})
    (project / "model.pkl").write_bytes(model)
    (project / "app.py").write_text(APP)
    (project / "requirements.txt").write_text("flask==3.0.3\nscikit-learn==1.5.2\n")
    (project / "Dockerfile").write_text(DOCKERFILE)
    return model


def _configure(project: Path, sign: str = "{model: model.pkl}",
               store: str = "{paths: [app.py, requirements.txt]}") -> None:
    (project / "secpipe.yaml").write_text(SHIP.format(sign=sign, store=store))


def _run(project: Path, name: str, expected: int | None = 0) -> RunRecord:
    code = main(["run", name, "-C", str(project), "-q"])
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        record = store.get_run(store.resolve("latest"))
    finally:
        store.close()
    if expected is not None:
        assert code == expected, [(s.step_id, s.status.value, s.message) for s in record.steps]
    return record


def _step(record: RunRecord, step_id: str) -> Any:
    return next(s for s in record.steps if s.step_id == step_id)


def _manifest(project: Path, record: RunRecord) -> tuple[Path, Manifest]:
    folder = project / ".secpipe" / "store" / record.pipeline / record.run_id
    return folder, Manifest.from_json((folder / "manifest.json").read_bytes(), "manifest")


def test_the_model_the_app_loads_is_scanned_signed_and_stored_with_one_digest(
        project: Path) -> None:
    model = _app(project)
    _configure(project)
    record = _run(project, "ship")
    digest = hashlib.sha256(model).hexdigest()
    assert _step(record, "models").status.value == "passed"
    assert _step(record, "models").metrics["files_scanned"] >= 1  # it scanned model.pkl
    sign = _step(record, "sign-model")
    assert sign.status.value == "passed"
    signed = {a.name: a.digest for a in sign.artifacts}
    assert signed["model/model.pkl"] == f"sha256:{digest}"

    folder, manifest = _manifest(project, record)
    stored = {f.path: f.digest for f in manifest.files}
    assert stored["model/model.pkl"] == f"sha256:{digest}"
    assert manifest.signed is not None and manifest.signed.model == "model/model.pkl"
    assert {"project/app.py", "project/requirements.txt", "model.sig",
            "attestation.dsse.json"} <= set(stored)
    assert (folder / "files" / "model" / "model.pkl").read_bytes() == model
    envelope = json.loads((folder / "files" / "attestation.dsse.json").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["subject"] == [{"name": "model/model.pkl", "digest": {"sha256": digest}}]
    assert {s["kind"] for s in statement["predicate"]["steps"]} >= {"scan-models", "gate"}

    use = _run(project, "use")  # the consumer verifies signature, attestation and policy
    assert "signature verified" in _step(use, "load-model").message


def test_the_model_named_in_paths_too_is_stored_once_as_the_signed_model(project: Path) -> None:
    _app(project)
    _configure(project, store="{paths: [app.py, model.pkl, Dockerfile]}")
    record = _run(project, "ship")
    _, manifest = _manifest(project, record)
    paths = [f.path for f in manifest.files]
    assert "model/model.pkl" in paths and "project/model.pkl" not in paths
    assert {"project/app.py", "project/Dockerfile"} <= set(paths)


def test_glob_forms_for_the_model_and_the_project_files(project: Path) -> None:
    model = _app(project)
    (project / "templates").mkdir()
    (project / "templates" / "index.html").write_text("<p>hi</p>\n")
    (project / "templates" / ".cache").write_text("not shipped\n")
    (project / "static" / "css").mkdir(parents=True)
    (project / "static" / "css" / "site.css").write_text("p {}\n")
    _configure(project, sign="{model: '*.pkl'}",
               store="{paths: ['*.py', 'requirements*.txt', templates, 'static/**/*.css']}")
    record = _run(project, "ship")
    _, manifest = _manifest(project, record)
    stored = {f.path: f.digest for f in manifest.files}
    assert stored["model/model.pkl"] == "sha256:" + hashlib.sha256(model).hexdigest()
    assert {"project/app.py", "project/requirements.txt", "project/templates/index.html",
            "project/static/css/site.css"} <= set(stored)
    assert "project/templates/.cache" not in stored  # dot files only by a pattern naming them


def test_a_model_glob_matching_several_files_is_refused_naming_them(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _app(project)
    (project / "old-model.pkl").write_bytes(pickle.dumps({"coef": []}))
    _configure(project, sign="{model: '*.pkl'}")
    record = _run(project, "ship", expected=2)
    sign = _step(record, "sign-model")
    assert sign.status.value == "error"
    assert "matched 2 paths (model.pkl, old-model.pkl)" in sign.message
    assert not (project / ".secpipe" / "store" / "ship").exists()


def test_paths_may_not_climb_out_of_the_project(project: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _app(project)
    _configure(project, sign="{model: ../model.pkl}")
    assert main(["run", "ship", "-C", str(project), "-q"]) == 2
    assert "climbs out of the project" in capsys.readouterr().err
    _configure(project, store="{paths: ['../**/*.py']}")
    assert main(["run", "ship", "-C", str(project), "-q"]) == 2
    assert "climbs out of the project" in capsys.readouterr().err


def test_symbolic_links_out_of_the_project_are_never_matched(project: Path,
                                                             tmp_path: Path) -> None:
    _app(project)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pkl").write_bytes(b"not the project's")
    (project / "linked.pkl").symlink_to(outside / "secret.pkl")
    (project / "linked").symlink_to(outside)
    _configure(project, sign="{model: '*.pkl'}", store="{paths: ['**/*.pkl', 'linked*']}")
    record = _run(project, "ship")
    _, manifest = _manifest(project, record)
    assert [f.path for f in manifest.files if "pkl" in f.path] == ["model/model.pkl"]
    _configure(project, sign="{model: linked.pkl}")
    record = _run(project, "ship", expected=2)
    assert "leads outside the project" in _step(record, "sign-model").message


@pytest.mark.parametrize(("sign", "store", "sign_says", "store_says"), [
    ("{}", "{}", "not configured: no with.model", "not configured: no earlier step"),
    ("{model: 'models/*.onnx'}", "{paths: ['dist/*.whl']}",
     "nothing found: with.model 'models/*.onnx' matched no file",
     "nothing found: no earlier step of the run produced an artifact and with.paths "
     "(dist/*.whl) matched no file"),
])
def test_sign_and_store_with_nothing_to_do_are_skipped_not_passed(
        project: Path, sign: str, store: str, sign_says: str, store_says: str) -> None:
    _app(project)
    _configure(project, sign=sign, store=store)
    record = _run(project, "ship")
    for step_id, says in (("sign-model", sign_says), ("store-app", store_says)):
        result = _step(record, step_id)
        assert result.status.value == "skipped" and result.message.startswith(says), \
            result.message
    assert not (project / ".secpipe" / "store" / "ship").exists()


def test_load_with_nothing_named_or_nothing_published_is_skipped(project: Path) -> None:
    _app(project)
    _configure(project)
    use = _run(project, "use")
    load = _step(use, "load-model")
    assert load.status.value == "skipped"
    assert load.message.startswith("nothing found: no published run of pipeline ship in file:")
    (project / "secpipe.yaml").write_text(
        "pipelines:\n  p:\n    stages:\n      - {name: l, steps: [{uses: load, id: l}]}\n")
    load = _step(_run(project, "p"), "l")
    assert load.status.value == "skipped" and load.message.startswith("not configured: ")


def test_devsecops_runs_its_scans_and_gate_without_a_published_model(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _app(project)
    (project / "secpipe.yaml").write_text("version: 1\n")
    record = _run(project, "devsecops")
    load = _step(record, "load-model")
    assert load.status.value == "skipped"
    assert load.message.startswith("nothing found: no published run of pipeline mlsecops")
    ran = {s.kind: s.status.value for s in record.steps}
    assert ran["scan-secrets"] == "passed" and ran["gate"] == "passed"
    assert record.status == "passed"


def test_builtin_pipelines_ship_the_project_model_set_in_defaults(project: Path) -> None:
    """The team's own project, no train step: `defaults` name what ships; mlsecops scans, signs
    and stores it, then devsecops loads it back with its signature verified."""
    model = _app(project)
    (project / "secpipe.yaml").write_text(
        "version: 1\ndefaults:\n  sign: {model: model.pkl}\n"
        "  store: {paths: [app.py, requirements.txt, Dockerfile]}\n")
    ml = _run(project, "mlsecops")
    assert _step(ml, "sign-model").status.value == "passed"
    _, manifest = _manifest(project, ml)
    entry = manifest.file("model/model.pkl")
    assert entry is not None and entry.digest == "sha256:" + hashlib.sha256(model).hexdigest()
    dev = _run(project, "devsecops")
    load = _step(dev, "load-model")
    assert load.status.value == "passed" and "signature verified" in load.message
