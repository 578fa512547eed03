"""SQL injection probe (``sqli``): error-based, boolean-based and time-based, per input point.

Every technique decides only on a difference the payload caused, against the point's baseline:

- **error-based**: the sample value followed by ``'`` (then ``"``) makes a database error
  signature appear (SQLite, PostgreSQL, MySQL/MariaDB, SQL Server, Oracle, drivers/ORMs) that is
  absent from the baseline, and a *balanced twin* (``''`` / ``""``; for numeric and identifier
  contexts the no-op comment ``/**/``) does not show it. A page that always contains "SQL
  syntax" prose has the signature in its baseline and is never judged on it. Confirmed by
  sending the payload once more. 2 to 6 requests.
- **boolean-based**: a true/false pair with random operands (``x' AND 'k'='k`` /
  ``x' AND 'k'='m``, ``x" AND "k"="k``, the comment form ``x' AND k=k-- -``,
  ``x%' AND k=k AND '%'='`` for LIKE, numeric
  ``1 AND k=k``; the ``OR`` forms (login bypass) only where nothing (path, field, the other
  fields) looks like a write, and for non-GET requests only on read-like routes (login,
  search, lookup): ``OR`` would widen an UPDATE/DELETE to every row; see
  :func:`or_allowed`): one side
  must answer exactly like the baseline (status and body, with the reflected value mapped back
  to the sample value) and the other must differ; confirmed with fresh operands. A baseline that
  is not stable across two requests disables this technique. At most 1 + 7*2 + 2 requests.
- **time-based** (when ``ctx.time_based``): an expression that costs time is put in a string
  context (``x'||(CASE WHEN E=0 THEN '' ELSE '' END)||'``) and a numeric / identifier context
  (``x-(CASE WHEN E=0 THEN 0 ELSE 0 END)``), which leave the query's meaning unchanged. E is
  SQLite's recursive-CTE count (SQLite has no sleep: the cost scales with the row count N,
  calibrated against the measured latency), PostgreSQL ``pg_sleep`` or MySQL ``SLEEP``. A
  delay must appear, disappear with a zero-cost control, and scale (two durations, each twice;
  see :func:`sleep_scales` and :func:`heavy_scales`). 6 requests when nothing is slow, at most
  6 + 13 more for one that is.

At most 45 requests per point. A finding is CRITICAL (confirmed twice).
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Callable
from functools import partial
from urllib.parse import quote, quote_plus, urlsplit

from secpipe.scanners.web.model import Exchange, InputPoint, Response, Site, WebFinding
from secpipe.scanners.web.probes import ProbeContext
from secpipe.scanners.web.probes._common import (
    finding,
    sleep_scales,
    usable,
    usable_timing,
)

CWE = "CWE-89"
REMEDIATION = ("Use parameterised queries (bound parameters) for every value, allowlists for "
               "identifiers (ORDER BY columns, directions); never build SQL from strings.")

HEAVY_ROWS = 1_000_000
"""SQLite: first row count of the recursive-CTE cost expression (about 0.5 s on a laptop)."""
HEAVY_TARGET = 0.7
"""SQLite: seconds the calibrated row count should cost."""
HEAVY_MAX_ROWS = 40_000_000

_HEAVY = ("(SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c "
          "LIMIT ROWS) SELECT x FROM c))")
"""SQLite's cost expression (no sleep function there): counting ROWS generated rows."""

_ERRORS = re.compile("|".join((
    # SQLite (sqlite3, better-sqlite3, Go, PHP PDO)
    r"sqlite3?\.(?:Operational|Programming|Database)Error", r"SQLITE_ERROR",
    r"unrecognized token: ", r"near \"[^\"]{0,80}\": syntax error",
    r"SQLite ?(?:Exception|error)",
    # PostgreSQL
    r"psycopg2?\.errors", r"PG::[A-Za-z]+Error", r"syntax error at or near",
    r"unterminated quoted (?:string|identifier) at or near", r"PSQLException",
    r"invalid input syntax for (?:type )?\w+", r"pg_query\(\)", r"ERROR:\s+syntax error",
    # MySQL / MariaDB
    r"You have an error in your SQL syntax", r"check the manual that corresponds to your "
    r"(?:MySQL|MariaDB)", r"mysql_fetch_\w+\(", r"MySQLSyntaxErrorException",
    r"com\.mysql\.jdbc", r"Warning: mysqli?_", r"pymysql\.err", r"MySQLdb\._exceptions",
    # SQL Server
    r"Unclosed quotation mark after the character string", r"Microsoft OLE DB Provider",
    r"\[SQL Server\]", r"System\.Data\.SqlClient\.SqlException", r"Incorrect syntax near",
    # Oracle
    r"\bORA-\d{5}\b", r"quoted string not properly terminated",
    # generic drivers / ORMs
    r"SQLSTATE\[\w+\]", r"sqlalchemy\.exc\.\w+", r"JDBC\w*Exception", r"ODBC \w+ Driver",
    r"org\.hibernate\.\w+Exception", r"SequelizeDatabaseError", r"QueryFailedError",
)), re.IGNORECASE)


def error_signature(text: str) -> str:
    """The first database error signature in ``text`` ('' when none)."""
    match = _ERRORS.search(text[: 1 << 20])
    return match.group(0) if match else ""


def _exchange(ctx: ProbeContext, point: InputPoint, value: str) -> Exchange:
    request = point.request(value)
    return Exchange(request, ctx.client.send(request))


# --- timing ------------------------------------------------------------------------------------

def heavy_scales(send: Callable[[int], Exchange], base: float) -> list[Exchange]:
    """Like :func:`sleep_scales` for a cost expression of ``n`` rows whose speed is unknown:
    a first probe at :data:`HEAVY_ROWS` calibrates ``n`` for :data:`HEAVY_TARGET` seconds; then
    ``n=1`` (control) must cost nothing, ``n`` and ``2n`` (each twice) must each be slow, the
    ``2n`` pair clearly slower than the ``n`` pair on average, and a last control fast again.
    CPU cost is noisy on a busy host, hence averages, and one more round with three times the
    rows when the calibration came out too low; a target that never runs the expression costs
    nothing at any ``n``, and random latency rarely passes all the conditions.
    Returns the exchanges proving it, or [] (1 request when the first is fast, else 6 to 13)."""
    first = send(HEAVY_ROWS)
    extra = first.response.elapsed - base
    if not usable_timing(first) or extra < 0.1:
        return []
    rows = int(min(HEAVY_MAX_ROWS, max(HEAVY_ROWS / 5, HEAVY_ROWS * HEAVY_TARGET / extra)))
    control = send(1)
    if not usable_timing(control) or control.response.elapsed > base + 0.3:
        return []
    ctrl = max(base, control.response.elapsed)
    for _ in range(2):
        proof, too_fast = _heavy_round(send, rows, ctrl)
        if proof:
            return [control, *proof]
        if not too_fast or rows >= HEAVY_MAX_ROWS:
            return []
        rows = min(HEAVY_MAX_ROWS, rows * 3)
    return []


def _heavy_round(send: Callable[[int], Exchange], rows: int,
                 ctrl: float) -> tuple[list[Exchange], bool]:
    """One round of :func:`heavy_scales` at ``rows``: (proof or [], whether it failed only for
    delays too short to judge while still growing with the rows)."""
    one = send(rows)
    two = send(rows * 2)
    one_again = send(rows)
    two_again = send(rows * 2)
    if not all(usable_timing(e) for e in (one, two, one_again, two_again)):
        return [], False
    d1 = [one.response.elapsed - ctrl, one_again.response.elapsed - ctrl]
    d2 = [two.response.elapsed - ctrl, two_again.response.elapsed - ctrl]
    if sum(d2) < 1.4 * sum(d1):
        return [], False
    if min(d1) < 0.25 or min(d2) < 0.25:
        return [], min(d1) > 0.02
    last = send(1)
    if not usable_timing(last) or last.response.elapsed - ctrl > min(d1) / 2:
        return [], False
    return [one, two, one_again, two_again, last], False


# --- the probe ---------------------------------------------------------------------------------

def _forms(value: str) -> list[str]:
    """The ways a reflected value may appear in a page."""
    return list(dict.fromkeys((
        value, html.escape(value), html.escape(value, quote=False),
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("'", "&#39;").replace('"', "&#34;"),
        html.escape(value).replace("&#x27;", "&apos;").replace("&quot;", "&#34;"),
        quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1])))


_VOLATILE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b"
    r"|\b\d{1,2}:\d{2}:\d{2}\b|\b\d{10,13}\b"
    r"|(?<![\w\-.+/=])(?=[\w\-.+/=]*[\dA-Z])(?=[\w\-.+/=]*[\da-z])[\w\-.+/=]{24,}(?![\w\-.+/=])")
"""Timestamps, epoch times and long tokens mixing cases or digits (CSRF, nonces, request ids):
they change by themselves, not by the query."""


def comparable(response: Response, value: str, original: str) -> tuple[int, str]:
    """(status, body) with the reflected ``value`` mapped back to ``original`` in each form and
    volatile parts (timestamps, long tokens) blanked."""
    text = response.text[: 1 << 20]
    if value != original:
        for form, orig in zip(_forms(value), _forms(original), strict=False):
            if form:
                text = text.replace(form, orig)
        for form in _forms(value):
            if form:
                text = text.replace(form, original)
    return response.status, _VOLATILE.sub("~", text)


_MUTATING = re.compile(
    r"delete|remove|destroy|drop|purge|update|edit|modify|change|save|set|reset|create|add|"
    r"new|insert|upload|import|transfer|pay|order|buy|checkout|cancel|approve|archive|move",
    re.IGNORECASE)
"""A request that looks like it writes data: no ``OR`` payloads there (``OR k=k`` would widen
an UPDATE or DELETE to every row)."""


_READS = re.compile(r"log_?in|log_?on|sign_?in|auth|session|search|find|lookup|query|filter",
                    re.IGNORECASE)
"""A non-GET route that reads (a login, a search): ``OR`` there only widens a SELECT."""


def or_allowed(point: InputPoint) -> bool:
    """``OR`` payloads only where they cannot widen a write: nowhere the route, field name or
    another field's name or value looks like a write (any method), and for methods other
    than GET only on routes that look like reads (login, search, lookup)."""
    path = urlsplit(point.url).path
    words = " ".join((path, point.name, *(f"{k} {v}" for k, v in point.params)))
    if _MUTATING.search(words):
        return False
    return point.method.upper() == "GET" or bool(_READS.search(path))


def _numeric(value: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", value.strip()))


class SqlInjection:
    """``sqli``: see the module docstring."""

    kind = "sqli"

    def applies(self, point: InputPoint, site: Site) -> bool:
        return point.route not in site.unauthorised

    def run(self, ctx: ProbeContext, point: InputPoint) -> list[WebFinding]:
        baseline = ctx.baseline(point)
        if not usable(baseline):
            return []
        for technique in (self._error, self._boolean, self._time):
            found = technique(ctx, point, baseline)
            if found:
                return [found]
        return []

    # error-based ----------------------------------------------------------------------------
    def _error(self, ctx: ProbeContext, point: InputPoint,
               baseline: Response) -> WebFinding | None:
        if error_signature(baseline.text):
            return None
        orig = point.original()
        for quote_char in ("'", '"'):
            attack = _exchange(ctx, point, orig + quote_char)
            signature = error_signature(attack.response.text)
            if not signature:
                continue
            for twin_value in (orig + quote_char * 2, orig + "/**/"):
                twin = _exchange(ctx, point, twin_value)
                if not usable(twin.response) or error_signature(twin.response.text):
                    continue
                again = _exchange(ctx, point, orig + quote_char)
                if not error_signature(again.response.text):
                    break
                return finding(
                    self.kind, point, title=f"SQL injection (error-based) in {point.label}",
                    message=(f"Appending {quote_char} to {point.label} makes the database "
                             f"report a syntax error ({signature!r}); the balanced twin "
                             f"{twin_value[len(orig):]!r} does not: the value is part of the SQL "
                             "text."),
                    proof=signature, evidence=[Exchange(point.request(orig), baseline), attack,
                                               twin], cwe=CWE, remediation=REMEDIATION,
                    detail="error")
        return None

    # boolean-based --------------------------------------------------------------------------
    def _boolean(self, ctx: ProbeContext, point: InputPoint,
                 baseline: Response) -> WebFinding | None:
        orig = point.original()
        again = ctx.client.send(point.request(orig))
        if comparable(again, orig, orig) != comparable(baseline, orig, orig):
            return None  # a page that changes by itself cannot be judged this way
        reference = comparable(baseline, orig, orig)
        forms: list[tuple[str, str, bool]] = [
            ("' AND '{k}'='{k}", "' AND '{k}'='{m}", True),
            ("' AND {k}={k}-- -", "' AND {k}={m}-- -", True),
            ('" AND "{k}"="{k}', '" AND "{k}"="{m}', True),
            ("%' AND {k}={k} AND '%'='", "%' AND {k}={m} AND '%'='", True),
        ]
        if _numeric(orig):
            forms.append((" AND {k}={k}", " AND {k}={m}", True))
        if or_allowed(point):
            forms.append(("' OR {k}={k}-- -", "' OR {k}={m}-- -", False))
            if _numeric(orig):
                forms.append((" OR {k}={k}", " OR {k}={m}", False))
        for true_form, false_form, conjunctive in forms:
            rounds: list[Exchange] = []
            for _ in range(2):
                k = 10 + secrets.randbelow(90)
                m = k + 1 + secrets.randbelow(9)
                true_value = orig + true_form.format(k=k, m=m)
                false_value = orig + false_form.format(k=k, m=m)
                yes = _exchange(ctx, point, true_value)
                no = _exchange(ctx, point, false_value)
                same, other = (yes, no) if conjunctive else (no, yes)
                same_value, other_value = ((true_value, false_value) if conjunctive
                                           else (false_value, true_value))
                if not usable(other.response) or not usable(same.response):
                    break
                if comparable(same.response, same_value, orig) != reference:
                    break
                if comparable(other.response, other_value, orig) == reference:
                    break
                rounds += [yes, no]
            else:
                return finding(
                    self.kind, point, title=f"SQL injection (boolean-based) in {point.label}",
                    message=(f"{point.label} changes the query's logic: "
                             f"{true_form.format(k='k', m='m')!r} (true) and "
                             f"{false_form.format(k='k', m='m')!r} (false) give different pages, "
                             "one of them identical to the baseline, with two sets of random "
                             "operands."),
                    proof=f"true/false pair {true_form!r} / {false_form!r}",
                    evidence=[Exchange(point.request(orig), baseline), *rounds], cwe=CWE,
                    remediation=REMEDIATION, detail="boolean")
        return None

    # time-based -----------------------------------------------------------------------------
    def _time(self, ctx: ProbeContext, point: InputPoint,
              baseline: Response) -> WebFinding | None:
        if not ctx.time_based:
            return None
        orig = point.original()
        base = baseline.elapsed
        wrappers = (("string", "'||(CASE WHEN {e}=0 THEN '' ELSE '' END)||'"),
                    ("numeric", "-(CASE WHEN {e}=0 THEN 0 ELSE 0 END)"))
        for context, wrapper in wrappers:
            def heavy(rows: int, wrapper: str = wrapper) -> Exchange:
                expr = _HEAVY.replace("ROWS", str(rows))
                return _exchange(ctx, point, orig + wrapper.format(e=expr))

            def pg(seconds: float, wrapper: str = wrapper) -> Exchange:
                expr = f"(SELECT 0 FROM pg_sleep({seconds:g}))"  # noqa: S608 payload
                return _exchange(ctx, point, orig + wrapper.format(e=expr))

            def mysql(seconds: float, wrapper: str = wrapper) -> Exchange:
                expr = f"(SELECT 0 FROM (SELECT SLEEP({seconds:g}))x)"  # noqa: S608 payload
                return _exchange(ctx, point, orig + wrapper.format(e=expr))

            checks: tuple[tuple[str, Callable[[], list[Exchange]]], ...] = (
                ("heavy-query", partial(heavy_scales, heavy, base)),
                ("PostgreSQL", partial(sleep_scales, pg, base)),
                ("MySQL", partial(sleep_scales, mysql, base)))
            for database, check in checks:
                proof = check()
                if proof:
                    times = ", ".join(f"{e.response.elapsed:.2f}s" for e in proof)
                    return finding(
                        self.kind, point, title=f"SQL injection (time-based) in {point.label}",
                        message=(f"A {_TIME_NAMES[database]} put in "
                                 f"{point.label} ({context} context) delays the answer in "
                                 f"proportion to the cost requested (baseline {base:.2f}s; "
                                 f"timings in the order sent: {times})."),
                        proof=f"{_TIME_NAMES[database]}: delay scales: {times}",
                        evidence=[Exchange(point.request(orig), baseline), *proof], cwe=CWE,
                        remediation=REMEDIATION, detail=f"time-{database.lower()}")
        return None


_TIME_NAMES = {
    "heavy-query": "heavy query (recursive CTE row count, for SQLite which has no sleep)",
    "PostgreSQL": "PostgreSQL pg_sleep", "MySQL": "MySQL SLEEP"}

PROBES: list[object] = [SqlInjection()]
