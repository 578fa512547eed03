"""What a response gives away: stack traces and database errors, version banners, private
addresses, sensitive HTML comments.

* ``stack-trace`` (MEDIUM, CWE-209; detail = the platform): only text with the *structure* of a
  trace or of a database driver's error — a Python traceback header with a frame line or two
  frame lines, two Java/.NET/Node/Ruby frame lines, a PHP error with its file and line, a Go
  goroutine dump, the Werkzeug debugger page, the error formats of SQLite, PostgreSQL, MySQL,
  MSSQL, Oracle and common drivers/ORMs — never a lone word like "error" or "SQL"; not in
  scripts, styles or media. On a 5xx answer an exception class with its message
  (``KeyError: 'x'``) is reported at LOW.
* ``version-banner`` (LOW, CWE-200; detail = the header, or ``generator``): Server,
  X-Powered-By, X-AspNet-Version … or ``<meta name=generator>`` with a version number; a bare
  product in X-Powered-By/X-Generator is INFO, a bare Server name nothing.
* ``private-ip`` (LOW, CWE-200; detail = the address): RFC 1918, link-local and CGNAT
  addresses in the body or a header, with valid octets and word boundaries, not the target's
  own host, not part of a version string (``version 10.0.0.1``, ``Chrome/10.0.0.1``,
  ``10.0.0.1.5``), not a network/broadcast/CIDR base (``10.0.0.0``, ``192.168.1.0/24``);
  loopback is exempt; bodies of scripts, styles and media are not searched (a bundled
  library's ranges), their headers are. At most :data:`MAX_IPS` per response.
* ``html-comment`` (CWE-615; detail = what): an HTML comment holding a credential-like
  assignment (MEDIUM), an internal host name or private address (LOW), a TODO/FIXME about
  security (LOW).
* ``debug-endpoint`` (MEDIUM, CWE-489; detail = the header): a profiler/debug-logger header
  (``X-Debug-Token``, ``X-ChromeLogger-Data``, ``X-Clockwork-Id`` …).
"""

from __future__ import annotations

import ipaddress
import re

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.web.model import WebFinding
from secpipe.scanners.web.passive._common import Page, excerpt, mask_secrets

MAX_IPS = 5

# --- stack traces ------------------------------------------------------------------------------
_M = re.M
_COUNTED: tuple[tuple[str, re.Pattern[str], int], ...] = (
    # (platform, frame pattern, frames needed)
    ("python", re.compile(r'File "[^"\n]{1,400}", line \d{1,7}, in [\w<>.]{1,200}'), 2),
    ("java", re.compile(
        r"^[ \t]{0,20}at (?:[\w$]{1,100}[./]){1,30}[\w$<>]{1,100}\((?:[\w$-]{1,200}\."
        r"(?:java|kt|scala|groovy|clj):\d{1,7}|Native Method|Unknown Source)\)", _M), 2),
    ("dotnet", re.compile(
        r"^[ \t]{0,20}at (?:[\w`<>\[\]]{1,100}\.){1,30}[\w`<>\[\]]{1,100}\([^()\n]{0,500}\)"
        r" in [^\n]{1,400}:line \d{1,7}", _M), 2),
    ("node", re.compile(
        r"^[ \t]{0,20}at (?:[^\n()]{1,300} \()?(?:/|[A-Za-z]:\\|file:///|node:)"
        r"[^\n()]{1,400}:\d{1,7}:\d{1,7}\)?[ \t]{0,10}$", _M), 2),
    ("ruby", re.compile(
        r"^[ \t]{0,20}(?:from )?[^\s:]{1,400}\.rb:\d{1,7}:in [`'][^\n']{1,200}'", _M), 2),
    ("php", re.compile(r"^#\d{1,4} (?:/|[A-Za-z]:\\)[^\n]{1,400}\.php\(\d{1,7}\): ", _M), 2),
)
_SINGLE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("python", re.compile(
        r'Traceback \(most recent call last\):\s{0,200}?File "[^"\n]{1,400}", line \d{1,7}')),
    ("dotnet", re.compile(
        r"(?:System\.[\w.]{1,200}Exception|Exception of type '[\w.]{1,200}')[^\n]{0,400}\n"
        r"(?:[^\n]{0,400}\n){0,3}?[ \t]{0,20}at (?:[\w`<>\[\]]{1,100}\.){1,30}[\w`<>\[\]]{1,100}"
        r"\([^()\n]{0,500}\)")),
    ("php", re.compile(
        r"(?:Fatal error|Parse error|Warning|Notice|Deprecated|Uncaught [\w\\]{1,100}):"
        r"[^\n]{1,500}? in (?:/|[A-Za-z]:\\)[^\n]{1,400}?\.php(?::\d{1,7}| on line \d{1,7})")),
    ("go", re.compile(r"goroutine \d{1,7} \[[a-z ,0-9]{1,60}\]:\n[^\n]{1,400}\n[^\n]{0,400}"
                      r"\.go:\d{1,7}")),
    ("sqlite", re.compile(
        r"sqlite3\.(?:Operational|Programming|Integrity|Database|Interface|Data)Error|"
        r"SQLITE_(?:ERROR|CONSTRAINT|MISMATCH)\b|\bnear \"[^\"\n]{0,80}\": syntax error|"
        r"unrecognized token: \"[^\"\n]{0,80}\"|SQLite3::SQLException|"
        r"System\.Data\.SQLite\.SQLiteException|\bno such (?:column|table): [\w.]")),
    ("postgresql", re.compile(
        r"psycopg2?\.(?:errors\.\w{1,80}|\w{1,40}Error)|PG::\w{1,40}Error|"
        r"asyncpg\.exceptions\.\w|org\.postgresql\.util\.PSQLException|\bpg_(?:query|exec)"
        r"\(\): |ERROR:\s{1,5}(?:syntax error at or near|unterminated quoted string at or "
        r"near|invalid input syntax for|column \"[^\"\n]{1,80}\" does not exist|relation "
        r"\"[^\"\n]{1,80}\" does not exist)")),
    ("mysql", re.compile(
        r"You have an error in your SQL syntax|check the manual that (?:corresponds to|fits) "
        r"your (?:MySQL|MariaDB) server version|\bmysqli?_(?:fetch_\w{1,20}|query|num_rows|"
        r"connect)\(\)|com\.mysql\.jdbc|MySQLSyntaxErrorException|pymysql\.err\.\w|"
        r"MySQLdb\.(?:_exceptions\.)?\w{1,40}Error|mysql\.connector\.errors\.\w|"
        r"Unknown column '[^'\n]{1,80}' in '")),
    ("mssql", re.compile(
        r"Unclosed quotation mark after the character string|Microsoft OLE DB Provider for "
        r"(?:SQL Server|ODBC Drivers)|\[Microsoft\]\[ODBC[^\]\n]{0,60}\]|"
        r"System\.Data\.SqlClient\.SqlException|Microsoft\.Data\.SqlClient\.SqlException|"
        r"Incorrect syntax near '[^'\n]{0,80}'|\bmssql_query\(\)|pyodbc\.\w{1,40}Error")),
    ("oracle", re.compile(
        r"\bORA-\d{5}: |\bPLS-\d{5}: |quoted string not properly terminated|oracle\.jdbc\.|"
        r"cx_Oracle\.\w{1,40}Error")),
    ("sql", re.compile(
        r"sqlalchemy\.exc\.\w{1,60}(?:Error|Exception)|django\.db\.utils\.\w{1,60}Error|"
        r"SQLSTATE\[\w{5}\]|java\.sql\.SQL\w{0,60}Exception|org\.hibernate\.\w{1,60}"
        r"\.?\w{0,60}Exception")),
)
_WERKZEUG = re.compile(r"// Werkzeug Debugger</title>|<div class=\"debugger\">")
_EXCEPTION_LINE = re.compile(
    r"^[ \t]{0,10}(?:[a-z_]\w{0,60}\.){0,8}[A-Z][A-Za-z0-9]{0,60}(?:Error|Exception):[ \t]"
    r"[^\n]{1,300}$", _M)
_TRACE_FIX = ("Turn off debug mode and detailed errors in production; log the details and "
              "answer a generic error page.")


def stack_traces(page: Page) -> list[WebFinding]:
    if not page.has_body or page.binaryish:
        return []
    if _WERKZEUG.search(page.text):
        match = _WERKZEUG.search(page.text)
        assert match is not None
        return [page.finding(
            "stack-trace", "Werkzeug debugger page", Severity.MEDIUM,
            "the response is the Werkzeug interactive debugger: the traceback, source lines "
            "and (with the PIN) a Python console are exposed", detail="werkzeug-debugger",
            cwe="CWE-209", remediation=_TRACE_FIX,
            proof=excerpt(page.plain, *_span(page.plain, "Traceback")))]
    text = page.plain
    for platform, pattern in _SINGLE:
        match = pattern.search(text)
        if match:
            return [_trace(page, platform, excerpt(text, match.start(), match.end()))]
    for platform, pattern, needed in _COUNTED:
        matches = []
        for match in pattern.finditer(text):
            matches.append(match)
            if len(matches) >= needed:
                break
        if len(matches) >= needed:
            return [_trace(page, platform,
                           excerpt(text, matches[0].start(), matches[-1].end(), after=80))]
    if page.response.status >= 500:
        match = _EXCEPTION_LINE.search(text)
        if match:
            return [page.finding(
                "stack-trace", "Exception message in an error response", Severity.LOW,
                "the error response shows the exception class and message the code raised",
                detail="exception", cwe="CWE-209", remediation=_TRACE_FIX,
                proof=match.group(0).strip(), confidence=Confidence.MEDIUM)]
    return []


def _span(text: str, word: str) -> tuple[int, int]:
    at = text.find(word)
    return (at, at + len(word)) if at >= 0 else (0, 0)


def _trace(page: Page, platform: str, proof: str) -> WebFinding:
    proof = mask_secrets(proof)
    sql = platform in ("sqlite", "postgresql", "mysql", "mssql", "oracle", "sql")
    what = f"{platform} database error" if sql else f"{platform} stack trace"
    return page.finding(
        "stack-trace", f"{what.capitalize()} disclosed", Severity.MEDIUM,
        f"the response contains a {what}: internals (code paths, queries, versions) are "
        "exposed", detail=platform, cwe="CWE-209", remediation=_TRACE_FIX, proof=proof)


# --- version banners ---------------------------------------------------------------------------
_BANNERS = ("Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Generator",
            "X-Powered-CMS", "X-Runtime-Version", "X-Framework", "X-Drupal-Version",
            "MicrosoftSharePointTeamServices", "X-Mod-Pagespeed", "X-Varnish-Version")
_BARE_INFO = frozenset({"X-Powered-By", "X-Generator", "X-Powered-CMS", "X-Framework"})
_VERSION = re.compile(r"(?<![\w.])v?\d{1,4}(?:\.\d{1,6}){1,3}(?![\w.])|[/ ]v?\d{1,4}(?![\w.])")
_BANNER_FIX = ("Remove version numbers from Server/X-Powered-By headers and generator tags "
               "(e.g. run behind a proxy that rewrites them).")


def banners(page: Page) -> list[WebFinding]:
    out: list[WebFinding] = []
    for name in _BANNERS:
        values = [v.strip() for v in page.response.header_all(name)[:10] if v.strip()]
        if not values:
            continue
        # a server may send the header twice (its own and the app's): the versioned one counts
        value = next((v for v in values if _VERSION.search(v)), values[0])
        proof = f"{name}: {value[:200]}"
        versioned = bool(_VERSION.search(value)) or name in ("X-AspNet-Version",
                                                             "X-AspNetMvc-Version")
        if versioned and any(c.isdigit() for c in value):
            out.append(page.finding(
                "version-banner", f"{name} discloses a version", Severity.LOW,
                f"the {name} header names the software and its version ({value[:100]}): "
                "attackers match it against known vulnerabilities", detail=name, cwe="CWE-200",
                remediation=_BANNER_FIX, proof=proof))
        elif name in _BARE_INFO:
            out.append(page.finding(
                "version-banner", f"{name} discloses the software", Severity.INFO,
                f"the {name} header names the software ({value[:100]})", detail=name,
                cwe="CWE-200", remediation=_BANNER_FIX, proof=proof,
                confidence=Confidence.MEDIUM))
    for content in page.html.meta("generator")[:1]:
        if _VERSION.search(content) and any(c.isdigit() for c in content):
            out.append(page.finding(
                "version-banner", "Generator meta tag discloses a version", Severity.LOW,
                f"<meta name=generator> names the software and its version ({content[:100]})",
                detail="generator", cwe="CWE-200", remediation=_BANNER_FIX,
                proof=f'<meta name="generator" content="{content[:200]}">'))
    return out


# --- private addresses -------------------------------------------------------------------------
_PRIVATE_IP = re.compile(
    r"(?<![\w.])(?:10(?:\.\d{1,3}){3}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}|"
    r"192\.168(?:\.\d{1,3}){2}|169\.254(?:\.\d{1,3}){2}|"
    r"100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])(?:\.\d{1,3}){2})(?!\w|\.\d)")
_VERSION_BEFORE = re.compile(r"\b(?:version|ver\.?|release|build|v)[\s:=]{0,3}$|[A-Za-z]/$", re.I)


def private_addresses(text: str, own: frozenset[str], limit: int = MAX_IPS) -> list[
        tuple[str, int, int]]:
    """``(address, start, end)`` of each distinct private address in ``text`` (see module)."""
    out: list[tuple[str, int, int]] = []
    seen: set[str] = set()
    for match in _PRIVATE_IP.finditer(text):
        address = match.group(0)
        if address in seen or address in own:
            continue
        if any(int(octet) > 255 for octet in address.split(".")):
            continue
        if _VERSION_BEFORE.search(text[max(0, match.start() - 12):match.start()]):
            continue
        if address.endswith((".0", ".255")) or text[match.end():match.end() + 1] == "/":
            continue  # a network, broadcast or CIDR base (ranges in code and docs)
        try:
            ipaddress.IPv4Address(address)
        except ValueError:  # leading zeros
            continue
        seen.add(address)
        out.append((address, match.start(), match.end()))
        if len(out) >= limit:
            break
    return out


def private_ips(page: Page) -> list[WebFinding]:
    out: list[WebFinding] = []
    sources = [("\n".join(f"{k}: {v}" for k, v in page.response.headers), "a header")]
    if not page.binaryish:
        sources.append((page.text, "the body"))
    seen: set[str] = set()
    for text, where in sources:
        for address, start, end in private_addresses(text, page.own_hosts):
            if address in seen or len(seen) >= MAX_IPS:
                continue
            seen.add(address)
            out.append(page.finding(
                "private-ip", f"Private IP address {address} disclosed", Severity.LOW,
                f"{where} contains the internal address {address}: it maps the internal "
                "network", detail=address, cwe="CWE-200",
                remediation="Do not put internal addresses in responses (proxy headers, "
                "error messages, comments, configuration dumps).",
                proof=excerpt(text, start, end, before=60, after=60)))
    return out


# --- HTML comments -----------------------------------------------------------------------------
_CREDENTIAL = re.compile(
    r"\b(?:pass(?:word|wd)?|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|token|"
    r"credentials?|db_pass\w{0,10})\b\s{0,5}[:=]\s{0,5}[\"']?([^\s\"'<>]{4,120})", re.I)
_INTERNAL_HOST = re.compile(
    r"\b[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,5}\.(?:internal|local|corp|lan|intranet|intra|"
    r"localdomain|priv)\b", re.I)
_TODO = re.compile(
    r"\b(?:TODO|FIXME|HACK|XXX)\b[^\n]{0,200}?\b(?:password|passwd|secret|key|auth|admin|"
    r"security|vuln|bypass|hard-?coded|token|credential|sql|injection|debug)", re.I)
_COMMENT_FIX = "Remove comments from the HTML the server sends (build-time minification)."


def comments(page: Page) -> list[WebFinding]:
    if not page.is_html:
        return []
    found: dict[str, WebFinding] = {}
    for comment in page.html.comments:
        if comment.lstrip().startswith("[if "):
            continue
        match = _CREDENTIAL.search(comment)
        if match and "credentials" not in found:
            value = match.group(1)
            if any(c.isdigit() for c in value) or not value.isalpha() or (
                    value.lower() != value and value.upper() != value):
                found["credentials"] = page.finding(
                    "html-comment", "Credential in an HTML comment", Severity.MEDIUM,
                    "an HTML comment holds what looks like a credential assignment",
                    detail="credentials", cwe="CWE-615", remediation=_COMMENT_FIX,
                    proof="<!--" + mask_secrets(
                        comment[max(0, match.start() - 40):match.end() + 40]) + "-->")
        host = _INTERNAL_HOST.search(comment)
        ips = private_addresses(comment, page.own_hosts, 1)
        if (host or ips) and "internal-host" not in found:
            name = host.group(0) if host else ips[0][0]
            found["internal-host"] = page.finding(
                "html-comment", "Internal host in an HTML comment", Severity.LOW,
                f"an HTML comment names the internal host {name}", detail="internal-host",
                cwe="CWE-615", remediation=_COMMENT_FIX, proof="<!--" + comment[:250] + "-->")
        todo = _TODO.search(comment)
        if todo and "todo" not in found:
            found["todo"] = page.finding(
                "html-comment", "Security note in an HTML comment", Severity.LOW,
                "an HTML comment carries a developer note about security", detail="todo",
                cwe="CWE-615", remediation=_COMMENT_FIX, proof="<!--" + comment[:250] + "-->",
                confidence=Confidence.MEDIUM)
    return list(found.values())


# --- debug headers -----------------------------------------------------------------------------
_DEBUG_HEADERS = ("X-Debug-Token", "X-Debug-Token-Link", "X-ChromeLogger-Data",
                  "X-ChromePhp-Data", "X-Debug-Info", "X-Clockwork-Id")


def debug_headers(page: Page) -> list[WebFinding]:
    for name in _DEBUG_HEADERS:
        value = page.response.header(name)
        if value:
            return [page.finding(
                "debug-endpoint", f"Debug header {name}", Severity.MEDIUM,
                f"the response carries {name}: a debug profiler or logger is on (Symfony "
                "profiler, ChromeLogger, Clockwork) and its data is reachable",
                detail=name, cwe="CWE-489", proof=f"{name}: {value[:200]}",
                remediation="Turn the profiler/debug logger off in production.")]
    return []


def check(page: Page) -> list[WebFinding]:
    return [*stack_traces(page), *banners(page), *private_ips(page), *comments(page),
            *debug_headers(page)]
