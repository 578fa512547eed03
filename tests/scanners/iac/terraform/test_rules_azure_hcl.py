"""Azure rules end to end: HCL written to a temporary project, loaded by the Terraform loader
(variables, tfvars, locals, count/for_each, dynamic blocks, local modules) and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.scanners.iac.model import Analysis, Budget, IacFile
from secpipe.scanners.iac.terraform import analyse


def run(root: Path, files: dict[str, str], tfvars: tuple[str, ...] = ()) -> Analysis:
    out: list[IacFile] = []
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        out.append(IacFile(str(path), rel, path.stat().st_size))
    return analyse(out, root, Budget(), tfvars)


def fired(analysis: Analysis, rule_id: str) -> list[str]:
    return [h.resource for h in analysis.hits if h.rule_id == rule_id]


def unresolved_for(analysis: Analysis, rule_id: str) -> list[str]:
    return [p.message for p in analysis.problems
            if p.rule_id == "iac.unresolved" and rule_id in p.message]


NSG = """
variable "admin_cidr" {
  default = "10.20.0.0/16"
}
variable "open_ports" {
  default = ["22", "3389"]
}
locals {
  web_ports = { http = "80", https = "443" }
}

resource "azurerm_network_security_group" "web" {
  name                = "web"
  location            = "westeurope"
  resource_group_name = "rg"

  security_rule {
    name                       = "ssh-from-anywhere"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "*"
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "ssh-from-vnet"
    priority                   = 110
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "VirtualNetwork"
    destination_address_prefix = "*"
  }

  dynamic "security_rule" {
    for_each = local.web_ports
    content {
      name                       = security_rule.key
      priority                   = 200
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = security_rule.value
      source_address_prefix      = "Internet"
      destination_address_prefix = "*"
    }
  }
}

resource "azurerm_network_security_rule" "admin" {
  name                        = "admin"
  priority                    = 120
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_ranges     = var.open_ports
  source_address_prefixes     = [var.admin_cidr]
  destination_address_prefix  = "*"
  resource_group_name         = "rg"
  network_security_group_name = azurerm_network_security_group.web.name
}

resource "azurerm_network_security_rule" "everything" {
  count                       = 1
  name                        = "everything-${count.index}"
  priority                    = 130
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "*"
  source_port_range           = "*"
  destination_port_range      = "*"
  source_address_prefix       = "0.0.0.0/0"
  destination_address_prefix  = "*"
  resource_group_name         = "rg"
  network_security_group_name = "web"
}
"""


def test_nsg_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"network.tf": NSG})
    assert fired(result, "iac.azure.nsg-ssh-open") == ["azurerm_network_security_group.web"]
    assert fired(result, "iac.azure.nsg-all-ports-open") == [
        "azurerm_network_security_rule.everything[0]"]
    assert not fired(result, "iac.azure.nsg-rdp-open")  # admin rule comes from 10.20.0.0/16
    ssh = next(h for h in result.hits if h.rule_id == "iac.azure.nsg-ssh-open")
    expected = NSG.splitlines().index('    destination_port_range     = "22"') + 1
    assert ssh.path == "network.tf" and ssh.line == expected
    assert "ssh-from-anywhere" in ssh.message
    assert not [p for p in result.problems if p.rule_id == "iac.unresolved"]


def test_nsg_tfvars_open_the_admin_rule(tmp_path: Path) -> None:
    result = run(tmp_path, {"network.tf": NSG,
                            "terraform.tfvars": 'admin_cidr = "0.0.0.0/0"\n'})
    assert "azurerm_network_security_rule.admin" in fired(result, "iac.azure.nsg-ssh-open")
    assert "azurerm_network_security_rule.admin" in fired(result, "iac.azure.nsg-rdp-open")


def test_nsg_without_a_value_for_the_source_is_a_problem(tmp_path: Path) -> None:
    text = NSG.replace('variable "admin_cidr" {\n  default = "10.20.0.0/16"\n}',
                       'variable "admin_cidr" {}')
    result = run(tmp_path, {"network.tf": text})
    assert "azurerm_network_security_rule.admin" not in fired(result, "iac.azure.nsg-ssh-open")
    messages = unresolved_for(result, "iac.azure.nsg-ssh-open")
    assert any("var.admin_cidr" in m and "azurerm_network_security_rule.admin" in m
               for m in messages)


STORAGE = """
resource "azurerm_storage_account" "logs" {
  name                     = "logs"
  resource_group_name      = "rg"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "LRS"
  min_tls_version          = "TLS1_1"
  https_traffic_only_enabled = false
}

resource "azurerm_storage_account" "safe" {
  name                            = "safe"
  resource_group_name             = "rg"
  location                        = "westeurope"
  account_tier                    = "Standard"
  account_replication_type        = "GRS"
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
}

resource "azurerm_storage_account_network_rules" "safe" {
  storage_account_id = azurerm_storage_account.safe.id
  default_action     = "Deny"
  bypass             = ["AzureServices"]
}

resource "azurerm_storage_container" "public" {
  name                  = "public"
  storage_account_name  = azurerm_storage_account.logs.name
  container_access_type = "container"
}

resource "azurerm_storage_container" "private" {
  name                  = "private"
  storage_account_id    = azurerm_storage_account.safe.id
}
"""


def test_storage_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"storage.tf": STORAGE})
    logs, safe = "azurerm_storage_account.logs", "azurerm_storage_account.safe"
    assert fired(result, "iac.azure.storage-min-tls") == [logs]
    assert fired(result, "iac.azure.storage-https-only") == [logs]
    assert fired(result, "iac.azure.storage-public-blob-access") == [logs]
    assert fired(result, "iac.azure.storage-network-default-allow") == [logs]
    assert fired(result, "iac.azure.storage-container-public") == [
        "azurerm_storage_container.public"]
    assert safe not in {h.resource for h in result.hits}


MODULE_CALL = """
module "vault" {
  source         = "./modules/vault"
  purge          = false
  allowed_ranges = ["0.0.0.0/0"]
}
"""

MODULE_BODY = """
variable "purge" {
  type = bool
}
variable "allowed_ranges" {
  type = list(string)
}

resource "azurerm_key_vault" "this" {
  name                     = "kv"
  location                 = "westeurope"
  resource_group_name      = "rg"
  tenant_id                = "00000000-0000-0000-0000-000000000000"
  sku_name                 = "standard"
  purge_protection_enabled = var.purge

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.allowed_ranges
  }
}

resource "azurerm_kubernetes_cluster" "aks" {
  name                = "aks"
  location            = "westeurope"
  resource_group_name = "rg"
  dns_prefix          = "aks"
  role_based_access_control_enabled = true
  local_account_disabled            = true

  default_node_pool {
    name       = "default"
    node_count = 1
    vm_size    = "Standard_D2_v2"
  }

  api_server_access_profile {
    authorized_ip_ranges = var.allowed_ranges
  }

  network_profile {
    network_plugin = "azure"
  }
}
"""


def test_module_values_reach_the_rules(tmp_path: Path) -> None:
    result = run(tmp_path, {"main.tf": MODULE_CALL, "modules/vault/main.tf": MODULE_BODY})
    assert fired(result, "iac.azure.keyvault-not-recoverable") == [
        "module.vault.azurerm_key_vault.this"]
    # deny by default, but the module's caller lets 0.0.0.0/0 back in through ip_rules
    assert fired(result, "iac.azure.keyvault-network-open") == [
        "module.vault.azurerm_key_vault.this"]
    assert fired(result, "iac.azure.aks-api-open") == [
        "module.vault.azurerm_kubernetes_cluster.aks"]
    assert fired(result, "iac.azure.aks-network-policy") == [
        "module.vault.azurerm_kubernetes_cluster.aks"]
    assert not fired(result, "iac.azure.aks-rbac-disabled")
    hit = next(h for h in result.hits if h.rule_id == "iac.azure.keyvault-not-recoverable")
    assert hit.path == "modules/vault/main.tf"


APPS = """
resource "azurerm_linux_web_app" "api" {
  name                = "api"
  resource_group_name = "rg"
  location            = "westeurope"
  service_plan_id     = "plan"

  site_config {
    minimum_tls_version = "1.0"
    ftps_state          = "AllAllowed"
  }
}

resource "azurerm_windows_function_app" "fn" {
  name                = "fn"
  resource_group_name = "rg"
  location            = "westeurope"
  service_plan_id     = "plan"
  https_only          = true

  site_config {
    minimum_tls_version = "1.2"
    ftps_state          = "Disabled"
  }
}

resource "azurerm_cognitive_account" "openai" {
  name                = "oai"
  location            = "swedencentral"
  resource_group_name = "rg"
  kind                = "OpenAI"
  sku_name            = "S0"
}

resource "azurerm_cognitive_account" "locked" {
  name                          = "oai2"
  location                      = "swedencentral"
  resource_group_name           = "rg"
  kind                          = "OpenAI"
  sku_name                      = "S0"
  public_network_access_enabled = false
  local_auth_enabled            = false
  custom_subdomain_name         = "oai2"
}

resource "azurerm_mssql_server" "sql" {
  name                          = "sql"
  resource_group_name           = "rg"
  location                      = "westeurope"
  version                       = "12.0"
  minimum_tls_version           = "1.2"
  public_network_access_enabled = false
}

resource "azurerm_mssql_server_extended_auditing_policy" "sql" {
  server_id         = azurerm_mssql_server.sql.id
  retention_in_days = 90
}

resource "azurerm_mssql_firewall_rule" "azure_services" {
  name             = "AllowAzure"
  server_id        = azurerm_mssql_server.sql.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "0.0.0.0"
}

resource "azurerm_mssql_firewall_rule" "world" {
  name             = "world"
  server_id        = azurerm_mssql_server.sql.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "255.255.255.255"
}
"""


def test_apps_ai_and_sql(tmp_path: Path) -> None:
    result = run(tmp_path, {"apps.tf": APPS})
    assert fired(result, "iac.azure.appservice-https-only") == ["azurerm_linux_web_app.api"]
    assert fired(result, "iac.azure.appservice-min-tls") == ["azurerm_linux_web_app.api"]
    assert fired(result, "iac.azure.appservice-ftp") == ["azurerm_linux_web_app.api"]
    assert fired(result, "iac.azure.cognitive-public-network") == [
        "azurerm_cognitive_account.openai"]
    assert fired(result, "iac.azure.cognitive-local-auth") == [
        "azurerm_cognitive_account.openai"]
    assert fired(result, "iac.azure.db-firewall-open") == ["azurerm_mssql_firewall_rule.world"]
    assert not fired(result, "iac.azure.sql-auditing-disabled")
    assert not fired(result, "iac.azure.sql-public-network")
    assert not fired(result, "iac.azure.db-min-tls")


def test_tf_json_form(tmp_path: Path) -> None:
    doc = ('{"resource": {"azurerm_container_registry": {"acr": {"name": "acr", '
           '"resource_group_name": "rg", "location": "westeurope", "sku": "Premium", '
           '"admin_enabled": true, "public_network_access_enabled": false}}}}')
    result = run(tmp_path, {"main.tf.json": doc})
    assert fired(result, "iac.azure.acr-admin-enabled") == ["azurerm_container_registry.acr"]
    assert not fired(result, "iac.azure.acr-public-network")


SKIPPED = """
resource "azurerm_storage_account" "skipped" {
  # checkov:skip=CKV_AZURE_44:legacy clients until the migration ends
  name                            = "skipped"
  min_tls_version                 = "TLS1_0"
  allow_nested_items_to_be_public = false
  # tfsec:ignore:azure-storage-default-action-deny
  network_rules {
    default_action = "Allow"
  }
}
"""


def test_tool_skip_comments_reach_our_hits(tmp_path: Path) -> None:
    from secpipe.scanners.iac.suppress import apply, parse_comments
    from secpipe.scanners.iac.terraform.rules_azure import RULES

    result = run(tmp_path, {"skip.tf": SKIPPED})
    inlines, problems = parse_comments(SKIPPED, "skip.tf")
    assert not problems
    marked = {hit.rule_id: marking for hit, marking in apply(result.hits, inlines, RULES)}
    assert marked["iac.azure.storage-min-tls"] is not None
    assert marked["iac.azure.storage-network-default-allow"] is not None


def _whole_examples() -> list[tuple[str, str, bool]]:
    from secpipe.scanners.iac.terraform.rules_azure import RULES

    out: list[tuple[str, str, bool]] = []
    for rule in RULES.values():
        for text, fires in ((rule.bad, True), (rule.good, False)):
            if text.startswith("resource "):
                out.append((rule.id, text, fires))
    return out


@pytest.mark.parametrize(("rule_id", "text", "fires"), _whole_examples(),
                         ids=[f"{e[0]}-{'bad' if e[2] else 'good'}" for e in _whole_examples()])
def test_documented_examples_behave_as_documented(tmp_path: Path, rule_id: str, text: str,
                                                  fires: bool) -> None:
    result = run(tmp_path, {"example.tf": text + "\n"})
    assert not [p for p in result.problems if p.rule_id == "iac.parse-error"]
    assert bool(fired(result, rule_id)) is fires, [h.message for h in result.hits]
