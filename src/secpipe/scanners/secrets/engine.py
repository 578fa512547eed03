"""Scan one file's bytes: the unit of work sent to worker processes and of caching.

A :class:`FileScan` holds only redacted evidence and the SHA-256 of each secret, so it may be
cached on disk and sent between processes without ever carrying a secret in clear.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from secpipe.scanners.secrets import archives, checks, credfiles, encoded, sources
from secpipe.scanners.secrets.archives import Budget, Limits
from secpipe.scanners.secrets.detect import Candidate, Detector

_DETECTOR: Detector | None = None


def detector() -> Detector:
    """The process-wide detector (built on first use, in each worker)."""
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = Detector()
    return _DETECTOR


@dataclass(frozen=True)
class Hit:
    """One secret found, without the secret."""

    rule_id: str
    line: int
    column: int
    end_line: int
    member: str | None
    evidence: str
    """Redacted form, e.g. ``ghp_****Xy``."""
    key: str
    """SHA-256 of the secret (the identity used by fingerprints)."""


@dataclass
class FileScan:
    """What one file held."""

    hits: list[Hit] = field(default_factory=list)
    problems: list[tuple[str | None, str]] = field(default_factory=list)
    """(member, reason) of every bound hit: each becomes a ``secrets.scan-incomplete`` finding."""
    skipped: str | None = None
    """Why nothing was scanned (``binary``), else None."""
    digest: str = ""
    """SHA-256 of the file's bytes."""
    text_bytes: int = 0
    """Bytes of text scanned (members and decompressed layers included)."""
    truncated_size: int = 0
    """Size of a file too large to read whole (only its head was scanned), else 0."""

    def to_json(self) -> dict[str, Any]:
        return {"hits": [list(h.__dict__.values()) for h in self.hits],
                "problems": [list(p) for p in self.problems], "skipped": self.skipped,
                "text_bytes": self.text_bytes}

    @classmethod
    def from_json(cls, data: dict[str, Any], digest: str) -> FileScan:
        return cls(hits=[Hit(*h) for h in data["hits"]],
                   problems=[(p[0], p[1]) for p in data["problems"]],
                   skipped=data["skipped"], digest=digest, text_bytes=data["text_bytes"])


REMOVED = "removed during the scan"
""":attr:`FileScan.skipped` of a file that no longer existed when it was to be read."""

#: Most secrets reported from one text unit (a generated file of tokens is one problem).
MAX_HITS_PER_UNIT = 2000


def scan_text(text: str, member: str | None, out: FileScan, line_offset: int = 0) -> None:
    """Add the secrets of one text unit to ``out``, those inside base64/hex blobs included."""
    out.text_bytes += len(text)
    candidates = detector().find(text)
    found = [(c.start, c.end, c, "") for c in candidates]
    found.extend(_hidden(text, [(c.start, c.end) for c in candidates], 1))
    if len(found) > MAX_HITS_PER_UNIT:
        out.problems.append((member, f"more than {MAX_HITS_PER_UNIT} secrets: only the first "
                                     f"{MAX_HITS_PER_UNIT} are reported"))
        del found[MAX_HITS_PER_UNIT:]
    for start, end, cand, how in found:
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1) + 1
        end_line = line + text.count("\n", start, end)
        evidence = checks.redact(cand.secret) + (f", {how}-encoded" if how else "")
        out.hits.append(Hit(cand.rule.rule_id, line + line_offset, column, end_line + line_offset,
                            member, evidence, checks.sha256_hex(cand.secret)))


def _hidden(text: str, claimed: list[tuple[int, int]],
            depth: int) -> Iterator[tuple[int, int, Candidate, str]]:
    """(start, end, secret, encoding) of secrets inside the base64/hex blobs of ``text``, at the
    blob's span; blobs that overlap a secret already found (``claimed``) are not decoded."""
    starts = sorted(claimed)

    def taken(start: int, end: int) -> bool:
        at = bisect.bisect_left(starts, (end, -1))
        return at > 0 and starts[at - 1][1] > start

    for blob in encoded.blobs(text, taken):
        inner = detector().find(blob.text)
        for cand in inner:
            yield blob.start, blob.end, cand, blob.encoding
        if depth < encoded.MAX_DEPTH:
            for _s, _e, cand, how in _hidden(blob.text, [(c.start, c.end) for c in inner],
                                             depth + 1):
                yield blob.start, blob.end, cand, f"{blob.encoding}/{how}"


#: Rules a credential file's parser supersedes on the same line and secret (it knows the format).
_SUPERSEDED = frozenset({"secrets.generic-password", "secrets.generic-secret",
                         "secrets.url-password"})


def scan_credential_file(fmt: credfiles.CredFile, text: str, member: str | None,
                         out: FileScan, line_offset: int = 0,
                         found_in: Iterator[credfiles.Found] | None = None) -> None:
    """Add what the parser of a credential file's format finds (or ``found_in``). A secret a
    rule already reported on the same line is reported once: under the parser's rule when the
    other was a generic one (which may have read the value another way), else under the
    other's."""
    mine = {(h.line, h.key): i for i, h in enumerate(out.hits) if h.member == member}
    generic = {h.line: i for i, h in enumerate(out.hits)
               if h.member == member and h.rule_id in _SUPERSEDED}
    for found in found_in if found_in is not None else fmt.parse(text):
        key = checks.sha256_hex(found.secret)
        line = found.line + line_offset
        hit = Hit(found.rule_id, line, found.column, (found.end_line or found.line) + line_offset,
                  member, checks.redact(found.secret), key)
        at = mine.get((line, key))
        if at is None and line in generic:  # a generic rule read the same line another way
            at = generic.pop(line)
            mine[(line, key)] = at
        if at is None:
            mine[(line, key)] = len(out.hits)
            out.hits.append(hit)
        elif out.hits[at].rule_id in _SUPERSEDED:
            out.hits[at] = hit


def _scan_blob(data: bytes, member: str | None, depth: int, budget: Budget, out: FileScan,
               fmt: credfiles.CredFile | None = None) -> None:
    kind = archives.sniff(data)
    if kind is not None:
        if depth >= budget.limits.max_depth:
            budget.problems.append(
                (member, f"archive nested deeper than {budget.limits.max_depth} levels"))
            return
        if kind == "zip":
            for mname, payload in archives.zip_members(data, budget, member):
                _scan_blob(payload, _join(member, mname), depth + 1, budget, out)
        elif kind == "tar":
            for mname, payload in archives.tar_members(data, budget, member):
                _scan_blob(payload, _join(member, mname), depth + 1, budget, out)
        else:
            inner = archives.decompress(kind, data, budget, member)
            if inner is not None:
                _scan_blob(inner, member, depth + 1, budget, out)
        return
    if member is not None:
        fmt = credfiles.credential_file(member)
    text = sources.decode_wide(data) if sources.maybe_wide(data) else None
    if text is None and sources.is_binary(data):
        if fmt is not None and fmt.raw is not None:  # an encrypted store: the file is the leak
            scan_credential_file(fmt, "", member, out, found_in=fmt.raw(data))
        elif member is None:
            out.skipped = "binary"
        return
    if text is None:
        text = sources.decode(data)
    if text is None:
        if member is None:
            out.skipped = "binary (not UTF-8 text)"
        return
    for unit, unit_text in sources.text_units(text):
        scan_text(unit_text, _join(member, unit) if unit else member, out)
    if fmt is not None:
        scan_credential_file(fmt, text, member, out)


def _join(parent: str | None, name: str) -> str:
    return f"{parent}!{name}" if parent else name


def scan_bytes(data: bytes, limits: Limits, digest: str | None = None,
               name: str | None = None) -> FileScan:
    """Scan one file's content (archives, notebooks and text alike). ``name`` (the file's path)
    selects the parser of a credential file known by name (:mod:`.credfiles`); ``digest`` is
    then already salted with its format."""
    fmt = credfiles.credential_file(name)
    out = FileScan(digest=digest or credfiles.salted_digest(hashlib.sha256(data).hexdigest(), fmt))
    budget = Budget(limits)
    try:
        _scan_blob(data, None, 0, budget, out, fmt)
    except RecursionError:
        budget.problems.append((None, "structure nested too deeply"))
    out.problems.extend(budget.problems)
    return out


def scan_file(path: str, limits: Limits, cache_db: str | None = None) -> tuple[FileScan, bool, str]:
    """Read and scan one file. Returns (scan, from_cache, read_error).

    A file larger than ``max_file_bytes`` is scanned in its first ``max_file_bytes`` and reported
    as incomplete. ``read_error`` is non-empty when the file could not be read. A file removed
    since it was listed (a temporary file of another step, a database journal) holds nothing to
    leak any more: it is skipped (``skipped`` says so, ``digest`` is empty), not unreadable.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_file_bytes + 1)
    except FileNotFoundError:
        return FileScan(skipped=REMOVED), False, ""
    except OSError as exc:
        return FileScan(), False, exc.strerror or type(exc).__name__
    truncated = len(data) > limits.max_file_bytes
    if truncated:
        data = data[: limits.max_file_bytes]
        size = os.path.getsize(path)
        scan = scan_bytes(data, limits, name=path)
        if scan.skipped is not None:  # binary by content: reading the rest would not matter
            return scan, False, ""
        scan.truncated_size = size
        scan.problems.append((None, f"file of {size} bytes: only the first "
                                    f"{limits.max_file_bytes} bytes were scanned"))
        return scan, False, ""
    digest = credfiles.salted_digest(hashlib.sha256(data).hexdigest(),
                                     credfiles.credential_file(path))
    if cache_db is not None:
        from secpipe.scanners.secrets.cache import lookup

        cached = lookup(cache_db, digest)
        if cached is not None:
            return cached, True, ""
    return scan_bytes(data, limits, digest, path), False, ""


def scan_batch(paths: list[str], limits: Limits,
               cache_db: str | None) -> list[tuple[FileScan, bool, str]]:
    """Scan several files (one task of a worker process)."""
    return [scan_file(p, limits, cache_db) for p in paths]
