resource "aws_s3_bucket" "legacy_share" {
  bucket = "acme-legacy-partner-share"
  acl    = "public-read-write"
}

locals {
  private_buckets = toset(["acme-ml-datasets", "acme-ml-models"])
}

resource "aws_s3_bucket" "ml" {
  for_each = local.private_buckets
  bucket   = each.key
}

resource "aws_s3_bucket_public_access_block" "ml" {
  for_each                = aws_s3_bucket.ml
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_ebs_volume" "ml_scratch" {
  availability_zone = "us-west-2a"
  size              = 1000
  encrypted         = var.encrypt_volumes
}

resource "aws_db_instance" "ml_metadata" {
  count                = 1
  identifier           = "ml-metadata-${count.index}"
  engine               = "postgres"
  instance_class       = "db.t4g.medium"
  allocated_storage    = 20
  storage_encrypted    = true
  publicly_accessible  = var.db_public
  username             = "mlmeta"
  manage_master_user_password = true
}

resource "aws_kms_key" "ml" {
  description = "ML artifacts"
}

resource "aws_kms_key" "ml_logs" {
  description             = "ML logs"
  enable_key_rotation     = true
  rotation_period_in_days = 180
}

resource "aws_launch_template" "gpu" {
  name_prefix   = "gpu-"
  image_id      = var.gpu_ami
  instance_type = "g5.xlarge"

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "optional"
  }
}

resource "aws_launch_template" "sandbox" {
  name_prefix   = "sandbox-"
  image_id      = var.gpu_ami
  instance_type = "t3.small"

  metadata_options {
    http_endpoint = "disabled"
  }
}

resource "aws_iam_role" "notebook" {
  name = "notebook-runner"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "sagemaker.amazonaws.com" }
    }]
  })

  inline_policy {
    name   = "everything"
    policy = <<-JSON
      {
        "Version": "2012-10-17",
        "Statement": [
          {"Effect": "Allow", "Action": "*", "Resource": "*"}
        ]
      }
    JSON
  }
}

variable "gpu_ami" {
  type = string
}
