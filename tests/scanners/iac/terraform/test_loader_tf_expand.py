"""count, for_each, dynamic blocks and local modules in the Terraform loader."""

from __future__ import annotations

import json
from pathlib import Path

from tfload_helpers import by_address, load_tree, one_model

from secpipe.scanners.iac.model import Budget, Ref, Unresolved


def test_count_zero_gives_no_instance_and_two_gives_two(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "enabled" { default = false }\n'
        'resource "aws_s3_bucket" "off" {\n'
        '  count  = var.enabled ? 1 : 0\n'
        '  bucket = "off"\n'
        '}\n'
        'resource "aws_s3_bucket" "two" {\n'
        '  count  = 2\n'
        '  bucket = "b-${count.index}"\n'
        '}\n')})
    res = by_address(model)
    assert not any(a.startswith("aws_s3_bucket.off") for a in res)
    assert res["aws_s3_bucket.two[0]"].body.get("bucket") == "b-0"
    assert res["aws_s3_bucket.two[1]"].body.get("bucket") == "b-1"
    assert res["aws_s3_bucket.two[1]"].base_address == "aws_s3_bucket.two"
    assert "count" not in res["aws_s3_bucket.two[0]"].body.attrs


def test_for_each_map_and_unknown_for_each(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "unknown" {}\n'
        'resource "aws_s3_bucket" "b" {\n'
        '  for_each = { logs = "private", web = "public-read" }\n'
        '  bucket   = each.key\n'
        '  acl      = each.value\n'
        '}\n'
        'resource "aws_s3_bucket" "u" {\n'
        '  for_each = var.unknown\n'
        '  bucket   = each.key\n'
        '}\n')})
    res = by_address(model)
    assert res['aws_s3_bucket.b["logs"]'].body.get("acl") == "private"
    assert res['aws_s3_bucket.b["web"]'].body.get("acl") == "public-read"
    assert res['aws_s3_bucket.b["web"]'].body.get("bucket") == "web"
    unknown = res["aws_s3_bucket.u[?]"]
    assert isinstance(unknown.body.get("bucket"), Unresolved)
    assert unknown.base_address == "aws_s3_bucket.u"


def test_dynamic_blocks_expand_or_stay_unresolved(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "rules" {\n'
        '  default = [{ port = 22, cidr = "0.0.0.0/0" }, { port = 443, cidr = "::/0" }]\n'
        '}\n'
        'variable "unknown" {}\n'
        'resource "aws_security_group" "sg" {\n'
        '  dynamic "ingress" {\n'
        '    for_each = var.rules\n'
        '    iterator = rule\n'
        '    content {\n'
        '      from_port   = rule.value.port\n'
        '      cidr_blocks = [rule.value.cidr]\n'
        '    }\n'
        '  }\n'
        '  dynamic "egress" {\n'
        '    for_each = var.unknown\n'
        '    content { cidr_blocks = egress.value.cidrs }\n'
        '  }\n'
        '  ingress {\n'
        '    from_port = 80\n'
        '  }\n'
        '}\n')})
    sg = by_address(model)["aws_security_group.sg"].body
    ingress = sg.blocks("ingress")
    assert [b.get("from_port") for b in ingress] == [22, 443, 80]
    assert ingress[1].get("cidr_blocks") == ["::/0"]
    assert ingress[0].line_of("from_port") == 10
    egress = sg.blocks("egress")
    assert len(egress) == 1 and isinstance(egress[0].get("cidr_blocks"), Unresolved)


def test_local_module_followed_with_arguments_and_prefix(tmp_path: Path) -> None:
    model, problems = one_model(tmp_path, {
        "main.tf": (
            'module "store" {\n'
            '  source = "./modules/store"\n'
            '  name   = "data"\n'
            '}\n'
            'module "many" {\n'
            '  source = "./modules/store"\n'
            '  count  = 2\n'
            '  name   = "m${count.index}"\n'
            '}\n'
            'resource "x_user" "u" {\n'
            '  bucket = module.store.bucket_name\n'
            '  second = module.many[1].bucket_name\n'
            '}\n'),
        "modules/store/main.tf": (
            'variable "name" {}\n'
            'variable "acl" { default = "private" }\n'
            'resource "aws_s3_bucket" "b" { bucket = var.name }\n'
            'resource "aws_s3_bucket_acl" "a" {\n'
            '  bucket = aws_s3_bucket.b.id\n'
            '  acl    = var.acl\n'
            '}\n'
            'output "bucket_name" { value = "${var.name}-bucket" }\n'),
    })
    assert problems == []
    assert model.root == "."
    res = by_address(model)
    assert res["module.store.aws_s3_bucket.b"].body.get("bucket") == "data"
    assert res["module.store.aws_s3_bucket.b"].module == "module.store"
    assert res["module.store.aws_s3_bucket.b"].path == "modules/store/main.tf"
    acl = res["module.store.aws_s3_bucket_acl.a"]
    assert acl.body.get("bucket") == Ref("module.store.aws_s3_bucket.b", "id")
    assert model.referencing(res["module.store.aws_s3_bucket.b"], ["aws_s3_bucket_acl"]) == [acl]
    assert res["module.many[1].aws_s3_bucket.b"].body.get("bucket") == "m1"
    assert res["module.many[1].aws_s3_bucket.b"].base_address == "module.many[1].aws_s3_bucket.b"
    assert res["x_user.u"].body.get("bucket") == "data-bucket"
    assert res["x_user.u"].body.get("second") == "m1-bucket"


def test_module_loop_is_cut_and_reported(tmp_path: Path) -> None:
    models, problems = load_tree(tmp_path, {
        "a/main.tf": 'module "b" { source = "../b" }\nresource "x_a" "a" {}\n',
        "b/main.tf": 'module "a" { source = "../a" }\nresource "x_b" "b" {}\n',
    })
    assert models, "a folder reached only through a loop is still analysed"
    assert any(p.rule_id == "iac.module-unavailable" and "loop" in p.message
               for p in problems)
    for model in models:
        assert len(model.resources) == 2


def test_module_depth_bound(tmp_path: Path) -> None:
    files = {f"m{i}/main.tf": f'module "n" {{ source = "../m{i + 1}" }}\nresource "x" "r{i}" {{}}\n'
             for i in range(5)}
    files["m5/main.tf"] = 'resource "x" "r5" {}\n'
    models, problems = load_tree(tmp_path, files, budget=Budget(max_module_depth=2))
    assert [m.root for m in models] == ["m0"]
    assert any(p.rule_id == "iac.budget-exceeded" and "nested deeper" in p.message
               for p in problems)
    assert len(models[0].resources) == 3


def test_remote_module_source_is_reported_once(tmp_path: Path) -> None:
    _, problems = one_model(tmp_path, {"main.tf": (
        'module "vpc" {\n'
        '  source  = "terraform-aws-modules/vpc/aws"\n'
        '  count   = 3\n'
        '}\n'
        'module "git" { source = "git::https://example.com/m.git" }\n')})
    remote = [p for p in problems if p.rule_id == "iac.module-unavailable"]
    assert [p.line for p in remote] == [1, 5]
    assert all(p.path == "main.tf" for p in remote)


def test_called_folder_is_not_also_a_root(tmp_path: Path) -> None:
    models, _ = load_tree(tmp_path, {
        "main.tf": 'module "m" { source = "./mod" }\n',
        "mod/main.tf": 'resource "x" "y" {}\n',
        "other/main.tf": 'resource "x" "z" {}\n',
    })
    assert sorted(m.root for m in models) == [".", "other"]


def test_for_each_module_outputs_by_key(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {
        "main.tf": (
            'module "m" {\n'
            '  source   = "./m"\n'
            '  for_each = toset(["a", "b"])\n'
            '  name     = "n-${each.key}"\n'
            '}\n'
            'resource "x_user" "u" {\n'
            '  a = module.m["a"].name\n'
            '  r = module.m["b"].ref\n'
            '  z = module.m["zzz"].name\n'
            '}\n'),
        "m/main.tf": (
            'variable "name" {}\n'
            'resource "aws_s3_bucket" "b" { bucket = var.name }\n'
            'output "name" { value = var.name }\n'
            'output "ref" { value = aws_s3_bucket.b.arn }\n'),
    })
    body = by_address(model)["x_user.u"].body
    assert body.get("a") == "n-a"
    assert body.get("r") == Ref('module.m["b"].aws_s3_bucket.b', "arn")
    assert isinstance(body.get("z"), Unresolved)
    assert by_address(model)['module.m["b"].aws_s3_bucket.b'].body.get("bucket") == "n-b"


def test_module_source_credentials_are_not_repeated(tmp_path: Path) -> None:
    token = "ghp_" + "0123456789abcdefABCDEF0123456789abcd"
    _, problems = one_model(tmp_path, {"main.tf": (
        f'module "a" {{ source = "git::https://user:{token}@example.com/m.git" }}\n'
        f'module "b" {{ source = "https://example.com/m.zip?token={token}" }}\n'
        'module "c" { source = "./missing" }\n')})
    messages = [p.message for p in problems]
    assert len(messages) == 3
    assert all(token not in m for m in messages)
    assert "not among the scanned files" in messages[2]


def test_override_files_merge_into_the_block_they_override(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {
        "main.tf": (
            'variable "acl" { default = "private" }\n'
            'resource "aws_s3_bucket" "b" {\n'
            '  bucket = "b"\n'
            '  acl    = var.acl\n'
            '  versioning { enabled = true }\n'
            '  logging { target_bucket = "logs" }\n'
            '}\n'),
        "override.tf": (
            'variable "acl" { default = "public-read" }\n'
            'resource "aws_s3_bucket" "b" {\n'
            '  versioning { enabled = false }\n'
            '}\n'),
        "z_override.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "renamed"\n}\n',
    })
    assert [r.address for r in model.resources] == ["aws_s3_bucket.b"]
    bucket = model.resources[0]
    assert bucket.path == "main.tf"
    assert bucket.body.get("bucket") == "renamed"
    assert bucket.body.get("acl") == "public-read"
    assert [b.get("enabled") for b in bucket.body.blocks("versioning")] == [False]
    assert bucket.body.block("logging").get("target_bucket") == "logs"  # type: ignore[union-attr]
    assert bucket.body.line_of("bucket") == 2  # the override's line is not in main.tf
    assert bucket.body.line_of("logging") == 6


def test_tf_json_modules_and_outputs_take_object_arguments(tmp_path: Path) -> None:
    model, problems = one_model(tmp_path, {
        "main.tf.json": json.dumps({
            "module": {"m": {"source": "./m", "settings": {"acl": "private"}}},
            "resource": {"x_user": {"u": {"out": "${module.m.echo}"}}},
        }),
        "m/main.tf.json": json.dumps({
            "variable": {"settings": {}},
            "resource": {"aws_lambda_function": {"f": {
                "environment": {"variables": {"MODE": "${var.settings.acl}"}}}}},
            "output": {"echo": {"value": {"k": "${var.settings.acl}"}}},
        }),
    })
    assert problems == []
    res = by_address(model)
    env = res["module.m.aws_lambda_function.f"].body.block("environment")
    assert env is not None and env.get("variables") == {"MODE": "private"}
    assert res["x_user.u"].body.get("out") == {"k": "private"}
