"""GCP rules end to end: HCL written to a temporary project, loaded by the Terraform loader
(variables, tfvars, locals, for_each, data sources, jsonencode) and checked."""

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
    return sorted(h.resource for h in analysis.hits if h.rule_id == rule_id)


def unresolved_for(analysis: Analysis, rule_id: str) -> list[str]:
    return [p.message for p in analysis.problems
            if p.rule_id == "iac.unresolved" and rule_id in p.message]


FIREWALLS = """
variable "ssh_sources" {
  type    = list(string)
  default = ["35.235.240.0/20"]
}
locals {
  services = {
    web = ["80", "443"]
    rdp = ["3389"]
  }
}

resource "google_compute_firewall" "ssh" {
  name          = "allow-ssh"
  network       = "default"
  source_ranges = var.ssh_sources
  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_compute_firewall" "svc" {
  for_each      = local.services
  name          = "allow-${each.key}"
  network       = "default"
  source_ranges = ["0.0.0.0/0", "::/0"]
  allow {
    protocol = "tcp"
    ports    = each.value
  }
}

resource "google_compute_firewall" "wide" {
  name    = "allow-internal-wide"
  network = "default"
  allow {
    protocol = "all"
  }
  source_ranges = ["::/0"]
}

resource "google_compute_firewall" "egress" {
  name               = "egress-all"
  network            = "default"
  direction          = "EGRESS"
  destination_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "all"
  }
}
"""


def test_firewall_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"fw.tf": FIREWALLS})
    assert fired(result, "iac.gcp.firewall-ssh-open") == []
    assert fired(result, "iac.gcp.firewall-rdp-open") == ['google_compute_firewall.svc["rdp"]']
    assert fired(result, "iac.gcp.firewall-all-ports-open") == ["google_compute_firewall.wide"]
    assert not unresolved_for(result, "iac.gcp.firewall")


def test_firewall_tfvars_open_ssh(tmp_path: Path) -> None:
    result = run(tmp_path, {"fw.tf": FIREWALLS,
                            "prod.auto.tfvars": 'ssh_sources = ["0.0.0.0/0"]\n'})
    assert fired(result, "iac.gcp.firewall-ssh-open") == ["google_compute_firewall.ssh"]


IAM = """
variable "readers" {
  default = ["allUsers"]
}

resource "google_storage_bucket" "site" {
  name                        = "site"
  location                    = "EU"
  uniform_bucket_level_access = true
}

resource "google_storage_bucket_iam_binding" "site" {
  bucket  = google_storage_bucket.site.name
  role    = "roles/storage.objectViewer"
  members = var.readers
}

data "google_iam_policy" "viewer" {
  binding {
    role    = "roles/storage.objectViewer"
    members = ["allAuthenticatedUsers"]
  }
}

resource "google_storage_bucket_iam_policy" "data" {
  bucket      = "data"
  policy_data = data.google_iam_policy.viewer.policy_data
}

resource "google_pubsub_topic_iam_policy" "topic" {
  topic = "t"
  policy_data = jsonencode({
    bindings = [{
      role    = "roles/pubsub.subscriber"
      members = ["allUsers"]
    }]
  })
}

resource "google_storage_bucket" "legacy" {
  name     = "legacy"
  location = "EU"
}

resource "google_project_iam_member" "dev" {
  project = "p"
  role    = "roles/editor"
  member  = "user:dev@example.com"
}

resource "google_project_iam_member" "ok" {
  project = "p"
  role    = "roles/logging.viewer"
  member  = "user:dev@example.com"
}

resource "google_service_account_key" "ci" {
  service_account_id = "projects/p/serviceAccounts/ci@p.iam.gserviceaccount.com"
}
"""


def test_iam_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"iam.tf": IAM})
    assert fired(result, "iac.gcp.storage-public") == [
        "google_storage_bucket_iam_binding.site", "google_storage_bucket_iam_policy.data"]
    assert fired(result, "iac.gcp.iam-public-member") == ["google_pubsub_topic_iam_policy.topic"]
    assert fired(result, "iac.gcp.storage-uniform-access") == ["google_storage_bucket.legacy"]
    assert fired(result, "iac.gcp.iam-primitive-role") == ["google_project_iam_member.dev"]
    assert fired(result, "iac.gcp.service-account-key") == ["google_service_account_key.ci"]


def test_iam_specific_readers_from_tfvars_are_quiet(tmp_path: Path) -> None:
    result = run(tmp_path, {"iam.tf": IAM,
                            "terraform.tfvars": 'readers = ["group:web@example.com"]\n'})
    assert "google_storage_bucket_iam_binding.site" not in fired(result,
                                                                 "iac.gcp.storage-public")


COMPUTE = """
resource "google_compute_instance" "web" {
  name         = "web"
  machine_type = "e2-small"
  zone         = "europe-west1-b"
  can_ip_forward = true

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
    }
  }

  network_interface {
    network = "default"
    access_config {}
  }

  metadata = {
    serial-port-enable = "TRUE"
  }

  service_account {
    scopes = ["cloud-platform"]
  }
}

resource "google_service_account" "app" {
  account_id = "app"
}

resource "google_compute_instance" "app" {
  name         = "app"
  machine_type = "e2-small"
  zone         = "europe-west1-b"

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
    }
  }

  network_interface {
    network = "default"
  }

  metadata = {
    block-project-ssh-keys = true
  }

  shielded_instance_config {
    enable_secure_boot = true
  }

  service_account {
    email  = google_service_account.app.email
    scopes = ["cloud-platform"]
  }
}
"""


def test_compute_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"vm.tf": COMPUTE})
    web = ["google_compute_instance.web"]
    for rule_id in ("iac.gcp.instance-public-ip", "iac.gcp.instance-serial-port",
                    "iac.gcp.instance-default-sa-full-access", "iac.gcp.instance-ip-forwarding",
                    "iac.gcp.instance-project-ssh-keys", "iac.gcp.instance-secure-boot"):
        assert fired(result, rule_id) == web, rule_id
    assert not fired(result, "iac.gcp.instance-default-sa")


DATA = """
resource "google_sql_database_instance" "pg" {
  name             = "pg"
  database_version = "POSTGRES_15"
  region           = "europe-west1"
  settings {
    tier = "db-custom-1-3840"
    ip_configuration {
      ipv4_enabled = true
      ssl_mode     = "ALLOW_UNENCRYPTED_AND_ENCRYPTED"
      dynamic "authorized_networks" {
        for_each = ["0.0.0.0/0"]
        content {
          name  = "net-${authorized_networks.key}"
          value = authorized_networks.value
        }
      }
    }
  }
}

resource "google_sql_database_instance" "private" {
  name             = "private"
  database_version = "MYSQL_8_0"
  region           = "europe-west1"
  settings {
    tier = "db-f1-micro"
    ip_configuration {
      ipv4_enabled    = false
      private_network = "projects/p/global/networks/vpc"
      require_ssl     = true
    }
    backup_configuration {
      enabled = true
    }
  }
}

resource "google_kms_crypto_key" "yearly" {
  name            = "yearly"
  key_ring        = "projects/p/locations/global/keyRings/r"
  rotation_period = "31536000s"
}

resource "google_kms_crypto_key" "quarterly" {
  name            = "quarterly"
  key_ring        = "projects/p/locations/global/keyRings/r"
  rotation_period = "7776000s"
}

resource "google_bigquery_dataset" "ds" {
  dataset_id = "ds"
  access {
    role          = "READER"
    special_group = "allAuthenticatedUsers"
  }
  access {
    role          = "OWNER"
    special_group = "projectOwners"
  }
}

resource "google_workbench_instance" "nb" {
  name     = "nb"
  location = "europe-west1-b"
  gce_setup {
    machine_type = "e2-standard-4"
    metadata = {
      notebook-disable-root = "true"
    }
  }
}
"""


def test_data_and_ml_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"data.tf": DATA})
    pg = ["google_sql_database_instance.pg"]
    assert fired(result, "iac.gcp.sql-open-network") == pg
    assert fired(result, "iac.gcp.sql-public-ip") == pg
    assert fired(result, "iac.gcp.sql-ssl") == pg
    assert fired(result, "iac.gcp.sql-backups") == pg
    assert fired(result, "iac.gcp.kms-rotation") == ["google_kms_crypto_key.yearly"]
    assert fired(result, "iac.gcp.bigquery-public") == ["google_bigquery_dataset.ds"]
    assert fired(result, "iac.gcp.notebook-public-ip") == ["google_workbench_instance.nb"]
    assert not fired(result, "iac.gcp.notebook-root-access")


GKE = """
resource "google_container_cluster" "legacy" {
  name               = "legacy"
  location           = "europe-west1"
  enable_legacy_abac = true
  initial_node_count = 1

  master_auth {
    client_certificate_config {
      issue_client_certificate = true
    }
  }

  node_config {
    workload_metadata_config {
      mode = "GCE_METADATA"
    }
  }
}

resource "google_container_cluster" "hardened" {
  name               = "hardened"
  location           = "europe-west1"
  initial_node_count = 1
  datapath_provider  = "ADVANCED_DATAPATH"

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.0/28"
  }

  master_authorized_networks_config {
    cidr_blocks {
      cidr_block   = "10.0.0.0/8"
      display_name = "corp"
    }
  }

  workload_identity_config {
    workload_pool = "p.svc.id.goog"
  }
}
"""


def test_gke_forms(tmp_path: Path) -> None:
    result = run(tmp_path, {"gke.tf": GKE})
    legacy = ["google_container_cluster.legacy"]
    for rule_id in ("iac.gcp.gke-legacy-abac", "iac.gcp.gke-legacy-auth",
                    "iac.gcp.gke-node-metadata", "iac.gcp.gke-master-networks",
                    "iac.gcp.gke-private-nodes", "iac.gcp.gke-workload-identity",
                    "iac.gcp.gke-network-policy"):
        assert fired(result, rule_id) == legacy, rule_id


def _whole_examples() -> list[tuple[str, str, bool]]:
    from secpipe.scanners.iac.terraform.rules_gcp import RULES

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


def test_module_inputs_and_for_each_members(tmp_path: Path) -> None:
    root = """
module "net" {
  source  = "./modules/net"
  sources = ["10.0.0.0/8", "0.0.0.0/0"]
}

module "net_private" {
  source  = "./modules/net"
  sources = ["10.0.0.0/8"]
}

resource "google_storage_bucket_iam_member" "readers" {
  for_each = toset(["group:data@example.com", "allAuthenticatedUsers"])
  bucket   = "b"
  role     = "roles/storage.objectViewer"
  member   = each.value
}
"""
    module = """
variable "sources" {
  type = list(string)
}

resource "google_compute_firewall" "admin" {
  name          = "admin"
  network       = "default"
  source_ranges = var.sources
  allow {
    protocol = "tcp"
    ports    = ["22", "3389"]
  }
}
"""
    result = run(tmp_path, {"main.tf": root, "modules/net/main.tf": module})
    assert fired(result, "iac.gcp.firewall-ssh-open") == [
        "module.net.google_compute_firewall.admin"]
    assert fired(result, "iac.gcp.firewall-rdp-open") == [
        "module.net.google_compute_firewall.admin"]
    assert fired(result, "iac.gcp.storage-public") == [
        'google_storage_bucket_iam_member.readers["allAuthenticatedUsers"]']


def test_tf_json_firewall(tmp_path: Path) -> None:
    doc = ('{"resource": {"google_compute_firewall": {"any": {"name": "any", '
           '"network": "default", "source_ranges": ["::/0"], '
           '"allow": [{"protocol": "all"}]}}}}')
    result = run(tmp_path, {"main.tf.json": doc})
    assert fired(result, "iac.gcp.firewall-all-ports-open") == ["google_compute_firewall.any"]
