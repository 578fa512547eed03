"""Azure Terraform rules on models built in the test: each rule fires on the insecure form,
stays quiet on the fixed form and on a safe look-alike, and turns an unresolved deciding value
into an ``iac.unresolved`` problem."""

from __future__ import annotations

from typing import Any

import pytest

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, IacRule, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform import rules_azure
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_azure import CHECKS, RULES


def blk(line: int = 1, /, **attrs: Any) -> TfBlock:
    """A block whose attributes sit on the lines after its header, in the order given."""
    lines = {name: line + i + 1 for i, name in enumerate(attrs)}
    return TfBlock(attrs=dict(attrs), line=line, end_line=line + len(attrs) + 1, lines=lines)


def res(kind: str, local: str = "x", line: int = 1, /, **attrs: Any) -> TfResource:
    return TfResource(mode="resource", type=kind, name=local, address=f"{kind}.{local}",
                      module="", path="infra/main.tf", body=blk(line, **attrs))


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


ZERO = "0.0.0.0"  # noqa: S104 - a firewall rule's start address, not a bind address

# One row per case: (rule, resources, fires). "bad" rows must fire, "good" and "look-alike"
# rows must not.
SA = "azurerm_storage_account"
NSG = "azurerm_network_security_group"
RULE = "azurerm_network_security_rule"


def _sa(**attrs: Any) -> TfResource:
    base: dict[str, Any] = {"allow_nested_items_to_be_public": False,
                            "network_rules": [blk(20, default_action="Deny")]}
    base.update(attrs)
    return res(SA, "data", **base)


def _nsg_rule(**attrs: Any) -> TfResource:
    base: dict[str, Any] = {"name": "in", "priority": 100, "direction": "Inbound",
                            "access": "Allow", "protocol": "Tcp", "source_port_range": "*"}
    base.update(attrs)
    return res(RULE, "r", **base)


def _inline_nsg(**attrs: Any) -> TfResource:
    base: dict[str, Any] = {"name": "in", "priority": 100, "direction": "Inbound",
                            "access": "Allow", "protocol": "Tcp"}
    base.update(attrs)
    return res(NSG, "web", security_rule=[blk(5, **base)])


def _aks(**attrs: Any) -> TfResource:
    base: dict[str, Any] = {"local_account_disabled": True,
                            "network_profile": [blk(30, network_plugin="azure",
                                                    network_policy="azure")],
                            "api_server_access_profile": [
                                blk(40, authorized_ip_ranges=["203.0.113.0/24"])]}
    base.update(attrs)
    return res("azurerm_kubernetes_cluster", "k", **base)


def _sql(**attrs: Any) -> list[TfResource]:
    base: dict[str, Any] = {"public_network_access_enabled": False,
                            "minimum_tls_version": "1.2"}
    base.update(attrs)
    server = res("azurerm_mssql_server", "s", **base)
    audit = res("azurerm_mssql_server_extended_auditing_policy", "a", 50,
                server_id=Ref("azurerm_mssql_server.s", "id"))
    return [server, audit]


CASES: list[tuple[str, str, list[TfResource], bool]] = [
    # storage account: public blob access
    ("bad-nested-true", "iac.azure.storage-public-blob-access",
     [_sa(allow_nested_items_to_be_public=True)], True),
    ("bad-legacy-true", "iac.azure.storage-public-blob-access",
     [res(SA, "old", allow_blob_public_access=True, network_rules=[blk(9, default_action="Deny")])],
     True),
    ("bad-absent-default-true", "iac.azure.storage-public-blob-access",
     [res(SA, "d", network_rules=[blk(9, default_action="Deny")])], True),
    ("good-nested-false", "iac.azure.storage-public-blob-access", [_sa()], False),
    ("lookalike-legacy-false-string", "iac.azure.storage-public-blob-access",
     [res(SA, "o", allow_blob_public_access="false")], False),
    # container
    ("bad-container-blob", "iac.azure.storage-container-public",
     [res("azurerm_storage_container", "c", container_access_type="blob")], True),
    ("bad-container-container", "iac.azure.storage-container-public",
     [res("azurerm_storage_container", "c", container_access_type="Container")], True),
    ("good-container-private", "iac.azure.storage-container-public",
     [res("azurerm_storage_container", "c", container_access_type="private")], False),
    ("lookalike-container-default", "iac.azure.storage-container-public",
     [res("azurerm_storage_container", "c", name="blob")], False),
    # tls
    ("bad-tls10", "iac.azure.storage-min-tls", [_sa(min_tls_version="TLS1_0")], True),
    ("bad-tls11", "iac.azure.storage-min-tls", [_sa(min_tls_version="TLS1_1")], True),
    ("good-tls12", "iac.azure.storage-min-tls", [_sa(min_tls_version="TLS1_2")], False),
    ("lookalike-tls-default", "iac.azure.storage-min-tls", [_sa()], False),
    # https
    ("bad-https-4x", "iac.azure.storage-https-only", [_sa(https_traffic_only_enabled=False)],
     True),
    ("bad-https-3x", "iac.azure.storage-https-only", [_sa(enable_https_traffic_only=False)],
     True),
    ("good-https", "iac.azure.storage-https-only", [_sa(https_traffic_only_enabled=True)], False),
    ("lookalike-https-default", "iac.azure.storage-https-only", [_sa()], False),
    # network rules
    ("bad-net-allow-inline", "iac.azure.storage-network-default-allow",
     [_sa(network_rules=[blk(9, default_action="Allow")])], True),
    ("bad-net-absent", "iac.azure.storage-network-default-allow",
     [res(SA, "n", allow_nested_items_to_be_public=False)], True),
    ("bad-net-separate-allow", "iac.azure.storage-network-default-allow",
     [res(SA, "n", allow_nested_items_to_be_public=False),
      res("azurerm_storage_account_network_rules", "r", 30,
          storage_account_id=Ref("azurerm_storage_account.n", "id"), default_action="Allow")],
     True),
    ("good-net-deny", "iac.azure.storage-network-default-allow", [_sa()], False),
    ("bad-net-separate-allow-account-elsewhere", "iac.azure.storage-network-default-allow",
     [res("azurerm_storage_account_network_rules", "r", 30,
          storage_account_id=unknown("var.account_id"), default_action="Allow")], True),
    ("bad-net-deny-but-any-ip", "iac.azure.storage-network-default-allow",
     [_sa(network_rules=[blk(9, default_action="Deny", ip_rules=["0.0.0.0/0"])])], True),
    ("good-net-deny-office-ip", "iac.azure.storage-network-default-allow",
     [_sa(network_rules=[blk(9, default_action="Deny", ip_rules=["203.0.113.0/24"])])], False),
    ("good-net-separate-deny", "iac.azure.storage-network-default-allow",
     [res(SA, "n", allow_nested_items_to_be_public=False),
      res("azurerm_storage_account_network_rules", "r", 30,
          storage_account_id=Ref("azurerm_storage_account.n", "id"), default_action="Deny")],
     False),
    ("lookalike-net-private-only", "iac.azure.storage-network-default-allow",
     [res(SA, "p", public_network_access_enabled=False)], False),
    # key vault
    ("bad-kv-purge-false", "iac.azure.keyvault-not-recoverable",
     [res("azurerm_key_vault", "v", purge_protection_enabled=False,
          network_acls=[blk(9, default_action="Deny")])], True),
    ("bad-kv-purge-absent", "iac.azure.keyvault-not-recoverable",
     [res("azurerm_key_vault", "v", network_acls=[blk(9, default_action="Deny")])], True),
    ("bad-kv-soft-delete-off", "iac.azure.keyvault-not-recoverable",
     [res("azurerm_key_vault", "v", purge_protection_enabled=True, soft_delete_enabled=False)],
     True),
    ("good-kv-purge", "iac.azure.keyvault-not-recoverable",
     [res("azurerm_key_vault", "v", purge_protection_enabled=True,
          soft_delete_retention_days=7)], False),
    ("bad-kv-acl-allow", "iac.azure.keyvault-network-open",
     [res("azurerm_key_vault", "v", network_acls=[blk(9, default_action="Allow",
                                                      bypass="AzureServices")])], True),
    ("bad-kv-acl-absent", "iac.azure.keyvault-network-open", [res("azurerm_key_vault", "v")],
     True),
    ("good-kv-acl-deny", "iac.azure.keyvault-network-open",
     [res("azurerm_key_vault", "v", network_acls=[blk(9, default_action="Deny",
                                                      bypass="AzureServices")])], False),
    ("bad-kv-deny-but-any-ip", "iac.azure.keyvault-network-open",
     [res("azurerm_key_vault", "v", network_acls=[blk(9, default_action="Deny",
                                                      bypass="AzureServices",
                                                      ip_rules=["0.0.0.0/0"])])], True),
    ("lookalike-kv-private", "iac.azure.keyvault-network-open",
     [res("azurerm_key_vault", "v", public_network_access_enabled=False)], False),
    ("bad-secret-no-expiry", "iac.azure.keyvault-secret-no-expiry",
     [res("azurerm_key_vault_secret", "s", name="db", value=unknown("var.pw"))], True),
    ("good-secret-expiry", "iac.azure.keyvault-secret-no-expiry",
     [res("azurerm_key_vault_secret", "s", name="db", expiration_date="2027-01-01T00:00:00Z")],
     False),
    ("lookalike-secret-expiry-unresolved", "iac.azure.keyvault-secret-no-expiry",
     [res("azurerm_key_vault_secret", "s", name="db", expiration_date=unknown("local.exp"))],
     False),
    ("bad-key-no-expiry", "iac.azure.keyvault-key-no-expiry",
     [res("azurerm_key_vault_key", "k", name="k", key_type="RSA")], True),
    ("good-key-rotation-policy", "iac.azure.keyvault-key-no-expiry",
     [res("azurerm_key_vault_key", "k", name="k",
          rotation_policy=[blk(9, expire_after="P90D")])], False),
    # NSG
    ("bad-ssh-star", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="*", destination_port_range="22")], True),
    ("bad-ssh-internet-tag", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="Internet", destination_port_range="22")], True),
    ("bad-ssh-range", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="0.0.0.0/0", destination_port_range="20-25")], True),
    ("bad-ssh-list", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefixes=["10.0.0.0/8", "0.0.0.0/0"],
                destination_port_ranges=["443", "22"])], True),
    ("bad-ssh-inline-ipv6", "iac.azure.nsg-ssh-open",
     [_inline_nsg(source_address_prefix="::/0", destination_port_range="22")], True),
    ("bad-ssh-int-port", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="Any", destination_port_range=22)], True),
    ("lookalike-ssh-vnet", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="VirtualNetwork", destination_port_range="22")], False),
    ("lookalike-ssh-outbound", "iac.azure.nsg-ssh-open",
     [_nsg_rule(direction="Outbound", source_address_prefix="*",
                destination_port_range="22")], False),
    ("lookalike-ssh-deny", "iac.azure.nsg-ssh-open",
     [_nsg_rule(access="Deny", source_address_prefix="*", destination_port_range="22")], False),
    ("lookalike-https-internet", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="*", destination_port_range="443")], False),
    ("bad-rdp", "iac.azure.nsg-rdp-open",
     [_nsg_rule(source_address_prefix="Internet", destination_port_range="3389")], True),
    ("bad-rdp-range-any-protocol", "iac.azure.nsg-rdp-open",
     [_nsg_rule(protocol="*", source_address_prefix="*",
                destination_port_range="3000-4000")], True),
    ("lookalike-rdp-udp-only", "iac.azure.nsg-rdp-open",
     [_nsg_rule(protocol="Udp", source_address_prefix="*",
                destination_port_range="3000-4000")], False),
    ("bad-ssh-placeholder-nw", "iac.azure.nsg-ssh-open",
     [_nsg_rule(source_address_prefix="<nw>/0", destination_port_range="22")], True),
    ("lookalike-rdp-private", "iac.azure.nsg-rdp-open",
     [_nsg_rule(source_address_prefix="10.0.0.0/8", destination_port_range="3389")], False),
    ("lookalike-ssh-icmp", "iac.azure.nsg-all-ports-open",
     [_nsg_rule(protocol="Icmp", source_address_prefix="*", destination_port_range="*")],
     False),
    ("bad-all-ports", "iac.azure.nsg-all-ports-open",
     [_nsg_rule(protocol="*", source_address_prefix="*", destination_port_range="*")], True),
    ("bad-all-ports-range", "iac.azure.nsg-all-ports-open",
     [_inline_nsg(source_address_prefix="0.0.0.0/0", destination_port_range="0-65535")], True),
    ("lookalike-all-ports-lb", "iac.azure.nsg-all-ports-open",
     [_nsg_rule(source_address_prefix="AzureLoadBalancer", destination_port_range="*")], False),
    # SQL
    ("bad-sql-public", "iac.azure.sql-public-network",
     _sql(public_network_access_enabled=True), True),
    ("bad-sql-public-default", "iac.azure.sql-public-network",
     [res("azurerm_mssql_server", "s")], True),
    ("good-sql-private", "iac.azure.sql-public-network", _sql(), False),
    ("bad-fw-any", "iac.azure.db-firewall-open",
     [res("azurerm_mssql_firewall_rule", "f", start_ip_address=ZERO,
          end_ip_address="255.255.255.255")], True),
    ("bad-fw-flex-pg", "iac.azure.db-firewall-open",
     [res("azurerm_postgresql_flexible_server_firewall_rule", "f", start_ip_address=ZERO,
          end_ip_address="255.255.255.255")], True),
    ("good-fw-narrow", "iac.azure.db-firewall-open",
     [res("azurerm_mssql_firewall_rule", "f", start_ip_address="203.0.113.10",
          end_ip_address="203.0.113.20")], False),
    ("lookalike-fw-azure-services", "iac.azure.db-firewall-open",
     [res("azurerm_mssql_firewall_rule", "f", start_ip_address=ZERO,
          end_ip_address=ZERO)], False),
    ("bad-sql-no-audit", "iac.azure.sql-auditing-disabled",
     [res("azurerm_mssql_server", "s", public_network_access_enabled=False)], True),
    ("good-sql-audit-resource", "iac.azure.sql-auditing-disabled", _sql(), False),
    ("bad-audit-policy-of-another-server", "iac.azure.sql-auditing-disabled",
     [res("azurerm_mssql_server", "s"),
      res("azurerm_mssql_server_extended_auditing_policy", "a", 50,
          server_id=Ref("azurerm_mssql_server.other", "id"))], True),
    ("bad-sql-tls10", "iac.azure.db-min-tls", _sql(minimum_tls_version="1.0"), True),
    ("bad-pg-tls11", "iac.azure.db-min-tls",
     [res("azurerm_postgresql_server", "p", ssl_minimal_tls_version_enforced="TLS1_1",
          public_network_access_enabled=False)], True),
    ("good-sql-tls12", "iac.azure.db-min-tls", _sql(), False),
    ("bad-pg-ssl-off", "iac.azure.db-ssl-disabled",
     [res("azurerm_postgresql_server", "p", ssl_enforcement_enabled=False)], True),
    ("bad-mysql-flex-ssl-off", "iac.azure.db-ssl-disabled",
     [res("azurerm_mysql_flexible_server_configuration", "c", name="require_secure_transport",
          value="OFF")], True),
    ("good-pg-ssl-on", "iac.azure.db-ssl-disabled",
     [res("azurerm_postgresql_server", "p", ssl_enforcement_enabled=True)], False),
    ("lookalike-flex-other-param-off", "iac.azure.db-ssl-disabled",
     [res("azurerm_postgresql_flexible_server_configuration", "c", name="log_checkpoints",
          value="off")], False),
    ("bad-pg-public-default", "iac.azure.db-public-network",
     [res("azurerm_postgresql_server", "p", ssl_enforcement_enabled=True)], True),
    ("bad-flex-public-true", "iac.azure.db-public-network",
     [res("azurerm_postgresql_flexible_server", "p", public_network_access_enabled=True)], True),
    ("bad-flex-public-absent", "iac.azure.db-public-network",
     [res("azurerm_mysql_flexible_server", "m", sku_name="B_Standard_B1s")], True),
    ("good-flex-vnet", "iac.azure.db-public-network",
     [res("azurerm_postgresql_flexible_server", "p",
          delegated_subnet_id=Ref("azurerm_subnet.db", "id"))], False),
    ("good-single-private", "iac.azure.db-public-network",
     [res("azurerm_mysql_server", "m", public_network_access_enabled=False)], False),
    # AKS
    ("bad-aks-rbac-off", "iac.azure.aks-rbac-disabled",
     [_aks(role_based_access_control_enabled=False)], True),
    ("bad-aks-rbac-legacy", "iac.azure.aks-rbac-disabled",
     [_aks(role_based_access_control=[blk(9, enabled=False)])], True),
    ("good-aks-rbac-default", "iac.azure.aks-rbac-disabled", [_aks()], False),
    ("bad-aks-api-absent", "iac.azure.aks-api-open",
     [_aks(api_server_access_profile=[])], True),
    ("bad-aks-api-any", "iac.azure.aks-api-open",
     [_aks(api_server_access_profile=[blk(40, authorized_ip_ranges=["0.0.0.0/0"])])], True),
    ("good-aks-api-ranges", "iac.azure.aks-api-open", [_aks()], False),
    ("good-aks-api-3x-ranges", "iac.azure.aks-api-open",
     [_aks(api_server_access_profile=[],
           api_server_authorized_ip_ranges=["198.51.100.0/24"])], False),
    ("lookalike-aks-private", "iac.azure.aks-api-open",
     [_aks(api_server_access_profile=[], private_cluster_enabled=True)], False),
    ("bad-aks-no-netpol", "iac.azure.aks-network-policy",
     [_aks(network_profile=[blk(30, network_plugin="kubenet")])], True),
    ("bad-aks-no-profile", "iac.azure.aks-network-policy", [_aks(network_profile=[])], True),
    ("good-aks-calico", "iac.azure.aks-network-policy",
     [_aks(network_profile=[blk(30, network_plugin="kubenet", network_policy="calico")])],
     False),
    ("bad-aks-local", "iac.azure.aks-local-accounts", [_aks(local_account_disabled=False)], True),
    ("good-aks-local-off", "iac.azure.aks-local-accounts", [_aks()], False),
    # VMs and disks
    ("bad-vm-password", "iac.azure.vm-password-auth",
     [res("azurerm_linux_virtual_machine", "vm", disable_password_authentication=False)], True),
    ("bad-vm-legacy-password", "iac.azure.vm-password-auth",
     [res("azurerm_virtual_machine", "vm",
          os_profile_linux_config=[blk(9, disable_password_authentication=False)])], True),
    ("good-vm-keys", "iac.azure.vm-password-auth",
     [res("azurerm_linux_virtual_machine", "vm", disable_password_authentication=True)], False),
    ("lookalike-windows-vm", "iac.azure.vm-password-auth",
     [res("azurerm_windows_virtual_machine", "vm", admin_password=unknown("var.pw"))], False),
    ("bad-disk-encryption-off", "iac.azure.disk-encryption-disabled",
     [res("azurerm_managed_disk", "d", encryption_settings=[blk(9, enabled=False)])], True),
    ("good-disk-des", "iac.azure.disk-encryption-disabled",
     [res("azurerm_managed_disk", "d", disk_encryption_set_id=Ref("azurerm_disk_encryption_set.e",
                                                                  "id"))], False),
    # App Service
    ("bad-app-http", "iac.azure.appservice-https-only",
     [res("azurerm_linux_web_app", "w", https_only=False)], True),
    ("bad-func-http-default", "iac.azure.appservice-https-only",
     [res("azurerm_linux_function_app", "f", name="fn")], True),
    ("good-app-https", "iac.azure.appservice-https-only",
     [res("azurerm_windows_web_app", "w", https_only=True)], False),
    ("bad-app-tls10", "iac.azure.appservice-min-tls",
     [res("azurerm_linux_web_app", "w", https_only=True,
          site_config=[blk(9, minimum_tls_version="1.0")])], True),
    ("bad-legacy-app-tls11", "iac.azure.appservice-min-tls",
     [res("azurerm_app_service", "w", https_only=True,
          site_config=[blk(9, min_tls_version="1.1")])], True),
    ("good-app-tls12", "iac.azure.appservice-min-tls",
     [res("azurerm_linux_web_app", "w", site_config=[blk(9, minimum_tls_version="1.2")])],
     False),
    ("lookalike-app-tls13", "iac.azure.appservice-min-tls",
     [res("azurerm_linux_web_app", "w", site_config=[blk(9, minimum_tls_version="1.3")])],
     False),
    ("bad-app-ftp", "iac.azure.appservice-ftp",
     [res("azurerm_windows_web_app", "w", site_config=[blk(9, ftps_state="AllAllowed")])], True),
    ("bad-legacy-app-ftp-default", "iac.azure.appservice-ftp",
     [res("azurerm_app_service", "w", https_only=True, site_config=[blk(9, always_on=True)])],
     True),
    ("lookalike-new-web-app-ftp-default", "iac.azure.appservice-ftp",
     [res("azurerm_linux_web_app", "w", https_only=True, site_config=[blk(9, always_on=True)])],
     False),
    ("good-app-ftps-only", "iac.azure.appservice-ftp",
     [res("azurerm_windows_web_app", "w", site_config=[blk(9, ftps_state="FtpsOnly")])], False),
    # ACR
    ("bad-acr-admin", "iac.azure.acr-admin-enabled",
     [res("azurerm_container_registry", "r", admin_enabled=True)], True),
    ("good-acr-admin-off", "iac.azure.acr-admin-enabled",
     [res("azurerm_container_registry", "r", admin_enabled=False)], False),
    ("bad-acr-public-default", "iac.azure.acr-public-network",
     [res("azurerm_container_registry", "r", sku="Premium")], True),
    ("good-acr-private", "iac.azure.acr-public-network",
     [res("azurerm_container_registry", "r", public_network_access_enabled=False)], False),
    ("lookalike-acr-deny-rules", "iac.azure.acr-public-network",
     [res("azurerm_container_registry", "r", network_rule_set=[blk(9, default_action="Deny")])],
     False),
    # ML workspace
    ("bad-ml-public", "iac.azure.ml-workspace-public",
     [res("azurerm_machine_learning_workspace", "w", public_network_access_enabled=True)], True),
    ("bad-ml-public-default", "iac.azure.ml-workspace-public",
     [res("azurerm_machine_learning_workspace", "w", high_business_impact=True)], True),
    ("bad-ml-3x-behind-vnet", "iac.azure.ml-workspace-public",
     [res("azurerm_machine_learning_workspace", "w",
          public_access_behind_virtual_network_enabled=True)], True),
    ("good-ml-private", "iac.azure.ml-workspace-public",
     [res("azurerm_machine_learning_workspace", "w", public_network_access_enabled=False,
          high_business_impact=True)], False),
    # Cognitive / OpenAI
    ("bad-openai-public-default", "iac.azure.cognitive-public-network",
     [res("azurerm_cognitive_account", "ai", kind="OpenAI", local_auth_enabled=False)], True),
    ("good-openai-private", "iac.azure.cognitive-public-network",
     [res("azurerm_cognitive_account", "ai", kind="OpenAI",
          public_network_access_enabled=False)], False),
    ("lookalike-openai-acl-deny", "iac.azure.cognitive-public-network",
     [res("azurerm_cognitive_account", "ai", kind="OpenAI",
          network_acls=[blk(9, default_action="Deny", ip_rules=["203.0.113.7"])])], False),
    ("bad-openai-local-auth", "iac.azure.cognitive-local-auth",
     [res("azurerm_cognitive_account", "ai", kind="OpenAI", local_auth_enabled=True)], True),
    ("good-openai-entra", "iac.azure.cognitive-local-auth",
     [res("azurerm_cognitive_account", "ai", kind="OpenAI", local_auth_enabled=False)], False),
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
        assert h.path == "infra/main.tf"
        assert h.block == owner.block
        assert h.line is not None and h.line >= 1


def test_every_rule_has_a_bad_and_a_quiet_case() -> None:
    bad = {c[1] for c in CASES if c[3]}
    quiet = {c[1] for c in CASES if not c[3]}
    assert set(RULES) <= bad, set(RULES) - bad
    assert set(RULES) <= quiet, set(RULES) - quiet


def test_rule_metadata_is_complete() -> None:
    assert len(RULES) >= 30
    for rule_id, rule in RULES.items():
        assert isinstance(rule, IacRule)
        assert rule.id == rule_id and rule_id.startswith("iac.azure.")
        assert rule.framework == "terraform"
        assert any(c.startswith("NIST-800-53:") for c in rule.controls), rule_id
        assert rule.cwe.startswith("CWE-")
        assert rule.aliases, rule_id
        prefixes = ("CKV_AZURE_", "CKV2_AZURE_", "AVD-AZU-", "azure-")
        assert all(a.startswith(prefixes) for a in rule.aliases), rule_id
        assert rule.title and rule.rationale and rule.fix and rule.bad and rule.good
    assert "azure-storage-default-action-deny" in RULES[
        "iac.azure.storage-network-default-allow"].aliases


def test_hits_only_name_known_rules() -> None:
    everything = [r for case in CASES for r in case[2]]
    for item in scan(*everything):
        if isinstance(item, IacHit):
            assert item.rule_id in RULES


def test_line_points_at_the_attribute() -> None:
    found = scan(_sa(min_tls_version="TLS1_0"))
    (h,) = hits(found, "iac.azure.storage-min-tls")
    sa = _sa(min_tls_version="TLS1_0")
    assert h.line == sa.body.lines["min_tls_version"]
    assert '"TLS1_0"' in h.message and "azurerm_storage_account.data" in h.message


def test_nested_block_line_is_the_nested_attribute() -> None:
    nsg = _inline_nsg(source_address_prefix="*", destination_port_range="22")
    (h,) = hits(scan(nsg), "iac.azure.nsg-ssh-open")
    inner = nsg.body.blocks("security_rule")[0]
    assert h.line == inner.lines["destination_port_range"]
    assert '"in"' in h.message and "22" in h.message and '"*"' in h.message


def test_all_ports_rule_does_not_repeat_as_ssh_and_rdp() -> None:
    found = scan(_nsg_rule(protocol="*", source_address_prefix="*", destination_port_range="*"))
    assert [h.rule_id for h in found if isinstance(h, IacHit)] == ["iac.azure.nsg-all-ports-open"]


def test_range_covering_both_admin_ports_reports_both() -> None:
    found = scan(_nsg_rule(source_address_prefix="*", destination_port_range="20-4000"))
    assert {h.rule_id for h in found if isinstance(h, IacHit)} == {
        "iac.azure.nsg-ssh-open", "iac.azure.nsg-rdp-open"}


def test_default_based_hits_have_lower_confidence() -> None:
    (absent,) = hits(scan(res(SA, "d", network_rules=[blk(9, default_action="Deny")])),
                     "iac.azure.storage-public-blob-access")
    (explicit,) = hits(scan(_sa(allow_nested_items_to_be_public=True)),
                       "iac.azure.storage-public-blob-access")
    assert absent.confidence == Confidence.MEDIUM and "default" in absent.message
    assert explicit.confidence is None


def test_ml_workspace_high_business_impact_raises_severity() -> None:
    (h,) = hits(scan(res("azurerm_machine_learning_workspace", "w", high_business_impact=True,
                         public_network_access_enabled=True)), "iac.azure.ml-workspace-public")
    assert h.severity == Severity.HIGH and "high-business-impact" in h.message


def test_openai_account_is_named_in_the_message() -> None:
    (h,) = hits(scan(res("azurerm_cognitive_account", "ai", kind="OpenAI",
                         local_auth_enabled=True)), "iac.azure.cognitive-local-auth")
    assert "Azure OpenAI" in h.message


UNRESOLVED: list[tuple[str, str, list[TfResource]]] = [
    ("iac.azure.storage-min-tls", "var.tls", [_sa(min_tls_version=unknown("var.tls"))]),
    ("iac.azure.storage-public-blob-access", "var.pub",
     [_sa(allow_nested_items_to_be_public=unknown("var.pub"))]),
    ("iac.azure.storage-container-public", "var.access",
     [res("azurerm_storage_container", "c", container_access_type=unknown("var.access"))]),
    ("iac.azure.nsg-ssh-open", "var.src",
     [_nsg_rule(source_address_prefix=unknown("var.src"), destination_port_range="22")]),
    ("iac.azure.nsg-rdp-open", "var.src",
     [_nsg_rule(source_address_prefix=unknown("var.src"), destination_port_range="3389")]),
    ("iac.azure.nsg-all-ports-open", "var.port",
     [_nsg_rule(source_address_prefix="*", destination_port_range=unknown("var.port"))]),
    ("iac.azure.db-firewall-open", "var.end",
     [res("azurerm_mssql_firewall_rule", "f", start_ip_address=ZERO,
          end_ip_address=unknown("var.end"))]),
    ("iac.azure.appservice-https-only", "var.https",
     [res("azurerm_linux_web_app", "w", https_only=unknown("var.https"))]),
    ("iac.azure.aks-rbac-disabled", "var.rbac",
     [_aks(role_based_access_control_enabled=unknown("var.rbac"))]),
    ("iac.azure.acr-admin-enabled", "var.admin",
     [res("azurerm_container_registry", "r", admin_enabled=unknown("var.admin"),
          public_network_access_enabled=False)]),
    ("iac.azure.vm-password-auth", "aws_x.y.z",
     [res("azurerm_linux_virtual_machine", "vm",
          disable_password_authentication=Ref("aws_x.y", "z"))]),
]


@pytest.mark.parametrize(("rule_id", "expr", "resources"), UNRESOLVED,
                         ids=[f"{u[0]}-{u[1]}" for u in UNRESOLVED])
def test_unresolved_value_is_a_problem_not_a_pass(rule_id: str, expr: str,
                                                  resources: list[TfResource]) -> None:
    found = scan(*resources)
    assert not hits(found, rule_id)
    (problem,) = problems(found, rule_id)
    assert expr in problem.message and resources[0].address in problem.message
    assert problem.path == "infra/main.tf" and problem.line is not None


def test_dynamic_rule_with_unknown_source_and_port_is_a_problem() -> None:
    nsg = _inline_nsg(source_address_prefix=unknown("security_rule.value.source"),
                      destination_port_range=unknown("security_rule.value.port"))
    found = scan(nsg)
    assert not [h for h in found if isinstance(h, IacHit)]
    (problem,) = problems(found, "iac.azure.nsg-all-ports-open")
    assert "security_rule.value.source" in problem.message


def test_unresolved_source_to_a_harmless_port_is_not_a_problem() -> None:
    found = scan(_nsg_rule(source_address_prefix=unknown("var.src"),
                           destination_port_range="443"))
    assert found == []


def test_private_source_with_unknown_port_is_quiet() -> None:
    found = scan(_nsg_rule(source_address_prefix="10.0.0.0/8",
                           destination_port_range=unknown("var.port")))
    assert found == []


def test_odd_values_do_not_raise() -> None:
    weird: list[Any] = [None, 3.5, {"a": 1}, [None], [], "", "not-a-port", -1, 70000, True]
    for value in weird:
        resources = [
            _sa(min_tls_version=value, allow_nested_items_to_be_public=value),
            _nsg_rule(source_address_prefix=value, destination_port_range=value),
            res("azurerm_mssql_firewall_rule", "f", start_ip_address=value, end_ip_address=value),
            _aks(network_profile=[blk(30, network_policy=value)]),
            res("azurerm_cognitive_account", "ai", kind=value, local_auth_enabled=value),
        ]
        for item in scan(*resources):
            assert isinstance(item, (IacHit, Problem))


def test_messages_and_evidence_stay_on_one_line() -> None:
    found = scan(_sa(min_tls_version="TLS1_0"),
                 res("azurerm_linux_web_app", "w", https_only=True,
                     site_config=[blk(9, minimum_tls_version="1.0",
                                      ftps_state="AllAllowed")]))
    assert rules_azure.show("a\nb\r\n  c") == '"a b c"'
    assert len(rules_azure.show("x" * 500)) <= rules_azure.SHOW_MAX
    for item in found:
        assert "\n" not in item.message
        if isinstance(item, IacHit):
            assert "\n" not in item.evidence


def test_port_and_cidr_helpers() -> None:
    assert rules_azure.port_range("20-25") == (20, 25)
    assert rules_azure.port_range("*") == (0, 65535)
    assert rules_azure.port_range(22) == (22, 22)
    assert rules_azure.port_range("25-20") is None
    assert rules_azure.port_range("ssh") is None
    assert rules_azure.is_public_cidr("0.0.0.0/0") and rules_azure.is_public_cidr("::/0")
    assert rules_azure.is_public_cidr("128.0.0.0/1")
    assert not rules_azure.is_public_cidr("10.0.0.0/8")
    assert not rules_azure.is_public_cidr("VirtualNetwork")
