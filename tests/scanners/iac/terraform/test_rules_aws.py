"""The AWS rule table as a whole: metadata every rule must carry, each rule's documented bad
example reported and good example not (through the real loader), and no check raising on
hostile or ill-typed models."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from test_rules_aws_support import hits, model_of, run_model

from secpipe.scanners.iac.model import PROBLEM_RULES, IacHit, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform import loader
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_aws import CHECKS, RULES

ALIAS = re.compile(r"^(CKV2?_AWS_\d+|AVD-AWS-\d{4}|aws-[a-z0-9-]+)$")


def test_rule_count_and_ids() -> None:
    assert 40 <= len(RULES) <= 60
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert re.fullmatch(r"iac\.aws\.[a-z0-9-]+", rule_id), rule_id
        assert rule.framework == "terraform"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_metadata_is_complete(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule.title and rule.rationale and rule.fix and rule.bad and rule.good
    assert re.fullmatch(r"CWE-\d+", rule.cwe)
    assert any(c.startswith("NIST-800-53:") for c in rule.controls)
    assert all(re.fullmatch(r"(NIST-800-53:[A-Z]{2}-\d+(\(\d+\))?|CIS-AWS-\d+(\.\d+)*)", c)
               for c in rule.controls), rule.controls
    assert all(ALIAS.match(a) for a in rule.aliases), rule.aliases
    assert len(set(rule.aliases)) == len(rule.aliases)


def test_rules_are_registered_with_the_loader() -> None:
    assert set(RULES) <= set(loader.RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_documented_bad_example_is_reported_and_good_is_not(rule_id: str,
                                                            tmp_path: Path) -> None:
    rule = RULES[rule_id]
    bad = run_model(model_of(tmp_path / "bad", {"main.tf": rule.bad}))
    assert hits(bad, rule_id), f"{rule_id}: bad example not reported"
    good = run_model(model_of(tmp_path / "good", {"main.tf": rule.good}))
    assert hits(good, rule_id) == [], f"{rule_id}: good example reported"


# --- hostile models ------------------------------------------------------------------------

TYPES = sorted({
    "aws_s3_bucket", "aws_s3_bucket_acl", "aws_s3_bucket_public_access_block",
    "aws_s3_account_public_access_block", "aws_s3_bucket_policy", "aws_s3_bucket_versioning",
    "aws_s3_bucket_logging", "aws_s3_bucket_server_side_encryption_configuration",
    "aws_security_group", "aws_default_security_group", "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule", "aws_iam_policy", "aws_iam_role",
    "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_policy_attachment",
    "aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_db_instance",
    "aws_rds_cluster", "aws_rds_cluster_instance", "aws_ebs_volume",
    "aws_ebs_encryption_by_default", "aws_instance", "aws_launch_template",
    "aws_launch_configuration", "aws_efs_file_system", "aws_cloudtrail", "aws_kms_key",
    "aws_eks_cluster", "aws_ecs_task_definition", "aws_lambda_function",
    "aws_lambda_function_url", "aws_lambda_permission", "aws_sagemaker_notebook_instance",
    "aws_sagemaker_endpoint_configuration", "aws_sagemaker_model", "aws_ecr_repository",
    "aws_ecr_repository_policy", "aws_ecr_registry_scanning_configuration",
    "aws_ssm_parameter", "aws_secretsmanager_secret_version", "aws_mq_broker",
    "aws_opensearch_domain", "aws_ec2_instance_metadata_defaults",
    "aws_ssoadmin_permission_set_inline_policy",
})
ATTRS = (
    "acl", "bucket", "grant", "access_control_policy", "block_public_acls", "block_public_policy",
    "ignore_public_acls", "restrict_public_buckets", "policy", "versioning",
    "versioning_configuration", "logging", "target_bucket", "server_side_encryption_configuration",
    "ingress", "type", "from_port", "to_port", "protocol", "ip_protocol", "cidr_blocks",
    "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6", "assume_role_policy", "inline_policy",
    "managed_policy_arns", "policy_arn", "users", "user", "storage_encrypted",
    "publicly_accessible", "backup_retention_period", "deletion_protection", "engine",
    "engine_mode", "iam_database_authentication_enabled", "replicate_source_db", "password",
    "master_password", "encrypted", "enabled", "root_block_device", "ebs_block_device",
    "block_device_mappings", "launch_template", "metadata_options", "is_multi_region_trail",
    "enable_log_file_validation", "kms_key_id", "enable_key_rotation",
    "customer_master_key_spec", "key_usage", "vpc_config", "encryption_config",
    "enabled_cluster_log_types", "container_definitions", "environment", "tracing_config",
    "authorization_type", "principal", "direct_internet_access", "root_access",
    "kms_key_arn", "enable_network_isolation", "image_scanning_configuration",
    "image_tag_mutability", "rule", "value", "secret_string", "advanced_security_options",
    "http_tokens", "snapshot_identifier",
)


def _deep_list(depth: int) -> list[Any]:
    out: list[Any] = []
    for _ in range(depth):
        out = [out]
    return out


def _nested(value: Any) -> TfBlock:
    return TfBlock(attrs={a: value for a in ATTRS}, line=3, end_line=4)


JUNK: list[Any] = [
    None, 0, -1, 70000, 1.5, True, "", "*", "0.0.0.0/0", "{", '{"Statement": 5}',
    '{"Statement": [{"Effect": "Allow", "Action": {"x": 1}, "Principal": 7}]}',
    '[' * 5000, [], [None, 3], _deep_list(3000), [{"a": 1}, [1, [2]]], {},
    {"Statement": [None]}, {"a": Unresolved("x")},
    Unresolved("var.x", "no value"), Ref("aws_s3_bucket.b", "id"),
    Ref("data.aws_iam_policy_document.missing", "json"), [Unresolved("var.y")],
]


@pytest.mark.parametrize("junk", JUNK, ids=lambda j: type(j).__name__)
def test_checks_never_raise_on_ill_typed_models(junk: Any) -> None:
    resources: list[TfResource] = []
    for kind in TYPES:
        for nested in (False, True):
            attrs: dict[str, Any] = {a: junk for a in ATTRS}
            if nested:
                attrs.update({a: [_nested(junk)] for a in (
                    "ingress", "grant", "access_control_policy", "versioning",
                    "versioning_configuration", "root_block_device", "ebs_block_device",
                    "block_device_mappings", "metadata_options", "vpc_config",
                    "encryption_config", "environment", "tracing_config",
                    "image_scanning_configuration", "rule", "inline_policy",
                    "advanced_security_options", "logging")})
            name = "n" if nested else "p"
            resources.append(TfResource(
                mode="resource", type=kind, name=name, address=f"{kind}.{name}", module="",
                path="main.tf", body=TfBlock(attrs=attrs, line=1, end_line=9)))
    model = TfModel(resources=resources, root=".",
                    providers=[("aws", "main.tf", _nested(junk))])
    for check in CHECKS:
        for item in check(model):
            assert isinstance(item, IacHit | Problem)
            if isinstance(item, IacHit):
                assert item.rule_id in RULES
            else:
                assert item.rule_id in PROBLEM_RULES


def test_checks_read_a_terraform_plan(tmp_path: Path) -> None:
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": [
            {"address": "aws_security_group.web", "mode": "managed",
             "type": "aws_security_group", "name": "web",
             "values": {"ingress": [{"from_port": 3389, "to_port": 3389, "protocol": "tcp",
                                     "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []}]}},
            {"address": "aws_db_instance.db", "mode": "managed", "type": "aws_db_instance",
             "name": "db", "values": {"engine": "mysql", "storage_encrypted": False,
                                      "publicly_accessible": True}},
        ]}},
        "resource_changes": [], "configuration": {},
    }
    found = run_model(model_of(tmp_path, {"plan.json": json.dumps(plan)}))
    assert [h.resource for h in hits(found, "iac.aws.sg-open-admin-port")] == [
        "aws_security_group.web"]
    assert len(hits(found, "iac.aws.rds-encryption")) == 1
    assert len(hits(found, "iac.aws.rds-public")) == 1


def test_many_buckets_are_checked_in_linear_time() -> None:
    resources: list[TfResource] = []
    for i in range(3000):
        resources.append(TfResource(
            mode="resource", type="aws_s3_bucket", name=f"b{i}", address=f"aws_s3_bucket.b{i}",
            module="", path="main.tf", body=TfBlock({"bucket": f"acme-{i}"}, 1, 3)))
        for kind in ("aws_s3_bucket_public_access_block", "aws_s3_bucket_versioning",
                     "aws_s3_bucket_logging",
                     "aws_s3_bucket_server_side_encryption_configuration"):
            resources.append(TfResource(
                mode="resource", type=kind, name=f"b{i}", address=f"{kind}.b{i}", module="",
                path="main.tf", body=TfBlock({"bucket": Ref(f"aws_s3_bucket.b{i}", "id")}, 4, 9)))
    model = TfModel(resources=resources, root=".")
    started = time.monotonic()
    found = [item for check in CHECKS for item in check(model)]
    assert time.monotonic() - started < 5
    assert not [h for h in found if h.rule_id == "iac.aws.s3-encryption"]
