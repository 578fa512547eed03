"""The ``scan-image`` step kind: a container image's packages, vulnerabilities and contents.

``paths`` are images: an OCI image layout folder, an ``oci-archive`` or a ``docker save`` tar
(``ref:`` and ``platform:`` choose inside a multi-image one), or a registry reference
``oci://HOST[:PORT]/REPO@sha256:HEX`` / ``oci://HOST[:PORT]/REPO:TAG`` (:mod:`.remote`: a tag
resolved to its digest, the manifest of ``platform:`` picked in an index, pulled by digest and
verified into a temporary OCI layout under the step's folder, removed afterwards; ``insecure``,
``username`` and ``password`` as for the OCI store). Each is opened and its layers
applied in memory (:mod:`secpipe.images`: digests verified, whiteouts applied, hostile members
refused), its packages inventoried, matched against the local OSV database (the one
``scan-deps`` uses: ``database:`` > ``$SECPIPE_OSV_DB`` > the user cache) by
:mod:`.vulns`, VEX documents (``vex:``) applied before the gate, and an SBOM (CycloneDX 1.6)
written into the step's folder and returned as an artifact. The layers' contents (secrets,
also in deleted files; model files; the build history) are scanned by :mod:`.content`.

Findings: ``image.vulnerable`` (with the distribution's fix status and fixed version),
``image.incomplete`` (a package database that does not parse, a refused layer member, a release
or ecosystem without data: never a pass), ``image.database-stale``, and the content scan's.
A vulnerability dropped as backported (changelog evidence) or by a VEX statement is listed in
the step's skipped entries with its evidence or justification. An image that cannot be read
(:class:`~secpipe.images.layout.ImageError`) or no database is an ERROR.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from secpipe import __version__
from secpipe.core.artifacts import Artifact
from secpipe.core.errors import InputError
from secpipe.core.findings import Finding
from secpipe.core.results import Skipped, StepResult, StepStatus
from secpipe.core.step import StepContext, StepKind
from secpipe.images import apt_pending as ap
from secpipe.images.inventory import inventory, wanted_for_inventory
from secpipe.images.layers import FileTree, Limits, apply_layers
from secpipe.images.layout import Image, ImageError, open_image
from secpipe.images.pkg_filetree import FileTreeView
from secpipe.images.pkg_model import DEB, Package
from secpipe.images.registry import RegistryError
from secpipe.images.sbom import cyclonedx
from secpipe.keys.refs import resolver_for
from secpipe.scanners.base import NOT_ON_CLI, ScannerSettings, metavar
from secpipe.scanners.deps.osvdb import DatabaseMissing, OsvDatabase, database_path
from secpipe.scanners.deps.step import HOW_TO_GET_DATA, data_age_text
from secpipe.scanners.image import vulns as vm
from secpipe.scanners.image.fixtures import lower_fixture_findings, package_test_files
from secpipe.scanners.image.remote import is_remote, parse_reference, pulled_image
from secpipe.scanners.image.vex import VexStatement, load_vex

GIB = 1 << 30
MAX_LISTED = 20
"""Most backported / VEX-removed vulnerabilities named in the step message."""
MAX_HOSTILE_FINDINGS = 50
"""Most refused layer members reported one by one (the rest are counted)."""
SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"
DEFAULT_PATHS = (".",)
IMAGE_ARTIFACT = "image"
"""Name of the artifact ``build-image`` returns (path: the OCI layout, digest: the manifest)."""
NOTHING_TO_SCAN = "nothing found: no image built or named"


class ImageScanSettings(ScannerSettings):
    """``with:`` settings of ``scan-image`` (``paths`` are images)."""

    paths: list[str] = Field(default_factory=lambda: list(DEFAULT_PATHS))
    """Images to scan, relative to the project root: OCI layout folders, oci-archive or
    docker-archive tars, or registry references oci://HOST[:PORT]/REPO@sha256:HEX or
    oci://HOST[:PORT]/REPO:TAG (when not set: the ``image`` an earlier ``build-image`` step of the
    run produced; with none, the step is SKIPPED)."""
    ref: str | None = Field(default=None, json_schema_extra=metavar("NAME"))
    """The image to take from a layout or archive holding several (a ref name, a tag or a
    manifest digest)."""
    platform: str | None = Field(default=None, json_schema_extra=metavar("OS/ARCH"))
    """The platform to take from a multi-platform index, local or in a registry (default
    linux/amd64)."""
    insecure: bool = Field(default=False, json_schema_extra=NOT_ON_CLI)
    """Reach oci:// registries over plain HTTP (``secpipe scan image --insecure``)."""
    username: str | None = Field(default=None, json_schema_extra=metavar("USER"))
    """oci:// registry user, as for the OCI store (e.g. ``${env:REGISTRY_USER}``)."""
    password: str | None = Field(default=None, json_schema_extra=metavar("REF"))
    """oci:// registry password or token: a secret reference (``${env:REGISTRY_PASSWORD}``)."""
    database: str | None = Field(default=None, json_schema_extra=metavar("FILE"))
    """The OSV database file (default: $SECPIPE_OSV_DB, else
    $XDG_CACHE_HOME/secpipe/osv.sqlite3); relative to the project root."""
    max_database_age_days: float = Field(default=7.0, gt=0, json_schema_extra=metavar("DAYS"))
    """Oldest OSV data accepted, in days since it was loaded."""
    on_stale_database: Literal["error", "finding"] = "error"
    """What older data makes: the step an error, or a high finding (image.database-stale)."""
    vex: list[str] = Field(default_factory=list, json_schema_extra=metavar("FILE"))
    """OpenVEX or CycloneDX VEX documents; not_affected/fixed statements remove a
    vulnerability before the gate (relative to the project root)."""
    sbom: bool = True
    """Write the image's CycloneDX SBOM into the step's folder (an artifact of the step)."""
    contents: bool = True
    """Scan the layers' contents: secrets (also in deleted files), model files, history."""
    distribution_files: bool = False
    """Also scan for secrets the files of installed dpkg packages whose bytes still match the
    package's md5sums, and apt's downloaded indexes (skipped by default: published content;
    set it when the image installs your own .deb packages)."""
    max_image_bytes: int = Field(default=16 * GIB, gt=0, json_schema_extra=metavar("N"))
    """Most uncompressed layer bytes read from one image (a layer bomb stops there)."""
    max_seconds: float | None = Field(default=None, gt=0, json_schema_extra=metavar("S"))
    """Longest time spent applying one image's layers."""
    apt_indexes: list[str] = Field(default_factory=list, json_schema_extra=metavar("PATH"))
    """apt Packages indexes (files, or folders searched for them, e.g. a local mirror's
    dists/bookworm-security) the image's dpkg packages are checked against for pending
    (security) updates, besides the image's own /var/lib/apt/lists; relative to the project."""
    max_apt_index_age_days: float | None = Field(default=30.0, gt=0,
                                                 json_schema_extra=metavar("DAYS"))
    """Oldest apt index (its Release Date:) accepted before an image.apt-index-stale finding."""


class ImageScanStep(StepKind[ImageScanSettings]):
    """Scans container images: packages, their vulnerabilities, the layers' contents."""

    kind = "scan-image"
    summary = "container images: package vulnerabilities (local OSV data), SBOM, layer contents"
    Settings = ImageScanSettings
    produces_metrics = ("images", "packages", "vulnerabilities", "vulnerable_packages",
                        "backported", "vex_suppressed", "duration_seconds",
                        "osv_database_age_days", "pending_security_updates",
                        "distribution_files_skipped", "apt_indexes_skipped")

    def run(self, ctx: StepContext, settings: ImageScanSettings) -> StepResult:
        started = time.monotonic()
        root = ctx.project_root.resolve()
        if "paths" not in settings.model_fields_set:
            built = built_images(ctx)
            if not built:
                return StepResult(status=StepStatus.SKIPPED, message=NOTHING_TO_SCAN,
                                  tool=f"secpipe {__version__}")
            settings = settings.model_copy(update={"paths": built})
        try:
            for named in settings.paths:  # a malformed reference fails before any work
                if is_remote(named):
                    parse_reference(named)
        except RegistryError as exc:
            return _error(_registry_text(exc))
        try:
            statements = load_vex([_under(root, v) for v in settings.vex])
            apt_files = ap.user_index_files([_under(root, p) for p in settings.apt_indexes])
        except InputError as exc:
            return _error(exc.message + (f" ({exc.hint})" if exc.hint else ""))
        db_path = database_path(settings.database, root)
        try:
            db = OsvDatabase(db_path)
        except DatabaseMissing:
            return _error(f"no OSV vulnerability database at {db_path}: {HOW_TO_GET_DATA} "
                          "(or name another file with `database:` or $SECPIPE_OSV_DB)")
        except InputError as exc:
            return _error(exc.message + (f" ({exc.hint})" if exc.hint else ""))
        with db:
            infos = db.ecosystems()
            age = max((i.age_days() for i in infos.values()), default=0.0)
            data = data_age_text(age, list(infos.values()))
            ctx.log(f"OSV database {db.path}: {data}")
            if age > settings.max_database_age_days and settings.on_stale_database == "error":
                return _error(f"{data}, older than max_database_age_days "
                              f"({settings.max_database_age_days:g}): run `secpipe db update`, "
                              "or `secpipe db import FILE` with a fresh OSV export (or set "
                              "on_stale_database: finding)")
            state = _State()
            if age > settings.max_database_age_days:
                state.findings.append(vm.stale_finding(str(db.path), age,
                                                       settings.max_database_age_days))
            for done, named in enumerate(settings.paths):
                if ctx.cancel.is_set():
                    return _error("scan-image: cancelled")
                ctx.progress(done, len(settings.paths), "images")
                try:
                    self._scan_one(ctx, settings, root, named, db, statements, apt_files, state)
                except ImageError as exc:
                    return _error(f"{_shown(named)}: {exc.message}")
                except RegistryError as exc:
                    return _error(ctx.redact(f"{_shown(named)}: {_registry_text(exc)}"))
            ctx.progress(len(settings.paths), len(settings.paths), "images")
        metrics = {
            "images": float(len(settings.paths)),
            "packages": float(state.packages),
            "vulnerabilities": float(state.vulnerabilities),
            "vulnerable_packages": float(len(state.vulnerable)),
            "backported": float(state.backported),
            "vex_suppressed": float(state.vex_suppressed),
            "osv_database_age_days": round(age, 3),
            "pending_security_updates": float(state.pending_security),
            "distribution_files_skipped": float(state.distribution_skipped),
            "apt_indexes_skipped": float(state.indexes_skipped),
            "duration_seconds": round(time.monotonic() - started, 3),
        }
        message = (f"{len(state.vulnerable)} vulnerable of {state.packages} packages in "
                   f"{len(settings.paths)} image(s); {state.vulnerabilities} vulnerabilities")
        if state.backported:
            message += f"; {state.backported} dropped as backported"
        if state.vex_suppressed:
            message += f"; {state.vex_suppressed} removed by VEX"
        if state.listed:
            message += " (" + "; ".join(state.listed[:MAX_LISTED]) + (
                f"; {len(state.listed) - MAX_LISTED} more" if len(state.listed) > MAX_LISTED
                else "") + ")"
        message += f"; {data}"
        message += "".join(f"; {note}" for note in state.notes)
        return StepResult(status=StepStatus.PASSED, findings=tuple(state.findings),
                          metrics=metrics, artifacts=tuple(state.artifacts),
                          skipped=tuple(state.skipped), message=message,
                          tool=f"secpipe {__version__}")

    def _scan_one(self, ctx: StepContext, settings: ImageScanSettings, root: Path, named: str,
                  db: OsvDatabase, statements: list[VexStatement], apt_files: list[Path],
                  state: _State) -> None:
        if not is_remote(named):
            self._scan_image(ctx, settings, _under(root, named), named, db, statements,
                             apt_files, state)
            return
        secrets = resolver_for(ctx)
        with pulled_image(parse_reference(named), ctx.workdir, insecure=settings.insecure,
                          username=secrets.resolve_optional(settings.username, "username"),
                          password=secrets.resolve_optional(settings.password, "password"),
                          platform=settings.platform, max_bytes=settings.max_image_bytes,
                          log=ctx.log) as pulled:
            state.notes.append(pulled.note)
            self._scan_image(ctx, settings, pulled.layout, named, db, statements, apt_files,
                             state, label=pulled.label, ids=pulled.ids)

    def _scan_image(self, ctx: StepContext, settings: ImageScanSettings, target: Path,
                    named: str, db: OsvDatabase, statements: list[VexStatement],
                    apt_files: list[Path], state: _State, *, label: str | None = None,
                    ids: tuple[str, ...] = ()) -> None:
        """Scan one image; ``label`` (and the extra VEX ``ids``) name a pulled image."""
        limits = Limits(max_total_bytes=settings.max_image_bytes,
                        max_seconds=settings.max_seconds)
        remote = label is not None
        with open_image(target, ref=None if remote else settings.ref,
                        platform=None if remote else settings.platform) as image, \
                apply_layers(image, limits=limits, cancel=ctx.cancel,
                             keep=None if settings.contents else wanted_for_inventory) as tree:
            if label is None:
                label = image.ref_names[0] if image.ref_names else named
            digest = image.manifest_digest or image.config_digest
            inv = inventory(FileTreeView(tree), cancel=ctx.cancel)
            state.packages += len(inv.packages)
            for problem in inv.problems:
                state.findings.append(vm.incomplete_finding(label, problem.path, problem.reason))
            _hostile(tree, label, state)
            pending = ap.check_pending(inv, tree, apt_files, cancel=ctx.cancel)
            state.findings.extend(ap.pending_findings(
                pending, label, max_index_age_days=settings.max_apt_index_age_days))
            state.pending_security += len(pending.security_updates)
            if any(p.ecosystem == DEB for p in inv.packages):
                state.notes.append(f"{label}: {pending.note()}")
            report = vm.match_image(inv, tree, db)
            for path, reason in report.problems:
                state.findings.append(vm.incomplete_finding(label, path, reason))
            image_ids = [digest, image.config_digest, *image.ref_names, *ids]
            kept, removed = vm.apply_vex(report.vulns, statements, image_ids)
            for item in report.backported:
                v = item.vuln
                state.backported += 1
                state.listed.append(f"{v.id} in {v.package.name}: backported "
                                    f"({item.changelog_version})")
                state.skipped.append(Skipped(
                    path=f"{label}:{v.package.name}@{v.package.version}",
                    reason=f"{v.id}: backported, the changelog's entry {item.changelog_version} "
                           f"says: {item.line}"))
            for sup in removed:
                v, st = sup.vuln, sup.statement
                state.vex_suppressed += 1
                why = f": {st.justification}" if st.justification else ""
                state.listed.append(f"{v.id} in {v.package.name}: VEX {st.status}")
                state.skipped.append(Skipped(
                    path=f"{label}:{v.package.name}@{v.package.version}",
                    reason=f"{v.id}: VEX {st.status}{why} ({st.document})"))
            for vuln in kept:
                state.findings.append(vm.vuln_finding(vuln, label))
                state.vulnerabilities += 1
                state.vulnerable.add((label, vuln.package.ecosystem, vuln.package.name,
                                      vuln.package.version))
            if settings.sbom:
                state.artifacts.append(_write_sbom(ctx, inv.packages, label, digest,
                                                   len(state.artifacts)))
            if settings.contents:
                self._contents(ctx, settings, tree, image, label, state, inv.packages)

    def _contents(self, ctx: StepContext, settings: ImageScanSettings, tree: FileTree,
                  image: Image, label: str, state: _State, packages: Sequence[Package]) -> None:
        try:
            module = importlib.import_module("secpipe.scanners.image.content")
        except ModuleNotFoundError as exc:
            if exc.name != "secpipe.scanners.image.content":
                raise
            if "layer contents not scanned" not in " ".join(state.notes):
                state.notes.append("layer contents not scanned (secpipe.scanners.image.content "
                                   "is not installed)")
            return
        stats: list[Any] = []
        found, problems = module.scan_contents(tree, image, ctx, stats=stats,
                                               distribution_files=settings.distribution_files)
        if stats:
            state.distribution_skipped += stats[0].distribution_skipped
            state.indexes_skipped += stats[0].indexes_skipped
            note = stats[0].note()
            if note:
                state.notes.append(f"{label}: {note}")
        found, lowered = lower_fixture_findings(found, package_test_files(packages))
        if lowered:
            state.notes.append(f"{label}: {lowered} model finding(s) on installed packages' own "
                               "test data lowered to low")
        state.findings.extend(found)
        for text in problems:
            state.findings.append(vm.incomplete_finding(label, "/", str(text)))


def built_images(ctx: StepContext) -> list[str]:
    """The ``image`` artifacts (OCI layout paths) of the run's earlier steps, oldest first."""
    out: list[str] = []
    for step in ctx.earlier:
        for artifact in step.artifacts:
            if artifact.name == IMAGE_ARTIFACT and "://" not in artifact.path \
                    and artifact.path not in out:
                out.append(artifact.path)
    return out


class _State:
    """What a run collects over its images."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.artifacts: list[Artifact] = []
        self.listed: list[str] = []
        self.notes: list[str] = []
        self.packages = 0
        self.vulnerabilities = 0
        self.backported = 0
        self.vex_suppressed = 0
        self.pending_security = 0
        self.distribution_skipped = 0
        self.indexes_skipped = 0
        self.vulnerable: set[tuple[str, str, str, str]] = set()


def _shown(named: str) -> str:
    """``named`` for a message: a registry reference with credentials in it is not echoed."""
    if is_remote(named) and "@" in named[len("oci://"):].split("/", 1)[0]:
        return "oci://<credentials removed>"
    return named


def _registry_text(exc: RegistryError) -> str:
    return exc.message + (f" ({exc.hint})" if exc.hint else "")


def _under(root: Path, named: str) -> Path:
    path = Path(named).expanduser()
    return path if path.is_absolute() else root / path


def _hostile(tree: FileTree, label: str, state: _State) -> None:
    for member in tree.hostile[:MAX_HOSTILE_FINDINGS]:
        state.findings.append(vm.incomplete_finding(
            label, member.name, f"layer {member.layer}: member refused or suspicious: "
                                f"{member.reason}"))
    extra = len(tree.hostile) - MAX_HOSTILE_FINDINGS
    if extra > 0:
        state.findings.append(vm.incomplete_finding(
            label, "/", f"{extra} more layer members refused or suspicious"))


def _write_sbom(ctx: StepContext, packages: Any, label: str, digest: str, n: int) -> Artifact:
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:80] or "image"
    target = ctx.workdir / f"sbom-{n}-{safe}.cdx.json"
    document = cyclonedx(packages, label, digest)
    target.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Artifact.from_file(f"sbom:{label}", target, SBOM_MEDIA_TYPE)


def _error(message: str) -> StepResult:
    return StepResult(status=StepStatus.ERROR, message=message, tool=f"secpipe {__version__}")
