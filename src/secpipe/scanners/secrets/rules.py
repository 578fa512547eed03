"""The rule model and the full rule table.

A :class:`Rule` names one kind of credential. It runs only where one of its ``keywords`` occurs
(lower-case literals found in one pass over the lower-cased text), inside a window around that
keyword, so a rule's regular expression never scans a whole file. Three families:

* **format** rules (priority 0, :mod:`.rules_tokens`, :mod:`.rules_structured`): the issuer's
  prefix, charset and length, and a checksum or structure check where the format has one;
* **context** rules (priority 1, :mod:`.rules_context`): values without a prefix (a W&B key is
  40 hex digits) reported only when the issuer's name stands before them on the same line;
* **generic** rules (priority 2): ``password = …``-style assignments whose value has entropy and
  is not a placeholder, reference, hash or identifier.

When several rules match the same characters, the lowest priority number wins; a format rule whose
expression matched but whose check failed still *claims* the span, so a decoy with a broken
checksum is not reported again by a generic rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from secpipe.core.findings import Confidence, Severity

#: Bump when rules change: cached scan results of older rule sets are then ignored.
RULES_VERSION = "2026.12.04-2"

Validator = Callable[[str, "re.Match[str]"], bool]

#: Left/right boundaries for token-shaped values.
L = r"(?<![A-Za-z0-9_])"
R = r"(?![A-Za-z0-9_])"
R_URLSAFE = r"(?![A-Za-z0-9_-])"

TAGS = ("CWE-798",)
REMEDIATION = (
    "Revoke or rotate this credential at its issuer now, then remove it from the file and from git "
    "history (git filter-repo or BFG); load it at run time from the environment or a secret "
    "manager."
)


@dataclass(frozen=True)
class Rule:
    """One kind of credential."""

    id: str
    """Short id; the finding's rule id is ``secrets.<id>``."""
    title: str
    """Human title."""
    severity: Severity
    """Severity of a finding."""
    keywords: tuple[str, ...]
    """Lower-case literals; the rule runs only in windows around them."""
    pattern: re.Pattern[str]
    """Expression run on the original text; group ``s`` (or the whole match) is the secret."""
    validate: Validator | None = None
    """Extra check on (secret, match); False drops the candidate."""
    before: int = 0
    """Characters before a keyword where the match may start."""
    after: int = 256
    """Characters after a keyword where the match may end."""
    priority: int = 0
    """0 format, 1 context, 2 generic (lower wins overlaps)."""
    confidence: Confidence = Confidence.HIGH
    """How sure a match is."""
    category: str = "token"
    """Grouping for the docs: cloud, vcs, registry, chat, payment, ai, saas, structured, generic."""
    multiline: bool = False
    """The match may span lines (private keys)."""
    trigger: str | None = None
    """Instead of keywords: an expression (RE2 and ``re`` syntax, over lower-cased text, no
    groups) whose matches start the rule's windows, for rules whose keywords are common words."""
    normalize: Callable[[str], str] | None = None
    """Maps the matched text to the secret's identity (e.g. key material without line breaks)."""

    @property
    def rule_id(self) -> str:
        return f"secrets.{self.id}"


def rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile an expression (ASCII classes: secrets are ASCII)."""
    return re.compile(pattern, flags | re.ASCII)


def spellings(*words: str) -> tuple[str, ...]:
    """Lower-case spellings of multi-word names: ``dd api`` -> dd_api, dd.api, dd-api, ddapi."""
    out: list[str] = []
    for word in words:
        parts = word.split()
        for sep in ("_", ".", "-", ""):
            out.append(sep.join(parts))
    return tuple(dict.fromkeys(out))


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, format rules first."""
    from secpipe.scanners.secrets import (
        rules_cmdline,
        rules_context,
        rules_hashes,
        rules_structured,
        rules_tokens,
    )

    rules = (rules_tokens.RULES + rules_structured.RULES + rules_hashes.RULES
             + rules_cmdline.RULES + rules_context.RULES)
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):  # pragma: no cover - guarded by a test
        raise RuntimeError("duplicate secret rule id")
    return rules


@cache
def reported_rules() -> tuple[Rule, ...]:
    """Every rule a finding may carry: :func:`all_rules` (run on every text) and the rules of
    credential files known by name (reported by their parsers, :mod:`.credfiles`)."""
    from secpipe.scanners.secrets import credfiles

    return all_rules() + credfiles.RULES


#: Rule id of the finding reported when a bound stopped the scan of an input.
INCOMPLETE_RULE = "secrets.scan-incomplete"
#: Rule id of the finding reported when an input could not be read.
UNREADABLE_RULE = "secrets.unreadable"
