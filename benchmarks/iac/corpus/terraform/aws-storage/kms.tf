resource "aws_kms_key" "data" {
  description             = "Data at rest"
  deletion_window_in_days = 30
  enable_key_rotation     = false
}

resource "aws_kms_alias" "data" {
  name          = "alias/acme-data"
  target_key_id = aws_kms_key.data.key_id
}

resource "aws_kms_key" "logs" {
  description         = "CloudWatch logs"
  enable_key_rotation = true
}

resource "aws_kms_key" "release_signing" {
  description              = "Signs release artifacts"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "ECC_NIST_P256"
}
