"""Pod specs and containers of workload objects, and security contexts merged as the API server
merges them (a container's ``securityContext`` field overrides the pod's, for the fields both
have)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from secpipe.scanners.iac.kubernetes.yamldocs import K8sObject

Loc = tuple[Hashable, ...]

POD_SPEC_PATHS: dict[str, Loc] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
    "DeploymentConfig": ("spec", "template", "spec"),
}
"""Where each workload kind keeps its pod spec."""

CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")

SHARED_FIELDS = frozenset({"runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions",
                           "seccompProfile", "windowsOptions", "appArmorProfile"})
"""``securityContext`` fields of both the pod and the container (the container's wins)."""


@dataclass
class Container:
    """One container of a pod spec."""

    data: dict[str, Any]
    loc: Loc
    """Its key path from the object's root."""
    group: str
    """``containers``, ``initContainers`` or ``ephemeralContainers``."""

    @property
    def name(self) -> str:
        name = self.data.get("name")
        return str(name) if isinstance(name, str | int) and name != "" else "<unnamed>"

    @property
    def security(self) -> dict[str, Any]:
        sc = self.data.get("securityContext")
        return sc if isinstance(sc, dict) else {}

    @property
    def label(self) -> str:
        word = {"containers": "container", "initContainers": "init container",
                "ephemeralContainers": "ephemeral container"}[self.group]
        return f"{word} {self.name}"


@dataclass
class PodSpec:
    """A workload's pod spec and its containers."""

    obj: K8sObject
    spec: dict[str, Any]
    loc: Loc
    containers: list[Container]

    @property
    def security(self) -> dict[str, Any]:
        sc = self.spec.get("securityContext")
        return sc if isinstance(sc, dict) else {}

    def effective(self, container: Container, name: str) -> tuple[Any, Loc | None]:
        """The value of security context field ``name`` for ``container`` and where it was
        written (``None``: nowhere). Pod-level values count for the shared fields only."""
        sc = container.security
        if name in sc:
            return sc[name], (*container.loc, "securityContext", name)
        if name in SHARED_FIELDS and name in self.security:
            return self.security[name], (*self.loc, "securityContext", name)
        return None, None

    def line(self, loc: Loc | None, container: Container | None = None) -> int | None:
        """The line of ``loc`` when written, else of the container, else of the pod spec."""
        if loc is not None and self.obj.has_line(loc):
            return self.obj.line(loc)
        if container is not None:
            return self.obj.line(container.loc)
        return self.obj.line(self.loc)


def _get(data: Any, loc: Loc) -> Any:
    for step in loc:
        if isinstance(step, str) and isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data


def pod_spec(obj: K8sObject) -> PodSpec | None:
    """The pod spec of a workload object (None for other kinds or a spec that is not a
    mapping)."""
    loc = POD_SPEC_PATHS.get(obj.kind)
    if loc is None:
        return None
    spec = _get(obj.data, loc)
    if not isinstance(spec, dict):
        return None
    containers: list[Container] = []
    for group in CONTAINER_GROUPS:
        items = spec.get(group)
        if not isinstance(items, list):
            continue
        for i, item in enumerate(items):
            if isinstance(item, dict):
                containers.append(Container(item, (*loc, group, i), group))
    return PodSpec(obj, spec, loc, containers)
