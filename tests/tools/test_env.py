"""A tool's environment: the allowlist, never secpipe's credentials; declared and passed-through
variables; the marker token."""

from __future__ import annotations

from pathlib import Path

import pytest

from secpipe.core.errors import ConfigError
from secpipe.keys.refs import SecretResolver
from secpipe.tools.env import (
    INHERITED,
    MARKER,
    PYTHON_INHERITED,
    markers,
    sensitive_name,
    tool_env,
)

PARENT = {
    "PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC",
    "HTTPS_PROXY": "http://proxy:3128", "SSL_CERT_FILE": "/etc/ca.pem",
    "VAULT_TOKEN": "hvs.x", "AWS_SECRET_ACCESS_KEY": "a" * 40, "SECPIPE_KEY_PASSWORD": "pw",
    "GITHUB_TOKEN": "ghp_x", "DB_PASSWORD": "p", "LD_PRELOAD": "/tmp/evil.so",
    "PYTHONPATH": "/src", "VIRTUAL_ENV": "/venv", "RANDOM_SETTING": "1", "LC_API_KEY": "k",
}


def test_only_the_allowlist_is_inherited() -> None:
    env = tool_env(base=PARENT)
    assert {k: v for k, v in env.items() if k != MARKER} == {
        "PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC",
        "HTTPS_PROXY": "http://proxy:3128", "SSL_CERT_FILE": "/etc/ca.pem"}
    python = tool_env(base=PARENT, inherit=PYTHON_INHERITED)
    assert python["PYTHONPATH"] == "/src" and python["VIRTUAL_ENV"] == "/venv"
    assert "VAULT_TOKEN" not in python


@pytest.mark.parametrize("name", ["VAULT_TOKEN", "VAULT_ADDR", "AWS_SECRET_ACCESS_KEY",
                                  "AWS_PROFILE", "SECPIPE_KEY_PASSWORD", "GITHUB_TOKEN",
                                  "NPM_TOKEN", "DB_PASSWORD", "API_KEY", "OPENAI_API_KEY",
                                  "LC_API_KEY", "AZURE_CLIENT_SECRET", "MY_CREDENTIALS"])
def test_credential_names_are_recognised(name: str) -> None:
    assert sensitive_name(name)


@pytest.mark.parametrize("name", [*INHERITED, "PWD", "KEYBOARD", "MONKEY", "PASSAGE"])
def test_ordinary_names_are_not(name: str) -> None:
    assert not sensitive_name(name)


def test_declared_and_passed_through_variables() -> None:
    env = tool_env(base=PARENT, declared={"TOOL_MODE": "fast", "PATH": "/opt/bin"},
                   pass_env=["RANDOM_SETTING", "GITHUB_TOKEN", "NOT_SET_ANYWHERE"])
    assert env["TOOL_MODE"] == "fast" and env["PATH"] == "/opt/bin"  # declared wins
    assert env["RANDOM_SETTING"] == "1" and env["GITHUB_TOKEN"] == "ghp_x"
    assert "NOT_SET_ANYWHERE" not in env and "VAULT_TOKEN" not in env


def test_a_credential_passed_through_is_redacted_by_the_resolver(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-1234567")
    resolver = SecretResolver(tmp_path)
    env = tool_env(pass_env=["DEPLOY_TOKEN"], secrets=resolver)
    assert env["DEPLOY_TOKEN"] == "tok-1234567"
    assert resolver.redact("the tool said tok-1234567") == "the tool said ***"


@pytest.mark.parametrize("bad", ["1ABC", "A-B", "", "A B", "A=B"])
def test_invalid_names_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="not a valid environment variable name"):
        tool_env(base=PARENT, declared={bad: "x"})
    with pytest.raises(ConfigError, match="pass_env"):
        tool_env(base=PARENT, pass_env=[bad])


def test_marker_tokens_nest_and_are_fresh() -> None:
    first = tool_env(base=PARENT)
    (token,) = markers(first)
    nested = tool_env(base={**PARENT, MARKER: first[MARKER]})
    assert markers(nested)[0] == token and len(markers(nested)) == 2
    assert markers(tool_env(base=PARENT)) != (token,)
    assert markers({MARKER: "junk,../x"}) == ()
