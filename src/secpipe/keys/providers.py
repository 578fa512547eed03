"""The secret providers behind ``${env:…}``, ``${file:…}``, ``${vault:…}`` and ``${aws-sm:…}``.

Each provider is a function ``ref -> value`` that raises :class:`ConfigError` with a message naming
what is missing — never the value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from secpipe.core.errors import ConfigError

MAX_SECRET_FILE_BYTES = 64 << 10


def make(name: str, project_root: Path,
         environ: Mapping[str, str] | None = None) -> Callable[[str], str]:
    """Build the provider called ``name`` (one of :data:`secpipe.keys.refs.PROVIDERS`)."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    if name == "env":
        return lambda ref: env_secret(ref, env)
    if name == "file":
        return lambda ref: file_secret(ref, project_root)
    if name == "vault":
        from secpipe.keys.vault import VaultConfig, kv_secret

        vault = VaultConfig.from_env(env)
        return lambda ref: kv_secret(vault, ref)
    if name == "aws-sm":
        from secpipe.keys.aws import AwsConfig, secrets_manager_secret

        aws = AwsConfig.from_env(env)
        return lambda ref: secrets_manager_secret(aws, ref)
    raise ConfigError(f"unknown secret provider {name!r}")


def env_secret(ref: str, env: Mapping[str, str]) -> str:
    name = ref.strip()
    if not name:
        raise ConfigError("empty variable name")
    value = env.get(name)
    if value is None:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def file_secret(ref: str, project_root: Path) -> str:
    """The file's text without its trailing newline (a path relative to the project)."""
    if not ref.strip():
        raise ConfigError("empty file path")
    path = Path(os.path.expanduser(ref.strip()))
    if not path.is_absolute():
        path = project_root / path
    try:
        size = path.stat().st_size
        if size > MAX_SECRET_FILE_BYTES:
            raise ConfigError(f"{path} is {size} bytes, too large for a secret (max 64 KiB)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    return text.rstrip("\r\n")


def split_key(ref: str, example: str) -> tuple[str, str | None]:
    """``path#key`` -> (path, key); the key is optional."""
    path, _, key = ref.partition("#")
    path = path.strip().strip("/")
    if not path:
        raise ConfigError(f"write the reference as {example}")
    return path, (key.strip() or None)


def pick_key(data: Mapping[str, object] | str, key: str | None, where: str) -> str:
    """One field of a secret's data (a JSON object), or the whole secret when no key is named."""
    if key is None:
        if isinstance(data, str):
            return data
        if len(data) == 1:
            return str(next(iter(data.values())))
        raise ConfigError(f"{where} holds {len(data)} keys: name one with '#key'")
    if isinstance(data, str):
        try:
            parsed = json.loads(data)
        except ValueError:
            raise ConfigError(f"{where} is not a JSON object, so it has no key {key!r}") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"{where} is not a JSON object, so it has no key {key!r}")
        data = parsed
    if key not in data:
        raise ConfigError(f"{where} has no key {key!r}")
    value = data[key]
    if not isinstance(value, str | int | float | bool):
        raise ConfigError(f"{where}: key {key!r} is not a string")
    return str(value)
