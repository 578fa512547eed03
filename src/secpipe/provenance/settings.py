"""Key settings shared by the ``sign``, ``verify`` and ``load`` steps, and run-store access."""

from __future__ import annotations

from pathlib import Path

from secpipe.core.errors import StoreError
from secpipe.core.step import StepContext, StepSettings
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import KeyOptions
from secpipe.runstore import RunStore
from secpipe.runstore.records import StepRecord


class KeySettings(StepSettings):
    """Which key signs or verifies. Strings may hold secret references (``${env:…}``)."""

    key: str | None = None
    """``file:PATH`` (default ``.secpipe/keys/signing.pem``, generated on first use),
    ``vault-transit:MOUNT/NAME`` or ``awskms:KEY-ID-OR-ALIAS``."""
    public_key: str | None = None
    """Verification only: a trusted PEM public key file (default: the public half of ``key``)."""
    key_password: str | None = None
    """Password of an encrypted local key file (use a reference, e.g. ``${env:KEY_PASSWORD}``)."""
    vault_addr: str | None = None
    """Vault/OpenBao address (default ``VAULT_ADDR``)."""
    vault_token: str | None = None
    """Vault token (default ``VAULT_TOKEN``), e.g. ``${file:/run/secrets/vault-token}``."""
    aws_region: str | None = None
    """AWS region of the KMS key (default ``AWS_REGION``)."""
    aws_endpoint: str | None = None
    """KMS endpoint (default ``AWS_ENDPOINT_URL``)."""

    def options(self) -> KeyOptions:
        return KeyOptions(vault_addr=self.vault_addr, vault_token=self.vault_token,
                          aws_region=self.aws_region, aws_endpoint=self.aws_endpoint,
                          key_password=self.key_password)


def resolver(ctx: StepContext) -> SecretResolver:
    """The run's secret resolver (a fresh one outside a pipeline run)."""
    found = getattr(ctx, "secrets", None)
    return found if isinstance(found, SecretResolver) else SecretResolver(ctx.project_root)


def state_dir(ctx: StepContext) -> str:
    return str(ctx.config.get("state_dir", ".secpipe") or ".secpipe")


def earlier_steps(ctx: StepContext) -> list[StepRecord]:
    """Steps of this run recorded so far (earlier stages), read from the run store."""
    db = Path(ctx.project_root) / state_dir(ctx) / "runs.db"
    if not db.is_file():
        return []
    store = RunStore(db)
    try:
        return list(store.get_run(ctx.run_id).steps)
    except StoreError:  # not a recorded run (an ad-hoc step)
        return []
    finally:
        store.close()
