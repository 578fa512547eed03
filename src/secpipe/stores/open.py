"""Opening a store from a URI and the settings the ``store`` and ``load`` steps share.

A local store is a plain path (relative to the project, which it may not climb out of with
``..``) or a ``file:`` URI, which holds an absolute path and no host (``file:///srv/store``;
``file://localhost/srv/store`` is the same). ``file://relative``, ``file://host/path``, ``..``
segments, a query or a fragment are configuration errors naming the URI, never guessed at.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import Field

from secpipe.core.errors import ConfigError
from secpipe.core.interfaces import Secrets
from secpipe.core.step import StepSettings
from secpipe.stores.interface import ArtifactStore
from secpipe.stores.local import LocalStore

SCHEMES = ("file", "s3", "oci")


class StoreSettings(StepSettings):
    """Where the artifact store is. String settings may hold secret references (``${vault:…}``)."""

    uri: str | None = None
    """``file:///path``, a path, or ``s3://bucket/prefix`` (default: ``.secpipe/store``)."""
    endpoint_url: str | None = None
    """S3-compatible endpoint (SeaweedFS, MinIO, Ceph …); default ``AWS_ENDPOINT_URL`` or AWS."""
    region: str | None = None
    """S3 region (default ``AWS_REGION`` or ``us-east-1``)."""
    access_key: str | None = None
    """S3 access key id, e.g. ``${vault:secret/s3#access_key}`` (default: boto3's chain)."""
    secret_key: str | None = None
    """S3 secret key, e.g. ``${aws-sm:ci/s3#secret_key}``."""
    username: str | None = None
    """OCI registry user (e.g. ``${env:REGISTRY_USER}``)."""
    password: str | None = None
    """OCI registry password or token (use a reference)."""
    insecure: bool = False
    """OCI over plain HTTP (a registry on the loopback interface, in tests)."""
    max_workers: int = Field(default=4, ge=1, le=64)
    """Files hashed and transferred in parallel."""


def default_store_uri(project_root: Path, state_dir: str | Path = ".secpipe") -> str:
    return str(project_root / state_dir / "store")


def describe(uri: str) -> str:
    """The URI without any userinfo (for messages)."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "<unparseable URI>"
    if parts.username or parts.password:
        host = parts.hostname or ""
        return parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()
    return uri


def file_uri_path(uri: str, parts: SplitResult | None = None) -> Path:
    """The absolute path a ``file:`` URI names; a host, a relative path, a ``..`` segment, a
    query or a fragment is a :class:`ConfigError` naming the URI."""
    parts = parts or urlsplit(uri)
    fix = "write file:///absolute/path (or a plain path, relative to the project)"
    if parts.netloc and parts.netloc.lower() != "localhost":
        raise ConfigError(f"store URI {describe(uri)!r}: {parts.netloc!r} stands where a "
                          "file: URI's host goes, and a local store has none", hint=fix)
    if parts.query or parts.fragment:
        raise ConfigError(f"store URI {describe(uri)!r}: a file: URI has no query or fragment "
                          "(percent-encode ? and # in a folder name)", hint=fix)
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise ConfigError(f"store URI {describe(uri)!r}: a file: URI holds an absolute path",
                          hint=fix)
    if ".." in path.split("/"):
        raise ConfigError(f"store URI {describe(uri)!r}: '..' segments are not allowed",
                          hint="name the folder without them")
    return Path(path)


def _plain_path(text: str, project_root: Path) -> Path:
    """A plain store path: absolute as given, or relative to the project and inside it."""
    path = Path(os.path.expanduser(text))
    if path.is_absolute():
        return path
    if os.path.normpath(path).split(os.sep)[0] == "..":
        raise ConfigError(f"store path {text!r} climbs out of the project with '..'",
                          hint="give an absolute path (or file:///absolute/path) for a store "
                          "outside the project")
    return project_root / path


def open_store(uri: str | None, settings: StoreSettings, project_root: Path,
               resolver: Secrets, state_dir: str | Path = ".secpipe") -> ArtifactStore:
    """The store a URI names; credentials are resolved here, at the moment they are needed."""
    uri = resolver.resolve(uri, "uri") if uri else default_store_uri(project_root, state_dir)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"store URI {describe(uri)!r} cannot be parsed ({exc})",
                          hint="write s3://bucket/prefix, oci://host/repository, "
                               "file:///absolute/path or a plain path") from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        return LocalStore(file_uri_path(uri, parts))
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return LocalStore(_plain_path(uri, project_root))
    if scheme == "s3":
        from secpipe.stores.s3 import S3Options, S3Store

        if not parts.netloc:
            raise ConfigError(f"store URI {describe(uri)!r}: write it as s3://bucket/prefix")
        options = S3Options(
            endpoint_url=resolver.resolve_optional(settings.endpoint_url, "endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL") or None,
            region=resolver.resolve_optional(settings.region, "region"),
            access_key=resolver.resolve_optional(settings.access_key, "access_key"),
            secret_key=resolver.resolve_optional(settings.secret_key, "secret_key"),
        )
        return S3Store(parts.netloc, unquote(parts.path), options)
    if scheme == "oci":
        from secpipe.stores.oci import OciStore

        repo = unquote(parts.path).strip("/")
        if not parts.hostname or not repo:
            raise ConfigError(f"store URI {describe(uri)!r}: write it as oci://host/repository")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return OciStore(host, repo, insecure=settings.insecure,
                        username=resolver.resolve_optional(settings.username, "username"),
                        password=resolver.resolve_optional(settings.password, "password"))
    raise ConfigError(f"store URI {describe(uri)!r}: unsupported scheme {scheme!r}",
                      hint="use one of: " + ", ".join(f"{s}://" for s in SCHEMES))
