"""AWS IAM rules: policies granting full administrative access, role trust policies any
principal can assume, and permissions attached straight to users.

Policy documents are read in every form the AWS provider accepts: heredoc JSON, ``jsonencode()``
(as the loader computes it), ``data "aws_iam_policy_document"`` (through its ``json``, including
``source_policy_documents``) and inline ``inline_policy`` blocks of ``aws_iam_role``."""

from __future__ import annotations

from collections.abc import Iterator

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, Problem, Unresolved
from secpipe.scanners.iac.terraform.model import TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_aws_common import (
    Check,
    PolicyError,
    Statement,
    as_list,
    hit,
    iter_policies,
    lowered,
    maybe_problem,
    policy_problem,
    policy_statements,
    rule,
    short,
    sub_blocks,
    unresolved,
    verdict,
)

IAM_ADMIN = "iac.aws.iam-admin-policy"
IAM_PUBLIC_TRUST = "iac.aws.iam-public-trust"
IAM_USER_POLICY = "iac.aws.iam-user-policy"

RULES = [
    rule(
        IAM_ADMIN, "IAM policy grants full administrative access",
        Severity.HIGH, "CWE-269", ("CIS-AWS-1.16", "NIST-800-53:AC-6", "NIST-800-53:AC-6(1)"),
        "Action \"*\" (or \"iam:*\", which can grant itself everything) on Resource \"*\" makes "
        "whoever holds the policy an account administrator: one leaked key or compromised "
        "workload owns the account. Attaching the AWS-managed AdministratorAccess policy is "
        "the same grant.",
        "Grant the actions the workload needs on the resources it uses; keep administrator "
        "access for break-glass roles behind MFA and SSO.",
        'resource "aws_iam_policy" "ci" {\n  policy = jsonencode({\n'
        '    Version = "2012-10-17"\n'
        '    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }]\n  })\n}',
        '# a Deny on "*" (e.g. outside approved regions) is not a grant\n'
        'resource "aws_iam_policy" "ci" {\n  policy = jsonencode({\n'
        '    Version = "2012-10-17"\n    Statement = [\n'
        '      { Effect = "Allow", Action = ["s3:GetObject"], '
        'Resource = "arn:aws:s3:::acme-data/*" },\n'
        '      { Effect = "Deny", Action = "*", Resource = "*",\n'
        '        Condition = { StringNotEquals = { "aws:RequestedRegion" = "eu-west-1" } } }\n'
        '    ]\n  })\n}',
        ("CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_49", "CKV_AWS_63", "CKV2_AWS_40", "CKV_AWS_274",
         "AVD-AWS-0057", "aws-iam-no-policy-wildcards")),
    rule(
        IAM_PUBLIC_TRUST, "IAM role can be assumed by any principal",
        Severity.CRITICAL, "CWE-284", ("NIST-800-53:AC-3", "NIST-800-53:AC-6"),
        "A trust policy allowing sts:AssumeRole to Principal \"*\" (or {AWS = \"*\"}) without a "
        "condition lets any AWS account in the world take the role and its permissions.",
        "Name the trusted accounts, roles or services; for cross-account access add a "
        "condition (sts:ExternalId, aws:PrincipalOrgID).",
        'resource "aws_iam_role" "app" {\n  assume_role_policy = jsonencode({\n'
        '    Version = "2012-10-17"\n    Statement = [{ Effect = "Allow", '
        'Action = "sts:AssumeRole",\n      Principal = { AWS = "*" } }]\n  })\n}',
        'resource "aws_iam_role" "app" {\n  assume_role_policy = jsonencode({\n'
        '    Version = "2012-10-17"\n    Statement = [{ Effect = "Allow", '
        'Action = "sts:AssumeRole",\n      Principal = { Service = "ec2.amazonaws.com" } }]\n'
        '  })\n}',
        ("CKV_AWS_60",)),
    rule(
        IAM_USER_POLICY, "IAM policy is attached directly to a user",
        Severity.LOW, "CWE-269", ("CIS-AWS-1.15", "NIST-800-53:AC-2", "NIST-800-53:AC-6"),
        "Permissions attached to individual users drift and are hard to review or revoke; "
        "groups and roles (ideally SSO) keep access management in one place.",
        "Attach the policy to a group the user belongs to, or to a role the user assumes.",
        'resource "aws_iam_user_policy_attachment" "alice" {\n  user       = '
        'aws_iam_user.alice.name\n  policy_arn = aws_iam_policy.read.arn\n}',
        'resource "aws_iam_group_policy_attachment" "readers" {\n  group      = '
        'aws_iam_group.readers.name\n  policy_arn = aws_iam_policy.read.arn\n}',
        ("CKV_AWS_40", "AVD-AWS-0143", "aws-iam-no-user-attached-policies"),
        confidence=Confidence.HIGH),
]

POLICY_RESOURCES = ("aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy",
                    "aws_iam_group_policy", "aws_ssoadmin_permission_set_inline_policy")
ADMIN_ACTIONS = {"*", "*:*", "iam:*"}
ADMIN_ARNS = ("arn:aws:iam::aws:policy/administratoraccess",)
ATTACHMENTS = ("aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment",
               "aws_iam_group_policy_attachment", "aws_iam_policy_attachment")


def _admin(st: Statement) -> bool | Unresolved | None:
    return st.grants(ADMIN_ACTIONS)


def _policy_sources(res: TfResource) -> list[tuple[str, object]]:
    """(attribute, value) of every policy document a resource writes."""
    out: list[tuple[str, object]] = []
    if res.type == "aws_iam_role":
        for block in sub_blocks(res.body, "inline_policy"):
            if block.has("policy"):
                out.append(("inline_policy", block.get("policy")))
        return out
    key = "inline_policy" if res.type == "aws_ssoadmin_permission_set_inline_policy" \
        else "policy"
    if res.body.has(key):
        out.append((key, res.body.get(key)))
    return out


def check_admin_policy(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type(*POLICY_RESOURCES, "aws_iam_role"):
        for attr, value in _policy_sources(res):
            try:
                statements = policy_statements(model, res, value)
            except PolicyError as err:
                yield policy_problem(IAM_ADMIN, res, attr, err)
                continue
            st, maybe = verdict(statements, _admin)
            if st is None and maybe is not None:
                yield maybe_problem(IAM_ADMIN, res, attr, maybe)
            if st is not None:
                action = sorted(lowered(st.actions) & ADMIN_ACTIONS)[0]
                yield hit(IAM_ADMIN, res,
                          f"{attr} allows Action {short(action)} on Resource \"*\""
                          + (" (under a condition)" if st.has_condition else ""),
                          attr=attr,
                          confidence=Confidence.MEDIUM if st.has_condition else None,
                          evidence=f'Effect Allow, Action {action}, Resource *')
    for res in model.of_type(*ATTACHMENTS):
        arn = res.body.get("policy_arn")
        if isinstance(arn, str) and arn.strip().lower() in ADMIN_ARNS:
            yield hit(IAM_ADMIN, res, f"attaches {short(arn)}", attr="policy_arn",
                      evidence=f"policy_arn = {short(arn)}")
    for res in model.of_type("aws_iam_role"):
        arns = res.body.get("managed_policy_arns")
        for arn in as_list(arns):
            if isinstance(arn, str) and arn.strip().lower() in ADMIN_ARNS:
                yield hit(IAM_ADMIN, res, f"managed_policy_arns include {short(arn)}",
                          attr="managed_policy_arns", evidence=short(arn))


def check_public_trust(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_iam_role"):
        for attr, result in iter_policies(model, res, ("assume_role_policy",)):
            if isinstance(result, PolicyError):
                yield policy_problem(IAM_PUBLIC_TRUST, res, attr, result)
                continue
            st, maybe = verdict(result, Statement.public_grant)
            if st is not None:
                yield hit(IAM_PUBLIC_TRUST, res,
                          f"{attr} lets Principal \"*\" assume the role without a condition",
                          attr=attr, evidence="Effect Allow, Principal *")
            elif maybe is not None:
                yield maybe_problem(IAM_PUBLIC_TRUST, res, attr, maybe)


def check_user_policy(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_iam_user_policy", "aws_iam_user_policy_attachment"):
        user = res.body.get("user")
        who = short(user) if user is not None else "a user"
        yield hit(IAM_USER_POLICY, res, f"a policy is attached directly to user {who}",
                  attr="user")
    for res in model.of_type("aws_iam_policy_attachment"):
        users = res.body.get("users")
        if isinstance(users, Unresolved):
            yield unresolved(IAM_USER_POLICY, res, "users", users)
        elif as_list(users):
            yield hit(IAM_USER_POLICY, res,
                      f"a policy is attached directly to users {short(users)}", attr="users")


CHECKS: list[Check] = [check_admin_policy, check_public_trust, check_user_policy]
