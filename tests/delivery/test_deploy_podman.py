"""The ``deploy`` step's podman target with real podman (runc, slirp4netns): a tiny OCI image
made from busybox-static (``busybox httpd`` serving /health and /predict.json) deployed through
the real Runner; the later stage reaches it; after the run the container is gone from
secpipe's store (``podman ps -a --root …``) and its process by PID; a target that is never
ready is an error and is removed at once."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import helpers_delivery  # noqa: F401  (puts tests/images on the path)
import pytest
from deploy_helpers import gone, run_pipeline, step_results
from image_builders import Member, build_oci_layout, directory, symlink

from secpipe.core import registry
from secpipe.core.results import StepStatus
from secpipe.core.step import StepContext
from secpipe.delivery.deploy import DeploySettings, DeployStep
from secpipe.delivery.deploy_podman import RUNTIME, PodmanStore, store_for

BUSYBOX = Path("/bin/busybox")

pytestmark = [
    pytest.mark.external,
    pytest.mark.skipif(shutil.which("podman") is None or not Path(RUNTIME).exists()
                       or shutil.which("slirp4netns") is None or not BUSYBOX.is_file(),
                       reason="needs podman, runc, slirp4netns and busybox-static "
                              "(apt-get install podman runc slirp4netns busybox-static)"),
]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout: busybox httpd on 8080 (exposed) serving /www."""
    out = tmp_path_factory.mktemp("image") / "layout"
    build_oci_layout(out, [{
        "bin": directory(), "bin/busybox": Member(data=BUSYBOX.read_bytes(), mode=0o755),
        "bin/sh": symlink("busybox"), "www": directory(), "www/health": b"ok\n",
        "www/predict.json": b'{"label": "sqli", "score": 0.9}\n',
    }], config={"config": {
        "ExposedPorts": {"8080/tcp": {}},
        "Cmd": ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"]}},
        ref_name="latest")
    return out


@pytest.fixture(autouse=True)
def _kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN_STEPS, "deploy",
                        ("secpipe.delivery.deploy", "DeployStep"))
    monkeypatch.setitem(registry.BUILTIN_STEPS, "t-probe", ("deploy_helpers", "ProbeStep"))


def _containers(root: str, runroot: str) -> str:
    argv = ["podman", *PodmanStore(Path(root), Path(runroot)).args(), "ps", "-a", "--no-trunc",
            "--format", "{{.ID}} {{.Names}}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout


def test_podman_deploys_the_image_and_removes_the_container(project: Path,
                                                            layout: Path) -> None:
    config = {"pipelines": {"p": {"stages": [
        {"name": "deploy", "steps": [{"uses": "deploy", "id": "deploy", "with": {
            "image": str(layout),
            "health": {"path": "/health", "timeout_seconds": 30, "interval_seconds": 0.2},
            "smoke": {"path": "/predict.json", "method": "GET",
                      "expect_keys": ["label", "score"], "expect": {"label": "sqli"}}}}]},
        {"name": "verify", "steps": [{"uses": "t-probe", "id": "probe",
                                      "with": {"then": "fail", "list_containers": True}}]},
    ]}}}
    started = time.monotonic()
    outcome, _store, events = run_pipeline(project, json.dumps(config))
    deploy = step_results(events)["deploy"]
    assert deploy.status == "passed", deploy.message
    assert deploy.findings == 0 and deploy.metrics["smoke_latency_ms"] > 0
    assert outcome.exit_code == 2  # the later step failed on purpose, after reaching it
    seen = next(project.glob(".secpipe/runs/*/probe/probe.txt")).read_text()
    assert seen.startswith("200 ")
    record = json.loads(next(project.glob(".secpipe/runs/*/deploy/deployment.json")).read_text())
    assert record["kind"] == "podman"
    assert record["container_name"] == f"secpipe-{outcome.run_id}-deploy"
    assert len(record["container_id"]) == 64 and record["image_digest"].startswith("sha256:")
    assert record["pid"] and gone(record["pid"])
    during = next(project.glob(".secpipe/runs/*/probe/containers.txt")).read_text()
    assert f"{record['container_id']} {record['container_name']}" in during
    listed = _containers(record["podman_root"], record["podman_runroot"])
    assert record["container_id"] not in listed and record["container_name"] not in listed
    assert time.monotonic() - started < 30
    shutil.rmtree(record["podman_runroot"], ignore_errors=True)


def test_a_container_never_ready_is_an_error_and_removed_at_once(project: Path,
                                                                 layout: Path,
                                                                 tmp_path: Path) -> None:
    settings = DeploySettings.model_validate({
        "image": str(layout), "health": {"path": "/missing", "timeout_seconds": 2,
                                         "interval_seconds": 0.2}})
    ctx = StepContext(project_root=project, workdir=tmp_path / "work", run_id="r1",
                      step_id="deploy", cache_dir=tmp_path / "cache")
    result = DeployStep().run(ctx, settings)
    assert result.status is StepStatus.ERROR
    assert "not ready after 2 s (last: status 404)" in result.message
    assert "response:404" in result.message  # busybox's log line, from podman logs
    store = store_for(tmp_path / "cache", tmp_path / "work")
    assert "secpipe-r1-deploy" not in _containers(str(store.root), str(store.runroot))
    assert ctx.run_end_hooks() == 0
    shutil.rmtree(store.runroot, ignore_errors=True)
