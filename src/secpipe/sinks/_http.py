"""HTTP and redaction helpers shared by the PagerDuty, DefectDojo and Elasticsearch sinks.

Standard library only (``urllib.request``). A request never follows a redirect (it would carry
the credentials elsewhere); errors are :class:`~secpipe.sinks.interface.SinkError` lines that
name the service's origin (``scheme://host:port``) and an HTTP status, never a path, a header or
a response body (a body may echo what we sent).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from secpipe import __version__
from secpipe.sinks.interface import SinkError

USER_AGENT = f"secpipe/{__version__}"
MAX_RESPONSE = 4 * 1024 * 1024
"""Bytes of a response body read at most."""
RETRYABLE_4XX = frozenset({408, 425, 429})
_MAX_DEPTH = 32


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; ``ValueError`` (without the URL) otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (use the token setting)")
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def redact_tree(value: Any, redact: Callable[[str], str], _depth: int = 0) -> Any:
    """``value`` (JSON-like: dicts, lists, strings, numbers) with every string redacted; keys too.
    Strings are redacted before serialising, so an escaped secret cannot slip through."""
    if _depth > _MAX_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(k)): redact_tree(v, redact, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v, redact, _depth + 1) for v in value]
    return value


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters, ending in ``…`` when it was cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


class HttpError(SinkError):
    """A :class:`SinkError` for an HTTP answer outside 2xx; ``status`` is that answer's code."""

    def __init__(self, message: str, *, status: int, retry: bool) -> None:
        super().__init__(message, retry=retry)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__ if isinstance(exc, BaseException) else "network error"


def request(method: str, url: str, *, body: bytes | None, headers: Mapping[str, str],
            timeout: float, where: str, ok: tuple[int, ...] = (),
            no_retry: frozenset[int] = frozenset()) -> tuple[int, bytes]:
    """Send one request; ``(status, body)`` for a 2xx (or a status in ``ok``).

    Anything else raises :class:`SinkError` naming ``where`` (the caller's safe description of
    the endpoint) and the status: 5xx, 408, 425, 429 and network errors are retryable, other
    4xx and 3xx are not, nor is a status in ``no_retry``."""
    all_headers = {"User-Agent": USER_AGENT, **headers}
    req = urllib.request.Request(url, data=body, headers=all_headers,  # noqa: S310 - http(s) only
                                 method=method)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return int(resp.status), resp.read(MAX_RESPONSE)
    except urllib.error.HTTPError as exc:
        code = exc.code
        try:
            data = exc.read(MAX_RESPONSE) if code in ok else b""
        except (OSError, HTTPException):
            data = b""
        exc.close()
        if code in ok:
            return code, data
        note = " (redirects are not followed)" if 300 <= code < 400 else ""
        retry = (code >= 500 or code in RETRYABLE_4XX) and code not in no_retry
        raise HttpError(f"{method} {where}: HTTP {code}{note}", status=code,
                        retry=retry) from None
    except urllib.error.URLError as exc:
        raise SinkError(f"{method} {where}: {_reason(exc.reason)}") from None
    except (OSError, HTTPException, ValueError) as exc:
        raise SinkError(f"{method} {where}: {_reason(exc)}") from None


def json_body(data: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(data, default=str, separators=(",", ":"), ensure_ascii=False).encode()


def parse_json(data: bytes) -> Any:
    """The JSON of a response body, or None when it is not JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
