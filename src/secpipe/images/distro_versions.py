"""Version orderings of Linux distribution packages: dpkg (Debian, Ubuntu), apk (Alpine), rpm.

Each comparator takes two version strings and returns a negative number, zero or a positive
number, as ``strcmp`` does. A string that is not a version of the scheme raises
:class:`InvalidDistroVersion` (an :class:`~secpipe.core.errors.InputError`: versions come from
an image's package database or from vulnerability data, both outside secpipe's control); no
comparator guesses.

* **dpkg** — Debian Policy 5.6.12: ``[epoch:]upstream[-revision]``. The epoch is compared as a
  number; upstream and revision by the same string algorithm: alternately a run of non-digits,
  compared character by character where ``~`` sorts before everything (even the end of the
  string), then letters, then every other character; then a run of digits compared as a number
  (an absent number is 0). A missing revision equals ``0``.
* **apk** — apk-tools 2.14's ``version.c`` (what Alpine 3.14 to 3.22 ship; Gentoo-style):
  ``digits{.digits}[letter]{_suffix[digits]}[-rN]``; the suffixes ``_alpha _beta _pre _rc``
  sort below the bare version, ``_cvs _svn _git _hg _p`` above it; a component written with
  leading zeros (``.005``) is compared the way apk-tools 2.14 does (each zero but the last
  counts -1, then the rest as a new number); numbers of 18 digits or more are invalid.
  (apk-tools 3 rewrote the tokenizer: commit-hash ``~`` components, and leading zeros compared
  as strings. Not implemented: no Alpine release secpipe matches ships it yet.)
* **rpm** — ``rpmvercmp``: segments of digits or of ASCII letters, separators ignored; a numeric
  segment beats an alphabetic one; leading zeros ignored; ``~`` sorts before anything (even the
  end), ``^`` after the end but before any other segment. :func:`rpm_compare` compares full
  ``[epoch:]version[-release]`` strings (epoch as a number, then version, then release).

Checked against the references: dpkg agrees with ``dpkg --compare-versions`` (a test drives it
where dpkg is installed), apk with every valid pair of apk-tools 2.14's ``test/version.data``,
rpm with rpm's ``tests/rpmvercmp.at`` table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from enum import Enum
from typing import Any

from secpipe.core.errors import InputError

MAX_VERSION_LENGTH = 256
"""Longest version string any comparator accepts (real ones are far shorter)."""

Comparator = Callable[[str, str], int]


class InvalidDistroVersion(InputError):
    """A string that is not a version of the scheme it is compared in."""

    def __init__(self, text: str, scheme: str, why: str) -> None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        super().__init__(f"{shown!r} is not a valid {scheme} version: {why}")
        self.text = text
        self.scheme = scheme


class Scheme(Enum):
    """A distribution version scheme."""

    DPKG = "dpkg"
    APK = "apk"
    RPM = "rpm"


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _check_length(text: str, scheme: str) -> None:
    if not isinstance(text, str):
        raise InvalidDistroVersion(repr(text), scheme, "not a string")
    if not text:
        raise InvalidDistroVersion(text, scheme, "empty")
    if len(text) > MAX_VERSION_LENGTH:
        raise InvalidDistroVersion(text, scheme, f"longer than {MAX_VERSION_LENGTH} characters")


# ---------------------------------------------------------------- dpkg

_DPKG_UPSTREAM = re.compile(r"[A-Za-z0-9.+~:-]+")
_DPKG_REVISION = re.compile(r"[A-Za-z0-9.+~]+")


@functools.lru_cache(maxsize=65536)
def parse_dpkg(text: str) -> tuple[int, str, str]:
    """``(epoch, upstream, revision)`` of a Debian version (revision ``""`` when absent)."""
    _check_length(text, "dpkg")
    if text != text.strip():
        raise InvalidDistroVersion(text, "dpkg", "surrounding white space")
    epoch = 0
    rest = text
    if ":" in text:
        head, rest = text.split(":", 1)
        if not head.isascii() or not head.isdigit():
            raise InvalidDistroVersion(text, "dpkg", "the epoch is not a number")
        epoch = int(head)
    upstream, revision = rest, ""
    if "-" in rest:
        upstream, revision = rest.rsplit("-", 1)
        if not revision or not _DPKG_REVISION.fullmatch(revision):
            raise InvalidDistroVersion(text, "dpkg", "bad characters in the revision")
    if not upstream:
        raise InvalidDistroVersion(text, "dpkg", "no upstream version")
    if not upstream[0].isascii() or not upstream[0].isdigit():
        raise InvalidDistroVersion(text, "dpkg", "the upstream version does not start with a "
                                   "digit")
    if not _DPKG_UPSTREAM.fullmatch(upstream):
        raise InvalidDistroVersion(text, "dpkg", "bad characters in the upstream version")
    return epoch, upstream, revision


def _dpkg_order(ch: str) -> int:
    """Weight of one character of a non-digit run (``""`` is the end of the string)."""
    if ch == "~":
        return -1
    if ch == "":
        return 0
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _dpkg_part(a: str, b: str) -> int:
    """Policy's comparison of two upstream (or two revision) strings."""
    i = j = 0
    while i < len(a) or j < len(b):
        # the non-digit prefixes, character by character
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = a[i] if i < len(a) and not a[i].isdigit() else ""
            cb = b[j] if j < len(b) and not b[j].isdigit() else ""
            diff = _dpkg_order(ca) - _dpkg_order(cb)
            if diff:
                return _sign(diff)
            i += 1 if ca else 0
            j += 1 if cb else 0
        # the digit runs, as numbers (an empty run is 0)
        si = i
        while i < len(a) and a[i].isdigit():
            i += 1
        sj = j
        while j < len(b) and b[j].isdigit():
            j += 1
        na = int(a[si:i]) if i > si else 0
        nb = int(b[sj:j]) if j > sj else 0
        if na != nb:
            return -1 if na < nb else 1
    return 0


def dpkg_compare(a: str, b: str) -> int:
    """Compare two Debian versions (Debian Policy 5.6.12)."""
    ea, ua, ra = parse_dpkg(a)
    eb, ub, rb = parse_dpkg(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


# ---------------------------------------------------------------- apk

# token kinds, in apk-tools' order (the order matters: see _apk_stream_compare)
_DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION_NO, _END = range(7)
_INVALID = -1
_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")
_APK_MAX_DIGITS = 18


def _apk_next_kind(kind: int, text: str, pos: int) -> tuple[int, int]:
    """The kind of the token that starts at ``pos`` after a token of ``kind``, and the position
    of its value (a separator consumed)."""
    if pos >= len(text):
        return _END, pos
    ch = text[pos]
    if kind in (_DIGIT, _DIGIT_OR_ZERO) and ch.isascii() and ch.islower():
        new = _LETTER
    elif kind == _LETTER and ch.isascii() and ch.isdigit():
        new = _DIGIT
    elif kind == _SUFFIX and ch.isascii() and ch.isdigit():
        new = _SUFFIX_NO
    else:
        new = _INVALID
        if ch == ".":
            new = _DIGIT_OR_ZERO
        elif ch == "_":
            new = _SUFFIX
        elif ch == "-" and text[pos + 1:pos + 2] == "r":
            new = _REVISION_NO
            pos += 1
        pos += 1
    if new < kind and not ((new == _DIGIT_OR_ZERO and kind == _DIGIT)
                           or (new == _SUFFIX and kind == _SUFFIX_NO)
                           or (new == _DIGIT and kind == _LETTER)):
        new = _INVALID
    return new, pos


@functools.lru_cache(maxsize=65536)
def apk_tokens(text: str) -> tuple[tuple[int, int], ...]:
    """The ``(kind, value)`` tokens of an apk version, ending with ``(END, 0)``."""
    _check_length(text, "apk")
    out: list[tuple[int, int]] = []
    kind, pos = _DIGIT, 0
    while True:
        if pos >= len(text):
            out.append((_END, 0))
            return tuple(out)
        value, start, forced = 0, pos, _INVALID
        if kind == _DIGIT_OR_ZERO and text[pos] == "0":
            # a component that starts with zeros: every zero but the last counts -1, then the
            # rest (the last zero included) is read as a new number
            while pos + 1 < len(text) and text[pos + 1] == "0":
                pos += 1
            value, forced = -(pos - start), _DIGIT
        elif kind in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION_NO):
            while pos < len(text) and text[pos].isascii() and text[pos].isdigit():
                pos += 1
            if pos - start >= _APK_MAX_DIGITS:
                raise InvalidDistroVersion(text, "apk", f"a number of {_APK_MAX_DIGITS} digits "
                                           "or more")
            value = int(text[start:pos]) if pos > start else 0
        elif kind == _LETTER:
            value, pos = ord(text[pos]), pos + 1
        elif kind == _SUFFIX:
            value, pos = _apk_suffix(text, pos)
        else:  # pragma: no cover - _END and _INVALID never reach here
            raise InvalidDistroVersion(text, "apk", "internal state")
        out.append((kind, value))
        if pos >= len(text):
            out.append((_END, 0))
            return tuple(out)
        if forced != _INVALID:
            kind = forced
            continue
        kind, pos = _apk_next_kind(kind, text, pos)
        if kind == _INVALID:
            raise InvalidDistroVersion(text, "apk", f"unexpected {text[pos - 1:pos]!r} at "
                                       f"position {pos}")
        if kind == _END:
            out.append((_END, 0))
            return tuple(out)


def _apk_suffix(text: str, pos: int) -> tuple[int, int]:
    for index, name in enumerate(_PRE_SUFFIXES):
        if text.startswith(name, pos):
            return index - len(_PRE_SUFFIXES), pos + len(name)
    for index, name in enumerate(_POST_SUFFIXES):
        if text.startswith(name, pos):
            return index, pos + len(name)
    raise InvalidDistroVersion(text, "apk", f"unknown suffix at position {pos}")


def apk_compare(a: str, b: str) -> int:
    """Compare two Alpine package versions as apk-tools does."""
    ta, tb = apk_tokens(a), apk_tokens(b)
    i = 0
    while True:
        # the kinds of ta[i] and tb[i] agree: the streams walk in step while they do
        va, vb = ta[i][1], tb[i][1]
        if va != vb:
            return -1 if va < vb else 1
        na, nb = ta[i + 1][0] if i + 1 < len(ta) else _END, tb[i + 1][0] if i + 1 < len(tb) \
            else _END
        if na == nb:
            if na == _END:
                return 0
            i += 1
            continue
        # equal so far; the one that goes on is newer, unless what follows is a pre-release
        if na == _SUFFIX and ta[i + 1][1] < 0:
            return -1
        if nb == _SUFFIX and tb[i + 1][1] < 0:
            return 1
        return -1 if na > nb else 1


# ---------------------------------------------------------------- rpm


def rpmvercmp(a: str, b: str) -> int:
    """rpm's segment comparison of two version (or two release) strings."""
    _check_length(a, "rpm")
    _check_length(b, "rpm")
    if a == b:
        return 0
    i = j = 0

    def separator(text: str, k: int) -> bool:
        ch = text[k]
        return not (ch.isascii() and ch.isalnum()) and ch not in "~^"

    while i < len(a) or j < len(b):
        while i < len(a) and separator(a, i):
            i += 1
        while j < len(b) and separator(b, j):
            j += 1
        ca, cb = a[i:i + 1], b[j:j + 1]
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        numeric = ca.isdigit()
        si, sj = i, j
        if numeric:
            while i < len(a) and a[i].isascii() and a[i].isdigit():
                i += 1
            while j < len(b) and b[j].isascii() and b[j].isdigit():
                j += 1
        else:
            while i < len(a) and a[i].isascii() and a[i].isalpha():
                i += 1
            while j < len(b) and b[j].isascii() and b[j].isalpha():
                j += 1
        sa, sb = a[si:i], b[sj:j]
        if not sb:
            return 1 if numeric else -1
        if numeric:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
    if i >= len(a) and j >= len(b):
        return 0
    return 1 if i < len(a) else -1


def parse_evr(text: str) -> tuple[int, str, str]:
    """``(epoch, version, release)`` of an rpm ``[epoch:]version[-release]`` string."""
    _check_length(text, "rpm")
    epoch, rest = 0, text
    if ":" in text:
        head, rest = text.split(":", 1)
        if not head.isascii() or not head.isdigit():
            raise InvalidDistroVersion(text, "rpm", "the epoch is not a number")
        epoch = int(head)
    version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
    if not version:
        raise InvalidDistroVersion(text, "rpm", "no version")
    return epoch, version, release


def rpm_compare(a: str, b: str) -> int:
    """Compare two rpm ``[epoch:]version[-release]`` strings (a missing release is not
    compared, as rpm does when one side names none)."""
    ea, va, ra = parse_evr(a)
    eb, vb, rb = parse_evr(b)
    if ea != eb:
        return -1 if ea < eb else 1
    result = rpmvercmp(va, vb)
    if result or not ra or not rb:
        return result
    return rpmvercmp(ra, rb)


# ---------------------------------------------------------------- by scheme

COMPARATORS: dict[Scheme, Comparator] = {
    Scheme.DPKG: dpkg_compare,
    Scheme.APK: apk_compare,
    Scheme.RPM: rpm_compare,
}


def comparator(scheme: Scheme) -> Comparator:
    """The comparison function of ``scheme``."""
    return COMPARATORS[scheme]


def valid(scheme: Scheme, text: str) -> bool:
    """Whether ``text`` is a version of ``scheme``."""
    try:
        comparator(scheme)(text, text)
    except InvalidDistroVersion:
        return False
    return True


def sort_key(scheme: Scheme) -> Callable[[str], Any]:
    """A ``key=`` for :func:`sorted` that orders version strings by ``scheme``."""
    return functools.cmp_to_key(comparator(scheme))
