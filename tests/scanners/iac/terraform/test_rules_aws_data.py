"""AWS data-service rules through the real loader: RDS, EFS, CloudTrail, KMS, SageMaker, ECR
and literal credentials."""

from __future__ import annotations

import base64
from pathlib import Path

from test_rules_aws_support import hits, model_of, run_model, scan, unresolved

from secpipe.core.findings import Confidence
from secpipe.scanners.iac.terraform.rules_aws_data import (
    ECR_MUTABLE,
    ECR_PUBLIC,
    ECR_SCAN,
    EFS_ENCRYPTION,
    KMS_ROTATION,
    LITERAL_CREDENTIAL,
    RDS_BACKUP,
    RDS_DELETION,
    RDS_ENCRYPTION,
    RDS_IAM_AUTH,
    RDS_PUBLIC,
    SM_ENDPOINT_KMS,
    SM_INTERNET,
    SM_MODEL_NETWORK,
    SM_NOTEBOOK_KMS,
    SM_ROOT,
    TRAIL_KMS,
    TRAIL_MULTI_REGION,
    TRAIL_VALIDATION,
)

DB = """
resource "aws_db_instance" "db" {
  engine         = "postgres"
  instance_class = "db.t3.micro"
%s}
"""
DB_GOOD = """  storage_encrypted                   = true
  publicly_accessible                 = false
  backup_retention_period             = 7
  deletion_protection                 = true
  iam_database_authentication_enabled = true
  manage_master_user_password         = true
"""


# --- RDS -----------------------------------------------------------------------------------

def test_rds_defaults_fire_encryption_deletion_and_iam_auth(tmp_path: Path) -> None:
    found = scan(tmp_path, DB % "")
    assert len(hits(found, RDS_ENCRYPTION)) == 1
    assert len(hits(found, RDS_DELETION)) == 1
    assert len(hits(found, RDS_IAM_AUTH)) == 1
    assert hits(found, RDS_PUBLIC) == hits(found, RDS_BACKUP) == []


def test_rds_explicit_bad_values_fire_on_their_lines(tmp_path: Path) -> None:
    found = scan(tmp_path, DB % ("  storage_encrypted = false\n  publicly_accessible = true\n"
                                 "  backup_retention_period = 0\n"))
    assert hits(found, RDS_ENCRYPTION)[0].line == 5
    assert hits(found, RDS_PUBLIC)[0].line == 6
    assert hits(found, RDS_BACKUP)[0].line == 7


def test_rds_hardened_instance_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, DB % DB_GOOD)
    for rule_id in (RDS_ENCRYPTION, RDS_PUBLIC, RDS_BACKUP, RDS_DELETION, RDS_IAM_AUTH,
                    LITERAL_CREDENTIAL):
        assert hits(found, rule_id) == [], rule_id


def test_read_replica_inherits_encryption_and_backups(tmp_path: Path) -> None:
    found = scan(tmp_path, DB % (DB_GOOD + "") + """
resource "aws_db_instance" "replica" {
  replicate_source_db     = aws_db_instance.db.identifier
  instance_class          = "db.t3.micro"
  backup_retention_period = 0
  deletion_protection     = true
}
""")
    assert hits(found, RDS_ENCRYPTION) == [] and hits(found, RDS_BACKUP) == []


def test_sqlserver_is_not_asked_for_iam_auth(tmp_path: Path) -> None:
    found = scan(tmp_path, DB.replace('"postgres"', '"sqlserver-ex"') % "")
    assert hits(found, RDS_IAM_AUTH) == []


def test_aurora_cluster_without_encryption_fires_and_serverless_v1_is_quiet(
        tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_rds_cluster" "a" {
  engine = "aurora-postgresql"
}
resource "aws_rds_cluster" "s" {
  engine      = "aurora-mysql"
  engine_mode = "serverless"
}
""")
    assert [h.resource for h in hits(found, RDS_ENCRYPTION)] == ["aws_rds_cluster.a"]


def test_rds_flag_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "pub" {}\n' + DB % "  publicly_accessible = var.pub\n")
    assert hits(found, RDS_PUBLIC) == []
    assert len(unresolved(found, RDS_PUBLIC)) == 1


def test_restored_from_snapshot_is_low_confidence(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, DB % '  snapshot_identifier = "snap-1"\n'), RDS_ENCRYPTION)
    assert h.confidence == Confidence.LOW


# --- EFS, CloudTrail, KMS ------------------------------------------------------------------

def test_efs_unencrypted_fires_and_encrypted_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_efs_file_system" "a" {}\n'
                 'resource "aws_efs_file_system" "b" {\n  encrypted = true\n}\n')
    assert [h.resource for h in hits(found, EFS_ENCRYPTION)] == ["aws_efs_file_system.a"]


TRAIL = 'resource "aws_cloudtrail" "%s" {\n  name = "%s"\n  s3_bucket_name = "logs"\n%s}\n'


def test_cloudtrail_defaults_fire(tmp_path: Path) -> None:
    found = scan(tmp_path, TRAIL % ("t", "t", ""))
    assert len(hits(found, TRAIL_MULTI_REGION)) == 1
    assert len(hits(found, TRAIL_VALIDATION)) == 1
    assert len(hits(found, TRAIL_KMS)) == 1


def test_one_multi_region_trail_covers_a_single_region_data_trail(tmp_path: Path) -> None:
    found = scan(tmp_path, TRAIL % ("all", "all", "  is_multi_region_trail = true\n"
                                    "  enable_log_file_validation = true\n"
                                    '  kms_key_id = "arn:aws:kms:eu-west-1:1:key/k"\n')
                 + TRAIL % ("data", "data", "  enable_log_file_validation = true\n"
                            '  kms_key_id = "arn:aws:kms:eu-west-1:1:key/k"\n'))
    assert hits(found, TRAIL_MULTI_REGION) == []
    assert hits(found, TRAIL_VALIDATION) == hits(found, TRAIL_KMS) == []


def test_kms_rotation_off_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_kms_key" "k" {\n  enable_key_rotation = false\n}\n')
    [h] = hits(found, KMS_ROTATION)
    assert h.line == 2


def test_kms_rotation_on_and_asymmetric_keys_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_kms_key" "on" {
  enable_key_rotation = true
}
resource "aws_kms_key" "sign" {
  customer_master_key_spec = "RSA_2048"
  key_usage                = "SIGN_VERIFY"
}
resource "aws_kms_key" "mac" {
  key_usage                = "GENERATE_VERIFY_MAC"
  customer_master_key_spec = "HMAC_256"
}
""")
    assert hits(found, KMS_ROTATION) == []


# --- SageMaker -----------------------------------------------------------------------------

NOTEBOOK = """
resource "aws_sagemaker_notebook_instance" "nb" {
  name          = "research"
  role_arn      = "arn:aws:iam::111122223333:role/sm"
  instance_type = "ml.t3.medium"
%s}
"""


def test_notebook_defaults_fire_internet_root_and_kms(tmp_path: Path) -> None:
    found = scan(tmp_path, NOTEBOOK % "")
    [internet] = hits(found, SM_INTERNET)
    assert "(the default)" in internet.message
    assert len(hits(found, SM_ROOT)) == 1
    assert len(hits(found, SM_NOTEBOOK_KMS)) == 1


def test_notebook_hardened_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, NOTEBOOK % """  subnet_id              = "subnet-1"
  direct_internet_access = "Disabled"
  root_access            = "Disabled"
  kms_key_id             = "arn:aws:kms:eu-west-1:1:key/k"
""")
    assert hits(found, SM_INTERNET) == hits(found, SM_ROOT) == hits(found, SM_NOTEBOOK_KMS) == []


def test_notebook_internet_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "net" {}\n'
                 + NOTEBOOK % "  direct_internet_access = var.net\n")
    assert hits(found, SM_INTERNET) == []
    assert len(unresolved(found, SM_INTERNET)) == 1


def test_endpoint_config_and_model(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_sagemaker_endpoint_configuration" "plain" {
  production_variants {
    variant_name = "main"
    model_name   = "m"
  }
}
resource "aws_sagemaker_endpoint_configuration" "kms" {
  kms_key_arn = "arn:aws:kms:eu-west-1:1:key/k"
  production_variants {
    variant_name = "main"
    model_name   = "m"
  }
}
resource "aws_sagemaker_model" "open" {
  execution_role_arn = "arn:aws:iam::1:role/sm"
  primary_container {
    image = "img"
  }
}
resource "aws_sagemaker_model" "isolated" {
  execution_role_arn       = "arn:aws:iam::1:role/sm"
  enable_network_isolation = true
  primary_container {
    image = "img"
  }
}
resource "aws_sagemaker_model" "vpc" {
  execution_role_arn = "arn:aws:iam::1:role/sm"
  primary_container {
    image = "img"
  }
  vpc_config {
    subnets            = ["subnet-1"]
    security_group_ids = ["sg-1"]
  }
}
""")
    assert [h.resource for h in hits(found, SM_ENDPOINT_KMS)] == [
        "aws_sagemaker_endpoint_configuration.plain"]
    assert [h.resource for h in hits(found, SM_MODEL_NETWORK)] == ["aws_sagemaker_model.open"]


# --- ECR -----------------------------------------------------------------------------------

def test_ecr_defaults_fire_scan_and_mutability(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_ecr_repository" "r" {\n  name = "r"\n}\n')
    assert len(hits(found, ECR_SCAN)) == 1
    [h] = hits(found, ECR_MUTABLE)
    assert "(the default)" in h.message


def test_ecr_hardened_repository_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_ecr_repository" "r" {
  name                 = "r"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
}
""")
    assert hits(found, ECR_SCAN) == hits(found, ECR_MUTABLE) == []


def test_registry_wide_scanning_covers_repositories(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_ecr_registry_scanning_configuration" "all" {
  scan_type = "ENHANCED"
  rule {
    scan_frequency = "CONTINUOUS_SCAN"
    repository_filter {
      filter      = "*"
      filter_type = "WILDCARD"
    }
  }
}
resource "aws_ecr_repository" "r" {
  name                 = "r"
  image_tag_mutability = "IMMUTABLE"
}
""")
    assert hits(found, ECR_SCAN) == []


def test_ecr_policy_public_fires_and_org_condition_is_quiet(tmp_path: Path) -> None:
    policy = """
resource "aws_ecr_repository_policy" "%s" {
  repository = "r"
  policy = jsonencode({ Version = "2012-10-17", Statement = [{
    Effect = "Allow", Principal = "*", Action = ["ecr:BatchGetImage"]%s }] })
}
"""
    found = scan(tmp_path, policy % ("open", "") + policy % (
        "org", ', Condition = { StringEquals = { "aws:PrincipalOrgID" = "o-1" } }'))
    assert [h.resource for h in hits(found, ECR_PUBLIC)] == ["aws_ecr_repository_policy.open"]


# --- literal credentials -------------------------------------------------------------------

def test_literal_db_password_fires_redacted(tmp_path: Path) -> None:
    password = "Sup3r" "S3cret-not-real"
    found = scan(tmp_path, DB % f'  username = "admin"\n  password = "{password}"\n')
    [h] = hits(found, LITERAL_CREDENTIAL)
    assert h.line == 6
    assert password not in h.message and password not in h.evidence


def test_password_from_variable_default_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "pw" {\n  default = "changeme-please"\n}\n'
                 + DB % "  password = var.pw\n")
    assert len(hits(found, LITERAL_CREDENTIAL)) == 1


def test_generated_or_runtime_passwords_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
variable "pw" {
  sensitive = true
}
resource "random_password" "db" {
  length = 24
}
resource "aws_db_instance" "a" {
  engine   = "postgres"
  password = random_password.db.result
}
resource "aws_db_instance" "b" {
  engine   = "postgres"
  password = var.pw
}
""")
    assert hits(found, LITERAL_CREDENTIAL) == []
    assert unresolved(found, LITERAL_CREDENTIAL) == []


def test_secret_version_and_secure_parameter_and_provider_keys(tmp_path: Path) -> None:
    secret_key = "wJalrXUtnFEMI" "/K7MDENG/bPxRfiCYEXAMPLEKEY"
    field = "pass" "word"
    found = scan(tmp_path, f"""
provider "aws" {{
  region     = "eu-west-1"
  access_key = "AKIA" "IOSFODNN7EXAMPLE"
  secret_key = "{secret_key}"
}}
resource "aws_secretsmanager_secret_version" "v" {{
  secret_id     = "s"
  secret_string = jsonencode({{ {field} = "literal-value-1" }})
}}
resource "aws_ssm_parameter" "secure" {{
  name  = "/app/key"
  type  = "SecureString"
  value = "literal-value-2"
}}
resource "aws_ssm_parameter" "plain" {{
  name  = "/app/region"
  type  = "String"
  value = "eu-west-1"
}}
""".replace('"AKIA" "IOSFODNN7EXAMPLE"', '"' + "AKIA" + "IOSFODNN7EXAMPLE" + '"'))
    got = sorted(h.resource for h in hits(found, LITERAL_CREDENTIAL))
    assert got == ["aws_secretsmanager_secret_version.v", "aws_ssm_parameter.secure",
                   "provider.aws", "provider.aws"]
    assert all(secret_key not in h.message + h.evidence for h in hits(found, LITERAL_CREDENTIAL))


def test_resources_inside_local_modules_are_judged(tmp_path: Path) -> None:
    model = model_of(tmp_path, {
        "main.tf": 'module "db" {\n  source = "./db"\n}\n',
        "db/main.tf": DB % "  storage_encrypted = false\n",
    })
    [h] = hits(run_model(model), RDS_ENCRYPTION)
    assert h.resource == "module.db.aws_db_instance.db" and h.path == "db/main.tf"


def test_access_key_in_user_data_fires(tmp_path: Path) -> None:
    key_id = "AKIA" "IOSFODNN7EXAMPLE"
    found = scan(tmp_path, f"""
resource "aws_instance" "a" {{
  ami       = "ami-1"
  user_data = <<-SH
    #!/bin/bash
    export AWS_ACCESS_KEY_ID={key_id}
  SH
}}
""")
    [h] = hits(found, LITERAL_CREDENTIAL)
    assert "access key id" in h.message and key_id not in h.message + h.evidence


def test_base64_encoded_user_data_with_password_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_launch_template" "lt" {
  name_prefix = "app"
  user_data   = base64encode("#!/bin/sh\\nDB_PASSWORD=hunter2-literal\\n")
}
""")
    [h] = hits(found, LITERAL_CREDENTIAL)
    assert "DB_PASSWORD" in h.message and "hunter2" not in h.message


def test_user_data_fetching_secrets_at_boot_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_instance" "a" {
  ami       = "ami-1"
  user_data = <<-SH
    #!/bin/bash
    DB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id db --query SecretString)
    API_TOKEN_FILE=/run/secrets/api
    LOG_LEVEL=info
  SH
}
""")
    assert hits(found, LITERAL_CREDENTIAL) == []


def test_password_interpolating_a_generated_value_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "random_password" "p" {
  length = 20
}
resource "aws_db_instance" "a" {
  engine   = "postgres"
  password = "x${random_password.p.result}"
}
""")
    assert hits(found, LITERAL_CREDENTIAL) == []


def test_raw_base64_user_data_is_decoded(tmp_path: Path) -> None:
    script = "#!/bin/sh\nexport API_TOKEN=" + "tok" + "-abcdef123456\n"
    encoded = base64.b64encode(script.encode()).decode()
    found = scan(tmp_path, 'resource "aws_instance" "a" {\n  ami = "ami-1"\n'
                 f'  user_data_base64 = "{encoded}"\n}}\n')
    [h] = hits(found, LITERAL_CREDENTIAL)
    assert "API_TOKEN" in h.message and h.line == 3


def test_trail_multi_region_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "mr" {}\n'
                 + TRAIL % ("t", "t", "  is_multi_region_trail = var.mr\n"))
    assert hits(found, TRAIL_MULTI_REGION) == []
    assert len(unresolved(found, TRAIL_MULTI_REGION)) == 1
