"""OpenSCAP: one ``oscap xccdf eval`` run, and its XCCDF results read into rule outcomes.

The run goes through :mod:`secpipe.tools` (argv only, time-bounded, output bounded). For a root
filesystem other than ``/`` it is evaluated offline the way upstream's ``oscap-chroot`` does it:
``OSCAP_PROBE_ROOT`` points every probe at that folder and ``OSCAP_EVALUATION_TARGET`` names it
in the results; nothing of the scanned tree is executed.

The results file (``--results``) holds the benchmark (each rule's title, severity and
``<reference>`` elements) and the ``TestResult`` (one ``rule-result`` per rule). It is read by
secpipe's XML parser (no document type or entities, depth, element count and size bounded);
an unreadable results file is an error, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.tools.parsers.xml import XmlElement, read_xml

XCCDF = "{http://checklists.nist.gov/xccdf/1.2}"
RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"
PROFILE_PREFIX = "xccdf_org.ssgproject.content_profile_"
MAX_RESULTS_BYTES = 128 << 20
DECIDED = ("pass", "fail", "notapplicable", "notselected", "notchecked", "informational",
           "fixed")
UNDECIDED = ("error", "unknown")
_PROBE_FAILED = re.compile(
    r"E: oscap:\s+(\w+?)(?:_probe)?_(?:init|get_by_name|main)\w*\s+(?:has\s+)?failed")


@dataclass(frozen=True)
class RuleInfo:
    """What the benchmark says of one rule."""

    rule_id: str
    title: str
    severity: str
    references: tuple[tuple[str, str], ...]
    """(href, text) of each ``<reference>``."""


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome."""

    rule_id: str
    result: str
    severity: str
    info: RuleInfo | None

    @property
    def short_id(self) -> str:
        """The rule id without the guide's prefix (``sshd_disable_root_login``)."""
        return short_rule_id(self.rule_id)


def short_rule_id(rule_id: str) -> str:
    """``sshd_disable_root_login`` for ``xccdf_org.ssgproject.content_rule_sshd_…``."""
    return rule_id[len(RULE_PREFIX):] if rule_id.startswith(RULE_PREFIX) else rule_id


def full_rule_id(rule: str) -> str:
    """The full XCCDF id of a rule named short or full."""
    return rule if rule.startswith("xccdf_") else RULE_PREFIX + rule


def full_profile_id(profile: str) -> str:
    """The full XCCDF id of a profile named short (``standard``) or full."""
    return profile if profile.startswith("xccdf_") else PROFILE_PREFIX + profile


def oscap_argv(program: str, datastream: Path, profile: str, results: Path,
               rules: list[str], errors: Path) -> tuple[str, ...]:
    """``oscap xccdf eval`` of ``profile`` (restricted to ``rules`` when given), its error
    messages (a probe that failed) written to ``errors``."""
    argv = [program, "xccdf", "eval", "--verbose", "ERROR", "--verbose-log-file", str(errors),
            "--profile", full_profile_id(profile), "--results", str(results)]
    for rule in rules:
        argv += ["--rule", full_rule_id(rule)]
    return (*argv, str(datastream))


def probe_failures(path: Path, max_bytes: int = 1 << 20) -> list[str]:
    """The probes oscap's error log says failed (``dpkginfo`` …), from its first ``max_bytes``.

    A failed probe collects nothing, and oscap then judges "does not exist" tests as true: with
    openscap 1.3's APT-based ``dpkginfo`` probe under ``OSCAP_PROBE_ROOT`` every package rule
    reads "pass". The caller turns the rules such a probe serves into undecided ones."""
    try:
        with path.open("rb") as fh:
            text = fh.read(max_bytes).decode("utf-8", "replace")
    except OSError:
        return []
    found = {m.group(1) for m in _PROBE_FAILED.finditer(text)}
    return sorted(found)


def _children(element: XmlElement, local: str) -> Iterator[XmlElement]:
    return (c for c in element.children if c.tag in (XCCDF + local, local))


def _rules(element: XmlElement, found: dict[str, RuleInfo], depth: int = 0) -> None:
    for child in element.children:
        local = child.tag.rpartition("}")[2]
        if local == "Rule":
            title = next((t.text for t in _children(child, "title")), "")
            refs = tuple((r.get("href"), r.text[:100]) for r in _children(child, "reference"))
            found[child.get("id")] = RuleInfo(child.get("id"), title[:300],
                                              child.get("severity", "unknown"), refs)
        elif local == "Group" and depth < 32:
            _rules(child, found, depth + 1)


def read_results(path: Path, max_bytes: int = MAX_RESULTS_BYTES) -> list[RuleResult]:
    """The selected rules' outcomes in an XCCDF results file; :class:`InputError` when the
    file is missing, too large, hostile or holds no test result."""
    root = read_xml(path, max_bytes, what="OpenSCAP results", max_depth=64,
                    max_elements=2_000_000)
    if root.tag.rpartition("}")[2] != "Benchmark":
        raise InputError(f"OpenSCAP results {path} are not an XCCDF benchmark")
    infos: dict[str, RuleInfo] = {}
    _rules(root, infos)
    tests = list(_children(root, "TestResult"))
    if not tests:
        raise InputError(f"OpenSCAP results {path} hold no TestResult")
    out: list[RuleResult] = []
    for item in _children(tests[-1], "rule-result"):
        result = next((r.text for r in _children(item, "result")), "").strip().lower()
        if result == "notselected":
            continue
        rule_id = item.get("idref")
        out.append(RuleResult(rule_id, result or "unknown",
                              item.get("severity", "unknown"), infos.get(rule_id)))
    return out
