"""Wapiti adapter: run the external Wapiti scanner on one URL through :mod:`secpipe.tools` and
map its JSON report to the web scanner's findings (``web.<kind>``, docs/dast-design.md).

Wapiti (``pip install wapiti3``) pins many packages, so it lives in its own virtual
environment, never secpipe's; it is found as ``wapiti_path`` (a setting), else ``wapiti`` on
``PATH``, else ``<cache>/secpipe/peers/wapiti/bin/wapiti`` (:data:`VENV_HINT` makes it).

The run: ``wapiti -u URL -m MODULES -f json -o REPORT --flush-session --scope folder
--max-scan-time S --no-bugreport -x PATTERN...`` with ``HOME`` pointed at a folder of the step
(Wapiti keeps its session database under ``~/.wapiti``), time-bounded by the supervisor. Only
the modules in :data:`SAFE_MODULES` may be asked for: they read and inject harmless payloads;
modules that upload files, try passwords, brute-force paths, send other HTTP methods or call
Wapiti's public canary servers (``ssrf``, ``log4shell``, ``xxe``) are refused.

Wapiti skips what the native scanner skips (:func:`exclude_patterns`): one ``-x`` per
``exclude_urls`` glob and, in an authenticated scan, the login URL and logout links. Secrets are
never put on its command line (any local user can read ``/proc/*/cmdline``), and Wapiti 3 reads
request headers only from ``-H``: with ``auth:`` configured Wapiti runs without it and the
result carries a ``scan-incomplete`` finding "Wapiti scanned unauthenticated".

The report is read bounded (size, entries, string lengths); a category Wapiti names is mapped to
the vocabulary (:data:`KINDS`), others become ``wapiti-<name>``. Wapiti failing, timing out or
writing a report that cannot be read is a ``scan-incomplete`` finding, never an empty result.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from secpipe.core.errors import ConfigError, InputError, StepError
from secpipe.core.findings import Confidence, Finding, Severity
from secpipe.core.interfaces import Secrets
from secpipe.core.step import StepContext, user_cache_dir
from secpipe.scanners.web.model import WebFinding
from secpipe.tools.capture import KeepTail
from secpipe.tools.env import tool_env
from secpipe.tools.parsers.json import read_json
from secpipe.tools.supervisor import ToolCall, ToolStartError, find_program, run_for_step

VENV_HINT = ("python3 -m venv ~/.cache/secpipe/peers/wapiti && "
             "~/.cache/secpipe/peers/wapiti/bin/pip install wapiti3")
MISSING = f"wapiti not found: pip install wapiti3 in its own virtual environment ({VENV_HINT}) " \
          "or set wapiti_path"
DEFAULT_MODULES = ("xss", "sql", "exec", "file", "redirect", "csp", "http_headers",
                   "cookieflags")
SAFE_MODULES = frozenset({*DEFAULT_MODULES, "permanentxss", "timesql", "crlf", "backup", "ldap",
                          "csrf", "https_redirect", "ssl"})
MAX_REPORT_BYTES = 32 << 20
MAX_ENTRIES = 5000
MAX_TEXT = 2000
UNAUTHENTICATED = ("Wapiti scanned unauthenticated (auth: is configured, but Wapiti 3 takes "
                   "credentials only on its command line, which other local users can read; "
                   "the native scan covered the authenticated part)")
GRACE_SECONDS = 60.0
"""Seconds Wapiti gets beyond ``--max-scan-time`` to write its report before it is stopped."""

KINDS: dict[str, str] = {
    "cross site scripting": "xss-reflected",
    "reflected cross site scripting": "xss-reflected",
    "html injection": "xss-reflected",
    "stored cross site scripting": "xss-stored",
    "permanent cross site scripting": "xss-stored",
    "stored html injection": "xss-stored",
    "sql injection": "sqli",
    "blind sql injection": "sqli",
    "command execution": "cmdi",
    "path traversal": "path-traversal",
    "open redirect": "open-redirect",
    "server side request forgery": "ssrf",
    "content security policy configuration": "csp",
    "clickjacking protection": "missing-header",
    "mime type confusion": "missing-header",
    "http strict transport security (hsts)": "missing-header",
    "httponly flag cookie": "cookie-flags",
    "secure flag cookie": "cookie-flags",
    "backup file": "debug-endpoint",
    "potentially dangerous file": "debug-endpoint",
    "fingerprint web server": "version-banner",
    "fingerprint web application framework": "version-banner",
}
"""Wapiti category (lower case) -> the web scanner's kind."""
CWE = {"xss-reflected": "CWE-79", "xss-stored": "CWE-79", "sqli": "CWE-89", "cmdi": "CWE-78",
       "path-traversal": "CWE-22", "open-redirect": "CWE-601", "ssrf": "CWE-918",
       "csp": "CWE-693", "missing-header": "CWE-693", "cookie-flags": "CWE-614",
       "debug-endpoint": "CWE-489", "version-banner": "CWE-200"}
FLOOR = {"xss-reflected": Severity.HIGH, "xss-stored": Severity.HIGH, "sqli": Severity.HIGH,
         "cmdi": Severity.CRITICAL, "path-traversal": Severity.HIGH, "ssrf": Severity.HIGH}
"""Least severity of an injection Wapiti proved (its own levels rate some as medium)."""
LEVELS = {0: Severity.INFO, 1: Severity.LOW, 2: Severity.MEDIUM, 3: Severity.HIGH,
          4: Severity.CRITICAL}


@dataclass(frozen=True)
class WapitiRun:
    """What one Wapiti run gave."""

    findings: tuple[WebFinding, ...]
    """Mapped findings (a ``scan-incomplete`` one when the run or its report failed)."""
    version: str = ""
    pages: int = 0
    """Pages Wapiti crawled."""


def find_wapiti(explicit: str | None, env: Mapping[str, str], cwd: Path) -> str | None:
    """The Wapiti executable: ``explicit``, else ``wapiti`` on PATH, else the peers venv."""
    if explicit:
        return find_program(explicit, cwd, env)
    found = find_program("wapiti", cwd, env)
    if found:
        return found
    venv = user_cache_dir() / "peers" / "wapiti" / "bin" / "wapiti"
    return str(venv) if venv.is_file() and os.access(venv, os.X_OK) else None


def check_modules(modules: Sequence[str]) -> list[str]:
    """``modules`` when every one is in :data:`SAFE_MODULES`, else :class:`ConfigError`."""
    bad = sorted(set(modules) - SAFE_MODULES)
    if bad:
        raise ConfigError(f"wapiti modules not allowed: {', '.join(bad)} (allowed: "
                          f"{', '.join(sorted(SAFE_MODULES))}; others are destructive, "
                          "brute-force or call external servers)")
    if not modules:
        raise ConfigError("wapiti modules: at least one")
    return list(modules)


_LOGOUT_WORDS = (("log", "out"), ("sign", "out"), ("log", "off"))


def _spellings(first: str, second: str) -> list[str]:
    """The usual spellings of a two-part word (``-x`` is case-sensitive): every separator with
    each part lower or capitalised, and all upper case (logout, LogOut, Sign-Out, LOG_OFF...)."""
    out: list[str] = []
    for sep in ("", "-", "_"):
        for a in (first, first.capitalize()):
            for b in (second, second.capitalize()):
                out.append(a + sep + b)
        out.append((first + sep + second).upper())
    return out
MAX_EXCLUDES = 200


def _wildcard(glob: str) -> str:
    """A glob as Wapiti's ``-x`` wildcard, which knows only ``*``: ``?`` and ``[...]`` widen to
    ``*`` (excluding more, never less)."""
    return re.sub(r"\[[^\]]*\]|\?", "*", glob)


def exclude_patterns(target: str, exclude_urls: Sequence[str] = (), *,
                     authenticated: bool = False, login_url: str = "") -> list[str]:
    """Wapiti ``-x`` patterns (absolute URLs, ``*`` wildcards, matched on the whole URL with
    its query) for what the native scanner never fetches: each ``exclude_urls`` glob (matched
    there on the URL or on its path) and, when ``authenticated``, the login URL and logout
    links (the usual spellings of logout/sign-out/log-off: Wapiti's wildcards are
    case-sensitive where the native check ignores case, so "lOgOuT" is not covered)."""
    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"
    out: list[str] = []

    def add(pattern: str) -> None:
        ends = () if pattern.endswith("*") else (pattern + "?*",)
        for one in (pattern, *ends):  # the native path match ignores the query
            if one not in out:
                out.append(one)

    for glob in exclude_urls:
        pattern = _wildcard(glob.strip())
        if not pattern:
            continue
        if "://" in pattern:
            add(pattern)
        elif pattern.startswith("/"):
            add(origin + pattern)
        else:  # "*/logout", "admin/*": matched anywhere in the URL
            add(origin + "/" + (pattern if pattern.startswith("*") else "*" + pattern))
    if authenticated:
        if login_url:
            add(_wildcard(urljoin(target, login_url).split("#", 1)[0]))
        for first, second in _LOGOUT_WORDS:
            for spelling in _spellings(first, second):
                add(f"{origin}/*{spelling}*")
    if len(out) > MAX_EXCLUDES:
        raise ConfigError(f"wapiti: {len(out)} exclusion patterns from exclude_urls "
                          f"(at most {MAX_EXCLUDES})")
    return out


def wapiti_argv(program: str, url: str, modules: Sequence[str], report: Path, session: Path,
                *, scope: str, max_seconds: int, verify_tls: bool,
                excludes: Sequence[str] = ()) -> tuple[str, ...]:
    """The argv of one bounded, non-destructive Wapiti run writing a JSON report; it never
    holds a secret (no ``-H``, ``-C``, form credentials)."""
    if url.startswith("-"):
        raise InputError(f"refusing a URL that looks like an option: {url[:60]!r}")
    argv = [program, "-u", url, "-m", ",".join(check_modules(modules)), "-f", "json",
            "-o", str(report), "--flush-session", "--store-session", str(session),
            "--scope", scope, "--max-scan-time", str(max_seconds), "--no-bugreport",
            "--verify-ssl", "1" if verify_tls else "0"]
    for pattern in excludes:
        if not pattern.startswith(("http://", "https://")) or any(c in pattern for c in "\r\n"):
            raise ConfigError(f"wapiti exclusion {pattern[:60]!r} is not an http(s) URL pattern")
        argv += ["-x", pattern]
    return tuple(argv)


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"Wapiti report: {key} is not a string")
    return value[:MAX_TEXT]


def _slug(category: str) -> str:
    return "wapiti-" + (re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")[:60] or "other")


def map_report(data: Any, target: str, *, anomaly_severity: Severity = Severity.LOW
               ) -> tuple[list[WebFinding], str, int]:
    """The findings of a parsed Wapiti JSON report (plus its version and crawled page count);
    :class:`InputError` when it is not the shape Wapiti writes or is over the bounds."""
    if not isinstance(data, dict):
        raise InputError("Wapiti report is not a JSON object")
    found: list[WebFinding] = []
    for section, anomaly in (("vulnerabilities", False), ("anomalies", True)):
        groups = data.get(section)
        if groups is None and section == "vulnerabilities":
            raise InputError("Wapiti report has no vulnerabilities object (not a Wapiti report)")
        if groups is None:
            groups = {}
        if not isinstance(groups, dict):
            raise InputError(f"Wapiti report: {section} is not an object")
        for category, items in groups.items():
            if not isinstance(items, list):
                raise InputError(f"Wapiti report: {section}[{category[:40]!r}] is not a list")
            for item in items:
                if not isinstance(item, dict):
                    raise InputError(f"Wapiti report: an entry of {category[:40]!r} is not "
                                     "an object")
                if len(found) >= MAX_ENTRIES:
                    raise InputError(f"Wapiti report has over {MAX_ENTRIES} entries")
                found.append(_finding(str(category)[:100], item, target, anomaly,
                                      anomaly_severity))
    infos = data.get("infos") or {}
    if not isinstance(infos, dict):
        raise InputError("Wapiti report: infos is not an object")
    version = infos.get("version") if isinstance(infos.get("version"), str) else ""
    pages = infos.get("crawled_pages_nbr")
    return found, str(version)[:60], pages if isinstance(pages, int) else 0


def _finding(category: str, item: Mapping[str, Any], target: str, anomaly: bool,
             anomaly_severity: Severity) -> WebFinding:
    kind = KINDS.get(category.lower(), _slug(category))
    level = item.get("level", 1)
    if not isinstance(level, int) or isinstance(level, bool):
        raise InputError(f"Wapiti report: level of a {category[:40]!r} entry is not a number")
    severity = anomaly_severity if anomaly else LEVELS.get(level, Severity.MEDIUM)
    floor = FLOOR.get(kind)
    if floor is not None and floor.rank > severity.rank:
        severity = floor
    path = _text(item, "path") or "/"
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(target))
    url = urljoin(origin + "/", path) if path.startswith("/") else urljoin(target, path)
    if urlsplit(url).netloc != urlsplit(target).netloc:
        url = target  # a path that names another origin: report it on the target
    info = _text(item, "info")
    module = _text(item, "module")
    return WebFinding(
        kind=kind, title=f"{category} (Wapiti)", severity=severity, url=url,
        message=f"Wapiti ({module or 'module?'}): {info or category}",
        method=(_text(item, "method") or "GET").upper()[:10], param=_text(item, "parameter"),
        proof=_text(item, "curl_command"), confidence=Confidence.MEDIUM,
        cwe=CWE.get(kind, ""), detail=info[:200] if kind in ("missing-header", "cookie-flags",
                                                             "version-banner") else "")


def _incomplete(url: str, why: str) -> WebFinding:
    return WebFinding(kind="scan-incomplete", title="Wapiti scan incomplete",
                      severity=Severity.HIGH, url=url, message=f"Wapiti: {why}",
                      detail="wapiti")


def scan(url: str, *, modules: Sequence[str] = DEFAULT_MODULES, scope: str = "folder",
         max_seconds: int = 300, workdir: Path, cancel: threading.Event,
         secrets: Secrets | None, authenticated: bool = False,
         excludes: Sequence[str] = (), program: str | None = None, verify_tls: bool = True,
         max_report_bytes: int = MAX_REPORT_BYTES) -> WapitiRun:
    """Run Wapiti on ``url`` (``-x`` for each of ``excludes``) and map its report;
    :class:`StepError` when Wapiti is missing. ``authenticated`` (the scan has ``auth:``): Wapiti
    cannot be given the credentials without putting them on its command line, so it scans
    unauthenticated and the result says so (a ``scan-incomplete`` finding)."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "wapiti-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o700)
    env = {**tool_env(secrets=secrets, what="wapiti"), "HOME": str(home)}
    found = find_wapiti(program, env, workdir)
    if found is None:
        raise StepError(MISSING)
    report = workdir / "wapiti.json"
    report.unlink(missing_ok=True)
    call = ToolCall(argv=wapiti_argv(found, url, modules, report, home / "session",
                                     scope=scope, max_seconds=max_seconds,
                                     verify_tls=verify_tls, excludes=excludes),
                    cwd=workdir, env=env, stdout=KeepTail(workdir / "wapiti.log"),
                    stderr=KeepTail(workdir / "wapiti.err"),
                    timeout=max_seconds + GRACE_SECONDS)
    try:
        outcome = run_for_step(call, cancel=cancel, secrets=secrets)
    except ToolStartError:
        raise StepError(MISSING) from None
    finally:
        shutil.rmtree(home, ignore_errors=True)
    notes = (_incomplete(url, UNAUTHENTICATED),) if authenticated else ()
    stopped = outcome.stop_reason(call.timeout)
    if stopped or outcome.exit_code != 0:
        why = stopped or f"exit code {outcome.exit_code}: {outcome.stderr.summary[:300]}"
        return WapitiRun((*notes, _incomplete(url, f"did not complete ({why})")))
    try:
        findings, version, pages = map_report(read_json(report, max_report_bytes,
                                                        "Wapiti report"), url)
    except InputError as exc:
        report.unlink(missing_ok=True)
        return WapitiRun((*notes, _incomplete(url, exc.message)))
    return WapitiRun((*notes, *findings), version, pages)


def to_findings(run: WapitiRun, redact: Any = None) -> list[Finding]:
    """secpipe findings of a run (as ``scan-web`` makes them), each with ``source=wapiti``."""
    from secpipe.scanners.web.evidence import to_finding

    out: list[Finding] = []
    for item in run.findings:
        finding = to_finding(item, redact or (lambda text: text))
        props = {**dict(finding.properties), "source": "wapiti"}
        out.append(replace(finding, properties=tuple(sorted(props.items()))))
    return out


def run_wapiti(ctx: StepContext, settings: Any, target: str) -> list[WebFinding]:
    """``scan-web``'s hook (``wapiti: true``): Wapiti on ``target`` with the step's settings
    (``wapiti_path``, ``wapiti_modules``, ``wapiti_seconds``, ``verify_tls``, ``exclude_urls``,
    ``auth`` when it has them: ``-x`` per exclusion, and with ``auth`` a scan-incomplete note,
    see :func:`scan`)."""
    modules = getattr(settings, "wapiti_modules", None) or DEFAULT_MODULES
    seconds = getattr(settings, "wapiti_seconds", None) or 300
    verify = getattr(settings, "verify_tls", True)
    auth = getattr(settings, "auth", None)
    authenticated = auth is not None and (getattr(auth, "header", None) is not None
                                          or getattr(auth, "login", None) is not None)
    login = getattr(auth, "login", None)
    excludes = exclude_patterns(target, getattr(settings, "exclude_urls", None) or (),
                                authenticated=authenticated,
                                login_url=str(getattr(login, "url", "") or ""))
    run = scan(target, modules=modules, max_seconds=int(seconds),
               workdir=Path(ctx.workdir) / "wapiti", cancel=ctx.cancel, secrets=ctx.secrets,
               program=getattr(settings, "wapiti_path", None), verify_tls=bool(verify),
               authenticated=authenticated, excludes=excludes)
    return list(run.findings)
