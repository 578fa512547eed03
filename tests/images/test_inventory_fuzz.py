"""Hostile and random package databases never crash the inventory: problems, not exceptions."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_inventory import STATUS
from test_inventory_fs import DictFs, rpm_package, rpmdb_sqlite

from secpipe.images.inventory import inventory
from secpipe.images.pkg_rpm import RpmHeaderError, parse_header

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
TARGETS = ("/var/lib/dpkg/status", "/var/lib/dpkg/status.d/x", "/lib/apk/db/installed",
           "/etc/os-release", "/usr/lib/python3/dist-packages/a-1.dist-info/METADATA",
           "/app/node_modules/a/package.json", "/usr/lib/python3/dist-packages/b.egg-info")


@FAST
@given(st.binary(max_size=600))
def test_random_header_blobs_raise_only_header_errors(blob: bytes) -> None:
    with contextlib.suppress(RpmHeaderError):
        parse_header(blob)


@FAST
@given(st.binary(max_size=300), st.integers(0, 200), st.integers(0, 255))
def test_mutated_real_header(blob_tail: bytes, where: int, value: int) -> None:
    good = bytearray(rpm_package("bash", "5.2", "1"))
    good[where % len(good)] = value
    with contextlib.suppress(RpmHeaderError):
        parse_header(bytes(good) + blob_tail)


@FAST
@given(st.sampled_from(TARGETS), st.text(max_size=400) | st.binary(max_size=400).map(
    lambda b: b.decode("latin-1")))
def test_random_text_databases_never_raise(target: str, text: str) -> None:
    result = inventory(DictFs({target: text.encode("utf-8", errors="replace")}))
    assert all(p.name and p.version for p in result.packages)


@FAST
@given(st.lists(st.sampled_from([*STATUS.decode().splitlines(), "", " x", "Bad", ":"]),
                max_size=40))
def test_shuffled_status_lines(lines: list[str]) -> None:
    inventory(DictFs({"/var/lib/dpkg/status": "\n".join(lines).encode()}))


def test_corrupted_rpmdb_pages(tmp_path: Path) -> None:
    data = bytearray(rpmdb_sqlite(tmp_path, [rpm_package(f"p{i}", "1", "1") for i in range(50)]))
    for start in range(100, len(data), max(1, len(data) // 40)):
        broken = bytes(data[:start]) + bytes(reversed(data[start:start + 64])) + \
            bytes(data[start + 64:])
        inventory(DictFs({"/var/lib/rpm/rpmdb.sqlite": broken}))
    result = inventory(DictFs({"/var/lib/rpm/rpmdb.sqlite": bytes(data[: len(data) // 2])}))
    assert result.problems or len(result.packages) <= 50


def test_deep_json_and_huge_fields() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    huge_line = (b"Package: a\nStatus: install ok installed\nVersion: 1\nDescription: "
                 + b"x" * 2_000_000 + b"\n")
    result = inventory(DictFs({"/app/node_modules/a/package.json": deep,
                               "/var/lib/dpkg/status": huge_line,
                               "/x/package.json": json.dumps({"name": 1}).encode()}))
    assert [p.name for p in result.packages] == ["a"]
    assert any("package.json" in p.path for p in result.problems)
