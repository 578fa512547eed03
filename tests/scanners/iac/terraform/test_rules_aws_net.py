"""AWS security group rules through the real loader: internet ingress to admin ports, every
port and database ports, in every resource form; egress, web ports, private CIDRs and
tfvars-narrowed ranges stay quiet; unknown CIDRs are ``iac.unresolved``."""

from __future__ import annotations

from pathlib import Path

from test_rules_aws_support import hits, model_of, run_model, scan, unresolved

from secpipe.scanners.iac.terraform.rules_aws_net import (
    NACL_ADMIN,
    SG_ADMIN,
    SG_ALL,
    SG_DATABASE,
    SG_DEFAULT,
)

SG = """
resource "aws_security_group" "web" {
  name = "web"
  ingress {
    from_port   = %s
    to_port     = %s
    protocol    = "%s"
    cidr_blocks = %s
  }
}
"""


def sg(low: object, high: object, proto: str = "tcp", cidrs: str = '["0.0.0.0/0"]') -> str:
    return SG % (low, high, proto, cidrs)


def test_ssh_from_internet_fires_on_the_cidr_line(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, sg(22, 22)), SG_ADMIN)
    assert h.resource == "aws_security_group.web" and h.line == 8
    assert "port 22 (SSH)" in h.message and '"0.0.0.0/0"' in h.message


def test_rdp_from_ipv6_internet_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, sg(3389, 3389, cidrs="[]").replace(
        "cidr_blocks = []", 'ipv6_cidr_blocks = ["::/0"]'))
    [h] = hits(found, SG_ADMIN)
    assert "RDP" in h.message and "::/0" in h.message


def test_port_range_including_ssh_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, sg(0, 1024)), SG_ADMIN)
    assert "ports 0-1024" in h.message


def test_all_protocols_fires_the_all_ports_rule_only(tmp_path: Path) -> None:
    found = scan(tmp_path, sg(0, 0, "-1"))
    assert len(hits(found, SG_ALL)) == 1
    assert hits(found, SG_ADMIN) == []


def test_tcp_full_range_is_all_ports(tmp_path: Path) -> None:
    assert len(hits(scan(tmp_path, sg(0, 65535)), SG_ALL)) == 1


def test_web_ports_from_internet_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, sg(443, 443) + sg(80, 80).replace('"web"', '"web2"'))
    assert hits(found, SG_ADMIN) == hits(found, SG_ALL) == hits(found, SG_DATABASE) == []


def test_ssh_from_private_cidr_is_quiet(tmp_path: Path) -> None:
    assert hits(scan(tmp_path, sg(22, 22, cidrs='["10.0.0.0/8"]')), SG_ADMIN) == []


def test_icmp_from_internet_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, sg(-1, -1, "icmp"))
    assert hits(found, SG_ADMIN) == hits(found, SG_ALL) == []


def test_database_port_from_internet_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, sg(5432, 5432)), SG_DATABASE)
    assert "PostgreSQL" in h.message


def test_security_group_rule_ingress_fires_and_egress_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_security_group_rule" "ssh" {
  type              = "ingress"
  from_port         = 22
  to_port           = 22
  protocol          = "tcp"
  cidr_blocks       = ["10.0.0.0/8", "0.0.0.0/0"]
  security_group_id = "sg-123"
}
resource "aws_security_group_rule" "out" {
  type              = "egress"
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = "sg-123"
}
""")
    [h] = hits(found, SG_ADMIN)
    assert h.resource == "aws_security_group_rule.ssh"
    assert hits(found, SG_ALL) == []


def test_vpc_ingress_rule_ipv4_and_ipv6_forms(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_vpc_security_group_ingress_rule" "all6" {
  security_group_id = "sg-1"
  cidr_ipv6         = "::/0"
  ip_protocol       = "-1"
}
resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = "sg-1"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 22
  to_port           = 22
  ip_protocol       = "tcp"
}
resource "aws_vpc_security_group_ingress_rule" "https" {
  security_group_id = "sg-1"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}
resource "aws_vpc_security_group_egress_rule" "out" {
  security_group_id = "sg-1"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}
""")
    assert [h.resource for h in hits(found, SG_ALL)] == [
        "aws_vpc_security_group_ingress_rule.all6"]
    assert [h.resource for h in hits(found, SG_ADMIN)] == [
        "aws_vpc_security_group_ingress_rule.ssh"]


def test_cidrs_from_variable_default_fire(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "admin_cidrs" {\n  default = ["0.0.0.0/0"]\n}\n'
                 + sg(22, 22, cidrs="var.admin_cidrs"))
    assert len(hits(found, SG_ADMIN)) == 1


def test_tfvars_narrowing_the_range_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "admin_cidrs" {\n  default = ["0.0.0.0/0"]\n}\n'
                 + sg(22, 22, cidrs="var.admin_cidrs"),
                 terraform__tfvars='admin_cidrs = ["198.51.100.0/24"]\n')
    assert hits(found, SG_ADMIN) == []
    assert unresolved(found, SG_ADMIN) == []


def test_unknown_cidrs_on_admin_port_are_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "admin_cidrs" {}\n' + sg(22, 22, cidrs="var.admin_cidrs"))
    assert hits(found, SG_ADMIN) == []
    [p] = unresolved(found, SG_ADMIN)
    assert "var.admin_cidrs" in p.message


def test_unknown_cidrs_on_web_port_are_not_a_problem(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "c" {}\n' + sg(443, 443, cidrs="var.c"))
    assert unresolved(found, SG_ADMIN) == unresolved(found, SG_ALL) == []


def test_dynamic_ingress_blocks_are_judged_each(tmp_path: Path) -> None:
    found = scan(tmp_path, """
locals {
  ports = [443, 22]
}
resource "aws_security_group" "dyn" {
  dynamic "ingress" {
    for_each = local.ports
    content {
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}
""")
    [h] = hits(found, SG_ADMIN)
    assert "port 22" in h.message


def test_ingress_written_as_attribute_list(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_security_group" "attr" {
  ingress = [{
    from_port        = 22
    to_port          = 22
    protocol         = "tcp"
    cidr_blocks      = []
    ipv6_cidr_blocks = ["::/0"]
    description      = "ssh"
    prefix_list_ids  = []
    security_groups  = []
    self             = false
  }]
}
""")
    assert len(hits(found, SG_ADMIN)) == 1


def test_non_canonical_world_cidr_fires(tmp_path: Path) -> None:
    assert len(hits(scan(tmp_path, sg(22, 22, cidrs='["0.0.0.0/00"]')), SG_ADMIN)) == 1


# --- default security group ----------------------------------------------------------------

def test_default_security_group_with_rules_fires_and_empty_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_default_security_group" "a" {
  vpc_id = "vpc-1"
  egress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}
resource "aws_default_security_group" "b" {
  vpc_id = "vpc-2"
}
""")
    assert [h.resource for h in hits(found, SG_DEFAULT)] == ["aws_default_security_group.a"]


# --- network ACLs --------------------------------------------------------------------------

NACL_RULE = """
resource "aws_network_acl_rule" "%s" {
  network_acl_id = aws_network_acl.pub.id
  rule_number    = %d
  egress         = %s
  protocol       = "%s"
  rule_action    = "%s"
  %s     = "%s"
  from_port      = %d
  to_port        = %d
}
"""
ACL = 'resource "aws_network_acl" "pub" {\n  vpc_id = "vpc-1"\n}\n'


def nacl_rule(name: str, number: int, action: str, low: int, high: int,
              cidr: str = "0.0.0.0/0", egress: str = "false", proto: str = "tcp") -> str:
    attr = "ipv6_cidr_block" if ":" in cidr else "cidr_block"
    return NACL_RULE % (name, number, egress, proto, action, attr, cidr, low, high)


def test_nacl_rule_allowing_ssh_from_internet_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, ACL + nacl_rule("ssh", 100, "allow", 22, 22))
    [h] = hits(found, NACL_ADMIN)
    assert h.resource == "aws_network_acl_rule.ssh" and "SSH" in h.message


def test_nacl_broad_allow_from_ipv6_internet_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, ACL + nacl_rule("all6", 100, "allow", 0, 65535, cidr="::/0"))
    assert len(hits(found, NACL_ADMIN)) == 1


def test_nacl_lower_numbered_deny_protects_admin_ports(tmp_path: Path) -> None:
    found = scan(tmp_path, ACL + nacl_rule("deny_ssh", 50, "deny", 22, 22)
                 + nacl_rule("deny_rdp", 60, "deny", 3389, 3389)
                 + nacl_rule("all", 100, "allow", 0, 65535))
    assert hits(found, NACL_ADMIN) == []


def test_nacl_web_ports_egress_and_private_sources_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, ACL + nacl_rule("https", 100, "allow", 443, 443)
                 + nacl_rule("out", 110, "allow", 0, 65535, egress="true")
                 + nacl_rule("vpn", 120, "allow", 22, 22, cidr="10.8.0.0/16"))
    assert hits(found, NACL_ADMIN) == []


def test_nacl_inline_ingress_blocks_are_judged(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_network_acl" "inline" {
  vpc_id = "vpc-1"
  ingress {
    rule_no    = 100
    protocol   = "tcp"
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 3389
    to_port    = 3389
  }
}
""")
    [h] = hits(found, NACL_ADMIN)
    assert "RDP" in h.message and h.line == 8


def test_nacl_unknown_cidr_on_ssh_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "src" {}\n' + ACL + nacl_rule(
        "ssh", 100, "allow", 22, 22, cidr="X").replace('"X"', "var.src"))
    assert hits(found, NACL_ADMIN) == []
    assert len(unresolved(found, NACL_ADMIN)) == 1


def test_unknown_ports_with_world_or_unknown_source_give_one_problem(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "p" {}\nvariable "c" {}\n'
                 + sg("var.p", "var.p") + sg("var.p", "var.p", cidrs="var.c").replace(
                     '"web"', '"other"'))
    assert hits(found, SG_ADMIN) == hits(found, SG_ALL) == []
    problems = unresolved(found, SG_ADMIN) + unresolved(found, SG_ALL)
    assert len(problems) == 2
    assert "aws_security_group.web.from_port is var.p" in problems[0].message
    assert "aws_security_group.other.from_port is var.p" in problems[1].message


def test_user_var_file_narrows_or_opens_the_range(tmp_path: Path) -> None:
    files = {"main.tf": 'variable "admin_cidrs" {\n  default = ["10.0.0.0/8"]\n}\n'
                        + sg(22, 22, cidrs="var.admin_cidrs"),
             "prod.tfvars": 'admin_cidrs = ["0.0.0.0/0"]\n'}
    assert hits(run_model(model_of(tmp_path / "a", files)), SG_ADMIN) == []
    opened = run_model(model_of(tmp_path / "b", files, tfvars=("prod.tfvars",)))
    assert len(hits(opened, SG_ADMIN)) == 1
