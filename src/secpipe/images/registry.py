"""Push container images to an OCI registry and pull them back by digest, verified.

A small client of the OCI distribution API (no daemon, no ``oras``): blobs are uploaded with the
monolithic ``POST`` + ``PUT ?digest=`` flow after a ``HEAD`` shows the registry lacks them, the
manifest is pushed LAST with the exact bytes whose digest names the image. A pull is by digest
only: the manifest's bytes must hash to the digest asked for, and every blob is streamed to a
bounded temporary file, checked against its descriptor's size and digest, and only then moved to
its place in the OCI image layout written to ``dest``. Nothing read from the registry is executed
or used as a path (digests are validated before they name a file).

Every problem with what the registry returns raises :class:`RegistryError` (an
:class:`~secpipe.core.errors.InputError`); a blob or manifest that does not match its digest
raises :class:`RegistryDigestMismatch`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

from secpipe.core.errors import InputError
from secpipe.images.layout import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_MANIFEST,
    Image,
    Layer,
    open_image,
)

MAX_MANIFEST_BYTES = 4 << 20
"""Largest manifest (or referrers index) accepted from a registry."""
MAX_BLOB_BYTES = 8 << 30
"""Largest single blob pulled or pushed."""
MAX_SMALL_BLOB_BYTES = 16 << 20
"""Largest blob read into memory (signature payloads, attestations, configs)."""
MAX_LAYERS = 1_000
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 30.0
_CHUNK = 1 << 20
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_CHALLENGE = re.compile(r'([A-Za-z]+)="([^"]*)"')
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MANIFEST_ACCEPT = ", ".join(sorted(MANIFEST_TYPES | INDEX_TYPES))


class RegistryError(InputError):
    """The registry refused a request, is unreachable, or answered something malformed."""


class RegistryDigestMismatch(RegistryError):
    """A manifest or blob from the registry does not match the digest or size it was asked by."""


def check_digest(value: str, what: str = "digest") -> str:
    """``value`` when it is ``sha256:<64 hex>``; else :class:`RegistryError`."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise RegistryError(f"{what}: {str(value)[:80]!r} is not a sha256 digest")
    return value


def check_repo(repo: str) -> str:
    """``repo`` when it is a valid OCI repository name."""
    if not isinstance(repo, str) or len(repo) > 255 or not _REPO.match(repo):
        raise RegistryError(f"repository name {str(repo)[:80]!r} is not a valid OCI name")
    return repo


def check_tag(tag: str) -> str:
    """``tag`` when it is a valid OCI tag."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise RegistryError(f"tag {str(tag)[:80]!r} is not a valid OCI tag")
    return tag


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Manifest:
    """A manifest fetched from a registry: its exact bytes, digest and parsed content."""

    digest: str
    media_type: str
    raw: bytes
    content: Mapping[str, Any]

    @property
    def descriptor(self) -> Descriptor:
        """Its descriptor (for a ``subject`` or an index entry)."""
        return Descriptor(self.media_type, self.digest, len(self.raw))


@dataclass(frozen=True)
class PushResult:
    """What :func:`push_image` pushed."""

    reference: str
    """``registry/repo@sha256:…``."""
    digest: str
    blobs_uploaded: int
    blobs_present: int


class RegistryClient:
    """A bounded client of one registry (``host:port``); plain HTTP when ``insecure``."""

    def __init__(self, registry: str, *, insecure: bool = False, username: str | None = None,
                 password: str | None = None) -> None:
        import requests

        host = registry.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
        if not host or "/" in host or any(c.isspace() for c in host):
            raise RegistryError(f"registry {registry!r}: give it as host[:port]")
        self.host = host
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "secpipe"
        self.insecure = insecure
        self._basic = (username, password) if username and password else None
        self._token: str | None = None

    # -- plumbing ------------------------------------------------------------------------------
    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        answer = self._send(method, url, what, **kwargs)
        challenge = answer.headers.get("WWW-Authenticate", "") if answer.status_code == 401 \
            else ""
        if challenge.lower().startswith("bearer "):  # token auth: get one for this scope
            answer.close()
            self._token = None
            self._token = self._fetch_token(challenge[7:])
            seek = getattr(kwargs.get("data"), "seek", None)
            if callable(seek):
                seek(0)
            answer = self._send(method, url, what, **kwargs)
        return answer

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> Any:
        import requests

        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        kwargs.setdefault("stream", True)  # bodies are read bounded, never whole
        headers = dict(kwargs.pop("headers", None) or {})
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        elif self._basic is not None:
            kwargs["auth"] = self._basic
        try:
            return self.session.request(method, url, headers=headers, **kwargs)
        except requests.RequestException as exc:
            raise RegistryError(f"registry {self.host}: {what}: {type(exc).__name__}") from None

    def _fetch_token(self, params: str) -> str:
        """A bearer token from the challenge's realm (the distribution token protocol)."""
        fields = dict(_CHALLENGE.findall(params))
        realm = fields.get("realm", "")
        if not realm.startswith("https://") and not (self.insecure and
                                                     realm.startswith("http://")):
            raise RegistryError(f"registry {self.host}: token realm {realm[:120]!r} is not an "
                                "HTTPS URL")
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        answer = self._send("GET", realm, "get a token", params=query, stream=True)
        if answer.status_code != 200:
            raise self._fail(answer, "get a token")
        doc = _parse_json(self._read_bounded(answer, 64 << 10, "token answer"), "token answer")
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not token or len(token) > 16 << 10:
            raise RegistryError(f"registry {self.host}: the token answer holds no token")
        return token

    def _fail(self, answer: Any, what: str) -> RegistryError:
        status = int(answer.status_code)
        detail = ""
        with contextlib.suppress(Exception):
            errors = json.loads(answer.raw.read(4096, decode_content=True)).get("errors") or []
            detail = "; ".join(str(e.get("code", "")) + " " + str(e.get("message", ""))
                               for e in errors[:3] if isinstance(e, Mapping))[:300]
        with contextlib.suppress(Exception):
            answer.close()
        if status in (401, 403):
            return RegistryError(f"registry {self.host}: {what}: access denied (HTTP {status})",
                                 hint="check the registry's username / password")
        return RegistryError(f"registry {self.host}: {what}: HTTP {status}"
                             + (f" ({detail.strip()})" if detail.strip() else ""))

    def _read_bounded(self, answer: Any, limit: int, what: str) -> bytes:
        declared = answer.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise RegistryError(f"registry {self.host}: {what} is {declared} bytes "
                                f"(limit {limit})")
        parts, total = [], 0
        for chunk in answer.iter_content(_CHUNK):
            total += len(chunk)
            if total > limit:
                answer.close()
                raise RegistryError(f"registry {self.host}: {what} is larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def _url(self, repo: str, kind: str, ref: str) -> str:
        return f"{self.base}/v2/{check_repo(repo)}/{kind}/{ref}"

    # -- API -----------------------------------------------------------------------------------
    def ping(self) -> None:
        """Fail fast unless ``/v2/`` answers like a registry."""
        answer = self._request("GET", f"{self.base}/v2/", "ping")
        answer.close()
        if answer.status_code not in (200, 401):
            raise RegistryError(f"registry {self.host}: not an OCI registry "
                                f"(HTTP {answer.status_code} on /v2/)")

    def has_blob(self, repo: str, digest: str) -> bool:
        """True when the repository holds blob ``digest``."""
        answer = self._request("HEAD", self._url(repo, "blobs", check_digest(digest)),
                               f"check blob {digest}")
        if answer.status_code in (200, 404):
            answer.close()
        if answer.status_code == 200:
            return True
        if answer.status_code == 404:
            return False
        raise self._fail(answer, f"check blob {digest}")

    def upload_blob(self, repo: str, digest: str, size: int, body: IO[bytes] | bytes) -> None:
        """A monolithic upload (``POST`` then ``PUT ?digest=``) of ``size`` bytes."""
        check_digest(digest)
        start = self._request("POST", f"{self.base}/v2/{check_repo(repo)}/blobs/uploads/",
                              f"start upload of {digest}")
        if start.status_code != 202 or not start.headers.get("Location"):
            raise self._fail(start, f"start upload of {digest}")
        start.close()
        location = urljoin(self.base + "/", start.headers["Location"])
        if not location.startswith(self.base + "/"):
            raise RegistryError(f"registry {self.host}: upload location points elsewhere")
        location += ("&" if "?" in location else "?") + f"digest={digest}"
        done = self._request("PUT", location, f"upload {digest}", data=body,
                             headers={"Content-Type": "application/octet-stream",
                                      "Content-Length": str(size)})
        if done.status_code != 201:
            raise self._fail(done, f"upload {digest}")
        done.close()

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        """Push manifest bytes under ``ref`` (a tag or their digest); returns their digest."""
        digest = sha256_digest(raw)
        if ref.startswith("sha256:"):
            if ref != digest:
                raise RegistryError(f"manifest pushed by digest {ref} hashes to {digest}")
        else:
            check_tag(ref)
        answer = self._request("PUT", self._url(repo, "manifests", ref), f"push manifest {ref}",
                               data=raw, headers={"Content-Type": media_type})
        if answer.status_code not in (200, 201):
            raise self._fail(answer, f"push manifest {ref}")
        answer.close()
        echoed = answer.headers.get("Docker-Content-Digest")
        if echoed and echoed != digest:
            raise RegistryDigestMismatch(f"registry {self.host}: stored manifest as {echoed}, "
                                         f"its bytes hash to {digest}")
        return digest

    def get_manifest(self, repo: str, ref: str, *, expect: str | None = None) -> Manifest | None:
        """The manifest ``ref`` (tag or digest), or None when absent.

        By digest (or with ``expect``), its bytes must hash to that digest.
        """
        if ref.startswith("sha256:"):
            expect = check_digest(ref)
        else:
            check_tag(ref)
        answer = self._request("GET", self._url(repo, "manifests", ref),
                               f"read manifest {ref}", stream=True,
                               headers={"Accept": MANIFEST_ACCEPT})
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise self._fail(answer, f"read manifest {ref}")
        raw = self._read_bounded(answer, MAX_MANIFEST_BYTES, f"manifest {ref}")
        digest = sha256_digest(raw)
        if expect is not None and digest != expect:
            raise RegistryDigestMismatch(f"registry {self.host}: manifest {ref} hashes to "
                                         f"{digest}, not {expect}")
        content = _parse_json(raw, f"manifest {ref}")
        media = content.get("mediaType") or answer.headers.get("Content-Type", "").split(";")[0]
        if not isinstance(media, str) or media not in MANIFEST_TYPES | INDEX_TYPES:
            raise RegistryError(f"registry {self.host}: manifest {ref} has media type "
                                f"{str(media)[:80]!r}")
        return Manifest(digest, media, raw, content)

    @contextlib.contextmanager
    def open_blob(self, repo: str, digest: str) -> Iterator[Any]:
        """The streaming HTTP answer for blob ``digest`` (caller verifies)."""
        answer = self._request("GET", self._url(repo, "blobs", check_digest(digest)),
                               f"read blob {digest}", stream=True)
        try:
            if answer.status_code != 200:
                raise self._fail(answer, f"read blob {digest}")
            yield answer
        finally:
            answer.close()

    def get_blob_bytes(self, repo: str, desc: Descriptor, limit: int = MAX_SMALL_BLOB_BYTES,
                       ) -> bytes:
        """A small blob, verified against its descriptor's size and digest."""
        if desc.size > limit:
            raise RegistryError(f"blob {desc.digest} is {desc.size} bytes (limit {limit})")
        with self.open_blob(repo, desc.digest) as answer:
            data = self._read_bounded(answer, desc.size, f"blob {desc.digest}")
        _check_bytes(data, desc)
        return data

    def push_blob_bytes(self, repo: str, data: bytes, media_type: str) -> Descriptor:
        """Upload ``data`` unless present; its descriptor."""
        desc = Descriptor(media_type, sha256_digest(data), len(data))
        if not self.has_blob(repo, desc.digest):
            self.upload_blob(repo, desc.digest, desc.size, data)
        return desc

    def referrers(self, repo: str, digest: str) -> list[Mapping[str, Any]] | None:
        """The referrers API's descriptors for ``digest``, or None when the registry lacks it."""
        answer = self._request("GET", self._url(repo, "referrers", check_digest(digest)),
                               "list referrers", stream=True,
                               headers={"Accept": "application/vnd.oci.image.index.v1+json"})
        if answer.status_code in (404, 405) or (
                answer.status_code == 200 and "index" not in
                answer.headers.get("Content-Type", "")):
            answer.close()
            return None
        if answer.status_code != 200:
            raise self._fail(answer, "list referrers")
        index = _parse_json(self._read_bounded(answer, MAX_MANIFEST_BYTES, "referrers"),
                            "referrers index")
        return _manifest_list(index, "referrers index")


def _parse_json(raw: bytes, what: str) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise RegistryError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return value


def _manifest_list(index: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    entries = index.get("manifests")
    if not isinstance(entries, list) or len(entries) > 10_000:
        raise RegistryError(f"{what}: no bounded manifests list")
    return [e for e in entries if isinstance(e, Mapping)]


def _check_bytes(data: bytes, desc: Descriptor) -> None:
    if len(data) != desc.size:
        raise RegistryDigestMismatch(f"blob {desc.digest}: {len(data)} bytes, its descriptor "
                                     f"says {desc.size}")
    if sha256_digest(data) != desc.digest:
        raise RegistryDigestMismatch(f"blob {desc.digest}: content hashes to "
                                     f"{sha256_digest(data)}")


def descriptor(value: Any, what: str) -> Descriptor:
    """A validated descriptor from JSON (sha256 digest, bounded non-negative size)."""
    if not isinstance(value, Mapping):
        raise RegistryError(f"{what}: not a descriptor")
    digest = check_digest(value.get("digest"), what)  # type: ignore[arg-type]
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BLOB_BYTES:
        raise RegistryError(f"{what}: size {str(size)[:40]!r} is not a bounded byte count")
    media = value.get("mediaType")
    return Descriptor(media if isinstance(media, str) else "", digest, size)


def manifest_blobs(content: Mapping[str, Any]) -> list[Descriptor]:
    """The config and layer descriptors of an image manifest, validated and bounded."""
    layers = content.get("layers")
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
        raise RegistryError(f"manifest: layers missing or more than {MAX_LAYERS}")
    blobs = [descriptor(content.get("config"), "manifest config")]
    blobs += [descriptor(layer, f"manifest layer {i}") for i, layer in enumerate(layers)]
    return blobs


# -- push ----------------------------------------------------------------------------------------
def _blob_from_image(desc: Descriptor) -> Layer:
    algo, _, hexpart = desc.digest.partition(":")
    return Layer(index=-1, path=f"blobs/{algo}/{hexpart}", digest=desc.digest, size=desc.size,
                 media_type=desc.media_type, compression="none", diff_id=None)


def push_image(layout_path: Path | str, image: Image | None, registry_url: str, repo: str,
               tag: str | None, insecure: bool = False, *, username: str | None = None,
               password: str | None = None) -> PushResult:
    """Push the image (an OCI layout or oci-archive at ``layout_path``; ``image`` when already
    opened with :func:`~secpipe.images.open_image`) to ``registry_url`` (``host:port``) as
    ``repo:tag`` (no tag: by digest only). Blobs first, each verified while read, the manifest
    last with its exact bytes. Returns the manifest digest."""
    client = RegistryClient(registry_url, insecure=insecure, username=username,
                            password=password)
    check_repo(repo)
    if tag is not None:
        check_tag(tag)
    opened = image is None
    img = open_image(layout_path) if image is None else image
    try:
        if img.manifest_digest is None or img.manifest is None:
            raise RegistryError(f"{layout_path}: a docker-archive has no OCI manifest to push",
                                hint="build or convert the image to an OCI layout first")
        digest = check_digest(img.manifest_digest, "image manifest")
        media = str(img.manifest.get("mediaType") or OCI_MANIFEST)
        raw = _read_manifest(img, media, digest)
        content = _parse_json(raw, "image manifest")
        client.ping()
        uploaded = present = 0
        for desc in manifest_blobs(content):
            if client.has_blob(repo, desc.digest):
                present += 1
                continue
            _upload_from_image(client, repo, img, desc)
            uploaded += 1
        client.put_manifest(repo, tag or digest, raw, media)
        return PushResult(f"{client.host}/{repo}@{digest}", digest, uploaded, present)
    finally:
        if opened:
            img.close()


def _read_manifest(image: Image, media: str, digest: str) -> bytes:
    algo, _, hexpart = digest.partition(":")
    layer = Layer(index=-1, path=f"blobs/{algo}/{hexpart}", digest=digest, size=None,
                  media_type=media, compression="none", diff_id=None)
    stream = image.open_layer(layer)
    try:
        data = stream.read(MAX_MANIFEST_BYTES + 1)
        if len(data) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"image manifest is larger than {MAX_MANIFEST_BYTES} bytes")
        stream.finish()
    finally:
        stream.close()
    return data


def _upload_from_image(client: RegistryClient, repo: str, image: Image, desc: Descriptor) -> None:
    """Copy the blob to a bounded temporary file while verifying it, then upload that file."""
    stream = image.open_layer(_blob_from_image(desc))
    with tempfile.TemporaryFile(prefix="secpipe-push-") as tmp:
        try:
            while chunk := stream.read(_CHUNK):
                tmp.write(chunk)
            stream.finish()
        finally:
            stream.close()
        tmp.seek(0)
        client.upload_blob(repo, desc.digest, desc.size, tmp)


# -- pull ----------------------------------------------------------------------------------------
def pull_image(registry_url: str, repo: str, digest: str, dest: Path | str,
               insecure: bool = False, *, username: str | None = None,
               password: str | None = None, max_total_bytes: int = MAX_BLOB_BYTES) -> Path:
    """Pull ``repo@digest`` into a new OCI image layout at ``dest`` (absent or empty) and return
    it. By digest only: a tag is refused, since nothing would bind what arrives to what was meant.
    The manifest must hash to ``digest``; every blob is checked for size and digest before it
    is moved into ``blobs/sha256/``; the total is bounded by ``max_total_bytes``."""
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        raise RegistryError(f"pull {repo}:{str(digest)[:80]}: pull by digest (sha256:…), not by "
                            "tag: a tag is not verifiable",
                            hint="resolve the tag with a signature check (verify_image) first")
    check_digest(digest)
    client = RegistryClient(registry_url, insecure=insecure, username=username,
                            password=password)
    target = Path(dest)
    if target.exists() and (not target.is_dir() or target.is_symlink() or any(target.iterdir())):
        raise RegistryError(f"pull destination {target} exists and is not an empty folder")
    manifest = client.get_manifest(repo, digest)
    if manifest is None:
        raise RegistryError(f"registry {client.host}: {repo}@{digest} does not exist")
    if manifest.media_type not in MANIFEST_TYPES:
        raise RegistryError(f"{repo}@{digest} is an index ({manifest.media_type}); pull the "
                            "digest of one platform's manifest")
    blobs = manifest_blobs(manifest.content)
    total = sum(b.size for b in blobs)
    if total > max_total_bytes:
        raise RegistryError(f"{repo}@{digest}: blobs total {total} bytes (limit "
                            f"{max_total_bytes})")
    blob_dir = target / "blobs" / "sha256"
    blob_dir.mkdir(parents=True, exist_ok=True)
    try:
        for desc in blobs:
            _pull_blob(client, repo, desc, blob_dir)
    except BaseException:
        shutil.rmtree(target / "blobs", ignore_errors=True)  # only what this pull wrote
        raise
    (blob_dir / digest.removeprefix("sha256:")).write_bytes(manifest.raw)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{**manifest.descriptor.as_dict(),
                            "annotations": {"org.opencontainers.image.ref.name": digest}}]}
    (target / "index.json").write_text(json.dumps(index, indent=2))
    (target / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return target


def _pull_blob(client: RegistryClient, repo: str, desc: Descriptor, blob_dir: Path) -> None:
    final = blob_dir / desc.digest.removeprefix("sha256:")  # validated hex: a safe file name
    if final.exists():
        return
    fd, tmp_name = tempfile.mkstemp(dir=blob_dir, prefix=".partial-")
    try:
        hasher, count = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, client.open_blob(repo, desc.digest) as answer:
            for chunk in answer.iter_content(_CHUNK):
                count += len(chunk)
                if count > desc.size:
                    raise RegistryDigestMismatch(f"blob {desc.digest}: larger than its "
                                                 f"descriptor's {desc.size} bytes")
                hasher.update(chunk)
                out.write(chunk)
        if count != desc.size:
            raise RegistryDigestMismatch(f"blob {desc.digest}: {count} bytes, its descriptor "
                                         f"says {desc.size}")
        if "sha256:" + hasher.hexdigest() != desc.digest:
            raise RegistryDigestMismatch(f"blob {desc.digest}: content hashes to "
                                         f"sha256:{hasher.hexdigest()}")
        os.replace(tmp_name, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def resolve(registry_url: str, repo: str, ref: str, insecure: bool = False) -> str:
    """The digest of ``repo:ref`` (computed from the manifest's bytes, not the header)."""
    client = RegistryClient(registry_url, insecure=insecure)
    manifest = client.get_manifest(repo, ref)
    if manifest is None:
        raise RegistryError(f"registry {client.host}: {repo}:{ref} does not exist")
    return manifest.digest
