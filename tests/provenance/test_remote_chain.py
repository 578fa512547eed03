"""The chain against real servers: S3 (SeaweedFS) with credentials from Vault references, Vault
transit and KMS (moto's emulator) signing keys — and no secret value in the run store, reports or
events."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest
from pipeline_helpers import run_pipeline, step, use_fakes, write_project

from secpipe.keys.aws import AwsConfig, client
from secpipe.keys.signers import default_key_path
from secpipe.reports.json_report import render
from secpipe.runstore import RunStore
from servers import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, VAULT_TOKEN, Server, s3_client

pytestmark = pytest.mark.server


@pytest.fixture(autouse=True)
def _fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fakes(monkeypatch)


def _vault_s3_secret(vault: Server, path: str, secret: str) -> None:
    hvac.Client(url=vault.url, token=VAULT_TOKEN).secrets.kv.v2.create_or_update_secret(
        path=path, secret={"access_key": S3_ACCESS_KEY, "secret_key": secret},
        mount_point="secret")


def _s3_settings(server: Server, prefix: str, vault_path: str) -> str:
    return (f'{{uri: "s3://{S3_BUCKET}/{prefix}", endpoint_url: "{server.url}", '
            f'access_key: "${{vault:secret/{vault_path}#access_key}}", '
            f'secret_key: "${{vault:secret/{vault_path}#secret_key}}"}}')


def test_s3_chain_with_vault_credentials_leaks_no_secret(
        project: Path, s3_server: Server, vault_env: Server,
        capsys: pytest.CaptureFixture[str]) -> None:
    _vault_s3_secret(vault_env, "ci/s3", S3_SECRET_KEY)
    settings = _s3_settings(s3_server, f"chain/{project.parent.name}", "ci/s3")
    write_project(project, store=settings, load=settings)
    outcome, record, events = run_pipeline(project, "ml")
    assert outcome.exit_code == 0, [(s.step_id, s.message) for s in record.steps]
    stored = step(record, "store-model")
    assert stored.message.startswith("stored 5 file(s)")
    assert stored.artifacts[0].path.startswith(f"s3://{S3_BUCKET}/chain/")
    listed = s3_client(s3_server.url).list_objects_v2(  # type: ignore[attr-defined]
        Bucket=S3_BUCKET, Prefix=f"chain/{project.parent.name}/ml/{record.run_id}/")
    keys = [o["Key"].rsplit(f"{record.run_id}/", 1)[1] for o in listed["Contents"]]
    assert "manifest.json" in keys and "files/model/model.skops" in keys

    outcome, dev, dev_events = run_pipeline(project, "dev")
    assert outcome.exit_code == 0, step(dev, "load-model").message
    assert "signature verified" in step(dev, "load-model").message

    secret = S3_SECRET_KEY.encode()
    db = project / ".secpipe" / "runs.db"
    assert secret not in db.read_bytes()
    for wal in db.parent.glob("runs.db-*"):
        assert secret not in wal.read_bytes()
    store = RunStore(db)
    try:
        for run_id in (record.run_id, dev.run_id):
            assert S3_SECRET_KEY not in render(store.get_run(run_id))
    finally:
        store.close()
    assert S3_SECRET_KEY not in repr(events) + repr(dev_events)
    for path in (project / ".secpipe").rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_wrong_credentials_from_vault_fail_the_store_step_naming_no_secret(
        project: Path, s3_server: Server, vault_env: Server) -> None:
    _vault_s3_secret(vault_env, "ci/s3-wrong", "wrong-secret-from-vault-0001")
    prefix = f"denied/{project.parent.name}"
    write_project(project, store=_s3_settings(s3_server, prefix, "ci/s3-wrong"))
    outcome, record, events = run_pipeline(project, "ml")
    store_step = step(record, "store-model")
    assert outcome.exit_code == 2 and store_step.status.value == "error"
    assert "access denied" in store_step.message
    assert "wrong-secret-from-vault-0001" not in store_step.message + repr(events)
    listed = s3_client(s3_server.url).list_objects_v2(  # type: ignore[attr-defined]
        Bucket=S3_BUCKET, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0  # nothing half-written


def test_unresolvable_secret_reference_is_an_error_naming_it(
        project: Path, s3_server: Server, vault_env: Server) -> None:
    write_project(project, store=_s3_settings(s3_server, "unresolved", "ci/does-not-exist"))
    outcome, record, _ = run_pipeline(project, "ml")
    message = step(record, "store-model").message
    assert outcome.exit_code == 2
    assert "${vault:secret/ci/does-not-exist#access_key} did not resolve" in message


def test_store_down_is_a_clear_error(project: Path) -> None:
    write_project(project, store='{uri: "s3://b/p", endpoint_url: "http://127.0.0.1:9", '
                  'access_key: a, secret_key: b}')
    outcome, record, _ = run_pipeline(project, "ml")
    assert outcome.exit_code == 2
    assert "is unreachable" in step(record, "store-model").message


def test_vault_transit_signs_and_the_load_verifies_with_vaults_public_key(
        project: Path, vault_env: Server) -> None:
    hvac.Client(url=vault_env.url, token=VAULT_TOKEN).secrets.transit.create_key(
        name="chain", key_type="ecdsa-p256")
    key = "{key: vault-transit:transit/chain}"
    write_project(project, sign=key, load=key)
    outcome, record, _ = run_pipeline(project, "ml")
    assert outcome.exit_code == 0, step(record, "sign-model").message
    assert "vault-transit:transit/chain" in step(record, "sign-model").message
    assert not (project / ".secpipe" / "keys").exists()  # no local key was made
    assert not default_key_path().exists()
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 0, step(dev, "load-model").message


def test_kms_signs_and_the_load_verifies_with_the_kms_public_key(
        project: Path, aws_env: Server) -> None:
    kms = client("kms", AwsConfig(endpoint_url=aws_env.url))
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/secpipe-chain", TargetKeyId=key_id)
    key = "{key: awskms:alias/secpipe-chain}"
    write_project(project, sign=key, load=key)
    outcome, record, _ = run_pipeline(project, "ml")
    assert outcome.exit_code == 0, step(record, "sign-model").message
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 0, step(dev, "load-model").message
    published = project / ".secpipe" / "store" / "ml" / record.run_id / "files" / "model.sig"
    assert json.loads(published.read_text())["verificationMaterial"]["publicKey"]["hint"]


def test_oci_registry_chain(project: Path, oci_server: Server) -> None:
    settings = f'{{uri: "oci://{oci_server.url}/chain/{project.parent.name.lower()}", ' \
        'insecure: true}'
    write_project(project, store=settings, load=settings)
    outcome, record, _ = run_pipeline(project, "ml")
    assert outcome.exit_code == 0, [(s.step_id, s.message) for s in record.steps]
    outcome, dev, _ = run_pipeline(project, "dev")
    assert outcome.exit_code == 0, step(dev, "load-model").message
    assert "signature verified" in step(dev, "load-model").message
