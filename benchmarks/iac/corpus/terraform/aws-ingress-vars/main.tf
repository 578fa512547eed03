provider "aws" {
  region = "us-east-1"
}

locals {
  service_ports = {
    ssh   = 22
    https = 443
  }
}

resource "aws_security_group" "edge" {
  name        = "edge-nodes"
  description = "Edge nodes"
  vpc_id      = var.vpc_id
}

resource "aws_security_group_rule" "edge_ingress" {
  for_each          = local.service_ports
  type              = "ingress"
  description       = each.key
  from_port         = each.value
  to_port           = each.value
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.edge.id
}

resource "aws_security_group" "admin" {
  name        = "admin-access"
  description = "Operator access"
  vpc_id      = var.vpc_id

  ingress {
    description = "SSH for operators"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = var.admin_cidrs
  }
}
