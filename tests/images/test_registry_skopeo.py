"""A third-party client on the same registry: skopeo (containers/image) reads what push_image
pushed, and pull_image reads what skopeo pushed. (Debian's skopeo is built with sigstore
disabled, so it cannot check the signatures themselves.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from image_builders import build_oci_layout, read_blob

from secpipe.images import open_image
from secpipe.images.registry import pull_image, push_image
from servers import Server, oci_server

__all__ = ["oci_server"]
pytestmark = pytest.mark.server


def _skopeo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("skopeo")
    if exe is None:
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    return subprocess.run([exe, "--policy", str(policy), *args], capture_output=True, text=True,
                          timeout=60, env=env, check=False)


def test_skopeo_reads_what_secpipe_pushed(oci_server: Server, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    digest = build_oci_layout(layout, [{"srv/app.py": b"print('hi')\n"},
                                       {"srv/data": bytes(range(256)) * 32}])
    push_image(layout, None, oci_server.url, "w4/interop", "v1", insecure=True)
    raw = _skopeo(tmp_path, "inspect", "--raw", "--tls-verify=false",
                  f"docker://{oci_server.url}/w4/interop:v1")
    assert raw.returncode == 0, raw.stderr[-2000:]
    assert raw.stdout.encode() == read_blob(layout, digest)
    copied = _skopeo(tmp_path, "copy", "--src-tls-verify=false",
                     f"docker://{oci_server.url}/w4/interop@{digest}", f"oci:{tmp_path / 'c'}:x")
    assert copied.returncode == 0, copied.stderr[-2000:]


def test_secpipe_pulls_what_skopeo_pushed(oci_server: Server, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    digest = build_oci_layout(layout, [{"etc/hostname": b"skopeo\n"}], ref_name="v1")
    pushed = _skopeo(tmp_path, "copy", "--dest-tls-verify=false", "--preserve-digests",
                     f"oci:{layout}:v1", f"docker://{oci_server.url}/w4/from-skopeo:v1")
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    dest = pull_image(oci_server.url, "w4/from-skopeo", digest, tmp_path / "pulled",
                      insecure=True)
    with open_image(dest) as image:
        assert image.manifest_digest == digest
