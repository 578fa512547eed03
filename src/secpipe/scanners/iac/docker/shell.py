"""A small, bounded reader of POSIX shell text (``RUN`` commands) and the checks built on it.

This is not a shell: nothing is expanded or run. :func:`parse_script` splits a script into
pipelines of simple commands (quotes removed; ``$(…)``, backquotes and ``<(…)`` kept as the inner
scripts of the word that holds them), enough to tell *which program* reads *whose output*. The
checks then ask:

- :func:`remote_exec`: does a downloader's output reach an interpreter as its program?
  ``curl … | sh``, ``wget -qO- … | sudo -E bash -s --``, ``sh -c "$(curl …)"``,
  ``bash <(curl …)``, ``eval "$(wget -O- …)"``, ``python3 - < <(curl …)``, PowerShell's
  ``iex (iwr …)``; and, with lower confidence, a file fetched by ``curl -o``/``wget`` and then run
  in the same ``RUN`` when nothing there verifies a checksum or signature
  (``sha256sum -c``, a checksum compared in ``[ "$(sha256sum f …)" = … ]``, ``gpg --verify``,
  ``cosign verify-blob``…; printing a checksum is not checking it).
  Piping to an interpreter is reported even when a checksum is checked elsewhere in the
  command: the streamed bytes are executed as they arrive, so nothing verified them. ``curl … |
  tar xz``, ``curl … | python3 -c 'import json…'`` (the program is the ``-c`` text, the download
  is data) and ``curl … | gpg --dearmor`` are not reported. Python's
  ``exec(urlopen(…).read())`` is found by its text.
- :func:`commands_named`: the simple commands whose program is one of the names (``sudo``,
  ``chmod``, ``pip``), with wrappers (``sudo``, ``env``, ``nohup``…) seen through.

Bounds: the caller caps the text; nesting of substitutions is cut at :data:`MAX_NESTING` and the
number of commands at :data:`MAX_COMMANDS` (the result says it was cut).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

MAX_NESTING = 8
"""Deepest ``$(…)`` inside ``$(…)`` followed."""
MAX_COMMANDS = 5000
"""Most simple commands read from one script (all nesting levels together)."""

FETCHERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "https", "lwp-request", "GET",
                      "xh", "curlie"})
"""Programs that download (their output is remote content)."""
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "fish", "yash"})
_PROGRAM_FLAGS = {  # interpreter -> flags after which the program is an argument, not stdin
    "python": ("-c", "-m"), "perl": ("-e", "-E"), "ruby": ("-e",), "node": ("-e", "-p", "--eval",
                                                                            "--print"),
    "php": ("-r",), "deno": ("eval",), "pwsh": ("-c", "-command", "-file"),
}
_WRAPPERS = frozenset({"sudo", "doas", "env", "nohup", "time", "nice", "exec", "command",
                       "stdbuf", "ionice", "chronic", "unbuffer", "timeout", "!"})
_WRAPPER_ARG_FLAGS = {"sudo": {"-u", "-g", "-C", "-h", "-p", "-r", "-t", "-U", "-D"},
                      "nice": {"-n"}, "ionice": {"-c", "-n"}, "stdbuf": {"-i", "-o", "-e"},
                      "timeout": {"-s", "-k", "--signal", "--kill-after"},
                      "doas": {"-u", "-C"}, "env": {"-u", "-C", "-S"}}
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "{",
                       "}", "case", "esac", "in"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_PYTHON = re.compile(r"(python|pypy)[0-9.]*$")
_PS_IEX = re.compile(
    r"(?i)(\b(iex|invoke-expression)\b[^\n]{0,400}?\b(iwr|irm|invoke-webrequest|invoke-restmethod|"
    r"downloadstring|downloadfile|net\.webclient|curl|wget)\b)|"
    r"(\b(iwr|irm|invoke-webrequest|invoke-restmethod)\b[^\n|]{0,400}\|\s*"
    r"(iex|invoke-expression)\b)")
_PLAIN = re.compile(r"[^ \t\r\n\\'\"$`|&;<>()]+")
_QUOTED_PLAIN = re.compile(r"[^\"\\$`]+")
_GROUP_SPECIAL = re.compile(r"[\\'\"()]")
_PY_EXEC_URL = re.compile(
    r"\bexec\s*\(\s*(urllib\.request\.|urllib2\.|request\.)?urlopen\s*\(|"
    r"\bexec\s*\(\s*(requests|httpx)\.get\s*\(")
_SUBST = "\x00"
"""Stands in a word's text for a substitution (its script is in :attr:`Word.subs`)."""


@dataclass
class Word:
    """One shell word with its quotes removed."""

    text: str = ""
    subs: list[str] = field(default_factory=list)
    """Inner scripts of ``$(…)``, backquotes and ``<(…)``/``>(…)`` in this word."""
    procsub: bool = False
    """The word is a process substitution ``<(…)`` (a file name whose content is its output)."""
    redirect: str = ""
    """Set on the target of a redirection: the operator (``<``, ``>``, ``>>``, ``2>``…)."""


@dataclass
class Command:
    """A simple command: its words (redirection targets included, marked)."""

    words: list[Word] = field(default_factory=list)

    @cached_property
    def args(self) -> list[Word]:
        """The words that are arguments (redirection targets left out)."""
        return [w for w in self.words if not w.redirect]

    @cached_property
    def real(self) -> list[Word]:
        """The arguments from the real program on (:func:`unwrap`)."""
        return unwrap(self.args)

    @cached_property
    def name(self) -> str:
        """The base name of the real program ('' when none)."""
        return _base(self.real[0].text) if self.real else ""


Pipeline = list[Command]


@dataclass
class Script:
    """A parsed script: its pipelines, and whether a bound cut it."""

    pipelines: list[Pipeline] = field(default_factory=list)
    cut: bool = False
    walked: list[tuple[Pipeline, int, Command, bool]] | None = field(default=None, repr=False)
    """Every command, nested ones included (filled by :func:`iter_commands` on first use)."""


class _Lexer:
    def __init__(self, text: str, depth: int, budget: list[int]) -> None:
        self.text = text
        self.i = 0
        self.depth = depth
        self.budget = budget  # [commands left], shared across nesting levels
        self.cut = False

    def _balanced(self, start: int, open_ch: str = "(", close_ch: str = ")") -> tuple[str, int]:
        """The text from ``start`` to the matching close (quotes respected) and the index after
        it; an unclosed group runs to the end of the text."""
        level = 1
        i = start
        text = self.text
        quote = ""
        while i < len(text):
            if quote:
                end = text.find(quote, i) if quote == "'" else _closing_double(text, i)
                if end < 0:
                    break
                quote = ""
                i = end + 1
                continue
            match = _GROUP_SPECIAL.search(text, i)
            if match is None:
                break
            i = match.start()
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch in "'\"":
                quote = ch
            elif ch == open_ch:
                level += 1
            elif ch == close_ch:
                level -= 1
                if level == 0:
                    return text[start:i], i + 1
            i += 1
        return text[start:], len(text)

    def parse(self) -> Script:
        script = Script()
        pipeline: Pipeline = []
        command = Command()
        word: Word | None = None
        pending_redirect = ""
        text = self.text
        n = len(text)

        def end_word() -> None:
            nonlocal word, pending_redirect
            if word is not None:
                if pending_redirect:
                    word.redirect = pending_redirect
                    pending_redirect = ""
                command.words.append(word)
                word = None

        def end_command() -> None:
            nonlocal command
            end_word()
            if command.words:
                if self.budget[0] <= 0:
                    self.cut = True
                else:
                    self.budget[0] -= 1
                    pipeline.append(command)
            command = Command()

        def end_pipeline() -> None:
            nonlocal pipeline
            end_command()
            if pipeline:
                script.pipelines.append(pipeline)
            pipeline = []

        while self.i < n and not self.cut:
            ch = text[self.i]
            nxt = text[self.i + 1] if self.i + 1 < n else ""
            if ch == "\\" and nxt == "\n":
                self.i += 2
                continue
            if ch in " \t\r":
                end_word()
                self.i += 1
                continue
            if ch == "#" and word is None:
                while self.i < n and text[self.i] != "\n":
                    self.i += 1
                continue
            if ch in "\n;" or (ch == "&" and nxt != ">") or (ch == "|" and nxt == "|"):
                end_pipeline()
                self.i += 2 if (ch + nxt) in ("&&", "||", ";;") else 1
                continue
            if ch == "|":
                end_command()
                self.i += 2 if nxt == "&" else 1
                continue
            if ch in "<>" and nxt == "(":
                inner, self.i = self._balanced(self.i + 2)
                end_word()
                word = Word(text=_SUBST, subs=[inner], procsub=True)
                continue
            if ch in "()":
                end_pipeline()  # a subshell or group: its commands stand alone
                self.i += 1
                continue
            if ch in "<>" or (ch == "&" and nxt == ">") or (
                    ch.isdigit() and word is None and nxt in "<>"):
                end_word()
                j = self.i
                while j < n and (text[j] in "<>&|" or (j == self.i and text[j].isdigit())):
                    j += 1
                op = text[self.i:j]
                self.i = j
                if op.startswith("<<") and not op.startswith("<<<"):
                    pending_redirect = "<<"  # a here-document's delimiter: not an argument
                elif op.endswith("&"):
                    pending_redirect = op  # 2>&1: the next word is a descriptor
                else:
                    pending_redirect = op
                continue
            if word is None:
                word = Word()
            if ch == "\\":
                word.text += nxt
                self.i += 2
            elif ch == "'":
                end = text.find("'", self.i + 1)
                end = n if end < 0 else end
                word.text += text[self.i + 1:end]
                self.i = end + 1
            elif ch == '"':
                self._double_quoted(word)
            elif ch == "$" and nxt == "(":
                inner, self.i = self._balanced(self.i + 2)
                word.text += _SUBST
                word.subs.append(inner)
            elif ch == "`":
                end = text.find("`", self.i + 1)
                end = n if end < 0 else end
                word.text += _SUBST
                word.subs.append(text[self.i + 1:end])
                self.i = end + 1
            else:
                match = _PLAIN.match(text, self.i)
                if match is None:
                    word.text += ch
                    self.i += 1
                else:
                    word.text += match.group(0)
                    self.i = match.end()
        end_pipeline()
        script.cut = self.cut
        return script

    def _double_quoted(self, word: Word) -> None:
        text = self.text
        n = len(text)
        self.i += 1
        while self.i < n:
            ch = text[self.i]
            nxt = text[self.i + 1] if self.i + 1 < n else ""
            if ch == '"':
                self.i += 1
                return
            if ch == "\\" and nxt in '"\\$`\n':
                word.text += "" if nxt == "\n" else nxt
                self.i += 2
            elif ch == "$" and nxt == "(":
                inner, self.i = self._balanced(self.i + 2)
                word.text += _SUBST
                word.subs.append(inner)
            elif ch == "`":
                end = text.find("`", self.i + 1)
                end = n if end < 0 else end
                word.text += _SUBST
                word.subs.append(text[self.i + 1:end])
                self.i = end + 1
            else:
                match = _QUOTED_PLAIN.match(text, self.i)
                if match is None:
                    word.text += ch
                    self.i += 1
                else:
                    word.text += match.group(0)
                    self.i = match.end()


def _closing_double(text: str, i: int) -> int:
    """Index of the ``"`` closing a double-quoted string whose content starts at ``i``."""
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i
        next_special = min((k for k in (text.find("\\", i), text.find('"', i)) if k >= 0),
                           default=-1)
        if next_special < 0:
            return -1
        i = next_special
    return -1


def parse_script(text: str, *, _depth: int = 0, _budget: list[int] | None = None) -> Script:
    """The pipelines of ``text`` (see the module docstring)."""
    budget = _budget if _budget is not None else [MAX_COMMANDS]
    return _Lexer(text, _depth, budget).parse()


def _base(word: str) -> str:
    return word.strip().rsplit("/", 1)[-1]


def unwrap(args: list[Word]) -> list[Word]:
    """The words from the real program on: leading ``VAR=value`` assignments and wrappers
    (``sudo -E``, ``env -i A=1``, ``nohup``, ``nice -n 5``, ``busybox``…) removed."""
    i = 0
    while i < len(args):
        text = args[i].text
        name = _base(text)
        if _ASSIGNMENT.match(text) or text in _KEYWORDS:
            i += 1
            continue
        if name in _WRAPPERS:
            takes = _WRAPPER_ARG_FLAGS.get(name, set())
            i += 1
            while i < len(args):
                flag = args[i].text
                if flag == "--":
                    i += 1
                    break
                if flag.startswith("-") and len(flag) > 1:
                    i += 2 if flag in takes else 1
                    continue
                if name == "env" and _ASSIGNMENT.match(flag):
                    i += 1
                    continue
                if name == "nice" and flag.lstrip("-").isdigit():
                    i += 1
                    continue
                if name == "timeout" and re.fullmatch(r"[0-9.]+[smhd]?", flag):
                    i += 1
                    continue
                break
            continue
        if name == "busybox" and i + 1 < len(args):
            i += 1
            continue
        break
    return args[i:]


def program(args: list[Word]) -> str:
    """The base name of the program a command runs ('' when none)."""
    real = unwrap(args)
    return _base(real[0].text) if real else ""


def _interpreter_kind(name: str) -> str:
    if name in SHELLS:
        return "shell"
    if _PYTHON.match(name):
        return "python"
    for kind in ("perl", "ruby", "node", "php", "pwsh", "deno"):
        if name == kind or (name.startswith(kind) and name[len(kind):].replace(".", "").isdigit()):
            return kind
    if name in ("nodejs", "powershell"):
        return "node" if name == "nodejs" else "pwsh"
    return ""


def reads_program_from_stdin(args: list[Word]) -> bool:
    """An interpreter (shell, python, perl, ruby, node, php) that takes its program from its
    standard input: no ``-c``/``-e`` program text and no script file argument (``-`` and
    ``-s`` mean stdin)."""
    return _reads_stdin(unwrap(args))


def _reads_stdin(real: list[Word]) -> bool:
    if not real:
        return False
    kind = _interpreter_kind(_base(real[0].text))
    if not kind:
        return False
    program_flags = ("-c",) if kind == "shell" else _PROGRAM_FLAGS.get(kind, ())
    for word in real[1:]:
        text = word.text
        if text in ("-", "-s", "--"):
            return True
        if text.startswith("-") and not text.startswith("--"):
            if kind == "shell" and "c" in text[1:] and "s" not in text[1:]:
                return False  # -c, -ec, -xc: the program is the next argument
            if any(text == flag or (len(flag) == 2 and text.startswith(flag))
                   for flag in program_flags):
                return False
            continue
        if text.lower() in program_flags:
            return False
        if text.startswith("--"):
            continue
        return False  # a script file: the download is its data
    return True


def program_text_args(args: list[Word]) -> list[Word]:
    """For an interpreter run with ``-c``/``-e`` (or ``eval``, ``source``, ``.``): the words that
    are program text or a program file."""
    return _program_text(unwrap(args))


def _program_text(real: list[Word]) -> list[Word]:
    if not real:
        return []
    name = _base(real[0].text)
    if name in ("eval", "source", "."):
        return real[1:]
    kind = _interpreter_kind(name)
    if not kind:
        return []
    out: list[Word] = []
    flags = ("-c",) if kind == "shell" else _PROGRAM_FLAGS.get(kind, ())
    take_next = False
    for word in real[1:]:
        if take_next:
            out.append(word)
            take_next = False
            continue
        text = word.text
        if text.lower() in flags or (kind == "shell" and text.startswith("-") and "c" in text[1:]
                                     and not text.startswith("--")):
            take_next = True
            continue
        if not text.startswith("-"):
            out.append(word)  # a script file (possibly <(curl …))
            if kind == "shell":
                break
    return out


@dataclass(frozen=True)
class RemoteExec:
    """One place remote content is executed."""

    how: str
    """``pipe``, ``substitution``, ``download-then-run``, ``powershell`` or ``python-exec``."""
    fetcher: str
    """The downloading program (``curl``)."""
    interpreter: str
    """The program that runs it (``sh``)."""


def _has_fetcher(script: str, depth: int, budget: list[int]) -> str:
    if depth > MAX_NESTING:
        return ""
    for pipeline in parse_script(script, _depth=depth, _budget=budget).pipelines:
        for cmd in pipeline:
            name = cmd.name
            if name in FETCHERS:
                return name
            for word in cmd.words:
                for sub in word.subs:
                    found = _has_fetcher(sub, depth + 1, budget)
                    if found:
                        return found
    return ""


def iter_commands(script: Script, depth: int = 0,
                  budget: list[int] | None = None) -> Iterator[tuple[Pipeline, int, Command]]:
    """Every simple command (pipeline, index in it, command), those inside substitutions and
    ``sh -c '…'`` texts included."""
    if depth == 0 and budget is None:
        if script.walked is None:
            script.walked = list(_walk(script, 0, None, False))
        walked: Iterable[tuple[Pipeline, int, Command, bool]] = script.walked
    else:
        walked = _walk(script, depth, budget, False)
    for pipeline, index, cmd, _ in walked:
        yield pipeline, index, cmd


def _walk(script: Script, depth: int, budget: list[int] | None,
          in_subst: bool) -> Iterator[tuple[Pipeline, int, Command, bool]]:
    """:func:`iter_commands`, also saying whether the command's output is substituted into
    another command (``$(…)``, backquotes, ``<(…)``)."""
    budget = budget if budget is not None else [MAX_COMMANDS]
    for pipeline in script.pipelines:
        for index, cmd in enumerate(pipeline):
            yield pipeline, index, cmd, in_subst
            if depth >= MAX_NESTING:
                continue
            for word in cmd.words:
                for sub in word.subs:
                    yield from _walk(parse_script(sub, _depth=depth + 1, _budget=budget),
                                     depth + 1, budget, True)
            if cmd.name in SHELLS:
                for word in _program_text(cmd.real):
                    if not word.subs and word.text and " " in word.text.strip():
                        yield from _walk(
                            parse_script(word.text, _depth=depth + 1, _budget=budget),
                            depth + 1, budget, in_subst)


_CHECKSUMS = frozenset({"sha256sum", "sha512sum", "sha384sum", "sha224sum", "sha1sum", "shasum",
                        "b2sum", "md5sum", "openssl"})
_COMPARERS = frozenset({"grep", "cmp", "diff", "test", "[", "awk"})


def _verifies(real: list[Word], pipeline: Pipeline, index: int, in_subst: bool) -> bool:
    """A command that checks a download: ``sha256sum -c``, ``gpg --verify``, ``gpgv``,
    ``cosign verify-blob``, ``minisign -V``…, or a checksum whose output is compared
    (``[ "$(sha256sum f | cut -d' ' -f1)" = "$SUM" ]``, ``sha256sum f | grep -q $SUM``)."""
    if not real:
        return False
    name = _base(real[0].text)
    args = [w.text for w in real[1:]]
    if name in _CHECKSUMS:
        if any(a in ("-c", "--check") or (a.startswith("-") and not a.startswith("--")
                                           and "c" in a[1:]) for a in args):
            return True
        later = [c.name for c in pipeline[index + 1:]]
        return in_subst or any(p in _COMPARERS for p in later)
    if name in ("gpg", "gpg2"):
        return any(a in ("--verify", "--verify-files") for a in args)
    if name in ("gpgv", "slsa-verifier", "rekor-cli", "sigstore"):
        return True
    if name == "cosign":
        return any(a.startswith("verify") for a in args)
    if name in ("minisign", "signify"):
        return "-V" in args
    return False


def commands_named(script: Script, names: frozenset[str] | set[str]) -> list[list[Word]]:
    """The unwrapped words of every command whose program is in ``names``."""
    return [cmd.real for _, _, cmd in iter_commands(script) if cmd.real and cmd.name in names]


def raw_programs(script: Script) -> list[str]:
    """The first word of every command, wrappers *not* removed (to see ``sudo`` itself)."""
    out: list[str] = []
    for _, _, cmd in iter_commands(script):
        for word in cmd.args:
            if _ASSIGNMENT.match(word.text) or word.text in _KEYWORDS:
                continue
            out.append(_base(word.text))
            break
    return out


def _downloads(real: list[Word]) -> list[str]:
    """Files a ``curl``/``wget`` command writes (``-o F``, ``-O`` with the URL's name…)."""
    name = _base(real[0].text)
    out: list[str] = []
    urls = [w.text for w in real[1:] if re.match(r"(?i)(https?|ftp)://", w.text)]
    remote_name = False
    directory = ""
    i = 1
    while i < len(real):
        text = real[i].text
        value = real[i + 1].text if i + 1 < len(real) else ""
        long_flags = {"curl": ("--output", "--output-dir"),
                      "wget": ("--output-document", "--directory-prefix")}.get(name, ())
        if text in long_flags or (text.startswith("--") and text.split("=", 1)[0] in long_flags):
            arg = text.split("=", 1)[1] if "=" in text else value
            if arg == "-" and name == "wget":
                return []
            if text.startswith(("--output-dir", "--directory-prefix")):
                directory = arg
            else:
                out.append(arg)
            i += 1 if "=" in text else 2
            continue
        if text == "--remote-name" or text == "--remote-name-all":
            remote_name = True
        elif text.startswith("-") and not text.startswith("--"):
            takes = {"curl": "o", "wget": "OP"}.get(name, "")
            for k, flag in enumerate(text[1:], start=1):
                if name == "curl" and flag == "O":
                    remote_name = True
                if flag in takes:
                    arg = text[k + 1:] or value
                    if flag == "P":
                        directory = arg
                    elif arg == "-" and name == "wget":
                        return []
                    else:
                        out.append(arg)
                    if not text[k + 1:]:
                        i += 1
                    break
        i += 1
    if (remote_name or (name == "wget" and not out)) and urls:
        for url in urls:
            base = posixpath.basename(url.split("?", 1)[0].split("#", 1)[0])
            if base:
                out.append(posixpath.join(directory, base) if directory else base)
    return [path for path in out if path and path != "-" and _SUBST not in path]


def _runs_file(real: list[Word], files: set[str]) -> str:
    """The downloaded file this command executes, if any (``sh f``, ``./f``, ``python f``)."""
    if not real:
        return ""
    first = real[0].text
    bases = {posixpath.basename(f): f for f in files}
    if first in files or (("/" in first) and posixpath.basename(first) in bases):
        return first
    name = _base(first)
    if _interpreter_kind(name) or name in ("source", "."):
        for word in real[1:]:
            if word.text.startswith("-"):
                continue
            if word.text in files or posixpath.basename(word.text) in bases:
                return word.text
            break
    return ""


def remote_exec(text: str, script: Script | None = None) -> list[RemoteExec]:
    """Where remote content is run as a program in shell ``text`` (see the module docstring);
    ``script`` is ``text`` already parsed, if the caller has it."""
    found: list[RemoteExec] = []
    if _PS_IEX.search(text):
        found.append(RemoteExec("powershell", "a PowerShell web download",
                                "Invoke-Expression"))
    if _PY_EXEC_URL.search(text):
        found.append(RemoteExec("python-exec", "a Python URL fetch", "exec()"))
    budget = [MAX_COMMANDS]
    if script is None:
        script = parse_script(text)
    if script.walked is None:
        script.walked = list(_walk(script, 0, None, False))
    downloaded: dict[str, str] = {}
    verified = False
    runs: list[tuple[str, str]] = []
    for pipeline, index, cmd, in_subst in script.walked:
        real = cmd.real
        name = cmd.name
        if _verifies(real, pipeline, index, in_subst):
            verified = True
        if name in FETCHERS:
            downloaded.update(dict.fromkeys(_downloads(real), name))
            for later in pipeline[index + 1:]:
                if _reads_stdin(later.real):
                    found.append(RemoteExec("pipe", name, later.name))
                    break
        # an interpreter whose stdin is redirected from a download: bash < <(curl …)
        if _interpreter_kind(name):
            for word in cmd.words:
                if word.redirect == "<" and word.procsub:
                    fetcher = _has_fetcher(word.subs[0], 1, budget)
                    if fetcher:
                        found.append(RemoteExec("substitution", fetcher, name))
        for word in _program_text(real):
            for sub in word.subs:
                fetcher = _has_fetcher(sub, 1, budget)
                if fetcher:
                    found.append(RemoteExec("substitution", fetcher, name))
                    break
        ran = _runs_file(real, set(downloaded)) if downloaded else ""
        if ran:
            runs.append((ran, name))
    if runs and not verified:
        ran, name = runs[0]
        fetcher = downloaded.get(ran) or next(
            (f for path, f in downloaded.items() if posixpath.basename(path)
             == posixpath.basename(ran)), "a downloader")
        found.append(RemoteExec("download-then-run", fetcher, name or ran))
    return found
