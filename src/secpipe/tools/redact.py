"""Redaction and bounding of untrusted text from external tools (SARIF logs, their output).

Tools quote what they found: gitleaks writes each secret into ``region.snippet``, some tools print
matches to their output. What secpipe keeps of it (findings, the stored SARIF, captured streams)
passes through here first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from secpipe.core.interfaces import Secrets

TEXT_MAX = 2000
"""Default bound on a kept string."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_TOKEN = re.compile(r"[A-Za-z0-9+=_\-]{20,}")


def clean(value: object, limit: int = TEXT_MAX) -> str:
    """A bounded one-line-safe string from untrusted data ('' for non-strings)."""
    if not isinstance(value, str):
        return ""
    text = _CONTROL.sub(" ", value).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entropy(text: str) -> float:
    counts: dict[str, int] = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def mask(secret: str) -> str:
    """``ghp_****************``: the first four characters, the rest starred (bounded)."""
    if len(secret) <= 6:
        return "****"
    return secret[:4] + "*" * min(len(secret) - 4, 20)


def redact_tokens(text: str) -> str:
    """Mask long random-looking tokens (letters and digits, high entropy) inside free text."""

    def _sub(match: re.Match[str]) -> str:
        token = match.group(0)
        has_digit = any(c.isdigit() for c in token)
        has_alpha = any(c.isalpha() for c in token)
        if has_digit and has_alpha and _entropy(token) >= 3.0:
            return mask(token)
        return token

    return _TOKEN.sub(_sub, text)


def redact_log(data: Any) -> Any:
    """Mask, in place, what in a SARIF log may quote a secret: every ``snippet`` text (gitleaks
    writes the secret itself there) and long random tokens in any ``text``/``markdown``."""
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key == "snippet" and isinstance(value, dict) and isinstance(value.get("text"), str):
                value["text"] = mask(value["text"].strip())
            elif key in ("text", "markdown") and isinstance(value, str):
                node[key] = redact_tokens(value)
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return data


def redactor(secrets: Secrets | None) -> Callable[[str], str]:
    """The redaction applied to everything a tool's supervisor hands back: the values the run's
    resolver gave out (``secrets.redact``) first, then long random-looking tokens."""

    def apply(text: str) -> str:
        return redact_tokens(secrets.redact(text) if secrets is not None else text)

    return apply
