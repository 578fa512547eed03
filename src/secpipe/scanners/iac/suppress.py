"""Inline suppressions in IaC files: secpipe's own comment and the skip comments of checkov,
tfsec and trivy.

Forms (in a comment: ``#`` or ``//`` in Terraform/HCL files, ``#`` elsewhere)::

    # secpipe:ignore iac.aws.s3-public-access reason="public website bucket" expires=2026-06-30
    # secpipe:ignore iac.aws.s3-versioning,iac.aws.s3-logging reason=website expires=2026-06-30
    # checkov:skip=CKV_AWS_20:the bucket hosts the public website
    # tfsec:ignore:aws-s3-enable-bucket-encryption:exp:2026-01-02
    # trivy:ignore:AVD-AWS-0088
    metadata: {annotations: {checkov.io/skip1: "CKV_K8S_20=justification"}}   (Kubernetes)

``secpipe:ignore`` takes one or more rule ids (comma-separated, no wildcard), a ``reason=`` —
a double- or single-quoted text, or one word without spaces — and ``expires=YYYY-MM-DD``; the
keys may come in either order, nothing else may follow. Without a reason (at least three
characters besides spaces), without a valid expiry, with an expiry already past or with anything
it does not understand, it suppresses nothing and is reported as an ``iac.invalid-suppression``
problem saying what is wrong. A suppressed hit stays a finding marked with the reason and the
expiry (:func:`secpipe.policy.inline.mark_inline`); the gate accepts it until the expiry.

A checkov/tfsec/trivy skip applies to a hit when the id it names is one of the hit's rule's
``aliases`` (case-insensitive; ``AVD-AWS-0088`` and ``AWS-0088`` are the same id). It carries no
reason the gate can trust and no expiry, so the hit becomes a finding marked as tool-suppressed
(:func:`secpipe.tools.suppressions.mark_tool_suppressed`), counted by the gate unless the policy
sets ``accept_tool_suppressions``. A tfsec/trivy ignore with ``:exp:`` past, or with a
``[attribute=value]`` selector (not evaluated here), does not apply.

Scope: a comment applies to a hit when the hit's ``block`` contains the comment's line, when the
block starts on the first line after the comment that is not itself a comment (the comment sits
just above the resource; other comment lines may come between, a blank line may not), or when the
hit's line is the comment's line or the next one (a comment at the end of, or just above, the
attribute).

Known limits: comments are found line by line, outside double-quoted (and in YAML, single-quoted)
strings on that line; a comment-like line inside a heredoc or a YAML block scalar is taken as a
comment.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import SecpipeError
from secpipe.core.findings import Finding
from secpipe.core.safeload import read_regular_file
from secpipe.policy.inline import mark_inline
from secpipe.policy.model import MIN_REASON_CHARS
from secpipe.scanners.iac.model import PROBLEM_RULES, IacHit, IacRule, Problem
from secpipe.tools.suppressions import mark_tool_suppressed

__all__ = ["Inline", "Marking", "apply", "findings_with_suppressions", "mark_finding",
           "parse_comments"]

MAX_LINES = 200_000
"""Lines of one file searched for comments (the framework modules bound file size already)."""
MAX_LINE_CHARS = 4096
"""Characters of one line searched; a comment further right is not read."""
MAX_REASON_CHARS = 300
"""Longest reason kept (longer text is cut, with an ellipsis)."""

_HCL_SUFFIXES = (".tf", ".hcl", ".tfvars")
_MARKER = re.compile(r"(?<![\w.-])(secpipe:ignore|checkov:skip=|tfsec:ignore:|trivy:ignore:)",
                     re.IGNORECASE)
_ANNOTATION = re.compile(
    r"""^\s*(?:-\s*)?["']?checkov\.io/skip\d*["']?\s*:\s*["']?(?P<id>[A-Za-z0-9_]+)"""
    r"""(?:=(?P<why>[^"'\n]*))?""")
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_TOOL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Inline:
    """One suppression comment that may apply (an invalid ``secpipe:ignore`` is a
    :class:`~secpipe.scanners.iac.model.Problem` instead)."""

    tool: str
    """``secpipe``, ``checkov``, ``tfsec`` or ``trivy``."""
    ids: tuple[str, ...]
    """The rule ids it names: secpipe rule ids, or the tool's ids (matched to aliases)."""
    path: str
    """Project-relative file."""
    line: int
    """1-based line of the comment."""
    next_line: int | None
    """First line after the comment that is not a comment-only line (the resource it sits
    above), None at the end of the file."""
    reason: str = ""
    """``secpipe``: the reason; a tool: its justification, if any."""
    expires: dt.date | None = None
    """``secpipe``: the expiry (always set); tfsec/trivy: the ``:exp:`` date, if any."""

    @property
    def where(self) -> str:
        """``path:line``."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Marking:
    """What an inline comment does to one hit's finding (see :func:`mark_finding`)."""

    inline: Inline
    """The comment that applies."""

    @property
    def by_secpipe(self) -> bool:
        """True for a ``secpipe:ignore`` (reason and expiry: the gate accepts it until the
        expiry); False for a tool's skip (tool-suppressed: counted unless the policy accepts
        tool suppressions)."""
        return self.inline.tool == "secpipe"

    @property
    def justification(self) -> str:
        """The tool's own words for a tool skip (``checkov: <text>``), naming the comment."""
        text = f"{self.inline.tool} comment at {self.inline.where}"
        return f"{text}: {self.inline.reason}" if self.inline.reason else text


def mark_finding(finding: Finding, marking: Marking | None) -> Finding:
    """``finding`` with ``marking`` applied: inline-suppressed (secpipe) or tool-suppressed
    (``inSource``, a checkov/tfsec/trivy comment); unchanged without a marking."""
    if marking is None:
        return finding
    inline = marking.inline
    if marking.by_secpipe:
        assert inline.expires is not None
        return mark_inline(finding, inline.reason, inline.expires, inline.where)
    return mark_tool_suppressed(finding, "inSource", marking.justification)


# --- finding comments ------------------------------------------------------------------------


def _comment_start(line: str, hcl: bool) -> int:
    """Index where the comment of ``line`` starts (after its marker), -1 when it has none."""
    quote = ""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == '"' or (c == "'" and not hcl and (i == 0 or line[i - 1] in " \t:[{,-")):
            quote = c
        elif c == "#" and (hcl or i == 0 or line[i - 1] in " \t"):
            return i + 1
        elif hcl and c == "/" and line.startswith("//", i):
            return i + 2
        i += 1
    return -1


def _is_comment_only(line: str, hcl: bool) -> bool:
    stripped = line.lstrip()
    return stripped.startswith("#") or (hcl and stripped.startswith("//"))


def parse_comments(text: str, rel: str,
                   today: dt.date | None = None) -> tuple[list[Inline], list[Problem]]:
    """The suppression comments of one file's ``text`` (``rel``: its project-relative path),
    and an ``iac.invalid-suppression`` problem for every ``secpipe:ignore`` that cannot
    suppress (``today`` judges expiry; default the current date). Never raises."""
    today = today or dt.date.today()
    hcl = rel.lower().endswith(_HCL_SUFFIXES)
    lines = text.split("\n", MAX_LINES)[:MAX_LINES]  # "\n" only, as editors and HCL count
    inlines: list[Inline] = []
    problems: list[Problem] = []
    pending: list[int] = []  # indexes into inlines of comments awaiting their next code line
    for number, raw in enumerate(lines, start=1):
        line = raw[:MAX_LINE_CHARS].removesuffix("\r")
        comment_only = _is_comment_only(line, hcl)
        if not comment_only:
            if line.strip():
                for index in pending:
                    inlines[index] = _with_next(inlines[index], number)
            pending.clear()  # a blank line ends "just above"
        found: list[Inline] = []
        annotation = _ANNOTATION.match(line)
        if annotation:
            found.append(Inline("checkov", (annotation["id"],), rel, number, None,
                                _reason_text(annotation["why"] or "")))
        start = _comment_start(line, hcl)
        if start >= 0:
            comment = line[start:]
            marks = list(_MARKER.finditer(comment))
            for k, mark in enumerate(marks):
                end = marks[k + 1].start() if k + 1 < len(marks) else len(comment)
                body = comment[mark.end():end]
                kind = mark[1].lower()
                if kind == "secpipe:ignore":
                    body = comment[mark.end():]  # its reason may quote anything: up to the end
                    item, problem = _secpipe(body, rel, number, today)
                    if problem is not None:
                        problems.append(problem)
                    if item is not None:
                        found.append(item)
                    break
                tool_item = _tool(kind, body.strip(), rel, number, today)
                if tool_item is not None:
                    found.append(tool_item)
        for item in found:
            if comment_only:
                pending.append(len(inlines))
            inlines.append(item)
    return inlines, problems


def _with_next(item: Inline, number: int) -> Inline:
    return Inline(item.tool, item.ids, item.path, item.line, number, item.reason, item.expires)


def _reason_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 1] + "…"


def _tool(kind: str, body: str, rel: str, number: int, today: dt.date) -> Inline | None:
    """A checkov/tfsec/trivy skip, None when it names no id or does not apply (expired, with a
    selector)."""
    if kind == "checkov:skip=":
        match = _TOOL_ID.match(body)
        if not match:
            return None
        rest = body[match.end():]
        why = rest[1:] if rest.startswith(":") else ""
        return Inline("checkov", (match[0],), rel, number, None, _reason_text(why))
    tool = kind.split(":", 1)[0]
    match = _TOOL_ID.match(body)
    if not match:
        return None
    rest = body[match.end():]
    if rest.startswith("["):  # trivy/tfsec attribute selector: not evaluated here
        return None
    expires = None
    exp = re.match(r":exp:(\S*)", rest)
    if exp:
        try:
            expires = dt.date.fromisoformat(exp[1]) if _DATE.fullmatch(exp[1]) else None
        except ValueError:
            expires = None
        if expires is None or expires < today:
            return None  # the tool itself no longer honours it (or cannot read it)
    return Inline(tool, (match[0],), rel, number, None, "", expires)


def _secpipe(body: str, rel: str, number: int,
             today: dt.date) -> tuple[Inline | None, Problem | None]:
    """A ``secpipe:ignore`` comment's body (what follows the marker)."""
    where = f"{rel}:{number}"

    def bad(why: str) -> tuple[None, Problem]:
        return None, Problem("iac.invalid-suppression", rel, number,
                             f"secpipe:ignore at {where} does not suppress: {why}")

    pos = 0
    if body[:1] not in (" ", "\t"):
        return bad("expected rule ids after 'secpipe:ignore ' (no wildcard)")
    text = body.rstrip()
    pos = len(text) - len(text[pos:].lstrip())
    ids: list[str] = []
    while True:
        match = _RULE_ID.match(text, pos)
        if not match or "=" in text[match.end():match.end() + 1]:
            break
        ids.append(match[0])
        pos = match.end()
        if text[pos:pos + 1] == ",":
            pos += 1
            while text[pos:pos + 1] in (" ", "\t") and text[pos:pos + 1]:
                pos += 1
            continue
        break
    if not ids:
        return bad("expected one or more rule ids after 'secpipe:ignore' (no wildcard)")
    values: dict[str, str] = {}
    errors: list[str] = []
    while pos < len(text):
        rest = text[pos:]
        stripped = rest.lstrip()
        if not stripped:
            break
        if stripped == rest:
            errors.append(f"unexpected text {rest[:40]!r}")
            break
        pos += len(rest) - len(stripped)
        key = re.match(r"([A-Za-z_]+)=", stripped)
        if not key:
            errors.append(f"unexpected text {stripped.split()[0][:40]!r} (expected reason=… "
                          "or expires=YYYY-MM-DD)")
            break
        name = key[1].lower()
        pos += key.end()
        value, pos, problem = _value(text, pos)
        if problem:
            errors.append(f"{name}= {problem}")
            break
        if name not in ("reason", "expires"):
            errors.append(f"unknown key {name}=")
            continue
        if name in values:
            errors.append(f"{name}= given twice")
            continue
        values[name] = value
    reason = _reason_text(values.get("reason", ""))
    if "reason" not in values:
        errors.append('no reason="…"')
    elif sum(not c.isspace() for c in reason) < MIN_REASON_CHARS:
        errors.append(f"the reason needs at least {MIN_REASON_CHARS} characters")
    expires: dt.date | None = None
    if "expires" not in values:
        errors.append("no expires=YYYY-MM-DD")
    else:
        raw = values["expires"]
        try:
            expires = dt.date.fromisoformat(raw) if _DATE.fullmatch(raw) else None
        except ValueError:
            expires = None
        if expires is None:
            errors.append(f"expires={raw[:20]!r} is not a date YYYY-MM-DD")
        elif expires < today:
            errors.append(f"it expired on {expires.isoformat()}")
    for rule_id in ids:
        if rule_id in PROBLEM_RULES:
            errors.append(f"{rule_id} is a finding about the analysis itself and cannot be "
                          "suppressed")
    if errors:
        return bad("; ".join(errors))
    assert expires is not None
    return Inline("secpipe", tuple(ids), rel, number, None, reason, expires), None


def _value(text: str, pos: int) -> tuple[str, int, str]:
    """A ``key=`` value at ``pos``: quoted (``"…"``/``'…'``, no escapes) or up to the next
    space. Returns (value, position after it, problem or "")."""
    if text[pos:pos + 1] in ('"', "'"):
        quote = text[pos]
        end = text.find(quote, pos + 1)
        if end < 0:
            return "", len(text), "has no closing quote"
        return text[pos + 1:end], end + 1, ""
    match = re.compile(r"\S*").match(text, pos)
    assert match is not None
    return match[0], match.end(), ""


# --- applying them ----------------------------------------------------------------------------


def _norm(tool_id: str) -> str:
    text = tool_id.strip().upper()
    return text[4:] if text.startswith("AVD-") else text


def _covers(inline: Inline, hit: IacHit) -> bool:
    if inline.path != hit.path:
        return False
    if hit.block is not None:
        first, last = hit.block
        if first <= inline.line <= last or first == inline.next_line:
            return True
    if hit.line is not None:
        return hit.line in (inline.line, inline.line + 1) or hit.line == inline.next_line
    return False


def apply(hits: list[IacHit], inlines: list[Inline], rules: Mapping[str, IacRule],
          today: dt.date | None = None) -> list[tuple[IacHit, Marking | None]]:
    """Each hit with the comment that suppresses it (None when none does), in the order of
    ``hits``. A ``secpipe:ignore`` naming the hit's rule id wins over a tool's skip naming one
    of the rule's aliases; an expired comment (against ``today``) does not apply."""
    today = today or dt.date.today()
    by_path: dict[str, list[Inline]] = {}
    for inline in inlines:
        if inline.expires is not None and inline.expires < today:
            continue
        by_path.setdefault(inline.path, []).append(inline)
    out: list[tuple[IacHit, Marking | None]] = []
    for hit in hits:
        rule = rules.get(hit.rule_id)
        aliases = {_norm(a) for a in rule.aliases} if rule is not None else set()
        chosen: Inline | None = None
        for inline in by_path.get(hit.path, ()):
            if not _covers(inline, hit):
                continue
            if inline.tool == "secpipe":
                if hit.rule_id in inline.ids:
                    chosen = inline
                    break
            elif chosen is None and any(_norm(i) in aliases for i in inline.ids):
                chosen = inline
        out.append((hit, Marking(chosen) if chosen is not None else None))
    return out


def _read_text(root: Path, rel: str, max_bytes: int) -> str | None:
    """The text of ``rel`` under ``root`` (bounded, a regular file inside ``root``), None when
    it cannot be read (then no comment suppresses anything in it)."""
    try:
        path = (root / rel).resolve()
        path.relative_to(root.resolve())
        data = read_regular_file(path, max_bytes, rel)
    except (SecpipeError, OSError, ValueError, RuntimeError):
        return None
    return data.decode("utf-8", "replace").removeprefix("\ufeff")


def findings_with_suppressions(
    root: Path, hits: list[IacHit], rules: Mapping[str, IacRule], max_bytes: int,
    today: dt.date, make_finding: Callable[[IacHit, IacRule | None], Finding],
) -> tuple[list[Finding], list[Problem]]:
    """The findings of ``hits`` (built by ``make_finding``, in the order of ``hits``) with the
    comments of their files applied (:func:`mark_finding`), and the ``iac.invalid-suppression``
    problems of those files. A file that cannot be read again suppresses nothing."""
    by_path: dict[str, list[Inline]] = {}
    problems: list[Problem] = []
    for rel in dict.fromkeys(h.path for h in hits):
        text = _read_text(root, rel, max_bytes)
        if text is None:
            continue
        inlines, found = parse_comments(text, rel, today)
        by_path[rel] = inlines
        problems.extend(found)
    every = [i for items in by_path.values() for i in items]
    findings = [mark_finding(make_finding(hit, rules.get(hit.rule_id)), marking)
                for hit, marking in apply(hits, every, rules, today)]
    return findings, problems
