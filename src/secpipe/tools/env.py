"""The environment an external tool runs with: an allowlist, never secpipe's whole environment.

secpipe's own environment holds its credentials (``VAULT_TOKEN``, ``AWS_SECRET_ACCESS_KEY``,
``SECPIPE_KEY_PASSWORD`` …); a scanner, a build command or a training script gets none of them
unless a step asks for it by name. A tool's environment is, in order (later wins):

1. the variables of :data:`INHERITED` (and every ``LC_*``) that are set in secpipe's environment
   and whose name does not look like a credential (:func:`sensitive_name`);
2. the names a step passes through explicitly (``pass_env:``), copied as they are; a name that
   looks like a credential is resolved as ``${env:NAME}`` so its value is redacted from
   everything the run keeps;
3. the variables a step declares (``env:``), whose ``${…}`` references the caller has resolved;
4. :data:`MARKER`, a token naming this supervised run (inherited markers kept), by which the
   supervisor finds the tool's processes that left its process group.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Mapping

from secpipe.core.errors import ConfigError
from secpipe.core.interfaces import Secrets

INHERITED: tuple[str, ...] = (
    # what a program needs to find itself and behave: the search path, the user, the locale
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "NO_COLOR",
    # where a tool keeps its cache and configuration (default under HOME anyway)
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
    # the network as the machine is set up for it: proxies and extra CA certificates
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
)
"""Names a tool inherits from secpipe's environment (plus every ``LC_*``)."""
PYTHON_INHERITED: tuple[str, ...] = (
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONPATH",
    "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
)
"""Extra names a Python child of ``train`` / ``evaluate`` inherits: its environment (venv,
conda, import path) and the thread and GPU choices of the machine."""
MARKER = "SECPIPE_SUPERVISED"
"""Set in every tool's environment: comma-separated tokens of the supervised runs it belongs to."""
MAX_MARKERS = 8
"""Inherited marker tokens kept (a tool that is itself a secpipe run nests)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SENSITIVE_PREFIX = ("VAULT_", "AWS_", "SECPIPE_", "AZURE_", "GOOGLE_", "GCP_")
_SENSITIVE_WORD = re.compile(
    r"(^|_)(TOKEN|KEY|SECRET|PASSWORD|PASSWD|PASS|PWD|CREDENTIALS?|AUTH|COOKIE|SESSION|"
    r"PRIVATE|CERT_PASSWORD|APIKEY|DSN)(_|$)")


def sensitive_name(name: str) -> bool:
    """True for names that look like they hold a credential (``*_TOKEN``, ``AWS_*`` …)."""
    upper = name.upper()
    if upper == "PWD":  # the shell's working directory, not a password
        return False
    return upper.startswith(_SENSITIVE_PREFIX) or _SENSITIVE_WORD.search(upper) is not None


def valid_name(name: str) -> bool:
    """True for a portable environment variable name (letters, digits, ``_``; not a digit
    first; at most 128 characters)."""
    return _NAME.match(name) is not None


def check_name(name: str, what: str) -> str:
    """``name`` when it is a valid variable name, else :class:`ConfigError` naming ``what``."""
    if not valid_name(name):
        raise ConfigError(f"{what}: {name[:60]!r} is not a valid environment variable name")
    return name


def new_marker() -> str:
    """A fresh token for one supervised run (128 random bits)."""
    return secrets.token_hex(16)


def markers(env: Mapping[str, str]) -> tuple[str, ...]:
    """The marker tokens in an environment (hex tokens only)."""
    raw = env.get(MARKER, "")
    return tuple(t for t in raw.split(",") if re.fullmatch(r"[0-9a-f]{32}", t))


def tool_env(
    *, declared: Mapping[str, str] | None = None, pass_env: Iterable[str] = (),
    inherit: Iterable[str] = (), secrets: Secrets | None = None,
    base: Mapping[str, str] | None = None, what: str = "env",
) -> dict[str, str]:
    """The environment of one tool (see the module docstring for the order).

    ``declared`` values must already have their references resolved; ``inherit`` adds names to
    :data:`INHERITED` (e.g. :data:`PYTHON_INHERITED`); ``base`` is secpipe's environment
    (default ``os.environ``). A ``pass_env`` name that looks like a credential is read through
    ``secrets`` (``${env:NAME}``) so the resolver redacts its value; an unset name is left out.
    """
    source = os.environ if base is None else base
    allowed = set(INHERITED) | set(inherit)
    env = {name: value for name, value in source.items()
           if (name in allowed or name.startswith("LC_")) and not sensitive_name(name)}
    for name in pass_env:
        check_name(name, f"{what}: pass_env")
        if name not in source:
            continue
        if secrets is not None and sensitive_name(name) and base is None:
            env[name] = secrets.resolve("${env:" + name + "}", f"{what}: pass_env {name}")
        else:
            env[name] = source[name]
    for name, value in (declared or {}).items():
        env[check_name(name, what)] = value
    tokens = [*markers(source)][-(MAX_MARKERS - 1):]
    env[MARKER] = ",".join([*tokens, new_marker()])
    return env
