"""End to end through the runner: build (buildah) -> scan image -> gate -> sign -> store (a real
registry), then ``secpipe verify`` of the pushed image; a re-tagged unsigned image fails."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from image_builders import build_oci_layout

from secpipe.cli.main import main
from secpipe.images.registry import push_image
from secpipe.runstore import RunStore
from servers import Server, oci_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scanners" / "image"))
import image_scan_helpers as h

__all__ = ["oci_server"]

PIPELINE = """version: 1
defaults:
  sign: {{key: "file:{key}", reference: "{registry}/e2e/app"}}
  store: {{registry: "http://{registry}", tag: "v1"}}
pipelines:
  ship-image:
    stages:
      - name: build
        steps: [{{uses: build-image, id: image,
                  with: {{tag: "localhost/e2e:1", source_date_epoch: 1700000000}}}}]
      - {{name: image-scan, steps: [{{uses: scan-image, id: image-scan,
                                      with: {{database: "{db}"}}}}]}}
      - {{name: image-gate, steps: [{{uses: gate, id: image-gate}}]}}
      - {{name: sign-image, steps: [{{uses: sign, id: sign-image}}]}}
      - {{name: store-image, steps: [{{uses: store, id: store-image}}]}}
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h.make_database(tmp_path_factory.mktemp("e2edb"))


@pytest.mark.skipif(shutil.which("buildah") is None, reason="buildah is not installed")
def test_build_scan_gate_sign_store_verify(oci_server: Server, tmp_path: Path, db: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "keys" / "signing.pem"
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /srv/hello.txt\n"
                                        "USER 10001\n")
    (project / "hello.txt").write_text("served\n")
    (project / "secpipe.yaml").write_text(PIPELINE.format(key=key, registry=oci_server.url,
                                                          db=db))
    code = main(["run", "ship-image", "-C", str(project), "-q"])
    store = RunStore(project / ".secpipe" / "runs.db")
    try:
        record = store.get_run(store.resolve("latest"))
    finally:
        store.close()
    steps = {s.step_id: s for s in record.steps}
    assert code == 0, [(s.step_id, s.status.value, s.message) for s in record.steps]
    assert steps["image-scan"].status.value == "passed"
    assert steps["sign-image"].status.value == "passed"
    assert "pushed" in steps["store-image"].message
    pushed = next(a for a in steps["store-image"].artifacts if a.name == "image")
    built = next(a for a in steps["image"].artifacts if a.name == "image")
    assert pushed.digest == built.digest
    assert pushed.path == f"oci://{oci_server.url}/e2e/app@{built.digest}"
    capsys.readouterr()
    verify = ["verify", "-C", str(project), "--key", f"{key}.pub", "--insecure"]
    assert main([*verify, "--require-attestation", pushed.path]) == 0
    assert main([*verify, f"oci://{oci_server.url}/e2e/app:v1"]) == 0
    other = tmp_path / "unsigned"
    build_oci_layout(other, [{"srv/hello.txt": b"not what was signed\n"}])
    push_image(other, None, oci_server.url, "e2e/app", "v1", insecure=True)
    assert main([*verify, f"oci://{oci_server.url}/e2e/app:v1"]) == 1
    assert "no valid signature" in capsys.readouterr().out
