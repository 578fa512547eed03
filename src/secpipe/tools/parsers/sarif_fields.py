"""Reading the fields of one SARIF result: severity, location, identity, message, tags.

Every field of an untrusted log is optional; every string is bounded and stripped of control
characters (:func:`~secpipe.tools.redact.clean`) and text that may quote a secret is redacted.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from secpipe.core.findings import Location, Severity
from secpipe.tools.redact import clean, redact_tokens
from secpipe.tools.suppressions import unmarked_tags

_ID_MAX = 200
_LEVELS = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW,
           "none": Severity.INFO}


def as_dict(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def _severity_value(props: Mapping[str, Any]) -> Severity | None:
    raw = props.get("security-severity")
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        try:
            score = float(raw)
        except ValueError:
            score = math.nan
        if math.isfinite(score):
            if score >= 9.0:
                return Severity.CRITICAL
            if score >= 7.0:
                return Severity.HIGH
            if score >= 4.0:
                return Severity.MEDIUM
            return Severity.LOW if score >= 0.1 else Severity.INFO
    named = props.get("severity")
    if isinstance(named, str):
        try:
            return Severity.parse(named)
        except ValueError:
            return None
    return None


def _severity_tags(props: Mapping[str, Any]) -> Severity | None:
    for tag in as_list(props.get("tags")):
        if isinstance(tag, str):
            try:
                return Severity.parse(tag)
            except ValueError:
                continue
    return None


def severity_of(result: dict[str, Any], rule: dict[str, Any],
                default: Severity | None) -> Severity:
    """Severity from the result's or rule's properties, the rule's tags, then ``level``."""
    rule_props = as_dict(rule.get("properties"))
    found = (_severity_value(as_dict(result.get("properties"))) or _severity_value(rule_props)
             or _severity_tags(rule_props))
    if found is not None:
        return found
    level = result.get("level")
    if not isinstance(level, str):
        level = as_dict(rule.get("defaultConfiguration")).get("level")
    if isinstance(level, str) and level in _LEVELS:
        return _LEVELS[level]
    return default if default is not None else Severity.MEDIUM  # SARIF's default is "warning"


class Paths:
    """Turns artifact locations into project-relative POSIX paths."""

    def __init__(self, base_ids: dict[str, Any], project_root: Path, base_dir: Path) -> None:
        self.base_ids = base_ids
        self.root = os.path.normpath(os.path.abspath(project_root))
        self.base_dir = os.path.normpath(os.path.abspath(base_dir))

    def _base(self, name: object, depth: int = 0) -> str | None:
        entry = as_dict(self.base_ids.get(name)) if isinstance(name, str) else {}
        uri = entry.get("uri")
        if not isinstance(uri, str) or depth > 4:
            return None
        parent = self._base(entry.get("uriBaseId"), depth + 1)
        return urljoin(parent, uri) if parent else uri

    def path(self, loc: dict[str, Any]) -> str | None:
        uri = loc.get("uri")
        if not isinstance(uri, str) or not uri:
            return None
        try:
            base = self._base(loc.get("uriBaseId"))
            if base:
                uri = urljoin(base if base.endswith("/") else base + "/", uri)
            parts = urlsplit(uri)
        except ValueError:  # e.g. an unbalanced "[" in the host: keep the text as written
            return clean(uri, 1000)
        if parts.scheme == "file":
            local = unquote(parts.path)
        elif len(parts.scheme) > 1:
            return clean(uri, 1000)  # a remote artifact: keep the URI
        else:
            local = unquote(uri)
            if not os.path.isabs(local):
                local = os.path.join(self.base_dir, local)
        local = os.path.normpath(local)
        if local == self.root:
            return "."
        if local.startswith(self.root + os.sep):
            local = os.path.relpath(local, self.root)
        return clean(local.replace(os.sep, "/"), 1000)


def as_int(value: object) -> int | None:
    """``value`` when it is a non-negative integer, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def location_of(result: dict[str, Any], paths: Paths) -> tuple[Location, str]:
    """The result's first location, and its snippet text ('' when none)."""
    loc = as_dict(as_list(result.get("locations"))[0]) if as_list(result.get("locations")) else {}
    phys = as_dict(loc.get("physicalLocation"))
    region = as_dict(phys.get("region"))
    extra = as_dict(loc.get("properties"))
    path = paths.path(as_dict(phys.get("artifactLocation")))
    member: str | None = clean(extra.get("member"), 1000) or None
    for logical in as_list(loc.get("logicalLocations")):
        logical = as_dict(logical)
        if path is None:
            path = clean(logical.get("fullyQualifiedName") or logical.get("name"), 1000) or None
        elif member is None and logical.get("kind") == "member":
            member = clean(logical.get("name"), 1000) or None
    if path is None:
        path = paths.path(as_dict(result.get("analysisTarget"))) or "(no location)"
    line = as_int(extra.get("line")) or as_int(region.get("startLine"))
    location = Location(
        path=path,
        line=line,
        column=as_int(extra.get("column")) or as_int(region.get("startColumn")),
        end_line=as_int(region.get("endLine")) if member is None else None,
        member=member,
        offset=as_int(extra.get("offset")) if extra.get("offset") is not None
        else as_int(region.get("byteOffset")),
        commit=clean(extra.get("commit"), 64) or None,
    )
    snippet = as_dict(region.get("snippet")).get("text")
    return location, snippet if isinstance(snippet, str) else ""


def key_of(result: dict[str, Any], snippet: str) -> str | None:
    """The tool's identity of the result (fingerprints, else a hash of the snippet)."""
    for name in ("fingerprints", "partialFingerprints"):
        pairs = sorted((clean(k, 100), clean(v, 500)) for k, v in as_dict(result.get(name)).items()
                       if isinstance(v, str) and v.strip())
        if pairs:
            return "|".join(f"{k}={v}" for k, v in pairs)
    if snippet.strip():
        return "snippet:" + hashlib.sha256(snippet.strip().encode("utf-8", "replace")).hexdigest()
    return None


def message_of(result: dict[str, Any], rule: dict[str, Any]) -> str:
    """The result's message on one line, arguments filled in, long tokens masked."""
    msg = as_dict(result.get("message"))
    text = msg.get("text")
    if not isinstance(text, str) and isinstance(msg.get("id"), str):
        text = as_dict(as_dict(rule.get("messageStrings")).get(msg["id"])).get("text")
    if not isinstance(text, str):
        return ""
    for i, arg in enumerate(as_list(msg.get("arguments"))[:20]):
        text = text.replace("{" + str(i) + "}", clean(arg, 200))
    lines = (line.strip() for line in clean(text).splitlines())
    return redact_tokens("; ".join(line for line in lines if line))  # one line, as ours are


def rule_id_of(result: dict[str, Any], rules: list[dict[str, Any]]) -> str:
    """``ruleId``, ``rule.id`` or the rule at ``ruleIndex``; whitespace made ``-``."""
    rule_id = result.get("ruleId") or as_dict(result.get("rule")).get("id")
    if not isinstance(rule_id, str):
        index = as_int(result.get("ruleIndex"))
        if index is not None and index < len(rules):
            rule_id = rules[index].get("id")
    text = clean(rule_id, _ID_MAX)
    return re.sub(r"\s+", "-", text) or "sarif.unknown-rule"


def tags_of(*bags: dict[str, Any]) -> list[str]:
    """The first 50 distinct tags of the property bags (never secpipe's own marker)."""
    tags: list[str] = []
    for bag in bags:
        for tag in as_list(bag.get("tags")):
            text = clean(tag, 100)
            if text and text not in tags and len(tags) < 50:
                tags.append(text)
    return unmarked_tags(tags)


def suppression_of(result: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, justification) of the first suppression the tool accepted for this result (status
    ``accepted``, SARIF's default), else None (``underReview``/``rejected`` do not suppress)."""
    for item in as_list(result.get("suppressions")):
        item = as_dict(item)
        if item.get("status", "accepted") == "accepted":
            kind = clean(item.get("kind"), 40) or "unspecified"
            return kind, redact_tokens(clean(item.get("justification"), 300))
    return None


