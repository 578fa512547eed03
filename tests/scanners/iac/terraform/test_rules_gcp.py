"""GCP Terraform rules on models built in the test: each rule fires on the insecure form,
stays quiet on the fixed form and on a safe look-alike, and turns an unresolved deciding value
into an ``iac.unresolved`` problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secpipe.core.findings import Confidence
from secpipe.scanners.iac.model import IacHit, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_gcp import CHECKS, RULES


def blk(line: int = 1, /, **attrs: Any) -> TfBlock:
    lines = {name: line + i + 1 for i, name in enumerate(attrs)}
    return TfBlock(attrs=dict(attrs), line=line, end_line=line + len(attrs) + 1, lines=lines)


def res(kind: str, local: str = "x", line: int = 1, /, **attrs: Any) -> TfResource:
    return TfResource(mode="resource", type=kind, name=local, address=f"{kind}.{local}",
                      module="", path="gcp/main.tf", body=blk(line, **attrs))


def data(kind: str, local: str, **attrs: Any) -> TfResource:
    return TfResource(mode="data", type=kind, name=local, address=f"data.{kind}.{local}",
                      module="", path="gcp/main.tf", body=blk(60, **attrs))


def scan(*resources: TfResource) -> list[IacHit | Problem]:
    model = TfModel(resources=list(resources), root=".")
    return [item for check in CHECKS for item in check(model)]


def hits(found: list[IacHit | Problem], rule_id: str) -> list[IacHit]:
    return [h for h in found if isinstance(h, IacHit) and h.rule_id == rule_id]


def problems(found: list[IacHit | Problem], rule_id: str) -> list[Problem]:
    return [p for p in found if isinstance(p, Problem) and p.rule_id == "iac.unresolved"
            and rule_id in p.message]


def unknown(expr: str = "var.x") -> Unresolved:
    return Unresolved(expr, "no default and no tfvars value")


FW = "google_compute_firewall"
VM = "google_compute_instance"
SQL = "google_sql_database_instance"
GKE = "google_container_cluster"
PUBLIC = "all" "Users"
PUBLIC_AUTH = "all" "AuthenticatedUsers"


def _fw(*allows: TfBlock, **attrs: Any) -> TfResource:
    base: dict[str, Any] = {"network": "default", "source_ranges": ["0.0.0.0/0"],
                            "allow": list(allows)}
    base.update(attrs)
    return res(FW, "fw", **base)


def _tcp(*ports: Any) -> TfBlock:
    return blk(20, protocol="tcp", ports=list(ports)) if ports else blk(20, protocol="tcp")


def _vm(**attrs: Any) -> TfResource:
    base: dict[str, Any] = {
        "network_interface": [blk(10, network="default")],
        "metadata": {"block-project-ssh-keys": "true"},
        "shielded_instance_config": [blk(30, enable_secure_boot=True)],
        "service_account": [blk(40, email=Ref("google_service_account.app", "email"),
                                scopes=["cloud-platform"])],
    }
    base.update(attrs)
    return res(VM, "vm", **base)


def _sql(ipc: dict[str, Any] | None = None, backup: bool = True, **attrs: Any) -> TfResource:
    ip = {"ipv4_enabled": False, "private_network": Ref("google_compute_network.vpc", "id"),
          "ssl_mode": "ENCRYPTED_ONLY"}
    ip.update(ipc or {})
    settings = blk(10, tier="db-f1-micro", ip_configuration=[blk(20, **ip)],
                   backup_configuration=[blk(40, enabled=backup)])
    return res(SQL, "db", settings=[settings], **attrs)


def _gke(**attrs: Any) -> TfResource:
    base: dict[str, Any] = {
        "private_cluster_config": [blk(10, enable_private_nodes=True,
                                       enable_private_endpoint=False)],
        "master_authorized_networks_config": [
            blk(20, cidr_blocks=[blk(21, cidr_block="10.0.0.0/8")])],
        "workload_identity_config": [blk(30, workload_pool="p.svc.id.goog")],
        "network_policy": [blk(40, enabled=True)],
    }
    base.update(attrs)
    return res(GKE, "c", **base)


CASES: list[tuple[str, str, list[TfResource], bool]] = [
    # bucket
    ("bad-ubla-false", "iac.gcp.storage-uniform-access",
     [res("google_storage_bucket", "b", uniform_bucket_level_access=False)], True),
    ("bad-ubla-absent", "iac.gcp.storage-uniform-access",
     [res("google_storage_bucket", "b", location="EU")], True),
    ("good-ubla", "iac.gcp.storage-uniform-access",
     [res("google_storage_bucket", "b", uniform_bucket_level_access=True)], False),
    # storage public
    ("bad-bucket-member-allusers", "iac.gcp.storage-public",
     [res("google_storage_bucket_iam_member", "m", bucket="b",
          role="roles/storage.objectViewer", member=PUBLIC)], True),
    ("bad-bucket-binding-allauth", "iac.gcp.storage-public",
     [res("google_storage_bucket_iam_binding", "m", bucket="b",
          role="roles/storage.objectViewer", members=["user:a@example.com", PUBLIC_AUTH])],
     True),
    ("bad-bucket-policy-data-source", "iac.gcp.storage-public",
     [data("google_iam_policy", "p", binding=[blk(61, role="roles/storage.objectViewer",
                                                  members=[PUBLIC])]),
      res("google_storage_bucket_iam_policy", "pol", bucket="b",
          policy_data=Ref("data.google_iam_policy.p", "policy_data"))], True),
    ("bad-bucket-policy-json", "iac.gcp.storage-public",
     [res("google_storage_bucket_iam_policy", "pol", bucket="b",
          policy_data=json.dumps({"bindings": [{"role": "roles/storage.objectViewer",
                                                "members": [PUBLIC]}]}))], True),
    ("bad-bucket-acl", "iac.gcp.storage-public",
     [res("google_storage_bucket_acl", "acl", bucket="b",
          role_entity=["OWNER:user-a@example.com", "READER:" + PUBLIC])], True),
    ("bad-bucket-access-control", "iac.gcp.storage-public",
     [res("google_storage_bucket_access_control", "ac", bucket="b", role="READER",
          entity=PUBLIC)], True),
    ("good-bucket-member-user", "iac.gcp.storage-public",
     [res("google_storage_bucket_iam_member", "m", bucket="b",
          role="roles/storage.objectViewer", member="user:ana@example.com")], False),
    ("lookalike-bucket-member-domain", "iac.gcp.storage-public",
     [res("google_storage_bucket_iam_member", "m", bucket="b",
          role="roles/storage.objectViewer", member="domain:allusers.example.com")], False),
    # other IAM
    ("bad-run-invoker-public", "iac.gcp.iam-public-member",
     [res("google_cloud_run_service_iam_member", "m", role="roles/run.invoker",
          member=PUBLIC)], True),
    ("bad-project-binding-public", "iac.gcp.iam-public-member",
     [res("google_project_iam_binding", "m", role="roles/viewer",
          members=[PUBLIC_AUTH])], True),
    ("good-run-invoker-sa", "iac.gcp.iam-public-member",
     [res("google_cloud_run_service_iam_member", "m", role="roles/run.invoker",
          member="serviceAccount:c@p.iam.gserviceaccount.com")], False),
    ("lookalike-group-named-all", "iac.gcp.iam-public-member",
     [res("google_pubsub_topic_iam_member", "m", role="roles/pubsub.publisher",
          member="group:allusers@example.com")], False),
    # BigQuery
    ("bad-bq-special-group", "iac.gcp.bigquery-public",
     [res("google_bigquery_dataset", "d", dataset_id="d",
          access=[blk(10, role="READER", special_group=PUBLIC_AUTH)])], True),
    ("bad-bq-iam-member", "iac.gcp.bigquery-public",
     [res("google_bigquery_dataset_iam_member", "m", dataset_id="d",
          role="roles/bigquery.dataViewer", member=PUBLIC)], True),
    ("bad-bq-access-resource", "iac.gcp.bigquery-public",
     [res("google_bigquery_dataset_access", "a", dataset_id="d", role="READER",
          iam_member=PUBLIC)], True),
    ("good-bq-project-readers", "iac.gcp.bigquery-public",
     [res("google_bigquery_dataset", "d", dataset_id="d",
          access=[blk(10, role="READER", special_group="projectReaders")])], False),
    # firewall
    ("bad-fw-ssh", "iac.gcp.firewall-ssh-open", [_fw(_tcp("22"))], True),
    ("bad-fw-ssh-range", "iac.gcp.firewall-ssh-open", [_fw(_tcp("20-30"))], True),
    ("bad-fw-ssh-int", "iac.gcp.firewall-ssh-open", [_fw(_tcp(80, 22))], True),
    ("bad-fw-ssh-ipv6", "iac.gcp.firewall-ssh-open",
     [_fw(_tcp("22"), source_ranges=["::/0"])], True),
    ("bad-fw-ssh-no-source", "iac.gcp.firewall-ssh-open",
     [res(FW, "fw", network="default", allow=[_tcp("22")])], True),
    ("good-fw-ssh-iap", "iac.gcp.firewall-ssh-open",
     [_fw(_tcp("22"), source_ranges=["35.235.240.0/20"])], False),
    ("lookalike-fw-https-world", "iac.gcp.firewall-ssh-open", [_fw(_tcp("443"))], False),
    ("lookalike-fw-ssh-egress", "iac.gcp.firewall-ssh-open",
     [_fw(_tcp("22"), direction="EGRESS", destination_ranges=["0.0.0.0/0"])], False),
    ("lookalike-fw-ssh-source-tags", "iac.gcp.firewall-ssh-open",
     [res(FW, "fw", network="default", source_tags=["bastion"], allow=[_tcp("22")])], False),
    ("lookalike-fw-ssh-disabled", "iac.gcp.firewall-ssh-open",
     [_fw(_tcp("22"), disabled=True)], False),
    ("lookalike-fw-deny-ssh", "iac.gcp.firewall-ssh-open",
     [res(FW, "fw", network="default", source_ranges=["0.0.0.0/0"],
          deny=[blk(20, protocol="tcp", ports=["22"])])], False),
    ("bad-fw-rdp", "iac.gcp.firewall-rdp-open", [_fw(_tcp("3389"))], True),
    ("lookalike-fw-rdp-udp-only", "iac.gcp.firewall-rdp-open",
     [_fw(blk(20, protocol="udp", ports=["3389"]))], False),
    ("bad-fw-rdp-range", "iac.gcp.firewall-rdp-open", [_fw(_tcp("3380-3390"))], True),
    ("good-fw-rdp-private", "iac.gcp.firewall-rdp-open",
     [_fw(_tcp("3389"), source_ranges=["10.0.0.0/8"])], False),
    ("bad-fw-all", "iac.gcp.firewall-all-ports-open", [_fw(blk(20, protocol="all"))], True),
    ("bad-fw-tcp-no-ports", "iac.gcp.firewall-all-ports-open", [_fw(_tcp())], True),
    ("bad-fw-policy-rule", "iac.gcp.firewall-all-ports-open",
     [res("google_compute_network_firewall_policy_rule", "r", action="allow",
          direction="INGRESS",
          match=[blk(10, src_ip_ranges=["0.0.0.0/0"],
                     layer4_configs=[blk(12, ip_protocol="all")])])], True),
    ("lookalike-fw-icmp-world", "iac.gcp.firewall-all-ports-open",
     [_fw(blk(20, protocol="icmp"))], False),
    ("good-fw-all-internal", "iac.gcp.firewall-all-ports-open",
     [_fw(blk(20, protocol="all"), source_ranges=["10.128.0.0/9"])], False),
    # instances
    ("bad-vm-public-ip", "iac.gcp.instance-public-ip",
     [_vm(network_interface=[blk(10, network="default", access_config=[blk(12)])])], True),
    ("good-vm-private", "iac.gcp.instance-public-ip", [_vm()], False),
    ("bad-vm-serial", "iac.gcp.instance-serial-port",
     [_vm(metadata={"serial-port-enable": "TRUE", "block-project-ssh-keys": "true"})], True),
    ("bad-vm-serial-bool", "iac.gcp.instance-serial-port",
     [_vm(metadata={"serial-port-enable": True, "block-project-ssh-keys": True})], True),
    ("bad-project-serial", "iac.gcp.instance-serial-port",
     [res("google_compute_project_metadata_item", "i", key="serial-port-enable", value="1")],
     True),
    ("good-vm-serial-false", "iac.gcp.instance-serial-port",
     [_vm(metadata={"serial-port-enable": "false", "block-project-ssh-keys": "true"})], False),
    ("bad-vm-default-sa-full", "iac.gcp.instance-default-sa-full-access",
     [_vm(service_account=[blk(40, scopes=["cloud-platform"])])], True),
    ("bad-vm-default-sa-email-full", "iac.gcp.instance-default-sa-full-access",
     [_vm(service_account=[blk(40, email="123456-compute@developer.gserviceaccount.com",
                               scopes=["https://www.googleapis.com/auth/cloud-platform"])])],
     True),
    ("good-vm-own-sa-full", "iac.gcp.instance-default-sa-full-access", [_vm()], False),
    ("bad-vm-default-sa", "iac.gcp.instance-default-sa",
     [_vm(service_account=[blk(40, scopes=["storage-ro"])])], True),
    ("good-vm-named-sa", "iac.gcp.instance-default-sa",
     [_vm(service_account=[blk(40, email="app@p.iam.gserviceaccount.com",
                               scopes=["storage-ro"])])], False),
    ("bad-vm-vtpm-off", "iac.gcp.instance-shielded-vm",
     [_vm(shielded_instance_config=[blk(30, enable_secure_boot=True, enable_vtpm=False)])],
     True),
    ("bad-vm-integrity-off", "iac.gcp.instance-shielded-vm",
     [_vm(shielded_instance_config=[blk(30, enable_integrity_monitoring="false")])], True),
    ("good-vm-shielded-defaults", "iac.gcp.instance-shielded-vm", [_vm()], False),
    ("lookalike-vm-no-shielded-block", "iac.gcp.instance-shielded-vm",
     [_vm(shielded_instance_config=[])], False),
    ("bad-vm-no-secure-boot", "iac.gcp.instance-secure-boot",
     [_vm(shielded_instance_config=[])], True),
    ("bad-vm-secure-boot-false", "iac.gcp.instance-secure-boot",
     [_vm(shielded_instance_config=[blk(30, enable_secure_boot=False, enable_vtpm=True)])],
     True),
    ("good-vm-secure-boot", "iac.gcp.instance-secure-boot", [_vm()], False),
    ("bad-vm-ip-forward", "iac.gcp.instance-ip-forwarding", [_vm(can_ip_forward=True)], True),
    ("good-vm-no-forward", "iac.gcp.instance-ip-forwarding", [_vm(can_ip_forward=False)], False),
    ("bad-vm-project-keys", "iac.gcp.instance-project-ssh-keys",
     [_vm(metadata={"startup-script": "echo"})], True),
    ("good-vm-block-keys", "iac.gcp.instance-project-ssh-keys", [_vm()], False),
    ("lookalike-vm-oslogin", "iac.gcp.instance-project-ssh-keys",
     [_vm(metadata={"enable-oslogin": "TRUE"})], False),
    # Cloud SQL
    ("bad-sql-world", "iac.gcp.sql-open-network",
     [_sql({"ipv4_enabled": True,
            "authorized_networks": [blk(30, name="all", value="0.0.0.0/0")]})], True),
    ("good-sql-office", "iac.gcp.sql-open-network",
     [_sql({"ipv4_enabled": True,
            "authorized_networks": [blk(30, name="office", value="203.0.113.0/24")]})], False),
    ("bad-sql-world-dormant", "iac.gcp.sql-open-network",
     [_sql({"authorized_networks": [blk(30, name="all", value="0.0.0.0/0")]})], True),
    ("bad-sql-public-ip-default", "iac.gcp.sql-public-ip",
     [res(SQL, "db", settings=[blk(10, tier="db-f1-micro")])], True),
    ("good-sql-private-ip", "iac.gcp.sql-public-ip", [_sql()], False),
    ("bad-sql-ssl-allow", "iac.gcp.sql-ssl",
     [_sql({"ssl_mode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"})], True),
    ("bad-sql-require-ssl-false", "iac.gcp.sql-ssl",
     [_sql({"ssl_mode": None, "require_ssl": False})], True),
    ("good-sql-require-ssl-v5", "iac.gcp.sql-ssl",
     [_sql({"ssl_mode": None, "require_ssl": True})], False),
    ("good-sql-client-certs", "iac.gcp.sql-ssl",
     [_sql({"ssl_mode": "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"})], False),
    ("bad-sql-no-backups", "iac.gcp.sql-backups", [_sql(backup=False)], True),
    ("good-sql-backups", "iac.gcp.sql-backups", [_sql()], False),
    ("lookalike-sql-replica", "iac.gcp.sql-backups",
     [_sql(backup=False, master_instance_name=Ref("google_sql_database_instance.main",
                                                  "name"))], False),
    # GKE
    ("bad-gke-abac", "iac.gcp.gke-legacy-abac", [_gke(enable_legacy_abac=True)], True),
    ("good-gke-abac-off", "iac.gcp.gke-legacy-abac", [_gke(enable_legacy_abac=False)], False),
    ("bad-gke-no-man", "iac.gcp.gke-master-networks",
     [_gke(master_authorized_networks_config=[])], True),
    ("bad-gke-man-world", "iac.gcp.gke-master-networks",
     [_gke(master_authorized_networks_config=[
         blk(20, cidr_blocks=[blk(21, cidr_block="0.0.0.0/0", display_name="all")])])], True),
    ("good-gke-man", "iac.gcp.gke-master-networks", [_gke()], False),
    ("lookalike-gke-private-endpoint", "iac.gcp.gke-master-networks",
     [_gke(master_authorized_networks_config=[],
           private_cluster_config=[blk(10, enable_private_nodes=True,
                                       enable_private_endpoint=True)])], False),
    ("bad-gke-public-nodes", "iac.gcp.gke-private-nodes", [_gke(private_cluster_config=[])],
     True),
    ("good-gke-private-nodes", "iac.gcp.gke-private-nodes", [_gke()], False),
    ("bad-gke-no-wi", "iac.gcp.gke-workload-identity", [_gke(workload_identity_config=[])],
     True),
    ("good-gke-wi", "iac.gcp.gke-workload-identity", [_gke()], False),
    ("lookalike-gke-autopilot", "iac.gcp.gke-workload-identity",
     [res(GKE, "c", enable_autopilot=True)], False),
    ("bad-gke-gce-metadata", "iac.gcp.gke-node-metadata",
     [res("google_container_node_pool", "np",
          node_config=[blk(10, workload_metadata_config=[blk(11, mode="GCE_METADATA")])])],
     True),
    ("bad-gke-legacy-endpoints", "iac.gcp.gke-node-metadata",
     [_gke(node_config=[blk(50, metadata={"disable-legacy-endpoints": "false"})])], True),
    ("bad-gke-inline-pool-expose", "iac.gcp.gke-node-metadata",
     [_gke(node_pool=[blk(60, name="p", node_config=[
         blk(61, workload_metadata_config=[blk(62, node_metadata="EXPOSE")])])])], True),
    ("good-gke-gke-metadata", "iac.gcp.gke-node-metadata",
     [res("google_container_node_pool", "np",
          node_config=[blk(10, workload_metadata_config=[blk(11, mode="GKE_METADATA")])])],
     False),
    ("bad-gke-client-cert", "iac.gcp.gke-legacy-auth",
     [_gke(master_auth=[blk(50, client_certificate_config=[
         blk(51, issue_client_certificate=True)])])], True),
    ("bad-gke-basic-auth", "iac.gcp.gke-legacy-auth",
     [_gke(master_auth=[blk(50, username="admin", password=unknown("var.pw"))])], True),
    ("good-gke-no-client-cert", "iac.gcp.gke-legacy-auth",
     [_gke(master_auth=[blk(50, client_certificate_config=[
         blk(51, issue_client_certificate=False)])])], False),
    ("lookalike-gke-empty-basic-auth", "iac.gcp.gke-legacy-auth",
     [_gke(master_auth=[blk(50, username="", password="")])], False),
    ("bad-gke-no-netpol", "iac.gcp.gke-network-policy", [_gke(network_policy=[])], True),
    ("good-gke-dataplane-v2", "iac.gcp.gke-network-policy",
     [_gke(network_policy=[], datapath_provider="ADVANCED_DATAPATH")], False),
    # KMS
    ("bad-kms-no-rotation", "iac.gcp.kms-rotation",
     [res("google_kms_crypto_key", "k", key_ring=Ref("google_kms_key_ring.r", "id"))], True),
    ("bad-kms-yearly", "iac.gcp.kms-rotation",
     [res("google_kms_crypto_key", "k", rotation_period="31536000s")], True),
    ("good-kms-90-days", "iac.gcp.kms-rotation",
     [res("google_kms_crypto_key", "k", rotation_period="7776000s")], False),
    ("lookalike-kms-asymmetric", "iac.gcp.kms-rotation",
     [res("google_kms_crypto_key", "k", purpose="ASYMMETRIC_SIGN")], False),
    # notebooks
    ("bad-notebook-public", "iac.gcp.notebook-public-ip",
     [res("google_notebooks_instance", "nb", no_public_ip=False,
          metadata={"notebook-disable-root": "true"})], True),
    ("bad-workbench-public-default", "iac.gcp.notebook-public-ip",
     [res("google_workbench_instance", "wb", gce_setup=[blk(10, machine_type="e2-standard-4")])],
     True),
    ("good-workbench-private", "iac.gcp.notebook-public-ip",
     [res("google_workbench_instance", "wb", gce_setup=[blk(10, disable_public_ip=True)])],
     False),
    ("good-notebook-private", "iac.gcp.notebook-public-ip",
     [res("google_notebooks_instance", "nb", no_public_ip=True)], False),
    ("bad-workbench-root", "iac.gcp.notebook-root-access",
     [res("google_workbench_instance", "wb",
          gce_setup=[blk(10, disable_public_ip=True,
                         metadata={"notebook-disable-root": "false"})])], True),
    ("good-workbench-no-root", "iac.gcp.notebook-root-access",
     [res("google_workbench_instance", "wb",
          gce_setup=[blk(10, disable_public_ip=True,
                         metadata={"notebook-disable-root": "true"})])], False),
    # service account keys and basic roles
    ("bad-sa-key", "iac.gcp.service-account-key",
     [res("google_service_account_key", "k",
          service_account_id=Ref("google_service_account.sa", "name"))], True),
    ("lookalike-sa-without-key", "iac.gcp.service-account-key",
     [res("google_service_account", "sa", account_id="app")], False),
    ("bad-project-editor-user", "iac.gcp.iam-primitive-role",
     [res("google_project_iam_member", "m", project="p", role="roles/editor",
          member="user:ana@example.com")], True),
    ("bad-org-owner-binding", "iac.gcp.iam-primitive-role",
     [res("google_organization_iam_binding", "m", org_id="1", role="roles/owner",
          members=["group:admins@example.com"])], True),
    ("bad-folder-viewer", "iac.gcp.iam-primitive-role",
     [res("google_folder_iam_member", "m", folder="folders/1", role="roles/viewer",
          member="user:ana@example.com")], True),
    ("good-project-log-viewer", "iac.gcp.iam-primitive-role",
     [res("google_project_iam_member", "m", project="p", role="roles/logging.viewer",
          member="user:ana@example.com")], False),
    ("lookalike-bucket-owner-role", "iac.gcp.iam-primitive-role",
     [res("google_storage_bucket_iam_member", "m", bucket="b",
          role="roles/storage.legacyBucketOwner", member="user:ana@example.com")], False),
]


@pytest.mark.parametrize(("case", "rule_id", "resources", "fires"), CASES,
                         ids=[c[0] for c in CASES])
def test_rule_case(case: str, rule_id: str, resources: list[TfResource], fires: bool) -> None:
    found = scan(*resources)
    got = hits(found, rule_id)
    assert bool(got) is fires, (case, [h.message for h in found if isinstance(h, IacHit)])
    assert not problems(found, rule_id), case
    for h in got:
        owner = next(r for r in resources if r.address == h.resource)
        assert h.message.startswith(owner.address + ": ")
        assert h.path == "gcp/main.tf" and h.block == owner.block
        assert h.line is not None and h.line >= 1


def test_every_rule_has_a_bad_and_a_quiet_case() -> None:
    bad = {c[1] for c in CASES if c[3]}
    quiet = {c[1] for c in CASES if not c[3]}
    assert set(RULES) <= bad, set(RULES) - bad
    assert set(RULES) <= quiet, set(RULES) - quiet


def test_rule_metadata_is_complete() -> None:
    assert len(RULES) >= 30
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id and rule_id.startswith("iac.gcp.")
        assert rule.framework == "terraform"
        assert any(c.startswith("NIST-800-53:") for c in rule.controls), rule_id
        assert rule.cwe.startswith("CWE-")
        prefixes = ("CKV_GCP_", "CKV2_GCP_", "AVD-GCP-", "google-")
        assert all(a.startswith(prefixes) for a in rule.aliases), rule_id
        assert rule.title and rule.rationale and rule.fix and rule.bad and rule.good
    assert "google-storage-enable-ubla" in RULES["iac.gcp.storage-uniform-access"].aliases


def test_hits_only_name_known_rules() -> None:
    for item in scan(*[r for case in CASES for r in case[2]]):
        if isinstance(item, IacHit):
            assert item.rule_id in RULES


def test_all_ports_does_not_repeat_as_ssh() -> None:
    found = scan(_fw(blk(20, protocol="all")))
    assert [h.rule_id for h in found if isinstance(h, IacHit)] == [
        "iac.gcp.firewall-all-ports-open"]


def test_dormant_world_network_is_low() -> None:
    (h,) = hits(scan(_sql({"authorized_networks": [blk(30, name="all", value="0.0.0.0/0")]})),
                "iac.gcp.sql-open-network")
    assert h.severity is not None and h.severity.value == "low"
    assert h.confidence == Confidence.MEDIUM and "disabled" in h.message


def test_firewall_message_and_line() -> None:
    fw = _fw(_tcp("22"))
    (h,) = hits(scan(fw), "iac.gcp.firewall-ssh-open")
    assert h.line == fw.body.blocks("allow")[0].lines["ports"]
    assert "port 22" in h.message and '"0.0.0.0/0"' in h.message


def test_firewall_without_source_is_medium_confidence() -> None:
    (h,) = hits(scan(res(FW, "fw", network="default", allow=[_tcp("22")])),
                "iac.gcp.firewall-ssh-open")
    assert h.confidence == Confidence.MEDIUM and "no source_ranges" in h.message


def test_module_data_source_policy_is_followed() -> None:
    policy = TfResource(mode="data", type="google_iam_policy", name="p",
                        address="module.m.data.google_iam_policy.p", module="module.m",
                        path="modules/m/main.tf",
                        body=blk(1, binding=[blk(2, role="roles/viewer", members=[PUBLIC])]))
    binding = TfResource(mode="resource", type="google_storage_bucket_iam_policy", name="x",
                         address="module.m.google_storage_bucket_iam_policy.x",
                         module="module.m", path="modules/m/main.tf",
                         body=blk(10, bucket="b",
                                  policy_data=Ref("data.google_iam_policy.p", "policy_data")))
    assert hits(scan(policy, binding), "iac.gcp.storage-public")


UNRESOLVED: list[tuple[str, str, list[TfResource]]] = [
    ("iac.gcp.storage-uniform-access", "var.ubla",
     [res("google_storage_bucket", "b", uniform_bucket_level_access=unknown("var.ubla"))]),
    ("iac.gcp.storage-public", "var.member",
     [res("google_storage_bucket_iam_member", "m", role="roles/storage.objectViewer",
          member=unknown("var.member"))]),
    ("iac.gcp.storage-public", "data.google_iam_policy.gone.policy_data",
     [res("google_storage_bucket_iam_policy", "p",
          policy_data=Ref("data.google_iam_policy.gone", "policy_data"))]),
    ("iac.gcp.firewall-ssh-open", "var.cidrs",
     [_fw(_tcp("22"), source_ranges=unknown("var.cidrs"))]),
    ("iac.gcp.firewall-all-ports-open", "var.ports",
     [_fw(blk(20, protocol="tcp", ports=unknown("var.ports")))]),
    ("iac.gcp.kms-rotation", "var.period",
     [res("google_kms_crypto_key", "k", rotation_period=unknown("var.period"))]),
    ("iac.gcp.instance-serial-port", "var.meta",
     [_vm(metadata=unknown("var.meta"))]),
    ("iac.gcp.sql-ssl", "var.mode", [_sql({"ssl_mode": unknown("var.mode")})]),
    ("iac.gcp.gke-legacy-abac", "var.abac", [_gke(enable_legacy_abac=unknown("var.abac"))]),
    ("iac.gcp.notebook-public-ip", "var.nopub",
     [res("google_notebooks_instance", "nb", no_public_ip=unknown("var.nopub"),
          metadata={"notebook-disable-root": "true"})]),
]


@pytest.mark.parametrize(("rule_id", "expr", "resources"), UNRESOLVED,
                         ids=[f"{u[0]}-{u[1]}" for u in UNRESOLVED])
def test_unresolved_value_is_a_problem_not_a_pass(rule_id: str, expr: str,
                                                  resources: list[TfResource]) -> None:
    found = scan(*resources)
    assert not hits(found, rule_id)
    (problem,) = problems(found, rule_id)
    assert expr in problem.message and resources[-1].address in problem.message
    assert problem.line is not None


def test_unknown_direction_is_judged_like_an_unknown_source() -> None:
    (problem,) = problems(scan(_fw(_tcp("22"), direction=unknown("var.dir"))),
                          "iac.gcp.firewall-ssh-open")
    assert "var.dir" in problem.message
    assert scan(_fw(_tcp("443"), direction=unknown("var.dir"))) == []


def test_policy_rule_with_unknown_action_is_a_problem() -> None:
    rule = res("google_compute_firewall_policy_rule", "r", action=unknown("var.action"),
               direction="INGRESS",
               match=[blk(10, src_ip_ranges=["0.0.0.0/0"],
                          layer4_configs=[blk(12, ip_protocol="tcp", ports=["3389"])])])
    (problem,) = problems(scan(rule), "iac.gcp.firewall-rdp-open")
    assert "var.action" in problem.message


def test_unresolved_source_to_harmless_port_is_quiet() -> None:
    found = scan(_fw(_tcp("443"), source_ranges=unknown("var.cidrs")))
    assert found == []


def test_hostile_policy_json_is_a_problem() -> None:
    deep = "[" * 5000 + "]" * 5000
    for raw in ("{not json", deep, '{"bindings": "x"}', "x" * (300 * 1024)):
        found = scan(res("google_storage_bucket_iam_policy", "p", bucket="b", policy_data=raw))
        assert not hits(found, "iac.gcp.storage-public")
        if raw != '{"bindings": "x"}':
            assert problems(found, "iac.gcp.storage-public")


def test_odd_values_do_not_raise() -> None:
    weird: list[Any] = [None, 3.5, {"a": 1}, [None], [], "", "not-a-port", -1, 70000, True]
    for value in weird:
        resources = [
            _fw(blk(20, protocol=value, ports=value), source_ranges=value),
            _vm(metadata=value, service_account=[blk(40, email=value, scopes=value)]),
            _sql({"ssl_mode": value, "authorized_networks": [blk(30, value=value)]}),
            res("google_kms_crypto_key", "k", rotation_period=value, purpose=value),
            res("google_project_iam_member", "m", role=value, member=value),
            res("google_storage_bucket_iam_policy", "p", policy_data=value),
        ]
        for item in scan(*resources):
            assert isinstance(item, (IacHit, Problem))
