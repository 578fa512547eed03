"""Authenticated scans: a fixed header or a login form's session cookies on every request.

``auth: {header: {name, value}}`` sends one header (an API token, usually written as a secret
reference such as ``${env:TOKEN}``, resolved through the run's resolver so every output redacts
it). ``auth: {login: {url, method, fields, success_status, check_url}}`` posts the login form
once before the crawl, keeps the cookies the answer sets in a small jar scoped to the target's
origin, and sends them with every request to that origin (:class:`AuthedSender`). The login URL
and logout links are never crawled or probed (:meth:`Auth.excluded`). Header values and cookies
never reach evidence or replay commands: :mod:`.evidence` masks the auth header names listed in
:attr:`Auth.header_names` and every ``Cookie`` header.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import CookieError, Morsel, SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from secpipe.core.errors import ConfigError, StepError
from secpipe.core.interfaces import Secrets
from secpipe.scanners.web.http import origin_of
from secpipe.scanners.web.model import Headers, Request, Response, Sender

LOGOUT = re.compile(
    r"log[-_ ]?out|sign[-_ ]?out|log[-_ ]?off|(?:end|destroy|kill|close)[-_]?session|"
    r"/(?:session|sessions|auth|login|account)/(?:end|destroy|delete|close|kill|exit)\b|"
    r"/exit(?:[/?.]|$)", re.IGNORECASE)
"""Links matching this (in the URL) end the session: never followed."""
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                            "x-api-key", "api-key", "x-auth-token"})
"""Header names whose values are always masked in evidence and replay commands."""


class HeaderAuth(BaseModel):
    """A header sent with every request."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="Authorization", min_length=1, max_length=200,
                      pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    """The header's name."""
    value: str = Field(min_length=1)
    """Its value; write secrets as references (``Bearer ${env:API_TOKEN}``)."""


class LoginAuth(BaseModel):
    """A login form posted once before the crawl; its cookies are kept."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    """The form's action (absolute, or relative to the target)."""
    method: str = Field(default="POST", pattern=r"^(?i:post|get)$")
    """POST (default) or GET."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Form fields and their values; write secrets as references (``${env:APP_PASSWORD}``)."""
    success_status: int | None = Field(default=None, ge=100, le=599)
    """The status a successful login answers with (default: any 2xx or 3xx)."""
    check_url: str | None = None
    """A page that answers 2xx only when logged in, fetched after the login to check it."""


class AuthSettings(BaseModel):
    """``auth:`` of ``scan-web``: a header, a login form, or both."""

    model_config = ConfigDict(extra="forbid")

    header: HeaderAuth | None = None
    """A header (an API token) sent with every request."""
    login: LoginAuth | None = None
    """A login form whose session cookies are sent with every request."""


@dataclass
class CookieJar:
    """Cookies set by one origin, sent back to it only (thread-safe, bounded)."""

    origin: str
    max_cookies: int = 50
    _cookies: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    lost: str = ""
    """Set when a response deleted a session cookie the jar holds (the cookie is kept, the
    session is reported lost)."""

    def store(self, response: Response) -> None:
        """Keep the cookies ``response`` sets (a deleted or expired one is dropped)."""
        for name, morsel in self._morsels(response):
            with self._lock:
                if morsel["max-age"] in ("0", "-1") or morsel.value == "":  # deleted
                    self._cookies.pop(name, None)
                elif name in self._cookies or len(self._cookies) < self.max_cookies:
                    self._cookies[name] = morsel.value

    def _morsels(self, response: Response) -> Iterator[tuple[str, Morsel[str]]]:
        """(name, morsel) of each cookie ``response`` sets, when it comes from the origin
        (at most ``max_cookies`` headers; unparsable ones skipped)."""
        if not response.url or origin_of(response.url) != self.origin:
            return
        for header in response.header_all("set-cookie")[:self.max_cookies]:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            yield from jar.items()

    def refresh(self, response: Response) -> None:
        """Take new values of the cookies already held (a session the app renews); a cookie
        of another name set by a probed page is not kept."""
        if not len(self) or not response.header("set-cookie"):
            return
        for name, morsel in self._morsels(response):
            with self._lock:
                if name not in self._cookies:
                    continue
                if morsel.value and morsel["max-age"] not in ("0", "-1"):
                    self._cookies[name] = morsel.value
                elif not self.lost:
                    self.lost = f"{response.url.split('?', 1)[0][:200]} deleted the " \
                                f"session cookie {name[:50]}"

    def header(self, url: str) -> str:
        """The ``Cookie`` value for a request to ``url`` ('' off the origin or when empty)."""
        if origin_of(url) != self.origin:
            return ""
        with self._lock:
            return "; ".join(f"{k}={v}" for k, v in self._cookies.items())

    def values(self) -> list[str]:
        with self._lock:
            return list(self._cookies.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._cookies)


class AuthedSender:
    """A :class:`Sender` that adds the session cookies of the jar to every request (a request's
    own ``Cookie`` header keeps its cookies and gets the session's beside them)."""

    def __init__(self, inner: Sender, jar: CookieJar | None) -> None:
        self.inner = inner
        self.jar = jar

    def send(self, request: Request, *, timeout: float | None = None) -> Response:
        if self.jar is not None:
            session = self.jar.header(request.url)
            if session:
                own = request.header("cookie")
                request = request.with_header("Cookie", f"{own}; {session}" if own else session)
        response = self.inner.send(request, timeout=timeout)
        if self.jar is not None:
            self.jar.refresh(response)
        return response

    def in_scope(self, url: str) -> bool:
        return self.inner.in_scope(url)

    @property
    def sent(self) -> int:
        return self.inner.sent


@dataclass
class Auth:
    """The resolved authentication of one scan."""

    headers: Headers = ()
    """Headers sent with every request (resolved values: never shown)."""
    jar: CookieJar | None = None
    login_url: str = ""
    secrets: tuple[str, ...] = ()
    """Every resolved secret value (masked in evidence besides ``ctx.redact``)."""

    @property
    def header_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.headers)

    @property
    def configured(self) -> bool:
        return bool(self.headers) or self.jar is not None

    def excluded(self, url: str) -> bool:
        """True for the login URL and, in an authenticated scan, logout links: never crawled
        or probed (without credentials there is no session to lose, and a logout route is
        tested like any other)."""
        if self.login_url and _same_page(url, self.login_url):
            return True
        return self.configured and bool(
            LOGOUT.search(urlsplit(url).path + "?" + urlsplit(url).query))

    def redact(self, text: str) -> str:
        for value in sorted((*self.secrets, *(self.jar.values() if self.jar else [])),
                            key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text


def _same_page(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return origin_of(a) == origin_of(b) and (pa.path.rstrip("/") or "/") == \
        (pb.path.rstrip("/") or "/")


def prepare(settings: AuthSettings | None, target: str, secrets: Secrets) -> Auth:
    """The headers of ``settings`` resolved (errors name the setting, never a value)."""
    if settings is None:
        return Auth()
    auth = Auth()
    if settings.header is not None:
        value = secrets.resolve(settings.header.value, "auth.header.value")
        auth.headers = ((settings.header.name, value),)
        auth.secrets = (value,)
    if settings.login is not None:
        url = urljoin(target, settings.login.url)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError("auth.login.url must be an http(s) URL or a path")
        auth.login_url = url
        auth.jar = CookieJar(origin_of(url))
    return auth


def login(settings: AuthSettings, auth: Auth, sender: Sender, secrets: Secrets,
          target: str) -> None:
    """Post the login form once and keep its cookies; :class:`StepError` when it fails."""
    spec = settings.login
    if spec is None or auth.jar is None:
        return
    fields = [(name, secrets.resolve(value, f"auth.login.fields.{name}"))
              for name, value in spec.fields.items()]
    auth.secrets = (*auth.secrets, *(v for k, v in fields if _secretish(k, spec, v)))
    body = urlencode(fields)
    method = spec.method.upper()
    if method == "GET":
        request = Request("GET", f"{auth.login_url}?{body}", auth.headers)
    else:
        request = Request("POST", auth.login_url,
                          (*auth.headers,
                           ("Content-Type", "application/x-www-form-urlencoded")),
                          body.encode())
    response = sender.send(request)
    auth.jar.store(response)
    if not response.ok:
        raise StepError(f"scan-web: login at {auth.login_url} failed: {response.error}")
    ok = response.status == spec.success_status if spec.success_status else \
        200 <= response.status < 400
    if not ok:
        raise StepError(f"scan-web: login at {auth.login_url} answered {response.status}")
    if spec.check_url:
        check = urljoin(target, spec.check_url)
        answer = AuthedSender(sender, auth.jar).send(Request("GET", check, auth.headers))
        if not 200 <= answer.status < 300:
            raise StepError(f"scan-web: not logged in after the login: {check} answered "
                            f"{answer.status or answer.error}")
    elif not len(auth.jar):
        raise StepError(f"scan-web: the login at {auth.login_url} set no cookie")


def session_problem(settings: AuthSettings, auth: Auth, sender: Sender, target: str) -> str:
    """'' while the login session still works, else why not: ``check_url`` (when set) no
    longer answers 2xx with the session's cookies, or a response deleted a session cookie."""
    if auth.jar is None or settings.login is None:
        return ""
    if auth.jar.lost:
        return auth.jar.lost
    if settings.login.check_url:
        check = urljoin(target, settings.login.check_url)
        authed = sender if isinstance(sender, AuthedSender) else AuthedSender(sender, auth.jar)
        answer = authed.send(Request("GET", check, auth.headers))
        if not 200 <= answer.status < 300:
            return f"{check} answered {answer.status or answer.error}"
    return ""


def _secretish(name: str, spec: LoginAuth, value: str) -> bool:
    """A field value to mask: every value that came from a reference, and passwords."""
    raw = spec.fields.get(name, "")
    return "${" in raw or "pass" in name.lower() or "secret" in name.lower() or \
        "token" in name.lower() or value != raw
