"""Each Kubernetes rule: a manifest it reports, the fixed one, and a safe look-alike."""

from __future__ import annotations

from conftest import Scan, pod, rule_hits
from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.kubernetes import RULES

HARDENED = """
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: app
    image: nginx:1.27.2
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: [ALL]
    resources:
      limits:
        cpu: 500m
        memory: 256Mi
"""


def _with(old: str, new: str, base: str = HARDENED) -> str:
    assert old in base
    return base.replace(old, new, 1)


def test_hardened_pod_has_no_findings(scan: Scan) -> None:
    for kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"):
        result = scan({f"{kind}.yaml": pod(HARDENED, kind=kind)})
        assert result.hits == [], (kind, result.hits)
        assert result.problems == []
        assert result.files == 1


def test_rules_metadata_is_complete() -> None:
    for rule in RULES.values():
        assert rule.id.startswith("iac.k8s.")
        assert rule.framework == "kubernetes"
        assert any(c.startswith("NIST-800-53:") for c in rule.controls)
        assert rule.cwe.startswith("CWE-")
    assert "CKV_K8S_16" in RULES["iac.k8s.privileged"].aliases
    assert "AVD-KSV-0017" in RULES["iac.k8s.privileged"].aliases


def test_privileged_reported_at_its_key(scan: Scan) -> None:
    text = pod(_with("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n"
                     "      privileged: true"), kind="Deployment")
    result = scan({"d.yaml": text})
    hits = rule_hits(result, "iac.k8s.privileged")
    assert len(hits) == 1
    line = text.split("\n").index("          privileged: true") + 1
    assert hits[0].line == line
    assert hits[0].resource == "Deployment/default/web container app"
    assert hits[0].block == (1, len(text.rstrip("\n").split("\n")))
    assert hits[0].path == "d.yaml"


def test_privileged_false_and_lookalikes_not_reported(scan: Scan) -> None:
    text = pod(_with("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n"
                     "      privileged: false"),
               meta="  labels:\n    privileged: 'true'\n")
    result = scan({"p.yaml": text})
    assert rule_hits(result, "iac.k8s.privileged") == []


def test_privileged_in_init_and_cronjob(scan: Scan) -> None:
    spec = _with("  containers:\n", "  initContainers:\n  - name: setup\n    image: busybox:1.36\n"
                 "    securityContext:\n      privileged: true\n  containers:\n")
    result = scan({"c.yaml": pod(spec, kind="CronJob")})
    hits = rule_hits(result, "iac.k8s.privileged")
    assert [h.resource for h in hits] == ["CronJob/default/web init container setup"]
    lines = [line.strip() for line in pod(spec, kind="CronJob").split("\n")]
    assert hits[0].line == lines.index("privileged: true") + 1


def test_privilege_escalation_default_is_true(scan: Scan) -> None:
    result = scan({"p.yaml": pod(_with("      allowPrivilegeEscalation: false\n", ""))})
    hits = rule_hits(result, "iac.k8s.privilege-escalation")
    assert len(hits) == 1 and "defaults to true" in hits[0].message


def test_privilege_escalation_at_pod_level_does_not_count(scan: Scan) -> None:
    spec = _with("      allowPrivilegeEscalation: false\n", "")
    spec = _with("    runAsNonRoot: true\n", "    runAsNonRoot: true\n"
                 "    allowPrivilegeEscalation: false\n", spec)
    assert len(rule_hits(scan({"p.yaml": pod(spec)}), "iac.k8s.privilege-escalation")) == 1


def test_run_as_root_unset_is_medium_confidence(scan: Scan) -> None:
    spec = _with("    runAsNonRoot: true\n    runAsUser: 10001\n", "")
    hits = rule_hits(scan({"p.yaml": pod(spec)}), "iac.k8s.run-as-root")
    assert len(hits) == 1
    assert hits[0].confidence == Confidence.MEDIUM
    assert "cannot be seen here" in hits[0].message


def test_run_as_root_pod_level_settings_cover_containers(scan: Scan) -> None:
    only_non_root = _with("    runAsUser: 10001\n", "")
    only_uid = _with("    runAsNonRoot: true\n", "")
    for spec in (only_non_root, only_uid):
        assert rule_hits(scan({"p.yaml": pod(spec)}), "iac.k8s.run-as-root") == []


def test_run_as_root_container_overrides_pod_user_zero(scan: Scan) -> None:
    spec = _with("      readOnlyRootFilesystem: true\n",
                 "      readOnlyRootFilesystem: true\n      runAsUser: 0\n")
    text = pod(spec)
    hits = rule_hits(scan({"p.yaml": text}), "iac.k8s.run-as-root")
    assert len(hits) == 1
    assert hits[0].confidence == Confidence.HIGH
    assert hits[0].line == text.split("\n").index("      runAsUser: 0") + 1


def test_run_as_root_container_fixes_pod_root(scan: Scan) -> None:
    spec = _with("    runAsNonRoot: true\n    runAsUser: 10001\n", "    runAsUser: 0\n")
    spec = _with("      readOnlyRootFilesystem: true\n",
                 "      readOnlyRootFilesystem: true\n      runAsUser: 1000\n", spec)
    assert rule_hits(scan({"p.yaml": pod(spec)}), "iac.k8s.run-as-root") == []


def test_capabilities(scan: Scan) -> None:
    drop_some = _with("drop: [ALL]", "drop: [NET_RAW]")
    hits = rule_hits(scan({"a.yaml": pod(drop_some)}), "iac.k8s.capabilities-not-dropped")
    assert len(hits) == 1
    add_admin = _with("drop: [ALL]", "drop: [ALL]\n        add: [NET_BIND_SERVICE, CAP_SYS_ADMIN]")
    result = scan({"b.yaml": pod(add_admin)})
    hits = rule_hits(result, "iac.k8s.dangerous-capabilities")
    assert [h.message.split(": ", 1)[1] for h in hits] == ["capabilities.add includes SYS_ADMIN"]
    assert rule_hits(result, "iac.k8s.capabilities-not-dropped") == []
    safe = _with("drop: [ALL]", "drop: [ALL]\n        add: [NET_BIND_SERVICE]")
    assert rule_hits(scan({"c.yaml": pod(safe)}), "iac.k8s.dangerous-capabilities") == []
    other = _with("drop: [ALL]", "drop: [ALL]\n        add: [CHOWN, NET_RAW]")
    hits = rule_hits(scan({"d.yaml": pod(other)}), "iac.k8s.dangerous-capabilities")
    assert [h.severity for h in hits] == [Severity.LOW, Severity.MEDIUM]


def test_host_namespaces(scan: Scan) -> None:
    bad = _with("  automountServiceAccountToken: false\n",
                "  automountServiceAccountToken: false\n  hostPID: true\n  hostNetwork: false\n")
    hits = rule_hits(scan({"a.yaml": pod(bad)}), "iac.k8s.host-namespaces")
    assert [h.message.split(": ", 1)[1] for h in hits] == ["hostPID is true"]
    windows = _with("    runAsNonRoot: true\n", "    runAsNonRoot: true\n    windowsOptions:\n"
                    "      hostProcess: true\n")
    hits = rule_hits(scan({"b.yaml": pod(windows)}), "iac.k8s.host-namespaces")
    assert [(h.resource, h.line) for h in hits] == [("Pod/default/web container app", 10)]
    fixed = _with("      readOnlyRootFilesystem: true\n", "      readOnlyRootFilesystem: true\n"
                  "      windowsOptions:\n        hostProcess: false\n", windows)
    assert rule_hits(scan({"c.yaml": pod(fixed)}), "iac.k8s.host-namespaces") == []


def test_host_path_and_runtime_socket(scan: Scan) -> None:
    vols = ("  volumes:\n  - name: sock\n    hostPath:\n      path: /var/run/docker.sock\n"
            "  - name: data\n    hostPath:\n      path: /srv/data\n"
            "  - name: cfg\n    configMap:\n      name: cfg\n"
            "  - name: tmp\n    emptyDir: {}\n")
    hits = rule_hits(scan({"a.yaml": pod(HARDENED + vols)}), "iac.k8s.host-path")
    assert [(h.severity, "docker.sock" in h.message) for h in hits] == [
        (Severity.CRITICAL, True), (None, False)]


def test_host_port(scan: Scan) -> None:
    bad = _with("    image: nginx:1.27.2\n", "    image: nginx:1.27.2\n    ports:\n"
                "    - containerPort: 8080\n      hostPort: 8080\n")
    assert len(rule_hits(scan({"a.yaml": pod(bad)}), "iac.k8s.host-port")) == 1
    good = _with("    image: nginx:1.27.2\n", "    image: nginx:1.27.2\n    ports:\n"
                 "    - containerPort: 8080\n")
    assert rule_hits(scan({"b.yaml": pod(good)}), "iac.k8s.host-port") == []


def test_read_only_root_and_limits(scan: Scan) -> None:
    bad = _with("      readOnlyRootFilesystem: true\n", "      readOnlyRootFilesystem: false\n")
    bad = _with("        cpu: 500m\n", "", bad)
    result = scan({"a.yaml": pod(bad)})
    assert len(rule_hits(result, "iac.k8s.writable-root-fs")) == 1
    limits = rule_hits(result, "iac.k8s.no-resource-limits")
    assert len(limits) == 1 and "no cpu limit" in limits[0].message


def test_image_pinning(scan: Scan) -> None:
    cases = {"nginx": True, "nginx:latest": True, "registry.local:5000/team/app": True,
             "registry.local:5000/team/app:2.1": False, "nginx@sha256:" + "a" * 64: False,
             "nginx:1.27.2": False}
    for image, reported in cases.items():
        result = scan({"a.yaml": pod(_with("image: nginx:1.27.2", f"image: {image}"))})
        assert bool(rule_hits(result, "iac.k8s.image-latest")) is reported, image


def test_seccomp(scan: Scan) -> None:
    unset = _with("    seccompProfile:\n      type: RuntimeDefault\n", "")
    assert len(rule_hits(scan({"a.yaml": pod(unset)}), "iac.k8s.seccomp")) == 1
    unconfined = _with("type: RuntimeDefault", "type: Unconfined")
    hits = rule_hits(scan({"b.yaml": pod(unconfined)}), "iac.k8s.seccomp")
    assert len(hits) == 1 and hits[0].severity == Severity.MEDIUM
    container_level = _with("      readOnlyRootFilesystem: true\n",
                            "      readOnlyRootFilesystem: true\n      seccompProfile:\n"
                            "        type: Localhost\n        localhostProfile: p.json\n", unset)
    assert rule_hits(scan({"c.yaml": pod(container_level)}), "iac.k8s.seccomp") == []
    annotated = pod(unset, kind="Deployment").replace(
        "  template:\n", "  template:\n    metadata:\n      annotations:\n        "
        "seccomp.security.alpha.kubernetes.io/pod: runtime/default\n")
    assert rule_hits(scan({"d.yaml": annotated}), "iac.k8s.seccomp") == []


def test_service_account_token(scan: Scan) -> None:
    unset = _with("  automountServiceAccountToken: false\n", "  serviceAccountName: app\n")
    assert len(rule_hits(scan({"a.yaml": pod(unset)}), "iac.k8s.sa-token-automount")) == 1
    account = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n" \
              "automountServiceAccountToken: false\n"
    result = scan({"b.yaml": pod(unset) + account})
    assert rule_hits(result, "iac.k8s.sa-token-automount") == []


def test_env_secret_literal_is_redacted(scan: Scan) -> None:
    value = "s3cr3t" "-hunter2-value"
    env = ("    env:\n"
           f"    - name: DB_PASSWORD\n      value: {value}\n"
           "    - name: DB_PASSWORD_FILE\n      value: /run/secrets/db\n"
           "    - name: API_TOKEN\n      valueFrom:\n        secretKeyRef: {name: a, key: b}\n"
           "    - name: AUTH_TOKEN\n      value: $(TOKEN_FROM_SECRET)\n"
           "    - name: MONKEY\n      value: banana-split\n")
    text = pod(_with("    image: nginx:1.27.2\n", "    image: nginx:1.27.2\n" + env))
    hits = rule_hits(scan({"a.yaml": text}), "iac.k8s.env-secret-literal")
    assert len(hits) == 1
    assert "DB_PASSWORD" in hits[0].message
    assert value not in hits[0].message and value not in hits[0].evidence
    assert hits[0].line == text.split("\n").index(f"      value: {value}") + 1


RBAC = """apiVersion: rbac.authorization.k8s.io/v1
kind: {kind}
metadata:
  name: r
rules:
{rules}"""


def test_rbac_rules(scan: Scan) -> None:
    rules = ("- apiGroups: ['*']\n  resources: ['*']\n  verbs: ['*']\n"
             "- apiGroups: ['']\n  resources: [secrets]\n  verbs: [get, list]\n"
             "- apiGroups: ['']\n  resources: [pods/exec]\n  verbs: [create]\n"
             "- apiGroups: [rbac.authorization.k8s.io]\n  resources: [clusterroles]\n"
             "  verbs: [bind, escalate]\n")
    result = scan({"r.yaml": RBAC.format(kind="ClusterRole", rules=rules)})
    found = sorted({h.rule_id for h in result.hits})
    concerns = ("escalation", "pod-exec", "secrets", "wildcard")
    assert found == [f"iac.k8s.rbac-{concern}" for concern in concerns]


def test_rbac_node_proxy(scan: Scan) -> None:
    rules = "- apiGroups: ['']\n  resources: [nodes/proxy]\n  verbs: [get]\n"
    hits = scan({"r.yaml": RBAC.format(kind="ClusterRole", rules=rules)}).hits
    assert [(h.rule_id, h.line) for h in hits] == [("iac.k8s.rbac-pod-exec", 7)]
    safe = "- apiGroups: ['']\n  resources: [nodes, nodes/status]\n  verbs: [get]\n"
    assert scan({"s.yaml": RBAC.format(kind="ClusterRole", rules=safe)}).hits == []


def test_rbac_lookalikes_not_reported(scan: Scan) -> None:
    rules = ("- apiGroups: ['']\n  resources: [configmaps, pods, pods/log]\n"
             "  verbs: [get, list, watch]\n"
             "- apiGroups: ['']\n  resources: [secrets]\n  resourceNames: [app-tls]\n"
             "  verbs: [get]\n")
    assert scan({"r.yaml": RBAC.format(kind="Role", rules=rules)}).hits == []


def test_cluster_admin_binding(scan: Scan) -> None:
    binding = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
               "metadata:\n  name: b\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
               "  kind: ClusterRole\n  name: {role}\nsubjects:\n"
               "- kind: ServiceAccount\n  name: ci\n  namespace: tools\n"
               "- kind: Group\n  name: system:masters\n")
    hits = rule_hits(scan({"a.yaml": binding.format(role="cluster-admin")}),
                     "iac.k8s.cluster-admin-binding")
    assert len(hits) == 1 and "ServiceAccount ci" in hits[0].message
    assert hits[0].line == 10  # the subject's entry
    assert scan({"b.yaml": binding.format(role="view")}).hits == []


def test_service_exposure(scan: Scan) -> None:
    svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  type: {t}\n{extra}"
    assert len(scan({"a.yaml": svc.format(t="LoadBalancer", extra="")}).hits) == 1
    restricted = "  loadBalancerSourceRanges: [10.0.0.0/8]\n"
    assert scan({"b.yaml": svc.format(t="LoadBalancer", extra=restricted)}).hits == []
    open_ranges = "  loadBalancerSourceRanges: ['::/0']\n"
    assert len(scan({"c.yaml": svc.format(t="LoadBalancer", extra=open_ranges)}).hits) == 1
    node_port = scan({"d.yaml": svc.format(t="NodePort", extra="")}).hits
    assert [h.severity for h in node_port] == [Severity.INFO]
    assert scan({"e.yaml": svc.format(t="ClusterIP", extra="")}).hits == []
    for key, value in (("networking.gke.io/load-balancer-type", "Internal"),
                       ("service.beta.kubernetes.io/aws-load-balancer-internal", "'true'"),
                       ("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal")):
        internal = svc.format(t="LoadBalancer", extra="").replace(
            "  name: s\n", f"  name: s\n  annotations:\n    {key}: {value}\n")
        assert scan({"f.yaml": internal}).hits == [], key


def test_default_namespace_only_when_written(scan: Scan) -> None:
    text = pod(HARDENED, meta="  namespace: default\n")
    hits = rule_hits(scan({"a.yaml": text}), "iac.k8s.default-namespace")
    assert len(hits) == 1 and hits[0].line == 5
    assert scan({"b.yaml": pod(HARDENED)}).hits == []
    assert scan({"c.yaml": pod(HARDENED, meta="  namespace: shop\n")}).hits == []


def test_ingress_tls(scan: Scan) -> None:
    ing = ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: i\nspec:\n"
           "{tls}  rules:\n  - host: shop.example.com\n")
    assert len(scan({"a.yaml": ing.format(tls="")}).hits) == 1
    tls = "  tls:\n  - hosts: [shop.example.com]\n    secretName: shop-tls\n"
    assert scan({"b.yaml": ing.format(tls=tls)}).hits == []


def test_list_kind_and_multi_document_lines(scan: Scan) -> None:
    bad = _with("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: false\n"
                "      privileged: true")
    doc = pod(bad, name="first")
    items = "\n".join("  " + line if line else line for line in pod(bad, name="second")
                      .replace("apiVersion", "- apiVersion", 1).split("\n"))
    listing = "apiVersion: v1\nkind: List\nitems:\n" + items.replace("  - apiVersion",
                                                                     "- apiVersion")
    text = doc + "---\n" + listing
    result = scan({"all.yaml": text})
    hits = rule_hits(result, "iac.k8s.privileged")
    assert [h.resource for h in hits] == ["Pod/default/first container app",
                                          "Pod/default/second container app"]
    lines = text.split("\n")
    assert hits[0].line == lines.index("      privileged: true") + 1
    assert hits[1].line == len(lines) - lines[::-1].index("        privileged: true")
    assert {r.name for r in result.resources} == {"Pod/default/first", "Pod/default/second"}
    second = next(r for r in result.resources if r.name == "Pod/default/second")
    assert second.line == lines.index("- apiVersion: v1") + 1
    assert second.lines["spec.containers"] > second.line


def test_configmap_secret(scan: Scan) -> None:
    secret = "Pa" "ssw0rd-Literal-42"
    cm = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
          f"  DB_PASSWORD: {secret}\n"
          "  app.properties: |\n    db.host=db\n"
          f"    db.password={secret}\n"
          "  DB_HOST: db.internal\n  DB_PASSWORD_FILE: /run/secrets/db\n"
          "  other.properties: |\n    token.ttl=30\n    password=${DB_PASSWORD}\n")
    hits = rule_hits(scan({"cm.yaml": cm}), "iac.k8s.configmap-secret")
    assert [(h.line, "DB_PASSWORD" in h.message) for h in hits] == [(6, True), (7, False)]
    assert all(secret not in h.message + h.evidence for h in hits)


def test_persistent_volume_host_path(scan: Scan) -> None:
    pv = ("apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: v\nspec:\n"
          "  capacity: {storage: 1Gi}\n  hostPath:\n    path: /mnt/data\n")
    hits = rule_hits(scan({"pv.yaml": pv}), "iac.k8s.host-path")
    assert [(h.resource, h.line) for h in hits] == [("PersistentVolume/default/v", 8)]
    nfs = pv.replace("  hostPath:\n    path: /mnt/data\n", "  nfs:\n    server: n\n    path: /x\n")
    assert scan({"nfs.yaml": nfs}).hits == []


def test_read_only_time_zone_host_path_is_not_reported(scan: Scan) -> None:
    mount = ("    volumeMounts:\n    - name: tz\n      mountPath: /etc/localtime\n"
             "      readOnly: {ro}\n")
    vols = "  volumes:\n  - name: tz\n    hostPath:\n      path: {path}\n"
    base = _with("        memory: 256Mi\n", "        memory: 256Mi\n" + mount)
    quiet = scan({"a.yaml": pod(base.format(ro="true") + vols.format(path="/etc/localtime"))})
    assert rule_hits(quiet, "iac.k8s.host-path") == []
    writable = scan({"b.yaml": pod(base.format(ro="false") + vols.format(path="/etc/localtime"))})
    assert len(rule_hits(writable, "iac.k8s.host-path")) == 1
    other = scan({"c.yaml": pod(base.format(ro="true") + vols.format(path="/etc/kubernetes"))})
    assert len(rule_hits(other, "iac.k8s.host-path")) == 1  # read-only, but not a clock file


def test_all_verbs_on_own_custom_resources_is_not_a_wildcard(scan: Scan) -> None:
    own = "- apiGroups: [ml.example.com]\n  resources: [trainingjobs, trainingjobs/status]\n" \
          "  verbs: ['*']\n"
    assert scan({"r.yaml": RBAC.format(kind="Role", rules=own)}).hits == []
    core = "- apiGroups: ['']\n  resources: [configmaps]\n  verbs: ['*']\n"
    k8s = "- apiGroups: [networking.k8s.io]\n  resources: [ingresses]\n  verbs: ['*']\n"
    every = "- apiGroups: [ml.example.com]\n  resources: ['*']\n  verbs: [get]\n"
    for rules in (core, k8s, every):
        hits = scan({"s.yaml": RBAC.format(kind="Role", rules=rules)}).hits
        assert [h.rule_id for h in hits] == ["iac.k8s.rbac-wildcard"], rules
