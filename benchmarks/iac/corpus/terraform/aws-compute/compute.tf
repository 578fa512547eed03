data "aws_ami" "al2023" {
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = ["al2023-ami-*-x86_64"]
  }
}

resource "aws_instance" "worker" {
  ami                    = data.aws_ami.al2023.id
  instance_type          = "m6i.large"
  subnet_id              = var.private_subnet_id
  vpc_security_group_ids = [var.worker_sg_id]

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "optional"
  }

  root_block_device {
    volume_size = 50
    volume_type = "gp3"
    encrypted   = true
  }
}

resource "aws_instance" "build" {
  ami           = data.aws_ami.al2023.id
  instance_type = "c6i.xlarge"
  subnet_id     = var.private_subnet_id

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = 100
    encrypted   = false
  }
}

resource "aws_ebs_volume" "scratch" {
  count             = 3
  availability_zone = "eu-west-1a"
  size              = 200
  type              = "gp3"
}

resource "aws_ebs_volume" "archive" {
  availability_zone = "eu-west-1a"
  size              = 500
  type              = "sc1"
  encrypted         = true
  kms_key_id        = var.kms_key_arn
}

resource "aws_launch_template" "api" {
  name_prefix   = "api-"
  image_id      = data.aws_ami.al2023.id
  instance_type = "t3.medium"

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 30
      encrypted   = true
    }
  }
}

resource "aws_launch_template" "batch" {
  name_prefix   = "batch-"
  image_id      = data.aws_ami.al2023.id
  instance_type = "r6i.2xlarge"

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 80
      encrypted   = "false"
    }
  }
}

resource "aws_autoscaling_group" "batch" {
  min_size            = 0
  max_size            = 20
  vpc_zone_identifier = [var.private_subnet_id]

  launch_template {
    id      = aws_launch_template.batch.id
    version = "$Latest"
  }
}
