"""pip requirements files (``requirements*.txt``, pip-tools ``*.in``, constraints files).

Read the way pip reads them: physical lines ending in ``\\`` joined (a comment line is never
joined), comments (``#`` at the start or after whitespace) removed, option lines recognised.
``-r``/``--requirement`` and ``-c``/``--constraint`` includes are followed relative to the
including file, within the scanned root, to :data:`~.common.MAX_INCLUDE_DEPTH` levels; a cycle, a
missing file, a remote or out-of-root include is a problem. A requirement's own options
(``--hash=…``, ``--config-settings``) are dropped; index and install options are ignored; any
other option or a line that is not a requirement is a problem with its line number.

pip-compile, ``uv pip compile`` and Rye output say which pins are direct: ``# via -r FILE`` or
``# via my-project (pyproject.toml)`` under a pin marks it declared, ``# via other-package``
pulled in; when a file has such comments, they decide
:attr:`~secpipe.scanners.deps.model.Dependency.direct`.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from secpipe.scanners.deps.model import Dependency
from secpipe.scanners.deps.readers.common import (
    MAX_INCLUDE_DEPTH,
    MAX_INCLUDED_FILES,
    MAX_LINE_CHARS,
    Collector,
    Where,
    clip,
    join_rel,
    read_text,
    reference,
    requirement,
    root_of,
)

SOURCE = "requirements"
CONSTRAINTS = "constraints"

_COMMENT = re.compile(r"(^|\s+)#.*$")
_VIA = re.compile(r"^\s*#\s+via(?:\s+(.*))?$")
_VIA_MORE = re.compile(r"^\s*#\s{2,}(\S.*)$")
_PROJECT_FILE = re.compile(r"\((?:pyproject\.toml|setup\.cfg|setup\.py)\)$")

# options that stand alone on a line; the ones taking a value, and the flags
_VALUE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links",
                  "--trusted-host", "--no-binary", "--only-binary", "--use-feature",
                  "--use-deprecated", "--progress-bar", "--implementation", "--platform",
                  "--python-version", "--abi"}
_FLAG_OPTIONS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes", "-Z",
                 "--always-unzip", "--process-dependency-links", "--allow-all-external",
                 "--no-deps"}
# options a requirement line may carry after the requirement
_REQUIREMENT_OPTIONS = {"--hash", "--global-option", "--install-option", "--config-settings",
                        "-C"}
_INCLUDES = {"-r": SOURCE, "--requirement": SOURCE, "-c": CONSTRAINTS,
             "--constraint": CONSTRAINTS}
_EDITABLE = {"-e", "--editable"}


@dataclass
class _Reading:
    """State of one requirements file read with everything it includes."""

    root: Path
    out: Collector
    max_bytes: int
    seen: set[str] = field(default_factory=set)
    files: int = 0


def read_requirements(path: Path, rel: str, max_bytes: int, out: Collector,
                      constraints: bool = False) -> None:
    """Read one requirements file (``constraints``: a constraints file read on its own)."""
    state = _Reading(root_of(path, rel), out, max_bytes)
    _read_file(state, path, rel, CONSTRAINTS if constraints else SOURCE, [])


def parse_lines(lines: list[tuple[int | None, str]], rel: str, out: Collector,
                base: Path | None, max_bytes: int, member: str | None = None,
                source: str = SOURCE) -> None:
    """Requirement lines that come from another format (conda's ``pip:`` list): each
    ``(line number, text)``, recorded with ``source``; ``-r``/``-c`` followed relative to
    ``rel`` when ``base`` (the file at ``rel``) is given, else reported as not followed."""
    state = _Reading(root_of(base, rel), out, max_bytes, {rel}) if base is not None else None
    found: list[Dependency] = []
    for number, text in lines:
        if out.full:
            break
        _logical_line(out, state, rel, number, text, SOURCE, [rel], member, found)
    for dep in found:
        if not out.add(dataclasses.replace(dep, source=source) if dep.source == SOURCE
                       else dep):
            break


def _read_file(state: _Reading, path: Path, rel: str, mode: str, stack: list[str]) -> None:
    out = state.out
    out.manifest(rel)
    state.seen.add(rel)
    text = read_text(path, rel, state.max_bytes, out)
    if text is None:
        return
    found: list[Dependency] = []
    via: dict[int, list[str]] = {}
    has_via = False
    for number, logical in _logical_lines(text):
        if out.full or len(found) > out.max_entries:
            break
        via_line = _VIA.match(logical)
        more = _VIA_MORE.match(logical) if via_line is None else None
        if via_line is not None or (more is not None and len(found) - 1 in via):
            has_via = True
            if found:
                item = (via_line or more).group(1)  # type: ignore[union-attr]
                entries = via.setdefault(len(found) - 1, [])
                if item:
                    entries.append(item.strip())
            continue
        _logical_line(out, state, rel, number, logical, mode, [*stack, rel], None, found)
    if has_via:
        found = [dataclasses.replace(dep, direct=any(_declared_by(v) for v in via[i]))
                 if i in via else dep for i, dep in enumerate(found)]
    for dep in found:
        if not out.add(dep):
            break


def _declared_by(via: str) -> bool:
    """Whether a ``# via`` entry is the project's own declaration: ``-r requirements.in``, or
    ``my-project (pyproject.toml)`` as pip-compile and uv write for a project's metadata."""
    return via.startswith(("-r ", "-r\t")) or bool(_PROJECT_FILE.search(via))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, joined text) of every logical line, comments kept."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.endswith("\\") and not line.lstrip().startswith("#"):
            if not pending:
                first = number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(line)
            result.append((first, "".join(pending)))
            pending = []
        else:
            result.append((number, line))
    if pending:
        result.append((first, "".join(pending)))
    return result


def _logical_line(out: Collector, state: _Reading | None, rel: str, number: int | None,
                  raw: str, mode: str, stack: list[str], member: str | None,
                  found: list[Dependency]) -> None:
    line = _COMMENT.sub("", raw).strip()
    if not line:
        return

    def problem(reason: str) -> None:
        out.problem(rel, reason, number, member)

    if len(line) > MAX_LINE_CHARS:
        problem(f"line longer than {MAX_LINE_CHARS} characters")
        return
    where = Where(rel, mode, number, member, direct=mode != CONSTRAINTS)
    if line.startswith("-"):
        _option_line(state, rel, line, where, stack, found, problem)
        return
    req_text, options = _split_options(line)
    bad = [o for o in options if o.split("=", 1)[0] not in _REQUIREMENT_OPTIONS
           and o.startswith("-")]
    if bad:
        problem(f"unknown option {clip(bad[0].split('=', 1)[0], 40)} after a requirement")
    dep = requirement(req_text, where)
    if isinstance(dep, str):
        problem(dep)
    else:
        found.append(dep)


def _split_options(line: str) -> tuple[str, list[str]]:
    """The requirement and the options after it (pip splits at the first word starting with
    ``-``)."""
    found = re.search(r"\s-", line)
    if found is None:
        return line, []
    return line[:found.start()], line[found.start():].split()


def _option_line(state: _Reading | None, rel: str, line: str, where: Where, stack: list[str],
                 found: list[Dependency], problem: Callable[[str], None]) -> None:
    try:
        words = shlex.split(line, posix=True)
    except ValueError as exc:
        problem(f"cannot split option line: {exc}")
        return
    if not words:
        return
    option, value = words[0], None
    if "=" in option and option.startswith("--"):
        option, value = option.split("=", 1)
    elif len(option) > 2 and not option.startswith("--") and (
            option[:2] in _INCLUDES or option[:2] in _EDITABLE or option[:2] in ("-i", "-f")):
        option, value = option[:2], option[2:]
    if value is None and len(words) > 1:
        value = words[1]
    if option in _VALUE_OPTIONS or option in _FLAG_OPTIONS:
        return
    if option in _EDITABLE:
        if not value:
            problem(f"{option} without a target")
            return
        target = " ".join(words[1:]) if words[0] in _EDITABLE else value
        found.append(reference(target, where, editable=True)
                     if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*@", target)
                     else _editable_pep508(target, where))
        return
    if option in _INCLUDES:
        if not value:
            problem(f"{option} without a file")
            return
        _include(state, rel, value, _INCLUDES[option] if where.source != CONSTRAINTS
                 else CONSTRAINTS, where, stack, problem)
        return
    problem(f"unknown option {clip(option, 40)}")


def _editable_pep508(target: str, where: Where) -> Dependency:
    dep = requirement(target, where)
    if isinstance(dep, str):
        return reference(target, where, editable=True)
    return dataclasses.replace(dep, spec="editable " + dep.spec)


def _include(state: _Reading | None, rel: str, target: str, mode: str, where: Where,
             stack: list[str], problem: Callable[[str], None]) -> None:
    what = "constraints file" if mode == CONSTRAINTS else "requirements file"
    if re.match(r"(?i)^[a-z][a-z0-9+.-]*://", target):
        problem(f"includes a remote {what} ({clip(target, 80)}): not fetched, not analysed")
        return
    if state is None:
        problem(f"includes {what} {clip(target, 80)}: not followed here")
        return
    included = join_rel(rel, target)
    if included is None:
        problem(f"includes {what} {clip(target, 80)} outside the scanned root: not followed")
        return
    if included in stack:
        problem(f"include cycle: {' -> '.join([*stack[stack.index(included):], included])}")
        return
    if included in state.seen:
        return  # already read through another include: its dependencies are in the inventory
    if len(stack) > MAX_INCLUDE_DEPTH:
        problem(f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels: {included} not read")
        return
    if state.files >= MAX_INCLUDED_FILES:
        problem(f"more than {MAX_INCLUDED_FILES} included files: {included} not read")
        return
    path = state.root.joinpath(*included.split("/"))
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        problem(f"includes {what} {included}, which does not exist or cannot be read")
        return
    if not resolved.is_relative_to(state.root.resolve()):
        problem(f"includes {what} {included}, a link leaving the scanned root: not followed")
        return
    state.files += 1
    _read_file(state, path, included, mode, stack)


