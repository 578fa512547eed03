"""Key management: secret references and signing keys.

Two public surfaces:

- :class:`~secpipe.keys.refs.SecretResolver` resolves secret references written anywhere in a
  step's settings — ``${env:NAME}``, ``${file:path}``, ``${vault:mount/path#key}`` (KV v2 of
  HashiCorp Vault or OpenBao) and ``${aws-sm:name#key}`` (AWS Secrets Manager). A reference is
  resolved only when a step needs the value, and the value is never written to the run store,
  reports or logs (the resolver can redact every value it handed out).
- :func:`~secpipe.keys.signers.open_signing_key` opens a signing key by reference: a local EC P-256
  key file (generated on first use, permissions checked; by default the user's
  ``$XDG_CONFIG_HOME/secpipe/keys/signing.pem``, never a file inside the project), a Vault/OpenBao
  transit key (``vault-transit:MOUNT/NAME``; the private key never leaves Vault) or an AWS KMS key
  (``awskms:KEY-ID-OR-ALIAS``). Every backend signs ECDSA P-256 / SHA-256, so one public key
  verifies what any of them signed.
"""
