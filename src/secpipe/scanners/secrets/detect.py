"""Find secrets in one text: keyword prefilter, windowed rule expressions, overlap resolution.

The text is lower-cased once and every rule keyword is found in a single pass of one RE2
alternation (a DFA, run over the bytes of ASCII text; ``google-re2``), or, when RE2 is not
installed, one ``str.find`` loop per keyword (same results, slower).
A rule's expression then runs only inside windows around its keywords (clipped to the keyword's
line unless the rule is multi-line), so the cost of the expensive part grows with the number of
keyword hits, not with the size of the file, and a giant line costs no more than a short one.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from secpipe.scanners.secrets.rules import Rule, all_rules

try:  # accelerator: the pure-Python fallback gives the same results, slower
    import re2 as _re2  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - exercised only without google-re2
    _re2 = None

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


@dataclass(frozen=True)
class Candidate:
    """A secret one rule found and validated."""

    rule: Rule
    """The rule."""
    start: int
    """Offset of the secret's first character in the text."""
    end: int
    """Offset just past its last character."""
    secret: str
    """The secret's identity (normalised). Hashed and redacted by callers, never shown."""


class Detector:
    """Runs a rule set over texts. Build once per process; ``find`` is re-entrant."""

    def __init__(self, rules: tuple[Rule, ...] | None = None) -> None:
        self.rules = rules if rules is not None else all_rules()
        by_kw: dict[str, list[int]] = defaultdict(list)
        for idx, rule in enumerate(self.rules):
            for kw in rule.keywords:
                by_kw[kw].append(idx)
        self._by_kw = {kw: tuple(ids) for kw, ids in by_kw.items()}
        # a matched keyword also stands for every keyword inside it (matches do not overlap)
        self._implied = {
            kw: tuple(sorted({i for other, ids in self._by_kw.items() if other in kw for i in ids}))
            for kw in self._by_kw
        }
        # triggers first: at one position the first alternative that matches wins
        self._trig_each = [(i, re.compile(str(r.trigger))) for i, r in enumerate(self.rules)
                           if r.trigger]
        alternatives = [f"(?:{r.trigger})" for r in self.rules if r.trigger]
        alternatives += [re.escape(k) for k in sorted(self._by_kw, key=len, reverse=True)]
        combined = "|".join(alternatives)  # no groups, so RE2 runs its DFA
        self._memo: dict[str, tuple[int, ...]] = {}
        self._prefilter: Any
        self._prefilter_b: Any = None
        if _re2 is not None:
            options = _re2.Options()
            options.max_mem = 64 << 20
            self._prefilter = _re2.compile(combined, options)
            self._prefilter_b = _re2.compile(combined.encode(), options)
        else:  # pragma: no cover - exercised only without google-re2
            self._prefilter = re.compile(combined)

    def _rules_for(self, word: str) -> tuple[int, ...]:
        """Rules a prefilter match starts: its keyword's, those of keywords inside it, and
        those whose trigger matches it."""
        ids = self._implied.get(word)
        if ids is not None:
            return ids
        ids = self._memo.get(word)
        if ids is None:
            found = {i for kw, kw_ids in self._by_kw.items() if kw in word for i in kw_ids}
            found.update(i for i, trig in self._trig_each if trig.match(word))
            ids = tuple(sorted(found))
            if len(self._memo) > 50_000:
                self._memo.clear()
            self._memo[word] = ids
        return ids

    def _hits(self, text: str) -> dict[int, list[tuple[int, int]]]:
        """Rule index -> [(keyword start, keyword length)]."""
        hits: dict[int, list[tuple[int, int]]] = defaultdict(list)
        if self._prefilter_b is not None and text.isascii():
            for m in self._prefilter_b.finditer(text.encode("ascii").lower()):
                start, end = m.span()
                for idx in self._rules_for(m.group().decode("ascii")):
                    hits[idx].append((start, end - start))
            return hits
        low = text.lower()
        if len(low) != len(text):  # a few Unicode characters change length when lower-cased
            low = text.translate(_ASCII_LOWER)
        for m in self._prefilter.finditer(low):
            start, end = m.span()
            for idx in self._rules_for(m.group()):
                hits[idx].append((start, end - start))
        return hits

    def _windows(self, text: str, rule: Rule, hits: list[tuple[int, int]]) -> list[list[int]]:
        windows: list[list[int]] = []
        n = len(text)
        for pos, kw_len in sorted(hits):
            start, end = max(0, pos - rule.before), min(n, pos + kw_len + rule.after)
            if not rule.multiline:
                nl = text.rfind("\n", start, pos)
                if nl >= 0:
                    start = nl + 1
                nl = text.find("\n", pos, end)
                if nl >= 0:
                    end = nl
            if windows and start <= windows[-1][1]:
                windows[-1][1] = max(windows[-1][1], end)
            else:
                windows.append([start, end])
        return windows

    def find(self, text: str) -> list[Candidate]:
        """Every validated secret in ``text``, without overlaps, in text order."""
        raw: list[tuple[int, int, int, int, str, bool]] = []
        for idx, rule_hits in self._hits(text).items():
            rule = self.rules[idx]
            seen: set[int] = set()
            for start, end in self._windows(text, rule, rule_hits):
                for m in rule.pattern.finditer(text, start, end):
                    group = "s" if "s" in rule.pattern.groupindex else 0
                    s_start, s_end = m.span(group)
                    if s_start in seen:
                        continue
                    seen.add(s_start)
                    secret = m.group(group)
                    ok = rule.validate is None or rule.validate(secret, m)
                    if ok and rule.normalize is not None:
                        secret = rule.normalize(secret)
                    raw.append((rule.priority, s_start, s_end, idx, secret, ok))
        return self._resolve(raw)

    def _resolve(self, raw: list[tuple[int, int, int, int, str, bool]]) -> list[Candidate]:
        starts: list[int] = []  # claimed spans never overlap: kept sorted by start
        ends: list[int] = []
        out: list[Candidate] = []
        # format rules claim their span even when their check failed (a decoy stays a decoy)
        ordered = sorted(raw, key=lambda r: (r[0], not r[5], r[1]))
        for priority, start, end, idx, secret, ok in ordered:
            at = bisect.bisect_left(starts, start)
            if (at > 0 and ends[at - 1] > start) or (at < len(starts) and starts[at] < end):
                continue
            if ok or priority == 0:
                starts.insert(at, start)
                ends.insert(at, end)
            if ok:
                out.append(Candidate(self.rules[idx], start, end, secret))
        out.sort(key=lambda c: c.start)
        return out
