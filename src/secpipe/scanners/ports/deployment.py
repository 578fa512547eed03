"""The run's deployment, as the verify scanners (``scan-ports``, ``scan-host``) see it.

``deploy`` (:mod:`secpipe.delivery.deploy`) offers ``deployment_from(ctx)``, used when it can be
imported; otherwise this reads the ``deployment`` artifact an earlier step returned (a JSON file:
``kind``, ``url``, ``host``, ``port``, ``ports``, ``container_id``, ``container_name``,
``container_ports``, ``pid``, ``podman_root``, ``podman_runroot``) itself, bounded, so both
scanners work against either.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from secpipe.core.errors import InputError
from secpipe.core.step import StepContext
from secpipe.tools.parsers.common import read_bounded

ARTIFACT = "deployment"
"""Name of the artifact ``deploy`` returns."""
MAX_BYTES = 1 << 20


class DeploymentLike(Protocol):
    """What the scanners read of a deployment."""

    @property
    def url(self) -> str | None: ...
    @property
    def host(self) -> str: ...
    @property
    def ports(self) -> Sequence[int]: ...
    @property
    def container_id(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def podman_root(self) -> str | None: ...
    @property
    def podman_runroot(self) -> str | None: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def container_name(self) -> str | None: ...
    @property
    def container_ports(self) -> Sequence[int]: ...


@dataclass(frozen=True)
class Deployment:
    """The fallback reading of the ``deployment`` artifact."""

    url: str | None = None
    host: str = "127.0.0.1"
    ports: list[int] = field(default_factory=list)
    container_id: str | None = None
    pid: int | None = None
    kind: str = "process"
    podman_root: str | None = None
    """The podman ``--root`` the container lives in (for ``podman mount``)."""
    podman_runroot: str | None = None
    """Its ``--runroot``."""
    container_name: str | None = None
    container_ports: list[int] = field(default_factory=list)
    """The container ports published, in the order of ``ports``."""


def find_deployment(ctx: StepContext) -> DeploymentLike | None:
    """The run's deployment, None when no earlier step deployed anything."""
    try:
        module = importlib.import_module("secpipe.delivery.deploy")
    except ImportError:
        return read_artifact(ctx)
    reader = getattr(module, "deployment_from", None)
    if reader is None:
        return read_artifact(ctx)
    found: DeploymentLike | None = reader(ctx)
    return found


def read_artifact(ctx: StepContext) -> Deployment | None:
    """The last ``deployment`` artifact of the run's earlier steps, read and checked."""
    for step in reversed(ctx.earlier):
        for artifact in step.artifacts:
            if artifact.name == ARTIFACT:
                return parse_deployment(read_bounded(Path(artifact.path), MAX_BYTES,
                                                     "deployment artifact"))
    return None


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"deployment artifact: {key} must be a string")
    return value


def parse_deployment(raw: bytes) -> Deployment:
    """A :class:`Deployment` from the artifact's JSON; :class:`InputError` when malformed."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InputError("deployment artifact is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError("deployment artifact must be a JSON object")
    ports = data.get("ports") or []
    inside = data.get("container_ports") or []
    for key, value in (("ports", ports), ("container_ports", inside)):
        if not isinstance(value, list) or not all(
                isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536
                for p in value):
            raise InputError(f"deployment artifact: {key} must be a list of port numbers")
    pid = data.get("pid")
    if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool)):
        raise InputError("deployment artifact: pid must be an integer")
    return Deployment(url=_str(data, "url"), host=_str(data, "host") or "127.0.0.1",
                      ports=list(ports), container_id=_str(data, "container_id"), pid=pid,
                      kind=_str(data, "kind") or "process",
                      podman_root=_str(data, "podman_root"),
                      podman_runroot=_str(data, "podman_runroot"),
                      container_name=_str(data, "container_name"),
                      container_ports=list(inside))
