# The model bucket the pipeline stores signed models in, and the serving hosts' security group.

terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.0" }
  }
}

variable "environment" {
  type    = string
  default = "prod"
}

variable "ssh_cidr" {
  description = "Who may reach the serving hosts over SSH"
  type        = string
  default     = "0.0.0.0/0" # PLANTED (README plant 10): SSH open to the whole internet
}

variable "vpc_id" {
  type    = string
  default = "vpc-0a1b2c3d4e5f60718"
}

locals {
  bucket_name = "request-classifier-models-${var.environment}"
}

resource "aws_kms_key" "models" {
  description         = "request-classifier model bucket"
  enable_key_rotation = true
}

resource "aws_s3_bucket" "models" {
  bucket = local.bucket_name
}

# encryption, versioning and the public access block are separate resources in AWS provider 4+
# (a rule that only looks inside aws_s3_bucket would flag this bucket: it must not)
resource "aws_s3_bucket_server_side_encryption_configuration" "models" {
  bucket = aws_s3_bucket.models.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.models.arn
    }
  }
}

resource "aws_s3_bucket_versioning" "models" {
  bucket = aws_s3_bucket.models.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "models" {
  bucket                  = aws_s3_bucket.models.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_security_group" "serving" {
  name   = "request-classifier-serving"
  vpc_id = var.vpc_id

  ingress {
    description = "HTTPS from anywhere (the public API: not a finding)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "SSH for operators"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.ssh_cidr]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
