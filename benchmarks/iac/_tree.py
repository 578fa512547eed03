"""Part (c): a generated Terraform tree of realistic small files (default 1,000).

90 % of the files are service root modules (10 files each: providers, variables, network,
storage, IAM, compute, database, data sources, locals, outputs), 10 % are shared modules under
``modules/`` (10 files each) called from the services. About one resource in eight carries a
misconfiguration, so every scanner has findings to report.
"""

from __future__ import annotations

import random
from pathlib import Path

FILES_PER_DIR = 10


def _sg(name: str, rng: random.Random) -> str:
    cidr = "0.0.0.0/0" if rng.random() < 0.1 else f"10.{rng.randint(0, 255)}.0.0/16"
    port = rng.choice([22, 443, 5432, 8080])
    return f'''resource "aws_security_group" "{name}" {{
  name        = "${{var.service}}-{name}"
  description = "{name} access"
  vpc_id      = var.vpc_id

  ingress {{
    description = "{name} port"
    from_port   = {port}
    to_port     = {port}
    protocol    = "tcp"
    cidr_blocks = ["{cidr}"]
  }}

  egress {{
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }}
}}
'''


def _bucket(name: str, rng: random.Random) -> str:
    flag = "false" if rng.random() < 0.1 else "true"
    return f'''resource "aws_s3_bucket" "{name}" {{
  bucket = "${{var.service}}-{name}-${{var.env}}"
  tags   = local.tags
}}

resource "aws_s3_bucket_public_access_block" "{name}" {{
  bucket                  = aws_s3_bucket.{name}.id
  block_public_acls       = {flag}
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}

resource "aws_s3_bucket_versioning" "{name}" {{
  bucket = aws_s3_bucket.{name}.id
  versioning_configuration {{
    status = "Enabled"
  }}
}}
'''


def _service_files(i: int, rng: random.Random, modules: int) -> dict[str, str]:
    svc = f"svc{i:03d}"
    enc = "false" if rng.random() < 0.12 else "true"
    tokens = "optional" if rng.random() < 0.12 else "required"
    action = '"*"' if rng.random() < 0.08 else '["s3:GetObject", "s3:PutObject"]'
    return {
        "versions.tf": '''terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}
''',
        "variables.tf": f'''variable "service" {{
  type    = string
  default = "{svc}"
}}

variable "env" {{
  type    = string
  default = "prod"
}}

variable "region" {{
  type    = string
  default = "{rng.choice(["eu-west-1", "us-east-1", "ap-southeast-2"])}"
}}

variable "vpc_id" {{
  type    = string
  default = "vpc-{i:017x}"
}}

variable "instance_count" {{
  type    = number
  default = {rng.randint(1, 4)}
}}
''',
        "locals.tf": f'''locals {{
  tags = {{
    service = var.service
    env     = var.env
    owner   = "team-{i % 17}"
  }}
  name_prefix = "${{var.service}}-${{var.env}}"
}}
''',
        "network.tf": _sg("app", rng) + "\n" + _sg("admin", rng),
        "storage.tf": _bucket("data", rng) + "\n" + _bucket("logs", rng),
        "iam.tf": f'''data "aws_iam_policy_document" "assume" {{
  statement {{
    actions = ["sts:AssumeRole"]
    principals {{
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }}
  }}
}}

resource "aws_iam_role" "app" {{
  name               = "${{local.name_prefix}}-app"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}}

resource "aws_iam_role_policy" "app" {{
  name = "app"
  role = aws_iam_role.app.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect   = "Allow"
      Action   = {action}
      Resource = "${{aws_s3_bucket.data.arn}}/*"
    }}]
  }})
}}
''',
        "compute.tf": f'''resource "aws_launch_template" "app" {{
  name_prefix   = "${{local.name_prefix}}-"
  image_id      = data.aws_ami.base.id
  instance_type = "t3.medium"

  metadata_options {{
    http_endpoint = "enabled"
    http_tokens   = "{tokens}"
  }}

  block_device_mappings {{
    device_name = "/dev/xvda"
    ebs {{
      volume_size = 30
      encrypted   = {enc}
    }}
  }}
}}

resource "aws_instance" "worker" {{
  count         = var.instance_count
  ami           = data.aws_ami.base.id
  instance_type = "t3.small"
  tags          = merge(local.tags, {{ Name = "${{local.name_prefix}}-worker-${{count.index}}" }})

  root_block_device {{
    encrypted = {enc}
  }}
}}
''',
        "database.tf": f'''module "db" {{
  source            = "../modules/mod{i % modules:02d}"
  name              = local.name_prefix
  vpc_id            = var.vpc_id
  allowed_sg_ids    = [aws_security_group.app.id]
  storage_encrypted = {enc}
}}
''',
        "data.tf": '''data "aws_ami" "base" {
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = ["al2023-ami-*-x86_64"]
  }
}

data "aws_caller_identity" "current" {}
''',
        "outputs.tf": '''output "app_sg_id" {
  value = aws_security_group.app.id
}

output "data_bucket" {
  value = aws_s3_bucket.data.bucket
}

output "db_endpoint" {
  value = module.db.endpoint
}
''',
    }


def _module_files(j: int, rng: random.Random) -> dict[str, str]:
    files = {
        "variables.tf": '''variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "allowed_sg_ids" {
  type    = list(string)
  default = []
}

variable "storage_encrypted" {
  type    = bool
  default = true
}
''',
        "main.tf": f'''resource "aws_db_instance" "this" {{
  identifier          = var.name
  engine              = "postgres"
  engine_version      = "16.{j % 4}"
  instance_class      = "db.t4g.medium"
  allocated_storage   = {rng.choice([20, 50, 100])}
  storage_encrypted   = var.storage_encrypted
  publicly_accessible = {str(rng.random() < 0.1).lower()}
  username            = "app"
  manage_master_user_password = true
  vpc_security_group_ids      = [aws_security_group.db.id]
  skip_final_snapshot         = true
}}
''',
        "security.tf": f'''resource "aws_security_group" "db" {{
  name   = "${{var.name}}-db-{j}"
  vpc_id = var.vpc_id

  dynamic "ingress" {{
    for_each = var.allowed_sg_ids
    content {{
      from_port       = 5432
      to_port         = 5432
      protocol        = "tcp"
      security_groups = [ingress.value]
    }}
  }}
}}
''',
        "outputs.tf": '''output "endpoint" {
  value = aws_db_instance.this.endpoint
}
''',
        "versions.tf": '''terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}
''',
    }
    for k in range(FILES_PER_DIR - len(files)):
        files[f"extra{k}.tf"] = f'''resource "aws_cloudwatch_log_group" "m{j}_{k}" {{
  name              = "/modules/{j}/{k}/${{var.name}}"
  retention_in_days = {rng.choice([7, 14, 30, 90])}
}}
'''
    return files


def generate(dest: Path, files: int = 1000, seed: int = 7) -> int:
    """Write the tree under ``dest`` (replaced); returns the number of .tf files written."""
    rng = random.Random(seed)
    modules = max(1, files // (FILES_PER_DIR * 10))
    services = max(1, (files - modules * FILES_PER_DIR) // FILES_PER_DIR)
    written = 0
    for j in range(modules):
        for name, text in _module_files(j, rng).items():
            p = dest / "modules" / f"mod{j:02d}" / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            written += 1
    for i in range(services):
        for name, text in _service_files(i, rng, modules).items():
            p = dest / f"svc{i:03d}" / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            written += 1
    return written
