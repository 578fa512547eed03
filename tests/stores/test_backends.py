"""Every store backend behaves the same: the local folder and S3 on a real SeaweedFS server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secpipe.core.errors import StoreError
from secpipe.keys.refs import SecretResolver
from secpipe.stores.interface import ArtifactStore, check_key, safe_name
from secpipe.stores.local import LocalStore
from secpipe.stores.open import StoreSettings, open_store
from servers import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, Server


def _s3(url: str, prefix: str, secret: str = S3_SECRET_KEY) -> ArtifactStore:
    settings = StoreSettings(uri=f"s3://{S3_BUCKET}/{prefix}", endpoint_url=url,
                             access_key=S3_ACCESS_KEY, secret_key=secret)
    return open_store(settings.uri, settings, Path("."), SecretResolver(Path(".")))


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.server)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    server: Server = request.getfixturevalue("s3_server")
    return _s3(server.url, f"backends/{tmp_path.name}")


def test_put_get_list_stat_delete_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(3 << 20))
    put = store.put_file("run/files/model/weights.bin", src)
    assert put.size == 3 << 20 and put.digest and put.digest.startswith("sha256:")
    store.put_bytes("run/manifest.json", b"{}")
    assert [o.key for o in store.list("run/")] == ["run/files/model/weights.bin",
                                                   "run/manifest.json"]
    got = store.get_file("run/files/model/weights.bin", tmp_path / "out" / "w.bin")
    assert got.digest == put.digest and (tmp_path / "out" / "w.bin").read_bytes() == \
        src.read_bytes()
    assert store.get_bytes("run/manifest.json", 100) == b"{}"
    stat = store.stat("run/manifest.json")
    assert stat is not None and stat.size == 2
    assert store.stat("run/none") is None
    store.delete("run/manifest.json")
    assert store.stat("run/manifest.json") is None


def test_missing_object_and_oversized_read_are_store_errors(store: ArtifactStore,
                                                            tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        store.get_file("nothing/here", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    store.put_bytes("big", b"x" * 100)
    with pytest.raises(StoreError, match="larger than"):
        store.get_bytes("big", 10)


def test_put_dir_uploads_a_folder_and_refuses_symlinks(store: ArtifactStore,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    assert [o.key for o in store.put_dir("m", folder)] == ["m/a.txt", "m/sub/b.txt"]
    (folder / "link").symlink_to("/etc/passwd")
    with pytest.raises(StoreError, match="symbolic link"):
        store.put_dir("m2", folder)


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a/./b", "trailing/", "a b"])
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(StoreError, match="invalid store key"):
        check_key(key)


def test_artifact_names_become_safe_keys() -> None:
    assert safe_name("data:data/requests.csv") == "data_data/requests.csv"
    assert safe_name("../../etc/passwd") == "etc/passwd"
    assert safe_name("..") == "artifact"


@pytest.mark.server
def test_bad_credentials_are_access_denied_naming_no_secret(s3_server: Server,
                                                            tmp_path: Path) -> None:
    store = _s3(s3_server.url, "denied", secret="wrong-secret-value")
    src = tmp_path / "f"
    src.write_text("x")
    with pytest.raises(StoreError, match="access denied") as err:
        store.put_file("k", src)
    assert "wrong-secret-value" not in err.value.diagnostic()


def test_store_down_is_a_clear_connection_error(tmp_path: Path) -> None:
    store = _s3("http://127.0.0.1:9", "down")
    with pytest.raises(StoreError, match="unreachable"):
        store.list("")


def test_unsupported_scheme_is_a_config_error(tmp_path: Path) -> None:
    from secpipe.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unsupported scheme 'ftp'"):
        open_store("ftp://user:pw@host/x", StoreSettings(), tmp_path, SecretResolver(tmp_path))


@pytest.mark.parametrize("uri", ["s3://[bucket/x", "oci://[::1/repo", "s3://host:port/b"])
def test_unparseable_uri_is_a_config_error(tmp_path: Path, uri: str) -> None:
    from secpipe.core.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot be parsed"):
        open_store(uri, StoreSettings(), tmp_path, SecretResolver(tmp_path))
