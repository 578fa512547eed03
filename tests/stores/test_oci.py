"""OCI registry store through ORAS against a real registry (Debian's docker-registry): atomic
publication (OCI manifest last), digest checks, interop with oras' own pull, faults."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError, StoreError
from secpipe.keys.refs import SecretResolver
from secpipe.stores.interface import ArtifactStore
from secpipe.stores.manifest import LocalFile, fetch, publish, published_runs, run_prefix
from secpipe.stores.oci import MANIFEST_MEDIA_TYPE
from secpipe.stores.open import StoreSettings, open_store
from servers import Server

pytestmark = pytest.mark.server
RUN = "20260101-000000-aaaa"


def _store(server: Server, repo: str) -> ArtifactStore:
    settings = StoreSettings(uri=f"oci://{server.url}/{repo}", insecure=True)
    return open_store(settings.uri, settings, Path("."), SecretResolver(Path(".")))


def _files(tmp_path: Path) -> list[LocalFile]:
    (tmp_path / "src").mkdir()
    weights = tmp_path / "src" / "weights.bin"
    weights.write_bytes(os.urandom(2_000_000))
    config = tmp_path / "src" / "config.json"
    config.write_text("{}")
    return [LocalFile("model/weights.bin", weights, "model/weights.bin"),
            LocalFile("model/config.json", config, "model/config.json")]


def test_publish_list_fetch_round_trip(oci_server: Server, tmp_path: Path) -> None:
    store = _store(oci_server, f"rt/{tmp_path.name.lower()}")
    files = _files(tmp_path)
    publish(store, run_prefix("ml", RUN), "ml", RUN, files)
    assert published_runs(store, "ml") == [RUN]
    _, paths = fetch(store, run_prefix("ml", RUN), tmp_path / "out")
    assert paths["model/weights.bin"].read_bytes() == files[0].source.read_bytes()
    with pytest.raises(StoreError, match="already published"):
        publish(store, run_prefix("ml", RUN), "ml", RUN, files)


def test_oras_pulls_what_we_published(oci_server: Server, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import oras.client

    repo = f"interop/{tmp_path.name.lower()}"
    files = _files(tmp_path)
    publish(_store(oci_server, repo), run_prefix("ml", RUN), "ml", RUN, files)
    monkeypatch.chdir(tmp_path)
    pulled = oras.client.OrasClient(insecure=True).pull(
        target=f"{oci_server.url}/{repo}/ml:{RUN}", outdir=str(tmp_path / "oras"))
    assert sorted(Path(p).relative_to(tmp_path / "oras").as_posix() for p in pulled) == [
        "files/model/config.json", "files/model/weights.bin", "manifest.json"]
    manifest = json.loads((tmp_path / "oras" / "manifest.json").read_text())
    assert manifest["run_id"] == RUN


def test_a_swapped_layer_fails_the_load_naming_the_artifact(oci_server: Server,
                                                            tmp_path: Path) -> None:
    """Someone with push rights re-tags the run with a manifest pointing at another blob."""
    import oras.client

    repo = f"tamper/{tmp_path.name.lower()}"
    store = _store(oci_server, repo)
    files = _files(tmp_path)
    publish(store, run_prefix("ml", RUN), "ml", RUN, files)
    client = oras.client.OrasClient(hostname=oci_server.url, insecure=True)
    base = f"http://{oci_server.url}/v2/{repo}/ml"
    manifest = client.do_request(f"{base}/manifests/{RUN}", "GET",
                                 headers={"Accept": MANIFEST_MEDIA_TYPE}).json()
    evil = tmp_path / "evil.bin"
    data = bytearray(files[0].source.read_bytes())
    data[0] ^= 0x01
    evil.write_bytes(bytes(data))
    layer = next(x for x in manifest["layers"]
                 if x["annotations"]["org.opencontainers.image.title"] == "files/model/weights.bin")
    layer["digest"] = "sha256:" + hashlib.sha256(bytes(data)).hexdigest()
    client.upload_blob(str(evil), f"{oci_server.url}/{repo}/ml:{RUN}", layer)
    answer = client.do_request(f"{base}/manifests/{RUN}", "PUT",
                               data=json.dumps(manifest).encode(),
                               headers={"Content-Type": MANIFEST_MEDIA_TYPE})
    assert answer.status_code == 201
    with pytest.raises(StoreError, match=r"artifact model/weights\.bin .* manifest digest"):
        fetch(store, run_prefix("ml", RUN), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_keys_outside_a_run_are_refused(oci_server: Server) -> None:
    with pytest.raises(StoreError, match="holds published runs only"):
        _store(oci_server, "keys").put_bytes("loose-file", b"x")


def test_registry_down_and_bad_uri_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unreachable"):
        open_store("oci://127.0.0.1:9/models", StoreSettings(insecure=True), tmp_path,
                   SecretResolver(tmp_path))
    with pytest.raises(ConfigError, match="oci://host/repository"):
        open_store("oci://127.0.0.1:9", StoreSettings(), tmp_path, SecretResolver(tmp_path))
