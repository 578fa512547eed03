"""Terraform plan JSON (``terraform show -json``) into a model."""

from __future__ import annotations

import json
from pathlib import Path

from tfload_helpers import by_address, load_tree

from secpipe.scanners.iac.model import Ref, Unresolved


def _plan() -> dict[str, object]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.7.5",
        "planned_values": {"root_module": {
            "resources": [
                {"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket",
                 "name": "logs", "provider_name": "registry.terraform.io/hashicorp/aws",
                 "values": {"bucket": "logs", "force_destroy": False,
                            "tags": {"Team": "ml"},
                            "versioning": [{"enabled": True, "mfa_delete": False}]}},
                {"address": "aws_s3_bucket_policy.p", "mode": "managed",
                 "type": "aws_s3_bucket_policy", "name": "p",
                 "values": {"policy": '{"Statement":[]}'}},
            ],
            "child_modules": [{
                "address": "module.net",
                "resources": [
                    {"address": "module.net.aws_security_group.sg[0]", "mode": "managed",
                     "type": "aws_security_group", "name": "sg", "index": 0,
                     "values": {"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 22,
                                             "ipv6_cidr_blocks": []}]}},
                ],
                "child_modules": [{
                    "address": "module.net.module.inner",
                    "resources": [
                        {"address": "module.net.module.inner.aws_kms_key.k", "mode": "managed",
                         "type": "aws_kms_key", "name": "k",
                         "values": {"enable_key_rotation": False}},
                    ],
                }],
            }],
        }},
        "resource_changes": [
            {"address": "aws_s3_bucket_policy.p", "mode": "managed",
             "type": "aws_s3_bucket_policy", "name": "p",
             "change": {"actions": ["create"], "before": None,
                        "after": {"policy": '{"Statement":[]}'},
                        "after_unknown": {"bucket": True, "id": True}}},
            {"address": "module.net.aws_security_group.sg[0]",
             "module_address": "module.net", "mode": "managed",
             "type": "aws_security_group", "name": "sg", "index": 0,
             "change": {"actions": ["create"], "after_unknown": {
                 "vpc_id": True, "ingress": [{"security_groups": True}]}}},
        ],
        "configuration": {
            "provider_config": {"aws": {"name": "aws", "expressions": {
                "region": {"constant_value": "eu-west-1"}}}},
            "root_module": {
                "resources": [{"address": "aws_s3_bucket_policy.p", "mode": "managed",
                               "type": "aws_s3_bucket_policy", "name": "p", "expressions": {
                                   "bucket": {"references": ["aws_s3_bucket.logs.id",
                                                             "aws_s3_bucket.logs"]}}}],
                "module_calls": {"net": {"source": "./net", "module": {"resources": [
                    {"address": "aws_security_group.sg", "mode": "managed",
                     "type": "aws_security_group", "name": "sg", "expressions": {
                         "vpc_id": {"references": ["var.vpc"]}}}]}}},
            },
        },
    }


def test_plan_resources_values_unknowns_and_refs(tmp_path: Path) -> None:
    models, problems = load_tree(tmp_path, {"plan/tfplan.json": json.dumps(_plan())})
    assert problems == []
    assert len(models) == 1
    model = models[0]
    assert model.root == "plan/tfplan.json"
    res = by_address(model)
    logs = res["aws_s3_bucket.logs"]
    assert logs.path == "plan/tfplan.json" and logs.line is None
    assert logs.body.get("tags") == {"Team": "ml"}
    assert logs.body.block("versioning").get("enabled") is True  # type: ignore[union-attr]
    policy = res["aws_s3_bucket_policy.p"]
    assert policy.body.get("bucket") == Ref("aws_s3_bucket.logs", "id")
    assert isinstance(policy.body.get("id"), Unresolved)
    assert model.referencing(logs, ["aws_s3_bucket_policy"]) == [policy]
    sg = res["module.net.aws_security_group.sg[0]"]
    assert sg.module == "module.net" and sg.base_address == "module.net.aws_security_group.sg"
    assert isinstance(sg.body.get("vpc_id"), Unresolved)  # a var reference stays unresolved
    ingress = sg.body.blocks("ingress")
    assert ingress[0].get("cidr_blocks") == ["0.0.0.0/0"]
    assert isinstance(ingress[0].get("security_groups"), Unresolved)
    key = res["module.net.module.inner.aws_kms_key.k"]
    assert key.module == "module.net.module.inner"
    assert key.body.get("enable_key_rotation") is False
    assert model.providers[0][0] == "aws"
    assert model.providers[0][2].get("region") == "eu-west-1"


def test_json_that_is_not_a_plan_gives_no_model(tmp_path: Path) -> None:
    models, problems = load_tree(tmp_path, {"other.json": json.dumps({"format_version": "1"})})
    assert models == [] and problems == []


def test_broken_plan_json_is_a_parse_error(tmp_path: Path) -> None:
    models, problems = load_tree(tmp_path, {"tfplan.json": '{"format_version": "1.2", '})
    assert models == []
    assert [p.rule_id for p in problems] == ["iac.parse-error"]
