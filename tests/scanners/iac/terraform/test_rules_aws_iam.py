"""AWS IAM rules through the real loader: administrator grants in every policy form, role
trust open to any principal, and policies attached to users."""

from __future__ import annotations

from pathlib import Path

from test_rules_aws_support import hits, scan, unresolved

from secpipe.core.findings import Confidence
from secpipe.scanners.iac.terraform.rules_aws_iam import (
    IAM_ADMIN,
    IAM_PUBLIC_TRUST,
    IAM_USER_POLICY,
)


def statement_policy(kind: str, statements: str) -> str:
    return f"""
resource "{kind}" "p" {{
  name   = "p"
  policy = jsonencode({{
    Version   = "2012-10-17"
    Statement = [{statements}]
  }})
}}
"""


ADMIN = '{ Effect = "Allow", Action = "*", Resource = "*" }'


def test_star_on_star_fires_in_every_policy_resource(tmp_path: Path) -> None:
    kinds = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy",
             "aws_iam_group_policy")
    hcl = "".join(statement_policy(k, ADMIN) for k in kinds)
    found = scan(tmp_path, hcl)
    assert sorted(h.resource for h in hits(found, IAM_ADMIN)) == sorted(f"{k}.p" for k in kinds)


def test_iam_star_in_a_list_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, statement_policy(
        "aws_iam_policy",
        '{ Effect = "Allow", Action = ["s3:GetObject", "iam:*"], Resource = ["*"] }'))
    [h] = hits(found, IAM_ADMIN)
    assert '"iam:*"' in h.message and h.line == 4


def test_heredoc_policy_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_iam_policy" "h" {
  policy = <<-JSON
    {"Version": "2012-10-17",
     "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
  JSON
}
""")
    assert len(hits(found, IAM_ADMIN)) == 1


def test_policy_document_data_source_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, """
data "aws_iam_policy_document" "admin" {
  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}
resource "aws_iam_role_policy" "r" {
  role   = "r"
  policy = data.aws_iam_policy_document.admin.json
}
""")
    [h] = hits(found, IAM_ADMIN)
    assert h.resource == "aws_iam_role_policy.r"


def test_source_policy_documents_are_followed(tmp_path: Path) -> None:
    found = scan(tmp_path, """
data "aws_iam_policy_document" "base" {
  statement {
    actions   = ["*"]
    resources = ["*"]
  }
}
data "aws_iam_policy_document" "combined" {
  source_policy_documents = [data.aws_iam_policy_document.base.json]
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/*"]
  }
}
resource "aws_iam_policy" "p" {
  policy = data.aws_iam_policy_document.combined.json
}
""")
    assert len(hits(found, IAM_ADMIN)) == 1


def test_inline_policy_of_role_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_iam_role" "r" {
  assume_role_policy = jsonencode({ Statement = [{ Effect = "Allow",
    Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }] })
  inline_policy {
    name   = "all"
    policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }] })
  }
}
""")
    assert [h.resource for h in hits(found, IAM_ADMIN)] == ["aws_iam_role.r"]
    assert hits(found, IAM_PUBLIC_TRUST) == []


def test_administrator_access_attachment_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_iam_role_policy_attachment" "a" {
  role       = "ci"
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
resource "aws_iam_role_policy_attachment" "ro" {
  role       = "ci"
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
""")
    assert [h.resource for h in hits(found, IAM_ADMIN)] == ["aws_iam_role_policy_attachment.a"]


def test_star_action_with_condition_limited_deny_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, statement_policy("aws_iam_policy", """
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::b/*" },
      { Effect = "Deny", Action = "*", Resource = "*",
        Condition = { StringNotEquals = { "aws:RequestedRegion" = "eu-west-1" } } }"""))
    assert hits(found, IAM_ADMIN) == []


def test_star_action_on_one_resource_is_not_admin(tmp_path: Path) -> None:
    found = scan(tmp_path, statement_policy(
        "aws_iam_policy", '{ Effect = "Allow", Action = "s3:*", '
        'Resource = "arn:aws:s3:::bucket/*" }'))
    assert hits(found, IAM_ADMIN) == []


def test_admin_under_condition_has_lower_confidence(tmp_path: Path) -> None:
    found = scan(tmp_path, statement_policy(
        "aws_iam_policy", '{ Effect = "Allow", Action = "*", Resource = "*", Condition = '
        '{ Bool = { "aws:MultiFactorAuthPresent" = "true" } } }'))
    [h] = hits(found, IAM_ADMIN)
    assert h.confidence == Confidence.MEDIUM


def test_policy_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "p" {}\nresource "aws_iam_policy" "p" {\n'
                 '  policy = var.p\n}\n')
    assert hits(found, IAM_ADMIN) == []
    assert len(unresolved(found, IAM_ADMIN)) == 1


def test_file_policy_is_unresolved_not_passed(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_iam_policy" "p" {\n'
                 '  policy = file("${path.module}/missing.json")\n}\n')
    assert hits(found, IAM_ADMIN) == []
    assert len(unresolved(found, IAM_ADMIN)) == 1


# --- trust policies ------------------------------------------------------------------------

TRUST = """
resource "aws_iam_role" "r" {
  name = "r"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = %s%s
    }]
  })
}
"""


def test_trust_any_aws_principal_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, TRUST % ('{ AWS = "*" }', "")), IAM_PUBLIC_TRUST)
    assert h.resource == "aws_iam_role.r" and h.line == 4


def test_trust_star_principal_in_policy_document_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, """
data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
  }
}
resource "aws_iam_role" "r" {
  assume_role_policy = data.aws_iam_policy_document.trust.json
}
""")
    assert len(hits(found, IAM_PUBLIC_TRUST)) == 1


def test_trust_star_with_external_id_condition_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, TRUST % (
        '{ AWS = "*" }',
        '\n      Condition = { StringEquals = { "sts:ExternalId" = "abc" } }'))
    assert hits(found, IAM_PUBLIC_TRUST) == []


def test_trust_service_principal_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, TRUST % ('{ Service = "lambda.amazonaws.com" }', ""))
    assert hits(found, IAM_PUBLIC_TRUST) == []


# --- user policies -------------------------------------------------------------------------

def test_user_policy_forms_fire_and_group_attachment_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_iam_user_policy_attachment" "u" {
  user       = "alice"
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
resource "aws_iam_policy_attachment" "many" {
  name       = "many"
  users      = ["bob"]
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
resource "aws_iam_policy_attachment" "groups" {
  name       = "groups"
  groups     = ["readers"]
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
resource "aws_iam_group_policy_attachment" "g" {
  group      = "readers"
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
""")
    assert sorted(h.resource for h in hits(found, IAM_USER_POLICY)) == [
        "aws_iam_policy_attachment.many", "aws_iam_user_policy_attachment.u"]


def test_policy_reused_from_another_resource_is_followed(tmp_path: Path) -> None:
    found = scan(tmp_path, statement_policy("aws_iam_policy", ADMIN) + """
resource "aws_iam_role_policy" "copy" {
  role   = "r"
  policy = aws_iam_policy.p.policy
}
""")
    assert sorted(h.resource for h in hits(found, IAM_ADMIN)) == [
        "aws_iam_policy.p", "aws_iam_role_policy.copy"]


def test_irsa_trust_with_unknown_provider_and_condition_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
variable "oidc_provider_arn" {}
data "aws_iam_policy_document" "irsa" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "oidc:sub"
      values   = ["system:serviceaccount:kube-system:app"]
    }
  }
}
resource "aws_iam_role" "irsa" {
  assume_role_policy = data.aws_iam_policy_document.irsa.json
}
""")
    assert hits(found, IAM_PUBLIC_TRUST) == []
    assert unresolved(found, IAM_PUBLIC_TRUST) == []


def test_unknown_resource_arn_with_narrow_actions_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
variable "account" {}
data "aws_iam_policy_document" "self" {
  statement {
    actions   = ["iam:ChangePassword"]
    resources = ["arn:aws:iam::${var.account}:user/me"]
  }
}
resource "aws_iam_policy" "self" {
  policy = data.aws_iam_policy_document.self.json
}
""")
    assert hits(found, IAM_ADMIN) == []
    assert unresolved(found, IAM_ADMIN) == []


def test_unknown_actions_on_every_resource_are_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, """
variable "actions" {}
data "aws_iam_policy_document" "d" {
  statement {
    actions   = [var.actions]
    resources = ["*"]
  }
}
resource "aws_iam_policy" "d" {
  policy = data.aws_iam_policy_document.d.json
}
""")
    assert hits(found, IAM_ADMIN) == []
    [p] = unresolved(found, IAM_ADMIN)
    assert "var.actions" in p.message


def test_unknown_trust_principal_without_condition_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, """
variable "who" {}
data "aws_iam_policy_document" "t" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.who]
    }
  }
}
resource "aws_iam_role" "t" {
  assume_role_policy = data.aws_iam_policy_document.t.json
}
""")
    assert hits(found, IAM_PUBLIC_TRUST) == []
    assert len(unresolved(found, IAM_PUBLIC_TRUST)) == 1


def test_unknown_service_principal_cannot_make_trust_public(tmp_path: Path) -> None:
    found = scan(tmp_path, """
variable "services" {}
data "aws_iam_policy_document" "t" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = var.services
    }
  }
}
resource "aws_iam_role" "t" {
  assume_role_policy = data.aws_iam_policy_document.t.json
}
""")
    assert hits(found, IAM_PUBLIC_TRUST) == []
    assert unresolved(found, IAM_PUBLIC_TRUST) == []


def test_aws_managed_policy_read_by_data_source_is_known_by_arn(tmp_path: Path) -> None:
    found = scan(tmp_path, """
data "aws_iam_policy" "admin" {
  arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
data "aws_iam_policy" "eni" {
  arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/ENIAccess"
}
data "aws_iam_policy" "mine" {
  name = "team-policy"
}
resource "aws_iam_role_policy" "admin" {
  role   = "r"
  policy = data.aws_iam_policy.admin.policy
}
resource "aws_iam_role_policy" "eni" {
  role   = "r"
  policy = data.aws_iam_policy.eni.policy
}
resource "aws_iam_role_policy" "mine" {
  role   = "r"
  policy = data.aws_iam_policy.mine.policy
}
""")
    assert [h.resource for h in hits(found, IAM_ADMIN)] == ["aws_iam_role_policy.admin"]
    [p] = unresolved(found, IAM_ADMIN)
    assert "aws_iam_role_policy.mine" in p.message
