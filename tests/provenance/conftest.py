"""Real-server fixtures (see tests/servers.py)."""

from servers import aws_env, aws_server, oci_server, s3_server, vault_env, vault_server

__all__ = ["aws_env", "aws_server", "oci_server", "s3_server", "vault_env", "vault_server"]
