vpc_id      = "vpc-0a1b2c3d4e5f67890"
admin_cidrs = ["198.51.100.0/24", "10.0.0.0/8"]
