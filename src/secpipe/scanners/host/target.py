"""What ``scan-host`` evaluates: the host itself, a root filesystem folder, or a running
container's root filesystem (``podman mount``, unmounted afterwards).

Target strings (``targets:``; ``secpipe scan host TARGET``): ``host`` or ``/``; ``rootfs:PATH``
or the path of a folder (an unpacked image, a chroot); ``container:ID`` (a podman container,
in the podman store ``podman_root`` / ``podman_runroot`` or the deployment's); ``image:PATH``
(an OCI layout, ``oci-archive`` or ``docker save`` tar, unpacked into the step's folder by
:mod:`.rootfs` for the scan and removed after it). With no target: the run's deployment — its
container when it is a podman one, the host for a process — and none without a deployment
(the step is then SKIPPED).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from secpipe.core.errors import ConfigError, InputError, StepError
from secpipe.core.step import StepContext
from secpipe.scanners.host.rootfs import remove_tree, unpack_image
from secpipe.scanners.ports.deployment import find_deployment
from secpipe.tools.capture import KeepHead, KeepTail
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import ToolCall, ToolStartError, run_for_step

_CONTAINER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class HostTarget:
    """One thing to evaluate."""

    label: str
    """``host``, ``rootfs:PATH`` or ``container:ID`` (finding locations use it)."""
    root: Path | None
    """The root folder (None for a container until it is mounted)."""
    container: bool
    """Evaluated as a container's filesystem (offline), not a booted machine."""
    container_id: str = ""
    podman_root: str | None = None
    podman_runroot: str | None = None
    image: Path | None = None
    """An image to unpack (``image:PATH``)."""
    owners_exact: bool = True
    """File owners are those of the target (False for an image unpacked without root)."""

    @property
    def is_host(self) -> bool:
        return not self.container and self.root == Path("/")


HOST = HostTarget("host", Path("/"), False)


def parse_target(text: str, project_root: Path, podman_root: str | None,
                 podman_runroot: str | None) -> HostTarget:
    """The target a string names; :class:`ConfigError` when malformed, :class:`InputError`
    when the folder does not exist."""
    raw = text.strip()
    if raw in ("host", "/"):
        return HOST
    if raw.startswith("container:"):
        cid = raw[len("container:"):]
        if not _CONTAINER_ID.match(cid):
            raise ConfigError(f"targets: {text[:80]!r} does not name a container")
        return HostTarget(f"container:{cid}", None, True, cid, podman_root, podman_runroot)
    if raw.startswith("image:"):
        image = (project_root / raw[len("image:"):]).resolve()
        if not image.exists():
            raise InputError(f"{raw[len('image:'):]}: no such image (an OCI layout folder, an "
                             "oci-archive or a docker-archive tar)")
        return HostTarget(f"image:{raw[len('image:'):]}", None, True, image=image)
    path_text = raw[len("rootfs:"):] if raw.startswith("rootfs:") else raw
    path = (project_root / path_text).resolve()
    if not path.is_dir():
        raise InputError(f"{path_text}: no such folder (targets are host, rootfs:PATH or "
                         "container:ID)")
    if path == Path("/"):
        return HOST
    return HostTarget(f"rootfs:{path}", path, True)


def default_target(ctx: StepContext, podman_root: str | None,
                   podman_runroot: str | None) -> HostTarget | None:
    """The deployment's container (podman), the host for a process deployment, None without
    a deployment."""
    deployment = find_deployment(ctx)
    if deployment is None:
        return None
    if deployment.kind != "podman" or not deployment.container_id:
        return HOST
    return HostTarget(f"container:{deployment.container_id}", None, True,
                      deployment.container_id, podman_root or deployment.podman_root,
                      podman_runroot or deployment.podman_runroot)


def _podman(program: str, target: HostTarget, *args: str) -> tuple[str, ...]:
    argv = [program]
    if target.podman_root:
        argv += ["--root", target.podman_root]
    if target.podman_runroot:
        argv += ["--runroot", target.podman_runroot]
    return (*argv, *args)


@contextlib.contextmanager
def mounted(ctx: StepContext, target: HostTarget, program: str,
            timeout: float) -> Iterator[HostTarget]:
    """``target`` with its root folder: a container is mounted with ``podman mount`` for the
    time of the block and unmounted after it, whatever happens."""
    if target.root is not None:
        yield target
        return
    workdir = Path(ctx.workdir)
    if target.image is not None:
        dest = workdir / "rootfs"
        remove_tree(dest)
        try:
            unpacked = unpack_image(target.image, dest, cancel=ctx.cancel)
            ctx.log(f"{target.label}: {unpacked.files} files unpacked, {unpacked.skipped} not "
                    f"written, {unpacked.hostile} hostile member(s) refused")
            yield HostTarget(target.label, unpacked.root, True, image=target.image,
                             owners_exact=unpacked.owners_exact)
        finally:
            remove_tree(dest)
        return
    env = tool_env(secrets=ctx.secrets, what="podman")

    def run(*args: str) -> str:
        out = workdir / "podman.out"
        call = ToolCall(argv=_podman(program, target, *args), cwd=workdir, env=env,
                        stdout=KeepHead(out, limit=64 << 10),
                        stderr=KeepTail(workdir / "podman.log", limit=64 << 10), timeout=timeout)
        try:
            outcome = run_for_step(call, cancel=ctx.cancel, secrets=ctx.secrets)
        except ToolStartError as exc:
            raise StepError(f"{exc.message} (scan-host needs podman to mount a container)"
                            ) from None
        if outcome.exit_code != 0:
            why = outcome.stop_reason(timeout) or outcome.stderr.summary
            raise StepError(f"podman {args[0]} {target.container_id} failed: {why[:300]}")
        return out.read_text("utf-8", "replace").strip()

    mountpoint = Path(run("mount", target.container_id).splitlines()[-1].strip())
    if not mountpoint.is_dir():
        raise StepError(f"podman mount {target.container_id} gave no folder")
    try:
        yield HostTarget(target.label, mountpoint, True, target.container_id,
                         target.podman_root, target.podman_runroot)
    finally:
        with contextlib.suppress(StepError):
            run("unmount", target.container_id)
