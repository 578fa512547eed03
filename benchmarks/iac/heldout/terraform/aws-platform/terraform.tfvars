vpc_id              = "vpc-0f1e2d3c4b5a69788"
ssh_cidrs           = ["0.0.0.0/0"]
corp_prefix_list_id = "pl-0123456789abcdef0"
public_nacl_id      = "acl-0a9b8c7d6e5f43210"
