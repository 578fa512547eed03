"""Done-when of the provenance issue on the embedded default (local store, local key): a run
signs, attests and stores the model; a second pipeline loads and verifies it; one flipped byte,
a forged manifest, a wrong key or a missing signature makes that load fail."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from pipeline_helpers import run_pipeline, step, use_fakes, write_project

from secpipe.keys.signers import LocalKeyFile
from secpipe.stores.manifest import Manifest


@pytest.fixture(autouse=True)
def _fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fakes(monkeypatch)


def _published(project: Path, run_id: str) -> Path:
    return project / ".secpipe" / "store" / "ml" / run_id


def test_ml_run_ends_with_a_signed_attested_model_in_the_store(project: Path) -> None:
    write_project(project)
    outcome, record, _ = run_pipeline(project, "ml")
    assert outcome.exit_code == 0, [(s.step_id, s.message) for s in record.steps]
    folder = _published(project, record.run_id)
    manifest = Manifest.from_json((folder / "manifest.json").read_bytes(), "m")
    assert manifest.signed is not None
    assert manifest.signed.model == "model/model.skops"
    names = {f.path for f in manifest.files}
    assert names == {"model/model.skops", "model.sig", "attestation.dsse.json", "signing.json",
                     "sbom.cdx.json"}  # datasets: digests only, unless `datasets: true`
    assert manifest.signed.sbom == "sbom.cdx.json"
    envelope = json.loads((folder / "files" / "attestation.dsse.json").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    model_digest = next(f.digest for f in manifest.files if f.path == "model/model.skops")
    assert statement["subject"] == [{"name": "model/model.skops",
                                     "digest": {"sha256": model_digest.split(":")[1]}}]
    kinds = {s["kind"]: s for s in statement["predicate"]["steps"]}
    assert kinds["scan-models"]["tool"] == "fake-scan 2.0"
    assert kinds["scan-models"]["status"] == "passed"
    assert statement["predicate"]["gates"][0]["passed"] is True
    assert statement["predicate"]["trainingData"][0]["name"] == "data.csv"
    sbom = (folder / "files" / "sbom.cdx.json").read_bytes()
    assert statement["predicate"]["sbom"]["digest"]["sha256"] == hashlib.sha256(sbom).hexdigest()
    assert step(record, "store-model").metrics["files_stored"] == len(manifest.files)

    outcome, dev, _ = run_pipeline(project, "dev")
    load = step(dev, "load-model")
    assert outcome.exit_code == 0, load.message
    assert "signature verified" in load.message
    loaded = {a.name: Path(a.path) for a in load.artifacts}
    assert loaded["model/model.skops"].read_bytes().startswith(b"SKOPS")


def test_flipping_one_byte_of_the_stored_model_makes_the_load_fail(project: Path) -> None:
    write_project(project)
    _, record, _ = run_pipeline(project, "ml")
    model = _published(project, record.run_id) / "files" / "model" / "model.skops"
    data = bytearray(model.read_bytes())
    data[100] ^= 0x01
    model.write_bytes(bytes(data))
    outcome, dev, _ = run_pipeline(project, "dev")
    load = step(dev, "load-model")
    assert outcome.exit_code == 2 and load.status.value == "error"
    assert "artifact model/model.skops" in load.message and "manifest digest" in load.message
    assert not (project / ".secpipe" / "runs" / dev.run_id / "load-model" / "artifacts").exists()


def test_a_forged_manifest_still_fails_on_the_signature(project: Path) -> None:
    """An attacker who can write the store swaps the model AND fixes its digest in the manifest."""
    write_project(project)
    _, record, _ = run_pipeline(project, "ml")
    folder = _published(project, record.run_id)
    model = folder / "files" / "model" / "model.skops"
    model.write_bytes(b"SKOPS-evil")
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == "model/model.skops":
            entry["digest"] = "sha256:" + hashlib.sha256(b"SKOPS-evil").hexdigest()
            entry["size"] = len(b"SKOPS-evil")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    outcome, dev, _ = run_pipeline(project, "dev")
    load = step(dev, "load-model")
    assert outcome.exit_code == 1 and load.status.value == "failed"
    assert "model.skops differs from its signed digest" in load.message
    assert not (project / ".secpipe" / "runs" / dev.run_id / "load-model" / "artifacts").exists()


def test_a_model_signed_with_another_key_is_refused(project: Path) -> None:
    write_project(project, load="{public_key: other.pub}")
    other = LocalKeyFile(project / "other.pem")
    other.public_pem()
    (project / "other.pub").write_bytes(other.public_path.read_bytes())
    run_pipeline(project, "ml")
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 1
    assert "different key" in step(dev, "load-model").message


def test_an_unsigned_run_fails_verification(project: Path) -> None:
    write_project(project)
    text = (project / "secpipe.yaml").read_text().replace(
        "      - {name: sign, steps: [{uses: sign, id: sign-model}]}\n", "")
    (project / "secpipe.yaml").write_text(text)
    outcome, _, _ = run_pipeline(project, "ml")
    assert outcome.exit_code == 0
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 1
    assert "no signed model" in step(dev, "load-model").message


def test_an_unmet_policy_fails_verification(project: Path) -> None:
    write_project(project, load="{require: [scan-code passed]}")
    run_pipeline(project, "ml")
    # the dev load step keeps verify: true and loses its own require, so the default applies
    text = (project / "secpipe.yaml").read_text().replace(
        ',\n                    require: ["scan-models passed", "gates passed", "train ran"]', "")
    (project / "secpipe.yaml").write_text(text)
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 1
    assert "policy: scan-code passed: no step scan-code ran" in step(dev, "load-model").message


def test_load_with_no_run_named_is_skipped_not_configured(project: Path) -> None:
    (project / "secpipe.yaml").write_text(
        "pipelines:\n  p:\n    stages:\n      - {name: l, steps: [{uses: load}]}\n")
    outcome, record, _ = run_pipeline(project, "p")
    assert outcome.exit_code == 0 and record.steps[0].status.value == "skipped"
    assert record.steps[0].message.startswith("not configured: ")


def test_load_latest_before_any_publication_is_skipped_nothing_found(project: Path) -> None:
    write_project(project)
    outcome, dev, _ = run_pipeline(project, "dev")
    load = step(dev, "load-model")
    assert outcome.exit_code == 0 and load.status.value == "skipped"
    assert load.message.startswith("nothing found: no published run of pipeline ml in ")


def test_load_of_an_unknown_run_id_stays_an_error(project: Path) -> None:
    write_project(project)
    text = (project / "secpipe.yaml").read_text().replace("run: latest", "run: x20990101")
    (project / "secpipe.yaml").write_text(text)
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 2
    assert "no published run of pipeline ml" in step(dev, "load-model").message
    run_pipeline(project, "ml")
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 2
    assert "no published run of ml matches 'x20990101'" in step(dev, "load-model").message


def test_an_sbom_swapped_together_with_its_manifest_entry_fails_verification(
        project: Path) -> None:
    write_project(project)
    _, record, _ = run_pipeline(project, "ml")
    folder = _published(project, record.run_id)
    sbom = folder / "files" / "sbom.cdx.json"
    forged = sbom.read_bytes().replace(b'"type": "data"', b'"type": "file"')
    assert forged != sbom.read_bytes()
    sbom.write_bytes(forged)
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == "sbom.cdx.json":
            entry["digest"] = "sha256:" + hashlib.sha256(forged).hexdigest()
            entry["size"] = len(forged)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 1
    assert "SBOM sbom.cdx.json does not match" in step(dev, "load-model").message


def test_load_by_uri_of_a_published_run_folder(project: Path) -> None:
    write_project(project)
    _, record, _ = run_pipeline(project, "ml")
    folder = _published(project, record.run_id)
    text = (project / "secpipe.yaml").read_text().replace(
        "with: {run: latest, pipeline: ml, verify: true,",
        f"with: {{source: '{folder.as_uri()}', verify: true,")
    (project / "secpipe.yaml").write_text(text)
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 0, step(dev, "load-model").message
    assert f"loaded run {record.run_id}" in step(dev, "load-model").message


def test_verify_step_checks_what_the_sign_step_of_the_run_wrote(project: Path) -> None:
    write_project(project)
    text = (project / "secpipe.yaml").read_text().replace(
        "      - {name: store, steps: [{uses: store, id: store-model}]}\n",
        "      - {name: verify, steps: [{uses: verify, with: {require: [models passed]}}]}\n"
        "      - {name: verify-2, steps: [{uses: verify, id: strict,"
        " with: {require: [scan-code passed]}}]}\n")
    (project / "secpipe.yaml").write_text(text)
    outcome, record, _ = run_pipeline(project, "ml")
    verify = step(record, "verify")
    assert verify.status.value == "passed", verify.message
    assert "signature, attestation, 1 policy requirement(s)" in verify.message
    strict = step(record, "strict")
    assert outcome.exit_code == 1 and strict.status.value == "failed"
    assert "no step scan-code ran" in strict.message


def test_datasets_are_published_only_on_request(project: Path) -> None:
    write_project(project, store="{datasets: true}")
    _, record, _ = run_pipeline(project, "ml")
    manifest = Manifest.from_json(
        (_published(project, record.run_id) / "manifest.json").read_bytes(), "m")
    entry = next(f for f in manifest.files if f.name == "data:data.csv")
    assert entry.path == "train/data_data.csv" and entry.step == "train"
