"""Dockerfiles: instructions and stages read with dockerfile-parse, then the ``iac.docker.*``
checks.

Reading. dockerfile-parse splits instructions (line continuations, comment lines inside them and
the ``# escape=`` directive included) but knows nothing of BuildKit here-documents
(``RUN <<EOF … EOF``, ``COPY <<EOF /etc/app.conf``): :func:`_split_heredocs` takes their bodies
out first (the lines are blanked, so line numbers stay true) and gives them back to the
instruction they belong to. Nothing is built, run or fetched.

Stages. Every ``FROM`` starts a stage (``AS name`` names it). A ``FROM`` naming an earlier stage
is not a base image: that stage continues (its user, ENV and HEALTHCHECK are inherited). Global
``ARG``s (before the first ``FROM``) are substituted in ``FROM`` (``ARG BASE=python:3.12``,
``FROM $BASE``); stage ``ARG``/``ENV`` values in ``USER`` and ``EXPOSE``. A value that cannot
be resolved is an ``iac.unresolved`` problem, never a pass.

The runtime user is the final stage's: its last ``USER``, else the one inherited from the
earlier stage it is built on, else the base image's default, which is root except for the few
bases of :data:`.images.NONROOT_BASES`.

What is judged where. The runtime user, HEALTHCHECK and EXPOSE are judged on the final stage
and the stages it is built on (what ships); base images, RUN commands, ADD/COPY and ENV/ARG
values (global ARGs included) in every stage, because they run at build time or sit in the
file. A secret file copied into a build stage the final image does not descend from is
reported with lower severity (it stays in the build cache and any pushed stage).

Bounds: the file size (the budget), :data:`MAX_LINE_CHARS` per line (longer lines are cut),
:data:`MAX_CONTINUATION_LINES` lines per instruction, :data:`MAX_INSTRUCTIONS` instructions and
the shell reader's own bounds (:mod:`.shell`); a file cut at a bound is reported as an
``iac.budget-exceeded`` problem and its start is still analysed.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from dockerfile_parse import DockerfileParser

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.docker import shell, verify
from secpipe.scanners.iac.docker.common import (
    decode,
    known_key_shape,
    literal_value,
    read_file,
    redact,
    scrub,
    secret_name,
    url_password,
    weak_value,
)
from secpipe.scanners.iac.docker.images import parse_image, runs_nonroot_by_default
from secpipe.scanners.iac.model import (
    Analysis,
    Budget,
    IacFile,
    IacHit,
    IacResource,
    Problem,
    Unresolved,
)

MAX_LINE_CHARS = 100_000
"""Longest physical line read; the rest of a longer line is ignored (and reported)."""
MAX_INSTRUCTIONS = 20_000
"""Most instructions analysed in one Dockerfile."""
MAX_CONTINUATION_LINES = 1000
"""Most physical lines of one instruction (dockerfile-parse joins them in quadratic time)."""
MAX_SCRIPT_CHARS = 200_000
"""Longest RUN text (heredoc bodies included) given to the shell reader."""

_KNOWN = frozenset({"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
                    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
                    "HEALTHCHECK", "SHELL"})
_HEREDOC = re.compile(r"(?<!<)<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_DIRECTIVE = re.compile(r"^\s*#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|"
                  r"([A-Za-z_][A-Za-z0-9_]*))")
_URL = re.compile(r"(?i)^(https?|ftp)://")
_GIT_URL = re.compile(r"(?i)^(git@|git://|https?://[^ ]+\.git(#|$))")
_ARCHIVE = re.compile(r"(?i)\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst)$")
_PIP = re.compile(r"pip[0-9.]*$")
_PY = re.compile(r"(python|pypy)[0-9.]*$")
_ROOT_USERS = frozenset({"root", "0", "containeradministrator"})

_SECRET_FILES = frozenset({
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", ".env",
    ".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials", ".pgpass", ".htpasswd",
    ".dockercfg", "credentials", "credentials.json", "client_secret.json", "kubeconfig",
    "service-account.json", "service_account.json", "secrets.env", ".ssh", ".aws", ".gnupg",
    ".docker/config.json", ".vault-token", "terraform.tfstate"})
_SECRET_SUFFIX = (".key", ".p12", ".pfx", ".jks", ".keystore", ".ppk", ".pem", ".env")
_PUBLIC_HINT = re.compile(r"(?i)(cert|(^|[-_.])ca([-_.]|$)|chain|pub|public|root|bundle|"
                          r"example|sample|template|dist|default|test)")

# Values of these variables configure pip the way the command-line flags do.
_PIP_ENV_INSECURE = ("PIP_TRUSTED_HOST", "UV_INSECURE_HOST")
_PIP_ENV_INDEX = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX_URL",
                  "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX")
_PIP_ENV_EXTRA = ("PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL")


@dataclass
class Instruction:
    """One Dockerfile instruction."""

    cmd: str
    """Upper-case keyword (``RUN``); for ``ONBUILD RUN …`` the inner one, ``onbuild`` set."""
    value: str
    """Everything after the keyword, continuation lines joined."""
    line: int
    """1-based first line."""
    end_line: int
    """1-based last line (here-document bodies included)."""
    flags: dict[str, str] = field(default_factory=dict)
    """Leading ``--name=value`` options (``--from``, ``--chmod``, ``--mount``…)."""
    args: str = ""
    """The value without its leading options."""
    heredocs: list[str] = field(default_factory=list)
    """Bodies of the here-documents the instruction opens, in order."""
    heredoc_lines: list[int] = field(default_factory=list)
    """1-based line of each body's first line."""
    onbuild: bool = False

    def exec_form(self) -> list[str] | None:
        """The JSON array form (``["sh", "-c", "…"]``), else None."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
        return None

    def words(self) -> list[str]:
        """The arguments split as the builder does (exec form, else shell-like words)."""
        form = self.exec_form()
        if form is not None:
            return form
        return _split(self.args)


@dataclass
class Stage:
    """One build stage."""

    index: int
    name: str
    """``AS`` name, lower-cased ('' when unnamed)."""
    start: Instruction
    """Its ``FROM``."""
    base: str
    """The base as resolved ('' when not resolved)."""
    base_text: str
    """The base as written."""
    parent: Stage | None = None
    """The earlier stage it is built on."""
    instructions: list[Instruction] = field(default_factory=list)
    env: dict[str, str | None] = field(default_factory=dict)
    """ARG/ENV values known at the end of the stage (``None``: declared, no value)."""

    @property
    def label(self) -> str:
        return self.name or str(self.index)

    @property
    def end_line(self) -> int:
        return max([self.start.end_line, *(i.end_line for i in self.instructions)])


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:
        return text.split()


def _substitute(text: str, env: dict[str, str | None]) -> tuple[str, list[str]]:
    """``text`` with ``$VAR``/``${VAR}``/``${VAR:-default}`` replaced from ``env``; the names
    that could not be resolved."""
    missing: list[str] = []

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3) or ""
        value = env.get(name)
        if op in (":-", "-"):
            return value if value else word
        if op in (":+", "+"):
            return word if value else ""
        if value is None:
            missing.append(name)
            return match.group(0)
        return value

    return _VAR.sub(repl, text), missing


def _directives(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        match = _DIRECTIVE.match(line)
        if not match or match.group(1).lower() in found:
            break
        found[match.group(1).lower()] = match.group(2)
    return found


_Body = tuple[str, int, int]
"""A here-document: its text, the 0-based index of its first line and of its delimiter line."""


def _split_heredocs(lines: list[str], escape: str
                    ) -> tuple[list[str], dict[int, list[_Body]], list[int]]:
    """Lines with here-document bodies blanked, the bodies by the 0-based line that opens them,
    and the 0-based first lines of instructions cut at :data:`MAX_CONTINUATION_LINES` (their
    further lines are blanked too). A marker without its closing delimiter is left as text (not
    a here-document)."""
    out = list(lines)
    bodies: dict[int, list[_Body]] = {}
    cut: list[int] = []
    i = 0
    in_continuation = False
    current = ""
    start = 0
    for_instruction = 0  # physical lines of the current instruction so far
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if in_continuation:
            for_instruction += 1
            if for_instruction > MAX_CONTINUATION_LINES:
                if not cut or cut[-1] != start:
                    cut.append(start)
                out[i] = "\n"
                if stripped and not stripped.startswith("#"):
                    in_continuation = line.rstrip().endswith(escape)
                i += 1
                continue
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        if not in_continuation:
            words = stripped.split(None, 2)
            current = words[0].upper()
            if current == "ONBUILD" and len(words) > 1:
                current = words[1].upper()
            start, for_instruction = i, 1
        in_continuation = line.rstrip().endswith(escape)
        opened = i
        i += 1
        if current not in ("RUN", "COPY", "ADD"):
            continue
        for dash, _, delim in _HEREDOC.findall(line):
            end = i
            while end < len(lines):
                candidate = lines[end].rstrip("\r\n")
                if (candidate.lstrip("\t") if dash else candidate) == delim:
                    break
                end += 1
            if end >= len(lines):
                break  # no closing delimiter: not a here-document
            bodies.setdefault(opened, []).append(("".join(lines[i:end]), i, end))
            for k in range(i, end + 1):
                out[k] = "\n"
            i = end + 1
            in_continuation = False
    return out, bodies, cut


def _take_flags(inst: Instruction) -> None:
    rest = inst.value.lstrip()
    while rest.startswith("--"):
        parts = rest.split(None, 1)
        name, _, value = parts[0][2:].partition("=")
        inst.flags[name.lower()] = value
        rest = parts[1].lstrip() if len(parts) > 1 else ""
    inst.args = rest


def parse_instructions(text: str) -> tuple[list[Instruction], list[str], bool]:
    """The instructions of a Dockerfile, problems met reading it (one line each) and whether
    a bound cut the reading."""
    problems: list[str] = []
    # split on "\n" only, as the builder and dockerfile-parse do (not on \r, \f or U+2028)
    lines = [line + "\n" for line in text.split("\n")]
    if lines and lines[-1] == "\n":
        lines.pop()
    cut = False
    for k, line in enumerate(lines):
        if len(line) > MAX_LINE_CHARS:
            lines[k] = line[:MAX_LINE_CHARS] + "\n"
            if not cut:
                problems.append(f"line {k + 1} is longer than {MAX_LINE_CHARS} characters: "
                                "only its start was analysed")
            cut = True
    escape = "`" if _directives(lines).get("escape") == "`" else "\\"
    blanked, bodies, long_ones = _split_heredocs(lines, escape)
    for first in long_ones:
        problems.append(f"the instruction on line {first + 1} continues over more than "
                        f"{MAX_CONTINUATION_LINES} lines: only its first lines were analysed")
        cut = True
    parser = DockerfileParser(fileobj=BytesIO("".join(blanked).encode("utf-8", "replace")),
                              env_replace=False)
    out: list[Instruction] = []
    for entry in parser.structure:
        cmd = str(entry["instruction"])
        if cmd == "COMMENT":
            continue
        if len(out) >= MAX_INSTRUCTIONS:
            problems.append(f"more than {MAX_INSTRUCTIONS} instructions: the rest was not "
                            "analysed")
            cut = True
            break
        start, end = int(entry["startline"]), int(entry["endline"])
        inst = Instruction(cmd=cmd, value=str(entry["value"] or ""), line=start + 1,
                           end_line=end + 1)
        if cmd == "ONBUILD":
            inner, _, rest = inst.value.strip().partition(" ")
            inst.cmd, inst.value, inst.onbuild = inner.upper(), rest, True
        for opened in range(start, end + 1):
            for body, first, delimiter in bodies.get(opened, []):
                inst.heredocs.append(body)
                inst.heredoc_lines.append(first + 1)
                inst.end_line = max(inst.end_line, delimiter + 1)
        _take_flags(inst)
        out.append(inst)
    return out, problems, cut


def _key_values(inst: Instruction) -> list[tuple[str, str | None]]:
    """``ARG A B=1`` / ``ENV A=1 B="x y"`` / legacy ``ENV A value with spaces``."""
    text = inst.args.strip()
    if not text:
        return []
    words = _split(text)
    if inst.cmd == "ENV" and words and "=" not in words[0]:
        name, _, rest = text.partition(" ")
        value = rest.strip()
        return [(name, _split(value)[0] if len(_split(value)) == 1 else value)]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, eq, value = word.partition("=")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            pairs.append((name, value if eq else None))
    return pairs


class _Checker:
    def __init__(self, rel: str, analysis: Analysis) -> None:
        self.rel = rel
        self.analysis = analysis

    def hit(self, rule: str, stage: Stage | None, line: int, message: str, evidence: str = "",
            severity: Severity | None = None, confidence: Confidence | None = None) -> None:
        """Record a hit in ``stage`` (``None``: the global ARGs before the first FROM)."""
        where = f"Dockerfile stage {stage.label}" if stage is not None else "Dockerfile"
        block = (stage.start.line, stage.end_line) if stage is not None else (line, line)
        self.analysis.hits.append(IacHit(
            rule_id=rule, path=self.rel, line=line, message=scrub(f"{where}: {message}"),
            resource=where, block=block, severity=severity, confidence=confidence,
            evidence=scrub(evidence)[:300]))

    def problem(self, rule: str, line: int | None, message: str) -> None:
        self.analysis.problems.append(Problem(rule, self.rel, line, message))


def _build_stages(insts: list[Instruction], check: _Checker) -> list[Stage]:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    current: Stage | None = None
    for inst in insts:
        if inst.cmd == "FROM":
            words = _split(inst.args)
            base_text = words[0] if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else ""
            base, missing = _substitute(base_text, global_args)
            parent = by_name.get(base.lower())
            stage = Stage(index=len(stages), name=name, start=inst, base=base,
                          base_text=base_text, parent=parent)
            if missing:
                stage.base = ""
                check.problem("iac.unresolved", inst.line,
                              f"FROM {base_text}: {', '.join(sorted(set(missing)))} has no "
                              "default: the base image was judged unknown")
            if parent is not None:
                stage.env = {k: v for k, v in parent.env.items()}
            stages.append(stage)
            if name:
                by_name[name] = stage
            current = stage
            continue
        if current is None:
            if inst.cmd == "ARG":
                for key, value in _key_values(inst):  # ARG BASE=python:${PY}: PY from above
                    global_args[key] = _substitute(value, global_args)[0] \
                        if value is not None else None
            else:
                check.problem("iac.parse-error", inst.line,
                              f"{inst.cmd} before the first FROM (only ARG may come first)")
            continue
        current.instructions.append(inst)
        if inst.cmd in ("ARG", "ENV"):
            for key, value in _key_values(inst):
                if value is None and inst.cmd == "ARG":
                    value = global_args.get(key)
                if value is not None:
                    value, _ = _substitute(value, current.env)
                current.env[key] = value
    return stages


def _runtime_user(stage: Stage) -> tuple[str | None, Instruction | None, Stage]:
    """The last USER of the stage chain (value resolved, its instruction, its stage), else
    ``(None, None, root stage of the chain)``."""
    seen: set[int] = set()
    node: Stage | None = stage
    last = stage
    while node is not None and node.index not in seen:
        seen.add(node.index)
        for inst in reversed(node.instructions):
            if inst.cmd == "USER" and not inst.onbuild:
                return inst.args.strip(), inst, node
        last = node
        node = node.parent
    return None, None, last


def _has_healthcheck(stage: Stage) -> bool:
    node: Stage | None = stage
    seen: set[int] = set()
    while node is not None and node.index not in seen:
        seen.add(node.index)
        if any(i.cmd == "HEALTHCHECK" and not i.onbuild for i in node.instructions):
            return True
        node = node.parent
    return False


def _check_root(stage: Stage, check: _Checker) -> tuple[str | Unresolved | None,
                                                        bool | Unresolved]:
    """Report a root runtime user; return (the user as resolved, whether it is root)."""
    user, inst, root_stage = _runtime_user(stage)
    if user is None:
        if not root_stage.base:
            check.hit("iac.docker.root-user", stage, stage.start.line,
                      "no USER instruction and the base image is not known statically: "
                      "assumed to run as root", confidence=Confidence.LOW)
            return None, Unresolved(root_stage.base_text, "base image not known statically")
        image = parse_image(root_stage.base)
        if root_stage.base.lower() != "scratch" and runs_nonroot_by_default(image):
            return None, False
        check.hit("iac.docker.root-user", stage, stage.start.line,
                  f"no USER instruction: runs as the base image's default user, root "
                  f"(base {root_stage.base})", evidence=f"FROM {root_stage.base_text}")
        return None, True
    assert inst is not None
    resolved, missing = _substitute(user, stage.env)
    if missing:
        why = f"{', '.join(sorted(set(missing)))} has no value"
        check.problem("iac.unresolved", inst.line,
                      f"USER {user}: {why}: the runtime user of the final stage is unknown")
        return Unresolved(user, why), Unresolved(user, why)
    name = resolved.split(":", 1)[0].strip().lower()
    if name in _ROOT_USERS:
        check.hit("iac.docker.root-user", stage, inst.line,
                  f"the last USER is {resolved}: the container runs as root",
                  evidence=f"USER {user}")
        return resolved, True
    return resolved, False


def _check_from(stage: Stage, check: _Checker) -> None:
    if stage.parent is not None or not stage.base or stage.base.lower() == "scratch":
        return
    image = parse_image(stage.base)
    if image.pinned:
        return
    what = "the latest tag" if image.tag else "no tag"
    check.hit("iac.docker.base-image-unpinned", stage, stage.start.line,
              f"base image {stage.base} uses {what}: builds change when the tag moves",
              evidence=f"FROM {stage.base_text}")


def _world_writable(mode: str) -> bool:
    mode = mode.strip()
    if re.fullmatch(r"[0-7]{1,4}", mode):
        digits = mode.zfill(4)
        if int(digits[0]) & 1:
            return False  # sticky bit: shared scratch space, like /tmp
        return bool(int(digits[3]) & 2)
    writable = False
    for clause in mode.split(","):
        match = re.fullmatch(r"([ugoa]*)((?:[-+=][rwxXstugo]*)+)", clause)
        if not match:
            continue
        who, ops = match.group(1), match.group(2)
        if "t" in ops:
            return False
        if ("o" in who or "a" in who) and any(
                op in "+=" and "w" in perms for op, perms in re.findall(r"([-+=])([^-+=]*)", ops)):
            writable = True
    return writable


def _pip_invocations(script: shell.Script) -> list[list[str]]:
    """Arguments of every ``pip install`` (also ``python -m pip``, ``uv pip``)."""
    out: list[list[str]] = []
    for _, _, cmd in shell.iter_commands(script):
        real = [w.text for w in cmd.real]
        if not real:
            continue
        name = posixpath.basename(real[0])
        if _PIP.match(name):
            args = real[1:]
        elif _PY.match(name) and real[1:3] == ["-m", "pip"]:
            args = real[3:]
        elif name == "uv" and real[1:2] == ["pip"]:
            args = real[2:]
        else:
            continue
        if any(a in ("install", "download", "wheel", "sync", "compile") for a in args[:3]):
            out.append(args)
    return out


def _pip_problems(args: list[str]) -> tuple[list[str], bool]:
    """(what makes this pip install insecure, whether it uses --extra-index-url)."""
    insecure: list[str] = []
    extra = False
    index_flags = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--index",
                   "--default-index")
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        name, eq, inline = arg.partition("=")
        if arg.startswith("-i") and not arg.startswith("--") and len(arg) > 2:
            name, inline, eq = "-i", arg[2:], "="
        if name in ("--trusted-host", "--allow-insecure-host"):
            insecure.append(f"{name} {inline or value}".strip())
        if name == "--extra-index-url":
            extra = True
        if name in index_flags:
            url = inline if eq else value
            if url.lower().startswith("http://"):
                insecure.append(f"{name} {url} (plain http)")
            i += 1 if eq else 2
            continue
        if re.match(r"(?i)^(git\+)?http://", arg):
            insecure.append(f"{arg} (plain http)")
        i += 1
    return insecure, extra


def _script_of(inst: Instruction) -> str:
    """The shell text of a RUN: its command (an exec form quoted back into words) and its
    here-document bodies (also those fed to another interpreter: a download is searched for
    there too)."""
    form = inst.exec_form()
    text = " ".join(shlex.quote(a) for a in form) if form is not None else inst.args
    return "\n".join([text, *inst.heredocs])[:MAX_SCRIPT_CHARS]


def _body_line(inst: Instruction, word: str) -> tuple[int, str]:
    """The line (and its text) of the first here-document body line naming ``word``, else the
    instruction's own line and text."""
    if inst.heredocs and word not in inst.args:
        for body, first in zip(inst.heredocs, inst.heredoc_lines, strict=True):
            for k, line in enumerate(body.splitlines()):
                if word in line:
                    return first + k, line.strip()
    return inst.line, _evidence(inst)


def _check_run(stage: Stage, inst: Instruction, check: _Checker) -> None:
    text = _script_of(inst)
    script = shell.parse_script(text)
    for found in shell.remote_exec(text, script):
        line, evidence = _body_line(inst, found.fetcher)
        if found.how == "download-then-run":
            check.hit("iac.docker.remote-script-exec", stage, line,
                      f"a file downloaded with {found.fetcher} is run by {found.interpreter} "
                      "with no checksum or signature check in the same RUN",
                      evidence=evidence, confidence=Confidence.MEDIUM)
        else:
            how = {"pipe": "piped into", "substitution": "substituted into",
                   "powershell": "passed to", "python-exec": "passed to"}[found.how]
            check.hit("iac.docker.remote-script-exec", stage, line,
                      f"output of {found.fetcher} {how} {found.interpreter}: remote code runs "
                      "unverified", evidence=evidence)
        break
    if "sudo" in shell.raw_programs(script):
        check.hit("iac.docker.sudo", stage, inst.line, "RUN calls sudo", evidence=_evidence(inst))
    for real in shell.commands_named(script, {"chmod"}):
        modes = [w.text for w in real[1:]
                 if not w.text.startswith("--") and not re.fullmatch(r"-[RfvcH]+", w.text)]
        if modes and _world_writable(modes[0]):
            check.hit("iac.docker.world-writable", stage, inst.line,
                      f"chmod {modes[0]} makes files writable by every user",
                      evidence=_evidence(inst))
            break
    account = _literal_account_password(script)
    if account:
        check.hit("iac.docker.hardcoded-secret", stage, inst.line,
                  f"RUN sets an account password from a literal ({account}): it is in the "
                  "Dockerfile and the image history", evidence=f"RUN … | {account}")
    tls = verify.tls_disabled(script)
    if tls:
        check.hit("iac.docker.tls-verification-disabled", stage, inst.line,
                  f"{tls[0]} accepts any certificate", evidence=_evidence(inst))
    unsigned = verify.signatures_disabled(script, text)
    if unsigned:
        check.hit("iac.docker.package-signature-disabled", stage, inst.line,
                  f"{unsigned[0]}: packages are installed without checking signatures",
                  evidence=_evidence(inst))
    for args in _pip_invocations(script):
        insecure, extra = _pip_problems(args)
        if insecure:
            check.hit("iac.docker.pip-insecure-index", stage, inst.line,
                      f"pip install with {insecure[0]}", evidence=_evidence(inst))
        if extra:
            check.hit("iac.docker.pip-extra-index-url", stage, inst.line,
                      "pip install with --extra-index-url: a public package can shadow a "
                      "private one", evidence=_evidence(inst))


_PASSWORD_SETTERS = frozenset({"chpasswd", "passwd"})


def _literal_account_password(script: shell.Script) -> str:
    """The program (``chpasswd``, ``passwd --stdin``) given a password written in the script:
    ``echo 'root:s3cret' | chpasswd``, ``printf 'app:pw' | chpasswd``; '' when none (a password
    read from a secret mount, ``chpasswd < /run/secrets/pw``, is not one)."""
    for pipeline, index, cmd in shell.iter_commands(script):
        if cmd.name not in _PASSWORD_SETTERS or index == 0:
            continue
        if cmd.name == "passwd" and not any(w.text == "--stdin" for w in cmd.real):
            continue
        source = pipeline[index - 1]
        if source.name not in ("echo", "printf"):
            continue
        values = [w.text for w in source.real[1:] if not w.text.startswith("-")]
        literal = [v for v in values if v and "$" not in v and "\x00" not in v]
        if literal and all(literal_value(v.split(":", 1)[-1]) for v in literal):
            return cmd.name
    return ""


def _evidence(inst: Instruction) -> str:
    text = " ".join(f"{inst.cmd} {inst.value}".split())
    return text if len(text) <= 200 else text[:199] + "…"


def _secret_file(source: str) -> bool:
    path = source.strip().rstrip("/")
    base = posixpath.basename(path)
    low = base.lower()
    if low in _SECRET_FILES or path.lower().endswith(tuple(f"/{n}" for n in _SECRET_FILES
                                                           if "/" in n)):
        return True
    if low.startswith(".env.") and not _PUBLIC_HINT.search(low[5:]):
        return True
    if low.endswith(_SECRET_SUFFIX) and low not in (".env",):
        stem = low.rsplit(".", 1)[0]
        if low.endswith((".pem", ".env")) and _PUBLIC_HINT.search(stem):
            return False
        return not _PUBLIC_HINT.search(stem) or low.endswith((".key", ".ppk"))
    return low.startswith("id_") and low.endswith(("rsa", "dsa", "ecdsa", "ed25519"))


def _chain(stage: Stage) -> set[int]:
    """Indexes of the stage and the earlier stages it is built on (what ends up in its image)."""
    out: set[int] = set()
    node: Stage | None = stage
    while node is not None and node.index not in out:
        out.add(node.index)
        node = node.parent
    return out


def _check_copy(stage: Stage, inst: Instruction, check: _Checker, shipped: bool) -> None:
    words = inst.words()
    sources = words[:-1] if len(words) > 1 else []
    mode = inst.flags.get("chmod", "")
    if mode and _world_writable(mode):
        check.hit("iac.docker.world-writable", stage, inst.line,
                  f"{inst.cmd} --chmod={mode} makes files writable by every user",
                  evidence=_evidence(inst))
    if inst.heredocs:
        unsigned = verify.signatures_disabled(shell.Script(), "\n".join(inst.heredocs))
        if unsigned:
            check.hit("iac.docker.package-signature-disabled", stage, inst.line,
                      f"{inst.cmd} writes {unsigned[0]}", evidence=_evidence(inst))
    if "from" in inst.flags:
        return  # copied from another stage or image, not from the build context
    sources = [s for s in sources if not s.startswith("<<")]
    if inst.cmd == "ADD":
        remote = [s for s in sources if _URL.match(s) or _GIT_URL.match(s)]
        for src in remote:
            if "checksum" in inst.flags:
                continue
            if _GIT_URL.match(src) and re.search(r"#[0-9a-fA-F]{40}$", src):
                continue
            check.hit("iac.docker.add-remote-url", stage, inst.line,
                      f"ADD {src} fetches remote content with no --checksum",
                      evidence=_evidence(inst))
            break
        local = [s for s in sources if s not in remote]
        if local and not remote and not any(_ARCHIVE.search(s) or "$" in s for s in local):
            check.hit("iac.docker.add-instead-of-copy", stage, inst.line,
                      f"ADD {' '.join(local)[:120]}: COPY does the same without ADD's URL and "
                      "unpacking behaviour", evidence=_evidence(inst))
    for src in sources:
        if not _URL.match(src) and _secret_file(src):
            if shipped:
                check.hit("iac.docker.secret-file-copied", stage, inst.line,
                          f"{inst.cmd} {src}: a secret file ends up in an image layer",
                          evidence=_evidence(inst))
            else:
                check.hit("iac.docker.secret-file-copied", stage, inst.line,
                          f"{inst.cmd} {src}: a secret file is copied into a build stage (not "
                          "in the final image, but in the build cache and any pushed build "
                          "stage)", evidence=_evidence(inst), severity=Severity.MEDIUM,
                          confidence=Confidence.MEDIUM)
            break


def _check_env(stage: Stage | None, inst: Instruction, check: _Checker) -> None:
    for name, value in _key_values(inst):
        upper = name.upper()
        if value is not None and value.strip():
            shape = known_key_shape(value)
            password = "" if shape else url_password(value)
            if shape or password or (secret_name(name) and literal_value(value)):
                confidence: Confidence | None
                if shape:
                    why, confidence = f"looks like a {shape.removeprefix('secrets.')}", \
                        Confidence.HIGH
                elif password:
                    why, confidence = "is a URL with a password", \
                        Confidence.LOW if weak_value(password) else None
                else:
                    why, confidence = "is a literal value", \
                        Confidence.LOW if weak_value(value) else None
                shown = value.replace(password, redact(password)) if password else redact(value)
                check.hit("iac.docker.hardcoded-secret", stage, inst.line,
                          f"{inst.cmd} {name} {why}: it is stored in the image",
                          evidence=f"{inst.cmd} {name}={shown}", confidence=confidence)
                continue
        elif inst.cmd == "ARG" and value is None and secret_name(name):
            check.hit("iac.docker.secret-build-arg", stage, inst.line,
                      f"ARG {name}: a secret passed as a build argument is recorded in the "
                      "image history", evidence=f"ARG {name}")
        if value is None:
            continue
        tls = verify.tls_env(name, value)
        if tls:
            check.hit("iac.docker.tls-verification-disabled", stage, inst.line,
                      f"{inst.cmd} {tls} turns certificate verification off",
                      evidence=f"{inst.cmd} {tls}")
        if upper in _PIP_ENV_INSECURE and value.strip():
            check.hit("iac.docker.pip-insecure-index", stage, inst.line,
                      f"{inst.cmd} {name} turns off TLS verification for pip",
                      evidence=f"{inst.cmd} {name}={value[:100]}")
        elif upper in _PIP_ENV_INDEX and "http://" in value.lower():
            check.hit("iac.docker.pip-insecure-index", stage, inst.line,
                      f"{inst.cmd} {name} points pip at a plain-http index",
                      evidence=f"{inst.cmd} {name}={value[:100]}")
        if upper in _PIP_ENV_EXTRA and value.strip():
            check.hit("iac.docker.pip-extra-index-url", stage, inst.line,
                      f"{inst.cmd} {name}: a public package can shadow a private one",
                      evidence=f"{inst.cmd} {name}={value[:100]}")


def _check_expose(stage: Stage, inst: Instruction, check: _Checker) -> None:
    for word in _split(inst.args):
        resolved, missing = _substitute(word, stage.env)
        if missing:
            check.problem("iac.unresolved", inst.line,
                          f"EXPOSE {word}: {', '.join(sorted(set(missing)))} has no value")
            continue
        port = resolved.split("/", 1)[0]
        low, _, high = port.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            continue
        if first <= 22 <= last:
            check.hit("iac.docker.ssh-port-exposed", stage, inst.line,
                      f"EXPOSE {resolved} publishes the SSH port", evidence=_evidence(inst))
            return


def _resource(rel: str, stage: Stage, user: str | Unresolved | None,
              runs_as_root: bool | Unresolved | None) -> IacResource:
    instructions: list[dict[str, Any]] = [
        {"instruction": i.cmd, "value": i.value[:2000], "line": i.line,
         **({"onbuild": True} if i.onbuild else {}), **({"flags": dict(i.flags)} if i.flags
                                                        else {})}
        for i in [stage.start, *stage.instructions]]
    attrs: dict[str, Any] = {
        "base": stage.base or Unresolved(stage.base_text, "a variable without a default"),
        "base_stage": stage.parent.label
        if stage.parent else None, "user": user, "runs_as_root": runs_as_root,
        "instructions": instructions, "stage": stage.label}
    return IacResource(framework="dockerfile", type="dockerfile",
                       name=f"Dockerfile stage {stage.label}", path=rel, line=stage.start.line,
                       attrs=attrs, end_line=stage.end_line)


def analyse_text(text: str, rel: str) -> Analysis:
    """Analyse one Dockerfile's text (``rel`` names it in hits and problems)."""
    analysis = Analysis()
    check = _Checker(rel, analysis)
    insts, notes, cut = parse_instructions(text.removeprefix("\ufeff"))
    for note in notes:
        check.problem("iac.budget-exceeded", None, note)
    unknown = [i for i in insts if i.cmd not in _KNOWN]
    if unknown:
        first = unknown[0]
        check.problem("iac.parse-error", first.line,
                      f"unknown instruction {first.cmd[:40]!r}"
                      + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                      + ": the builder would refuse this file; the rest was analysed")
    stages = _build_stages([i for i in insts if i.cmd in _KNOWN], check)
    if not stages:
        check.problem("iac.parse-error", None, "no FROM instruction: not a Dockerfile the "
                                               "builder accepts; nothing analysed")
        return analysis
    final = stages[-1]
    chain = _chain(final)
    for inst in insts:  # global ARGs: their defaults are in the file like any other
        if inst.cmd == "FROM":
            break
        if inst.cmd == "ARG":
            _check_env(None, inst, check)
    for stage in stages:
        _check_from(stage, check)
        for inst in stage.instructions:
            if inst.cmd == "RUN":
                _check_run(stage, inst, check)
            elif inst.cmd in ("COPY", "ADD"):
                _check_copy(stage, inst, check, shipped=stage.index in chain)
            elif inst.cmd in ("ENV", "ARG"):
                _check_env(stage, inst, check)
            elif inst.cmd == "EXPOSE" and stage.index in chain:
                _check_expose(stage, inst, check)
    user, runs_as_root = _check_root(final, check)
    if not _has_healthcheck(final):
        check.hit("iac.docker.healthcheck-missing", final, final.start.line,
                  "the final stage has no HEALTHCHECK")
    for stage in stages:
        if stage is final:
            analysis.resources.append(_resource(rel, stage, user, runs_as_root))
        else:
            stage_user, _, _ = _runtime_user(stage)
            analysis.resources.append(_resource(rel, stage, stage_user, None))
    if not cut:
        analysis.files = 1
    return analysis


def analyse_file(file: IacFile, budget: Budget) -> Analysis:
    """Read (within the budget) and analyse one Dockerfile; problems, never exceptions."""
    analysis = Analysis()
    data = read_file(file, budget, analysis.problems)
    if data is None:
        return analysis
    text = decode(data, file.rel, analysis.problems)
    if text is None:
        return analysis
    return analyse_text(text, file.rel)
