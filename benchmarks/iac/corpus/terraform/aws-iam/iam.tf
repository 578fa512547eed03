resource "aws_iam_role" "ci" {
  name = "ci-deployer"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = var.oidc_provider_arn }
      Condition = {
        StringLike = { "token.actions.githubusercontent.com:sub" = "repo:acme/infra:*" }
      }
    }]
  })
}

resource "aws_iam_policy" "ci_deploy" {
  name        = "ci-deploy"
  description = "Lets the pipeline apply Terraform"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = "*"
        Resource = "*"
      }
    ]
  })
}

resource "aws_iam_role_policy_attachment" "ci_deploy" {
  role       = aws_iam_role.ci.name
  policy_arn = aws_iam_policy.ci_deploy.arn
}

data "aws_iam_policy_document" "app_logs" {
  statement {
    sid     = "WriteLogs"
    effect  = "Allow"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "arn:aws:logs:${var.region}:${var.account_id}:log-group:/app/*:*",
    ]
  }
}

resource "aws_iam_policy" "app_logs" {
  name   = "app-logs"
  policy = data.aws_iam_policy_document.app_logs.json
}

data "aws_iam_policy_document" "break_glass" {
  statement {
    effect    = "Allow"
    actions   = ["*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "break_glass" {
  name   = "break-glass"
  role   = "incident-responder"
  policy = data.aws_iam_policy_document.break_glass.json
}

resource "aws_iam_policy" "region_guard" {
  name        = "deny-outside-eu"
  description = "Deny everything outside the EU regions"
  policy      = <<EOT
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "DenyOtherRegions",
      "Effect": "Deny",
      "Action": "*",
      "Resource": "*",
      "Condition": {
        "StringNotEquals": { "aws:RequestedRegion": ["eu-west-1", "eu-central-1"] }
      }
    }
  ]
}
EOT
}

resource "aws_iam_user_policy" "legacy_ops" {
  name = "legacy-ops"
  user = "ops-automation"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["ec2:*", "s3:*", "iam:*"], Resource = "*" },
      { Effect = "Allow", Action = ["*"], Resource = ["*"] },
    ]
  })
}

variable "oidc_provider_arn" {
  type = string
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "account_id" {
  type = string
}
