"""Debian changelogs: bounded inflation, entry parsing, backport evidence."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secpipe.core.errors import InputError
from secpipe.images import changelog
from secpipe.images.changelog import (
    ChangelogError,
    changelog_evidence,
    fixed_in_changelog,
    inflate,
    parse,
    read_changelog_file,
)
from secpipe.images.distro_versions import InvalidDistroVersion

TEXT = """openssl (3.0.15-1~deb12u1) bookworm-security; urgency=medium

  * New upstream version.
    - CVE-2024-5535 (SSL_select_next_proto buffer overread).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 02 Sep 2024 20:00:00 +0200

openssl (3.0.13-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.13
    - CVE-2023-5678 (Excessive time spent in DH check / generation with large Q).
    - CVE-2023-6129 (POLY1305 MAC on PowerPC corrupts vector registers).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sat, 03 Feb 2024 10:00:00 +0100

openssl (3.0.11-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2023-5363 (Incorrect cipher key and IV length processing).
  * Mention CVE-2023-49110 which is a different id.

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Wed, 25 Oct 2023 20:00:00 +0200
"""


def test_parse_entries_newest_first() -> None:
    entries = parse(TEXT)
    assert [e.version for e in entries] == ["3.0.15-1~deb12u1", "3.0.13-1~deb12u1",
                                            "3.0.11-1~deb12u2"]
    first = entries[0]
    assert first.package == "openssl"
    assert first.distributions == "bookworm-security"
    assert first.urgency == "medium"
    assert first.line == 1
    assert any("CVE-2024-5535" in line for line in first.body)


@pytest.mark.parametrize(("cve", "installed", "expected"), [
    ("CVE-2023-5678", "3.0.13-1~deb12u1", True),   # the entry of the installed version
    ("CVE-2023-5678", "3.0.15-1~deb12u1", True),   # an older entry
    ("CVE-2024-5535", "3.0.13-1~deb12u1", False),  # only in a newer entry
    ("CVE-2023-5363", "3.0.11-1~deb12u2", True),
    ("CVE-2023-4911", "3.0.15-1~deb12u1", False),  # never mentioned
    ("CVE-2023-4911", "1:0", False),
    ("cve-2023-5363", "3.0.15-1~deb12u1", True),   # ids are case-insensitive
    ("CVE-2023-4911", "3.0.11-1~deb12u2", False),
])
def test_fixed_in_changelog(cve: str, installed: str, expected: bool) -> None:
    assert fixed_in_changelog(TEXT, cve, installed) is expected


def test_ids_are_matched_whole() -> None:
    # CVE-2023-4911 is a prefix of CVE-2023-49110, which the oldest entry mentions
    assert not fixed_in_changelog(TEXT, "CVE-2023-4911", "3.0.15-1~deb12u1")
    assert fixed_in_changelog(TEXT, "CVE-2023-49110", "3.0.15-1~deb12u1")


def test_evidence_keeps_the_line() -> None:
    evidence = changelog_evidence(TEXT, "CVE-2023-5678", "3.0.13-1~deb12u1")
    assert evidence is not None
    assert evidence.version == "3.0.13-1~deb12u1"
    assert evidence.line == "- CVE-2023-5678 (Excessive time spent in DH check / generation " \
                            "with large Q)."
    assert TEXT.splitlines()[evidence.line_number - 1].strip() == evidence.line


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        fixed_in_changelog(TEXT, "GHSA-xxxx", "1.0")
    with pytest.raises(InvalidDistroVersion):
        fixed_in_changelog(TEXT, "CVE-2023-5678", "not a version")


def test_entries_with_bad_versions_are_never_evidence() -> None:
    text = "foo (garbage version) unstable; urgency=low\n\n  * CVE-2024-0001 fixed.\n"
    assert not fixed_in_changelog(text, "CVE-2024-0001", "99:99")
    text = "foo (1.0-1) unstable; urgency=low\n\n  * CVE-2024-0001 fixed.\n"
    assert fixed_in_changelog(text, "CVE-2024-0001", "1.0-1")


def test_lines_before_any_header_and_indented_lookalikes_are_ignored() -> None:
    text = ("  * CVE-2024-0001 outside an entry\n"
            "foo (2.0-1) unstable; urgency=low\n"
            "\n"
            "  foo (1.0-1) unstable; urgency=low  <- indented: body, not a header\n"
            "  * CVE-2024-0002\n")
    assert not fixed_in_changelog(text, "CVE-2024-0001", "9.0")
    entries = parse(text)
    assert [e.version for e in entries] == ["2.0-1"]
    assert fixed_in_changelog(text, "CVE-2024-0002", "2.0-1")


def test_inflate_round_trip_and_refusals() -> None:
    data = gzip.compress(TEXT.encode())
    result = inflate(data)
    assert result.text == TEXT and not result.truncated
    with pytest.raises(ChangelogError) as info:
        inflate(b"plain text, not gzip")
    assert isinstance(info.value, InputError)
    with pytest.raises(ChangelogError):
        inflate(data[: len(data) // 2])  # truncated stream
    with pytest.raises(ChangelogError):
        inflate(b"\x1f\x8b" + os.urandom(64))


def test_a_gzip_bomb_stops_at_the_bound() -> None:
    bomb = gzip.compress(b"A" * (64 << 20), compresslevel=9)  # 64 MiB of text, ~64 KiB of gzip
    started = time.monotonic()
    result = inflate(bomb)
    assert result.truncated
    assert len(result.text) == changelog.MAX_TEXT
    assert time.monotonic() - started < 2
    with pytest.raises(ChangelogError):
        inflate(b"\x1f\x8b" + b"\x00" * (changelog.MAX_COMPRESSED + 1))


def test_undecodable_bytes_are_replaced() -> None:
    text = "foo (1.0-1) unstable; urgency=low\n\n  * CVE-2024-0003 caf\xe9\n".encode("latin-1")
    assert fixed_in_changelog(inflate(gzip.compress(text)).text, "CVE-2024-0003", "1.0-1")


def test_read_changelog_file_refuses_links_and_specials(tmp_path: Path) -> None:
    real = tmp_path / "changelog.Debian.gz"
    real.write_bytes(gzip.compress(TEXT.encode()))
    assert read_changelog_file(real).text == TEXT
    link = tmp_path / "link.gz"
    link.symlink_to(real)
    with pytest.raises(ChangelogError):
        read_changelog_file(link)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ChangelogError):
        read_changelog_file(fifo)
    with pytest.raises(ChangelogError):
        read_changelog_file(tmp_path / "missing.gz")


def test_entry_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changelog, "MAX_ENTRIES", 3)
    text = "".join(f"foo (1.{i}-1) unstable; urgency=low\n\n  * x\n\n" for i in range(10))
    assert len(parse(text)) == 3


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_crashes(text: str) -> None:
    parse(text)
    fixed_in_changelog(text, "CVE-2024-0001", "1.0-1")


def test_a_revert_is_not_evidence() -> None:
    text = ("foo (1.1-1) unstable; urgency=low\n\n  * Revert the fix for CVE-2024-0004 "
            "(regression).\n\nfoo (1.0-1) unstable; urgency=low\n\n  * Fix CVE-2024-0005.\n")
    assert not fixed_in_changelog(text, "CVE-2024-0004", "1.1-1")
    assert fixed_in_changelog(text, "CVE-2024-0005", "1.1-1")


def test_a_later_revert_cancels_an_earlier_fix() -> None:
    text = ("foo (1.1-1) unstable; urgency=low\n\n  * Revert CVE-2024-0006 patch: it broke "
            "the build.\n\nfoo (1.0-1) unstable; urgency=low\n\n  * Fix CVE-2024-0006.\n")
    assert not fixed_in_changelog(text, "CVE-2024-0006", "1.1-1")
    assert fixed_in_changelog(text, "CVE-2024-0006", "1.0-1")
