variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "rules" {
  type = list(object({
    port        = number
    cidrs       = list(string)
    description = string
  }))
  default = []
}

resource "aws_security_group" "this" {
  name        = var.name
  description = "Managed by the firewall module"
  vpc_id      = var.vpc_id

  dynamic "ingress" {
    for_each = var.rules
    content {
      description = ingress.value.description
      from_port   = ingress.value.port
      to_port     = ingress.value.port
      protocol    = "tcp"
      cidr_blocks = ingress.value.cidrs
    }
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

output "id" {
  value = aws_security_group.this.id
}
