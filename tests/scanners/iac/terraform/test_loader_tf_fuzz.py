"""Mutated real-shaped Terraform (HCL, JSON syntax, var files, plan JSON): the loader either
builds models or records problems; it never raises and never runs away."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tfload_helpers import write_tree

from secpipe.scanners.iac.model import PROBLEM_RULES, Budget
from secpipe.scanners.iac.terraform import analyse, loader

MAIN_TF = '''variable "env" { default = "prod" }
variable "rules" { default = [{ port = 22, cidr = "0.0.0.0/0" }] }
locals {
  name = "app-${var.env}"
  tags = merge({ Env = var.env }, { Team = "ml" })
  doc  = <<-EOT
    %{ for k, v in local.tags ~}
    ${k}=${v}
    %{ endfor ~}
    EOT
}
resource "aws_s3_bucket" "b" {
  count  = 2
  bucket = "${local.name}-${count.index}"
  tags   = local.tags
  versioning { enabled = true }
}
resource "aws_security_group" "sg" {
  dynamic "ingress" {
    for_each = var.rules
    content {
      from_port   = ingress.value.port
      cidr_blocks = [ingress.value.cidr]
    }
  }
}
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.b[0].id
  policy = jsonencode({ Statement = [{ Effect = "Allow", Principal = "*",
                                       Resource = "${aws_s3_bucket.b[0].arn}/*" }] })
}
module "m" {
  source   = "./m"
  for_each = toset(["a", "b"])
  name     = each.key
}
'''
MODULE_TF = ('variable "name" {}\nresource "x" "y" { n = var.name }\n'
             'output "o" { value = var.name }\n')
PLAN = json.dumps({"format_version": "1.2", "planned_values": {"root_module": {
    "resources": [{"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket",
                   "name": "b", "values": {"bucket": "b", "versioning": [{"enabled": True}]}}],
    "child_modules": [{"address": "module.m", "resources": []}]}},
    "resource_changes": [{"address": "aws_s3_bucket.b",
                          "change": {"after_unknown": {"id": True}}}]})
SAMPLES = {
    "main.tf": MAIN_TF,
    "main.tf.json": json.dumps({"resource": {"aws_s3_bucket": {"b": {
        "bucket": "${var.x}", "versioning": {"enabled": True},
        "dynamic": {"rule": {"for_each": "${var.r}", "content": {"a": "${rule.value}"}}}}}}}),
    "terraform.tfvars": 'env = "dev"\nrules = [{ port = 80, cidr = "10.0.0.0/8" }]\n',
    "plan.json": PLAN,
}
PIECES = ["{", "}", "[", "]", "(", ")", '"', "\\", "\n", "=", "${", "%{", "~", "}", "<<EOT\n",
          "\nEOT\n", "for ", " in ", "if ", "var.", "local.", "each.", "count.index", "...",
          "=>", "[*]", "module.m.", "jsonencode(", "null", "1e400", "\x00", "é", ":", ",", "?"]

mutation = st.tuples(st.floats(0, 1), st.integers(0, 30),
                     st.lists(st.sampled_from(PIECES), max_size=4).map("".join))
EXAMPLES = int(os.environ.get("SECPIPE_FUZZ_EXAMPLES", "60"))


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(rel=st.sampled_from(sorted(SAMPLES)), mutations=st.lists(mutation, max_size=6))
def test_mutated_terraform_never_raises(rel: str, mutations: list[tuple[float, int, str]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_checks", lambda: [])
    text = SAMPLES[rel]
    for where, cut, insert in mutations:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = write_tree(root, {"main.tf": MAIN_TF, "m/main.tf": MODULE_TF, rel: text})
        started = time.monotonic()
        result = analyse(files, root, Budget())
        assert time.monotonic() - started < 10  # generous: CI machines are shared
    for problem in result.problems:
        assert problem.rule_id in PROBLEM_RULES
        assert problem.message and "\n" not in problem.message
    assert 0 <= result.files <= len(files)
