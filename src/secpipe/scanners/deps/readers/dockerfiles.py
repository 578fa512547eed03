"""Dockerfiles and Containerfiles: what their ``RUN`` instructions install with pip or conda.

Read as Docker's parser reads them: the ``# escape=`` directive, continuation lines (comment
and empty lines inside an instruction dropped), shell and JSON exec forms (``["sh", "-c",
"…"]`` scripts too), ``RUN <<EOF`` heredoc scripts. ``ARG`` defaults and ``ENV`` values seen so
far replace ``$NAME`` / ``${NAME}`` in later commands (a flat approximation of Docker's stage
scoping); a package named through a variable without a known value is a problem. Each package
points at its own physical line; ``member`` is ``RUN`` (``RUN (stage NAME)`` in a multi-stage
file).
"""

from __future__ import annotations

import bisect
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from secpipe.scanners.deps.readers.commands import install_dependencies
from secpipe.scanners.deps.readers.common import Collector, Lines, Where, read_text

SOURCE = "dockerfile"

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)(?:\s+|$)(.*)$", re.S)
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass
class Instruction:
    """One instruction: keyword, arguments (continuations joined), and where each piece of the
    arguments came from (offset in ``args`` → physical line)."""

    keyword: str
    args: str
    line: int
    pieces: list[tuple[int, int]] = field(default_factory=list)
    heredocs: list[tuple[str, int]] = field(default_factory=list)
    """(body, first line) of each heredoc of the instruction."""

    def line_at(self, offset: int) -> int:
        at = bisect.bisect_right(self.pieces, (offset, float("inf"))) - 1
        return self.pieces[at][1] if at >= 0 else self.line


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order."""
    raw = text.splitlines()
    escape = "\\"
    i = 0
    while i < len(raw):  # parser directives: only at the very top
        directive = _DIRECTIVE.match(raw[i])
        if directive is None:
            break
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            escape = directive.group(2)
        i += 1
    result: list[Instruction] = []
    current: Instruction | None = None
    while i < len(raw):
        line = raw[i]
        number = i + 1
        i += 1
        stripped = line.strip()
        if current is None:
            if not stripped or stripped.startswith("#"):
                continue
            found = _INSTRUCTION.match(line)
            if found is None:
                continue
            current = Instruction(found.group(1).upper(), "", number)
            body = found.group(2)
        else:
            if not stripped or stripped.startswith("#"):
                continue  # comment and empty lines inside a continued instruction
            body = line
        continued = body.rstrip().endswith(escape)
        if continued:
            body = body.rstrip()[:-1]
        current.pieces.append((len(current.args), number))
        current.args += body
        if continued:
            continue
        for marker in _HEREDOC.finditer(current.args):
            strip_tabs, word = marker.group(1) == "-", marker.group(3)
            body_lines: list[str] = []
            first = i + 1
            while i < len(raw):
                candidate = raw[i].lstrip("\t") if strip_tabs else raw[i]
                i += 1
                if candidate == word:
                    break
                body_lines.append(candidate)
            current.heredocs.append(("\n".join(body_lines), first))
        result.append(current)
        current = None
    if current is not None:
        result.append(current)
    return result


def _variables(instruction: Instruction, known: dict[str, str]) -> None:
    args = instruction.args.strip()
    if instruction.keyword == "ARG":
        for item in args.split():
            name, sep, value = item.partition("=")
            if sep:
                known[name] = value.strip("\"'")
    elif instruction.keyword == "ENV":
        try:
            words = shlex.split(args)
        except ValueError:
            return
        if words and "=" not in words[0] and len(words) >= 2:
            known[words[0]] = " ".join(words[1:])
            return
        for item in words:
            name, sep, value = item.partition("=")
            if sep:
                known[name] = value


def read_dockerfile(path: Path, rel: str, max_bytes: int, out: Collector) -> None:
    out.manifest(rel)
    text = read_text(path, rel, max_bytes, out)
    if text is None:
        return
    found = instructions(text)
    stages = [ins for ins in found if ins.keyword == "FROM"]
    known: dict[str, str] = {}
    stage = ""
    for ins in found:
        if out.full:
            return
        if ins.keyword == "FROM":
            alias = re.search(r"(?i)\s+as\s+(\S+)\s*$", ins.args)
            stage = alias.group(1) if alias else str(stages.index(ins))
            continue
        if ins.keyword in ("ARG", "ENV"):
            _variables(ins, known)
            continue
        if ins.keyword != "RUN":
            continue
        member = f"RUN (stage {stage})" if len(stages) > 1 else "RUN"
        _run(ins, rel, member, known, out)


def _run(ins: Instruction, rel: str, member: str, known: dict[str, str],
         out: Collector) -> None:
    args = re.sub(r"^(?:--[a-z-]+=\S+\s+)+", "", ins.args.lstrip())  # RUN --mount=… flags
    scripts: list[tuple[str, int | None]] = []  # (script, fixed line or None: map by offset)
    if args.startswith("["):
        try:
            vector = json.loads(args.replace("\n", " "))
        except ValueError:
            vector = None
        if isinstance(vector, list) and all(isinstance(v, str) for v in vector):
            if len(vector) >= 3 and vector[0].rsplit("/", 1)[-1] in ("sh", "bash") \
                    and vector[1] in ("-c", "-ec", "-ex", "-eux", "-xc"):
                scripts.append((vector[2], ins.line))
            else:
                scripts.append((shlex.join(vector), ins.line))
    if not scripts:
        # blanks where the flags were, so offsets in the script are offsets in ins.args
        scripts.append((" " * (len(ins.args) - len(args)) + args, None))
        scripts.extend((body, first) for body, first in ins.heredocs)
    for script, fixed in scripts:
        body_lines = Lines(script) if fixed is not None and fixed != ins.line else None

        def where_of(offset: int, fixed: int | None = fixed,
                     body_lines: Lines | None = body_lines) -> Where:
            if fixed is None:
                line = ins.line_at(offset)
            elif body_lines is not None:
                line = fixed + body_lines.at(offset) - 1
            else:
                line = fixed
            return Where(rel, SOURCE, line, member)

        def problem(reason: str, offset: int,
                    where_of: Callable[[int], Where] = where_of) -> None:
            out.problem(rel, reason, where_of(offset).line, member)

        for dep in install_dependencies(script, where_of, problem, known):
            if not out.add(dep):
                return

