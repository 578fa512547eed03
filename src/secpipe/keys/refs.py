"""Secret references (``${env:NAME}`` …) and their lazy, redacting resolver."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.interfaces import Secrets
from secpipe.core.step import StepContext

#: ``${provider:reference}``; the reference may not contain ``}``.
REF_PATTERN = re.compile(r"\$\{(?P<provider>[a-z][a-z0-9-]*):(?P<ref>[^}]*)\}")
PROVIDERS = ("aws-sm", "env", "file", "vault")
_MAX_DEPTH = 32

Provider = Callable[[str], str]


def has_refs(value: Any) -> bool:
    """True when a string (or any string inside lists / mappings) holds a secret reference."""
    if isinstance(value, str):
        return REF_PATTERN.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_refs(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_refs(v) for v in value)
    return False


class SecretResolver:
    """Resolves secret references on demand and remembers the values it gave out, to redact them.

    Providers are created on first use, so a run that never needs Vault never contacts it. Values
    are cached for the resolver's lifetime (one run). ``repr`` never shows a value.
    """

    def __init__(self, project_root: Path, environ: Mapping[str, str] | None = None,
                 providers: Mapping[str, Provider] | None = None) -> None:
        self.project_root = project_root
        self._environ = environ
        self._providers: dict[str, Provider] = dict(providers or {})
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        root = str(self.project_root)
        return f"SecretResolver(project_root={root!r}, resolved={len(self._cache)})"

    # -- resolution ------------------------------------------------------------------------
    def resolve(self, value: str, what: str = "setting") -> str:
        """Replace every reference in ``value``; ``what`` names the setting in errors."""
        def one(match: re.Match[str]) -> str:
            return self.lookup(match.group("provider"), match.group("ref"), what)
        return REF_PATTERN.sub(one, value)

    def resolve_optional(self, value: str | None, what: str = "setting") -> str | None:
        return None if value is None else self.resolve(value, what)

    def resolve_all(self, value: Any, what: str = "settings", _depth: int = 0) -> Any:
        """Resolve references inside nested lists and mappings (bounded depth)."""
        if _depth > _MAX_DEPTH:
            raise ConfigError(f"{what}: nested too deeply to resolve secret references")
        if isinstance(value, str):
            return self.resolve(value, what)
        if isinstance(value, Mapping):
            return {k: self.resolve_all(v, f"{what}.{k}", _depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.resolve_all(v, f"{what}[{i}]", _depth + 1) for i, v in enumerate(value)]
        return value

    def lookup(self, provider: str, ref: str, what: str = "setting") -> str:
        """The value of one reference; :class:`ConfigError` names the reference, never a value."""
        label = f"${{{provider}:{ref}}}"
        key = f"{provider}:{ref}"
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        fetch = self._provider(provider, what, label)
        try:
            value = fetch(ref)
        except ConfigError as exc:
            raise ConfigError(f"{what}: secret reference {label} did not resolve: {exc.message}",
                              hint=exc.hint) from None
        with self._lock:
            self._cache[key] = value
        return value

    def _provider(self, name: str, what: str, label: str) -> Provider:
        with self._lock:
            found = self._providers.get(name)
        if found is not None:
            return found
        if name not in PROVIDERS:
            raise ConfigError(f"{what}: unknown secret provider in {label}",
                              hint="use one of: " + ", ".join(f"${{{p}:…}}" for p in PROVIDERS))
        from secpipe.keys import providers  # imported lazily: hvac / boto3 are optional

        made = providers.make(name, self.project_root, self._environ)
        with self._lock:
            self._providers.setdefault(name, made)
            return self._providers[name]

    # -- redaction -------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """``text`` with every value this resolver handed out replaced by ``***``."""
        with self._lock:
            values = sorted((v for v in self._cache.values() if len(v) >= 4), key=len,
                            reverse=True)
        for value in values:
            text = text.replace(value, "***")
        return text


def resolver_for(ctx: StepContext) -> Secrets:
    """The run's resolver from the step context; a fresh one for a step run outside a pipeline."""
    return ctx.secrets if ctx.secrets is not None else SecretResolver(ctx.project_root)
