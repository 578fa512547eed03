terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

module "ops_firewall" {
  source = "./modules/firewall"
  name   = "ops-hosts"
  vpc_id = var.vpc_id
  rules = [
    { port = 443, cidrs = ["0.0.0.0/0"], description = "web" },
    { port = 22, cidrs = ["0.0.0.0/0"], description = "ops ssh" },
  ]
}

resource "aws_security_group" "vpn_gateway" {
  name        = "vpn-gateway"
  description = "Operator SSH, limited by variable"
  vpc_id      = var.vpc_id

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = var.ssh_cidrs
  }
}

resource "aws_security_group" "legacy_app" {
  name        = "legacy-app"
  description = "Old app tier"
  vpc_id      = var.vpc_id

  ingress {
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_vpc_security_group_ingress_rule" "legacy_app_v6_ssh" {
  security_group_id = aws_security_group.legacy_app.id
  cidr_ipv6         = "::/0"
  from_port         = 22
  to_port           = 22
  ip_protocol       = "tcp"
}

resource "aws_security_group" "office_ssh" {
  name        = "office-ssh"
  description = "SSH from corporate prefix list"
  vpc_id      = var.vpc_id

  ingress {
    from_port       = 22
    to_port         = 22
    protocol        = "tcp"
    prefix_list_ids = [var.corp_prefix_list_id]
  }
}

resource "aws_default_security_group" "default" {
  vpc_id = var.vpc_id

  ingress {
    protocol  = -1
    self      = true
    from_port = 0
    to_port   = 0
  }
}

resource "aws_network_acl_rule" "public_ssh" {
  network_acl_id = var.public_nacl_id
  rule_number    = 120
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 22
  to_port        = 22
}
