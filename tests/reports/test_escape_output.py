"""The two helpers every report and the console go through: escaping names, writing ``-o``."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from secpipe.core.errors import InputError
from secpipe.core.output import write_text
from secpipe.reports.escape import json_text, percent_path, printable, readable, readable_tree


def test_printable_escapes_every_control_bidi_and_undecodable_character() -> None:
    name = os.fsdecode(b"a\x1b[2J\x07\x7f\xc2\x9b\xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8\xff\t\n\r")
    assert printable(name) == "a\\x1b[2J\\x07\\x7f\\x9b\\u202e\\u2066\\u2028\\xff\\t\\n\\r"
    assert printable(printable(name)) == printable(name)  # idempotent: safe to apply twice
    assert printable("line 1\n\tline 2\x1b", keep="\t\n") == "line 1\n\tline 2\\x1b"
    assert printable("naïve 模型.pkl") == "naïve 模型.pkl"  # printable text is left alone


def test_readable_and_percent_path_handle_undecodable_bytes() -> None:
    name = os.fsdecode(b"dir/bad\xff name.txt")
    assert readable(name) == "dir/bad\\xff name.txt"
    assert readable(name).encode("utf-8")
    assert percent_path(name) == "dir/bad%FF%20name.txt"
    assert percent_path("lone\ud800") == "lone%EF%BF%BD"  # not a byte: U+FFFD
    shown = "dir/bad\\xff name.txt"
    tree = readable_tree({name: [name, 1, None, {"k": (name,)}]})
    assert json.loads(json.dumps(tree, ensure_ascii=False)) == {
        shown: [shown, 1, None, {"k": [shown]}]}


def test_json_text_keeps_the_value_and_escapes_what_drives_a_terminal() -> None:
    value = {"path": "x\u202etxt.exe\x9b\x7f", "ok": "naïve"}
    text = json_text(json.dumps(value, ensure_ascii=False))
    assert "\u202e" not in text and "\x9b" not in text and "naïve" in text
    assert json.loads(text) == value


def test_write_text_replaces_a_regular_file_keeping_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    out.write_text("old")
    out.chmod(0o600)
    write_text(out, "new")
    assert out.read_text() == "new" and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.txt"]


def test_write_text_through_a_dangling_link_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to("sub/target.txt")
    write_text(link, "content")
    assert link.is_symlink() and (tmp_path / "sub" / "target.txt").read_text() == "content"


def test_write_text_errors_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="it is a folder"):
        write_text(tmp_path, "x")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="cannot write report"):
        write_text(loop, "x")
    assert [p.name for p in tmp_path.iterdir()] == ["loop"]
