"""Which rule of which tool is about which concern of ``labels.json`` (explicit tables).

Each table maps a tool's own rule id to the concerns of the neutral vocabulary that a finding of
that rule counts for. A rule about a *different* property (S3 versioning, resource limits, a
missing HEALTHCHECK ...) is deliberately absent: it neither finds a planted item nor false-alarms
on a look-alike. Rules that are broader than a concern but include it (trivy's AWS-0107 fires on
any port open to the world, checkov's CKV2_AWS_6 on any bucket without its own public access
block) are mapped, so their false alarms on look-alikes count. secpipe is mapped by its own rule
ids, like the peers, never by the aliases it declares (those are used only in the trivy-checks
part, as the issue asks).
"""

from __future__ import annotations


def _table(spec: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for concern, ids in spec.items():
        for rule in ids:
            out.setdefault(rule, set()).add(concern)
    return {rule: frozenset(c) for rule, c in out.items()}


TRIVY: dict[str, frozenset[str]] = _table({
    "storage-public-access": ("AWS-0086", "AWS-0087", "AWS-0091", "AWS-0093", "AWS-0094",
                              "AWS-0092", "AZU-0007", "GCP-0001"),
    "storage-insecure-transport": ("AZU-0008", "AZU-0011", "AZU-0059"),
    "sg-admin-port-open-world": ("AWS-0107", "AWS-0105", "AZU-0047", "AZU-0048", "AZU-0050",
                                 "AZU-0074", "GCP-0027", "GCP-0070", "GCP-0071", "GCP-0072"),
    "volume-unencrypted": ("AWS-0026", "AWS-0131", "AWS-0008", "AWS-0122"),
    "db-unencrypted": ("AWS-0079", "AWS-0080"),
    "db-public-access": ("AWS-0180", "AWS-0082", "AZU-0022", "AZU-0029", "GCP-0017"),
    "iam-wildcard-admin": ("AWS-0057",),
    "instance-metadata-v1": ("AWS-0028", "AWS-0130"),
    "kms-key-no-rotation": ("AWS-0065", "GCP-0065"),
    "keyvault-no-purge-protection": ("AZU-0016",),
    "container-privileged": ("KSV-0017",),
    "container-privilege-escalation": ("KSV-0001",),
    "container-runs-as-root": ("KSV-0012", "KSV-0105"),
    "container-dangerous-capabilities": ("KSV-0005", "KSV-0022", "KSV-0119", "KSV-0120"),
    "host-namespace": ("KSV-0008", "KSV-0009", "KSV-0010"),
    "host-path-sensitive": ("KSV-0006", "KSV-0023", "KSV-0121"),
    "rbac-wildcard-admin": ("KSV-0044", "KSV-0045", "KSV-0046", "KSV-0112"),
    "dockerfile-runs-as-root": ("DS-0002",),
    "dockerfile-add-remote-url": ("DS-0005",),
    "dockerfile-secret-in-env": ("DS-0031",),
})
"""trivy ``config`` rule ids (SARIF ``ruleId``, no ``AVD-`` prefix). trivy has no check for a
script piped into a shell (DS-0014 is "uses both wget and curl") and does not read Compose."""

CHECKOV: dict[str, frozenset[str]] = _table({
    "storage-public-access": ("CKV_AWS_20", "CKV_AWS_57", "CKV2_AWS_6", "CKV_AWS_53",
                              "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV_AWS_70",
                              "CKV2_AWS_43", "CKV_AZURE_34", "CKV_AZURE_190", "CKV2_AZURE_47",
                              "CKV_GCP_28", "CKV_GCP_114"),
    "storage-insecure-transport": ("CKV_AZURE_3", "CKV_AZURE_44"),
    "sg-admin-port-open-world": ("CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_277", "CKV_AWS_231",
                                 "CKV_AWS_232", "CKV_AWS_352", "CKV_AZURE_9", "CKV_AZURE_10",
                                 "CKV_GCP_2", "CKV_GCP_3", "CKV2_GCP_12"),
    "volume-unencrypted": ("CKV_AWS_3", "CKV_AWS_8"),
    "db-unencrypted": ("CKV_AWS_16", "CKV_AWS_96"),
    "db-public-access": ("CKV_AWS_17", "CKV_AZURE_11", "CKV2_AZURE_34", "CKV2_AZURE_26",
                         "CKV_AZURE_113", "CKV_AZURE_68", "CKV_AZURE_53", "CKV_GCP_11",
                         "CKV_GCP_60"),
    "iam-wildcard-admin": ("CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_49", "CKV_AWS_63"),
    "instance-metadata-v1": ("CKV_AWS_79",),
    "kms-key-no-rotation": ("CKV_AWS_7", "CKV_GCP_43"),
    "keyvault-no-purge-protection": ("CKV_AZURE_110", "CKV_AZURE_42"),
    "container-privileged": ("CKV_K8S_16",),
    "container-privilege-escalation": ("CKV_K8S_20",),
    "container-runs-as-root": ("CKV_K8S_23",),
    "container-dangerous-capabilities": ("CKV_K8S_25", "CKV_K8S_39"),
    "host-namespace": ("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"),
    "host-path-sensitive": ("CKV_K8S_27",),
    "rbac-wildcard-admin": ("CKV_K8S_49",),
    "dockerfile-runs-as-root": ("CKV_DOCKER_3", "CKV_DOCKER_8"),
    "dockerfile-add-remote-url": ("CKV_DOCKER_4",),
})
"""checkov check ids. Its secrets framework (``CKV_SECRET_*``) is mapped by prefix in
:func:`concerns_of` to the secret-in-environment concerns (it reads Dockerfiles and Compose
files as text). checkov has no Compose framework, no curl-pipe-shell check, and scans Helm
charts only when the ``helm`` binary is installed."""

SECPIPE: dict[str, frozenset[str]] = _table({
    "storage-public-access": ("iac.aws.s3-public-access-block", "iac.aws.s3-public-acl",
                              "iac.aws.s3-public-policy", "iac.azure.storage-container-public",
                              "iac.azure.storage-public-blob-access", "iac.gcp.storage-public",
                              "iac.gcp.iam-public-member"),
    "storage-insecure-transport": ("iac.azure.storage-https-only", "iac.azure.storage-min-tls"),
    "sg-admin-port-open-world": ("iac.aws.sg-open-admin-port", "iac.aws.sg-open-all-ports",
                                 "iac.aws.nacl-open-admin-port",
                                 "iac.azure.nsg-all-ports-open", "iac.azure.nsg-rdp-open",
                                 "iac.azure.nsg-ssh-open", "iac.gcp.firewall-all-ports-open",
                                 "iac.gcp.firewall-rdp-open", "iac.gcp.firewall-ssh-open"),
    "volume-unencrypted": ("iac.aws.ebs-volume-encryption", "iac.aws.ec2-block-device-encryption"),
    "db-unencrypted": ("iac.aws.rds-encryption",),
    "db-public-access": ("iac.aws.rds-public", "iac.azure.db-firewall-open",
                         "iac.azure.db-public-network", "iac.azure.sql-public-network",
                         "iac.gcp.sql-open-network", "iac.gcp.sql-public-ip"),
    "iam-wildcard-admin": ("iac.aws.iam-admin-policy",),
    "instance-metadata-v1": ("iac.aws.ec2-imdsv2",),
    "kms-key-no-rotation": ("iac.aws.kms-rotation", "iac.gcp.kms-rotation"),
    "keyvault-no-purge-protection": ("iac.azure.keyvault-not-recoverable",),
    "container-privileged": ("iac.k8s.privileged",),
    "container-privilege-escalation": ("iac.k8s.privilege-escalation",),
    "container-runs-as-root": ("iac.k8s.run-as-root",),
    "container-dangerous-capabilities": ("iac.k8s.dangerous-capabilities",),
    "host-namespace": ("iac.k8s.host-namespaces",),
    "host-path-sensitive": ("iac.k8s.host-path",),
    "rbac-wildcard-admin": ("iac.k8s.rbac-wildcard",),
    "dockerfile-runs-as-root": ("iac.docker.root-user",),
    "dockerfile-curl-pipe-shell": ("iac.docker.remote-script-exec",),
    "dockerfile-add-remote-url": ("iac.docker.add-remote-url",),
    "dockerfile-secret-in-env": ("iac.docker.hardcoded-secret", "iac.docker.secret-build-arg"),
    "compose-privileged": ("iac.compose.privileged",),
    "compose-docker-socket": ("iac.compose.docker-socket",),
    "compose-host-namespace": ("iac.compose.host-namespace", "iac.compose.host-network"),
    "compose-secret-in-env": ("iac.compose.secret-in-environment",),
    "compose-dangerous-capabilities": ("iac.compose.dangerous-capability",),
})
"""secpipe ``scan iac`` rule ids, mapped by what each rule is about (its title)."""

TABLES: dict[str, dict[str, frozenset[str]]] = {"secpipe": SECPIPE, "checkov": CHECKOV,
                                                "trivy": TRIVY}

_SECRET_CONCERNS = frozenset({"dockerfile-secret-in-env", "compose-secret-in-env"})

PARSE_PROBLEMS = frozenset({"iac.parse-error", "iac.too-large", "iac.budget-exceeded"})
"""secpipe findings that say a file was not (completely) analysed."""


def norm_trivy(rule: str) -> str:
    """``AVD-AWS-0086`` and ``AWS-0086`` are the same trivy check."""
    rule = rule.upper()
    return rule[4:] if rule.startswith("AVD-") else rule


def concerns_of(tool: str, rule: str) -> frozenset[str]:
    """The concerns a finding of ``rule`` counts for (empty: an unrelated rule)."""
    if tool == "trivy":
        return TRIVY.get(norm_trivy(rule), frozenset())
    if tool == "checkov" and rule.startswith("CKV_SECRET_"):
        return _SECRET_CONCERNS
    return TABLES[tool].get(rule, frozenset())


# --- trivy-checks examples: checkov ids per trivy check (part (a)) -------------------------------

_EXTRA_CHECKOV: dict[str, tuple[str, ...]] = {
    "AWS-0090": ("CKV_AWS_21",), "AWS-0089": ("CKV_AWS_18",), "AWS-0088": ("CKV_AWS_19",),
    "AWS-0132": ("CKV_AWS_145",), "AWS-0016": ("CKV_AWS_36",), "AWS-0014": ("CKV_AWS_67",),
    "AWS-0015": ("CKV_AWS_35",), "AWS-0077": ("CKV_AWS_133",), "AWS-0177": ("CKV_AWS_293",),
    "AWS-0343": ("CKV_AWS_139",), "AWS-0037": ("CKV_AWS_42",), "AWS-0039": ("CKV_AWS_58",),
    "AWS-0040": ("CKV_AWS_39",), "AWS-0041": ("CKV_AWS_38",), "AWS-0038": ("CKV_AWS_37",),
    "AWS-0030": ("CKV_AWS_163",), "AWS-0031": ("CKV_AWS_51",), "AWS-0032": ("CKV_AWS_32",),
    "AWS-0096": ("CKV_AWS_27",), "AWS-0095": ("CKV_AWS_26",), "AWS-0024": ("CKV_AWS_28",),
    "AWS-0066": ("CKV_AWS_50",), "AWS-0064": ("CKV_AWS_43",), "AWS-0045": ("CKV_AWS_29",),
    "AWS-0051": ("CKV_AWS_30",), "AWS-0048": ("CKV_AWS_5",), "AWS-0046": ("CKV_AWS_83",),
    "AWS-0012": ("CKV_AWS_34",), "AWS-0013": ("CKV_AWS_174",), "AWS-0084": ("CKV_AWS_64",),
    "AWS-0021": ("CKV_AWS_74",), "AWS-0076": ("CKV_AWS_44",), "AWS-0073": ("CKV_AWS_81",),
    "AWS-0099": ("CKV_AWS_23",), "AWS-0124": ("CKV_AWS_23",), "AWS-0178": ("CKV2_AWS_11",),
    "AWS-0164": ("CKV_AWS_130",), "AWS-0176": ("CKV_AWS_161", "CKV_AWS_162"),
    "AWS-0133": ("CKV_AWS_353",),
    "AZU-0012": ("CKV_AZURE_35",), "AZU-0013": ("CKV_AZURE_109",), "AZU-0017": ("CKV_AZURE_41",),
    "AZU-0014": ("CKV_AZURE_40",), "AZU-0027": ("CKV_AZURE_23",), "AZU-0026": ("CKV_AZURE_52",),
    "AZU-0038": ("CKV_AZURE_2",), "AZU-0042": ("CKV_AZURE_5",), "AZU-0043": ("CKV_AZURE_7",),
    "AZU-0041": ("CKV_AZURE_6",), "AZU-0072": ("CKV_AZURE_14",), "AZU-0006": ("CKV_AZURE_15",),
    "AZU-0004": ("CKV_AZURE_70",), "AZU-0039": ("CKV_AZURE_1",),
    "GCP-0024": ("CKV_GCP_14",), "GCP-0015": ("CKV_GCP_6",), "GCP-0030": ("CKV_GCP_32",),
    "GCP-0031": ("CKV_GCP_40",), "GCP-0032": ("CKV_GCP_35",), "GCP-0043": ("CKV_GCP_36",),
    "GCP-0044": ("CKV_GCP_30",), "GCP-0061": ("CKV_GCP_20",), "GCP-0062": ("CKV_GCP_7",),
    "GCP-0064": ("CKV_GCP_13",), "GCP-0056": ("CKV_GCP_12",), "GCP-0059": ("CKV_GCP_25",),
    "GCP-0002": ("CKV_GCP_29",), "GCP-0046": ("CKV_GCP_15",), "GCP-0067": ("CKV_GCP_39",),
    "KSV-0011": ("CKV_K8S_11",), "KSV-0013": ("CKV_K8S_14",), "KSV-0014": ("CKV_K8S_22",),
    "KSV-0015": ("CKV_K8S_10",), "KSV-0016": ("CKV_K8S_12",), "KSV-0018": ("CKV_K8S_13",),
    "KSV-0020": ("CKV_K8S_40",), "KSV-0003": ("CKV_K8S_37",), "KSV-0024": ("CKV_K8S_26",),
    "KSV-0030": ("CKV_K8S_31",), "KSV-0036": ("CKV_K8S_38",), "KSV-0110": ("CKV_K8S_21",),
    "DS-0001": ("CKV_DOCKER_7",), "DS-0004": ("CKV_DOCKER_1",), "DS-0026": ("CKV_DOCKER_2",),
    "DS-0010": ("CKV2_DOCKER_1",),
}


def checkov_for_trivy(check: str) -> frozenset[str]:
    """checkov ids about the same property as trivy check ``check`` (empty: not mapped).

    Derived from the concern tables above (every checkov id of each concern of the trivy check)
    plus ``_EXTRA_CHECKOV`` for frequent checks outside the concern vocabulary.
    """
    check = norm_trivy(check)
    out = set(_EXTRA_CHECKOV.get(check, ()))
    for concern in TRIVY.get(check, frozenset()):
        out.update(rule for rule, cs in CHECKOV.items() if concern in cs)
    return frozenset(out)
