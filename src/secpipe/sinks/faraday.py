"""The ``faraday`` sink: a finished run's SARIF report into a Faraday workspace (API v3).

Faraday (PyPI ``faradaysec``) is a vulnerability-management server that imports reports through
its plugins (``faraday_plugins``; SARIF is one of them). At ``run.finished`` the sink reads the
whole run from the run store, renders secpipe's own SARIF report (:mod:`secpipe.reports.sarif`,
the same document the ``defectdojo`` sink sends), passes every string through the run's secret
redaction and then, on one cookie session:

1. authenticates: ``POST /_api/login`` (JSON ``{"email": <username>, "password": …}``, Faraday
   logs in by user name) or, with ``token``, ``Authorization: Token …`` on every request and
   ``GET /_api/session``; either answers the session's ``csrf_token``, which the upload needs;
2. finds the workspace (``GET /_api/v3/ws/<name>``) and creates it when missing and
   ``create_workspace`` is true (``POST /_api/v3/ws``);
3. uploads the report (``POST /_api/v3/ws/<name>/upload_report``, ``multipart/form-data`` with
   ``file`` named ``secpipe.sarif`` — Faraday picks its SARIF plugin by that extension — and
   ``csrf_token``, ``resolve_hostname=false``): Faraday answers ``{"command_id": N}``;
4. waits until Faraday has *processed* it: the upload only queues a Celery task, and without
   Redis and Faraday's workers the report is silently dropped while the command stays
   ``"In progress"``. The sink polls ``GET /_api/v3/ws/<name>/commands/N`` until its
   ``duration`` is a number (Faraday sets the command's end date once every import batch has
   finished, about 10 s after the upload), and fails the delivery if that takes longer than
   ``process_timeout`` or the command ends in ``"Error"``.

``secpipe notify test`` (a synthetic ``run.finished`` of pipeline ``notify-test``, with no run
in the store) uploads a SARIF report with no result through the same steps, so it checks the
credentials, the workspace and that Faraday's workers import uploads, and adds nothing.

Errors are one-line :class:`~secpipe.sinks.interface.SinkError` s naming Faraday's origin and the
step that failed, never a password, token, cookie or response body. A refused login or token, a
missing workspace, a report too large or one Faraday could not process are not retried; network
errors, 5xx and 429 are.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from fnmatch import fnmatchcase
from http.client import HTTPException
from http.cookiejar import CookieJar
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from pydantic import Field, field_validator, model_validator

from secpipe.core.errors import ConfigError
from secpipe.core.events import Event, RunFinished
from secpipe.keys.refs import has_refs
from secpipe.sinks import _http
from secpipe.sinks.defectdojo import multipart
from secpipe.sinks.interface import Sink, SinkContext, SinkError, SinkSettings

if TYPE_CHECKING:  # the run store is imported when a run ends
    from secpipe.runstore.records import RunRecord

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_NAME_FIELDS = ("pipeline", "project")
WORKSPACE_NAME = re.compile(r"^[a-z0-9][a-z0-9_$()+-]{0,250}$")
"""Faraday's workspace-name rule (``faraday/server/api/modules/workspaces.py``)."""
_NOT_IN_NAME = re.compile(r"[^a-z0-9_$()+-]+")
REPORT_NAME = "secpipe.sarif"
"""The upload's file name: Faraday's report analyzer picks the SARIF plugin by ``.sarif``."""


def workspace_name(template: str, values: dict[str, str]) -> str:
    """``template`` with ``{project}``/``{pipeline}`` filled in, made a valid Faraday workspace
    name (lower case; runs of other characters become ``-``; at most 251 characters)."""
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    name = _NOT_IN_NAME.sub("-", filled.lower()).strip("-")
    name = name[:251].rstrip("-")
    if not name or not WORKSPACE_NAME.match(name):
        name = ("ws-" + name)[:251] if name else "secpipe"
    return name


class FaradaySettings(SinkSettings):
    """``with:`` of a ``faraday`` sink."""

    events: list[str] = Field(default_factory=lambda: ["run.finished"])
    """Must match ``run.finished`` (the sink uploads once per run, when it ends)."""
    url: str = Field(min_length=1)
    """Faraday's base URL (``https://faraday.example.com``), or a secret reference to it."""
    workspace: str = Field(default="secpipe-{project}", min_length=1, max_length=251)
    """Workspace the report goes to; ``{project}`` and ``{pipeline}`` are filled in, then the
    name is made one Faraday accepts (lower case, ``a-z 0-9 _ $ ( ) + -``)."""
    create_workspace: bool = False
    """Create the workspace when it does not exist (else that is a delivery error)."""
    username: str | None = None
    """Faraday user name (with ``password``); a secret reference or plain text."""
    password: str | None = None
    """That user's password; write it as a secret reference."""
    token: str | None = None
    """An API token (``GET /_api/v3/token``, sent as ``Authorization: Token …``) instead of a
    user name and password; a secret reference. Faraday's tokens expire (12 h by default)."""
    wait_processed: bool = True
    """Wait until Faraday has imported the report (its command finished); without this an
    upload Faraday accepted but never processed (no workers, no Redis) counts as delivered."""
    process_timeout: float = Field(default=90.0, gt=0, le=1800)
    """Seconds the sink waits for that processing (Faraday itself needs about 10 s). Keep the
    project's ``sink_drain_seconds`` above it, or the end of the run stops waiting first."""
    poll_interval: float = Field(default=1.0, ge=0.05, le=30)
    """Seconds between two looks at the upload's command while waiting."""
    ignore_info: bool = False
    """Ask Faraday to skip findings of severity *informational*."""
    include_evidence: bool = False
    """Keep each SARIF result's ``properties.evidence`` (already masked by the scanners); off,
    so no excerpt of scanned content goes to a third-party server."""
    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=500 * 1024 * 1024)
    """Largest report uploaded."""
    state_dir: str = ".secpipe"
    """The project's state folder (the run store is read from ``<state_dir>/runs.db``)."""

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        if not has_refs(value):
            _http.origin(value)
        return value

    @field_validator("workspace")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        for name in _PLACEHOLDER.findall(value):
            if name not in _NAME_FIELDS:
                raise ValueError(f"{{{name}}} is not a placeholder ({', '.join(_NAME_FIELDS)})")
        if any(c in value for c in "\r\n\0"):
            raise ValueError("holds a line break or NUL")
        return value

    @model_validator(mode="after")
    def _check(self) -> FaradaySettings:
        if not any(fnmatchcase("run.finished", p) for p in self.events):
            raise ValueError("events must match run.finished (the sink uploads when a run ends)")
        if self.token is not None:
            if self.username is not None or self.password is not None:
                raise ValueError("set either token or username and password, not both")
        elif self.username is None or self.password is None:
            raise ValueError("set username and password (secret references), or token")
        return self


def is_notify_test(event: RunFinished) -> bool:
    """The synthetic ``run.finished`` of ``secpipe notify test`` (no run behind it)."""
    return event.pipeline == "notify-test" and event.run_id.startswith("notify-test-")


def probe_report(run_id: str) -> bytes:
    """The report ``secpipe notify test`` uploads: valid SARIF with no result, so the whole
    path (login, workspace, upload, Faraday's workers importing it) is checked and nothing is
    added to the workspace."""
    doc = {"$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                      "sarif-schema-2.1.0.json",
           "version": "2.1.0",
           "runs": [{"tool": {"driver": {"name": "secpipe", "rules": []}}, "results": []}],
           "properties": {"secpipe": {"run": run_id, "test": True}}}
    return json.dumps(doc, separators=(",", ":")).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx surfaces as an HTTPError: never carry credentials elsewhere


class FaradayClient:
    """One cookie session with a Faraday server (standard library only). Requests never follow
    redirects; errors are :class:`SinkError` lines naming ``what`` and the HTTP status."""

    def __init__(self, base: str, where: str, timeout: float,
                 auth_header: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.where = where
        self.timeout = timeout
        self.csrf = ""
        self._auth = auth_header
        self._opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(CookieJar()))

    def call(self, method: str, path: str, what: str, *, body: bytes | None = None,
             content_type: str | None = None, ok: tuple[int, ...] = (),
             no_retry: frozenset[int] = frozenset()) -> tuple[int, Any]:
        """``(status, parsed JSON or None)`` for a 2xx or a status in ``ok``; else SinkError."""
        headers = {"User-Agent": _http.USER_AGENT, "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if self._auth:
            headers["Authorization"] = self._auth
        req = urllib.request.Request(self.base + path, data=body, headers=headers,  # noqa: S310
                                     method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return int(resp.status), _http.parse_json(resp.read(_http.MAX_RESPONSE))
        except urllib.error.HTTPError as exc:
            code = exc.code
            exc.close()
            if code in ok:
                return code, None
            note = " (redirects are not followed)" if 300 <= code < 400 else ""
            retry = (code >= 500 or code in _http.RETRYABLE_4XX) and code not in no_retry
            raise _http.HttpError(f"{what} {self.where}: HTTP {code}{note}", status=code,
                                  retry=retry) from None
        except urllib.error.URLError as exc:
            raise SinkError(f"{what} {self.where}: {_reason(exc.reason)}") from None
        except (OSError, HTTPException, ValueError) as exc:
            raise SinkError(f"{what} {self.where}: {_reason(exc)}") from None

    # -- the API steps -------------------------------------------------------------------------
    def login(self, username: str, password: str) -> None:
        """``POST /_api/login``; keeps the session cookie and its CSRF token."""
        body = json.dumps({"email": username, "password": password}).encode()
        try:
            _, data = self.call("POST", "/_api/login", "login", body=body,
                                content_type="application/json")
        except _http.HttpError as exc:
            if exc.status in (400, 401, 403):
                raise SinkError(f"login {self.where} refused: wrong username or password "
                                f"(HTTP {exc.status})", retry=False) from None
            raise
        token = _dig(data, "response", "csrf_token")
        self.csrf = token if isinstance(token, str) else self._session_csrf()

    def use_token(self) -> None:
        """With an API token: read the session's CSRF token (this also checks the token)."""
        self.csrf = self._session_csrf()

    def _session_csrf(self) -> str:
        try:
            _, data = self.call("GET", "/_api/session", "session")
        except _http.HttpError as exc:
            if exc.status in (401, 403):
                raise SinkError(f"session {self.where} refused: the API token is wrong or "
                                f"expired (HTTP {exc.status})", retry=False) from None
            raise
        token = _dig(data, "csrf_token")
        if not isinstance(token, str) or not token:
            raise SinkError(f"session {self.where}: no csrf_token in the answer (not Faraday?)",
                            retry=False)
        return token

    def ensure_workspace(self, name: str, create: bool) -> bool:
        """True when the workspace was created now; SinkError when it is missing (and not
        created) or disabled."""
        path = f"/_api/v3/ws/{quote(name, safe='')}"
        status, data = self.call("GET", path, "workspace lookup", ok=(404,))
        if status == 200:
            if isinstance(data, dict) and data.get("active") is False:
                raise SinkError(f"workspace {name!r} {self.where} is disabled", retry=False)
            return False
        if not create:
            raise SinkError(f"workspace {name!r} does not exist {self.where}",
                            hint="create it in Faraday, or set create_workspace: true",
                            retry=False)
        body = json.dumps({"name": name, "description": "secpipe runs"}).encode()
        try:
            self.call("POST", "/_api/v3/ws", "workspace creation", body=body,
                      content_type="application/json", ok=(409,))
        except _http.HttpError as exc:
            if exc.status == 403:
                raise SinkError(f"workspace creation {self.where}: HTTP 403 (the user may not "
                                "create workspaces)", retry=False) from None
            raise
        return True

    def upload(self, name: str, report: bytes, fields: list[tuple[str, str]]) -> int:
        """Upload a report; Faraday's command id for it."""
        body, content_type = multipart([("csrf_token", self.csrf), *fields], REPORT_NAME,
                                       report, "application/json")
        path = f"/_api/v3/ws/{quote(name, safe='')}/upload_report"
        try:
            _, data = self.call("POST", path, "upload_report", body=body,
                                content_type=content_type)
        except _http.HttpError as exc:
            if exc.status == 400:
                raise SinkError(f"upload_report {self.where}: HTTP 400 (Faraday found no plugin "
                                "for the report)", retry=False) from None
            raise
        command = _dig(data, "command_id")
        if not isinstance(command, int) or isinstance(command, bool):
            raise SinkError(f"upload_report {self.where}: no command_id in the answer",
                            retry=False)
        return command

    def command(self, name: str, command_id: int) -> dict[str, Any]:
        """The upload's command (``duration`` is a number once processed)."""
        _, data = self.call("GET", f"/_api/v3/ws/{quote(name, safe='')}/commands/{command_id}",
                            "command status")
        return data if isinstance(data, dict) else {}

    def created_vulns(self, name: str, command_id: int) -> int | None:
        """How many vulnerabilities the command created (``vulns?command_id=``), or None."""
        query = urlencode({"command_id": command_id})
        _, data = self.call("GET", f"/_api/v3/ws/{quote(name, safe='')}/vulns?{query}",
                            "vulns lookup")
        count = _dig(data, "count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def wait_processed(self, name: str, command_id: int, limit: float, interval: float,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep) -> float:
        """Poll the command until Faraday has processed it; its ``duration`` in seconds."""
        deadline = clock() + limit
        while True:
            state = self.command(name, command_id)
            duration = state.get("duration")
            if state.get("command") == "error" or duration == "Error":
                raise SinkError(f"Faraday {self.where} could not process the report "
                                f"(command {command_id} ended in error)", retry=False)
            if isinstance(duration, int | float) and not isinstance(duration, bool):
                return float(duration)
            if clock() >= deadline:
                raise SinkError(
                    f"Faraday {self.where} accepted the report (command {command_id}) but did "
                    f"not process it within {limit:g} s",
                    hint="are Faraday's workers and Redis running? (faraday-server "
                         "--with-workers); without them uploads are silently dropped",
                    retry=False)
            sleep(interval)


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return str(exc.strerror)
    return type(exc).__name__ if isinstance(exc, BaseException) else "network error"


class FaradaySink(Sink[FaradaySettings]):
    """Uploads each finished run's SARIF report to a Faraday workspace and checks it was
    imported."""

    kind = "faraday"
    summary = "upload each finished run's SARIF report to a Faraday workspace"
    Settings = FaradaySettings

    def __init__(self, settings: FaradaySettings, context: SinkContext) -> None:
        super().__init__(settings, context)
        resolver = context.secrets
        self._base, self._where = _http.service_url(resolver, settings.url, "Faraday")
        self._token: str | None = None
        self._login: tuple[str, str] | None = None
        if settings.token is not None:
            token = resolver.resolve(settings.token, "with.token").strip()
            if not token or any(c in token for c in "\r\n\0 "):
                raise ConfigError("with.token: resolved to an empty value or one with spaces")
            self._token = token
        else:
            assert settings.username is not None and settings.password is not None
            user = resolver.resolve(settings.username, "with.username")
            password = resolver.resolve(settings.password, "with.password")
            if not user or not password:
                raise ConfigError("with.username / with.password: resolved to an empty value")
            self._login = (user, password)
        self._state_dir = context.project_root / settings.state_dir
        self.last_upload: dict[str, Any] = {}
        """What the last delivery did: ``workspace``, ``created_workspace``, ``command_id``,
        ``duration`` (Faraday's processing time) and ``vulns_created`` (tests, summary)."""

    def deliver(self, event: Event) -> None:
        if not isinstance(event, RunFinished):
            return
        if is_notify_test(event):  # `secpipe notify test`: no run in the store
            name = workspace_name(self.settings.workspace, {
                "pipeline": event.pipeline,
                "project": self.context.project_root.name or "project"})
            report = probe_report(event.run_id)
        else:
            run = self._read_run(event.run_id)
            name = workspace_name(self.settings.workspace, {
                "pipeline": run.pipeline, "project": Path(run.project).name or "project"})
            report = self.report(run)
        auth = f"Token {self._token}" if self._token else None
        client = FaradayClient(self._base, self._where, self.settings.timeout, auth)
        if self._login is not None:
            client.login(*self._login)
        else:
            client.use_token()
        created = client.ensure_workspace(name, self.settings.create_workspace)
        fields = [("resolve_hostname", "false"),
                  ("ignore_info", "true" if self.settings.ignore_info else "false")]
        command_id = client.upload(name, report, fields)
        self.last_upload = {"workspace": name, "created_workspace": created,
                            "command_id": command_id}
        if not self.settings.wait_processed:
            return
        duration = client.wait_processed(name, command_id, self.settings.process_timeout,
                                         self.settings.poll_interval)
        self.last_upload["duration"] = duration
        try:
            self.last_upload["vulns_created"] = client.created_vulns(name, command_id)
        except SinkError:  # the import itself succeeded; the count is only informative
            self.last_upload["vulns_created"] = None

    def _read_run(self, run_id: str) -> RunRecord:
        return _http.read_run(self._state_dir, self.settings.state_dir, run_id, self.redact)

    def report(self, run: RunRecord) -> bytes:
        """The run's SARIF report as uploaded: evidence dropped (unless ``include_evidence``),
        every string redacted, at most ``max_bytes``."""
        from secpipe.reports.sarif import run_to_sarif

        doc: dict[str, Any] = run_to_sarif(run)
        if not self.settings.include_evidence:
            for sarif_run in doc.get("runs", []):
                for result in sarif_run.get("results", []):
                    result.get("properties", {}).pop("evidence", None)
        doc = _http.redact_tree(doc, self.redact)
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        if len(data) > self.settings.max_bytes:
            raise SinkError(f"report of run {run.run_id} is {len(data)} bytes, over max_bytes "
                            f"({self.settings.max_bytes})", retry=False)
        return data
