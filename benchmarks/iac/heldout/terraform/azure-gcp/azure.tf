resource "azurerm_resource_group" "ml" {
  name     = "rg-ml-dev"
  location = "northeurope"
}

resource "azurerm_storage_account" "datasets" {
  name                            = "mldatasetsdev"
  resource_group_name             = azurerm_resource_group.ml.name
  location                        = azurerm_resource_group.ml.location
  account_tier                    = "Standard"
  account_replication_type        = "LRS"
  https_traffic_only_enabled      = false
  allow_nested_items_to_be_public = true
}

resource "azurerm_storage_container" "datasets_public" {
  name                  = "public"
  storage_account_id    = azurerm_storage_account.datasets.id
  container_access_type = "container"
}

resource "azurerm_storage_account" "legacy_ftp" {
  name                     = "mllegacyftp"
  resource_group_name      = azurerm_resource_group.ml.name
  location                 = azurerm_resource_group.ml.location
  account_tier             = "Standard"
  account_replication_type = "LRS"
  min_tls_version          = "TLS1_1"
}

resource "azurerm_network_security_group" "ml" {
  name                = "nsg-ml"
  location            = azurerm_resource_group.ml.location
  resource_group_name = azurerm_resource_group.ml.name
}

resource "azurerm_network_security_rule" "any_in" {
  name                        = "any-in"
  priority                    = 4000
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "*"
  source_port_range           = "*"
  destination_port_range      = "*"
  source_address_prefix       = "0.0.0.0/0"
  destination_address_prefix  = "*"
  resource_group_name         = azurerm_resource_group.ml.name
  network_security_group_name = azurerm_network_security_group.ml.name
}

resource "azurerm_network_security_rule" "ssh_corp" {
  name                        = "ssh-corp"
  priority                    = 200
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_range      = "22"
  source_address_prefixes     = ["10.0.0.0/8", "172.16.0.0/12"]
  destination_address_prefix  = "*"
  resource_group_name         = azurerm_resource_group.ml.name
  network_security_group_name = azurerm_network_security_group.ml.name
}

resource "azurerm_key_vault" "ml" {
  name                      = "kv-ml-dev"
  location                  = azurerm_resource_group.ml.location
  resource_group_name       = azurerm_resource_group.ml.name
  tenant_id                 = var.tenant_id
  sku_name                  = "premium"
  purge_protection_enabled  = true
  enable_rbac_authorization = true
}

resource "azurerm_postgresql_flexible_server" "features" {
  name                = "psql-ml-features"
  resource_group_name = azurerm_resource_group.ml.name
  location            = azurerm_resource_group.ml.location
  version             = "15"
  sku_name            = "B_Standard_B1ms"
}

resource "azurerm_postgresql_flexible_server_firewall_rule" "all" {
  name             = "all"
  server_id        = azurerm_postgresql_flexible_server.features.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "255.255.255.255"
}

variable "tenant_id" {
  type = string
}
