"""Notebooks, archives, binaries, encodings and the bounds that stop hostile inputs."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
import zipfile

from secrets_helpers import LIMITS, scan
from secrets_samples import crc_token

from secpipe.scanners.secrets.archives import Limits


def _token(seed: int = 0) -> str:
    return crc_token(random.Random(seed), "ghp_")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _targz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_notebook_cell_source_and_outputs_are_scanned_with_member_and_line() -> None:
    src, out = _token(1), _token(2)
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "source": ["# title\n"]},
        {"cell_type": "code", "source": ["import os\n", f'GH = "{src}"\n'], "outputs": []},
        {"cell_type": "code", "source": "print(GH)", "outputs": [
            {"output_type": "execute_result", "data": {"text/plain": ["'ok'"]}},
            {"output_type": "stream", "name": "stdout", "text": ["line one\n", f"{out}\n"]},
        ]},
    ]}
    hits = scan(json.dumps(nb, indent=1)).hits
    where = {(h.member, h.line) for h in hits}
    assert where == {("cell[1]", 2), ("cell[2]/outputs[1]", 2)}


def test_notebook_error_traceback_output_is_scanned() -> None:
    nb = {"nbformat": 4, "metadata": {}, "cells": [{"cell_type": "code", "source": "x", "outputs": [
        {"output_type": "error", "ename": "E", "evalue": "bad", "traceback": [f"token={_token()}"]},
    ]}]}
    assert [h.member for h in scan(json.dumps(nb)).hits] == ["cell[0]/outputs[0]"]


def test_text_inside_zip_and_tar_gz_members_is_scanned() -> None:
    inner = f"GITHUB_TOKEN = '{_token(3)}'\n".encode()
    assert [h.member for h in scan(_zip({"app/settings.py": inner})).hits] == ["app/settings.py"]
    assert [h.member for h in scan(_targz({"conf/.env": inner})).hits] == ["conf/.env"]


def test_nested_archive_members_are_named_by_their_path() -> None:
    inner = _zip({"deep.txt": f"t={_token(4)}".encode()})
    hits = scan(_zip({"lib/inner.zip": inner})).hits
    assert [h.member for h in hits] == ["lib/inner.zip!deep.txt"]


def test_nesting_deeper_than_the_bound_is_a_problem_not_a_silent_pass() -> None:
    data = f"t={_token(5)}".encode()
    for level in range(6):
        data = _zip({f"level{level}.zip" if level else "x.txt": data})
    result = scan(data)
    assert result.hits == []
    assert any("nested deeper" in reason for _, reason in result.problems)


def test_zip_bomb_is_bounded_and_reported() -> None:
    bomb = _zip({f"zeros{i}.txt": b"0" * (900 << 10) for i in range(8)})
    assert len(bomb) < 100_000
    result = scan(bomb, Limits(max_file_bytes=1 << 20, max_depth=3, max_archive_bytes=2 << 20,
                               max_members=50))
    assert any("expands past" in reason for _, reason in result.problems)


def test_gzip_bomb_is_bounded_and_reported() -> None:
    bomb = gzip.compress(b"A" * (8 << 20))
    result = scan(bomb)
    assert any("expands past" in reason for _, reason in result.problems)


def test_member_count_bound_is_reported() -> None:
    many = _zip({f"f{i}.txt": b"hello" for i in range(LIMITS.max_members + 5)})
    assert any("archive members" in reason for _, reason in scan(many).problems)


def test_corrupt_archive_is_reported_not_crashing() -> None:
    result = scan(b"PK\x03\x04" + bytes(range(256)) * 4)
    assert result.problems and result.hits == []


def test_binary_is_skipped_by_content_not_name() -> None:
    assert scan(b"\x00\x01\x02 AKIA" + bytes(64)).skipped == "binary"
    text_in_bin_name = f"token = '{_token(6)}'\n".encode()
    assert len(scan(text_in_bin_name).hits) == 1


def test_invalid_utf8_with_few_bad_bytes_is_still_scanned() -> None:
    data = b"caf\xe9 \xff\n" + f"GH = '{_token(7)}'\n".encode()
    assert len(scan(data).hits) == 1
    assert scan(bytes(range(128, 256)) * 40).skipped is not None


def test_giant_line_is_scanned_in_bounded_time() -> None:
    line = ("a=1;" * 500_000) + f"t='{_token(8)}'" + ("password" * 100_000)
    assert len(scan(line).hits) == 1


def test_private_key_with_json_escapes_is_found_once() -> None:
    from secrets_samples import pem

    key = pem(random.Random(9), label="")
    doc = json.dumps({"type": "service_account", "private_key": key + "\n"}, indent=2)
    hits = scan(doc).hits
    assert [h.rule_id for h in hits] == ["secrets.private-key"]
    assert scan(key).hits[0].key == hits[0].key  # same identity however it is quoted


def test_notebook_inside_a_zip_is_parsed() -> None:
    nb = {"nbformat": 4, "metadata": {}, "cells": [
        {"cell_type": "code", "source": f"t = '{_token(10)}'", "outputs": []}]}
    hits = scan(_zip({"nb/analysis.ipynb": json.dumps(nb).encode()})).hits
    assert [h.member for h in hits] == ["nb/analysis.ipynb!cell[0]"]


def test_a_file_of_thousands_of_tokens_is_bounded_and_reported() -> None:
    from secpipe.scanners.secrets.engine import MAX_HITS_PER_UNIT

    rng = random.Random(12)
    text = "\n".join(f"t{i} = '{crc_token(rng, 'ghp_')}'" for i in range(MAX_HITS_PER_UNIT + 50))
    result = scan(text)
    assert len(result.hits) == MAX_HITS_PER_UNIT
    assert any("more than" in reason for _, reason in result.problems)


def test_zip_member_with_an_empty_name_is_scanned_not_a_crash() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(""), f"t={_token(5)}".encode())  # ZipInfo.is_dir() raises
        zf.writestr("folder/", b"")
    assert [h.member for h in scan(buf.getvalue()).hits] == ["<unnamed member>"]
