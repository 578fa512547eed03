"""Azure rules on generated resources of the types they read, with values of every shape the
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
from secpipe.scanners.iac.terraform.rules_azure import CHECKS, RULES

EXAMPLES = int(os.environ.get("SECPIPE_FUZZ_EXAMPLES", "80"))

TYPES = ["azurerm_storage_account", "azurerm_storage_account_network_rules",
         "azurerm_storage_container", "azurerm_key_vault", "azurerm_key_vault_secret",
         "azurerm_key_vault_key", "azurerm_network_security_group",
         "azurerm_network_security_rule", "azurerm_mssql_server", "azurerm_mssql_firewall_rule",
         "azurerm_mssql_server_extended_auditing_policy", "azurerm_postgresql_server",
         "azurerm_postgresql_flexible_server", "azurerm_mysql_flexible_server_configuration",
         "azurerm_kubernetes_cluster", "azurerm_linux_virtual_machine", "azurerm_virtual_machine",
         "azurerm_managed_disk", "azurerm_linux_web_app", "azurerm_app_service",
         "azurerm_container_registry", "azurerm_machine_learning_workspace",
         "azurerm_cognitive_account"]

NAMES = ["name", "direction", "access", "protocol", "source_address_prefix",
         "source_address_prefixes", "destination_port_range", "destination_port_ranges",
         "security_rule", "network_rules", "network_acls", "default_action", "ip_rules",
         "public_network_access_enabled", "min_tls_version", "minimum_tls_version",
         "https_traffic_only_enabled", "enable_https_traffic_only",
         "allow_nested_items_to_be_public", "allow_blob_public_access", "container_access_type",
         "purge_protection_enabled", "soft_delete_enabled", "expiration_date", "rotation_policy",
         "expire_after", "start_ip_address", "end_ip_address", "server_id",
         "extended_auditing_policy", "enabled", "ssl_enforcement_enabled",
         "ssl_minimal_tls_version_enforced", "delegated_subnet_id", "value",
         "role_based_access_control_enabled", "role_based_access_control",
         "private_cluster_enabled", "api_server_access_profile", "authorized_ip_ranges",
         "api_server_authorized_ip_ranges", "network_profile", "network_policy",
         "local_account_disabled", "disable_password_authentication", "os_profile_linux_config",
         "encryption_settings", "https_only", "site_config", "ftps_state", "admin_enabled",
         "network_rule_set", "high_business_impact", "kind", "local_auth_enabled",
         "storage_account_id"]

ZERO = "0.0.0.0"  # noqa: S104 - a firewall address value, not a bind address

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70000), st.floats(allow_nan=True),
    st.sampled_from(["", "*", "Internet", "0.0.0.0/0", "::/0", "10.0.0.0/8", "22", "3389",
                     "20-4000", "0-65535", "65535-1", "Allow", "Deny", "Inbound", "Tcp",
                     "TLS1_0", "1.0", "blob", "AllAllowed", "OFF", "require_secure_transport",
                     "true", "false", "OpenAI", "not-a-port", ZERO, "255.255.255.255"]),
    st.text(max_size=8),
    st.builds(Unresolved, st.sampled_from(["var.x", "local.y", "module.m.out"])),
    st.builds(Ref, st.sampled_from(["azurerm_storage_account.a", "azurerm_mssql_server.s"]),
              st.sampled_from(["id", "name", ""])),
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
    st.builds(lambda kind, body, mode: TfResource(mode=mode, type=kind, name="r",
                                                  address=f"{kind}.r", module="",
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
