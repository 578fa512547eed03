provider "google" {
  project = var.project_id
  region  = "europe-west1"
}

resource "google_storage_bucket" "downloads" {
  name                        = "${var.project_id}-downloads"
  location                    = "EU"
  uniform_bucket_level_access = true
}

resource "google_storage_bucket_iam_member" "downloads_public" {
  bucket = google_storage_bucket.downloads.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

resource "google_storage_bucket" "warehouse_staging" {
  name                        = "${var.project_id}-warehouse-staging"
  location                    = "EU"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }
}

resource "google_storage_bucket_iam_member" "staging_loader" {
  bucket = google_storage_bucket.warehouse_staging.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:loader@${var.project_id}.iam.gserviceaccount.com"
}

resource "google_compute_network" "vpc" {
  name                    = "data-vpc"
  auto_create_subnetworks = false
}

resource "google_compute_firewall" "ssh" {
  name    = "allow-ssh"
  network = google_compute_network.vpc.name

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  source_ranges = ["0.0.0.0/0"]
}

resource "google_compute_firewall" "iap_ssh" {
  name    = "allow-iap-ssh"
  network = google_compute_network.vpc.name

  allow {
    protocol = "tcp"
    ports    = ["22", "3389"]
  }

  source_ranges = ["35.235.240.0/20"]
}

resource "google_compute_firewall" "deny_telnet" {
  name     = "deny-legacy"
  network  = google_compute_network.vpc.name
  priority = 100

  deny {
    protocol = "tcp"
    ports    = ["23", "3389"]
  }

  source_ranges = ["0.0.0.0/0"]
}

resource "google_sql_database_instance" "bi" {
  name             = "bi-postgres"
  database_version = "POSTGRES_15"
  region           = "europe-west1"

  settings {
    tier = "db-custom-2-7680"
    ip_configuration {
      ipv4_enabled = true
      authorized_networks {
        name  = "anyone"
        value = "0.0.0.0/0"
      }
    }
  }
}

resource "google_sql_database_instance" "app" {
  name             = "app-postgres"
  database_version = "POSTGRES_15"
  region           = "europe-west1"

  settings {
    tier = "db-custom-4-15360"
    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }
  }
}

resource "google_kms_key_ring" "data" {
  name     = "data"
  location = "europe-west1"
}

resource "google_kms_crypto_key" "tables" {
  name            = "tables"
  key_ring        = google_kms_key_ring.data.id
  rotation_period = "7776000s"
}

resource "google_kms_crypto_key" "exports" {
  name     = "exports"
  key_ring = google_kms_key_ring.data.id
}

variable "project_id" {
  type = string
}
