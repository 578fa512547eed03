"""AWS data-service rules: RDS (encryption, public access, backups, deletion protection, IAM
authentication), EFS encryption, CloudTrail, KMS key rotation, SageMaker (notebooks, endpoints,
models), ECR and literal credentials written into resource arguments."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator
from typing import Any

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, Problem, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_aws_common import (
    Check,
    PolicyError,
    Statement,
    as_bool,
    as_int,
    as_list,
    as_str,
    hit,
    iter_policies,
    literal_secret,
    maybe_problem,
    policy_problem,
    redacted,
    rule,
    secret_name,
    short,
    sub_blocks,
    unresolved,
    verdict,
)

RDS_ENCRYPTION = "iac.aws.rds-encryption"
RDS_PUBLIC = "iac.aws.rds-public"
RDS_BACKUP = "iac.aws.rds-backup-disabled"
RDS_DELETION = "iac.aws.rds-deletion-protection"
RDS_IAM_AUTH = "iac.aws.rds-iam-auth"
EFS_ENCRYPTION = "iac.aws.efs-encryption"
TRAIL_MULTI_REGION = "iac.aws.cloudtrail-multi-region"
TRAIL_VALIDATION = "iac.aws.cloudtrail-log-validation"
TRAIL_KMS = "iac.aws.cloudtrail-kms"
KMS_ROTATION = "iac.aws.kms-rotation"
SM_INTERNET = "iac.aws.sagemaker-notebook-internet"
SM_ROOT = "iac.aws.sagemaker-notebook-root"
SM_NOTEBOOK_KMS = "iac.aws.sagemaker-notebook-kms"
SM_ENDPOINT_KMS = "iac.aws.sagemaker-endpoint-kms"
SM_MODEL_NETWORK = "iac.aws.sagemaker-model-network"
ECR_SCAN = "iac.aws.ecr-scan-on-push"
ECR_MUTABLE = "iac.aws.ecr-mutable-tags"
ECR_PUBLIC = "iac.aws.ecr-public-policy"
LITERAL_CREDENTIAL = "iac.aws.literal-credential"

_DB = 'resource "aws_db_instance" "db" {\n  engine         = "postgres"\n' \
      '  instance_class = "db.t3.micro"\n'
_NB = 'resource "aws_sagemaker_notebook_instance" "nb" {\n  name          = "research"\n' \
      '  role_arn      = aws_iam_role.sm.arn\n  instance_type = "ml.t3.medium"\n'

RULES = [
    rule(RDS_ENCRYPTION, "RDS storage is not encrypted", Severity.HIGH, "CWE-311",
         ("CIS-AWS-2.3.1", "NIST-800-53:SC-28"),
         "Database storage, its automated backups, snapshots and replicas are kept in clear; "
         "encryption cannot be turned on later without a snapshot-restore migration. A read "
         "replica inherits its source's setting and is not reported.",
         "Set storage_encrypted = true (and kms_key_id for a customer key).",
         _DB + "  storage_encrypted = false\n}", _DB + "  storage_encrypted = true\n}",
         ("CKV_AWS_16", "CKV_AWS_96", "AVD-AWS-0079", "AVD-AWS-0080",
          "aws-rds-encrypt-cluster-storage-data", "aws-rds-encrypt-instance-storage-data")),
    rule(RDS_PUBLIC, "RDS instance is publicly accessible", Severity.HIGH, "CWE-284",
         ("NIST-800-53:SC-7", "NIST-800-53:AC-3"),
         "publicly_accessible = true gives the instance a public DNS name and address: the "
         "database login is then one security group rule away from the internet.",
         "Set publicly_accessible = false and reach the database from inside the VPC.",
         _DB + "  publicly_accessible = true\n}", _DB + "  publicly_accessible = false\n}",
         ("CKV_AWS_17", "AVD-AWS-0180", "aws-rds-enable-public-access")),
    rule(RDS_BACKUP, "RDS automated backups are disabled", Severity.MEDIUM, "CWE-693",
         ("NIST-800-53:CP-9",),
         "backup_retention_period = 0 turns automated backups and point-in-time recovery off: "
         "a bad migration or a deleted table cannot be undone.",
         "Set backup_retention_period to 7 days or more (read replicas are not reported).",
         _DB + "  backup_retention_period = 0\n}", _DB + "  backup_retention_period = 14\n}",
         ("CKV_AWS_133", "AVD-AWS-0077", "aws-rds-specify-backup-retention")),
    rule(RDS_DELETION, "RDS deletion protection is off", Severity.LOW, "CWE-693",
         ("NIST-800-53:CP-9", "NIST-800-53:CM-3"),
         "Without deletion protection one mistaken destroy or API call removes the database.",
         "Set deletion_protection = true.",
         _DB + "}", _DB + "  deletion_protection = true\n}",
         ("CKV_AWS_139", "CKV_AWS_293", "AVD-AWS-0177", "AVD-AWS-0343",
          "aws-rds-enable-deletion-protection", "aws-rds-enable-cluster-deletion-protection")),
    rule(RDS_IAM_AUTH, "RDS IAM database authentication is off", Severity.LOW, "CWE-287",
         ("NIST-800-53:IA-2", "NIST-800-53:AC-2"),
         "Without IAM authentication every client uses long-lived database passwords instead "
         "of short-lived tokens tied to IAM identities (MySQL, MariaDB, PostgreSQL and Aurora "
         "only; other engines are not reported).",
         "Set iam_database_authentication_enabled = true and grant rds-db:connect.",
         _DB + "}", _DB + "  iam_database_authentication_enabled = true\n}",
         ("CKV_AWS_161", "CKV_AWS_162", "AVD-AWS-0176", "aws-rds-enable-iam-auth")),
    rule(EFS_ENCRYPTION, "EFS file system is not encrypted", Severity.MEDIUM, "CWE-311",
         ("NIST-800-53:SC-28",),
         "The EFS API creates file systems unencrypted unless asked; encryption at rest cannot "
         "be added afterwards.",
         "Set encrypted = true (and kms_key_id for a customer key).",
         'resource "aws_efs_file_system" "fs" {\n  creation_token = "shared"\n}',
         'resource "aws_efs_file_system" "fs" {\n  creation_token = "shared"\n'
         '  encrypted      = true\n}',
         ("CKV_AWS_42", "AVD-AWS-0037", "aws-efs-enable-at-rest-encryption")),
    rule(TRAIL_MULTI_REGION, "No CloudTrail trail covers every region", Severity.MEDIUM,
         "CWE-778", ("CIS-AWS-3.1", "NIST-800-53:AU-2", "NIST-800-53:AU-12"),
         "Activity in regions a trail does not cover (where attackers like to start miners) "
         "goes unrecorded. One multi-region trail in the configuration covers the others.",
         "Set is_multi_region_trail = true on at least one trail.",
         'resource "aws_cloudtrail" "main" {\n  name           = "main"\n'
         '  s3_bucket_name = aws_s3_bucket.trail.id\n}',
         'resource "aws_cloudtrail" "main" {\n  name                  = "main"\n'
         '  s3_bucket_name        = aws_s3_bucket.trail.id\n'
         '  is_multi_region_trail = true\n}',
         ("CKV_AWS_67", "AVD-AWS-0014", "aws-cloudtrail-enable-all-regions")),
    rule(TRAIL_VALIDATION, "CloudTrail log file validation is off", Severity.MEDIUM, "CWE-354",
         ("CIS-AWS-3.2", "NIST-800-53:AU-9"),
         "Without digest files nobody can prove the logs were not altered or deleted after "
         "delivery.",
         "Set enable_log_file_validation = true.",
         'resource "aws_cloudtrail" "main" {\n  name           = "main"\n'
         '  s3_bucket_name = aws_s3_bucket.trail.id\n}',
         'resource "aws_cloudtrail" "main" {\n  name                       = "main"\n'
         '  s3_bucket_name             = aws_s3_bucket.trail.id\n'
         '  enable_log_file_validation = true\n}',
         ("CKV_AWS_36", "AVD-AWS-0016", "aws-cloudtrail-enable-log-validation")),
    rule(TRAIL_KMS, "CloudTrail logs are not encrypted with a KMS key", Severity.LOW, "CWE-311",
         ("CIS-AWS-3.7", "NIST-800-53:SC-28", "NIST-800-53:AU-9"),
         "Trail logs are encrypted with SSE-S3 by default; a KMS key adds a second permission "
         "(kms:Decrypt) an attacker with bucket access would need — hence low.",
         "Set kms_key_id to a customer managed key.",
         'resource "aws_cloudtrail" "main" {\n  name           = "main"\n'
         '  s3_bucket_name = aws_s3_bucket.trail.id\n}',
         'resource "aws_cloudtrail" "main" {\n  name           = "main"\n'
         '  s3_bucket_name = aws_s3_bucket.trail.id\n  kms_key_id     = aws_kms_key.trail.arn\n}',
         ("CKV_AWS_35", "AVD-AWS-0015", "aws-cloudtrail-encryption-customer-managed-key")),
    rule(KMS_ROTATION, "KMS key rotation is not enabled", Severity.MEDIUM, "CWE-320",
         ("CIS-AWS-3.8", "NIST-800-53:SC-12"),
         "Symmetric customer keys that never rotate keep protecting new data with key material "
         "that may have been exposed. Asymmetric and HMAC keys cannot rotate and are not "
         "reported.",
         "Set enable_key_rotation = true.",
         'resource "aws_kms_key" "data" {\n  description = "data"\n}',
         'resource "aws_kms_key" "data" {\n  description         = "data"\n'
         '  enable_key_rotation = true\n}',
         ("CKV_AWS_7", "AVD-AWS-0065", "aws-kms-auto-rotate-keys")),
    rule(SM_INTERNET, "SageMaker notebook has direct internet access", Severity.MEDIUM,
         "CWE-284", ("NIST-800-53:SC-7", "NIST-800-53:AC-4"),
         "direct_internet_access defaults to \"Enabled\": the notebook (which holds the "
         "execution role's credentials and training data) can download anything and send "
         "data anywhere, bypassing the VPC's controls.",
         "Set direct_internet_access = \"Disabled\" with a subnet_id and reach the internet, "
         "if needed, through the VPC's NAT and egress controls.",
         _NB + "}", _NB + '  subnet_id              = aws_subnet.private.id\n'
         '  security_groups        = [aws_security_group.nb.id]\n'
         '  direct_internet_access = "Disabled"\n}',
         ("CKV_AWS_122",)),
    rule(SM_ROOT, "SageMaker notebook users have root access", Severity.MEDIUM, "CWE-250",
         ("NIST-800-53:AC-6",),
         "root_access defaults to \"Enabled\": any notebook user can change the instance, "
         "install software and tamper with what other users run.",
         "Set root_access = \"Disabled\" and use lifecycle configurations for setup.",
         _NB + "}", _NB + '  root_access   = "Disabled"\n}',
         ("CKV_AWS_307",)),
    rule(SM_NOTEBOOK_KMS, "SageMaker notebook storage does not use a customer KMS key",
         Severity.LOW, "CWE-311", ("NIST-800-53:SC-28", "NIST-800-53:SC-12"),
         "Without kms_key_id the notebook's ML storage volume is encrypted with an AWS managed "
         "key only; a customer key gives control over who can decrypt it.",
         "Set kms_key_id to a customer managed key.",
         _NB + "}", _NB + "  kms_key_id    = aws_kms_key.sm.arn\n}",
         ("CKV_AWS_22", "CKV_AWS_187")),
    rule(SM_ENDPOINT_KMS, "SageMaker endpoint configuration has no KMS key",
         Severity.LOW, "CWE-311", ("NIST-800-53:SC-28",),
         "Without kms_key_arn the ML storage volumes attached to the endpoint's instances are "
         "not encrypted with a key you control.",
         "Set kms_key_arn on aws_sagemaker_endpoint_configuration.",
         'resource "aws_sagemaker_endpoint_configuration" "ep" {\n  name = "ep"\n'
         '  production_variants {\n    variant_name = "main"\n'
         '    model_name   = aws_sagemaker_model.m.name\n  }\n}',
         'resource "aws_sagemaker_endpoint_configuration" "ep" {\n  name        = "ep"\n'
         '  kms_key_arn = aws_kms_key.sm.arn\n  production_variants {\n'
         '    variant_name = "main"\n    model_name   = aws_sagemaker_model.m.name\n  }\n}',
         ("CKV_AWS_98",)),
    rule(SM_MODEL_NETWORK, "SageMaker model container has unrestricted network access",
         Severity.LOW, "CWE-284", ("NIST-800-53:SC-7",),
         "A model container with neither network isolation nor a VPC can reach the internet: "
         "a malicious or compromised model can exfiltrate inference data.",
         "Set enable_network_isolation = true, or run the model in a vpc_config.",
         'resource "aws_sagemaker_model" "m" {\n  execution_role_arn = aws_iam_role.sm.arn\n'
         '  primary_container {\n    image = var.image\n  }\n}',
         'resource "aws_sagemaker_model" "m" {\n  execution_role_arn       = '
         'aws_iam_role.sm.arn\n  enable_network_isolation = true\n  primary_container {\n'
         '    image = var.image\n  }\n}',
         ("CKV_AWS_370",)),
    rule(ECR_SCAN, "ECR repository does not scan images on push", Severity.LOW, "CWE-1104",
         ("NIST-800-53:RA-5", "NIST-800-53:SI-2"),
         "Images pushed without a scan reach deployment with known vulnerabilities nobody was "
         "told about. A registry-wide scanning configuration covering every repository counts.",
         "Set image_scanning_configuration { scan_on_push = true }, or configure "
         "aws_ecr_registry_scanning_configuration for all repositories.",
         'resource "aws_ecr_repository" "app" {\n  name = "app"\n}',
         'resource "aws_ecr_repository" "app" {\n  name = "app"\n'
         '  image_tag_mutability = "IMMUTABLE"\n  image_scanning_configuration {\n'
         '    scan_on_push = true\n  }\n}',
         ("CKV_AWS_163", "AVD-AWS-0030", "aws-ecr-enable-image-scans")),
    rule(ECR_MUTABLE, "ECR repository allows tags to be overwritten", Severity.LOW, "CWE-494",
         ("NIST-800-53:CM-14", "NIST-800-53:SI-7"),
         "image_tag_mutability defaults to MUTABLE: a pushed image can silently replace the one "
         "a tag pointed at, so what runs is not what was reviewed and scanned.",
         "Set image_tag_mutability = \"IMMUTABLE\" (and deploy by digest).",
         'resource "aws_ecr_repository" "app" {\n  name = "app"\n}',
         'resource "aws_ecr_repository" "app" {\n  name                 = "app"\n'
         '  image_tag_mutability = "IMMUTABLE"\n}',
         ("CKV_AWS_51", "AVD-AWS-0031", "aws-ecr-enforce-immutable-repository")),
    rule(ECR_PUBLIC, "ECR repository policy allows any principal", Severity.HIGH, "CWE-732",
         ("NIST-800-53:AC-3", "NIST-800-53:AC-6"),
         "An Allow statement with Principal \"*\" and no condition lets every AWS account pull "
         "(or, with push actions, replace) the repository's images.",
         "Name the accounts or roles that need access, or add a Condition "
         "(aws:PrincipalOrgID).",
         'resource "aws_ecr_repository_policy" "p" {\n  repository = aws_ecr_repository.app.name'
         '\n  policy = jsonencode({ Version = "2012-10-17", Statement = [{\n'
         '    Effect = "Allow", Principal = "*", Action = ["ecr:BatchGetImage"] }] })\n}',
         'resource "aws_ecr_repository_policy" "p" {\n  repository = aws_ecr_repository.app.name'
         '\n  policy = jsonencode({ Version = "2012-10-17", Statement = [{\n'
         '    Effect = "Allow", Principal = "*", Action = ["ecr:BatchGetImage"],\n'
         '    Condition = { StringEquals = { "aws:PrincipalOrgID" = "o-abc123" } } }] })\n}',
         ("CKV_AWS_32", "AVD-AWS-0032", "aws-ecr-no-public-access")),
    rule(LITERAL_CREDENTIAL, "Credential written as a literal in Terraform", Severity.HIGH,
         "CWE-798", ("NIST-800-53:IA-5", "NIST-800-53:SC-28"),
         "A password, token or access key written in the code (or in a variable default, "
         "committed tfvars or an instance's user data) is readable by everyone with the "
         "repository, its forks and CI logs, and cannot be rotated without a code change.",
         "Generate it (random_password), let the service manage it "
         "(manage_master_user_password = true), or pass it at apply time from a secret store; "
         "rotate the exposed value.",
         _DB + '  username = "admin"\n  password = "Sup3rS3cret!"\n}',
         _DB + '  username = "admin"\n  manage_master_user_password = true\n}',
         ("CKV_AWS_41", "CKV_AWS_46", "AVD-AWS-0029", "AVD-AWS-0129",
          "aws-ec2-no-secrets-in-user-data", "aws-ec2-no-secrets-in-launch-template-user-data")),
]


# --- RDS -----------------------------------------------------------------------------------

_IAM_AUTH_ENGINES = re.compile(r"^(mysql|mariadb|postgres|aurora)", re.IGNORECASE)


def _replica(res: TfResource) -> bool:
    return any(res.body.get(a) is not None for a in ("replicate_source_db",
                                                      "replication_source_identifier"))


def _flag(res: TfResource, attr: str, default: Any = None) -> bool | Unresolved | None:
    value = res.body.get(attr)
    return as_bool(default if value is None else value)


def check_rds(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_db_instance", "aws_rds_cluster"):
        replica = _replica(res)
        encrypted = _flag(res, "storage_encrypted")
        serverless_v1 = res.type == "aws_rds_cluster" and \
            res.body.get("engine_mode") == "serverless"
        if isinstance(encrypted, Unresolved):
            yield unresolved(RDS_ENCRYPTION, res, "storage_encrypted", encrypted)
        elif encrypted is not True and not replica and not serverless_v1:
            restored = res.body.get("snapshot_identifier") is not None and encrypted is None
            yield hit(RDS_ENCRYPTION, res,
                      "storage_encrypted is false" if encrypted is False
                      else "storage_encrypted is not set (defaults to false)",
                      attr="storage_encrypted" if encrypted is False else "",
                      confidence=Confidence.LOW if restored else None)
        if res.type == "aws_db_instance" and not replica:
            retention = as_int(res.body.get("backup_retention_period"))
            if isinstance(retention, Unresolved):
                yield unresolved(RDS_BACKUP, res, "backup_retention_period", retention)
            elif retention == 0:
                yield hit(RDS_BACKUP, res, "backup_retention_period is 0",
                          attr="backup_retention_period", evidence="backup_retention_period = 0")
        protection = _flag(res, "deletion_protection")
        if isinstance(protection, Unresolved):
            yield unresolved(RDS_DELETION, res, "deletion_protection", protection)
        elif protection is not True:
            yield hit(RDS_DELETION, res, "deletion_protection is "
                      + ("false" if protection is False else "not set"),
                      attr="deletion_protection" if protection is False else "")
        engine = res.body.get("engine", "aurora" if res.type == "aws_rds_cluster" else None)
        if isinstance(engine, str) and _IAM_AUTH_ENGINES.match(engine) and not replica:
            auth = _flag(res, "iam_database_authentication_enabled")
            if isinstance(auth, Unresolved):
                yield unresolved(RDS_IAM_AUTH, res, "iam_database_authentication_enabled", auth)
            elif auth is not True:
                yield hit(RDS_IAM_AUTH, res, "iam_database_authentication_enabled is "
                          + ("false" if auth is False else "not set"),
                          attr="iam_database_authentication_enabled" if auth is False else "")
    for res in model.of_type("aws_db_instance", "aws_rds_cluster_instance"):
        public = _flag(res, "publicly_accessible")
        if isinstance(public, Unresolved):
            yield unresolved(RDS_PUBLIC, res, "publicly_accessible", public)
        elif public is True:
            yield hit(RDS_PUBLIC, res, "publicly_accessible is true", attr="publicly_accessible",
                      evidence="publicly_accessible = true")


def check_efs(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_efs_file_system"):
        encrypted = _flag(res, "encrypted")
        if isinstance(encrypted, Unresolved):
            yield unresolved(EFS_ENCRYPTION, res, "encrypted", encrypted)
        elif encrypted is not True:
            yield hit(EFS_ENCRYPTION, res,
                      "encrypted is " + ("false" if encrypted is False else "not set"),
                      attr="encrypted" if encrypted is False else "")


# --- CloudTrail, KMS -----------------------------------------------------------------------


def check_cloudtrail(model: TfModel) -> Iterator[IacHit | Problem]:
    trails = model.of_type("aws_cloudtrail")
    multi = [_flag(t, "is_multi_region_trail") for t in trails]
    if trails and not any(m is True for m in multi):
        for trail, state in zip(trails, multi, strict=True):
            if isinstance(state, Unresolved):
                yield unresolved(TRAIL_MULTI_REGION, trail, "is_multi_region_trail", state)
            else:
                yield hit(TRAIL_MULTI_REGION, trail,
                          "is_multi_region_trail is " + ("false" if state is False else
                                                         "not set") +
                          " and no other trail covers every region",
                          attr="is_multi_region_trail" if state is False else "")
    for trail in trails:
        valid = _flag(trail, "enable_log_file_validation")
        if isinstance(valid, Unresolved):
            yield unresolved(TRAIL_VALIDATION, trail, "enable_log_file_validation", valid)
        elif valid is not True:
            yield hit(TRAIL_VALIDATION, trail, "enable_log_file_validation is "
                      + ("false" if valid is False else "not set"),
                      attr="enable_log_file_validation" if valid is False else "")
        key = trail.body.get("kms_key_id")
        if key is None or key == "":
            yield hit(TRAIL_KMS, trail, "kms_key_id is not set")


_NO_ROTATION = ("RSA_", "ECC_", "HMAC_", "SM2")


def check_kms(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_kms_key"):
        spec = res.body.get("customer_master_key_spec") or res.body.get("key_spec")
        if isinstance(spec, str) and spec.upper().startswith(_NO_ROTATION):
            continue
        usage = res.body.get("key_usage")
        if isinstance(usage, str) and usage.upper() in ("SIGN_VERIFY", "GENERATE_VERIFY_MAC"):
            continue
        if res.body.get("custom_key_store_id") is not None:
            continue  # keys in a custom key store cannot rotate automatically
        rotation = _flag(res, "enable_key_rotation")
        if isinstance(rotation, Unresolved):
            yield unresolved(KMS_ROTATION, res, "enable_key_rotation", rotation)
        elif rotation is not True:
            yield hit(KMS_ROTATION, res, "enable_key_rotation is "
                      + ("false" if rotation is False else "not set"),
                      attr="enable_key_rotation" if rotation is False else "")


# --- SageMaker -----------------------------------------------------------------------------


def _enabled_by_default(res: TfResource, attr: str, rule_id: str
                        ) -> Iterator[IacHit | Problem]:
    value = as_str(res.body.get(attr, "Enabled"))
    if isinstance(value, Unresolved):
        yield unresolved(rule_id, res, attr, value)
    elif isinstance(value, str) and value.lower() == "enabled":
        written = res.body.has(attr)
        yield hit(rule_id, res,
                  f"{attr} is \"Enabled\"" + ("" if written else " (the default)"),
                  attr=attr if written else "", evidence=f'{attr} = "Enabled"')


def check_sagemaker(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_sagemaker_notebook_instance"):
        yield from _enabled_by_default(res, "direct_internet_access", SM_INTERNET)
        yield from _enabled_by_default(res, "root_access", SM_ROOT)
        if res.body.get("kms_key_id") in (None, ""):
            yield hit(SM_NOTEBOOK_KMS, res, "kms_key_id is not set")
    for res in model.of_type("aws_sagemaker_endpoint_configuration"):
        if res.body.get("kms_key_arn") in (None, ""):
            yield hit(SM_ENDPOINT_KMS, res, "kms_key_arn is not set")
    for res in model.of_type("aws_sagemaker_model"):
        isolation = _flag(res, "enable_network_isolation")
        if isinstance(isolation, Unresolved):
            yield unresolved(SM_MODEL_NETWORK, res, "enable_network_isolation", isolation)
        elif isolation is not True and not sub_blocks(res.body, "vpc_config"):
            yield hit(SM_MODEL_NETWORK, res, "no network isolation and no vpc_config",
                      attr="enable_network_isolation" if isolation is False else "")


# --- ECR -----------------------------------------------------------------------------------


def _registry_scans_all(model: TfModel) -> bool:
    for res in model.of_type("aws_ecr_registry_scanning_configuration"):
        for scan_rule in sub_blocks(res.body, "rule"):
            frequency = scan_rule.get("scan_frequency")
            if frequency not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
                continue
            for flt in sub_blocks(scan_rule, "repository_filter"):
                if flt.get("filter") == "*":
                    return True
    return False


def check_ecr(model: TfModel) -> Iterator[IacHit | Problem]:
    registry_scans = _registry_scans_all(model)
    for res in model.of_type("aws_ecr_repository"):
        config = sub_blocks(res.body, "image_scanning_configuration")
        scan = as_bool(config[0].get("scan_on_push")) if config else None
        if isinstance(scan, Unresolved):
            yield unresolved(ECR_SCAN, res, "scan_on_push", scan, config[0])
        elif scan is not True and not registry_scans:
            yield hit(ECR_SCAN, res, "scan_on_push is " + ("false" if scan is False else
                                                           "not set"),
                      attr="scan_on_push" if scan is False else "",
                      body=config[0] if config else None)
        mutability = as_str(res.body.get("image_tag_mutability", "MUTABLE"))
        if isinstance(mutability, Unresolved):
            yield unresolved(ECR_MUTABLE, res, "image_tag_mutability", mutability)
        elif isinstance(mutability, str) and not mutability.upper().startswith("IMMUTABLE"):
            written = res.body.has("image_tag_mutability")
            yield hit(ECR_MUTABLE, res, f"image_tag_mutability is {short(mutability)}"
                      + ("" if written else " (the default)"),
                      attr="image_tag_mutability" if written else "")
    for res in model.of_type("aws_ecr_repository_policy", "aws_ecr_registry_policy"):
        for attr, result in iter_policies(model, res, ("policy",)):
            if isinstance(result, PolicyError):
                yield policy_problem(ECR_PUBLIC, res, attr, result)
                continue
            st, maybe = verdict(result, Statement.public_grant)
            if st is not None:
                yield hit(ECR_PUBLIC, res, "policy allows Principal \"*\" without a "
                          f"condition ({', '.join(st.actions[:4])})", attr=attr,
                          evidence="Effect Allow, Principal *")
            elif maybe is not None:
                yield maybe_problem(ECR_PUBLIC, res, attr, maybe)


# --- literal credentials -------------------------------------------------------------------

CREDENTIAL_ATTRS: dict[str, tuple[str, ...]] = {
    "aws_db_instance": ("password", "password_wo"),
    "aws_rds_cluster": ("master_password", "master_password_wo"),
    "aws_redshift_cluster": ("master_password", "master_password_wo"),
    "aws_redshiftserverless_namespace": ("admin_user_password",),
    "aws_docdb_cluster": ("master_password",),
    "aws_neptune_cluster": (),
    "aws_elasticache_replication_group": ("auth_token",),
    "aws_elasticache_cluster": ("auth_token",),
    "aws_dms_endpoint": ("password",),
    "aws_directory_service_directory": ("password",),
    "aws_secretsmanager_secret_version": ("secret_string", "secret_string_wo"),
    "aws_iam_user_login_profile": (),
    "aws_mq_broker": (),
    "aws_opensearch_domain": (),
    "aws_elasticsearch_domain": (),
    "aws_elasticache_user": ("passwords",),
}
"""Resource type -> attributes that hold a credential (nested ones are handled below)."""


def _nested(res: TfResource) -> list[tuple[TfBlock, str]]:
    """(block, attribute) of credentials written inside nested blocks."""
    out: list[tuple[TfBlock, str]] = []
    if res.type == "aws_mq_broker":
        out.extend((u, "password") for u in sub_blocks(res.body, "user"))
    if res.type in ("aws_opensearch_domain", "aws_elasticsearch_domain"):
        for adv in sub_blocks(res.body, "advanced_security_options"):
            out.extend((m, "master_user_password")
                       for m in sub_blocks(adv, "master_user_options"))
    return out


_ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
_SECRET_ACCESS_KEY = re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}",
                                re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]{0,80})\s*=\s*['\"]?"
                         r"([^\s'\"$`(]{6,200})", re.MULTILINE)
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
MAX_USER_DATA = 64 * 1024


def _user_data_texts(value: Any) -> list[str]:
    """The user data as written and, when it is base64, decoded (both bounded). An
    expression the loader did not evaluate (``base64encode("…")``) is read as written."""
    if isinstance(value, Unresolved):
        return [value.text[:MAX_USER_DATA].replace("\\n", "\n")]
    if not isinstance(value, str):
        return []
    text = value[:MAX_USER_DATA]
    out = [text]
    compact = "".join(text.split())
    if len(compact) >= 16 and len(compact) % 4 == 0 and _BASE64.match(compact):
        with contextlib.suppress(ValueError):
            out.append(base64.b64decode(compact, validate=True).decode("utf-8", "replace"))
    return out


def _user_data_secret(value: Any) -> str | None:
    """What kind of credential the user data holds (never the value), else None."""
    for text in _user_data_texts(value):
        if _ACCESS_KEY_ID.search(text):
            return "an AWS access key id"
        if _SECRET_ACCESS_KEY.search(text):
            return "an AWS secret access key"
        for m in _ASSIGNMENT.finditer(text):
            if secret_name(m.group(1)) and literal_secret(m.group(2)):
                return f"a literal value for {m.group(1)}"
    return None


def check_literal_credentials(model: TfModel) -> Iterator[IacHit | Problem]:
    # An unresolved credential is what the rule asks for (supplied at apply time): no problem.
    for res in model.of_type(*CREDENTIAL_ATTRS):
        places: list[tuple[TfBlock, str]] = [(res.body, a) for a in CREDENTIAL_ATTRS[res.type]]
        places.extend(_nested(res))
        for body, attr in places:
            values = as_list(body.get(attr))
            if any(literal_secret(v) for v in values):
                yield hit(LITERAL_CREDENTIAL, res, f"{attr} is a literal value", attr=attr,
                          body=body, evidence=redacted(attr))
    for res in model.of_type("aws_ssm_parameter"):
        kind = res.body.get("type")
        if kind == "SecureString" and literal_secret(res.body.get("value")):
            yield hit(LITERAL_CREDENTIAL, res, "the SecureString value is a literal",
                      attr="value", evidence=redacted("value"))
    for res in model.of_type("aws_instance", "aws_launch_template", "aws_launch_configuration"):
        for attr in ("user_data", "user_data_base64"):
            what = _user_data_secret(res.body.get(attr))
            if what is not None:
                yield hit(LITERAL_CREDENTIAL, res, f"{attr} contains {what}", attr=attr,
                          evidence=redacted(attr))
    for name, path, body in model.providers:
        if name.split(".", 1)[0] != "aws":
            continue
        for attr in ("access_key", "secret_key", "token"):
            if literal_secret(body.get(attr)):
                line = body.line_of(attr)
                yield IacHit(rule_id=LITERAL_CREDENTIAL, path=path, line=line,
                             message=f"provider \"aws\": {attr} is a literal value",
                             resource=f"provider.{name}",
                             block=(body.line, body.end_line or body.line)
                             if body.line is not None else None,
                             evidence=redacted(attr))


CHECKS: list[Check] = [check_rds, check_efs, check_cloudtrail, check_kms, check_sagemaker,
                       check_ecr, check_literal_credentials]
