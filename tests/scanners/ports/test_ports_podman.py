"""scan-ports on a podman deployment with real podman (runc, slirp4netns) and real nmap: a tiny
busybox image whose container serves httpd on its published port 8080 and opens a second
httpd on 5678 (the debugpy port) inside only. The scan runs inside the container's network
namespace (nsenter, as root) and reports the inside-only port; the machine's own listeners
are not the deployment's. The container is removed at the end (the deploy step's run-end
hook)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secpipe.core.findings import Severity
from secpipe.core.results import FinishedStep, StepResult, StepStatus
from secpipe.core.step import StepContext
from secpipe.delivery.deploy import DeploySettings, DeployStep
from secpipe.delivery.deploy_podman import RUNTIME
from secpipe.scanners.ports.step import PortScanSettings, PortScanStep

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images"))
from image_builders import Member, build_oci_layout, directory, symlink

BUSYBOX = Path("/bin/busybox")
pytestmark = [
    pytest.mark.external,
    pytest.mark.skipif(shutil.which("podman") is None or not Path(RUNTIME).exists()
                       or shutil.which("slirp4netns") is None or not BUSYBOX.is_file()
                       or shutil.which("nmap") is None,
                       reason="needs podman, runc, slirp4netns, busybox-static and nmap"),
]
SCRIPT = ("/bin/busybox httpd -p 127.0.0.1:5678 -h /www && "
          "exec /bin/busybox httpd -f -p 8080 -h /www")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StepContext,
                                                                        StepResult]]:
    tmp = tmp_path_factory.mktemp("podman-ports")
    layout = tmp / "layout"
    build_oci_layout(layout, [{
        "bin": directory(), "bin/busybox": Member(data=BUSYBOX.read_bytes(), mode=0o755),
        "bin/sh": symlink("busybox"), "www": directory(), "www/health": b"ok\n",
    }], config={"config": {"ExposedPorts": {"8080/tcp": {}},
                           "Cmd": ["/bin/sh", "-c", SCRIPT]}}, ref_name="latest")
    ctx = StepContext(project_root=tmp, workdir=tmp / "deploy", run_id="ports1",
                      step_id="deploy", cache_dir=tmp / "cache")
    settings = DeploySettings.model_validate({
        "image": str(layout), "health": {"path": "/health", "timeout_seconds": 30,
                                         "interval_seconds": 0.2}})
    result = DeployStep().run(ctx, settings)
    try:
        assert result.status is StepStatus.PASSED, result.message
        yield ctx, result
    finally:
        assert ctx.run_end_hooks() == 0


def _scan(tmp: Path, deploy: StepResult, **settings: object) -> StepResult:
    earlier = (FinishedStep("deploy", "deploy", "deploy", deploy),)
    ctx = StepContext(project_root=tmp, workdir=tmp / "work", earlier=earlier, timeout=120)
    return PortScanStep().run(ctx, PortScanSettings.model_validate(settings))


@pytest.mark.skipif(os.geteuid() != 0, reason="nsenter into the container needs root")
def test_a_port_opened_inside_the_container_only_is_found(
        deployed: tuple[StepContext, StepResult], tmp_path: Path) -> None:
    _ctx, deploy = deployed
    result = _scan(tmp_path, deploy)
    assert result.status is StepStatus.PASSED, result.message
    by_rule = {(f.rule_id, f.location.path): f for f in result.findings}
    name = "secpipe-ports1-deploy"
    debug = by_rule.pop(("ports.forbidden-open", f"tcp://{name}:5678"))
    assert debug.severity is Severity.CRITICAL
    assert dict(debug.properties)["service"]  # nmap reached it inside and named it
    assert dict(debug.properties)["listen_address"] == "127.0.0.1"
    assert by_rule == {}  # 8080 is the published container port: allowed; nothing else
    assert result.metrics["open_ports"] == 2 and "8080/tcp open http" in result.message


def test_without_nsenter_ports_come_from_proc_and_the_mapping_is_judged(
        deployed: tuple[StepContext, StepResult], tmp_path: Path) -> None:
    _ctx, deploy = deployed
    result = _scan(tmp_path, deploy, nsenter_program=str(tmp_path / "no-nsenter"),
                   allowed_ports=[9000])
    by_rule: dict[str, list[str]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule_id, []).append(f.location.path)
    # the published container port 8080 is not allowed: reported at its loopback address
    (published,) = [f for f in result.findings if dict(f.properties).get("container_port")]
    assert published.rule_id == "ports.unexpected-open"
    assert published.location.path.startswith("tcp://127.0.0.1:")
    # the inside-only debug port is still found, from the container's /proc table
    assert by_rule["ports.forbidden-open"] == ["tcp://secpipe-ports1-deploy:5678"]
    (note,) = [f for f in result.findings if f.rule_id == "ports.scan-incomplete"]
    assert note.severity is Severity.LOW and "without service names" in note.message


@pytest.mark.skipif(os.geteuid() != 0, reason="the nsenter path is only taken as root")
def test_an_nsenter_that_fails_is_said_not_passed(
        deployed: tuple[StepContext, StepResult], tmp_path: Path) -> None:
    _ctx, deploy = deployed
    fake = tmp_path / "nsenter"
    fake.write_text("#!/bin/sh\necho \"nsenter: reassociate to namespace 'ns/net' failed: "
                    "Operation not permitted\" >&2\nexit 1\n")
    fake.chmod(0o755)
    result = _scan(tmp_path, deploy, nsenter_program=str(fake))
    found = {f.rule_id: f for f in result.findings}
    assert found["ports.forbidden-open"].location.path.endswith(":5678")
    note = found["ports.scan-incomplete"]
    assert note.severity is Severity.LOW and "Operation not permitted" in note.message


def test_a_container_whose_process_is_gone_scans_its_published_port_and_says_so(
        deployed: tuple[StepContext, StepResult], tmp_path: Path) -> None:
    import json
    import subprocess

    from secpipe.core.artifacts import Artifact

    _ctx, deploy = deployed
    (artifact,) = [a for a in deploy.artifacts if a.name == "deployment"]
    record = json.loads(Path(artifact.path).read_text())
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    record["pid"] = int(done.stdout)  # a process that has exited
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(record))
    stale = StepResult(artifacts=(Artifact.from_file("deployment", path, "application/json"),))
    result = _scan(tmp_path, stale)
    (note,) = result.findings  # the published 8080 is the allowed container port
    assert note.rule_id == "ports.scan-incomplete" and note.severity is Severity.MEDIUM
    assert "ports opened inside are unseen" in note.message
    assert result.metrics["open_ports"] == 1
