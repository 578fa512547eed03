"""HTTP, redaction and run-store helpers shared by the sinks (webhook, PagerDuty, DefectDojo,
Faraday, Elasticsearch, Prometheus).

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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from secpipe import __version__
from secpipe.core.errors import ConfigError, SecpipeError
from secpipe.core.interfaces import Secrets
from secpipe.keys.refs import has_refs
from secpipe.sinks.interface import SinkError

if TYPE_CHECKING:
    from secpipe.runstore.records import RunRecord

USER_AGENT = f"secpipe/{__version__}"
MAX_RESPONSE = 4 * 1024 * 1024
"""Bytes of a response body read at most."""
RETRYABLE_4XX = frozenset({408, 425, 429})
_MAX_DEPTH = 32


def origin(url: str, credentials_hint: str = "use the token setting") -> str:
    """``scheme://host[:port]`` of an http(s) URL; ``ValueError`` (without the URL) otherwise.
    ``credentials_hint`` says where credentials go instead of the URL."""
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
        raise ValueError(f"must not hold credentials ({credentials_hint})")
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


def read_run(state_dir: Path, shown: str, run_id: str,
             redact: Callable[[str], str]) -> RunRecord:
    """The whole recorded run ``run_id`` from the run store under ``state_dir`` (``shown``: how
    the folder is named in messages); a non-retryable :class:`SinkError` when it cannot be read
    (events carry only each step's worst findings; sinks that report every finding read them
    here)."""
    from secpipe.runstore import RunStore

    path = state_dir / "runs.db"
    if not path.is_file():
        raise SinkError(f"no run store at {shown}/runs.db", retry=False)
    try:
        store = RunStore(path)
        try:
            return store.get_run(run_id)
        finally:
            store.close()
    except SecpipeError as exc:
        raise SinkError(f"cannot read run {run_id}: {redact(exc.message)}", retry=False) from None


def service_url(secrets: Secrets, value: str, service: str) -> tuple[str, str]:
    """``with.url`` resolved (it may be a secret reference) and checked, and how messages name
    the service: ``to SERVICE at scheme://host:port``, or ``to SERVICE (URL from a secret)``
    when the URL came from a secret (its host may be a secret too)."""
    url = secrets.resolve(value, "with.url")
    try:
        base = origin(url)
    except ValueError as exc:
        raise ConfigError(f"with.url: the resolved URL {exc}") from None
    where = f"to {service} " + ("(URL from a secret)" if has_refs(value) else f"at {base}")
    return url.rstrip("/"), where
