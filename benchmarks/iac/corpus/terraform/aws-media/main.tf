provider "aws" {
  region = "eu-west-1"
}

module "media" {
  source        = "./modules/bucket"
  name          = "acme-media-public"
  acl           = "public-read"
  force_destroy = false
  tags = {
    team = "web"
  }
}

output "media_bucket" {
  value = module.media.bucket_name
}
