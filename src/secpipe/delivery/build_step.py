"""The ``build-image`` step: build the project's Dockerfile with buildah, daemonless and without
pulls, reproducibly where the inputs are, into an OCI layout and an ``oci-archive``.

Example::

    - uses: build-image
      id: image
      with:
        dockerfile: app/Dockerfile
        context: app
        tag: localhost/example-serve:1.0
        base: oci:images/debian-12:bookworm     # a local OCI layout, or none (FROM scratch)

What it does, in the step's work folder (``ctx.workdir``):

1. the base image (``base:``) is opened and checked by secpipe's own reader, then loaded into a
   fresh buildah store under ``storage/`` (``buildah pull oci:…``: no network);
2. ``buildah bud --isolation chroot --pull=never --timestamp EPOCH`` builds the Dockerfile, the
   base replacing its first ``FROM``; EPOCH is ``source_date_epoch:``, else the environment's
   ``SOURCE_DATE_EPOCH``, else the last git commit's time (:mod:`secpipe.delivery.epoch`);
   buildah then stamps every file and history entry with it, which with the same inputs gives
   the same layers and the same manifest digest;
3. ``buildah push`` writes ``layout/`` (OCI layout, ref = the tag) and ``image.tar``
   (``oci-archive``); both are re-opened with :func:`secpipe.images.open_image` and must hold
   the same manifest digest;
4. the store is removed (``keep_storage: false``).

The result's artifacts: ``image`` (path = the layout, digest = the manifest digest: what
``scan-image``, ``sign`` and ``store`` use) and ``image.tar``. Missing buildah, a bad base, a
failed build are an ERROR naming the cause (buildah's last lines).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from secpipe.core.artifacts import Artifact
from secpipe.core.errors import SecpipeError, StepError
from secpipe.core.results import StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind, StepSettings
from secpipe.delivery.base_image import CheckedBase, check_base, parse_base, pullable_link
from secpipe.delivery.buildah import (
    BudOptions,
    Buildah,
    Store,
    bud_argv,
    pull_argv,
    push_argv,
    split_tag,
)
from secpipe.delivery.dockerfile import missing_bases, read_stages
from secpipe.delivery.epoch import MAX_EPOCH, BuildEpoch, build_epoch
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import step_timeout

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_ARCHIVE = "application/x-tar"
TOOL = "buildah"


class BuildImageError(StepError):
    """The build could not complete or its output is not what it should be."""


class BuildImageSettings(StepSettings):
    """``with:`` of the ``build-image`` step."""

    dockerfile: str = "Dockerfile"
    """The Dockerfile (Containerfile), relative to the project root."""
    context: str = "."
    """The build context folder, relative to the project root."""
    tag: str = "localhost/app:latest"
    """``name[:tag]`` of the built image; the tag is the ref name in the output layout."""
    base: str = "none"
    """``none``, ``oci:PATH[:REF]`` or ``oci-archive:PATH[:REF]``: a local base image replacing
    the Dockerfile's first ``FROM`` (never pulled from a registry)."""
    source_date_epoch: int | None = Field(default=None, ge=0, le=MAX_EPOCH)
    """Timestamp of everything in the image (default: ``SOURCE_DATE_EPOCH``, else the last git
    commit's time)."""
    check_base_layers: bool = True
    """Read every layer of the base (digests verified, bounded) and refuse hostile members
    (paths or symlinks out of the root, device files) before buildah unpacks it."""
    git_epoch: bool = True
    """Use the last git commit's time when no epoch is given."""
    build_args: dict[str, str] = Field(default_factory=dict)
    """``--build-arg`` values (not secrets: they land in the image history)."""
    target: str | None = None
    """The stage to build in a multi-stage Dockerfile."""
    platform: str | None = None
    """``os/arch`` to build for (default the machine's)."""
    storage_driver: str = "vfs"
    """buildah's storage driver for the build's own store (``vfs`` or ``overlay``)."""
    keep_storage: bool = False
    """Keep the buildah store under the work folder after the build."""
    program: str = "buildah"
    """The buildah executable."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds for all buildah commands together (default: the step's timeout)."""

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        split_tag(value)
        return value

    @field_validator("storage_driver")
    @classmethod
    def _driver(cls, value: str) -> str:
        if value not in ("vfs", "overlay"):
            raise ValueError("storage_driver is vfs or overlay")
        return value

    @field_validator("dockerfile", "context")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value or Path(value).is_absolute() or ".." in Path(value).parts:
            raise ValueError("a path inside the project (relative, no '..')")
        return value


class BuildImageStep(StepKind[BuildImageSettings]):
    """Build the project's container image with buildah (daemonless, reproducible)."""

    kind = "build-image"
    summary = ("build the project's Dockerfile with buildah (no daemon, no pulls, reproducible "
               "with SOURCE_DATE_EPOCH) into an OCI layout and an oci-archive")
    Settings = BuildImageSettings
    produces_metrics: ClassVar[tuple[str, ...]] = ("build_*",)

    def run(self, ctx: StepContext, settings: BuildImageSettings) -> StepResult:
        try:
            return _Build(ctx, settings).run()
        except SecpipeError as exc:
            text = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
            return StepResult(status=StepStatus.ERROR, message=ctx.redact(text), tool=TOOL)


def _skipped(message: str) -> StepResult:
    return StepResult(status=StepStatus.SKIPPED, message=message, tool=TOOL)


def _inside(root: Path, rel: str, what: str) -> Path:
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise BuildImageError(f"{what} {rel!r} leads outside the project ({path})")
    return path


class _Build:
    """One build."""

    def __init__(self, ctx: StepContext, settings: BuildImageSettings) -> None:
        self.ctx, self.s = ctx, settings
        self.root = Path(ctx.project_root).resolve()
        self.workdir = Path(ctx.workdir)
        self.started = time.monotonic()

    def run(self) -> StepResult:
        s, ctx = self.s, self.ctx
        dockerfile = _inside(self.root, s.dockerfile, "dockerfile")
        context = _inside(self.root, s.context, "context")
        unset = not s.model_fields_set  # the built-in pipeline's step, nothing configured
        if not dockerfile.is_file():
            if unset and not dockerfile.exists():
                return _skipped(f"nothing found: no {s.dockerfile} in the project")
            raise BuildImageError(f"dockerfile not found: {s.dockerfile}")
        if not context.is_dir():
            raise BuildImageError(f"build context is not a folder: {s.context}")
        base = parse_base(s.base, self.root)
        stages = read_stages(dockerfile)
        if not stages:
            raise BuildImageError(f"{s.dockerfile} has no FROM line")
        if s.target:  # stages after the target are not built
            names = [st.name for st in stages]
            if s.target.lower() in names:
                stages = stages[:names.index(s.target.lower()) + 1]
        missing = missing_bases(stages, first_given=base is not None)
        if missing:
            what = ", ".join(sorted(set(missing))[:5])
            if unset:
                return _skipped(f"not configured: {s.dockerfile} needs {what}, and secpipe "
                                "never pulls; give it as a local OCI layout (with: base: "
                                "oci:PATH[:REF], docs/build-image.md)")
            raise BuildImageError(
                f"{s.dockerfile} needs {what}, which is not in the build's store (secpipe never "
                "pulls)", hint="give the first stage's base as base: oci:PATH[:REF]; later "
                "stages may only name scratch or earlier stages")
        self.workdir.mkdir(parents=True, exist_ok=True)
        store_dir = self.workdir / "storage"
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        try:
            checked = None if base is None else check_base(
                base, layers=s.check_base_layers, spool_dir=tmp, cancel=ctx.cancel)
            env = tool_env(declared={"TMPDIR": str(tmp), "BUILDAH_ISOLATION": "chroot"},
                           secrets=ctx.secrets, what=f"step {ctx.step_id or 'build-image'}")
            tool = Buildah(s.program, Store(store_dir / "root", store_dir / "runroot",
                                            s.storage_driver),
                           self.workdir / "logs", env, ctx.cancel, ctx.secrets,
                           s.timeout or step_timeout(ctx.timeout))
            tool.locate()
            epoch = build_epoch(s.source_date_epoch, self.root, self.workdir / "logs",
                                use_git=s.git_epoch, cancel=ctx.cancel)
            return self._build(tool, dockerfile, context, checked, epoch)
        finally:
            if not s.keep_storage:
                shutil.rmtree(store_dir, ignore_errors=True)
            shutil.rmtree(tmp, ignore_errors=True)

    def _build(self, tool: Buildah, dockerfile: Path, context: Path, checked: CheckedBase | None,
               epoch: BuildEpoch) -> StepResult:
        s, ctx = self.s, self.ctx
        name, tag = split_tag(s.tag)
        image = f"{name}:{tag}"
        base_id = None
        if checked is not None:
            ctx.progress(0, 3, f"loading base image {checked.image.transport}")
            link = pullable_link(checked.image, self.workdir / "tmp")
            try:
                out = tool.run("pull", pull_argv(tool.program, tool.store,
                                                 checked.image.transport_at(link)),
                               keep_stdout=True)
            finally:
                if link != checked.image.path:
                    link.unlink(missing_ok=True)
                    shutil.rmtree(link.parent, ignore_errors=True)
            lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
            base_id = lines[-1] if lines else ""
            if len(base_id) != 64 or any(c not in "0123456789abcdef" for c in base_id):
                raise BuildImageError("buildah pull printed no image id for the base image")
        ctx.progress(1, 3, f"building {s.dockerfile}")
        ctx.log(f"buildah bud {s.dockerfile} (epoch {epoch.seconds} from {epoch.source})")
        tool.run("bud", bud_argv(tool.program, tool.store, BudOptions(
            dockerfile=dockerfile, context=context, image=image, epoch=epoch.seconds,
            base_id=base_id, build_args=s.build_args, target=s.target, platform=s.platform)))
        ctx.progress(2, 3, "writing the OCI layout and oci-archive")
        layout_dir, archive = self.workdir / "layout", self.workdir / "image.tar"
        shutil.rmtree(layout_dir, ignore_errors=True)
        archive.unlink(missing_ok=True)
        digestfile = self.workdir / "logs" / "digest"
        tool.run("push-layout", push_argv(tool.program, tool.store, image,
                                          f"oci:{layout_dir}:{tag}", digestfile))
        tool.run("push-archive", push_argv(tool.program, tool.store, image,
                                           f"oci-archive:{archive}:{tag}"))
        pushed = digestfile.read_text("ascii", "replace").strip() if digestfile.is_file() else ""
        digest, size, layers, layer_bytes = _check_output(layout_dir, archive, tag, pushed)
        ctx.progress(3, 3, "built")
        seconds = round(time.monotonic() - self.started, 3)
        metrics = {"build_seconds": seconds, "build_layers": float(layers),
                   "build_layer_bytes": float(layer_bytes),
                   "build_reproducible": 1.0 if epoch.seconds is not None else 0.0}
        if epoch.seconds is not None:
            metrics["build_source_date_epoch"] = float(epoch.seconds)
        artifacts = (
            Artifact(name="image", path=str(layout_dir), digest=digest, size=size,
                     media_type=OCI_MANIFEST),
            Artifact.from_file("image.tar", archive, media_type=OCI_ARCHIVE),
        )
        note = (f"SOURCE_DATE_EPOCH {epoch.seconds} ({epoch.source})" if epoch.seconds is not None
                else "no SOURCE_DATE_EPOCH: not reproducible")
        base_note = f" on {checked.image.transport}" if checked is not None else ""
        return StepResult(status=StepStatus.PASSED, metrics=metrics, artifacts=artifacts,
                          message=f"built {image}{base_note}: {digest}, {layers} layers, {note}",
                          tool=TOOL)


def _check_output(layout_dir: Path, archive: Path, tag: str,
                  pushed: str) -> tuple[str, int, int, int]:
    """(manifest digest, manifest size, layers, layer bytes) of the pushed image, after opening
    both outputs with secpipe's reader and checking they agree with buildah's digest."""
    from secpipe.images.layout import ImageError, check_digest, open_image

    try:
        if pushed:
            check_digest(pushed, "buildah's digest file")
        with open_image(layout_dir, ref=tag) as image:
            digest = image.manifest_digest
            manifest = image.manifest
            layers = len(image.layers)
            layer_bytes = sum(layer.size or 0 for layer in image.layers)
        with open_image(archive, ref=tag) as packed:
            packed_digest = packed.manifest_digest
    except ImageError as exc:
        raise BuildImageError(f"buildah wrote an image secpipe cannot read: {exc.message}") \
            from None
    if digest is None or manifest is None:
        raise BuildImageError("the built layout holds no OCI manifest")
    if pushed and pushed != digest:
        raise BuildImageError(f"buildah reported {pushed} but the layout holds {digest}")
    if packed_digest != digest:
        raise BuildImageError(f"the oci-archive holds {packed_digest}, the layout {digest}")
    size = _manifest_size(layout_dir, digest)
    return digest, size, layers, layer_bytes


def _manifest_size(layout_dir: Path, digest: str) -> int:
    algo, _, hexd = digest.partition(":")
    try:
        return (layout_dir / "blobs" / algo / hexd).stat().st_size
    except OSError:
        raise BuildImageError(f"manifest blob {digest} missing from the layout") from None
