"""An OCI registry as an artifact store, through ORAS (``oras`` on PyPI).

Nexus, Harbor, GHCR, Artifactory and the CNCF distribution registry all hold OCI artifacts. A
published run ``<pipeline>/<run-id>`` is one OCI artifact ``<repo>/<pipeline>:<run-id>``: every
file is a layer (titled with its path) and the OCI manifest is pushed LAST, which makes the
publication atomic — blobs without a manifest are invisible and garbage-collected by the registry.
Keys outside ``<pipeline>/<run-id>/…`` are refused: a registry holds published runs only.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError, StoreError
from secpipe.stores.interface import ArtifactStore, StoredObject, check_key

TITLE = "org.opencontainers.image.title"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE = "application/vnd.secpipe.run.v1"
CONFIG_MEDIA_TYPE = "application/vnd.secpipe.run.config.v1+json"
EMPTY_CONFIG = b"{}"
_CHUNK = 1 << 20


CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0
"""Seconds to connect to the registry, and that one socket read may wait."""


def _bound_requests(session: Any) -> None:
    """Give every request of the ORAS session a connect and read timeout (oras sets none), and
    make a timeout or a refused connection fail at once: oras retries any error five times with
    sleeps that add up to over two minutes."""
    import requests

    class RegistryUnreachable(requests.exceptions.SSLError):
        """The registry did not answer in time (an ``SSLError`` subclass only because oras's
        retry decorator re-raises that class at once instead of retrying it)."""

    send = session.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        try:
            return send(method, url, **kwargs)
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            raise RegistryUnreachable(f"no answer from the registry: {type(exc).__name__}") \
                from None

    session.request = request


class OciStore(ArtifactStore):
    """``oci://host[:port]/repo``; runs are ``repo/<pipeline>:<run-id>``."""

    def __init__(self, host: str, repo: str, insecure: bool = False,
                 username: str | None = None, password: str | None = None) -> None:
        try:
            import oras.client
        except ImportError:
            raise ConfigError("OCI stores need the 'oras' package",
                              hint="pip install 'secpipe[provenance]'") from None
        self.host = host
        self.repo = repo.strip("/")
        self.uri = f"oci://{host}/{self.repo}"
        self._scheme = "http" if insecure else "https"
        self._client: Any = oras.client.OrasClient(hostname=host, insecure=insecure)
        _bound_requests(self._client.session)
        if username and password:
            self._client.auth.set_basic_auth(username, password)
        self._pending: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._probe()

    # -- helpers ---------------------------------------------------------------------------
    def _probe(self) -> None:
        """Fail fast when the registry is down (oras itself retries for about two minutes)."""
        import requests

        try:
            answer = requests.get(f"{self._scheme}://{self.host}/v2/",
                                  timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            raise StoreError(f"store {self.uri} is unreachable ({type(exc).__name__})") from None
        if answer.status_code not in (200, 401):
            raise StoreError(f"store {self.uri}: {self.host} is not an OCI registry "
                             f"(HTTP {answer.status_code} on /v2/)")

    def _split(self, key: str) -> tuple[str, str, str]:
        parts = check_key(key).split("/", 2)
        if len(parts) != 3:
            raise StoreError(f"store {self.uri}: key {key!r} is not <pipeline>/<run-id>/<path>; "
                             "an OCI store holds published runs only")
        return parts[0], parts[1], parts[2]

    def _container(self, pipeline: str, run: str) -> str:
        return f"{self.host}/{self.repo}/{pipeline}:{run}"

    def _check(self, answer: Any, what: str) -> None:
        status = int(getattr(answer, "status_code", 0))
        if status in (200, 201, 202):
            return
        if status in (401, 403):
            raise StoreError(f"store {self.uri}: {what}: access denied (HTTP {status})",
                             hint="check the store's username / password")
        raise StoreError(f"store {self.uri}: {what}: HTTP {status}")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # requests / oras / jsonschema errors
            text = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise StoreError(f"store {self.uri}: {what}: {type(exc).__name__} {text}") from None

    def _manifest(self, pipeline: str, run: str) -> dict[str, Any] | None:
        url = f"{self._scheme}://{self.host}/v2/{self.repo}/{pipeline}/manifests/{run}"
        answer = self._call("read manifest", self._client.do_request, url, "GET",
                            headers={"Accept": MANIFEST_MEDIA_TYPE})
        if answer.status_code == 404:
            return None
        self._check(answer, f"read manifest of {pipeline}:{run}")
        data: dict[str, Any] = answer.json()
        return data

    def _layer(self, key: str) -> tuple[str, str, dict[str, Any]]:
        pipeline, run, rest = self._split(key)
        manifest = self._manifest(pipeline, run)
        layers = [] if manifest is None else manifest.get("layers", [])
        for layer in layers:
            if (layer.get("annotations") or {}).get(TITLE) == rest:
                return pipeline, run, layer
        raise StoreError(f"store {self.uri}: {key} does not exist")

    def _upload(self, pipeline: str, run: str, rest: str, path: Path, digest: str,
                size: int, media_type: str = "application/octet-stream") -> dict[str, Any]:
        layer = {"mediaType": media_type, "size": size, "digest": digest,
                 "annotations": {TITLE: rest}}
        container = self._container(pipeline, run)
        answer = self._call(f"upload {rest}", self._client.upload_blob, str(path), container,
                            layer)
        self._check(answer, f"upload {rest}")
        return layer

    # -- interface -------------------------------------------------------------------------
    def put_file(self, key: str, path: Path) -> StoredObject:
        pipeline, run, rest = self._split(key)
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        layer = self._upload(pipeline, run, rest, path, "sha256:" + digest.hexdigest(), size)
        with self._lock:
            self._pending.setdefault((pipeline, run), {})[rest] = layer
        return StoredObject(key, size, layer["digest"])

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        pipeline, run, rest = self._split(key)
        with tempfile.TemporaryDirectory(prefix="secpipe-oci-") as tmp:
            path = Path(tmp) / "blob"
            path.write_bytes(data)
            stored = self.put_file(key, path)
            if rest == "manifest.json":
                config = Path(tmp) / "config"
                config.write_bytes(EMPTY_CONFIG)
                self._commit(pipeline, run, config)
        return stored

    def _commit(self, pipeline: str, run: str, config: Path) -> None:
        """Push the OCI manifest (last): the run becomes visible atomically."""
        with self._lock:
            layers = self._pending.pop((pipeline, run), {})
        conf = {"mediaType": CONFIG_MEDIA_TYPE, "size": len(EMPTY_CONFIG),
                "digest": "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest()}
        self._check(self._call("upload config", self._client.upload_blob, str(config),
                               self._container(pipeline, run), conf), "upload config")
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
                    "artifactType": ARTIFACT_TYPE, "config": conf,
                    "layers": [layers[name] for name in sorted(layers)],
                    "annotations": {"dev.secpipe.pipeline": pipeline, "dev.secpipe.run": run}}
        url = f"{self._scheme}://{self.host}/v2/{self.repo}/{pipeline}/manifests/{run}"
        answer = self._call("push manifest", self._client.do_request, url, "PUT",
                            data=json.dumps(manifest).encode(),
                            headers={"Content-Type": MANIFEST_MEDIA_TYPE})
        self._check(answer, f"push manifest of {pipeline}:{run}")

    def get_file(self, key: str, dest: Path) -> StoredObject:
        pipeline, run, layer = self._layer(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            self._call(f"download {key}", self._client.download_blob,
                       self._container(pipeline, run), layer["digest"], tmp)
            digest = hashlib.sha256()
            size = 0
            with open(tmp, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return StoredObject(key, size, "sha256:" + digest.hexdigest())

    def get_bytes(self, key: str, max_bytes: int) -> bytes:
        _, _, layer = self._layer(key)
        if int(layer.get("size", 0)) > max_bytes:
            raise StoreError(f"store {self.uri}: {key} is larger than {max_bytes} bytes")
        with tempfile.TemporaryDirectory(prefix="secpipe-oci-") as tmp:
            got = self.get_file(key, Path(tmp) / "blob")
            if got.size > max_bytes:
                raise StoreError(f"store {self.uri}: {key} is larger than {max_bytes} bytes")
            return (Path(tmp) / "blob").read_bytes()

    def list(self, prefix: str = "") -> builtins.list[StoredObject]:
        pipeline = prefix.split("/", 1)[0]
        if not pipeline:
            raise StoreError(f"store {self.uri}: listing needs a pipeline prefix")
        url = f"{self._scheme}://{self.host}/v2/{self.repo}/{pipeline}/tags/list"
        answer = self._call("list tags", self._client.do_request, url, "GET")
        if answer.status_code == 404:
            return []
        self._check(answer, f"list runs of {pipeline}")
        found = []
        for tag in answer.json().get("tags") or []:
            manifest = self._manifest(pipeline, tag) or {}
            for layer in manifest.get("layers", []):
                title = (layer.get("annotations") or {}).get(TITLE)
                key = f"{pipeline}/{tag}/{title}"
                if title and key.startswith(prefix):
                    found.append(StoredObject(key, int(layer.get("size", 0)), layer["digest"]))
        return sorted(found, key=lambda o: o.key)

    def stat(self, key: str) -> StoredObject | None:
        try:
            _, _, layer = self._layer(key)
        except StoreError as exc:
            if "does not exist" in exc.message:
                return None
            raise
        return StoredObject(key, int(layer.get("size", 0)), layer["digest"])

    def delete(self, key: str) -> None:
        """Forget a pending upload; deleting ``manifest.json`` untags a published run."""
        pipeline, run, rest = self._split(key)
        with self._lock:
            pending = self._pending.get((pipeline, run), {})
            if rest in pending:
                pending.pop(rest)
                return
        if rest == "manifest.json" and self._manifest(pipeline, run) is not None:
            self._call("delete run", self._client.delete_tag,
                       f"{self.host}/{self.repo}/{pipeline}", run)
