"""Push and pull images against a real OCI registry (Debian's docker-registry), and a lying
registry simulated in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from image_builders import build_oci_layout, docker_archive, oci_archive, read_blob

from secpipe.core.errors import InputError
from secpipe.images import open_image
from secpipe.images.registry import (
    RegistryClient,
    RegistryDigestMismatch,
    RegistryError,
    check_repo,
    pull_image,
    push_image,
    resolve,
    sha256_digest,
)
from servers import Server, oci_server

__all__ = ["oci_server"]

LAYERS = [{"etc/os-release": b"ID=debian\n", "app/main.py": b"print('hi')\n"},
          {"app/data.bin": bytes(range(256)) * 64}]


def _layout(tmp_path: Path, layers: list[dict[str, bytes]] | None = None) -> tuple[Path, str]:
    folder = tmp_path / "layout"
    digest = build_oci_layout(folder, layers or LAYERS)
    return folder, digest


def test_push_then_pull_by_digest_round_trip(oci_server: Server, tmp_path: Path) -> None:
    layout, digest = _layout(tmp_path)
    pushed = push_image(layout, None, oci_server.url, "w4/roundtrip", "v1", insecure=True)
    assert pushed.digest == digest
    assert pushed.blobs_uploaded == 3 and pushed.blobs_present == 0
    assert resolve(oci_server.url, "w4/roundtrip", "v1", insecure=True) == digest
    again = push_image(layout, None, oci_server.url, "w4/roundtrip", "v2", insecure=True)
    assert again.blobs_uploaded == 0 and again.blobs_present == 3
    dest = pull_image(oci_server.url, "w4/roundtrip", digest, tmp_path / "pulled", insecure=True)
    with open_image(dest) as image:
        assert image.manifest_digest == digest
        assert len(image.layers) == 2
        for layer in image.layers:
            blob = image.open_layer(layer)
            blob.finish()
            blob.close()
    assert read_blob(dest, digest) == read_blob(layout, digest)


def test_push_an_oci_archive(oci_server: Server, tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "img.tar", [{"a.txt": b"archive\n"}])
    with open_image(archive) as image:
        pushed = push_image(archive, image, oci_server.url, "w4/archive", "v1", insecure=True)
        assert pushed.digest == image.manifest_digest


def test_docker_archive_is_refused(oci_server: Server, tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "d.tar", [{"a.txt": b"x"}])
    with pytest.raises(RegistryError, match="docker-archive"):
        push_image(archive, None, oci_server.url, "w4/docker", "v1", insecure=True)


def test_pull_by_tag_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="by digest"):
        pull_image("127.0.0.1:1", "w4/x", "latest", tmp_path / "p", insecure=True)


def test_pull_missing_digest(oci_server: Server, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        pull_image(oci_server.url, "w4/none", "sha256:" + "0" * 64, tmp_path / "p",
                   insecure=True)


def test_pull_into_non_empty_folder_is_refused(oci_server: Server, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x").write_text("x")
    with pytest.raises(RegistryError, match="not an empty folder"):
        pull_image(oci_server.url, "w4/none", "sha256:" + "0" * 64, tmp_path / "p",
                   insecure=True)


def test_blob_tampered_in_the_registry_fails_the_pull(oci_server: Server, tmp_path: Path) -> None:
    layout, digest = _layout(tmp_path, [{"tamper/me": b"A" * 4096}])
    push_image(layout, None, oci_server.url, "w4/tamper", "v1", insecure=True)
    layer = json.loads(read_blob(layout, digest))["layers"][0]["digest"].split(":")[1]
    stored = next(oci_server.data.glob(f"blobs/**/blobs/sha256/{layer[:2]}/{layer}/data"))
    original = stored.read_bytes()
    stored.write_bytes(bytes(len(original)))
    try:
        with pytest.raises(RegistryDigestMismatch, match="hashes to"):
            pull_image(oci_server.url, "w4/tamper", digest, tmp_path / "p", insecure=True)
        assert not (tmp_path / "p" / "blobs").exists()
    finally:
        stored.write_bytes(original)


def test_unreachable_registry_is_a_clear_error(tmp_path: Path) -> None:
    layout, _ = _layout(tmp_path)
    with pytest.raises(RegistryError, match=r"ping|ConnectionError"):
        push_image(layout, None, "127.0.0.1:1", "w4/x", "v1", insecure=True)


@pytest.mark.parametrize("name", ["UPPER/case", "a//b", "../x", "a/b/", "", "x" * 300])
def test_bad_repository_names(name: str) -> None:
    with pytest.raises(InputError):
        check_repo(name)


# -- a registry that lies, simulated ---------------------------------------------------------
class _Answer:
    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                 ) -> None:
        self.status_code = status
        self.body = body
        self.headers = headers or {}

    def iter_content(self, size: int) -> Any:
        for i in range(0, len(self.body), size):
            yield self.body[i:i + size]

    def close(self) -> None:
        pass


class _Session:
    def __init__(self, routes: dict[tuple[str, str], _Answer]) -> None:
        self.routes = routes
        self.headers: dict[str, str] = {}
        self.auth = None

    def request(self, method: str, url: str, **_: Any) -> _Answer:
        path = url.split("/v2", 1)[1].split("?")[0]
        return self.routes.get((method, path), _Answer(404))


def _lying_client(routes: dict[tuple[str, str], _Answer]) -> RegistryClient:
    client = RegistryClient("lying.example:5000", insecure=True)
    client.session = _Session(routes)
    return client


def _manifest(blobs: list[tuple[bytes, int]]) -> bytes:
    descs = [{"mediaType": "application/octet-stream", "digest": sha256_digest(data),
              "size": size} for data, size in blobs]
    return json.dumps({"schemaVersion": 2,
                       "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": descs[0], "layers": descs[1:]}).encode()


def _pull_from(client: RegistryClient, digest: str, dest: Path,
               monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("secpipe.images.registry.RegistryClient", lambda *a, **k: client)
    return pull_image("lying.example:5000", "w4/lie", digest, dest, insecure=True)


def test_manifest_that_does_not_hash_to_its_digest(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _manifest([(b"{}", 2)])
    wanted = sha256_digest(raw + b" ")
    client = _lying_client({("GET", f"/w4/lie/manifests/{wanted}"): _Answer(200, raw)})
    with pytest.raises(RegistryDigestMismatch, match="hashes to"):
        _pull_from(client, wanted, tmp_path / "p", monkeypatch)


def test_blob_larger_than_its_descriptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = b"{}"
    raw = _manifest([(config, 1)])
    digest = sha256_digest(raw)
    client = _lying_client({
        ("GET", f"/w4/lie/manifests/{digest}"): _Answer(200, raw),
        ("GET", f"/w4/lie/blobs/{sha256_digest(config)}"): _Answer(200, config)})
    with pytest.raises(RegistryDigestMismatch, match="larger than"):
        _pull_from(client, digest, tmp_path / "p", monkeypatch)
    assert not (tmp_path / "p" / "blobs").exists()


def test_manifest_with_absurd_sizes_or_digests(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ({"digest": "sha256:../../etc/passwd", "size": 1},
                {"digest": "sha256:" + "a" * 64, "size": 1 << 62},
                {"digest": "sha256:" + "a" * 64, "size": -1}):
        raw = json.dumps({"schemaVersion": 2,
                          "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": bad, "layers": []}).encode()
        digest = sha256_digest(raw)
        client = _lying_client({("GET", f"/w4/lie/manifests/{digest}"): _Answer(200, raw)})
        with pytest.raises(RegistryError):
            _pull_from(client, digest, tmp_path / f"p{abs(hash(raw))}", monkeypatch)


def test_oversized_manifest_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = b"{" + b" " * (5 << 20) + b"}"
    digest = sha256_digest(raw)
    client = _lying_client({("GET", f"/w4/lie/manifests/{digest}"): _Answer(200, raw)})
    with pytest.raises(RegistryError, match="larger than"):
        _pull_from(client, digest, tmp_path / "p", monkeypatch)


def test_upload_location_pointing_elsewhere_is_refused() -> None:
    client = _lying_client({("POST", "/w4/lie/blobs/uploads/"): _Answer(
        202, headers={"Location": "http://evil.example/upload"})})
    with pytest.raises(RegistryError, match="elsewhere"):
        client.upload_blob("w4/lie", sha256_digest(b"x"), 1, b"x")


class _TokenSession(_Session):
    """A registry with distribution token auth: 401 + Bearer challenge without the token."""

    def __init__(self) -> None:
        super().__init__({})
        self.token_queries: list[Any] = []
        self.basic: list[Any] = []

    def request(self, method: str, url: str, **kwargs: Any) -> _Answer:
        if url.startswith("https://auth.example/token"):
            self.token_queries.append(kwargs.get("params"))
            self.basic.append(kwargs.get("auth"))
            return _Answer(200, json.dumps({"token": "t0k"}).encode())
        if (kwargs.get("headers") or {}).get("Authorization") != "Bearer t0k":
            return _Answer(401, headers={"WWW-Authenticate": (
                'Bearer realm="https://auth.example/token",service="reg",'
                'scope="repository:w4/lie:pull"')})
        return _Answer(404)


def test_bearer_token_challenge_is_answered() -> None:
    client = RegistryClient("lying.example:5000", insecure=True, username="u", password="p")
    session = _TokenSession()
    client.session = session
    assert client.has_blob("w4/lie", sha256_digest(b"x")) is False
    assert session.token_queries == [{"service": "reg", "scope": "repository:w4/lie:pull"}]
    assert session.basic == [("u", "p")]


def test_token_realm_must_be_https() -> None:
    client = RegistryClient("lying.example:5000", insecure=False)
    client.session = _Session({("GET", "/w4/lie/manifests/v1"): _Answer(401, headers={
        "WWW-Authenticate": 'Bearer realm="http://evil.example/token"'})})
    with pytest.raises(RegistryError, match="not an HTTPS URL"):
        client.get_manifest("w4/lie", "v1")


def test_push_by_digest_only(oci_server: Server, tmp_path: Path) -> None:
    layout, digest = _layout(tmp_path, [{"only/by/digest": b"d\n"}])
    pushed = push_image(layout, None, oci_server.url, "w4/bydigest", None, insecure=True)
    assert pushed.reference == f"{oci_server.url}/w4/bydigest@{digest}"
    client = RegistryClient(oci_server.url, insecure=True)
    assert client.get_manifest("w4/bydigest", digest) is not None
    with pytest.raises(RegistryError, match="not a valid OCI tag"):
        push_image(layout, None, oci_server.url, "w4/bydigest", "bad tag!", insecure=True)
