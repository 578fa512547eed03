"""Scoring for the DAST benchmark: tool findings -> (route, kind) hits -> per-part and per-kind
true-positive rate on vulnerable routes, false alarms on twins and hard negatives, Youden J.

Matching rule: a hit counts for a labelled route when its kind equals the label's kind and its
route (the path, no query; percent-decoded; a trailing ``/`` ignored) equals the label's path,
or matches the label's Flask template (``<x>`` and ``<path:x>`` match any non-empty text, so
an injected path segment still matches), or equals one of the label's ``alt`` paths (the page
that shows a stored-XSS payload). Method and parameter are not compared: page-level kinds have
no parameter and a tool may report stored XSS on the page that shows it. A hit that matches
no label is counted as "unlabelled" (reported, not scored: the app's baseline is safe, so most
are false, but a scanner may see real side effects a label does not name).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels.json"
PARTS = ("main", "heldout")

KINDS = ("xss-reflected", "xss-stored", "sqli", "cmdi", "path-traversal", "open-redirect",
         "ssrf", "ssti", "ml-crash", "ml-echo", "ml-internals", "rate-limit", "missing-header",
         "csp", "cookie-flags", "stack-trace", "version-banner", "private-ip", "debug-endpoint",
         "directory-listing", "cors", "cache-sensitive", "mixed-content")

# Wapiti 3.2 report categories -> our kinds (explicit; anything else stays unlabelled "other").
WAPITI_KINDS = {
    "Reflected Cross Site Scripting": "xss-reflected",
    "Cross Site Scripting": "xss-reflected",
    "Stored Cross Site Scripting": "xss-stored",
    "SQL Injection": "sqli",
    "Blind SQL Injection": "sqli",
    "Command execution": "cmdi",
    "Path Traversal": "path-traversal",
    "Open Redirect": "open-redirect",
    "Server Side Request Forgery": "ssrf",
    "Content Security Policy Configuration": "csp",
    "Clickjacking Protection": "missing-header",
    "MIME Type Confusion": "missing-header",
    "HTTP Strict Transport Security (HSTS)": "missing-header",
    "HttpOnly Flag cookie": "cookie-flags",
    "Secure Flag cookie": "cookie-flags",
    "Internal Server Error": "ml-crash",
    "Fingerprint web server": "version-banner",
    "Fingerprint web technology": "version-banner",
    "Potentially dangerous file": "debug-endpoint",
    "Review Webserver Metafiles for Information Leakage": "debug-endpoint",
    "Backup file": "debug-endpoint",
}


@dataclass(frozen=True)
class Hit:
    """One finding reduced to what the matching rule uses."""

    kind: str
    route: str
    method: str = ""
    param: str = ""


@dataclass
class KindScore:
    vulnerable: int = 0
    found: int = 0
    negatives: int = 0
    false_alarms: int = 0

    @property
    def tpr(self) -> float | None:
        return self.found / self.vulnerable if self.vulnerable else None

    @property
    def far(self) -> float | None:
        return self.false_alarms / self.negatives if self.negatives else None


@dataclass
class PartScore:
    part: str
    kinds: dict[str, KindScore] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    unlabelled: list[Hit] = field(default_factory=list)
    other: int = 0   # findings outside the kinds vocabulary (e.g. Wapiti's "HTTP Methods")

    def total(self) -> KindScore:
        t = KindScore()
        for k in self.kinds.values():
            t.vulnerable += k.vulnerable
            t.found += k.found
            t.negatives += k.negatives
            t.false_alarms += k.false_alarms
        return t

    def as_dict(self) -> dict[str, Any]:
        t = self.total()
        return {"part": self.part, "tpr": t.tpr, "far": t.far, "j": youden(t),
                "vulnerable": t.vulnerable, "found": t.found, "negatives": t.negatives,
                "false_alarm_count": t.false_alarms,
                "kinds": {k: {"vulnerable": s.vulnerable, "found": s.found,
                              "negatives": s.negatives, "false_alarms": s.false_alarms,
                              "tpr": s.tpr, "far": s.far} for k, s in self.kinds.items()},
                "missed": self.missed, "false_alarm_routes": self.false_alarms,
                "unlabelled": [h.__dict__ for h in self.unlabelled], "other": self.other}


def youden(s: KindScore) -> float | None:
    if s.tpr is None or s.far is None:
        return None
    return s.tpr - s.far


def load_labels(path: Path = LABELS) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def normalize(route: str) -> str:
    """A finding's route as a comparable path: no scheme/host, query or fragment; decoded."""
    if "://" in route:
        route = urllib.parse.urlsplit(route).path
    route = route.split("?", 1)[0].split("#", 1)[0]
    route = urllib.parse.unquote(urllib.parse.unquote(route))
    if not route.startswith("/"):
        route = "/" + route
    return route.rstrip("/") or "/"


def _template(path: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in re.finditer(r"<(?:[a-z]+:)?[A-Za-z_]+>", path):
        out.append(re.escape(path[pos:m.start()]))
        out.append(".+")
        pos = m.end()
    out.append(re.escape(path[pos:]))
    return re.compile("".join(out))


def route_matches(label: dict[str, Any], route: str) -> bool:
    r = normalize(route)
    for p in [label["path"], *label.get("alt", [])]:
        p_norm = p.rstrip("/") or "/"
        if "<" in p:
            if _template(p_norm).fullmatch(r):
                return True
        elif r == p_norm:
            return True
    return False


def score(labels: list[dict[str, Any]], hits: list[Hit], part: str,
          all_labels: list[dict[str, Any]] | None = None) -> PartScore:
    """Score ``hits`` (from a scan of the app serving ``part``) against that part's labels. A
    hit is unlabelled when it matches no label of any part (``all_labels``)."""
    mine = [lab for lab in labels if lab["part"] == part]
    ps = PartScore(part, {k: KindScore() for k in KINDS})
    for lab in mine:
        ks = ps.kinds.setdefault(lab["kind"], KindScore())
        hit = any(h.kind == lab["kind"] and route_matches(lab, h.route) for h in hits)
        name = f"{lab['kind']} {lab['method']} {lab['path']}"
        if lab["vulnerable"]:
            ks.vulnerable += 1
            ks.found += hit
            if not hit:
                ps.missed.append(name)
        else:
            ks.negatives += 1
            ks.false_alarms += hit
            if hit:
                ps.false_alarms.append(name)
    pool = all_labels if all_labels is not None else labels
    seen: set[Hit] = set()
    for h in hits:
        if h in seen:
            continue
        seen.add(h)
        if h.kind not in KINDS:
            ps.other += 1
        elif not any(h.kind == lab["kind"] and route_matches(lab, h.route) for lab in pool):
            ps.unlabelled.append(h)
    return ps


# --- reading each tool's report ----------------------------------------------------------------

def hits_from_sarif(doc: dict[str, Any]) -> list[Hit]:
    """secpipe's SARIF: rule id ``web.<kind>``, properties in ``result.properties.details``."""
    out = []
    for run in doc.get("runs", []) or []:
        for res in run.get("results", []) or []:
            props: dict[str, Any] = res.get("properties") or {}
            details = props.get("details")
            d: dict[str, Any] = details if isinstance(details, dict) else props
            kind = str(d.get("kind") or str(res.get("ruleId", "")).removeprefix("web."))
            route = str(d.get("route") or d.get("url") or "")
            if not route:
                for loc in res.get("locations", []) or []:
                    route = str(((loc.get("physicalLocation") or {}).get("artifactLocation")
                                 or {}).get("uri", ""))
                    if route:
                        break
            if kind == "scan-incomplete" or not route:
                if kind != "scan-incomplete":
                    out.append(Hit(kind, "?", str(d.get("method", "")), str(d.get("param", ""))))
                continue
            out.append(Hit(kind, route, str(d.get("method", "")), str(d.get("param", ""))))
    return out


def incomplete_from_sarif(doc: dict[str, Any]) -> int:
    return sum(1 for run in doc.get("runs", []) or [] for res in run.get("results", []) or []
               if str(res.get("ruleId", "")).endswith("scan-incomplete"))


def hits_from_wapiti(doc: dict[str, Any]) -> list[Hit]:
    out = []
    for section in ("vulnerabilities", "anomalies", "additionals"):
        for cat, items in (doc.get(section) or {}).items():
            kind = WAPITI_KINDS.get(cat, f"other:{cat}")
            for it in items or []:
                out.append(Hit(kind, str(it.get("path", "") or "/"), str(it.get("method", "")),
                               str(it.get("parameter", "") or "")))
    return out
