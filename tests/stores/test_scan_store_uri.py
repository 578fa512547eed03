"""`secpipe scan models|secrets URI`: objects in a real S3 server (SeaweedFS) or a local store
folder are fetched, scanned, and reported at their store location."""

from __future__ import annotations

import json
import random
import string
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import main
from servers import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, Server, s3_client


def _malicious_torch_zip() -> bytes:
    # a state dict whose unpickling would call posix.system; written opcode by opcode
    call = b"cposix\nsystem\n(X\x04\x00\x00\x00trueR"
    data_pkl = b"\x80\x02}(X\x06\x00\x00\x00weight" + call + b"u."
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("ckpt/data.pkl", data_pkl)
        zf.writestr("ckpt/version", "3\n")
    return out.getvalue()


@pytest.fixture
def s3_env(s3_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return s3_server


@pytest.mark.server
def test_scan_models_in_s3(s3_env: Server, capsys: pytest.CaptureFixture[str]) -> None:
    client: Any = s3_client(s3_env.url)
    prefix = "scan-uri/models"
    client.put_object(Bucket=S3_BUCKET, Key=f"{prefix}/hub/encoder.bin",
                      Body=_malicious_torch_zip())
    client.put_object(Bucket=S3_BUCKET, Key=f"{prefix}/README.md", Body=b"a model folder\n")
    uri = f"s3://{S3_BUCKET}/{prefix}"
    assert main(["scan", "models", uri, "--json", "-q"]) == 1
    report = json.loads(capsys.readouterr().out)
    critical = [f for f in report["findings"] if f["severity"] == "critical"]
    assert critical, report["findings"]
    assert critical[0]["location"]["path"] == f"{uri}/hub/encoder.bin"
    assert critical[0]["properties"]["callable"] == "posix.system"
    assert report["run"]["project"] == uri


@pytest.mark.server
def test_empty_prefix_and_a_store_that_is_down_are_clear_errors(
        s3_env: Server, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "models", f"s3://{S3_BUCKET}/nothing-here", "-q"]) == 2
    assert "holds nothing there" in capsys.readouterr().err
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    assert main(["scan", "models", f"s3://{S3_BUCKET}/scan-uri", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("secpipe: error:") and "unreachable" in err


def test_scan_secrets_in_a_local_store_folder(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "store" / "run1"
    folder.mkdir(parents=True)
    rnd = random.Random(7)  # a fake token built at run time
    token = "hf_" + "".join(rnd.choice(string.ascii_letters) for _ in range(34))
    (folder / "notes.txt").write_text(f"HF_TOKEN={token}\n")
    uri = (tmp_path / "store").as_uri()
    assert main(["scan", "secrets", uri, "--json", "-q"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out)
    assert [f["location"]["path"] for f in report["findings"]] == [f"{uri}/run1/notes.txt"]
    assert token not in out


def test_uri_beside_local_paths_is_refused(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "models", "s3://b/p", str(tmp_path), "-q"]) == 2
    assert "one store URI at a time" in capsys.readouterr().err
