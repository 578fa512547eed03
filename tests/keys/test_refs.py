"""Secret references: syntax, lazy resolution, errors that name the reference, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver, has_refs


def test_env_and_file_references_resolve_inside_text(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("file-secret-value\n")
    resolver = SecretResolver(tmp_path, environ={"DB_PASSWORD": "env-secret-value"})
    text = "postgres://app:${env:DB_PASSWORD}@db/${file:token.txt}"
    assert resolver.resolve(text) == "postgres://app:env-secret-value@db/file-secret-value"


def test_resolve_all_walks_nested_settings(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={"A": "alpha", "B": "beta"})
    value = {"x": ["${env:A}", {"y": "${env:B}"}], "n": 3}
    assert resolver.resolve_all(value) == {"x": ["alpha", {"y": "beta"}], "n": 3}
    assert has_refs(value) and not has_refs({"x": ["plain"]})


def test_missing_env_variable_names_the_reference_not_a_value(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={})
    with pytest.raises(ConfigError) as err:
        resolver.resolve("${env:NOT_SET}", "secret_key")
    assert "secret_key" in err.value.message and "${env:NOT_SET}" in err.value.message
    assert "is not set" in err.value.message


def test_missing_file_and_unknown_provider_are_config_errors(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        resolver.resolve("${file:nope.txt}")
    with pytest.raises(ConfigError, match="unknown secret provider"):
        resolver.resolve("${gcp-sm:x}")


def test_oversized_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * (65 << 10))
    with pytest.raises(ConfigError, match="too large"):
        SecretResolver(tmp_path, environ={}).resolve("${file:big}")


def test_resolution_is_lazy_a_provider_is_built_only_when_used(tmp_path: Path) -> None:
    calls: list[str] = []

    def vault(ref: str) -> str:
        calls.append(ref)
        return "v4ult-value"

    resolver = SecretResolver(tmp_path, environ={"A": "alpha"}, providers={"vault": vault})
    assert resolver.resolve("${env:A}") == "alpha"
    assert calls == []  # nothing asked Vault
    assert resolver.resolve("${vault:secret/app#k}") == "v4ult-value"
    assert resolver.resolve("${vault:secret/app#k}") == "v4ult-value"
    assert calls == ["secret/app#k"]  # cached for the run


def test_redact_hides_every_value_handed_out_and_repr_shows_none(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={"S3_SECRET": "s3cr3t-value-xyz"})
    resolver.resolve("${env:S3_SECRET}")
    assert resolver.redact("denied with s3cr3t-value-xyz!") == "denied with ***!"
    assert "s3cr3t" not in repr(resolver)


def test_text_without_references_is_unchanged(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path, environ={})
    assert resolver.resolve("s3://bucket/$HOME/{x}") == "s3://bucket/$HOME/{x}"
