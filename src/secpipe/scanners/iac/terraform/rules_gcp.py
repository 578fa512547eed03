"""Terraform rules for Google Cloud (``google``/``google-beta`` providers 4.x-6.x).

Same contract as :mod:`.rules_azure` (whose value helpers this module shares): a hit per
insecure setting, an ``iac.unresolved`` problem when the deciding value is not statically known,
defaults judged as the provider applies them (a hit resting on a default says so and has medium
confidence).

Provider defaults relied on: a firewall rule's ``direction`` is ``INGRESS`` and, for ingress,
no ``source_ranges``/``source_tags``/``source_service_accounts`` means every source; an
``allow`` block without ``ports`` allows every port of its protocol; Cloud SQL ``ipv4_enabled``
defaults to true and ``backup_configuration.enabled`` to false; ``uniform_bucket_level_access``
defaults to false; a notebook's ``no_public_ip`` / a workbench instance's ``disable_public_ip``
default to false; a KMS key has no rotation unless ``rotation_period`` is set.

Judgements worth knowing: ``source_ranges`` holding ``0.0.0.0/0`` is public even with
``source_tags`` beside it (GCP matches either); RDP needs TCP; an allow of every port is
reported once, as ``firewall-all-ports-open``; a Cloud SQL authorized network of 0.0.0.0/0 with
the public IP off is reported low (it opens the moment the IP is turned on); GKE checks that
Autopilot enforces itself (private nodes, Workload Identity, network policy) are skipped for
Autopilot clusters; an instance from a template is not judged on what it inherits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacRule, Ref, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_azure import (
    Check,
    Found,
    any_public,
    as_unresolved,
    covers,
    flag,
    hit,
    is_all_ports,
    is_public_cidr,
    items,
    lower,
    opaque,
    port_range,
    rule,
    show,
    sub_block,
    sub_blocks,
    text,
    unresolved,
    with_tool_ids,
)

_TFSEC_IDS: dict[str, str] = {
    "AVD-GCP-0001": "google-storage-no-public-access",
    "AVD-GCP-0002": "google-storage-enable-ubla",
    "AVD-GCP-0007": "google-iam-no-privileged-service-accounts",
    "AVD-GCP-0015": "google-sql-encrypt-in-transit-data",
    "AVD-GCP-0017": "google-sql-no-public-access",
    "AVD-GCP-0024": "google-sql-enable-backup",
    "AVD-GCP-0027": "google-compute-no-public-ingress",
    "AVD-GCP-0030": "google-compute-no-project-wide-ssh-keys",
    "AVD-GCP-0031": "google-compute-no-public-ip",
    "AVD-GCP-0032": "google-compute-no-serial-port",
    "AVD-GCP-0041": "google-compute-enable-shielded-vm-vtpm",
    "AVD-GCP-0043": "google-compute-no-ip-forwarding",
    "AVD-GCP-0044": "google-compute-no-default-service-account",
    "AVD-GCP-0045": "google-compute-enable-shielded-vm-im",
    "AVD-GCP-0046": "google-bigquery-no-public-access",
    "AVD-GCP-0048": "google-gke-metadata-endpoints-disabled",
    "AVD-GCP-0053": "google-gke-no-public-control-plane",
    "AVD-GCP-0056": "google-gke-enable-network-policy",
    "AVD-GCP-0057": "google-gke-node-metadata-security",
    "AVD-GCP-0059": "google-gke-enable-private-cluster",
    "AVD-GCP-0061": "google-gke-enable-master-networks",
    "AVD-GCP-0062": "google-gke-use-rbac-permissions",
    "AVD-GCP-0064": "google-gke-no-legacy-authentication",
    "AVD-GCP-0065": "google-kms-rotate-kms-keys",
    "AVD-GCP-0067": "google-compute-enable-shielded-vm-sb",
    "AVD-GCP-0070": "google-compute-no-open-rdp-access",
    "AVD-GCP-0071": "google-compute-restrict-ssh-access",
    "AVD-GCP-0072": "google-compute-disable-allow-all-ports",
}
"""trivy/tfsec long ids of the AVD ids used above (their ``tfsec:ignore:`` comments name
these), from the trivy-checks metadata."""

RULES: dict[str, IacRule] = with_tool_ids(_TFSEC_IDS, [
    rule(id="iac.gcp.storage-uniform-access",
         title="Cloud Storage bucket does not enforce uniform bucket-level access",
         severity=Severity.MEDIUM, cwe="CWE-732",
         controls=("CIS-GCP-5.2", "NIST-800-53:AC-3"),
         rationale="Without uniform access, per-object ACLs can grant access (even public) that "
                   "bucket IAM does not show.",
         fix="Set uniform_bucket_level_access = true.",
         bad='resource "google_storage_bucket" "b" { uniform_bucket_level_access = false }',
         good='resource "google_storage_bucket" "b" { uniform_bucket_level_access = true }',
         aliases=("CKV_GCP_29", "AVD-GCP-0002")),
    rule(id="iac.gcp.storage-public",
         title="Cloud Storage bucket or object is readable by allUsers/allAuthenticatedUsers",
         severity=Severity.HIGH, cwe="CWE-732",
         controls=("CIS-GCP-5.1", "NIST-800-53:AC-3", "NIST-800-53:AC-21"),
         rationale="allUsers is anyone on the internet; allAuthenticatedUsers is anyone with a "
                   "Google account.",
         fix="Grant roles to specific users, groups or service accounts; set "
             'public_access_prevention = "enforced".',
         bad='resource "google_storage_bucket_iam_member" "m" {\n'
             '  role   = "roles/storage.objectViewer"\n'
             '  member = "allUsers"\n'
             '}',
         good='resource "google_storage_bucket_iam_member" "m" {\n'
              '  role   = "roles/storage.objectViewer"\n'
              '  member = "user:ana@example.com"\n'
              '}',
         aliases=("CKV_GCP_28", "AVD-GCP-0001")),
    rule(id="iac.gcp.iam-public-member",
         title="IAM grant to allUsers/allAuthenticatedUsers",
         severity=Severity.HIGH, cwe="CWE-732",
         controls=("NIST-800-53:AC-3", "NIST-800-53:AC-6"),
         rationale="Granting a role to allUsers or allAuthenticatedUsers makes the resource "
                   "(project, topic, function, service, key, repository) usable by anyone.",
         fix="Grant the role to specific principals.",
         bad='resource "google_cloud_run_service_iam_member" "m" {\n'
             '  role   = "roles/run.invoker"\n'
             '  member = "allUsers"\n'
             '}',
         good='resource "google_cloud_run_service_iam_member" "m" {\n'
              '  role   = "roles/run.invoker"\n'
              '  member = "serviceAccount:caller@p.iam.gserviceaccount.com"\n'
              '}',
         aliases=("CKV_GCP_99", "CKV_GCP_100", "CKV_GCP_101", "CKV_GCP_102", "CKV_GCP_107",
                  "CKV_GCP_112", "CKV2_GCP_5")),
    rule(id="iac.gcp.bigquery-public",
         title="BigQuery dataset is accessible to allUsers/allAuthenticatedUsers",
         severity=Severity.HIGH, cwe="CWE-732",
         controls=("CIS-GCP-7.1", "NIST-800-53:AC-3"),
         rationale="A public dataset exposes every table in it to anyone.",
         fix="Remove special_group allAuthenticatedUsers / iam_member allUsers access entries.",
         bad='access {\n'
             '  role          = "READER"\n'
             '  special_group = "allAuthenticatedUsers"\n'
             '}',
         good='access {\n'
              '  role          = "READER"\n'
              '  special_group = "projectReaders"\n'
              '}',
         aliases=("CKV_GCP_15", "AVD-GCP-0046")),
    rule(id="iac.gcp.firewall-ssh-open",
         title="Firewall rule allows SSH from the internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-GCP-3.6", "NIST-800-53:SC-7", "NIST-800-53:AC-17"),
         rationale="Port 22 open to 0.0.0.0/0 invites brute force and exploitation of SSH.",
         fix="Restrict source_ranges (e.g. 35.235.240.0/20 for IAP TCP forwarding).",
         bad='resource "google_compute_firewall" "ssh" {\n'
             '  source_ranges = ["0.0.0.0/0"]\n'
             '  allow {\n'
             '    protocol = "tcp"\n'
             '    ports    = ["22"]\n'
             '  }\n'
             '}',
         good='resource "google_compute_firewall" "ssh" {\n'
              '  source_ranges = ["35.235.240.0/20"] # IAP TCP forwarding\n'
              '  allow {\n'
              '    protocol = "tcp"\n'
              '    ports    = ["22"]\n'
              '  }\n'
              '}',
         aliases=("CKV_GCP_2", "AVD-GCP-0071", "AVD-GCP-0027")),
    rule(id="iac.gcp.firewall-rdp-open",
         title="Firewall rule allows RDP from the internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-GCP-3.7", "NIST-800-53:SC-7", "NIST-800-53:AC-17"),
         rationale="Port 3389 open to the internet is a leading ransomware entry point.",
         fix="Restrict source_ranges, or use IAP TCP forwarding.",
         bad='resource "google_compute_firewall" "rdp" {\n'
             '  source_ranges = ["0.0.0.0/0"]\n'
             '  allow {\n'
             '    protocol = "tcp"\n'
             '    ports    = ["3389"]\n'
             '  }\n'
             '}',
         good='resource "google_compute_firewall" "rdp" {\n'
              '  source_ranges = ["10.0.0.0/8"]\n'
              '  allow {\n'
              '    protocol = "tcp"\n'
              '    ports    = ["3389"]\n'
              '  }\n'
              '}',
         aliases=("CKV_GCP_3", "AVD-GCP-0070", "AVD-GCP-0027")),
    rule(id="iac.gcp.firewall-all-ports-open",
         title="Firewall rule allows every port from the internet",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-GCP-3.6", "CIS-GCP-3.7", "NIST-800-53:SC-7"),
         rationale="An allow of all ports (protocol all, or tcp/udp without ports) from anywhere "
                   "exposes every service of the targets.",
         fix="Allow only the ports needed, from the sources that need them.",
         bad='resource "google_compute_firewall" "any" {\n'
             '  source_ranges = ["0.0.0.0/0"]\n'
             '  allow {\n'
             '    protocol = "all"\n'
             '  }\n'
             '}',
         good='resource "google_compute_firewall" "web" {\n'
              '  source_ranges = ["0.0.0.0/0"]\n'
              '  allow {\n'
              '    protocol = "tcp"\n'
              '    ports    = ["443"]\n'
              '  }\n'
              '}',
         aliases=("CKV2_GCP_12", "AVD-GCP-0072", "AVD-GCP-0027", "CKV_GCP_2", "CKV_GCP_3")),
    rule(id="iac.gcp.instance-public-ip",
         title="Compute instance has an external IP address",
         severity=Severity.LOW, cwe="CWE-284",
         controls=("CIS-GCP-4.9", "NIST-800-53:SC-7"),
         rationale="An access_config block gives the VM an internet-routable address; only "
                   "firewall rules stand between it and the internet.",
         fix="Remove access_config and reach the VM through IAP, a bastion or Cloud NAT.",
         bad='network_interface { network = "default" access_config {} }',
         good='network_interface { network = "default" }',
         aliases=("CKV_GCP_40", "AVD-GCP-0031")),
    rule(id="iac.gcp.instance-serial-port",
         title="Serial port access is enabled",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("CIS-GCP-4.5", "NIST-800-53:AC-17", "NIST-800-53:CM-7"),
         rationale="The interactive serial console accepts connections from any IP address and "
                   "bypasses network firewall rules.",
         fix='Remove metadata "serial-port-enable" (or set it to "false").',
         bad='metadata = {\n'
             '  serial-port-enable = "true"\n'
             '}',
         good='metadata = {\n'
              '  serial-port-enable = "false"\n'
              '}',
         aliases=("CKV_GCP_35", "AVD-GCP-0032")),
    rule(id="iac.gcp.instance-default-sa-full-access",
         title="Instance uses the default service account with full cloud-platform scope",
         severity=Severity.HIGH, cwe="CWE-250",
         controls=("CIS-GCP-4.2", "CIS-GCP-4.1", "NIST-800-53:AC-6"),
         rationale="The default compute service account is Editor on the project; with the "
                   "cloud-platform scope anything on the VM can use all of it.",
         fix="Attach a dedicated service account with only the roles needed.",
         bad='service_account { scopes = ["cloud-platform"] }',
         good='service_account {\n'
              '  email  = google_service_account.app.email\n'
              '  scopes = ["cloud-platform"]\n'
              '}',
         aliases=("CKV_GCP_31", "CKV_GCP_30", "AVD-GCP-0044")),
    rule(id="iac.gcp.instance-default-sa",
         title="Instance uses the default compute service account",
         severity=Severity.LOW, cwe="CWE-250",
         controls=("CIS-GCP-4.1", "NIST-800-53:AC-6"),
         rationale="The default compute service account has broad project permissions shared "
                   "by every VM that uses it.",
         fix="Attach a dedicated, least-privilege service account.",
         bad='service_account { scopes = ["storage-ro"] }',
         good='service_account {\n'
              '  email  = google_service_account.app.email\n'
              '  scopes = ["storage-ro"]\n'
              '}',
         aliases=("CKV_GCP_30", "AVD-GCP-0044")),
    rule(id="iac.gcp.instance-shielded-vm",
         title="Instance turns off Shielded VM vTPM or integrity monitoring",
         severity=Severity.MEDIUM, cwe="CWE-693",
         controls=("CIS-GCP-4.8", "NIST-800-53:SI-7"),
         rationale="vTPM and integrity monitoring (on by default) detect boot-level rootkits "
                   "and tampering; turning them off removes that evidence.",
         fix="Keep enable_vtpm and enable_integrity_monitoring true.",
         bad="shielded_instance_config { enable_vtpm = false }",
         good='shielded_instance_config {\n'
              '  enable_vtpm                 = true\n'
              '  enable_integrity_monitoring = true\n'
              '}',
         aliases=("CKV_GCP_39", "AVD-GCP-0041", "AVD-GCP-0045")),
    rule(id="iac.gcp.instance-secure-boot",
         title="Instance does not enable Shielded VM secure boot",
         severity=Severity.LOW, cwe="CWE-693",
         controls=("CIS-GCP-4.8", "NIST-800-53:SI-7"),
         rationale="Secure boot (off unless enabled) makes the VM refuse unsigned boot "
                   "components such as bootkits.",
         fix="Set shielded_instance_config { enable_secure_boot = true } (needs a Shielded VM "
             "image).",
         bad="shielded_instance_config { enable_vtpm = true }",
         good="shielded_instance_config { enable_secure_boot = true }",
         aliases=("CKV_GCP_39", "AVD-GCP-0067"), confidence=Confidence.MEDIUM),
    rule(id="iac.gcp.instance-ip-forwarding",
         title="Instance can forward IP packets",
         severity=Severity.LOW, cwe="CWE-284",
         controls=("CIS-GCP-4.6", "NIST-800-53:SC-7"),
         rationale="IP forwarding lets the VM route traffic it neither sends nor receives, which "
                   "can bypass network controls.",
         fix="Set can_ip_forward = false unless the VM is a router/NAT appliance.",
         bad='resource "google_compute_instance" "vm" { can_ip_forward = true }',
         good='resource "google_compute_instance" "vm" { can_ip_forward = false }',
         aliases=("CKV_GCP_36", "AVD-GCP-0043")),
    rule(id="iac.gcp.instance-project-ssh-keys",
         title="Instance accepts project-wide SSH keys",
         severity=Severity.LOW, cwe="CWE-284",
         controls=("CIS-GCP-4.3", "NIST-800-53:AC-3", "NIST-800-53:IA-5"),
         rationale="A key added at project level opens every instance that does not block "
                   "project-wide keys.",
         fix='Set metadata block-project-ssh-keys = "true" (or use OS Login).',
         bad='metadata = {\n'
             '  enable-oslogin = "false"\n'
             '}',
         good='metadata = {\n'
              '  block-project-ssh-keys = "true"\n'
              '}',
         aliases=("CKV_GCP_32", "AVD-GCP-0030")),
    rule(id="iac.gcp.sql-open-network",
         title="Cloud SQL instance authorizes 0.0.0.0/0",
         severity=Severity.HIGH, cwe="CWE-284",
         controls=("CIS-GCP-6.5", "NIST-800-53:SC-7"),
         rationale="An authorized network of 0.0.0.0/0 lets any address reach the database login.",
         fix="Authorize only the client ranges needed, or use private IP / the Cloud SQL Auth "
             "Proxy.",
         bad='authorized_networks { value = "0.0.0.0/0" }',
         good='authorized_networks { value = "203.0.113.0/24" }',
         aliases=("CKV_GCP_11", "AVD-GCP-0017")),
    rule(id="iac.gcp.sql-public-ip",
         title="Cloud SQL instance has a public IP address",
         severity=Severity.LOW, cwe="CWE-284",
         controls=("CIS-GCP-6.6", "NIST-800-53:SC-7"),
         rationale="ipv4_enabled defaults to true: the instance gets an internet-routable address.",
         fix="Set ip_configuration { ipv4_enabled = false private_network = ... }.",
         bad="ip_configuration { ipv4_enabled = true }",
         good='ip_configuration {\n'
              '  ipv4_enabled    = false\n'
              '  private_network = google_compute_network.vpc.id\n'
              '}',
         aliases=("CKV_GCP_60", "AVD-GCP-0017")),
    rule(id="iac.gcp.sql-ssl",
         title="Cloud SQL instance accepts unencrypted connections",
         severity=Severity.MEDIUM, cwe="CWE-319",
         controls=("CIS-GCP-6.4", "NIST-800-53:SC-8"),
         rationale="Without SSL required, clients may connect in clear text.",
         fix='Set ip_configuration { ssl_mode = "ENCRYPTED_ONLY" } (require_ssl = true on '
             "provider 4/5).",
         bad='ip_configuration { ssl_mode = "ALLOW_UNENCRYPTED_AND_ENCRYPTED" }',
         good='ip_configuration { ssl_mode = "ENCRYPTED_ONLY" }',
         aliases=("CKV_GCP_6", "AVD-GCP-0015")),
    rule(id="iac.gcp.sql-backups",
         title="Cloud SQL instance has automated backups disabled",
         severity=Severity.MEDIUM, cwe="CWE-693",
         controls=("CIS-GCP-6.7", "NIST-800-53:CP-9"),
         rationale="Without backups, data lost to error, corruption or ransomware cannot be "
                   "restored.",
         fix="Set settings { backup_configuration { enabled = true } }.",
         bad="backup_configuration { enabled = false }",
         good="backup_configuration { enabled = true }",
         aliases=("CKV_GCP_14", "AVD-GCP-0024")),
    rule(id="iac.gcp.gke-legacy-abac",
         title="GKE cluster has legacy ABAC enabled",
         severity=Severity.HIGH, cwe="CWE-285",
         controls=("NIST-800-53:AC-3", "NIST-800-53:AC-6"),
         rationale="Legacy ABAC grants broad, static permissions outside Kubernetes RBAC.",
         fix="Set enable_legacy_abac = false (the default).",
         bad='resource "google_container_cluster" "c" { enable_legacy_abac = true }',
         good='resource "google_container_cluster" "c" { enable_legacy_abac = false }',
         aliases=("CKV_GCP_7", "AVD-GCP-0062")),
    rule(id="iac.gcp.gke-master-networks",
         title="GKE control plane is reachable from any network",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-17"),
         rationale="Without master authorized networks (or with 0.0.0.0/0 in them) the API "
                   "server endpoint accepts connections from the whole internet.",
         fix="Add master_authorized_networks_config with the admin ranges, or a private "
             "endpoint.",
         bad='master_authorized_networks_config { cidr_blocks { cidr_block = "0.0.0.0/0" } }',
         good='master_authorized_networks_config { cidr_blocks { cidr_block = "10.0.0.0/8" } }',
         aliases=("CKV_GCP_20", "CKV_GCP_18", "AVD-GCP-0061", "AVD-GCP-0053")),
    rule(id="iac.gcp.gke-private-nodes",
         title="GKE nodes have public IP addresses",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7",),
         rationale="Nodes with external IPs are directly reachable from the internet.",
         fix="Set private_cluster_config { enable_private_nodes = true }.",
         bad="private_cluster_config { enable_private_nodes = false }",
         good="private_cluster_config { enable_private_nodes = true }",
         aliases=("CKV_GCP_25", "CKV_GCP_64", "AVD-GCP-0059")),
    rule(id="iac.gcp.gke-workload-identity",
         title="GKE cluster does not use Workload Identity",
         severity=Severity.LOW, cwe="CWE-250",
         controls=("NIST-800-53:AC-6", "NIST-800-53:IA-2"),
         rationale="Without Workload Identity pods use the node's service account (often the "
                   "default one) and can read the node's metadata credentials.",
         fix='Add workload_identity_config { workload_pool = "PROJECT.svc.id.goog" }.',
         bad='resource "google_container_cluster" "c" { }',
         good='workload_identity_config { workload_pool = "my-project.svc.id.goog" }',
         aliases=("CKV_GCP_69",), confidence=Confidence.MEDIUM),
    rule(id="iac.gcp.gke-node-metadata",
         title="GKE nodes expose the instance metadata to pods",
         severity=Severity.MEDIUM, cwe="CWE-200",
         controls=("NIST-800-53:AC-6", "NIST-800-53:SC-7"),
         rationale="GCE_METADATA/EXPOSE modes or legacy metadata endpoints let pods read node "
                   "credentials and kubelet bootstrap data.",
         fix='Use workload_metadata_config { mode = "GKE_METADATA" } and keep '
             "disable-legacy-endpoints = true.",
         bad='workload_metadata_config { mode = "GCE_METADATA" }',
         good='workload_metadata_config { mode = "GKE_METADATA" }',
         aliases=("CKV_GCP_69", "AVD-GCP-0057", "AVD-GCP-0048")),
    rule(id="iac.gcp.gke-legacy-auth",
         title="GKE cluster uses basic auth or client certificates",
         severity=Severity.HIGH, cwe="CWE-287",
         controls=("NIST-800-53:IA-2", "NIST-800-53:IA-5"),
         rationale="Static passwords and client certificates cannot be revoked easily and "
                   "bypass Google identity.",
         fix="Remove master_auth username/password and set issue_client_certificate = false.",
         bad="master_auth { client_certificate_config { issue_client_certificate = true } }",
         good="master_auth { client_certificate_config { issue_client_certificate = false } }",
         aliases=("CKV_GCP_13", "CKV_GCP_19", "AVD-GCP-0064")),
    rule(id="iac.gcp.gke-network-policy",
         title="GKE cluster has no network policy enforcement",
         severity=Severity.LOW, cwe="CWE-284",
         controls=("NIST-800-53:SC-7", "NIST-800-53:AC-4"),
         rationale="Without network policy enforcement every pod can reach every other pod.",
         fix='Set network_policy { enabled = true } or datapath_provider = "ADVANCED_DATAPATH".',
         bad="network_policy { enabled = false }",
         good='datapath_provider = "ADVANCED_DATAPATH"',
         aliases=("CKV_GCP_12", "AVD-GCP-0056")),
    rule(id="iac.gcp.kms-rotation",
         title="KMS key is not rotated at least every 90 days",
         severity=Severity.MEDIUM, cwe="CWE-324",
         controls=("CIS-GCP-1.10", "NIST-800-53:SC-12"),
         rationale="A key that is never (or rarely) rotated protects more data for longer if "
                   "it leaks.",
         fix='Set rotation_period = "7776000s" (90 days) or shorter.',
         bad='resource "google_kms_crypto_key" "k" { rotation_period = "31536000s" }',
         good='resource "google_kms_crypto_key" "k" { rotation_period = "7776000s" }',
         aliases=("CKV_GCP_43", "AVD-GCP-0065")),
    rule(id="iac.gcp.notebook-public-ip",
         title="Vertex AI Workbench / notebook instance has a public IP address",
         severity=Severity.MEDIUM, cwe="CWE-284",
         controls=("NIST-800-53:SC-7",),
         rationale="A notebook VM with an external IP is reachable from the internet and "
                   "usually holds data and credentials.",
         fix="Set no_public_ip = true (google_notebooks_instance) or gce_setup "
             "{ disable_public_ip = true } (google_workbench_instance).",
         bad='resource "google_workbench_instance" "nb" { gce_setup { disable_public_ip = false }'
             " }",
         good='resource "google_workbench_instance" "nb" { gce_setup { disable_public_ip = true }'
              " }",
         aliases=("CKV_GCP_89", "CKV2_GCP_28")),
    rule(id="iac.gcp.notebook-root-access",
         title="Vertex AI Workbench / notebook instance grants root access",
         severity=Severity.LOW, cwe="CWE-250",
         controls=("NIST-800-53:AC-6",),
         rationale="Root access on the notebook VM lets any notebook user change the system and "
                   "reach the VM service account's credentials.",
         fix='Set metadata notebook-disable-root = "true".',
         bad='metadata = {\n'
             '  notebook-disable-root = "false"\n'
             '}',
         good='metadata = {\n'
              '  notebook-disable-root = "true"\n'
              '}',
         aliases=(), confidence=Confidence.MEDIUM),
    rule(id="iac.gcp.service-account-key",
         title="User-managed service account key",
         severity=Severity.LOW, cwe="CWE-522",
         controls=("CIS-GCP-1.4", "NIST-800-53:IA-5"),
         rationale="A user-managed key is a long-lived credential; created by Terraform, its "
                   "private key is stored in the state.",
         fix="Use attached service accounts, Workload Identity (Federation) or impersonation.",
         bad='resource "google_service_account_key" "k" { service_account_id = '
             "google_service_account.sa.name }",
         good="# no key: attach the service account or use Workload Identity Federation",
         aliases=("CKV2_GCP_3",)),
    rule(id="iac.gcp.iam-primitive-role",
         title="Basic role (owner/editor/viewer) granted at project, folder or organization "
               "level",
         severity=Severity.LOW, cwe="CWE-250",
         controls=("NIST-800-53:AC-6", "NIST-800-53:AC-2"),
         rationale="Basic roles grant thousands of permissions across every service (owner and "
                   "editor can change almost anything, viewer can read almost all data).",
         fix="Grant predefined or custom roles with only the permissions needed.",
         bad='resource "google_project_iam_member" "m" {\n'
             '  role   = "roles/editor"\n'
             '  member = "user:ana@example.com"\n'
             '}',
         good='resource "google_project_iam_member" "m" {\n'
              '  role   = "roles/logging.viewer"\n'
              '  member = "user:ana@example.com"\n'
              '}',
         aliases=("CKV_GCP_117", "CKV_GCP_115", "CKV_GCP_116", "CKV_GCP_42", "AVD-GCP-0007")),
])

PUBLIC_MEMBERS = frozenset({"allusers", "allauthenticatedusers"})
MAX_POLICY_CHARS = 256 * 1024
"""Largest IAM policy JSON text read (policy_data written as a literal)."""
MAX_POLICY_DEPTH = 32


# --------------------------------------------------------------------------------------------
# IAM members: who a grant names
# --------------------------------------------------------------------------------------------

def _is_public_member(member: str) -> bool:
    return member.strip().lower() in PUBLIC_MEMBERS


def _find(model: TfModel, ref: Ref, origin: TfResource) -> TfResource | None:
    wanted = {ref.address}
    if origin.module:
        wanted.add(f"{origin.module}.{ref.address}")
    for res in model.resources:
        if res.base_address in wanted or res.address in wanted:
            return res
    return None


class _Grants:
    """(role, member, block, attr) tuples a resource grants, plus what could not be read."""

    def __init__(self) -> None:
        self.grants: list[tuple[str | Unresolved, str | Unresolved, TfBlock | None, str]] = []
        self.unknown: list[tuple[str, Unresolved, TfBlock | None]] = []


def _grants(model: TfModel, res: TfResource) -> _Grants:
    out = _Grants()
    body = res.body
    role = text(body, "role", "")
    role_value: str | Unresolved = role if role is not None else ""
    if body.has("member"):
        member = text(body, "member")
        if member is not None:
            out.grants.append((role_value, member, body, "member"))
    if body.has("members"):
        members = items(body, "members")
        if isinstance(members, Unresolved):
            out.unknown.append(("members", members, body))
        else:
            for value in members:
                if isinstance(value, str):
                    out.grants.append((role_value, value, body, "members"))
                elif value is not None:
                    out.unknown.append(("members", as_unresolved(value), body))
    if body.has("policy_data"):
        _policy_grants(model, res, out)
    return out


def _policy_grants(model: TfModel, res: TfResource, out: _Grants) -> None:
    value = res.body.get("policy_data")
    if isinstance(value, Ref):
        target = _find(model, value, res)
        if target is None or target.type != "google_iam_policy":
            out.unknown.append(("policy_data", as_unresolved(value), res.body))
            return
        for binding in sub_blocks(target.body, "binding"):
            hidden = opaque(binding)
            if hidden is not None:
                out.unknown.append(("policy_data", hidden, res.body))
                continue
            role = text(binding, "role", "")
            members = items(binding, "members")
            if isinstance(members, Unresolved):
                out.unknown.append(("policy_data", members, res.body))
                continue
            for member in members:
                if isinstance(member, str):
                    out.grants.append((role if role is not None else "", member, res.body,
                                       "policy_data"))
        return
    if isinstance(value, str):
        doc = _load_policy(value)
        if doc is None:
            out.unknown.append(("policy_data", Unresolved("policy_data",
                                                          "not a readable IAM policy JSON"),
                                res.body))
            return
        for binding in doc.get("bindings", []) if isinstance(doc, dict) else []:
            if not isinstance(binding, dict):
                continue
            json_role = binding.get("role")
            json_members = binding.get("members")
            for member in json_members if isinstance(json_members, list) else []:
                if isinstance(member, str):
                    out.grants.append((json_role if isinstance(json_role, str) else "", member,
                                       res.body, "policy_data"))
        return
    if value is not None:
        out.unknown.append(("policy_data", as_unresolved(value), res.body))


def _depth(value: Any, limit: int, depth: int = 0) -> bool:
    """True when ``value`` nests deeper than ``limit``."""
    if depth > limit:
        return True
    if isinstance(value, dict):
        return any(_depth(v, limit, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_depth(v, limit, depth + 1) for v in value)
    return False


def _load_policy(raw: str) -> Any:
    if len(raw) > MAX_POLICY_CHARS or raw.count("[") + raw.count("{") > 10_000:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if _depth(doc, MAX_POLICY_DEPTH):
        return None
    return doc


_STORAGE_IAM = ("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding",
                "google_storage_bucket_iam_policy")
_BQ_IAM = ("google_bigquery_dataset_iam_member", "google_bigquery_dataset_iam_binding",
           "google_bigquery_dataset_iam_policy")
_IAM_SUFFIXES = ("_iam_member", "_iam_binding", "_iam_policy")


def _public_grants(model: TfModel, res: TfResource, rid: str) -> Found:
    found = _grants(model, res)
    reported = False
    for role, member, block, attr in found.grants:
        if isinstance(member, Unresolved):
            if not reported:
                yield unresolved(rid, res, block, attr, member)
                reported = True
            continue
        if _is_public_member(member):
            yield hit(rid, res, block, attr,
                      f"grants {show(role) if role else 'a role'} to {show(member)}",
                      evidence=f"{attr} = {show(member)}")
            return
    if found.unknown and not reported:
        attr, value, block = found.unknown[0]
        yield unresolved(rid, res, block, attr, value)


def check_storage_iam(model: TfModel) -> Found:
    rid = "iac.gcp.storage-public"
    for res in model.of_type(*_STORAGE_IAM):
        yield from _public_grants(model, res, rid)
    for res in model.of_type("google_storage_bucket_access_control",
                             "google_storage_default_object_access_control",
                             "google_storage_object_access_control"):
        entity = text(res.body, "entity")
        if isinstance(entity, Unresolved):
            yield unresolved(rid, res, res.body, "entity", entity)
        elif isinstance(entity, str) and _is_public_member(entity):
            yield hit(rid, res, res.body, "entity", f"entity is {show(entity)}",
                      evidence=f"entity = {show(entity)}")
    for res in model.of_type("google_storage_bucket_acl", "google_storage_default_object_acl",
                             "google_storage_object_acl"):
        for attr in ("role_entity", "predefined_acl"):
            if attr == "predefined_acl":
                acl = lower(text(res.body, attr))
                if isinstance(acl, Unresolved):
                    yield unresolved(rid, res, res.body, attr, acl)
                elif acl in ("publicread", "publicreadwrite"):
                    yield hit(rid, res, res.body, attr, f"predefined_acl is {show(acl)}")
                continue
            entries = items(res.body, attr)
            if isinstance(entries, Unresolved):
                yield unresolved(rid, res, res.body, attr, entries)
                continue
            for entry in entries:
                if isinstance(entry, str) and _is_public_member(entry.rpartition(":")[2]):
                    yield hit(rid, res, res.body, attr, f"role_entity has {show(entry)}",
                              evidence=f"{attr} = {show(entry)}")
                    break


def check_iam_public(model: TfModel) -> Found:
    rid = "iac.gcp.iam-public-member"
    skip = set(_STORAGE_IAM) | set(_BQ_IAM)
    for res in model.resources:
        if res.mode != "resource" or res.type in skip or not res.type.startswith("google_"):
            continue
        if res.type.endswith(_IAM_SUFFIXES):
            yield from _public_grants(model, res, rid)


def check_bigquery(model: TfModel) -> Found:
    rid = "iac.gcp.bigquery-public"
    for res in model.of_type(*_BQ_IAM):
        yield from _public_grants(model, res, rid)
    for res in model.of_type("google_bigquery_dataset"):
        for block in sub_blocks(res.body, "access"):
            yield from _bq_access(res, block)
    for res in model.of_type("google_bigquery_dataset_access"):
        yield from _bq_access(res, res.body)


def _bq_access(res: TfResource, block: TfBlock) -> Found:
    rid = "iac.gcp.bigquery-public"
    for attr in ("special_group", "iam_member"):
        value = text(block, attr)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, block, attr, value)
        elif isinstance(value, str) and _is_public_member(value):
            yield hit(rid, res, block, attr, f"access {attr} is {show(value)}",
                      evidence=f"{attr} = {show(value)}")


_PRIMITIVE = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
_HIGH_LEVEL_IAM = ("google_project_iam_member", "google_project_iam_binding",
                   "google_project_iam_policy", "google_folder_iam_member",
                   "google_folder_iam_binding", "google_folder_iam_policy",
                   "google_organization_iam_member", "google_organization_iam_binding",
                   "google_organization_iam_policy")


def check_primitive_roles(model: TfModel) -> Found:
    rid = "iac.gcp.iam-primitive-role"
    for res in model.of_type(*_HIGH_LEVEL_IAM):
        found = _grants(model, res)
        role0 = text(res.body, "role")
        if isinstance(role0, Unresolved):
            yield unresolved(rid, res, res.body, "role", role0)
            continue
        for role, member, block, attr in found.grants:
            if isinstance(role, str) and role.strip().lower() in _PRIMITIVE and \
                    isinstance(member, str):
                kind = member.partition(":")[0] or "member"
                yield hit(rid, res, block, "role" if attr != "policy_data" else attr,
                          f"grants {show(role)} to {kind} {show(member)}",
                          evidence=f"role = {show(role)}")
                break


# --------------------------------------------------------------------------------------------
# Storage bucket
# --------------------------------------------------------------------------------------------

def check_bucket(model: TfModel) -> Found:
    rid = "iac.gcp.storage-uniform-access"
    for res in model.of_type("google_storage_bucket"):
        value = flag(res.body, "uniform_bucket_level_access", False)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, res.body, "uniform_bucket_level_access", value)
        elif value is False:
            written = res.body.has("uniform_bucket_level_access")
            yield hit(rid, res, res.body, "uniform_bucket_level_access",
                      "uniform_bucket_level_access is "
                      + ("false" if written else "not set (default false)"))


# --------------------------------------------------------------------------------------------
# Firewalls
# --------------------------------------------------------------------------------------------

_FW_SSH = "iac.gcp.firewall-ssh-open"
_FW_RDP = "iac.gcp.firewall-rdp-open"
_FW_ALL = "iac.gcp.firewall-all-ports-open"
_TCP = ("tcp", "6", "all")
_TCP_UDP = ("tcp", "udp", "6", "17", "all")


def check_firewall(model: TfModel) -> Found:
    for res in model.of_type("google_compute_firewall"):
        body = res.body
        direction = lower(text(body, "direction", "INGRESS"))
        disabled = flag(body, "disabled", False)
        if direction == "egress" or disabled is True:
            continue
        sources: list[Any] | Unresolved = items(body, "source_ranges")
        src_attr = "source_ranges"
        if sources == [] and not items(body, "source_tags") and \
                not items(body, "source_service_accounts"):
            sources = ["0.0.0.0/0"]
            src_attr = "(no source)"
        public = any_public(sources)
        for unknown_attr, value in (("direction", direction), ("disabled", disabled)):
            if isinstance(value, Unresolved) and public is not False:
                public, src_attr = value, unknown_attr  # judged like an unknown source
                break
        yield from _fw_allows(res, body, sub_blocks(body, "allow"), "protocol", "ports",
                              public, sources, src_attr)
    for res in model.of_type("google_compute_firewall_policy_rule",
                             "google_compute_network_firewall_policy_rule",
                             "google_compute_region_network_firewall_policy_rule"):
        body = res.body
        action = lower(text(body, "action"))
        direction = lower(text(body, "direction", "INGRESS"))
        disabled = flag(body, "disabled", False)
        denies = isinstance(action, str) and action != "allow"  # deny, goto_next, …
        if denies or direction == "egress" or disabled is True:
            continue
        match = sub_block(body, "match")
        if match is None:
            continue
        sources = items(match, "src_ip_ranges")
        public = any_public(sources)
        src_attr = "src_ip_ranges"
        for unknown_attr, value in (("action", action), ("direction", direction),
                                    ("disabled", disabled)):
            if isinstance(value, Unresolved) and public is not False:
                public, src_attr = value, unknown_attr
                break
        if action is None:
            continue  # no action written: not a valid rule, nothing to judge
        yield from _fw_allows(res, match, sub_blocks(match, "layer4_configs"), "ip_protocol",
                              "ports", public, sources, src_attr)


def _fw_allows(res: TfResource, where: TfBlock, allows: list[TfBlock], proto_attr: str,
               ports_attr: str, public: bool | Unresolved, sources: list[Any] | Unresolved,
               src_attr: str) -> Found:
    if public is False:
        return
    shown = "any source (no source_ranges)" if src_attr == "(no source)" else \
        show(next((s for s in sources if isinstance(s, str) and is_public_cidr(s)), sources)
             if isinstance(sources, list) else sources)
    exposures: list[tuple[str, TfBlock, str]] = []
    unknown: tuple[TfBlock, str, Unresolved] | None = None
    for allow in allows:
        proto = lower(text(allow, proto_attr, "all"))
        if isinstance(proto, Unresolved):
            unknown = unknown or (allow, proto_attr, proto)
            continue
        if proto is None:
            proto = "all"
        ports = items(allow, ports_attr)
        if isinstance(ports, Unresolved):
            unknown = unknown or (allow, ports_attr, ports)
            continue
        spans = []
        for spec in ports:
            span = port_range(spec)
            if span is None:
                unknown = unknown or (allow, ports_attr, as_unresolved(spec, "not a port"))
            else:
                spans.append(span)
        everything = proto == "all" or (not ports and proto in _TCP_UDP)
        if everything or any(is_all_ports(s) for s in spans):
            if proto in _TCP_UDP:
                exposures.append((_FW_ALL, allow, proto))
            continue
        if proto in _TCP and any(covers(s, 22) for s in spans):
            exposures.append((_FW_SSH, allow, proto))
        if proto in _TCP and any(covers(s, 3389) for s in spans):
            exposures.append((_FW_RDP, allow, proto))
    if isinstance(public, Unresolved):
        if exposures or unknown is not None:
            yield unresolved(exposures[0][0] if exposures else _FW_ALL, res, where, src_attr,
                             public)
        return
    seen: set[str] = set()
    for rid, allow, proto in exposures:
        if rid in seen:
            continue
        seen.add(rid)
        what = {_FW_ALL: "all ports", _FW_SSH: "port 22", _FW_RDP: "port 3389"}[rid]
        conf = Confidence.MEDIUM if src_attr == "(no source)" else None
        yield hit(rid, res, allow, ports_attr if allow.has(ports_attr) else proto_attr,
                  f"allows ingress {proto} {what} from {shown}", confidence=conf,
                  evidence=f"{proto_attr} = {show(proto)} {ports_attr} = "
                           f"{show(allow.get(ports_attr, []))}")
    if unknown is not None and not exposures:
        block, attr, value = unknown
        yield unresolved(_FW_ALL, res, block, attr, value)


# --------------------------------------------------------------------------------------------
# Compute instances
# --------------------------------------------------------------------------------------------

_INSTANCES = ("google_compute_instance", "google_compute_instance_template",
              "google_compute_region_instance_template", "google_compute_instance_from_template")
_FULL_SCOPES = frozenset({"cloud-platform", "https://www.googleapis.com/auth/cloud-platform"})
_DEFAULT_SA = re.compile(r"^\d+-compute@developer\.gserviceaccount\.com$|^default$")


def _metadata(body: TfBlock | None, key: str) -> tuple[Any, bool]:
    """(value of metadata ``key``, whether the whole map is unresolved)."""
    if body is None or not body.has("metadata"):
        return None, False
    meta = body.get("metadata")
    if isinstance(meta, dict):
        for name, value in meta.items():
            if isinstance(name, str) and name.strip().lower() == key:
                return value, False
        return None, False
    if isinstance(meta, list) and meta and isinstance(meta[0], dict):
        return _metadata(TfBlock(attrs={"metadata": meta[0]}, line=None, end_line=None), key)
    if isinstance(meta, (Unresolved, Ref)):
        return as_unresolved(meta), True
    return None, False


def _truthy(value: Any) -> bool | Unresolved | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "1", "yes", "on"):
            return True
        if word in ("false", "0", "no", "off", ""):
            return False
        return None
    if isinstance(value, (Unresolved, Ref)):
        return as_unresolved(value)
    return None


def check_instances(model: TfModel) -> Found:
    for res in model.of_type(*_INSTANCES):
        body = res.body
        yield from _public_ip(res)
        yield from _serial_port(res, body)
        yield from _service_account(res)
        inherits = res.type == "google_compute_instance_from_template"
        if not inherits or body.has("shielded_instance_config"):
            yield from _shielded(res)
        rid = "iac.gcp.instance-ip-forwarding"
        fwd = flag(body, "can_ip_forward", False)
        if isinstance(fwd, Unresolved):
            yield unresolved(rid, res, body, "can_ip_forward", fwd)
        elif fwd:
            yield hit(rid, res, body, "can_ip_forward", "can_ip_forward is true",
                      evidence="can_ip_forward = true")
        rid = "iac.gcp.instance-project-ssh-keys"
        block_keys, hidden = _metadata(body, "block-project-ssh-keys")
        oslogin, _ = _metadata(body, "enable-oslogin")
        state = _truthy(block_keys)
        if isinstance(state, Unresolved):
            yield unresolved(rid, res, body, "metadata", state)
        elif state is not True and _truthy(oslogin) is not True and not hidden and \
                not (inherits and not body.has("metadata")):
            yield hit(rid, res, body, "metadata" if body.has("metadata") else "name",
                      "metadata does not set block-project-ssh-keys = true")
    for res in model.of_type("google_compute_project_metadata"):
        yield from _serial_port(res, res.body)
    for res in model.of_type("google_compute_project_metadata_item"):
        key = lower(text(res.body, "key"))
        if key == "serial-port-enable":
            state = _truthy(res.body.get("value"))
            if isinstance(state, Unresolved):
                yield unresolved("iac.gcp.instance-serial-port", res, res.body, "value", state)
            elif state:
                yield hit("iac.gcp.instance-serial-port", res, res.body, "value",
                          "project metadata serial-port-enable is on")


def _public_ip(res: TfResource) -> Found:
    rid = "iac.gcp.instance-public-ip"
    for nic in sub_blocks(res.body, "network_interface"):
        hidden = opaque(nic)
        if hidden is not None:
            yield unresolved(rid, res, res.body, "network_interface", hidden)
            continue
        for name in ("access_config", "ipv6_access_config"):
            configs = sub_blocks(nic, name)
            if configs:
                yield hit(rid, res, nic, name,
                          f"network_interface has an {name} block (external IP)",
                          evidence=f"{name} {{ … }}")
                return


def _serial_port(res: TfResource, body: TfBlock) -> Found:
    rid = "iac.gcp.instance-serial-port"
    value, _ = _metadata(body, "serial-port-enable")
    state = _truthy(value)
    if isinstance(state, Unresolved):
        yield unresolved(rid, res, body, "metadata", state)
    elif state:
        yield hit(rid, res, body, "metadata", f"metadata serial-port-enable is {show(value)}",
                  evidence=f"serial-port-enable = {show(value)}")


def _service_account(res: TfResource) -> Found:
    for block in sub_blocks(res.body, "service_account"):
        if isinstance(block.get("email"), Ref):
            continue  # another resource's account (google_service_account.x.email)
        email = text(block, "email")
        scopes = items(block, "scopes")
        if isinstance(scopes, Unresolved):
            if not isinstance(email, str) or _DEFAULT_SA.match(email.strip()):
                yield unresolved("iac.gcp.instance-default-sa-full-access", res, block,
                                 "scopes", scopes)
            continue
        full = any(isinstance(s, str) and s.strip().lower() in _FULL_SCOPES for s in scopes)
        if isinstance(email, Unresolved):
            if full:
                yield unresolved("iac.gcp.instance-default-sa-full-access", res, block,
                                 "email", email)
            continue
        if email is not None and not _DEFAULT_SA.match(email.strip()):
            continue
        who = "the default compute service account" if email is None else show(email)
        if full:
            yield hit("iac.gcp.instance-default-sa-full-access", res, block, "scopes",
                      f"uses {who} with the cloud-platform scope",
                      evidence=f"scopes = {show(scopes)}")
        else:
            yield hit("iac.gcp.instance-default-sa", res, block,
                      "email" if block.has("email") else "scopes", f"uses {who}")


def _shielded(res: TfResource) -> Found:
    rid = "iac.gcp.instance-shielded-vm"
    config = sub_block(res.body, "shielded_instance_config")
    for attr in ("enable_vtpm", "enable_integrity_monitoring"):
        value = flag(config, attr, True)
        if isinstance(value, Unresolved):
            yield unresolved(rid, res, config, attr, value)
            break
        if value is False:
            yield hit(rid, res, config, attr, f"shielded_instance_config {attr} is false",
                      evidence=f"{attr} = false")
            break
    rid = "iac.gcp.instance-secure-boot"
    boot = flag(config, "enable_secure_boot", False)
    if isinstance(boot, Unresolved):
        yield unresolved(rid, res, config, "enable_secure_boot", boot)
    elif boot is False:
        where = config if config is not None else res.body
        attr = "enable_secure_boot" if config is not None else "name"
        yield hit(rid, res, where, attr,
                  "secure boot is not enabled (shielded_instance_config enable_secure_boot)",
                  confidence=Confidence.MEDIUM)


# --------------------------------------------------------------------------------------------
# Cloud SQL
# --------------------------------------------------------------------------------------------

_SSL_OK = frozenset({"encrypted_only", "trusted_client_certificate_required"})


def check_sql(model: TfModel) -> Found:
    for res in model.of_type("google_sql_database_instance"):
        settings = sub_block(res.body, "settings")
        hidden = opaque(settings)
        if hidden is not None:
            yield unresolved("iac.gcp.sql-open-network", res, res.body, "settings", hidden)
            continue
        ipc = sub_block(settings, "ip_configuration")
        yield from _sql_network(res, ipc)
        yield from _sql_ssl(res, settings, ipc)
        if res.body.has("master_instance_name") or res.body.has("replica_configuration"):
            continue  # replicas take no backups of their own
        rid = "iac.gcp.sql-backups"
        backup = sub_block(settings, "backup_configuration")
        enabled = flag(backup, "enabled", False)
        if isinstance(enabled, Unresolved):
            yield unresolved(rid, res, backup, "enabled", enabled)
        elif enabled is False:
            where = backup or settings or res.body
            attr = "enabled" if backup is not None else "backup_configuration"
            yield hit(rid, res, where, attr, "backup_configuration enabled is "
                      + ("false" if backup is not None and backup.has("enabled")
                         else "not set (default false)"))


def _sql_network(res: TfResource, ipc: TfBlock | None) -> Found:
    public_ip = flag(ipc, "ipv4_enabled", True)
    if isinstance(public_ip, Unresolved):
        yield unresolved("iac.gcp.sql-public-ip", res, ipc, "ipv4_enabled", public_ip)
        return
    if public_ip is False:
        yield from _sql_authorized(res, ipc, dormant=True)
        return
    written = ipc is not None and ipc.has("ipv4_enabled")
    yield hit("iac.gcp.sql-public-ip", res, ipc or res.body,
              "ipv4_enabled" if written else "settings",
              "ipv4_enabled is " + ("true" if written else "not set (default true)"),
              confidence=None if written else Confidence.MEDIUM)
    yield from _sql_authorized(res, ipc, dormant=False)


def _sql_authorized(res: TfResource, ipc: TfBlock | None, dormant: bool) -> Found:
    """0.0.0.0/0 among the authorized networks; with the public IP off it is dormant (reported
    low: enabling the IP later opens the database to the world)."""
    rid = "iac.gcp.sql-open-network"
    for net in sub_blocks(ipc, "authorized_networks"):
        value = text(net, "value")
        if isinstance(value, Unresolved):
            if not dormant:
                yield unresolved(rid, res, net, "value", value)
        elif isinstance(value, str) and is_public_cidr(value):
            if dormant:
                yield hit(rid, res, net, "value",
                          f"authorized_networks value is {show(value)} (public IP disabled "
                          "for now)", severity=Severity.LOW, confidence=Confidence.MEDIUM,
                          evidence=f"value = {show(value)}")
            else:
                yield hit(rid, res, net, "value", f"authorized_networks value is {show(value)}",
                          evidence=f"value = {show(value)}")
            return


def _sql_ssl(res: TfResource, settings: TfBlock | None, ipc: TfBlock | None) -> Found:
    rid = "iac.gcp.sql-ssl"
    mode = lower(text(ipc, "ssl_mode"))
    if isinstance(mode, Unresolved):
        yield unresolved(rid, res, ipc, "ssl_mode", mode)
        return
    if mode is not None:
        if mode not in _SSL_OK:
            yield hit(rid, res, ipc, "ssl_mode", f"ssl_mode is {show(mode.upper())}")
        return
    required = flag(ipc, "require_ssl", False)
    if isinstance(required, Unresolved):
        yield unresolved(rid, res, ipc, "require_ssl", required)
    elif required is False:
        written = ipc is not None and ipc.has("require_ssl")
        yield hit(rid, res, ipc or settings or res.body,
                  "require_ssl" if written else "ip_configuration",
                  "require_ssl is false" if written
                  else "neither ssl_mode nor require_ssl is set (unencrypted connections "
                       "allowed)", confidence=None if written else Confidence.MEDIUM)


# --------------------------------------------------------------------------------------------
# GKE
# --------------------------------------------------------------------------------------------

def check_gke(model: TfModel) -> Found:
    for res in model.of_type("google_container_cluster"):
        body = res.body
        autopilot = flag(body, "enable_autopilot", False) is True
        rid = "iac.gcp.gke-legacy-abac"
        abac = flag(body, "enable_legacy_abac", False)
        if isinstance(abac, Unresolved):
            yield unresolved(rid, res, body, "enable_legacy_abac", abac)
        elif abac:
            yield hit(rid, res, body, "enable_legacy_abac", "enable_legacy_abac is true",
                      evidence="enable_legacy_abac = true")
        private = sub_block(body, "private_cluster_config")
        yield from _gke_master(res, private)
        if not autopilot:
            rid = "iac.gcp.gke-private-nodes"
            nodes = flag(private, "enable_private_nodes", False)
            if isinstance(nodes, Unresolved):
                yield unresolved(rid, res, private, "enable_private_nodes", nodes)
            elif nodes is False:
                yield hit(rid, res, private or body,
                          "enable_private_nodes" if private is not None else "name",
                          "nodes are not private (private_cluster_config enable_private_nodes "
                          "not true)")
            if not sub_blocks(body, "workload_identity_config"):
                yield hit("iac.gcp.gke-workload-identity", res, body, "name",
                          "no workload_identity_config")
            yield from _gke_network_policy(res)
        configs = sub_blocks(body, "node_config")
        for pool in sub_blocks(body, "node_pool"):  # inline pools
            configs += sub_blocks(pool, "node_config")
        for cfg in configs:
            yield from _node_metadata(res, cfg)
        yield from _gke_legacy_auth(res)
    for res in model.of_type("google_container_node_pool"):
        for cfg in sub_blocks(res.body, "node_config"):
            yield from _node_metadata(res, cfg)


def _gke_master(res: TfResource, private: TfBlock | None) -> Found:
    rid = "iac.gcp.gke-master-networks"
    body = res.body
    if flag(private, "enable_private_endpoint", False) is True:
        return
    mans = sub_blocks(body, "master_authorized_networks_config")
    if not mans:
        yield hit(rid, res, body, "name", "no master_authorized_networks_config: the public "
                  "endpoint accepts any address", confidence=Confidence.MEDIUM)
        return
    for man in mans:
        gcp_public = flag(man, "gcp_public_cidrs_access_enabled", False)
        if gcp_public is True:
            yield hit(rid, res, man, "gcp_public_cidrs_access_enabled",
                      "gcp_public_cidrs_access_enabled is true (any Google Cloud IP)")
            return
        for cidr in sub_blocks(man, "cidr_blocks"):
            value = text(cidr, "cidr_block")
            if isinstance(value, Unresolved):
                yield unresolved(rid, res, cidr, "cidr_block", value)
            elif isinstance(value, str) and is_public_cidr(value):
                yield hit(rid, res, cidr, "cidr_block",
                          f"master authorized network {show(value)}",
                          evidence=f"cidr_block = {show(value)}")
                return


def _gke_network_policy(res: TfResource) -> Found:
    rid = "iac.gcp.gke-network-policy"
    body = res.body
    datapath = lower(text(body, "datapath_provider"))
    if datapath == "advanced_datapath":
        return
    policy = sub_block(body, "network_policy")
    enabled = flag(policy, "enabled", False)
    if isinstance(enabled, Unresolved):
        yield unresolved(rid, res, policy, "enabled", enabled)
    elif enabled is False:
        yield hit(rid, res, policy or body, "enabled" if policy is not None else "name",
                  "network policy enforcement is not enabled")


def _node_metadata(res: TfResource, cfg: TfBlock) -> Found:
    rid = "iac.gcp.gke-node-metadata"
    for wmc in sub_blocks(cfg, "workload_metadata_config"):
        for attr in ("mode", "node_metadata"):
            value = lower(text(wmc, attr))
            if isinstance(value, Unresolved):
                yield unresolved(rid, res, wmc, attr, value)
            elif value in ("gce_metadata", "expose", "unspecified"):
                yield hit(rid, res, wmc, attr,
                          f"workload_metadata_config {attr} is {show(value.upper())}")
                return
    value, _ = _metadata(cfg, "disable-legacy-endpoints")
    state = _truthy(value)
    if state is False:
        yield hit(rid, res, cfg, "metadata", "node metadata disable-legacy-endpoints is false",
                  evidence=f"disable-legacy-endpoints = {show(value)}")


def _gke_legacy_auth(res: TfResource) -> Found:
    rid = "iac.gcp.gke-legacy-auth"
    for auth in sub_blocks(res.body, "master_auth"):
        for attr in ("username", "password"):
            value = text(auth, attr)
            if isinstance(value, str) and value.strip():
                yield hit(rid, res, auth, attr, f"master_auth sets a {attr} (basic auth)")
                return
        for cert in sub_blocks(auth, "client_certificate_config"):
            issue = flag(cert, "issue_client_certificate", False)
            if isinstance(issue, Unresolved):
                yield unresolved(rid, res, cert, "issue_client_certificate", issue)
            elif issue:
                yield hit(rid, res, cert, "issue_client_certificate",
                          "issue_client_certificate is true",
                          evidence="issue_client_certificate = true")


# --------------------------------------------------------------------------------------------
# KMS, notebooks, service account keys
# --------------------------------------------------------------------------------------------

MAX_ROTATION_SECONDS = 90 * 24 * 3600
_NO_AUTO_ROTATION = frozenset({"asymmetric_sign", "asymmetric_decrypt", "mac",
                               "raw_encrypt_decrypt"})


def _seconds(value: str) -> float | None:
    match = re.fullmatch(r"\s*(\d{1,15}(?:\.\d{1,9})?)s\s*", value)
    return float(match.group(1)) if match else None


def check_kms(model: TfModel) -> Found:
    rid = "iac.gcp.kms-rotation"
    for res in model.of_type("google_kms_crypto_key"):
        body = res.body
        purpose = lower(text(body, "purpose", "ENCRYPT_DECRYPT"))
        if isinstance(purpose, str) and purpose in _NO_AUTO_ROTATION:
            continue
        period = text(body, "rotation_period")
        if isinstance(period, Unresolved):
            yield unresolved(rid, res, body, "rotation_period", period)
        elif period is None:
            yield hit(rid, res, body, "name", "no rotation_period: the key is never rotated")
        else:
            seconds = _seconds(period)
            if seconds is None:
                yield unresolved(rid, res, body, "rotation_period",
                                 Unresolved(period, "not a duration in seconds"))
            elif seconds > MAX_ROTATION_SECONDS:
                yield hit(rid, res, body, "rotation_period",
                          f"rotation_period is {show(period)} ({seconds / 86400:.0f} days)",
                          evidence=f"rotation_period = {show(period)}")


def check_notebooks(model: TfModel) -> Found:
    rid_ip, rid_root = "iac.gcp.notebook-public-ip", "iac.gcp.notebook-root-access"
    for res in model.of_type("google_notebooks_instance"):
        body = res.body
        no_ip = flag(body, "no_public_ip", False)
        if isinstance(no_ip, Unresolved):
            yield unresolved(rid_ip, res, body, "no_public_ip", no_ip)
        elif no_ip is False:
            written = body.has("no_public_ip")
            yield hit(rid_ip, res, body, "no_public_ip", "no_public_ip is "
                      + ("false" if written else "not set (default false)"),
                      confidence=None if written else Confidence.MEDIUM)
        yield from _notebook_root(res, body, rid_root)
    for res in model.of_type("google_workbench_instance"):
        setup = sub_block(res.body, "gce_setup")
        off = flag(setup, "disable_public_ip", False)
        if isinstance(off, Unresolved):
            yield unresolved(rid_ip, res, setup, "disable_public_ip", off)
        elif off is False:
            written = setup is not None and setup.has("disable_public_ip")
            yield hit(rid_ip, res, setup or res.body,
                      "disable_public_ip" if setup is not None else "name",
                      "gce_setup disable_public_ip is "
                      + ("false" if written else "not set (default false)"),
                      confidence=None if written else Confidence.MEDIUM)
        yield from _notebook_root(res, setup or res.body, rid_root)


def _notebook_root(res: TfResource, body: TfBlock, rid: str) -> Found:
    value, hidden = _metadata(body, "notebook-disable-root")
    state = _truthy(value)
    if isinstance(state, Unresolved):
        yield unresolved(rid, res, body, "metadata", state)
    elif state is not True and not hidden:
        yield hit(rid, res, body, "metadata" if body.has("metadata") else "name",
                  "metadata does not set notebook-disable-root = true"
                  if value is None else f"metadata notebook-disable-root is {show(value)}")


def check_service_account_keys(model: TfModel) -> Found:
    rid = "iac.gcp.service-account-key"
    for res in model.of_type("google_service_account_key"):
        how = "uploaded public key" if res.body.has("public_key_data") else \
            "key generated by Terraform (private key kept in the state)"
        yield hit(rid, res, res.body, "service_account_id", f"user-managed service account {how}")


CHECKS: list[Check] = [
    check_bucket, check_storage_iam, check_iam_public, check_bigquery, check_primitive_roles,
    check_firewall, check_instances, check_sql, check_gke, check_kms, check_notebooks,
    check_service_account_keys,
]

