resource "aws_s3_bucket" "build_cache" {
  bucket = "acme-build-cache-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_lifecycle_configuration" "build_cache" {
  bucket = aws_s3_bucket.build_cache.id
  rule {
    id     = "expire"
    status = "Enabled"
    expiration {
      days = 14
    }
  }
}

resource "aws_ebs_volume" "jenkins_home" {
  availability_zone = "eu-central-1b"
  size              = 250
  type              = "gp3"
}

data "aws_caller_identity" "current" {}
