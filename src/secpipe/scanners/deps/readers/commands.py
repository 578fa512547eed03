"""``pip install`` (and ``conda``, ``npm`` install) commands inside shell text: Dockerfile ``RUN``
instructions, notebook ``!``/``%pip`` lines and ``%%bash`` cells.

A small shell word splitter (quotes, backslashes, comments, ``&&``/``||``/``;``/``|``/``&``
separators, variables) keeps the offset of every word so each package points at its own line.
Recognised installers: ``pip``, ``pip3``, ``pip3.11``, ``python -m pip``, ``python3.11 -m pip``,
``{sys.executable} -m pip`` (notebooks), ``uv pip install``; ``conda``/``mamba``/``micromamba
install`` give conda packages; ``npm install``, ``pnpm add``, ``yarn [global] add`` npm ones.
Leading ``sudo``, ``env``, ``time``, ``NAME=value`` are skipped.

A variable is replaced by the value the caller knows (a Dockerfile's ``ARG``/``ENV`` defaults);
an argument with a variable whose value is not known, or a command substitution, is a problem:
what it installs cannot be decided. ``-r FILE`` / ``-c FILE`` arguments are not followed: the
file is copied in or fetched at build time, and read on its own when it is in the scanned tree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from secpipe.scanners.deps.model import Dependency
from secpipe.scanners.deps.readers.common import (
    MAX_LINE_CHARS,
    Where,
    clip,
    reference,
    requirement,
)
from secpipe.scanners.deps.readers.conda import conda_dependency
from secpipe.scanners.deps.readers.npm import package_argument

_OPERATORS = ("&&", "||", ";;", ";", "|", "&", "\n", "(", ")")
_PLAIN = re.compile(r"[^\s\\'\"$`#&|;()<>]+")
_REDIRECT = re.compile(r"&>>?|<<<|<<-?|<>|[<>]&(?:\d+|-)?|>>|>\||<|>")
"""A run of characters with no meaning to the shell: taken whole."""
_INSTALLERS = re.compile(r"\b(?:pip|conda|mamba|micromamba|npm|pnpm|yarn)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Word:
    """One shell word: its text after quote removal, where it starts, whether it had a variable
    or substitution whose value is not known."""

    text: str
    offset: int
    unresolved: bool = False
    operator: bool = False
    redirect: bool = False
    """A redirection (``>``, ``2>>``, ``<``, ``&>``): it and its target are not arguments."""


def split_words(script: str, variables: Mapping[str, str] | None = None) -> list[Word]:
    """Shell words and operators of ``script`` (``\\``-newline joined, comments dropped).
    Raises :class:`ValueError` on an unterminated quote."""
    known = variables or {}
    words: list[Word] = []
    current: list[str] = []
    start = -1
    unresolved = False
    i, n = 0, len(script)

    def flush() -> None:
        nonlocal current, start, unresolved
        if start >= 0:
            words.append(Word("".join(current), start, unresolved))
        current, start, unresolved = [], -1, False

    def begin(at: int) -> None:
        nonlocal start
        if start < 0:
            start = at

    def variable(at: int) -> int:
        """Expand ``$…`` at ``at`` into ``current``; the index after it."""
        nonlocal unresolved
        if at + 1 < n and script[at + 1] == "(":
            depth, j = 0, at + 1
            while j < n:
                depth += {"(": 1, ")": -1}.get(script[j], 0)
                j += 1
                if depth == 0:
                    break
            current.append(script[at:j])
            unresolved = True
            return j
        if at + 1 < n and script[at + 1] == "{":
            end = script.find("}", at + 2)
            if end < 0:
                current.append(script[at:])
                unresolved = True
                return n
            spelled = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?::?[-=](.*))?",
                                   script[at + 2:end], re.S)
            if spelled is not None and spelled.group(1) in known:
                current.append(known[spelled.group(1)])
            elif spelled is not None and spelled.group(2) is not None:
                current.append(spelled.group(2))  # ${NAME:-default}
            else:
                current.append(script[at:end + 1])
                unresolved = True
            return end + 1
        found = _NAME.match(script, at + 1)
        if found is None:
            if at + 1 < n and script[at + 1] in "0123456789@*#?$!-":
                current.append(script[at:at + 2])  # a positional or special parameter
                unresolved = True
                return at + 2
            current.append("$")
            return at + 1
        if found.group() in known:
            current.append(known[found.group()])
        else:
            current.append("$" + found.group(0))
            unresolved = True
        return found.end()

    while i < n:
        plain = _PLAIN.match(script, i)
        if plain is not None:
            begin(i)
            current.append(plain.group())
            i = plain.end()
            continue
        ch = script[i]
        if ch == "\\" and i + 1 < n and script[i + 1] == "\n":
            i += 2
            continue
        if ch in " \t\r":
            flush()
            i += 1
            continue
        if ch == "#" and start < 0:
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in "<>" or script.startswith("&>", i):
            if start >= 0 and "".join(current).isdigit():
                current, start, unresolved = [], -1, False  # the file descriptor: 2>…
            flush()
            redirect = _REDIRECT.match(script, i)
            text = redirect.group() if redirect is not None else ch
            words.append(Word(text, i, redirect=True))
            i += len(text)
            continue
        op = next((o for o in _OPERATORS if script.startswith(o, i)), None)
        if op is not None:
            flush()
            words.append(Word(op, i, operator=True))
            i += len(op)
            continue
        begin(i)
        if ch == "\\" and i + 1 < n:
            current.append(script[i + 1])
            i += 2
        elif ch == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ValueError("unterminated single quote")
            current.append(script[i + 1:end])
            i = end + 1
        elif ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unterminated double quote")
                c = script[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and script[i + 1] in '"\\$`\n':
                    if script[i + 1] != "\n":
                        current.append(script[i + 1])
                    i += 2
                elif c == "$":
                    i = variable(i)
                elif c == "`":
                    unresolved = True
                    current.append(c)
                    i += 1
                else:
                    current.append(c)
                    i += 1
        elif ch == "$":
            i = variable(i)
        elif ch == "`":
            end = script.find("`", i + 1)
            current.append(script[i:(n if end < 0 else end + 1)])
            unresolved = True
            i = n if end < 0 else end + 1
        else:
            current.append(ch)
            i += 1
    flush()
    return words


def commands(words: list[Word]) -> list[list[Word]]:
    """The simple commands of a word list (split at operators; redirections and their targets
    left out)."""
    result: list[list[Word]] = [[]]
    target = False
    for word in words:
        if word.operator:
            target = False
            if result[-1]:
                result.append([])
        elif word.redirect:
            target = not re.search(r"&(?:\d+|-)$", word.text)  # >&2 names no file
        elif target:
            target = False
        else:
            result[-1].append(word)
    return [c for c in result if c]


# --- installers ---------------------------------------------------------------------------------

_PIP = re.compile(r"^pip(?:\d+(?:\.\d+)?)?$")
_PYTHON = re.compile(r"^(?:python(?:\d+(?:\.\d+)?)?|py|\{sys\.executable\}|\$\{?PYTHON\}?)$")
_CONDA = {"conda", "mamba", "micromamba"}
_PREFIXES = {"sudo", "env", "time", "exec", "nohup", "command", "nice", "xargs"}
_SUDO_VALUE = {"-u", "-g", "-C", "-h", "-p", "-U"}
# pip options (global and install) that take a value
_PIP_VALUE = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target",
    "--prefix", "--root", "--src", "--upgrade-strategy", "--platform", "--python-version",
    "--implementation", "--abi", "--no-binary", "--only-binary", "--progress-bar",
    "--trusted-host", "--cache-dir", "--log", "--log-file", "--proxy", "--retries", "--timeout",
    "--exists-action", "--cert", "--client-cert", "--global-option", "--install-option", "-C",
    "--config-settings", "--report", "--python", "-p", "--root-user-action", "--use-feature",
    "--use-deprecated", "--keyring-provider", "--index-strategy", "--override", "--resolution",
    "--prerelease", "--link-mode", "--exclude-newer", "--index", "--default-index",
    "--extra", "--group",
}
_PIP_FILES = {"-r", "--requirement", "-c", "--constraint", "--build-constraint",
              "--requirements"}
_CONDA_VALUE = {"-c", "--channel", "-n", "--name", "-p", "--prefix", "--file",
                "--repodata-fn", "--experimental", "--solver"}
_NPM = {"npm": ("install", "i", "add", "isntall", "in"), "pnpm": ("add", "install", "i"),
        "yarn": ("add",)}
_NPM_VALUE = {"--registry", "--prefix", "--cache", "--omit", "--include", "--tag",
              "--workspace", "-w", "--userconfig", "--loglevel", "--filter", "--dir", "-C"}


@dataclass(frozen=True)
class Install:
    """An installer command found: which one, and its package arguments."""

    tool: str
    """``pip``, ``conda`` or ``npm``."""
    packages: tuple[Word, ...]
    editable: tuple[Word, ...] = ()


def _strip_prefixes(words: list[Word]) -> list[Word]:
    i = 0
    while i < len(words):
        text = words[i].text
        if "=" in text and _NAME.fullmatch(text.split("=", 1)[0]):
            i += 1
        elif text in _PREFIXES:
            i += 1
            while i < len(words) and words[i].text.startswith("-"):
                i += 2 if words[i].text in _SUDO_VALUE else 1
        else:
            break
    return words[i:]


def find_install(words: list[Word]) -> Install | None:
    """The install command ``words`` (one simple command) runs, if it is one."""
    words = _strip_prefixes(words)
    if not words:
        return None
    program = words[0].text.replace("\\", "/").rsplit("/", 1)[-1]
    rest = words[1:]
    if _PYTHON.match(program) or _PYTHON.match(words[0].text):
        while rest and rest[0].text.startswith("-") and rest[0].text not in ("-m", "-mpip"):
            rest = rest[1:]
        if rest and rest[0].text == "-mpip":
            rest = rest[1:]
        elif len(rest) >= 2 and rest[0].text == "-m" and rest[1].text == "pip":
            rest = rest[2:]
        else:
            return None
        return _pip_install(rest)
    if _PIP.match(program):
        return _pip_install(rest)
    if program == "uv" and rest and rest[0].text == "pip":
        return _pip_install(rest[1:])
    if program in _CONDA:
        return _conda_install(rest)
    if program in _NPM:
        return _npm_install(program, rest)
    return None


def _operands(args: list[Word], start: int, takes_value: set[str]) -> tuple[Word, ...]:
    """The words from ``start`` on that are not options (an option in ``takes_value`` also
    consumes the word after it)."""
    operands: list[Word] = []
    i = start
    while i < len(args):
        text = args[i].text
        if text in takes_value:
            i += 2
        elif text.startswith("-"):
            i += 1
        else:
            operands.append(args[i])
            i += 1
    return tuple(operands)


def _npm_install(program: str, args: list[Word]) -> Install | None:
    i = 0
    if program == "yarn" and args and args[0].text == "global":
        i = 1
    while i < len(args) and args[i].text.startswith("-"):
        i += 2 if args[i].text in _NPM_VALUE else 1
    if i >= len(args) or args[i].text not in _NPM[program]:
        return None
    return Install("npm", _operands(args, i + 1, _NPM_VALUE))


def _pip_install(args: list[Word]) -> Install | None:
    i = 0
    while i < len(args) and args[i].text.startswith("-"):  # global options before the command
        i += 2 if args[i].text in _PIP_VALUE else 1
    if i >= len(args) or args[i].text != "install":
        return None
    packages: list[Word] = []
    editable: list[Word] = []
    i += 1
    while i < len(args):
        text = args[i].text
        if text in ("-e", "--editable") and i + 1 < len(args):
            editable.append(args[i + 1])
            i += 2
        elif text.startswith("--editable="):
            editable.append(Word(text.split("=", 1)[1], args[i].offset, args[i].unresolved))
            i += 1
        elif text in _PIP_VALUE or text in _PIP_FILES:
            i += 2
        elif text.startswith("-"):
            i += 1
        else:
            packages.append(args[i])
            i += 1
    return Install("pip", tuple(packages), tuple(editable))


def _conda_install(args: list[Word]) -> Install | None:
    if not args or args[0].text not in ("install", "create"):
        return None
    return Install("conda", _operands(args, 1, _CONDA_VALUE))


def install_dependencies(script: str, where_of: Callable[[int], Where],
                         problem: Callable[[str, int], None],
                         variables: Mapping[str, str] | None = None,
                         notebook: bool = False) -> list[Dependency]:
    """Dependencies every install command of ``script`` names. ``where_of(offset)`` places a
    word; ``problem(reason, offset)`` records what cannot be decided."""
    if not _INSTALLERS.search(script):
        return []
    if len(script) > MAX_LINE_CHARS * 4:
        problem(f"command longer than {MAX_LINE_CHARS * 4} characters: not analysed", 0)
        return []
    try:
        words = split_words(script, variables)
    except ValueError as exc:
        if re.search(r"\b(?:pip\d*|conda|mamba|uv|npm|pnpm|yarn)\b", script):
            problem(f"cannot split the command into words ({exc}): its installs were not "
                    "analysed", 0)
        return []
    found: list[Dependency] = []
    for command in commands(words):
        install = find_install(command)
        if install is None:
            continue
        for word, editable in [*((w, False) for w in install.packages),
                               *((w, True) for w in install.editable)]:
            where = where_of(word.offset)
            if word.unresolved or (notebook and re.search(r"\{[^}]*\}", word.text)):
                problem(f"{install.tool} install argument {clip(word.text, 80)} uses a value "
                        "not known before it runs: what it installs cannot be decided",
                        word.offset)
                continue
            if install.tool == "conda":
                dep = conda_dependency(word.text, where.path, where.line, where.member,
                                       where.source)
            elif install.tool == "npm":
                dep = package_argument(word.text, where.path, where.line, where.member,
                                       where.source)
            elif editable:
                dep = reference(word.text, where, editable=True)
            else:
                dep = requirement(word.text, where)
            if isinstance(dep, str):
                problem(dep, word.offset)
            else:
                found.append(dep)
    return found
