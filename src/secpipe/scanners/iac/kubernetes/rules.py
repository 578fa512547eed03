"""The Kubernetes rules (Helm charts and Kustomize output are checked by the same rules).

Each check is a function ``(obj, ctx) -> hits`` over one :class:`K8sObject`; workload checks look
at every container (init and ephemeral containers included) with the security context merged as
the API server merges it (:mod:`.workloads`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.kubernetes.workloads import Container, PodSpec, pod_spec
from secpipe.scanners.iac.kubernetes.yamldocs import K8sObject, Loc
from secpipe.scanners.iac.model import IacHit, IacRule, rule_table

_FW = "kubernetes"


def _ksv(*numbers: int) -> tuple[str, ...]:
    out: list[str] = []
    for n in numbers:
        out += [f"AVD-KSV-{n:04d}", f"KSV-{n:04d}", f"KSV{n:03d}"]
    return tuple(out)


def _ckv(*numbers: int) -> tuple[str, ...]:
    return tuple(f"CKV_K8S_{n}" for n in numbers)


RULES: dict[str, IacRule] = rule_table([
    IacRule(
        "iac.k8s.privileged", "Container runs privileged", Severity.HIGH, _FW, "CWE-250",
        ("CIS-K8S-5.2.2", "NIST-800-53:AC-6"),
        "A privileged container has every capability and the host's devices: escaping to the "
        "node is trivial.",
        "Remove securityContext.privileged (or set it to false); grant only the capabilities "
        "needed.",
        "securityContext:\n  privileged: true",
        "securityContext:\n  privileged: false",
        _ckv(16) + _ksv(17)),
    IacRule(
        "iac.k8s.privilege-escalation", "Container allows privilege escalation", Severity.MEDIUM,
        _FW, "CWE-269", ("CIS-K8S-5.2.6", "NIST-800-53:AC-6"),
        "allowPrivilegeEscalation is effectively true when unset: a setuid binary or file "
        "capabilities can raise the process's privileges (no_new_privs is not set).",
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
        "containers:\n- name: app\n  image: app:1.2",
        "containers:\n- name: app\n  securityContext:\n    allowPrivilegeEscalation: false",
        _ckv(20) + _ksv(1)),
    IacRule(
        "iac.k8s.run-as-root", "Container may run as root", Severity.MEDIUM, _FW, "CWE-250",
        ("CIS-K8S-5.2.7", "NIST-800-53:AC-6"),
        "Without runAsNonRoot: true or a non-zero runAsUser the container runs as the image's "
        "user, root for most images; root in a container is one kernel bug away from root on "
        "the node. An image whose default user is non-root cannot be seen from the manifest, "
        "so an unset user is reported with medium confidence.",
        "Set runAsNonRoot: true and a non-zero runAsUser (pod or container securityContext).",
        "securityContext:\n  runAsUser: 0",
        "securityContext:\n  runAsNonRoot: true\n  runAsUser: 10001",
        _ckv(23) + _ksv(12, 105)),
    IacRule(
        "iac.k8s.capabilities-not-dropped", "Container does not drop all capabilities",
        Severity.LOW, _FW, "CWE-250", ("CIS-K8S-5.2.8", "CIS-K8S-5.2.10", "NIST-800-53:AC-6"),
        "Containers get a default capability set (NET_RAW among them: packet spoofing on the "
        "pod network) unless they drop ALL and add back only what they need.",
        "securityContext.capabilities.drop: [ALL], then add only what is needed.",
        "securityContext:\n  capabilities:\n    drop: [NET_ADMIN]",
        "securityContext:\n  capabilities:\n    drop: [ALL]\n    add: [NET_BIND_SERVICE]",
        _ckv(37, 28) + _ksv(3)),
    IacRule(
        "iac.k8s.dangerous-capabilities", "Container adds a dangerous capability",
        Severity.HIGH, _FW, "CWE-250", ("CIS-K8S-5.2.9", "NIST-800-53:AC-6"),
        "SYS_ADMIN, SYS_MODULE, SYS_PTRACE, NET_ADMIN, NET_RAW, DAC_READ_SEARCH, BPF and ALL "
        "give a container powers over the node's kernel, network or other processes (high or "
        "medium); any other added capability except NET_BIND_SERVICE widens what a compromised "
        "process may do (low).",
        "Remove the capability from capabilities.add; use a narrower one if any.",
        "securityContext:\n  capabilities:\n    add: [SYS_ADMIN]",
        "securityContext:\n  capabilities:\n    add: [NET_BIND_SERVICE]",
        _ckv(25, 39) + _ksv(5, 22, 119, 120)),
    IacRule(
        "iac.k8s.host-namespaces", "Pod shares a host namespace", Severity.HIGH, _FW, "CWE-668",
        ("CIS-K8S-5.2.3", "CIS-K8S-5.2.4", "CIS-K8S-5.2.5", "CIS-K8S-5.2.11",
         "NIST-800-53:SC-39"),
        "hostNetwork, hostPID and hostIPC put the pod in the node's namespaces: it sees the "
        "node's processes, traffic and shared memory; a Windows hostProcess container runs on "
        "the node itself.",
        "Remove hostNetwork/hostPID/hostIPC/windowsOptions.hostProcess (or set them to false).",
        "spec:\n  hostPID: true",
        "spec:\n  hostPID: false",
        _ckv(17, 18, 19) + _ksv(8, 9, 10, 103)),
    IacRule(
        "iac.k8s.host-path", "Pod mounts a host path", Severity.MEDIUM, _FW, "CWE-668",
        ("CIS-K8S-5.2.12", "NIST-800-53:AC-6"),
        "A hostPath volume exposes the node's files to the pod; the container runtime's socket "
        "(docker.sock, containerd.sock) is control of the node.",
        "Use a persistentVolumeClaim, configMap, secret or emptyDir volume instead.",
        "volumes:\n- name: d\n  hostPath:\n    path: /var/run/docker.sock",
        "volumes:\n- name: d\n  emptyDir: {}",
        _ckv(27) + _ksv(23, 6)),
    IacRule(
        "iac.k8s.host-port", "Container binds a host port", Severity.LOW, _FW, "CWE-668",
        ("CIS-K8S-5.2.13", "NIST-800-53:SC-7"),
        "A hostPort opens the port on the node itself, bypassing network policies and limiting "
        "where the pod can be scheduled.",
        "Remove hostPort; expose the pod through a Service.",
        "ports:\n- containerPort: 8080\n  hostPort: 8080",
        "ports:\n- containerPort: 8080",
        _ckv(26) + _ksv(24)),
    IacRule(
        "iac.k8s.writable-root-fs", "Container root filesystem is writable", Severity.LOW, _FW,
        "CWE-732", ("CIS-K8S-5.7.3", "NIST-800-53:CM-7"),
        "A writable root filesystem lets an intruder drop tools and persist changes in the "
        "container.",
        "Set securityContext.readOnlyRootFilesystem: true; mount emptyDir where writes are "
        "needed.",
        "securityContext:\n  readOnlyRootFilesystem: false",
        "securityContext:\n  readOnlyRootFilesystem: true",
        _ckv(22) + _ksv(14)),
    IacRule(
        "iac.k8s.no-resource-limits", "Container has no CPU or memory limit", Severity.LOW, _FW,
        "CWE-770", ("NIST-800-53:SC-6",),
        "Without limits one container can starve the node (denial of service for its "
        "neighbours).",
        "Set resources.limits.cpu and resources.limits.memory.",
        "resources:\n  requests:\n    cpu: 100m",
        "resources:\n  limits:\n    cpu: 500m\n    memory: 256Mi",
        _ckv(11, 13) + _ksv(11, 18)),
    IacRule(
        "iac.k8s.image-latest", "Container image is not pinned (latest or no tag)",
        Severity.MEDIUM, _FW, "CWE-829", ("NIST-800-53:CM-2", "NIST-800-53:SI-7"),
        "An image without a tag, or tagged latest, changes under the same name: what runs is "
        "not what was reviewed or scanned.",
        "Use a version tag, better a digest (image@sha256:…).",
        "image: nginx:latest",
        "image: nginx:1.27.2  # or nginx@sha256:…",
        _ckv(14) + _ksv(13)),
    IacRule(
        "iac.k8s.seccomp", "Container runs without a seccomp profile", Severity.LOW, _FW,
        "CWE-250", ("CIS-K8S-5.7.2", "NIST-800-53:AC-6"),
        "Without RuntimeDefault (or a Localhost profile) the container may call every system "
        "call, including those behind most container escapes; Unconfined is worse.",
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
        "securityContext:\n  seccompProfile:\n    type: Unconfined",
        "securityContext:\n  seccompProfile:\n    type: RuntimeDefault",
        _ckv(31) + _ksv(30, 104)),
    IacRule(
        "iac.k8s.sa-token-automount", "Service account token mounted automatically",
        Severity.LOW, _FW, "CWE-522", ("CIS-K8S-5.1.6", "NIST-800-53:AC-6"),
        "Every pod gets a token for its service account unless told otherwise; a compromised "
        "container can then talk to the API server with it.",
        "Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it "
        "calls the API.",
        "spec:\n  containers: [...]",
        "spec:\n  automountServiceAccountToken: false",
        _ckv(38) + _ksv(36), Confidence.MEDIUM),
    IacRule(
        "iac.k8s.env-secret-literal", "Secret written as a literal environment value",
        Severity.HIGH, _FW, "CWE-798", ("CIS-K8S-5.4.1", "NIST-800-53:IA-5"),
        "A password or token written in the manifest is in the repository, the API server and "
        "every `kubectl get -o yaml` in clear.",
        "Keep it in a Secret (or an external secret store) and use valueFrom.secretKeyRef, "
        "better a mounted file.",
        "env:\n- name: DB_PASSWORD\n  value: <a literal>",
        "env:\n- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
        (), Confidence.MEDIUM),
    IacRule(
        "iac.k8s.configmap-secret", "Secret stored in a ConfigMap", Severity.HIGH, _FW,
        "CWE-312", ("CIS-K8S-5.4.1", "NIST-800-53:IA-5", "NIST-800-53:SC-28"),
        "ConfigMaps are not secret: readable by anyone who may read configuration, never "
        "encrypted at rest, printed by every describe; and the value is in the repository.",
        "Move the value to a Secret (or an external secret store) and reference it.",
        "kind: ConfigMap\ndata:\n  DB_PASSWORD: <a literal>",
        "kind: ConfigMap\ndata:\n  DB_HOST: db.internal\n  DB_PASSWORD_FILE: /run/secrets/db",
        _ksv(109), Confidence.MEDIUM),
    IacRule(
        "iac.k8s.rbac-wildcard", "RBAC role grants wildcard verbs or resources", Severity.HIGH,
        _FW, "CWE-269", ("CIS-K8S-5.1.3", "NIST-800-53:AC-6"),
        "\"*\" in verbs or resources grants every present and future permission on them.",
        "List the verbs and resources the subject needs.",
        "rules:\n- apiGroups: [\"\"]\n  resources: [\"*\"]\n  verbs: [\"*\"]",
        "rules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list]",
        _ckv(49) + _ksv(44, 45, 46, 112)),
    IacRule(
        "iac.k8s.rbac-secrets", "RBAC role can read secrets", Severity.MEDIUM, _FW, "CWE-200",
        ("CIS-K8S-5.1.2", "NIST-800-53:AC-6"),
        "get/list/watch on secrets reads every credential of the namespace (or the cluster).",
        "Grant access to named secrets only (resourceNames), or mount them instead.",
        "rules:\n- resources: [secrets]\n  verbs: [get, list]",
        "rules:\n- resources: [configmaps]\n  verbs: [get, list]",
        ("CKV2_K8S_5", *_ksv(41, 113))),
    IacRule(
        "iac.k8s.rbac-pod-exec", "RBAC role can exec into pods or proxy to nodes",
        Severity.MEDIUM, _FW, "CWE-269", ("CIS-K8S-5.1.4", "NIST-800-53:AC-6"),
        "create on pods/exec (or pods/attach) runs commands in any pod of the scope, with its "
        "service account and secrets; nodes/proxy reaches every kubelet's API.",
        "Remove pods/exec and nodes/proxy from the role; use a break-glass role for debugging.",
        "rules:\n- resources: [pods/exec]\n  verbs: [create]",
        "rules:\n- resources: [pods/log]\n  verbs: [get]",
        ("CKV2_K8S_2", *_ksv(53, 47))),
    IacRule(
        "iac.k8s.rbac-escalation", "RBAC role can escalate, bind or impersonate",
        Severity.HIGH, _FW, "CWE-269", ("CIS-K8S-5.1.8", "NIST-800-53:AC-6"),
        "escalate and bind let a subject grant itself permissions it does not have; "
        "impersonate lets it act as any user, group or service account.",
        "Remove the escalate, bind and impersonate verbs.",
        "rules:\n- resources: [clusterroles]\n  verbs: [bind, escalate]",
        "rules:\n- resources: [clusterroles]\n  verbs: [get, list]",
        (*_ckv(157, 158), "CKV2_K8S_3", *_ksv(43, 50))),
    IacRule(
        "iac.k8s.cluster-admin-binding", "cluster-admin bound to a non-system subject",
        Severity.HIGH, _FW, "CWE-269", ("CIS-K8S-5.1.1", "NIST-800-53:AC-6"),
        "cluster-admin is every permission on every resource of the cluster.",
        "Bind a role that grants what the subject needs.",
        "roleRef: {kind: ClusterRole, name: cluster-admin}\nsubjects:\n- kind: ServiceAccount\n"
        "  name: ci",
        "roleRef: {kind: ClusterRole, name: view}",
        _ksv(111)),
    IacRule(
        "iac.k8s.service-exposed", "Service exposed outside the cluster", Severity.LOW, _FW,
        "CWE-668", ("NIST-800-53:SC-7",),
        "A LoadBalancer or NodePort Service is reachable from outside the cluster (a cloud load "
        "balancer, every node's port).",
        "Use ClusterIP behind an Ingress with TLS and authentication, or restrict "
        "loadBalancerSourceRanges.",
        "spec:\n  type: LoadBalancer",
        "spec:\n  type: ClusterIP",
        (), Confidence.MEDIUM),
    IacRule(
        "iac.k8s.default-namespace", "Workload placed in the default namespace", Severity.LOW,
        _FW, "CWE-653", ("CIS-K8S-5.7.4", "NIST-800-53:SC-3"),
        "The default namespace mixes unrelated workloads under the same policies and RBAC.",
        "Put the workload in its own namespace.",
        "metadata:\n  namespace: default",
        "metadata:\n  namespace: shop",
        _ckv(21) + _ksv(110)),
    IacRule(
        "iac.k8s.ingress-no-tls", "Ingress serves plain HTTP (no TLS)", Severity.LOW, _FW,
        "CWE-319", ("NIST-800-53:SC-8",),
        "An Ingress without a tls section serves its hosts over plain HTTP.",
        "Add spec.tls with a certificate secret for the hosts.",
        "spec:\n  rules:\n  - host: shop.example.com",
        "spec:\n  tls:\n  - hosts: [shop.example.com]\n    secretName: shop-tls",
        ()),
])


@dataclass
class Context:
    """What checks may know about the other objects of the scan."""

    no_automount_accounts: set[tuple[str, str]] = field(default_factory=set)
    """(namespace, name) of ServiceAccounts with automountServiceAccountToken: false."""


Check = Callable[[K8sObject, Context], Iterator[IacHit]]

_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock", "podman.sock")
_DANGEROUS = {"SYS_ADMIN": Severity.HIGH, "SYS_MODULE": Severity.HIGH, "ALL": Severity.HIGH,
              "SYS_PTRACE": Severity.HIGH, "SYS_RAWIO": Severity.HIGH, "BPF": Severity.HIGH,
              "DAC_READ_SEARCH": Severity.HIGH, "NET_ADMIN": Severity.MEDIUM,
              "NET_RAW": Severity.MEDIUM, "SYS_BOOT": Severity.MEDIUM,
              "SYS_TIME": Severity.MEDIUM, "MAC_ADMIN": Severity.MEDIUM,
              "MAC_OVERRIDE": Severity.MEDIUM, "PERFMON": Severity.MEDIUM}
_SYSTEM_SUBJECT = re.compile(r"^system:")


def _hit(rule_id: str, obj: K8sObject, line: int | None, message: str, *,
         container: Container | None = None, severity: Severity | None = None,
         confidence: Confidence | None = None, evidence: str = "") -> IacHit:
    resource = obj.address + (f" {container.label}" if container is not None else "")
    where = f" ({obj.origin})" if obj.origin else ""
    return IacHit(rule_id, obj.path, line, f"{resource}: {message}{where}", resource,
                  obj.block, severity, confidence, evidence[:200])


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _cap_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, str):
            name = item.strip().upper()
            out.append(name[4:] if name.startswith("CAP_") else name)
    return out


def _workload(obj: K8sObject) -> Iterator[tuple[PodSpec, Container]]:
    pod = pod_spec(obj)
    if pod is None:
        return
    for container in pod.containers:
        yield pod, container


def check_privileged(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        value, loc = pod.effective(c, "privileged")
        if _is_true(value):
            yield _hit("iac.k8s.privileged", obj, pod.line(loc, c),
                       "securityContext.privileged is true", container=c,
                       evidence="privileged: true")


def check_privilege_escalation(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        if c.group == "ephemeralContainers":
            continue
        value, loc = pod.effective(c, "allowPrivilegeEscalation")
        if _is_false(value):
            continue
        if _is_true(value):
            message = "securityContext.allowPrivilegeEscalation is true"
        else:
            message = "allowPrivilegeEscalation is not set to false (it defaults to true)"
        yield _hit("iac.k8s.privilege-escalation", obj, pod.line(loc, c), message, container=c)


def check_run_as_root(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        user, user_loc = pod.effective(c, "runAsUser")
        non_root, non_root_loc = pod.effective(c, "runAsNonRoot")
        uid = _as_int(user)
        if uid == 0:
            yield _hit("iac.k8s.run-as-root", obj, pod.line(user_loc, c),
                       "runAsUser is 0 (root)", container=c, confidence=Confidence.HIGH,
                       evidence="runAsUser: 0")
            continue
        if _is_true(non_root) or (uid is not None and uid > 0):
            continue
        if user is not None and uid is None:
            continue  # a value the renderer could not compute: not judged
        if _is_false(non_root):
            yield _hit("iac.k8s.run-as-root", obj, pod.line(non_root_loc, c),
                       "runAsNonRoot is false and no non-zero runAsUser is set", container=c,
                       confidence=Confidence.MEDIUM)
            continue
        yield _hit("iac.k8s.run-as-root", obj, pod.line(None, c),
                   "neither runAsNonRoot: true nor a non-zero runAsUser is set: it runs as the "
                   "image's user (root unless the image says otherwise, which cannot be seen "
                   "here)", container=c, confidence=Confidence.MEDIUM)


def check_capabilities(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        if c.group == "ephemeralContainers":
            continue
        caps = c.security.get("capabilities")
        caps = caps if isinstance(caps, dict) else {}
        base = (*c.loc, "securityContext", "capabilities")
        if _is_true(c.security.get("privileged")):
            pass  # reported by iac.k8s.privileged; capabilities are moot
        elif "ALL" not in _cap_names(caps.get("drop")):
            loc = (*base, "drop") if "drop" in caps else base
            yield _hit("iac.k8s.capabilities-not-dropped", obj, pod.line(loc, c),
                       "capabilities.drop does not include ALL", container=c)
        added = _cap_names(caps.get("add"))
        for i, name in enumerate(added):
            if name == "NET_BIND_SERVICE":
                continue  # the one capability an unprivileged web server may need
            severity = _DANGEROUS.get(name, Severity.LOW)
            yield _hit("iac.k8s.dangerous-capabilities", obj,
                       pod.line((*base, "add", i), c), f"capabilities.add includes {name}",
                       container=c, severity=None if severity == Severity.HIGH else severity,
                       evidence=f"add: {name}")


def check_host_namespaces(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    pod = pod_spec(obj)
    if pod is None:
        return
    for name in ("hostNetwork", "hostPID", "hostIPC"):
        if _is_true(pod.spec.get(name)):
            yield _hit("iac.k8s.host-namespaces", obj, pod.line((*pod.loc, name)),
                       f"{name} is true", evidence=f"{name}: true")
    for c in pod.containers:
        options, loc = pod.effective(c, "windowsOptions")
        if isinstance(options, dict) and _is_true(options.get("hostProcess")):
            at = (*loc, "hostProcess") if loc is not None else None
            yield _hit("iac.k8s.host-namespaces", obj, pod.line(at, c),
                       "windowsOptions.hostProcess is true (a Windows host process)",
                       container=c, evidence="hostProcess: true")


#: Host files holding only the node's time zone: mounted read-only they expose nothing.
_TIME_FILES = frozenset({"/etc/localtime", "/etc/timezone", "/usr/share/zoneinfo"})


def _mounted_read_only(pod: PodSpec, volume: object) -> bool:
    """True when every mount of ``volume`` in the pod's containers is ``readOnly: true`` (and
    there is at least one)."""
    mounts = [m for c in pod.containers for m in (c.data.get("volumeMounts") or [])
              if isinstance(m, dict) and m.get("name") == volume]
    return bool(mounts) and all(m.get("readOnly") is True for m in mounts)


def check_host_path(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    spec = obj.data.get("spec")
    if obj.kind == "PersistentVolume" and isinstance(spec, dict) and isinstance(
            spec.get("hostPath"), dict):
        path = spec["hostPath"].get("path")
        text = str(path) if isinstance(path, str | int) else "?"
        yield _hit("iac.k8s.host-path", obj, obj.line(("spec", "hostPath", "path")),
                   f"PersistentVolume is the host path {text}", evidence=f"hostPath: {text}",
                   severity=Severity.CRITICAL if text.rstrip("/").endswith(_SOCKETS) else None)
        return
    pod = pod_spec(obj)
    if pod is None:
        return
    volumes = pod.spec.get("volumes")
    if not isinstance(volumes, list):
        return
    for i, volume in enumerate(volumes):
        if not isinstance(volume, dict) or not isinstance(volume.get("hostPath"), dict):
            continue
        path = volume["hostPath"].get("path")
        text = str(path) if isinstance(path, str | int) else "?"
        name = volume.get("name", i)
        loc = (*pod.loc, "volumes", i, "hostPath", "path")
        runtime = text.rstrip("/").endswith(_SOCKETS) or text.rstrip("/") in (
            "/var/run", "/run", "/run/containerd", "/var/run/containerd")
        if runtime:
            yield _hit("iac.k8s.host-path", obj, pod.line(loc),
                       f"volume {name} mounts the container runtime socket {text} from the "
                       "host (control of the node)", severity=Severity.CRITICAL,
                       evidence=f"hostPath: {text}")
        elif text.rstrip("/") in _TIME_FILES and _mounted_read_only(pod, name):
            continue  # the node's clock zone, read-only: the common, harmless hostPath
        else:
            severity = Severity.HIGH if text.rstrip("/") in ("", "/", "/etc", "/proc",
                                                            "/var/lib/kubelet", "/root") else None
            yield _hit("iac.k8s.host-path", obj, pod.line(loc),
                       f"volume {name} mounts host path {text}", severity=severity,
                       evidence=f"hostPath: {text}")


def check_host_port(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        ports = c.data.get("ports")
        if not isinstance(ports, list):
            continue
        for i, port in enumerate(ports):
            if isinstance(port, dict) and port.get("hostPort") not in (None, 0, "0", ""):
                yield _hit("iac.k8s.host-port", obj,
                           pod.line((*c.loc, "ports", i, "hostPort"), c),
                           f"hostPort {port.get('hostPort')} is bound on the node", container=c)


def check_readonly_root(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        if c.group == "ephemeralContainers":
            continue
        value, loc = pod.effective(c, "readOnlyRootFilesystem")
        if not _is_true(value):
            yield _hit("iac.k8s.writable-root-fs", obj, pod.line(loc, c),
                       "readOnlyRootFilesystem is not true", container=c)


def check_limits(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        if c.group == "ephemeralContainers":
            continue
        resources = c.data.get("resources")
        limits = resources.get("limits") if isinstance(resources, dict) else None
        limits = limits if isinstance(limits, dict) else {}
        missing = [kind for kind in ("cpu", "memory") if limits.get(kind) in (None, "")]
        if missing:
            loc = (*c.loc, "resources", "limits") if limits else (*c.loc, "resources")
            yield _hit("iac.k8s.no-resource-limits", obj, pod.line(loc, c),
                       f"no {' or '.join(missing)} limit", container=c)


def image_unpinned(image: str) -> str | None:
    """Why ``image`` is not pinned (``None``: it has a version tag or a digest)."""
    image = image.strip()
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (latest is pulled)"
    tag = last.rsplit(":", 1)[1]
    if tag.lower() == "latest" or tag == "":
        return "is tagged latest"
    return None


def check_image(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        image = c.data.get("image")
        if not isinstance(image, str) or not image.strip() or "{{" in image:
            continue
        why = image_unpinned(image)
        if why is not None:
            yield _hit("iac.k8s.image-latest", obj, pod.line((*c.loc, "image"), c),
                       f"image {image.strip()[:120]} {why}", container=c,
                       evidence=f"image: {image.strip()[:120]}")


def _seccomp_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        return str(kind) if isinstance(kind, str) else None
    return None


def _annotation_seccomp(obj: K8sObject, pod: PodSpec, container: Container) -> str | None:
    """The seccomp profile set by the legacy annotations of the pod template, if any."""
    meta_loc = (*pod.loc[:-1], "metadata") if pod.loc[-1:] == ("spec",) else None
    data: Any = obj.data
    for step in meta_loc or ():
        data = data.get(step) if isinstance(data, dict) else None
    annotations = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(annotations, dict):
        return None
    value = annotations.get(f"container.seccomp.security.alpha.kubernetes.io/{container.name}")
    if value is None:
        value = annotations.get("seccomp.security.alpha.kubernetes.io/pod")
    if not isinstance(value, str):
        return None
    if value in ("runtime/default", "docker/default"):
        return "RuntimeDefault"
    if value.startswith("localhost/"):
        return "Localhost"
    return "Unconfined" if value == "unconfined" else value


def check_seccomp(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        value, loc = pod.effective(c, "seccompProfile")
        kind = _seccomp_type(value) if value is not None else _annotation_seccomp(obj, pod, c)
        if kind in ("RuntimeDefault", "Localhost"):
            continue
        if kind == "Unconfined":
            yield _hit("iac.k8s.seccomp", obj, pod.line(loc, c),
                       "seccompProfile is Unconfined", container=c, severity=Severity.MEDIUM,
                       evidence="seccompProfile: Unconfined")
        else:
            yield _hit("iac.k8s.seccomp", obj, pod.line(loc, c),
                       "no RuntimeDefault or Localhost seccomp profile", container=c)


def check_sa_token(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    pod = pod_spec(obj)
    if pod is None:
        return
    value = pod.spec.get("automountServiceAccountToken")
    if _is_false(value):
        return
    account = pod.spec.get("serviceAccountName") or pod.spec.get("serviceAccount") or "default"
    namespace = obj.namespace or "default"
    if value is None and (namespace, str(account)) in ctx.no_automount_accounts:
        return
    loc = (*pod.loc, "automountServiceAccountToken")
    message = ("automountServiceAccountToken is true" if _is_true(value) else
               "automountServiceAccountToken is not false: the service account token is "
               "mounted")
    yield _hit("iac.k8s.sa-token-automount", obj, pod.line(loc), message)


_SECRET_WORDS = frozenset({"password", "passwd", "pwd", "secret", "token", "credential",
                           "credentials", "apikey", "passphrase", "privatekey", "secretkey",
                           "accesskey"})
_KEY_QUALIFIERS = frozenset({"api", "private", "access", "secret", "signing", "encryption",
                             "client", "master", "auth"})
_NOT_SECRET_SUFFIX = frozenset({"file", "path", "dir", "url", "uri", "name", "endpoint", "host",
                                "port", "length", "ttl", "timeout", "expiry", "expiration",
                                "enabled", "header", "type", "ref", "env", "mode", "version",
                                "id", "user", "username", "policy", "location", "size"})


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def secret_like_name(name: str) -> bool:
    """True for an environment variable name that holds a credential."""
    words = _name_words(name)
    if not words or words[-1] in _NOT_SECRET_SUFFIX:
        return False
    for i, word in enumerate(words):
        if word in _SECRET_WORDS:
            return True
        if word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS:
            return True
    return False


_PLACEHOLDER = re.compile(r"^(\$\(.*\)|\$\{.*\}|<.*>|changeme|change-me|xxx+|\*+|"
                          r"true|false|yes|no|none|null|enabled|disabled|-|\.)$", re.IGNORECASE)


def check_env_secret(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for pod, c in _workload(obj):
        env = c.data.get("env")
        if not isinstance(env, list):
            continue
        for i, item in enumerate(env):
            if not isinstance(item, dict) or "valueFrom" in item:
                continue
            name, value = item.get("name"), item.get("value")
            if not isinstance(name, str) or not secret_like_name(name):
                continue
            text = _literal_secret(value)
            if text is None:
                continue
            yield _hit("iac.k8s.env-secret-literal", obj,
                       pod.line((*c.loc, "env", i, "value"), c),
                       f"env {name} is set to a literal value ({len(text)} characters, "
                       "redacted)", container=c, evidence=f"{name}: ***")


_ASSIGNED_SECRET = re.compile(
    r"""^\s*["']?([A-Za-z0-9_.\-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|"""
    r"""access[_-]?key|credential)s?)["']?\s*[:=]\s*["']?([^\s"']+)""", re.IGNORECASE)


def _literal_secret(value: Any) -> str | None:
    """The value as text when it is a literal that can be a credential (not a placeholder or a
    reference)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if len(text) < 4 or _PLACEHOLDER.match(text) or "{{" in text or text.startswith(("$", "%")):
        return None
    return text


def check_configmap(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    if obj.kind != "ConfigMap" or not isinstance(obj.data.get("data"), dict):
        return
    for key, value in obj.data["data"].items():
        name = str(key)
        if secret_like_name(name) and "\n" not in str(value) and _literal_secret(value):
            yield _hit("iac.k8s.configmap-secret", obj, obj.line(("data", key)),
                       f"data key {name} holds a literal value (redacted)",
                       evidence=f"{name}: ***")
            continue
        if not isinstance(value, str) or "\n" not in value:
            continue
        for offset, line in enumerate(value.split("\n")[:5000]):
            m = _ASSIGNED_SECRET.match(line)
            if m is None or not secret_like_name(m.group(1)) or not _literal_secret(m.group(2)):
                continue
            yield _hit("iac.k8s.configmap-secret", obj, obj.line(("data", key)),
                       f"data key {name}: line {offset + 1} sets {m.group(1)} to a literal "
                       "value (redacted)", evidence=f"{m.group(1)}=***")
            break


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _rbac_rules(obj: K8sObject) -> Iterator[tuple[int, dict[str, Any]]]:
    if obj.kind not in ("Role", "ClusterRole"):
        return
    rules = obj.data.get("rules")
    if not isinstance(rules, list):
        return
    for i, rule in enumerate(rules):
        if isinstance(rule, dict):
            yield i, rule


_READ = frozenset({"get", "list", "watch", "*"})


def _own_custom_resources(groups: list[str], resources: list[str]) -> bool:
    """True when a rule names only custom resources: every apiGroup is a custom one (has a dot,
    is not ``*`` nor a Kubernetes group ``*.k8s.io``) and resources are named explicitly."""
    if not groups or not resources:
        return False
    return all("." in g and g != "*" and not g.endswith("k8s.io") for g in groups)


def check_rbac(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    for i, rule in _rbac_rules(obj):
        verbs = [v.lower() for v in _strings(rule.get("verbs"))]
        resources = [r.lower() for r in _strings(rule.get("resources"))]
        groups = _strings(rule.get("apiGroups"))
        names = _strings(rule.get("resourceNames"))
        loc: Loc = ("rules", i)
        if "*" in verbs and "*" not in resources and _own_custom_resources(groups, resources):
            pass  # an operator's full control of its own custom resources, not a wildcard grant
        elif "*" in verbs or "*" in resources:
            what = [key for key, vals in (("verbs", verbs), ("resources", resources))
                    if "*" in vals]
            where = ("rules", i, "verbs" if "*" in verbs else "resources")
            scope = "" if not groups or "*" in groups else f" (apiGroups {groups[:4]})"
            yield _hit("iac.k8s.rbac-wildcard", obj, obj.line(where),
                       f"rule {i} grants \"*\" {' and '.join(what)}{scope}",
                       severity=None if "*" in verbs and "*" in resources else Severity.MEDIUM,
                       evidence=f"verbs: {verbs[:6]} resources: {resources[:6]}")
        if "secrets" in resources and _READ & set(verbs) and not names:
            yield _hit("iac.k8s.rbac-secrets", obj, obj.line((*loc, "resources")),
                       f"rule {i} can {'/'.join(sorted(_READ & set(verbs)))} secrets")
        if any(r in ("pods/exec", "pods/attach", "pods/*") for r in resources) and (
                {"create", "*", "get"} & set(verbs)):
            yield _hit("iac.k8s.rbac-pod-exec", obj, obj.line((*loc, "resources")),
                       f"rule {i} can exec into pods")
        if any(r in ("nodes/proxy", "nodes/*") for r in resources) and (
                {"create", "*", "get"} & set(verbs)):
            yield _hit("iac.k8s.rbac-pod-exec", obj, obj.line((*loc, "resources")),
                       f"rule {i} can proxy to the nodes' kubelet API (nodes/proxy)")
        bad = sorted({"escalate", "bind", "impersonate"} & set(verbs))
        if bad:
            yield _hit("iac.k8s.rbac-escalation", obj, obj.line((*loc, "verbs")),
                       f"rule {i} grants {', '.join(bad)}")


def check_cluster_admin(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    if obj.kind not in ("ClusterRoleBinding", "RoleBinding"):
        return
    ref = obj.data.get("roleRef")
    if not isinstance(ref, dict) or ref.get("name") != "cluster-admin":
        return
    subjects = obj.data.get("subjects")
    if not isinstance(subjects, list):
        return
    for i, subject in enumerate(subjects):
        if not isinstance(subject, dict):
            continue
        name = str(subject.get("name", ""))
        kind = str(subject.get("kind", ""))
        if _SYSTEM_SUBJECT.match(name) and name not in ("system:anonymous",
                                                         "system:unauthenticated",
                                                         "system:authenticated"):
            continue
        yield _hit("iac.k8s.cluster-admin-binding", obj, obj.line(("subjects", i)),
                   f"binds cluster-admin to {kind} {name}",
                   severity=Severity.CRITICAL if name.startswith("system:") else None)


def _internal_lb(key: Any, value: Any) -> bool:
    """A cloud annotation that makes the load balancer internal (AWS scheme/internal, Azure
    internal, GKE load-balancer-type: Internal, OCI internal)."""
    k, v = str(key).lower(), str(value).strip().lower()
    return v == "internal" or ("internal" in k and v in ("true", "yes", "1"))


def check_service(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    if obj.kind != "Service":
        return
    spec = obj.data.get("spec")
    if not isinstance(spec, dict):
        return
    kind = spec.get("type")
    if kind == "LoadBalancer":
        ranges = spec.get("loadBalancerSourceRanges")
        if isinstance(ranges, list) and ranges and not any(
                str(r).strip() in ("0.0.0.0/0", "::/0") for r in ranges):
            return
        annotations = obj.meta.get("annotations")
        if isinstance(annotations, dict) and any(_internal_lb(k, v)
                                                 for k, v in annotations.items()):
            return
        yield _hit("iac.k8s.service-exposed", obj, obj.line(("spec", "type")),
                   "type LoadBalancer with no source range restriction")
    elif kind == "NodePort":
        yield _hit("iac.k8s.service-exposed", obj, obj.line(("spec", "type")),
                   "type NodePort opens the port on every node", severity=Severity.INFO)


_WORKLOAD_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet",
                             "ReplicationController", "Job", "CronJob"})


def check_default_namespace(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    if obj.engine == "helm":
        return  # {{ .Release.Namespace }} renders as "default": the install decides
    if obj.kind in _WORKLOAD_KINDS and obj.meta.get("namespace") == "default":
        yield _hit("iac.k8s.default-namespace", obj, obj.line(("metadata", "namespace")),
                   "metadata.namespace is default")


def check_ingress(obj: K8sObject, ctx: Context) -> Iterator[IacHit]:
    if obj.kind != "Ingress":
        return
    spec = obj.data.get("spec")
    if not isinstance(spec, dict):
        return
    tls = spec.get("tls")
    if isinstance(tls, list) and tls:
        return
    yield _hit("iac.k8s.ingress-no-tls", obj, obj.line(("spec",)), "no spec.tls section")


CHECKS: tuple[Check, ...] = (
    check_privileged, check_privilege_escalation, check_run_as_root, check_capabilities,
    check_host_namespaces, check_host_path, check_host_port, check_readonly_root, check_limits,
    check_image, check_seccomp, check_sa_token, check_env_secret, check_configmap, check_rbac,
    check_cluster_admin, check_service, check_default_namespace, check_ingress,
)


def build_context(objects: Iterable[K8sObject]) -> Context:
    ctx = Context()
    for obj in objects:
        if obj.kind == "ServiceAccount" and _is_false(
                obj.data.get("automountServiceAccountToken")):
            ctx.no_automount_accounts.add((obj.namespace or "default", obj.name))
    return ctx


def check_object(obj: K8sObject, ctx: Context) -> list[IacHit]:
    """Every rule's hits on one object."""
    hits: list[IacHit] = []
    for check in CHECKS:
        hits.extend(check(obj, ctx))
    return hits
