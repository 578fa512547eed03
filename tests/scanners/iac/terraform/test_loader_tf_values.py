"""Parsing, lines and static values of the Terraform loader."""

from __future__ import annotations

import json
from pathlib import Path

from tfload_helpers import by_address, one_model

from secpipe.scanners.iac.model import Ref, Unresolved
from secpipe.scanners.iac.terraform.model import is_unresolved


def test_attributes_blocks_and_lines(tmp_path: Path) -> None:
    model, problems = one_model(tmp_path, {"main.tf": (
        '# storage\n'
        'resource "aws_s3_bucket" "data" {\n'
        '  bucket = "data-bucket"\n'
        '  force_destroy = false\n'
        '  tags = { Team = "ml", "cost-centre" = 42 }\n'
        '  versioning {\n'
        '    enabled = true\n'
        '  }\n'
        '}\n')})
    assert problems == []
    res = by_address(model)["aws_s3_bucket.data"]
    assert (res.mode, res.type, res.name, res.module, res.path) == (
        "resource", "aws_s3_bucket", "data", "", "main.tf")
    assert res.block == (2, 9)
    assert res.body.get("bucket") == "data-bucket"
    assert res.body.get("force_destroy") is False
    assert res.body.get("tags") == {"Team": "ml", "cost-centre": 42}
    versioning = res.body.block("versioning")
    assert versioning is not None and versioning.get("enabled") is True
    assert res.body.line_of("bucket") == 3
    assert res.body.line_of("versioning") == 6
    assert versioning.line_of("enabled") == 7
    assert (versioning.line, versioning.end_line) == (6, 8)


def test_variables_tfvars_and_user_var_files_in_order(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {
        "main.tf": (
            'variable "a" { default = "from-default" }\n'
            'variable "b" { default = "from-default" }\n'
            'variable "c" { default = "from-default" }\n'
            'variable "d" { default = "from-default" }\n'
            'variable "none" {}\n'
            'resource "x_thing" "t" {\n'
            '  a = var.a\n  b = var.b\n  c = var.c\n  d = var.d\n  n = var.none\n'
            '}\n'),
        "terraform.tfvars": 'b = "tfvars"\nc = "tfvars"\nd = "tfvars"\n',
        "terraform.tfvars.json": json.dumps({"c": "tfvars.json"}),
        "x.auto.tfvars": 'd = "auto"\n',
        "env/prod.tfvars": 'd = "user"\n',
    }, tfvars=("env/prod.tfvars",))
    body = by_address(model)["x_thing.t"].body
    assert body.get("a") == "from-default"
    assert body.get("b") == "tfvars"
    assert body.get("c") == "tfvars.json"
    assert body.get("d") == "user"
    assert body.get("n") == Unresolved("var.none", "no default and no tfvars value")


def test_locals_templates_operators_and_conditionals(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "env" { default = "prod" }\n'
        'locals {\n'
        '  name   = "app-${var.env}"\n'
        '  prod   = var.env == "prod"\n'
        '  size   = local.prod ? 3 * 2 + 1 : 1\n'
        '  ratio  = 5 / 2\n'
        '  flag   = !local.prod || false\n'
        '  esc    = "literal $${not} \\"q\\"\\n"\n'
        '  doc    = <<-EOT\n'
        '    line ${local.name}\n'
        '      indented\n'
        '    EOT\n'
        '}\n'
        'resource "x_thing" "t" {\n'
        '  name = local.name\n  size = local.size\n  ratio = local.ratio\n'
        '  flag = local.flag\n  esc = local.esc\n  doc = local.doc\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert body.get("name") == "app-prod"
    assert body.get("size") == 7
    assert body.get("ratio") == 2.5
    assert body.get("flag") is False
    assert body.get("esc") == 'literal ${not} "q"\n'
    assert body.get("doc") == "line app-prod\n  indented\n"


def test_unknown_values_stay_unresolved_with_their_text(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "v" {}\n'
        'resource "x_thing" "t" {\n'
        '  tpl  = "pre-${var.v}"\n'
        '  fn   = md5("abc")\n'
        '  file = file("policy.json")\n'
        '  cond = var.v ? "a" : "b"\n'
        '  same = var.v ? "a" : "a"\n'
        '  list = ["10.0.0.0/8", var.v]\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert body.get("tpl") == Unresolved('"pre-${var.v}"', "no default and no tfvars value")
    assert isinstance(body.get("fn"), Unresolved)
    assert body.get("fn").text == 'md5("abc")'
    assert isinstance(body.get("file"), Unresolved)
    assert isinstance(body.get("cond"), Unresolved)
    assert body.get("same") == "a"
    assert body.get("list")[0] == "10.0.0.0/8" and is_unresolved(body.get("list"))


def test_references_become_refs(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'resource "aws_s3_bucket" "b" { bucket = "b" }\n'
        'resource "aws_s3_bucket_public_access_block" "pab" {\n'
        '  bucket = aws_s3_bucket.b.id\n'
        '}\n'
        'resource "aws_s3_bucket_policy" "p" {\n'
        '  bucket = "${aws_s3_bucket.b.id}"\n'
        '  policy = data.aws_iam_policy_document.p.json\n'
        '  first  = aws_s3_bucket.b[0].arn\n'
        '  all    = aws_s3_bucket.b[*].arn\n'
        '}\n')})
    res = by_address(model)
    assert res["aws_s3_bucket_public_access_block.pab"].body.get("bucket") == Ref(
        "aws_s3_bucket.b", "id")
    policy = res["aws_s3_bucket_policy.p"].body
    assert policy.get("bucket") == Ref("aws_s3_bucket.b", "id")
    assert policy.get("policy") == Ref("data.aws_iam_policy_document.p", "json")
    assert policy.get("first") == Ref("aws_s3_bucket.b", "arn")
    assert policy.get("all") == Ref("aws_s3_bucket.b", "arn")
    target = res["aws_s3_bucket.b"]
    assert model.referencing(target, ["aws_s3_bucket_public_access_block"]) == [
        res["aws_s3_bucket_public_access_block.pab"]]


def test_functions_and_jsonencode_like_terraform(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'locals {\n'
        '  base = { b = 1, a = "x<y" }\n'
        '  l    = ["b", "a", "b"]\n'
        '}\n'
        'resource "x_thing" "t" {\n'
        '  enc    = jsonencode({ Statement = [{ Principal = "*", Effect = "Allow" }],'
        ' Version = "2012-10-17" })\n'
        '  escd   = jsonencode(local.base)\n'
        '  ref    = jsonencode({ Resource = "${aws_s3_bucket.b.arn}/*" })\n'
        '  dec    = jsondecode("{\\"a\\": [1, 2]}")\n'
        '  merged = merge(local.base, { c = true })\n'
        '  cat    = concat(local.l, ["c"])\n'
        '  set    = toset(local.l)\n'
        '  len    = length(local.l)\n'
        '  look   = lookup(local.base, "z", "dflt")\n'
        '  el     = element(local.l, 4)\n'
        '  fmt    = format("%s-%d", "n", 7)\n'
        '  joined = join(",", split("-", "a-b-c"))\n'
        '  up     = upper(lower("MiX"))\n'
        '  co     = coalesce("", "second")\n'
        '  tr     = try(local.base.missing, "fallback")\n'
        '  num    = tonumber("12")\n'
        '  forl   = [for s in local.l : upper(s) if s != "a"]\n'
        '  form   = { for k, v in local.base : k => v }\n'
        '  splat  = [{ id = 1 }, { id = 2 }][*].id\n'
        '  bad    = jsonencode({ p = var.nope })\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert body.get("enc") == ('{"Statement":[{"Effect":"Allow","Principal":"*"}],'
                               '"Version":"2012-10-17"}')
    assert body.get("escd") == '{"a":"x\\u003cy","b":1}'
    assert body.get("ref") == '{"Resource":"${aws_s3_bucket.b.arn}/*"}'
    assert body.get("dec") == {"a": [1, 2]}
    assert body.get("merged") == {"b": 1, "a": "x<y", "c": True}
    assert body.get("cat") == ["b", "a", "b", "c"]
    assert body.get("set") == ["a", "b"]
    assert body.get("len") == 3
    assert body.get("look") == "dflt"
    assert body.get("el") == "a"
    assert body.get("fmt") == "n-7"
    assert body.get("joined") == "a,b,c"
    assert body.get("up") == "MIX"
    assert body.get("co") == "second"
    assert body.get("tr") == "fallback"
    assert body.get("num") == 12
    assert body.get("forl") == ["B", "B"]
    assert body.get("form") == {"a": "x<y", "b": 1}
    assert body.get("splat") == [1, 2]
    assert isinstance(body.get("bad"), Unresolved)


def test_unknown_function_is_unresolved(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'resource "x_thing" "t" { v = somefunc("a") }\n')})
    value = by_address(model)["x_thing.t"].body.get("v")
    assert value == Unresolved('somefunc("a")',
                               "function somefunc() is not evaluated statically")


def test_tf_json_syntax(tmp_path: Path) -> None:
    doc = {
        "variable": {"env": {"default": "dev"}},
        "locals": {"name": "n-${var.env}"},
        "resource": {"aws_s3_bucket": {"b": {
            "bucket": "${local.name}",
            "tags": {"Env": "${var.env}"},
            "versioning": {"enabled": True},
        }}, "aws_s3_bucket_acl": {"a": {"bucket": "${aws_s3_bucket.b.id}", "acl": "private"}}},
    }
    model, problems = one_model(tmp_path, {"main.tf.json": json.dumps(doc)})
    assert problems == []
    res = by_address(model)
    bucket = res["aws_s3_bucket.b"].body
    assert bucket.get("bucket") == "n-dev"
    assert bucket.get("tags") == {"Env": "dev"}
    assert bucket.block("versioning") is not None
    assert bucket.block("versioning").get("enabled") is True  # type: ignore[union-attr]
    assert res["aws_s3_bucket_acl.a"].body.get("bucket") == Ref("aws_s3_bucket.b", "id")
    assert bucket.line is None


def test_providers_are_collected(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'provider "aws" {\n  region = "eu-west-1"\n'
        '  default_tags { tags = { Owner = "ml" } }\n}\n')})
    assert len(model.providers) == 1
    name, path, body = model.providers[0]
    assert (name, path, body.get("region")) == ("aws", "main.tf", "eu-west-1")
    assert body.block("default_tags").get("tags") == {"Owner": "ml"}  # type: ignore[union-attr]


def test_null_means_not_set(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "kms" { default = null }\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  kms = var.kms\n  acl = null\n}\n')})
    body = by_address(model)["aws_s3_bucket.b"].body
    assert not body.has("kms") and not body.has("acl") and body.has("bucket")


def test_template_directives_and_strip_markers(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "m" { default = { a = 1, b = 2 } }\n'
        'variable "on" { default = true }\n'
        'variable "u" {}\n'
        'resource "x_thing" "t" {\n'
        '  loop = <<EOT\n'
        '%{ if var.on }yes%{ else }no%{ endif }\n'
        '%{~ for k, v in var.m ~}\n'
        'item ${k}=${v}\n'
        '%{~ endfor ~}\n'
        'EOT\n'
        '  list = <<-EOT\n'
        '    %{ for k in ["p", "q"] }\n'
        '      - ${k}\n'
        '    %{ endfor }\n'
        '    EOT\n'
        '  unknown = "x %{ if var.u }a%{ endif }"\n'
        '  strip = "a ${~ "b" ~} c %{~ if !var.on ~} no %{~ else ~} yes %{~ endif ~} !"\n'
        '  plain = "~l ~r"\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert body.get("loop") == "yesitem a=1item b=2"
    assert body.get("list") == "\n  - p\n\n  - q\n\n"
    assert isinstance(body.get("unknown"), Unresolved)
    assert body.get("strip") == "abcyes!"
    assert body.get("plain") == "~l ~r"


def test_file_and_templatefile_read_inside_the_project_only(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"secret": true}')
    root = tmp_path / "proj"
    policy = '{"Statement": [{"Effect": "Allow", "Principal": "*"}]}'
    model, _ = one_model(root, {
        "infra/main.tf": (
            'module "m" { source = "./modules/m" }\n'
            'resource "x_thing" "t" {\n'
            '  policy  = file("policy.json")\n'
            '  outside = file("../../outside.json")\n'
            '  abs     = file("/etc/hostname")\n'
            '  missing = file("nope.json")\n'
            '  path    = path.module\n'
            '}\n'),
        "infra/policy.json": policy,
        "infra/modules/m/main.tf": (
            'resource "x_thing" "m" {\n'
            '  path = path.module\n'
            '  doc  = templatefile("${path.module}/doc.tpl", { names = ["a", "b"], n = 2 })\n'
            '}\n'),
        "infra/modules/m/doc.tpl": "n=${n}\n%{ for x in names ~}\n- ${x}\n%{ endfor ~}\n",
    })
    res = by_address(model)
    body = res["x_thing.t"].body
    assert body.get("policy") == policy
    assert isinstance(body.get("outside"), Unresolved)
    assert "outside the project" in body.get("outside").reason
    assert isinstance(body.get("abs"), Unresolved)
    assert isinstance(body.get("missing"), Unresolved)
    assert body.get("path") == "."
    inner = res["module.m.x_thing.m"].body
    assert inner.get("path") == "modules/m"
    assert inner.get("doc") == "n=2\n- a\n- b\n"


def test_more_pure_functions(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "u" {}\n'
        'resource "x_thing" "t" {\n'
        '  subnet  = cidrsubnet("10.0.0.0/16", 8, 2)\n'
        '  subnet6 = cidrsubnet("fd00::/56", 8, 1)\n'
        '  host    = cidrhost("10.0.1.0/24", 5)\n'
        '  badnet  = cidrsubnet("10.0.0.0/30", 8, 1)\n'
        '  one     = one(["x"])\n'
        '  all     = alltrue([true, var.u == 1, false])\n'
        '  any     = anytrue([false, var.u])\n'
        '  zip     = zipmap(["a", "b"], [1, 2])\n'
        '  rng     = range(3)\n'
        '  huge    = range(100000000)\n'
        '  sl      = slice(["a", "b", "c"], 1, 3)\n'
        '  sub     = substr("hello", 1, 3)\n'
        '  union   = setunion(["b"], ["a", "b"])\n'
        '  sorted  = sort(["b", "a"])\n'
        '  rev     = reverse([1, 2])\n'
        '  trims   = trimsuffix(trimprefix(chomp("pre-x-post\\n"), "pre-"), "-post")\n'
        '  total   = sum([1, 2.5])\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert body.get("subnet") == "10.0.2.0/24"
    assert body.get("subnet6") == "fd00:0:0:1::/64"
    assert body.get("host") == "10.0.1.5"
    assert isinstance(body.get("badnet"), Unresolved)
    assert body.get("one") == "x"
    assert body.get("all") is False
    assert isinstance(body.get("any"), Unresolved)
    assert body.get("zip") == {"a": 1, "b": 2}
    assert body.get("rng") == [0, 1, 2]
    assert isinstance(body.get("huge"), Unresolved)
    assert body.get("sl") == ["b", "c"]
    assert body.get("sub") == "ell"
    assert body.get("union") == ["a", "b"]
    assert body.get("sorted") == ["a", "b"]
    assert body.get("rev") == [2, 1]
    assert body.get("trims") == "x"
    assert body.get("total") == 3.5


def test_unresolved_text_masks_secret_looking_tokens(tmp_path: Path) -> None:
    secret = "wJalrXUtnFEMI" "K7MDENGbPxRfiCYEXAMPLEKEY"
    model, _ = one_model(tmp_path, {"main.tf": (
        'variable "p" {}\n'
        f'resource "x_thing" "t" {{ password = "${{var.p}}{secret}" }}\n')})
    value = by_address(model)["x_thing.t"].body.get("password")
    assert isinstance(value, Unresolved)
    assert secret not in value.text and "${var.p}" in value.text


def test_byte_order_mark_and_crlf_are_accepted(tmp_path: Path) -> None:
    model, problems = one_model(tmp_path, {
        "main.tf": b'\xef\xbb\xbfresource "x_thing" "t" {\r\n  a = "b"\r\n}\r\n',
        "more.tf.json": b'\xef\xbb\xbf{"resource": {"x_thing": {"u": {"a": "c"}}}}',
    })
    assert problems == []
    res = by_address(model)
    assert res["x_thing.t"].body.get("a") == "b" and res["x_thing.t"].body.line_of("a") == 2
    assert res["x_thing.u"].body.get("a") == "c"


def test_simple_regular_expressions_only(tmp_path: Path) -> None:
    model, _ = one_model(tmp_path, {"main.tf": (
        'locals { cidrs = ["0.0.0.0/0", "::/0"] }\n'
        'resource "x_thing" "t" {\n'
        '  v4    = [for c in local.cidrs : c if !can(regex(":", c))]\n'
        '  v6    = [for c in local.cidrs : c if can(regex(":", c))]\n'
        '  arn   = regex("^arn:[a-z]+", "arn:aws:s3:::b")\n'
        '  all   = regexall("[0-9]+", "a1b22")\n'
        '  repl  = replace("a-b-c", "/-/", "_")\n'
        '  nomat = regex("x", "abc")\n'
        '  evil  = regex("(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")\n'
        '}\n')})
    body = by_address(model)["x_thing.t"].body
    assert body.get("v4") == ["0.0.0.0/0"]
    assert body.get("v6") == ["::/0"]
    assert body.get("arn") == "arn:aws"
    assert body.get("all") == ["1", "22"]
    assert body.get("repl") == "a_b_c"
    assert isinstance(body.get("nomat"), Unresolved)
    evil = body.get("evil")
    assert isinstance(evil, Unresolved) and "not evaluated" in evil.reason
