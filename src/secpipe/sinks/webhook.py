"""The ``webhook`` sink: POSTs each event as JSON to an http(s) URL.

The body is the event's ``to_dict()`` (``{"type": "step.finished", "run_id": …}``). Header values
and the URL may be secret references (``${env:HOOK_TOKEN}``), resolved when the run starts; no
message ever shows a header value, and the URL only as ``scheme://host:port`` (never its path,
which often holds a token), or not at all when it came from a secret. Redirects are not followed
(they would carry the headers elsewhere). Standard library only (``urllib.request``).

With ``signing_secret`` (a secret reference), every request carries ``X-Secpipe-Timestamp``
(Unix seconds) and ``X-Secpipe-Signature: sha256=<hex>``, the HMAC-SHA256 under that secret of
``<timestamp>.<body>`` (the exact bytes sent): a receiver recomputes it, compares in constant
time and refuses an old timestamp (a replay), as Slack's and Stripe's webhooks are checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import Any

from pydantic import Field, field_validator

from secpipe import __version__
from secpipe.core.errors import ConfigError
from secpipe.core.events import Event
from secpipe.keys.refs import has_refs
from secpipe.sinks import _http
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings, retry_after_from

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_MANAGED = frozenset({"content-type", "content-length", "host", "transfer-encoding"})
_RETRYABLE_4XX = frozenset({408, 425, 429})


def _check_url(url: str) -> str:
    """The URL's ``scheme://host[:port]``; ``ValueError`` (without the URL) when unusable."""
    return _http.origin(url, "put them in headers, as secret references")


def _check_header_value(value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValueError("holds a line break or NUL")


class WebhookSettings(SinkSettings):
    """``with:`` of a ``webhook`` sink."""

    url: str = Field(min_length=1)
    """Where events are POSTed: an http:// or https:// URL, or a secret reference to one."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers (``Authorization: "Bearer ${env:HOOK_TOKEN}"``); values may be
    secret references and are never shown in messages."""
    signing_secret: str | None = None
    """A secret reference (``${env:HOOK_SIGNING_SECRET}``) whose value signs every request:
    ``X-Secpipe-Signature: sha256=HMAC(secret, "<X-Secpipe-Timestamp>.<body>")``."""

    @field_validator("signing_secret")
    @classmethod
    def _secret_is_a_reference(cls, value: str | None) -> str | None:
        if value is not None and not has_refs(value):
            raise ValueError("must be a secret reference such as ${env:HOOK_SIGNING_SECRET} "
                             "(a literal secret would sit in secpipe.yaml)")
        return value

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not has_refs(value):  # a reference is checked once resolved, when the run starts
            _check_url(value)
        return value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in _MANAGED or name.lower().startswith("x-secpipe-"):
                raise ValueError(f"{name} is set by the sink itself")
            try:
                _check_header_value(text)
            except ValueError as exc:
                raise ValueError(f"{name}: the value {exc}") from None
        return value


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx then surfaces as an HTTPError


class WebhookSink(Sink[WebhookSettings]):
    """POSTs every event it accepts as JSON to one URL."""

    kind = "webhook"
    summary = "POST each event as JSON to an http(s) URL"
    Settings = WebhookSettings

    def __init__(self, settings: WebhookSettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        secrets = context.secrets
        self._url = secrets.resolve(settings.url, "with.url")
        try:
            origin = _check_url(self._url)
        except ValueError as exc:
            raise ConfigError(f"with.url: the resolved URL {exc}") from None
        self._where = "the URL from a secret" if has_refs(settings.url) else origin
        self._headers = {"Content-Type": "application/json",
                         "User-Agent": f"secpipe/{__version__}"}
        for name, value in settings.headers.items():
            resolved = secrets.resolve(value, f"with.headers.{name}")
            try:
                _check_header_value(resolved)
            except ValueError as exc:
                raise ConfigError(f"with.headers.{name}: the resolved value {exc}") from None
            self._headers[name] = resolved
        self._key: bytes | None = None
        if settings.signing_secret is not None:
            key = secrets.resolve(settings.signing_secret, "with.signing_secret")
            if len(key) < 16:
                raise ConfigError("with.signing_secret: the resolved secret is shorter than 16 "
                                  "characters (too weak to sign with)")
            self._key = key.encode()
        self._opener = urllib.request.build_opener(_NoRedirect)

    def deliver(self, event: Event) -> None:
        body = json.dumps(event.to_dict(), default=str, separators=(",", ":")).encode()
        headers = self._headers
        if self._key is not None:
            stamp = str(int(time.time()))
            mac = hmac.new(self._key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            headers = {**headers, "X-Secpipe-Timestamp": stamp,
                       "X-Secpipe-Signature": f"sha256={mac}"}
        request = urllib.request.Request(  # noqa: S310 - _check_url allows http(s) only
            self._url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.settings.timeout):
                return  # urllib raises HTTPError for anything but 2xx
        except urllib.error.HTTPError as exc:
            code = exc.code
            after = retry_after_from(exc.headers)
            exc.close()
            note = " (redirects are not followed)" if 300 <= code < 400 else ""
            retry = code >= 500 or code in _RETRYABLE_4XX
            raise SinkError(f"POST to {self._where}: HTTP {code}{note}", retry=retry,
                            retry_after=after) from None
        except urllib.error.URLError as exc:
            raise SinkError(f"POST to {self._where}: {_reason(exc.reason)}") from None
        except (OSError, HTTPException, ValueError) as exc:
            raise SinkError(f"POST to {self._where}: {_reason(exc)}") from None


def _reason(exc: object) -> str:
    """A short cause that cannot hold a URL or a header: a timeout, an OS error string, or the
    exception's type."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__ if isinstance(exc, BaseException) else "network error"
