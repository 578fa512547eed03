"""Model signatures in the OpenSSF model-signing format: ours verify with the `model_signing`
CLI and theirs with ours; tampering, a wrong key and a missing signature are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from secpipe.keys.signers import LocalKeyFile
from secpipe.provenance.modelsig import (
    BUNDLE_MEDIA_TYPE,
    VerificationFailed,
    sign_model,
    verify_model,
)

MODEL_SIGNING = Path(sys.executable).parent / "model_signing"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "tokenizer").mkdir(parents=True)
    (root / "weights.bin").write_bytes(os.urandom(200_000))
    (root / "config.json").write_text('{"layers": 2}')
    (root / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return root


@pytest.fixture
def key(tmp_path: Path) -> LocalKeyFile:
    return LocalKeyFile(tmp_path / "keys" / "signing.pem")


def test_folder_signature_verifies_and_lists_every_file(model: Path, key: LocalKeyFile,
                                                        tmp_path: Path) -> None:
    signed = sign_model(model, tmp_path / "model.sig", key)
    assert sorted(signed.files) == ["config.json", "tokenizer/vocab.txt", "weights.bin"]
    bundle = json.loads((tmp_path / "model.sig").read_text())
    assert bundle["mediaType"] == BUNDLE_MEDIA_TYPE
    assert verify_model(model, tmp_path / "model.sig", key.public_pem()) == signed.files


def test_single_file_model_signs_and_verifies(model: Path, key: LocalKeyFile,
                                              tmp_path: Path) -> None:
    signed = sign_model(model / "weights.bin", tmp_path / "w.sig", key)
    assert list(signed.files) == ["."]
    verify_model(model / "weights.bin", tmp_path / "w.sig", key.public_pem())


def test_signature_inside_the_model_folder_is_not_part_of_the_model(model: Path,
                                                                    key: LocalKeyFile) -> None:
    signed = sign_model(model, model / "model.sig", key)
    assert "model.sig" not in signed.files
    verify_model(model, model / "model.sig", key.public_pem())


def test_flipping_one_byte_fails_naming_the_file(model: Path, key: LocalKeyFile,
                                                 tmp_path: Path) -> None:
    sign_model(model, tmp_path / "model.sig", key)
    data = bytearray((model / "weights.bin").read_bytes())
    data[12345] ^= 0x01
    (model / "weights.bin").write_bytes(bytes(data))
    with pytest.raises(VerificationFailed, match=r"weights.bin differs from its signed digest"):
        verify_model(model, tmp_path / "model.sig", key.public_pem())


def test_added_and_removed_files_are_named(model: Path, key: LocalKeyFile,
                                           tmp_path: Path) -> None:
    sign_model(model, tmp_path / "model.sig", key)
    (model / "config.json").unlink()
    (model / "backdoor.py").write_text("import os")
    with pytest.raises(VerificationFailed) as err:
        verify_model(model, tmp_path / "model.sig", key.public_pem())
    assert "missing: config.json" in str(err.value) and "not signed: backdoor.py" in str(err.value)


def test_wrong_key_is_refused(model: Path, key: LocalKeyFile, tmp_path: Path) -> None:
    sign_model(model, tmp_path / "model.sig", key)
    other = LocalKeyFile(tmp_path / "other.pem")
    with pytest.raises(VerificationFailed, match="different key"):
        verify_model(model, tmp_path / "model.sig", other.public_pem())


def test_forged_signature_with_matching_key_hint_is_refused(model: Path, key: LocalKeyFile,
                                                            tmp_path: Path) -> None:
    sign_model(model, tmp_path / "model.sig", key)
    bundle = json.loads((tmp_path / "model.sig").read_text())
    other = LocalKeyFile(tmp_path / "other.pem")
    sign_model(model, tmp_path / "other.sig", other)
    forged = json.loads((tmp_path / "other.sig").read_text())
    forged["verificationMaterial"] = bundle["verificationMaterial"]  # claim the trusted key
    (tmp_path / "forged.sig").write_text(json.dumps(forged))
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_model(model, tmp_path / "forged.sig", key.public_pem())


def test_missing_and_malformed_signatures_are_refused(model: Path, key: LocalKeyFile,
                                                      tmp_path: Path) -> None:
    with pytest.raises(VerificationFailed, match="does not exist"):
        verify_model(model, tmp_path / "none.sig", key.public_pem())
    (tmp_path / "bad.sig").write_text("{not json")
    with pytest.raises(VerificationFailed, match=r"bad.sig"):
        verify_model(model, tmp_path / "bad.sig", key.public_pem())


@pytest.mark.skipif(not MODEL_SIGNING.exists(), reason="model_signing CLI not installed")
def test_model_signing_cli_verifies_our_signature(model: Path, key: LocalKeyFile,
                                                  tmp_path: Path) -> None:
    sign_model(model, tmp_path / "model.sig", key)
    done = subprocess.run([str(MODEL_SIGNING), "verify", "key", str(model), "--signature",
                           str(tmp_path / "model.sig"), "--public_key", str(key.public_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout


@pytest.mark.skipif(not MODEL_SIGNING.exists(), reason="model_signing CLI not installed")
def test_we_verify_a_signature_made_by_the_model_signing_cli(model: Path,
                                                             tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "ec.pem"
    pem.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    done = subprocess.run([str(MODEL_SIGNING), "sign", "key", str(model), "--private_key",
                           str(pem), "--signature", str(tmp_path / "theirs.sig")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    assert "weights.bin" in verify_model(model, tmp_path / "theirs.sig", public)


def test_a_symlink_inside_the_model_is_refused(model: Path, key: LocalKeyFile,
                                               tmp_path: Path) -> None:
    from secpipe.core.errors import InputError

    (model / "escape").symlink_to("/etc/hostname")
    with pytest.raises(InputError, match="cannot hash"):
        sign_model(model, tmp_path / "model.sig", key)
    assert not (tmp_path / "model.sig").exists()
