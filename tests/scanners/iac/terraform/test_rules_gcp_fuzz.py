"""GCP rules on generated resources of the types they read, with values of every shape the
loader can produce (strings, numbers, lists, objects, nested blocks, unresolved values,
references): a check never raises, and everything it yields is a well-formed hit of one of its
rules or an ``iac.unresolved`` problem."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secpipe.scanners.iac.model import IacHit, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_gcp import CHECKS, RULES

EXAMPLES = int(os.environ.get("SECPIPE_FUZZ_EXAMPLES", "80"))

TYPES = ["google_storage_bucket", "google_storage_bucket_iam_member",
         "google_storage_bucket_iam_binding", "google_storage_bucket_iam_policy",
         "google_storage_bucket_acl", "google_storage_bucket_access_control",
         "google_project_iam_member", "google_project_iam_binding", "google_iam_policy",
         "google_pubsub_topic_iam_policy", "google_bigquery_dataset",
         "google_bigquery_dataset_access", "google_compute_firewall",
         "google_compute_network_firewall_policy_rule", "google_compute_instance",
         "google_compute_instance_template", "google_compute_project_metadata_item",
         "google_sql_database_instance", "google_container_cluster",
         "google_container_node_pool", "google_kms_crypto_key", "google_notebooks_instance",
         "google_workbench_instance", "google_service_account_key"]

NAMES = ["name", "role", "member", "members", "policy_data", "binding", "bucket", "entity",
         "role_entity", "predefined_acl", "uniform_bucket_level_access", "access",
         "special_group", "iam_member", "direction", "disabled", "source_ranges", "source_tags",
         "source_service_accounts", "allow", "deny", "protocol", "ports", "action", "match",
         "src_ip_ranges", "layer4_configs", "ip_protocol", "network_interface", "access_config",
         "metadata", "key", "value", "service_account", "email", "scopes",
         "shielded_instance_config", "enable_secure_boot", "enable_vtpm",
         "enable_integrity_monitoring", "can_ip_forward", "settings", "ip_configuration",
         "ipv4_enabled", "authorized_networks", "ssl_mode", "require_ssl",
         "backup_configuration", "enabled", "master_instance_name", "enable_legacy_abac",
         "enable_autopilot", "private_cluster_config", "enable_private_nodes",
         "enable_private_endpoint", "master_authorized_networks_config", "cidr_blocks",
         "cidr_block", "gcp_public_cidrs_access_enabled", "workload_identity_config",
         "network_policy", "datapath_provider", "node_config", "workload_metadata_config",
         "mode", "node_metadata", "master_auth", "username", "password",
         "client_certificate_config", "issue_client_certificate", "purpose", "rotation_period",
         "no_public_ip", "gce_setup", "disable_public_ip", "public_key_data",
         "service_account_id"]

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True),
    st.sampled_from(["", "all", "tcp", "udp", "icmp", "0.0.0.0/0", "::/0", "10.0.0.0/8", "22",
                     "3389", "20-4000", "0-65535", "65535-1", "allow", "INGRESS", "EGRESS",
                     "all" "Users", "all" "AuthenticatedUsers", "READER:all" "Users",
                     "roles/owner", "user:a@example.com", "cloud-platform", "7776000s",
                     "99999999999999999999s", "1.5s", "GCE_METADATA", "ENCRYPTED_ONLY",
                     "true", "false", "TRUE", "serial-port-enable", '{"bindings": []}',
                     '{"bindings": [{"role": "r", "members": ["all' 'Users"]}]}', "[[[[",
                     "123-compute@developer.gserviceaccount.com"]),
    st.text(max_size=8),
    st.builds(Unresolved, st.sampled_from(["var.x", "local.y", "module.m.out"])),
    st.builds(Ref, st.sampled_from(["data.google_iam_policy.r", "google_service_account.s"]),
              st.sampled_from(["policy_data", "email", ""])),
)


def _block(children: st.SearchStrategy[Any]) -> st.SearchStrategy[TfBlock]:
    return st.builds(
        lambda attrs, line: TfBlock(attrs=attrs, line=line, end_line=line,
                                    lines=dict.fromkeys(attrs, line or 1)),
        st.dictionaries(st.sampled_from(NAMES), children, max_size=8),
        st.one_of(st.none(), st.integers(1, 500)))


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
                            st.lists(_block(inner), max_size=2)),
    max_leaves=12)

RESOURCES = st.lists(
    st.builds(lambda kind, body, mode: TfResource(
                  mode=mode, type=kind, name="r",
                  address=f"{'data.' if mode == 'data' else ''}{kind}.r", module="",
                  path="f.tf", body=body),
              st.sampled_from(TYPES), _block(VALUES), st.sampled_from(["resource", "data"])),
    min_size=1, max_size=4)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(RESOURCES)
def test_checks_never_raise(resources: list[TfResource]) -> None:
    model = TfModel(resources=resources, root=".")
    for check in CHECKS:
        for item in check(model):
            if isinstance(item, IacHit):
                assert item.rule_id in RULES
                assert item.message.startswith(item.resource + ": ")
                assert item.path == "f.tf"
            else:
                assert isinstance(item, Problem)
                assert item.rule_id == "iac.unresolved"
                assert any(rule_id in item.message for rule_id in RULES)
