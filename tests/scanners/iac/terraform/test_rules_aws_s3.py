"""AWS S3 rules through the real loader: each fires on the insecure forms teams write (inline
and separate resources), stays quiet on the fixed form and on a safe look-alike, and reports an
unresolved deciding value as ``iac.unresolved``."""

from __future__ import annotations

from pathlib import Path

from test_rules_aws_support import hits, model_of, run_model, scan, unresolved

from secpipe.core.findings import Severity
from secpipe.scanners.iac.terraform.rules_aws_s3 import (
    S3_ACCESS_LOGGING,
    S3_ENCRYPTION,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_PUBLIC_ACL,
    S3_PUBLIC_POLICY,
    S3_VERSIONING,
)

BUCKET = 'resource "aws_s3_bucket" "data" {\n  bucket = "acme-data"\n}\n'
PAB_ALL = """
resource "aws_s3_bucket_public_access_block" "data" {
  bucket                  = aws_s3_bucket.data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
"""


# --- public ACL ----------------------------------------------------------------------------

def test_public_acl_separate_resource_fires_with_line(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket_acl" "data" {
  bucket = aws_s3_bucket.data.id
  acl    = "public-read"
}
""")
    [h] = hits(found, S3_PUBLIC_ACL)
    assert h.resource == "aws_s3_bucket_acl.data"
    assert h.line == 7 and '"public-read"' in h.message
    assert h.block == (5, 8)


def test_public_read_write_inline_is_critical(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_s3_bucket" "d" {\n  acl = "public-read-write"\n}\n')
    [h] = hits(found, S3_PUBLIC_ACL)
    assert h.severity == Severity.CRITICAL


def test_grant_to_all_users_group_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket_acl" "data" {
  bucket = aws_s3_bucket.data.id
  access_control_policy {
    grant {
      grantee {
        type = "Group"
        uri  = "http://acs.amazonaws.com/groups/global/AllUsers"
      }
      permission = "READ"
    }
    owner {
      id = "abc"
    }
  }
}
""")
    [h] = hits(found, S3_PUBLIC_ACL)
    assert "AllUsers" in h.message and h.line == 11


def test_private_and_log_delivery_acls_do_not_fire(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_s3_bucket_acl" "a" {
  bucket = "x"
  acl    = "private"
}
resource "aws_s3_bucket_acl" "logs" {
  bucket = "y"
  acl    = "log-delivery-write"
}
""")
    assert hits(found, S3_PUBLIC_ACL) == []


def test_acl_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "acl" {}\nresource "aws_s3_bucket_acl" "a" {\n'
                 '  bucket = "x"\n  acl = var.acl\n}\n')
    assert hits(found, S3_PUBLIC_ACL) == []
    [p] = unresolved(found, S3_PUBLIC_ACL)
    assert "var.acl" in p.message and p.line == 4


def test_acl_from_tfvars_is_judged(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "acl" {}\nresource "aws_s3_bucket_acl" "a" {\n'
                 '  bucket = "x"\n  acl = var.acl\n}\n',
                 terraform__tfvars='acl = "authenticated-read"\n')
    assert len(hits(found, S3_PUBLIC_ACL)) == 1


# --- public access block -------------------------------------------------------------------

def test_bucket_without_public_access_block_fires(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, BUCKET), S3_PUBLIC_ACCESS_BLOCK)
    assert h.resource == "aws_s3_bucket.data" and h.line == 1


def test_complete_block_by_reference_is_quiet(tmp_path: Path) -> None:
    assert hits(scan(tmp_path, BUCKET + PAB_ALL), S3_PUBLIC_ACCESS_BLOCK) == []


def test_block_naming_bucket_by_literal_name_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + PAB_ALL.replace("aws_s3_bucket.data.id", '"acme-data"'))
    assert hits(found, S3_PUBLIC_ACCESS_BLOCK) == []


def test_block_with_a_false_flag_fires_on_the_block(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + PAB_ALL.replace(
        "restrict_public_buckets = true", "restrict_public_buckets = false"))
    [h] = hits(found, S3_PUBLIC_ACCESS_BLOCK)
    assert h.resource == "aws_s3_bucket_public_access_block.data"
    assert "restrict_public_buckets" in h.message and h.line == 10


def test_block_with_a_missing_flag_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + PAB_ALL.replace("  ignore_public_acls      = true\n", ""))
    [h] = hits(found, S3_PUBLIC_ACCESS_BLOCK)
    assert "ignore_public_acls" in h.message


def test_account_level_block_covers_every_bucket(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_account_public_access_block" "all" {
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
""")
    assert hits(found, S3_PUBLIC_ACCESS_BLOCK) == []


def test_partial_account_level_block_fires_on_account_and_bucket(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_account_public_access_block" "all" {
  block_public_acls   = true
  block_public_policy = true
}
""")
    got = {h.resource: h.message for h in hits(found, S3_PUBLIC_ACCESS_BLOCK)}
    assert set(got) == {"aws_s3_account_public_access_block.all", "aws_s3_bucket.data"}
    assert "ignore_public_acls" in got["aws_s3_bucket.data"]


def test_block_for_unknown_bucket_makes_absence_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "name" {}\n' + BUCKET +
                 PAB_ALL.replace("aws_s3_bucket.data.id", "var.name"))
    assert [h.resource for h in hits(found, S3_PUBLIC_ACCESS_BLOCK)] == []
    [p] = unresolved(found, S3_PUBLIC_ACCESS_BLOCK)
    assert "var.name" in p.message


def test_buckets_with_count_share_one_block_each(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_s3_bucket" "b" {
  count  = 2
  bucket = "acme-${count.index}"
}
resource "aws_s3_bucket_public_access_block" "b" {
  count                   = 2
  bucket                  = aws_s3_bucket.b[count.index].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
""")
    assert hits(found, S3_PUBLIC_ACCESS_BLOCK) == []


# --- encryption ----------------------------------------------------------------------------

def test_bucket_without_encryption_config_is_low(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, BUCKET), S3_ENCRYPTION)
    assert "SSE-S3" in h.message and h.severity is None


def test_separate_encryption_resource_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}
""")
    assert hits(found, S3_ENCRYPTION) == []


def test_inline_encryption_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_s3_bucket" "old" {
  bucket = "legacy"
  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "AES256"
      }
    }
  }
}
""")
    assert hits(found, S3_ENCRYPTION) == []


# --- versioning ----------------------------------------------------------------------------

def test_versioning_suspended_fires_on_the_versioning_resource(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = "Suspended"
  }
}
""")
    [h] = hits(found, S3_VERSIONING)
    assert h.resource == "aws_s3_bucket_versioning.data" and h.line == 8


def test_versioning_absent_fires_on_bucket(tmp_path: Path) -> None:
    [h] = hits(scan(tmp_path, BUCKET), S3_VERSIONING)
    assert h.resource == "aws_s3_bucket.data"


def test_versioning_enabled_separate_and_inline_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = "Enabled"
  }
}
resource "aws_s3_bucket" "old" {
  versioning {
    enabled = true
  }
}
""")
    assert hits(found, S3_VERSIONING) == []


def test_versioning_status_from_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "st" {}\n' + BUCKET + """
resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id
  versioning_configuration {
    status = var.st
  }
}
""")
    assert hits(found, S3_VERSIONING) == []
    assert len(unresolved(found, S3_VERSIONING)) == 1


# --- bucket policy -------------------------------------------------------------------------

POLICY = """
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.data.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "%s"
      Principal = %s
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_bucket.data.arn}/*"%s
    }]
  })
}
"""


def test_public_principal_jsonencode_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + POLICY % ("Allow", '"*"', ""))
    [h] = hits(found, S3_PUBLIC_POLICY)
    assert h.resource == "aws_s3_bucket_policy.p" and "s3:GetObject" in h.message


def test_public_aws_star_principal_heredoc_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.data.id
  policy = <<EOF
{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]},
                 "Action": ["s3:*"], "Resource": "arn:aws:s3:::acme-data/*"}]
}
EOF
}
""")
    assert len(hits(found, S3_PUBLIC_POLICY)) == 1


def test_public_principal_in_policy_document_data_source_fires(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
data "aws_iam_policy_document" "pub" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::acme-data/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}
resource "aws_s3_bucket_policy" "p" {
  bucket = aws_s3_bucket.data.id
  policy = data.aws_iam_policy_document.pub.json
}
""")
    assert len(hits(found, S3_PUBLIC_POLICY)) == 1


def test_deny_with_star_principal_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + POLICY % (
        "Deny", '"*"', '\n      Condition = { Bool = { "aws:SecureTransport" = "false" } }'))
    assert hits(found, S3_PUBLIC_POLICY) == []


def test_star_principal_with_condition_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + POLICY % (
        "Allow", '"*"', '\n      Condition = { StringEquals = { "aws:SourceVpce" = "vpce-1" } }'))
    assert hits(found, S3_PUBLIC_POLICY) == []


def test_named_principal_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + POLICY % (
        "Allow", '{ AWS = "arn:aws:iam::111122223333:role/reader" }', ""))
    assert hits(found, S3_PUBLIC_POLICY) == []


def test_policy_from_unknown_variable_is_unresolved(tmp_path: Path) -> None:
    found = scan(tmp_path, 'variable "doc" {}\nresource "aws_s3_bucket_policy" "p" {\n'
                 '  bucket = "x"\n  policy = var.doc\n}\n')
    [p] = unresolved(found, S3_PUBLIC_POLICY)
    assert "var.doc" in p.message and p.line == 4


def test_policy_that_is_not_json_is_unresolved_not_a_crash(tmp_path: Path) -> None:
    found = scan(tmp_path, 'resource "aws_s3_bucket_policy" "p" {\n  bucket = "x"\n'
                 '  policy = "{not json"\n}\n')
    [p] = unresolved(found, S3_PUBLIC_POLICY)
    assert "not valid JSON" in p.message


def test_deeply_nested_policy_is_bounded(tmp_path: Path) -> None:
    deep = "[" * 200 + "]" * 200
    found = scan(tmp_path, 'resource "aws_s3_bucket_policy" "p" {\n  bucket = "x"\n'
                 f"  policy = <<EOT\n{{\"Statement\": {deep}}}\nEOT\n}}\n")
    [p] = unresolved(found, S3_PUBLIC_POLICY)
    assert "deeper" in p.message


# --- access logging ------------------------------------------------------------------------

def test_bucket_without_logging_fires(tmp_path: Path) -> None:
    assert len(hits(scan(tmp_path, BUCKET), S3_ACCESS_LOGGING)) == 1


def test_logging_resource_and_log_target_bucket_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, BUCKET + """
resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
}
resource "aws_s3_bucket_logging" "data" {
  bucket        = aws_s3_bucket.data.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "data/"
}
""")
    assert hits(found, S3_ACCESS_LOGGING) == []


def test_inline_logging_is_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_s3_bucket" "old" {
  logging {
    target_bucket = "acme-logs"
  }
}
resource "aws_s3_bucket" "target" {
  bucket = "acme-logs"
}
""")
    assert hits(found, S3_ACCESS_LOGGING) == []


def test_block_in_a_module_given_the_bucket_reference_counts(tmp_path: Path) -> None:
    model = model_of(tmp_path, {
        "main.tf": BUCKET + 'module "guard" {\n  source = "./guard"\n'
                   "  bucket = aws_s3_bucket.data.id\n}\n",
        "guard/main.tf": 'variable "bucket" {}\n'
                         + PAB_ALL.replace("aws_s3_bucket.data.id", "var.bucket"),
    })
    assert hits(run_model(model), S3_PUBLIC_ACCESS_BLOCK) == []


def test_buckets_with_for_each_and_matching_blocks_are_quiet(tmp_path: Path) -> None:
    found = scan(tmp_path, """
resource "aws_s3_bucket" "b" {
  for_each = toset(["raw", "clean"])
  bucket   = "acme-${each.key}"
}
resource "aws_s3_bucket_public_access_block" "b" {
  for_each                = aws_s3_bucket.b
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
""")
    assert hits(found, S3_PUBLIC_ACCESS_BLOCK) == []
