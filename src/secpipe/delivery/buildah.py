"""buildah, driven daemonless: argv builders (pure, tested without buildah) and one runner that
starts every buildah command through the tool supervisor (:mod:`secpipe.tools.supervisor`).

Every command names the build's own store (``--root``/``--runroot`` under the step's work
folder, ``--storage-driver``), so no build sees another's images and nothing is left in the
user's store. ``bud`` runs with ``--isolation chroot`` (no daemon, no runtime needed) and
``--pull=never`` (the base comes from a local layout, loaded with ``buildah pull oci:…``).
buildah 1.28 refuses ``--network none`` with chroot isolation: ``RUN`` lines of the project's
Dockerfile then share the host's network (docs/build-image.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import StepError
from secpipe.core.interfaces import Secrets
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.supervisor import ToolCall, find_program, run_for_step

INSTALL_HINT = "install it with `apt-get install buildah` (Debian/Ubuntu; scripts/ci-buildah.sh)"
_NAME = re.compile(r"^[a-z0-9]+(?:[._-]+[a-z0-9]+|/[a-z0-9]+)*(?::[0-9]{1,5})?"
                   r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_ID = re.compile(r"^[0-9a-f]{64}$")
_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_ID_BYTES = 4096


class BuildahMissing(StepError):
    """buildah is not installed (or not on the tool's ``PATH``)."""


class BuildahFailed(StepError):
    """A buildah command failed; the message holds its last lines."""


def split_tag(image: str) -> tuple[str, str]:
    """``(name, tag)`` of ``name[:tag]`` (tag default ``latest``); ValueError when either is
    not a valid image name or tag (lower-case name, no digest)."""
    name, tag = image, "latest"
    head, sep, tail = image.rpartition(":")
    if sep and "/" not in tail:
        name, tag = head, tail
    if not _NAME.match(name) or len(name) > 255:
        raise ValueError(f"{name[:80]!r} is not a valid image name (lower-case, e.g. "
                         "localhost/app)")
    if not _TAG.match(tag):
        raise ValueError(f"{tag[:80]!r} is not a valid image tag")
    return name, tag


@dataclass(frozen=True)
class Store:
    """The build's own buildah store."""

    root: Path
    """``--root``: images and layers."""
    runroot: Path
    """``--runroot``: locks and state."""
    driver: str = "vfs"
    """``--storage-driver`` (``vfs`` works everywhere; ``overlay`` is faster where allowed)."""

    def args(self) -> list[str]:
        """The global options naming the store."""
        return ["--root", str(self.root), "--runroot", str(self.runroot),
                "--storage-driver", self.driver]


@dataclass(frozen=True)
class BudOptions:
    """What a ``buildah bud`` is asked to do."""

    dockerfile: Path
    context: Path
    image: str
    """``name:tag`` given to the built image in the store."""
    epoch: int | None = None
    """``--timestamp`` (and the ``SOURCE_DATE_EPOCH`` build argument)."""
    base_id: str | None = None
    """The pulled base image's id, replacing the first ``FROM`` (``--from``)."""
    build_args: Mapping[str, str] | None = None
    target: str | None = None
    platform: str | None = None


def bud_argv(program: str, store: Store, opts: BudOptions) -> tuple[str, ...]:
    """The argv of ``buildah bud`` for ``opts``."""
    argv = [program, *store.args(), "bud", "--isolation", "chroot", "--pull=never",
            "--identity-label=false", "--no-cache", "--rm", "--force-rm",
            "--format", "oci", "-f", str(opts.dockerfile), "-t", opts.image]
    if opts.epoch is not None:
        argv += ["--timestamp", str(opts.epoch),
                 "--build-arg", f"SOURCE_DATE_EPOCH={opts.epoch}"]
    if opts.base_id is not None:
        if not _IMAGE_ID.match(opts.base_id):
            raise ValueError("base image id must be 64 hex digits")
        argv += ["--from", opts.base_id]
    for key, value in sorted((opts.build_args or {}).items()):
        if not _ARG_NAME.match(key):
            raise ValueError(f"{key[:60]!r} is not a valid build argument name")
        argv += ["--build-arg", f"{key}={value}"]
    if opts.target:
        argv += ["--target", opts.target]
    if opts.platform:
        argv += ["--platform", opts.platform]
    argv.append(str(opts.context))
    return tuple(argv)


def pull_argv(program: str, store: Store, transport: str) -> tuple[str, ...]:
    """``buildah pull`` of a local layout (``oci:PATH[:REF]``), printing only the image id."""
    if not transport.startswith(("oci:", "oci-archive:")):
        raise ValueError("only local oci: and oci-archive: bases are pulled")
    return (program, *store.args(), "pull", "--quiet", "--policy", "always", transport)


def push_argv(program: str, store: Store, image: str, dest: str,
              digestfile: Path | None = None) -> tuple[str, ...]:
    """``buildah push IMAGE DEST`` (``oci:DIR:REF`` or ``oci-archive:FILE:REF``)."""
    argv = [program, *store.args(), "push", "--quiet", "--format", "oci",
            "--compression-format", "gzip", "--compression-level", "6"]
    if digestfile is not None:
        argv += ["--digestfile", str(digestfile)]
    return (*argv, image, dest)


@dataclass
class Buildah:
    """Runs buildah commands of one build under the supervisor; outputs go to ``logdir``."""

    program: str
    store: Store
    logdir: Path
    env: Mapping[str, str]
    cancel: threading.Event
    secrets: Secrets | None
    deadline: float
    """Seconds left for all commands together (each call spends from it)."""

    def locate(self) -> str:
        """The program's path; :class:`BuildahMissing` naming the package when there is none."""
        found = find_program(self.program, self.logdir, self.env)
        if found is None:
            raise BuildahMissing(f"buildah not found ({self.program!r} is not on PATH): "
                                 f"{INSTALL_HINT}")
        return found

    def run(self, name: str, argv: Sequence[str], *, keep_stdout: bool = False) -> str:
        """Run one command; its standard output (when ``keep_stdout``, raw and bounded) or ''.

        :class:`BuildahFailed` with the command's last lines when it fails or is stopped.
        """
        self.logdir.mkdir(parents=True, exist_ok=True)
        out = self.logdir / f"{name}.out"
        stdout = KeepHead(out, MAX_ID_BYTES) if keep_stdout else KeepTail(out, 256 << 10)
        call = ToolCall(tuple(argv), self.logdir, self.env, stdout,
                        KeepTail(self.logdir / f"{name}.log", 1 << 20),
                        max(1.0, self.deadline))
        outcome = run_for_step(call, cancel=self.cancel, secrets=self.secrets)
        self.deadline -= outcome.seconds
        reason = outcome.stop_reason(call.timeout)
        tail = outcome.stderr.summary or ("" if keep_stdout else outcome.stdout.summary)
        if reason:
            raise BuildahFailed(f"buildah {name} {reason}" + (f": {tail}" if tail else ""))
        if outcome.exit_code != 0:
            raise BuildahFailed(f"buildah {name} exited with code {outcome.exit_code}"
                                + (f": {tail}" if tail else ": (no output)"))
        if not keep_stdout:
            return ""
        text = out.read_text("utf-8", "replace") if out.is_file() else ""
        return text
