"""AWS S3 rules: public ACLs, public access blocks, bucket policies open to everyone, default
encryption, versioning and access logging — following both the inline (AWS provider < 4) and
the separate-resource (provider >= 4) forms."""

from __future__ import annotations

from collections.abc import Iterator

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.rules_aws_common import (
    Check,
    PolicyError,
    Statement,
    as_bool,
    as_str,
    hit,
    iter_policies,
    maybe_problem,
    policy_problem,
    rule,
    short,
    sub_blocks,
    unresolved,
    verdict,
)

S3_PUBLIC_ACL = "iac.aws.s3-public-acl"
S3_PUBLIC_ACCESS_BLOCK = "iac.aws.s3-public-access-block"
S3_ENCRYPTION = "iac.aws.s3-encryption"
S3_VERSIONING = "iac.aws.s3-versioning"
S3_PUBLIC_POLICY = "iac.aws.s3-public-policy"
S3_ACCESS_LOGGING = "iac.aws.s3-access-logging"

RULES = [
    rule(
        S3_PUBLIC_ACL, "S3 bucket ACL grants access to everyone or to any AWS user",
        Severity.HIGH, "CWE-732", ("CIS-AWS-2.1.5", "NIST-800-53:AC-3", "NIST-800-53:AC-21"),
        "A canned ACL public-read/public-read-write, or a grant to the AllUsers or "
        "AuthenticatedUsers group, lets anyone on the internet (or any AWS account) list, read "
        "or overwrite the bucket's objects.",
        "Use acl = \"private\" (or no ACL with object ownership BucketOwnerEnforced) and grant "
        "access through bucket policies naming specific principals.",
        'resource "aws_s3_bucket_acl" "data" {\n  bucket = aws_s3_bucket.data.id\n'
        '  acl    = "public-read"\n}',
        'resource "aws_s3_bucket_acl" "data" {\n  bucket = aws_s3_bucket.data.id\n'
        '  acl    = "private"\n}',
        ("CKV_AWS_20", "CKV_AWS_57", "CKV2_AWS_43", "AVD-AWS-0092",
         "aws-s3-no-public-access-with-acl")),
    rule(
        S3_PUBLIC_ACCESS_BLOCK, "S3 bucket is not covered by a complete public access block",
        Severity.MEDIUM, "CWE-732", ("CIS-AWS-2.1.5", "NIST-800-53:AC-3", "NIST-800-53:SC-7"),
        "Without all four public access block settings a later ACL or policy change can make "
        "the bucket public; the block is the guard rail that stops it.",
        "Add aws_s3_bucket_public_access_block with block_public_acls, block_public_policy, "
        "ignore_public_acls and restrict_public_buckets all true (or one "
        "aws_s3_account_public_access_block with all four true for the whole account).",
        'resource "aws_s3_bucket" "data" {\n  bucket = "acme-data"\n}',
        'resource "aws_s3_bucket_public_access_block" "data" {\n'
        '  bucket                  = aws_s3_bucket.data.id\n  block_public_acls       = true\n'
        '  block_public_policy     = true\n  ignore_public_acls      = true\n'
        '  restrict_public_buckets = true\n}',
        ("CKV2_AWS_6", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "AVD-AWS-0086",
         "AVD-AWS-0087", "AVD-AWS-0091", "AVD-AWS-0093", "AVD-AWS-0094",
         "aws-s3-block-public-acls", "aws-s3-block-public-policy", "aws-s3-ignore-public-acls",
         "aws-s3-no-public-buckets", "aws-s3-specify-public-access-block")),
    rule(
        S3_ENCRYPTION, "S3 bucket has no explicit default encryption configuration",
        Severity.LOW, "CWE-311", ("CIS-AWS-2.1.1", "NIST-800-53:SC-28"),
        "Since January 2023 AWS encrypts every new object with SSE-S3 even without a "
        "configuration, so the data is not stored in clear: the finding is low. What is missing "
        "is a deliberate choice (SSE-KMS with a customer key gives key policies, audit of key "
        "use and revocation), and older buckets may predate the default.",
        "Declare aws_s3_bucket_server_side_encryption_configuration (sse_algorithm aws:kms with "
        "a kms_master_key_id, or AES256 explicitly).",
        'resource "aws_s3_bucket" "data" {\n  bucket = "acme-data"\n}',
        'resource "aws_s3_bucket_server_side_encryption_configuration" "data" {\n'
        '  bucket = aws_s3_bucket.data.id\n  rule {\n'
        '    apply_server_side_encryption_by_default {\n      sse_algorithm = "aws:kms"\n'
        '    }\n  }\n}',
        ("CKV_AWS_19", "AVD-AWS-0088", "aws-s3-enable-bucket-encryption")),
    rule(
        S3_VERSIONING, "S3 bucket versioning is not enabled",
        Severity.LOW, "CWE-693", ("NIST-800-53:CP-9", "NIST-800-53:SI-12"),
        "Without versioning an overwrite or delete (by mistake, by a bug, by ransomware with "
        "stolen keys) destroys the only copy of an object.",
        "Add aws_s3_bucket_versioning with versioning_configuration { status = \"Enabled\" }.",
        'resource "aws_s3_bucket_versioning" "data" {\n  bucket = aws_s3_bucket.data.id\n'
        '  versioning_configuration {\n    status = "Suspended"\n  }\n}',
        'resource "aws_s3_bucket_versioning" "data" {\n  bucket = aws_s3_bucket.data.id\n'
        '  versioning_configuration {\n    status = "Enabled"\n  }\n}',
        ("CKV_AWS_21", "AVD-AWS-0090", "aws-s3-enable-versioning")),
    rule(
        S3_PUBLIC_POLICY, "S3 bucket policy allows any principal without a condition",
        Severity.HIGH, "CWE-732", ("NIST-800-53:AC-3", "NIST-800-53:AC-6"),
        "An Allow statement with Principal \"*\" and no Condition grants its actions to every "
        "AWS account and anonymous callers.",
        "Name the principals (account or role ARNs), or restrict the statement with a Condition "
        "(aws:SourceVpce, aws:PrincipalOrgID, aws:SourceArn).",
        'resource "aws_s3_bucket_policy" "p" {\n  bucket = aws_s3_bucket.data.id\n'
        '  policy = jsonencode({\n    Version = "2012-10-17"\n    Statement = [{\n'
        '      Effect = "Allow", Principal = "*", Action = "s3:GetObject"\n'
        '      Resource = "${aws_s3_bucket.data.arn}/*"\n    }]\n  })\n}',
        '# name the principal (a Deny with Principal "*", e.g. refusing non-TLS requests,\n'
        '# is not reported either)\n'
        'resource "aws_s3_bucket_policy" "p" {\n  bucket = aws_s3_bucket.data.id\n'
        '  policy = jsonencode({\n    Version = "2012-10-17"\n    Statement = [{\n'
        '      Effect = "Allow", Principal = { AWS = "arn:aws:iam::111122223333:root" }\n'
        '      Action = "s3:GetObject", Resource = "${aws_s3_bucket.data.arn}/*"\n'
        '    }]\n  })\n}',
        ("CKV_AWS_70",)),
    rule(
        S3_ACCESS_LOGGING, "S3 bucket server access logging is not enabled",
        Severity.LOW, "CWE-778", ("NIST-800-53:AU-2", "NIST-800-53:AU-12"),
        "Without access logs there is no record of who read or changed objects, which an "
        "incident investigation needs.",
        "Add aws_s3_bucket_logging with a target_bucket (a bucket that is itself a log target "
        "is not reported).",
        'resource "aws_s3_bucket" "data" {\n  bucket = "acme-data"\n}',
        'resource "aws_s3_bucket_logging" "data" {\n  bucket        = aws_s3_bucket.data.id\n'
        '  target_bucket = aws_s3_bucket.logs.id\n  target_prefix = "data/"\n}',
        ("CKV_AWS_18", "AVD-AWS-0089", "aws-s3-enable-logging")),
]

PUBLIC_ACLS = {"public-read": Severity.HIGH, "public-read-write": Severity.CRITICAL,
               "authenticated-read": Severity.HIGH}
PUBLIC_GROUPS = ("acs.amazonaws.com/groups/global/allusers",
                 "acs.amazonaws.com/groups/global/authenticatedusers")
PAB_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls",
             "restrict_public_buckets")


class _Links:
    """Which resources of some types name which bucket: by reference (from any module: a
    reference handed to a module keeps the bucket's address) or by literal name (same
    module); those whose ``bucket`` is unresolved may name any bucket of their module.
    Built once per check so that many buckets stay linear."""

    def __init__(self, model: TfModel, types: tuple[str, ...]) -> None:
        self.by_ref: dict[str, list[TfResource]] = {}
        self.by_name: dict[tuple[str, str], list[TfResource]] = {}
        self.unknown: dict[str, list[TfResource]] = {}
        for r in model.of_type(*types):
            value = r.body.get("bucket")
            if isinstance(value, Ref):
                self.by_ref.setdefault(value.address, []).append(r)
            elif isinstance(value, str):
                self.by_name.setdefault((r.module, value), []).append(r)
            elif isinstance(value, Unresolved):
                self.unknown.setdefault(r.module, []).append(r)

    def of(self, bucket: TfResource) -> tuple[list[TfResource], list[TfResource]]:
        """(resources that name ``bucket``, resources that may name it)."""
        linked = list(self.by_ref.get(bucket.base_address, []))
        own = bucket.body.get("bucket")
        if isinstance(own, str):
            linked.extend(r for r in self.by_name.get((bucket.module, own), [])
                          if r not in linked)
        return linked, self.unknown.get(bucket.module, [])


def _unlinkable(rule_id: str, bucket: TfResource, unknown: list[TfResource]) -> Problem:
    other = unknown[0]
    value = other.body.get("bucket")
    text = value.text if isinstance(value, Unresolved) else "?"
    return Problem("iac.unresolved", bucket.path, bucket.line,
                   f"{rule_id}: {bucket.address} may be configured by {other.address} whose "
                   f"bucket is {text} (not statically known): could not be judged")


def check_public_acl(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_s3_bucket", "aws_s3_bucket_acl"):
        acl = res.body.get("acl")
        if isinstance(acl, Unresolved):
            yield unresolved(S3_PUBLIC_ACL, res, "acl", acl)
        elif isinstance(acl, str) and acl.strip().lower() in PUBLIC_ACLS:
            yield hit(S3_PUBLIC_ACL, res, f"acl is {short(acl)}", attr="acl",
                      severity=PUBLIC_ACLS[acl.strip().lower()], evidence=f"acl = {short(acl)}")
        grants = list(sub_blocks(res.body, "grant"))
        for policy in sub_blocks(res.body, "access_control_policy"):
            grants.extend(sub_blocks(policy, "grant"))
        for grant in grants:
            for where in [grant, *sub_blocks(grant, "grantee")]:
                uri = where.get("uri")
                if isinstance(uri, Unresolved):
                    yield unresolved(S3_PUBLIC_ACL, res, "uri", uri, where)
                elif isinstance(uri, str) and any(g in uri.lower() for g in PUBLIC_GROUPS):
                    yield hit(S3_PUBLIC_ACL, res, f"a grant is given to the group {short(uri)}",
                              attr="uri", body=where, evidence=f"uri = {short(uri)}")


def _account_flags(model: TfModel) -> tuple[set[str], list[IacHit | Problem]]:
    """The flags every account-level block sets true, and findings about those blocks."""
    blocks = model.of_type("aws_s3_account_public_access_block")
    covered: set[str] = set()
    out: list[IacHit | Problem] = []
    for acct in blocks:
        off: list[str] = []
        for flag in PAB_FLAGS:
            value = as_bool(acct.body.get(flag))
            if isinstance(value, Unresolved):
                out.append(unresolved(S3_PUBLIC_ACCESS_BLOCK, acct, flag, value))
            elif value is True:
                covered.add(flag)
            else:
                off.append(flag)
        if off:
            out.append(hit(S3_PUBLIC_ACCESS_BLOCK, acct,
                           f"the account-level public access block leaves {', '.join(off)} off",
                           attr=off[0] if acct.body.has(off[0]) else ""))
    return covered, out


def check_public_access_block(model: TfModel) -> Iterator[IacHit | Problem]:
    covered, found = _account_flags(model)
    yield from found
    for pab in model.of_type("aws_s3_bucket_public_access_block"):
        off: list[str] = []
        for flag in PAB_FLAGS:
            value = as_bool(pab.body.get(flag))
            if isinstance(value, Unresolved):
                if flag not in covered:
                    yield unresolved(S3_PUBLIC_ACCESS_BLOCK, pab, flag, value)
            elif value is not True and flag not in covered:
                off.append(flag)
        if off:
            first = next((f for f in off if pab.body.has(f)), "")
            yield hit(S3_PUBLIC_ACCESS_BLOCK, pab,
                      f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} not true",
                      attr=first)
    missing_at_account = [f for f in PAB_FLAGS if f not in covered]
    if not missing_at_account:
        return
    links = _Links(model, ("aws_s3_bucket_public_access_block",))
    for bucket in model.of_type("aws_s3_bucket"):
        linked, unknown = links.of(bucket)
        if linked:
            continue
        if unknown:
            yield _unlinkable(S3_PUBLIC_ACCESS_BLOCK, bucket, unknown)
            continue
        yield hit(S3_PUBLIC_ACCESS_BLOCK, bucket,
                  "no aws_s3_bucket_public_access_block names this bucket"
                  + ("" if not covered else
                     f" and the account-level block leaves {', '.join(missing_at_account)} off"))


def check_encryption(model: TfModel) -> Iterator[IacHit | Problem]:
    links = _Links(model, ("aws_s3_bucket_server_side_encryption_configuration",))
    for bucket in model.of_type("aws_s3_bucket"):
        inline = sub_blocks(bucket.body, "server_side_encryption_configuration")
        if inline:
            continue
        linked, unknown = links.of(bucket)
        if linked:
            continue
        if unknown:
            yield _unlinkable(S3_ENCRYPTION, bucket, unknown)
            continue
        yield hit(S3_ENCRYPTION, bucket,
                  "no server-side encryption configuration (objects get only the SSE-S3 "
                  "default AWS applies since 2023; no key is chosen)")


def _versioning_state(res: TfResource) -> tuple[bool | Unresolved | None, str, TfBlock]:
    """(enabled?, attribute, its block) of an inline ``versioning`` block or a separate
    ``aws_s3_bucket_versioning``."""
    if res.type == "aws_s3_bucket_versioning":
        for conf in sub_blocks(res.body, "versioning_configuration"):
            status = as_str(conf.get("status"))
            if isinstance(status, Unresolved):
                return status, "status", conf
            return (status or "").lower() == "enabled", "status", conf
        return None, "versioning_configuration", res.body
    for block in sub_blocks(res.body, "versioning"):
        enabled = as_bool(block.get("enabled"))
        if isinstance(enabled, Unresolved):
            return enabled, "enabled", block
        return enabled is True, "enabled", block
    return None, "versioning", res.body


def check_versioning(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_s3_bucket_versioning"):
        state, attr, body = _versioning_state(res)
        if isinstance(state, Unresolved):
            yield unresolved(S3_VERSIONING, res, attr, state, body)
        elif state is not True:
            yield hit(S3_VERSIONING, res, "versioning is not enabled", attr=attr, body=body)
    links = _Links(model, ("aws_s3_bucket_versioning",))
    for bucket in model.of_type("aws_s3_bucket"):
        state, attr, body = _versioning_state(bucket)
        if state is True:
            continue
        if isinstance(state, Unresolved):
            yield unresolved(S3_VERSIONING, bucket, attr, state, body)
            continue
        linked, unknown = links.of(bucket)
        if linked:
            continue  # judged on the versioning resource itself
        if unknown:
            yield _unlinkable(S3_VERSIONING, bucket, unknown)
            continue
        if state is False:
            yield hit(S3_VERSIONING, bucket, "versioning is not enabled", attr=attr, body=body)
        else:
            yield hit(S3_VERSIONING, bucket, "versioning is not configured")


def check_public_policy(model: TfModel) -> Iterator[IacHit | Problem]:
    for res in model.of_type("aws_s3_bucket_policy", "aws_s3_bucket"):
        for attr, result in iter_policies(model, res, ("policy",)):
            if isinstance(result, PolicyError):
                yield policy_problem(S3_PUBLIC_POLICY, res, attr, result)
                continue
            st, maybe = verdict(result, Statement.public_grant)
            if st is not None:
                actions = ", ".join(st.actions[:4]) or "(NotAction)"
                yield hit(S3_PUBLIC_POLICY, res,
                          f"policy allows Principal \"*\" without a condition ({actions})",
                          attr=attr, evidence=f"Principal * Action {actions}")
            elif maybe is not None:
                yield maybe_problem(S3_PUBLIC_POLICY, res, attr, maybe)


def _log_targets(model: TfModel) -> tuple[set[str], set[str]]:
    """Addresses and literal names of buckets that receive access logs."""
    addresses: set[str] = set()
    names: set[str] = set()
    blocks = [b for r in model.of_type("aws_s3_bucket") for b in sub_blocks(r.body, "logging")]
    blocks.extend(r.body for r in model.of_type("aws_s3_bucket_logging"))
    for block in blocks:
        target = block.get("target_bucket")
        if isinstance(target, Ref):
            addresses.add(target.address)
        elif isinstance(target, str):
            names.add(target)
    return addresses, names


def check_access_logging(model: TfModel) -> Iterator[IacHit | Problem]:
    addresses, names = _log_targets(model)
    links = _Links(model, ("aws_s3_bucket_logging",))
    for bucket in model.of_type("aws_s3_bucket"):
        if sub_blocks(bucket.body, "logging"):
            continue
        own = bucket.body.get("bucket")
        local = bucket.base_address.removeprefix(f"{bucket.module}.") if bucket.module else \
            bucket.base_address
        if local in addresses or bucket.base_address in addresses or \
                (isinstance(own, str) and own in names):
            continue
        acl = bucket.body.get("acl")
        if isinstance(acl, str) and acl == "log-delivery-write":
            continue
        linked, unknown = links.of(bucket)
        if linked:
            continue
        if unknown:
            yield _unlinkable(S3_ACCESS_LOGGING, bucket, unknown)
            continue
        yield hit(S3_ACCESS_LOGGING, bucket, "no server access logging is configured",
                  confidence=Confidence.MEDIUM)


CHECKS: list[Check] = [check_public_acl, check_public_access_block, check_encryption,
                       check_versioning, check_public_policy, check_access_logging]
