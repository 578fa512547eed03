"""AWS compute rules through the real loader: EBS and instance encryption (with account default
encryption and launch templates), IMDSv2, EKS, ECS task definitions and Lambda."""

from __future__ import annotations

from pathlib import Path

from test_rules_aws_support import hits, scan, unresolved

from secpipe.core.findings import Severity
from secpipe.scanners.iac.terraform.rules_aws_compute import (
    EBS_DEFAULT,
    EBS_VOLUME,
    EC2_BLOCK_DEVICE,
    EC2_IMDSV2,
    ECS_ENV_LITERAL,
    ECS_PRIVILEGED,
    EKS_LOGGING,
    EKS_PUBLIC,
    EKS_SECRETS,
    LAMBDA_ENV_LITERAL,
    LAMBDA_PUBLIC,
    LAMBDA_TRACING,
)

DEFAULT_ON = 'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}\n'
VOLUME = 'resource "aws_ebs_volume" "v" {\n  availability_zone = "eu-west-1a"\n  size = 10\n%s}\n'


# --- EBS volumes ---------------------------------------------------------------------------

def test_unencrypted_volume_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, VOLUME % ""), EBS_VOLUME)
    assert h.resource == "aws_ebs_volume.v" and "not set" in h.message


def test_volume_encrypted_false_fires_on_its_line(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, VOLUME % "  encrypted = false\n"), EBS_VOLUME)
    assert h.line == 4


def test_encrypted_volume_is_quiet(tmp_path: Path) -> None:
    assert hits(scan(tmp_path, VOLUME % "  encrypted = true\n"), EBS_VOLUME) == []


def test_account_default_encryption_covers_volumes(tmp_path: Path) -> None:
    assert hits(scan(tmp_path, DEFAULT_ON + VOLUME % ""), EBS_VOLUME) == []


def test_volume_encryption_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "enc" {}\n' + VOLUME % "  encrypted = var.enc\n")
    assert hits(found, EBS_VOLUME) == []
    assert len(unresolved(found, EBS_VOLUME)) == 1


def test_default_encryption_turned_off_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, DEFAULT_ON.replace("true", "false") + VOLUME % "")
    assert len(hits(found, EBS_DEFAULT)) == 1
    assert len(hits(found, EBS_VOLUME)) == 1


# --- instances, launch templates -----------------------------------------------------------

INSTANCE = """
resource "aws_instance" "app" {
  ami           = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
%s}
"""
ROOT_ENC = "  root_block_device {\n    encrypted = %s\n  }\n"
IMDS = '  metadata_options {\n    http_tokens = "%s"\n  }\n'


def test_instance_root_volume_encrypted_false_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, INSTANCE % (ROOT_ENC % "false")), EC2_BLOCK_DEVICE)
    assert "root_block_device" in h.message and h.line == 6


def test_instance_without_root_block_device_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, INSTANCE % ""), EC2_BLOCK_DEVICE)
    assert "root_block_device absent" in h.message


def test_instance_encrypted_root_and_data_volumes_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, INSTANCE % (ROOT_ENC % "true" + '  ebs_block_device {\n'
                                       '    device_name = "/dev/sdf"\n    encrypted = true\n'
                                       "  }\n"))
    assert hits(found, EC2_BLOCK_DEVICE) == []


def test_instance_unencrypted_data_volume_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, INSTANCE % (ROOT_ENC % "true" + '  ebs_block_device {\n'
                                       '    device_name = "/dev/sdf"\n  }\n'))
    [h] = hits(found, EC2_BLOCK_DEVICE)
    assert "ebs_block_device" in h.message


def test_default_encryption_covers_instance_volumes(tmp_path: Path) -> None:
    found = scan(tmp_path, DEFAULT_ON + INSTANCE % ("  ebs_block_device {\n"
                                                    '    device_name = "/dev/sdf"\n  }\n'))
    assert hits(found, EC2_BLOCK_DEVICE) == []


def test_explicit_false_under_default_encryption_is_low(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, DEFAULT_ON + INSTANCE % (ROOT_ENC % "false")), EC2_BLOCK_DEVICE)
    assert h.severity == Severity.LOW


TEMPLATE = """
resource "aws_launch_template" "lt" {
  name_prefix = "app"
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted = "%s"
    }
  }
%s}
resource "aws_instance" "from_lt" {
  launch_template {
    id = aws_launch_template.lt.id
  }
}
"""


def test_launch_template_unencrypted_mapping_fires_on_template_only(tmp_path: Path) -> None:
    found = scan(tmp_path, TEMPLATE % ("false", IMDS % "required"))
    assert [h.resource for h in hits(found, EC2_BLOCK_DEVICE)] == ["aws_launch_template.lt"]


def test_instance_from_encrypted_template_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, TEMPLATE % ("true", IMDS % "required"))
    assert hits(found, EC2_BLOCK_DEVICE) == []
    assert hits(found, EC2_IMDSV2) == []


def test_launch_configuration_unencrypted_root_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_launch_configuration" "lc" {\n'
                 '  image_id = "ami-1"\n  instance_type = "t3.micro"\n'
                 + ROOT_ENC % "false" + IMDS % "required" + "}\n")
    assert [h.resource for h in hits(found, EC2_BLOCK_DEVICE)] == [
        "aws_launch_configuration.lc"]


# --- IMDSv2 --------------------------------------------------------------------------------

def test_instance_without_metadata_options_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, INSTANCE % (ROOT_ENC % "true")), EC2_IMDSV2)
    assert h.resource == "aws_instance.app"


def test_http_tokens_optional_fires_on_its_line(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, INSTANCE % (IMDS % "optional")), EC2_IMDSV2)
    assert '"optional"' in h.message and h.line == 6


def test_http_tokens_required_is_quiet(tmp_path: Path) -> None:
    assert hits(scan(tmp_path, INSTANCE % (IMDS % "required")), EC2_IMDSV2) == []


def test_template_without_imds_fires_on_template_not_instance(tmp_path: Path) -> None:
    found = scan(tmp_path, TEMPLATE % ("true", ""))
    assert [h.resource for h in hits(found, EC2_IMDSV2)] == ["aws_launch_template.lt"]


def test_account_metadata_defaults_cover_instances(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_ec2_instance_metadata_defaults" "d" {\n'
                 '  http_tokens = "required"\n}\n' + INSTANCE % "")
    assert hits(found, EC2_IMDSV2) == []


def test_http_tokens_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "t" {}\n' + INSTANCE % (
        "  metadata_options {\n    http_tokens = var.t\n  }\n"))
    assert hits(found, EC2_IMDSV2) == []
    assert len(unresolved(found, EC2_IMDSV2)) == 1


# --- EKS -----------------------------------------------------------------------------------

EKS = """
resource "aws_eks_cluster" "main" {
  name     = "main"
  role_arn = "arn:aws:iam::111122223333:role/eks"
  vpc_config {
    subnet_ids = ["subnet-1"]
%s  }
%s}
"""
EKS_GOOD_EXTRA = """  enabled_cluster_log_types = ["api", "audit", "authenticator"]
  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = "arn:aws:kms:eu-west-1:111122223333:key/abc"
    }
  }
"""


def test_eks_defaults_fire_all_three(tmp_path: Path) -> None:
    found = scan(tmp_path, EKS % ("", ""))
    assert len(hits(found, EKS_PUBLIC)) == 1
    assert len(hits(found, EKS_SECRETS)) == 1
    assert len(hits(found, EKS_LOGGING)) == 1


def test_eks_public_to_world_cidr_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, EKS % ('    public_access_cidrs = ["0.0.0.0/0"]\n', EKS_GOOD_EXTRA))
    [h] = hits(found, EKS_PUBLIC)
    assert "0.0.0.0/0" in h.message


def test_eks_private_or_narrowed_endpoint_and_full_config_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, EKS % ("    endpoint_public_access = false\n", EKS_GOOD_EXTRA))
    assert hits(found, EKS_PUBLIC) == hits(found, EKS_SECRETS) == hits(found, EKS_LOGGING) == []
    found = scan(tmp_path / "b", EKS % ('    public_access_cidrs = ["203.0.113.0/24"]\n',
                                        EKS_GOOD_EXTRA))
    assert hits(found, EKS_PUBLIC) == []


def test_eks_public_cidrs_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "c" {}\n'
                 + EKS % ("    public_access_cidrs = var.c\n", EKS_GOOD_EXTRA))
    assert hits(found, EKS_PUBLIC) == []
    assert len(unresolved(found, EKS_PUBLIC)) == 1


# --- ECS -----------------------------------------------------------------------------------

TASK = """
resource "aws_ecs_task_definition" "app" {
  family = "app"
  container_definitions = jsonencode([{
    name  = "app"
    image = "app:1.0"
%s  }])
}
"""


def test_privileged_container_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, TASK % "    privileged = true\n"), ECS_PRIVILEGED)
    assert '"app"' in h.message


def test_unprivileged_container_is_quiet(tmp_path: Path) -> None:
    assert hits(scan(tmp_path, TASK % "    privileged = false\n"), ECS_PRIVILEGED) == []


def test_literal_password_in_environment_fires_redacted(tmp_path: Path) -> None:
    value = "hunter2" "-not-real"
    found = scan(tmp_path, TASK % (
        f'    environment = [{{ name = "DB_PASSWORD", value = "{value}" }}]\n'))
    [h] = hits(found, ECS_ENV_LITERAL)
    assert "DB_PASSWORD" in h.message
    assert value not in h.message and value not in h.evidence


def test_secret_references_and_harmless_names_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, TASK % """    environment = [
      { name = "DB_PASSWORD_ARN", value = "arn:aws:secretsmanager:eu-west-1:1:secret:db" },
      { name = "TOKEN_URL", value = "https://auth.example.com/token" },
      { name = "LOG_LEVEL", value = "debug" },
      { name = "API_KEY", value = "arn:aws:ssm:eu-west-1:1:parameter/api" }
    ]
    secrets = [{ name = "DB_PASSWORD", valueFrom = "arn:aws:secretsmanager:eu-west-1:1:secret:db" }]
""")
    assert hits(found, ECS_ENV_LITERAL) == []


def test_container_definitions_from_file_are_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_ecs_task_definition" "app" {\n  family = "app"\n'
                 '  container_definitions = file("missing.json")\n}\n')
    assert hits(found, ECS_PRIVILEGED) == []
    assert len(unresolved(found, ECS_PRIVILEGED)) == 1


# --- Lambda --------------------------------------------------------------------------------

LAMBDA = """
resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = "arn:aws:iam::111122223333:role/f"
  handler       = "index.handler"
  runtime       = "python3.12"
%s}
"""


def test_function_url_without_auth_fires_and_iam_auth_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_lambda_function_url" "open" {
  function_name      = "f"
  authorization_type = "NONE"
}
resource "aws_lambda_function_url" "iam" {
  function_name      = "g"
  authorization_type = "AWS_IAM"
}
""")
    assert [h.resource for h in hits(found, LAMBDA_PUBLIC)] == ["aws_lambda_function_url.open"]


def test_permission_to_any_principal_fires_unless_source_is_named(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_lambda_permission" "any" {
  action        = "lambda:InvokeFunction"
  function_name = "f"
  principal     = "*"
}
resource "aws_lambda_permission" "s3" {
  action        = "lambda:InvokeFunction"
  function_name = "f"
  principal     = "s3.amazonaws.com"
  source_arn    = "arn:aws:s3:::bucket"
}
""")
    assert [h.resource for h in hits(found, LAMBDA_PUBLIC)] == ["aws_lambda_permission.any"]


def test_lambda_literal_token_fires_and_reference_is_quiet(tmp_path: Path) -> None:
    token = "tok" "-1234567890abcdef"
    found = scan(tmp_path, LAMBDA % f"""  environment {{
    variables = {{
      API_TOKEN     = "{token}"
      API_TOKEN_ARN = "arn:aws:secretsmanager:eu-west-1:1:secret:t"
      STAGE         = "prod"
    }}
  }}
""")
    [h] = hits(found, LAMBDA_ENV_LITERAL)
    assert "API_TOKEN" in h.message and token not in h.message + h.evidence


def test_lambda_tracing_off_fires_and_active_is_quiet(tmp_path: Path) -> None:
    assert len(hits(scan(tmp_path, LAMBDA % ""), LAMBDA_TRACING)) == 1
    found = scan(tmp_path / "b", LAMBDA % '  tracing_config {\n    mode = "Active"\n  }\n')
    assert hits(found, LAMBDA_TRACING) == []


def test_eks_log_types_partly_unknown_are_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "extra" {}\n' + EKS % (
        "    endpoint_public_access = false\n",
        '  enabled_cluster_log_types = ["api", var.extra]\n'))
    assert hits(found, EKS_LOGGING) == []
    assert len(unresolved(found, EKS_LOGGING)) == 1


def test_lambda_permission_principal_from_unknown_variable_is_unresolved(
        tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "who" {}\nresource "aws_lambda_permission" "p" {\n'
                 '  action = "lambda:InvokeFunction"\n  function_name = "f"\n'
                 "  principal = var.who\n}\n")
    assert hits(found, LAMBDA_PUBLIC) == []
    assert len(unresolved(found, LAMBDA_PUBLIC)) == 1


def test_unknown_default_encryption_makes_unset_volumes_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "on" {}\nresource "aws_ebs_encryption_by_default" "d" {\n'
                 "  enabled = var.on\n}\n" + VOLUME % "" + VOLUME.replace('"v"', '"w"') % (
                     "  encrypted = true\n"))
    assert hits(found, EBS_VOLUME) == []
    [p] = unresolved(found, EBS_VOLUME)
    assert "aws_ebs_volume.v" in p.message and "var.on" in p.message


def test_instance_from_template_still_reports_its_own_explicit_false(tmp_path: Path) -> None:
    found = scan(tmp_path, TEMPLATE.replace(
        "    id = aws_launch_template.lt.id\n  }\n",
        "    id = aws_launch_template.lt.id\n  }\n" + ROOT_ENC % "false") % (
            "true", IMDS % "required"))
    assert [h.resource for h in hits(found, EC2_BLOCK_DEVICE)] == ["aws_instance.from_lt"]
