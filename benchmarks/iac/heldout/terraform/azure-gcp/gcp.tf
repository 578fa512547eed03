resource "google_storage_bucket" "shared" {
  name     = "${var.project}-shared-exports"
  location = "US"
}

resource "google_storage_bucket_iam_binding" "shared_readers" {
  bucket  = google_storage_bucket.shared.name
  role    = "roles/storage.objectViewer"
  members = ["allAuthenticatedUsers", "group:analysts@acme.io"]
}

resource "google_storage_bucket" "site" {
  name     = "${var.project}-site"
  location = "US"
}

resource "google_storage_default_object_acl" "site" {
  bucket      = google_storage_bucket.site.name
  role_entity = ["OWNER:project-owners-${var.project_number}", "READER:allUsers"]
}

resource "google_storage_bucket" "models" {
  name                        = "${var.project}-models"
  location                    = "US"
  uniform_bucket_level_access = true
}

resource "google_storage_bucket_iam_member" "models_reader" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = "group:ml-engineers@acme.io"
}

resource "google_compute_firewall" "open" {
  name          = "allow-all-ingress"
  network       = var.network
  source_ranges = ["0.0.0.0/0"]

  allow {
    protocol = "all"
  }
}

resource "google_compute_firewall" "egress_ssh" {
  name               = "egress-ssh-git"
  network            = var.network
  direction          = "EGRESS"
  destination_ranges = ["0.0.0.0/0"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_sql_database_instance" "features" {
  name             = "features-mysql"
  database_version = "MYSQL_8_0"
  region           = "us-central1"

  settings {
    tier = "db-n1-standard-2"
    ip_configuration {
      ipv4_enabled = true
      dynamic "authorized_networks" {
        for_each = var.sql_networks
        content {
          name  = authorized_networks.value.name
          value = authorized_networks.value.cidr
        }
      }
    }
  }
}

variable "project" {
  type = string
}

variable "project_number" {
  type = string
}

variable "network" {
  type = string
}

variable "sql_networks" {
  type = list(object({ name = string, cidr = string }))
  default = [
    { name = "everywhere", cidr = "0.0.0.0/0" },
  ]
}
