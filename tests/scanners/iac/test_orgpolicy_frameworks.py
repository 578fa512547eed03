"""Organisation policies on what the real framework modules produce: Terraform (nested blocks,
dynamic blocks, count, unresolved variables, separate rule resources), Kubernetes manifests and
Dockerfiles, with inline suppressions applied to the org rules' hits as the step does."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from secpipe.scanners.iac import docker, kubernetes, terraform
from secpipe.scanners.iac.model import Analysis, Budget, IacFile, rule_table
from secpipe.scanners.iac.orgpolicy import compile_policies, evaluate
from secpipe.scanners.iac.suppress import apply, parse_comments

OPEN_INGRESS: dict[str, Any] = {
    "id": "org.no-open-ingress", "title": "Ingress is not open to the internet",
    "severity": "high",
    "resource": ["aws_security_group", "aws_security_group_rule",
                 "aws_vpc_security_group_ingress_rule"],
    "attribute": ["ingress[*].cidr_blocks", "ingress[*].ipv6_cidr_blocks", "cidr_blocks",
                  "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6"],
    "not_contains": ["0.0.0.0/0", "::/0"]}

TF = """variable "extra_cidr" {}
variable "ports" {
  default = [443, 22]
}
resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = 443
    cidr_blocks = ["10.0.0.0/8"]
  }
  ingress {
    from_port        = 22
    ipv6_cidr_blocks = ["::/0"]
  }
}
resource "aws_security_group" "dyn" {
  name = "dyn"
  dynamic "ingress" {
    for_each = var.ports
    content {
      from_port   = ingress.value
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}
resource "aws_security_group_rule" "ssh" {
  count       = 2
  type        = "ingress"
  cidr_blocks = ["0.0.0.0/0"]
}
resource "aws_vpc_security_group_ingress_rule" "v6" {
  cidr_ipv6 = "::/0"
}
resource "aws_vpc_security_group_ingress_rule" "internal" {
  cidr_ipv4 = "10.0.0.0/16"
}
resource "aws_security_group" "unknown" {
  name = "unknown"
  ingress {
    cidr_blocks = [var.extra_cidr]
  }
}
# secpipe:ignore org.no-open-ingress reason="bastion, reviewed by SEC-12" expires=2099-01-01
resource "aws_security_group" "bastion" {
  name = "bastion"
  ingress {
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"""


def files(root: Path, name: str, text: str) -> list[IacFile]:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return [IacFile(str(path), name, path.stat().st_size)]


def test_open_ingress_across_terraform_forms(tmp_path: Path) -> None:
    analysis = terraform.analyse(files(tmp_path, "net.tf", TF), tmp_path, Budget())
    rules = compile_policies([OPEN_INGRESS])
    hits, problems, described = evaluate(rules, analysis.resources)
    fired = sorted(h.resource for h in hits)
    assert fired == ["aws_security_group.bastion", "aws_security_group.dyn",
                     "aws_security_group.web", "aws_security_group_rule.ssh[0]",
                     "aws_security_group_rule.ssh[1]",
                     "aws_vpc_security_group_ingress_rule.v6"], fired
    web = next(h for h in hits if h.resource == "aws_security_group.web")
    assert web.line == 13 and "ipv6_cidr_blocks" in web.message and "::/0" in web.message
    dyn = next(h for h in hits if h.resource == "aws_security_group.dyn")
    assert "(and 1 more)" in dyn.message  # both dynamic blocks are open
    # var.extra_cidr has no value: not judged, and said so
    (unresolved,) = problems
    assert unresolved.rule_id == "iac.unresolved" and "aws_security_group.unknown" in \
        unresolved.message and "var.extra_cidr" in unresolved.message
    # the inline suppression above the bastion applies to the org rule's hit
    inlines, bad = parse_comments(TF, "net.tf", today=dt.date(2026, 12, 4))
    assert bad == []
    marked = {h.resource: m for h, m in apply(hits, inlines, rule_table(described),
                                               dt.date(2026, 12, 4))}
    assert marked["aws_security_group.bastion"] is not None
    assert [r for r, m in marked.items() if m is not None] == ["aws_security_group.bastion"]


K8S = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app.kubernetes.io/name: web
spec:
  template:
    spec:
      containers:
      - name: app
        image: registry.example.com/web:1.2
        securityContext:
          runAsNonRoot: true
      - name: sidecar
        image: docker.io/library/nginx:latest
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: sh
    image: registry.example.com/debug:1
"""


def test_kubernetes_kinds_and_list_paths(tmp_path: Path) -> None:
    analysis: Analysis = kubernetes.analyse(files(tmp_path, "k8s/web.yaml", K8S), [], tmp_path,
                                            Budget())
    rules = compile_policies([
        {"id": "org.registry", "title": "Images come from our registry", "severity": "high",
         "resource": ["Deployment", "Pod"],
         "attribute": ["spec.template.spec.containers[*].image", "spec.containers[*].image"],
         "matches": r"^registry\.example\.com/"},
        {"id": "org.non-root", "title": "Containers run as non-root", "severity": "medium",
         "resource": "Deployment", "where": {"attribute": "metadata.namespace", "equals": "shop"},
         "attribute": "spec.template.spec.containers[*].securityContext.runAsNonRoot",
         "equals": True},
    ])
    hits, problems, _ = evaluate(rules, analysis.resources)
    assert problems == []
    by_rule = {h.rule_id: h for h in hits}
    assert sorted(by_rule) == ["org.non-root", "org.registry"]
    registry = by_rule["org.registry"]
    assert registry.path == "k8s/web.yaml" and "containers[1].image" in registry.message
    assert registry.line == 17  # the sidecar's image line
    assert "docker.io/library/nginx:latest" in registry.message
    assert "containers[1].securityContext is missing" not in by_rule["org.non-root"].message
    assert "containers[1].securityContext.runAsNonRoot is missing" in \
        by_rule["org.non-root"].message


def test_dockerfile_stage_user(tmp_path: Path) -> None:
    text = "FROM python:3.11 AS build\nRUN pip wheel .\nFROM python:3.11-slim\nUSER app\n"
    analysis = docker.analyse(files(tmp_path, "Dockerfile", text), [], tmp_path, Budget())
    rules = compile_policies([{"id": "org.pinned-base", "title": "Base images are pinned",
                               "severity": "low", "resource": "dockerfile",
                               "attribute": "base", "matches": "@sha256:[0-9a-f]{64}$"}])
    hits, problems, described = evaluate(rules, analysis.resources)
    assert problems == [] and len(hits) == 2
    assert described[0].framework == "dockerfile"
    assert sorted(h.line or 0 for h in hits) == [1, 3]
