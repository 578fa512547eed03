"""What is inside an image's layers: secrets (deleted files included), model files, build config.

:func:`scan_contents` takes the final filesystem of an image (:class:`~secpipe.images.layers.
FileTree`, built by :func:`~secpipe.images.layers.apply_layers`) and the opened image, and runs
three checks, returning findings and problems (bounds hit, files that could not be read) as text:

- **secrets**: every regular file of the final tree, and every file a later layer deleted or
  replaced (its bytes are still in the image, anyone who pulls it can read them), through the
  secrets scanner's engine (:func:`secpipe.scanners.secrets.engine.scan_bytes`) and its finding
  builders (:mod:`secpipe.scanners.secrets.findings`). A finding's path is the in-image path,
  relative to the image root (``app/.env``); its member says where: ``layer 2`` (the layer
  index in the manifest, 0 is the base), ``layer 1, deleted in layer 3`` or ``layer 1,
  replaced in layer 3``, then ``!member`` inside an archive. Binary files are skipped as the
  secrets scanner skips them (decided from the head, so a large binary is not read whole); a
  file larger than ``max_file_bytes`` is scanned in its head (a problem says so); ``max_bytes``
  bounds the bytes scanned in all. A secret found in a live file is not reported again for an
  older copy of it. The image config's build history (``created_by``: ``ARG`` values, ``RUN``
  text) goes through the same engine. Published distribution content is not the team's and is
  skipped (counted in :class:`ContentStats`): a live file that an installed dpkg package
  records (``/var/lib/dpkg/info/<pkg>[:arch].md5sums``, distroless ``status.d/<pkg>.md5sums``,
  the ``Conffiles`` of the status stanza) whose bytes still have the recorded MD5, and apt's
  downloaded indexes (``/var/lib/apt/lists/*_Packages`` …, recognised by name and content). A
  changed file (an edited conffile, a replaced binary), a file no package records, and every
  deleted or replaced copy are scanned as before; see :class:`DistributionFiles`.
- **model files**: the files the model scanner would take as models (a model extension, or
  content typed as a model format by :func:`~secpipe.scanners.models.sniff.sniff_head`) are
  exported into a private temporary folder (:func:`~secpipe.images.layers.export_files`) and
  scanned by :class:`~secpipe.scanners.models.engine.ModelScanner` under their in-image path;
  findings keep the model scanner's rule ids (``models.pickle.dangerous-callable`` …).
- **config**: a container that runs as root (``image.root-user``: no ``User``, ``root``, uid 0,
  or a name that ``/etc/passwd`` of the image maps to uid 0); an ``Env`` entry named like a
  secret with a literal value, or whose value has a known key shape
  (``image.secret-in-env``, redacted evidence); a history step that runs a downloaded script
  (``image.remote-script-exec``: ``curl … | sh``, through the Dockerfile checks' shell reader).

Nothing read from the image is executed or loaded; nothing is written outside the temporary
folder, which :func:`~secpipe.images.layers.export_files` fills with ``O_EXCL|O_NOFOLLOW``.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from secpipe.core.errors import StepError
from secpipe.core.findings import Confidence, Finding, Location, Severity
from secpipe.images.layers import DeletedFile, FileEntry, FileTree, export_files
from secpipe.images.layout import Image, ImageError
from secpipe.scanners.secrets import archives as secret_archives
from secpipe.scanners.secrets import credfiles, sources
from secpipe.scanners.secrets import findings as secret_findings
from secpipe.scanners.secrets.archives import Limits as SecretLimits
from secpipe.scanners.secrets.engine import FileScan, scan_bytes
from secpipe.scanners.walk import Excluder

if TYPE_CHECKING:
    from secpipe.core.step import StepContext

SCANNER = "scan-image"
"""Scanner name of the config findings (the secrets and model findings keep their own)."""
CONFIG_PATH = "image-config"
"""Location path of findings about the image config (user, environment, build history)."""
ROOT_USER = "image.root-user"
SECRET_IN_ENV = "image.secret-in-env"  # noqa: S105 (a rule id)
REMOTE_SCRIPT = "image.remote-script-exec"
RULE_IDS = (ROOT_USER, SECRET_IN_ENV, REMOTE_SCRIPT)
"""The rule ids this module adds (secrets and model findings use their scanners' ids)."""

MIB = 1024 * 1024
_HEAD = 8192  # bytes read to decide that a file is binary
_SNIFF_HEAD = 4096  # bytes read to type a file as a model format
_SNIFF_WHOLE = 8 * MIB  # a file whose head cannot decide is read whole up to this size
_PASSWD_LIMIT = 1 * MIB
_MAX_HISTORY_CHARS = 64 * 1024
MODEL_KINDS = frozenset({"pickle", "npy", "safetensors", "gguf", "onnx", "savedmodel",
                         "savedmodel-text", "keras-metadata", "hdf5", "zfile", "lzma"})
"""Content types (from :func:`~secpipe.scanners.models.sniff.sniff`) that make a file a model
candidate whatever its name (containers such as zip or gzip count only with a model name)."""


class ContentScanCancelled(StepError):
    """The step was cancelled (timeout, Ctrl-C) while the layers' content was being scanned."""


@dataclass(frozen=True)
class ContentLimits:
    """Bounds of :func:`scan_contents` (defaults fit large real images)."""

    max_bytes: int = 2048 * MIB
    """Most bytes read for the secrets scan, over all files (live and deleted)."""
    max_file_bytes: int = 25 * MIB
    """Largest file read whole for secrets; a larger one is scanned in its head."""
    max_archive_depth: int = 4
    max_archive_bytes: int = 256 * MIB
    max_archive_members: int = 10_000
    max_model_bytes: int = 4096 * MIB
    """Most bytes of model candidates exported and scanned by the model scanner."""
    max_model_files: int = 10_000
    max_seconds: float | None = None
    """Wall-clock bound of each pass (secrets, models); files left over are a problem."""


@dataclass(frozen=True)
class ContentStats:
    """What :func:`scan_contents` looked at (for metrics)."""

    files_scanned: int
    """Live files scanned for secrets."""
    deleted_scanned: int
    """Deleted or replaced files scanned for secrets."""
    bytes_scanned: int
    """Bytes read for the secrets scan."""
    binary_skipped: int
    """Files skipped as binary."""
    excluded: int
    """Files skipped by ``excludes``."""
    models_scanned: int
    """Model candidates scanned by the model scanner."""
    distribution_skipped: int = 0
    """Live files not scanned for secrets: unchanged files of installed dpkg packages."""
    indexes_skipped: int = 0
    """Files not scanned for secrets: apt's downloaded package indexes (live or deleted)."""

    def note(self) -> str | None:
        """A line for the step's message about the files skipped as published distribution
        content (None when none was)."""
        parts = []
        if self.distribution_skipped:
            parts.append(f"{self.distribution_skipped} unchanged distribution file(s) (their "
                         "dpkg md5sums match)")
        if self.indexes_skipped:
            parts.append(f"{self.indexes_skipped} apt index file(s) (/var/lib/apt/lists)")
        if not parts:
            return None
        return "not scanned for secrets: " + " and ".join(parts)


def scan_contents(tree: FileTree, image: Image, ctx: StepContext | None = None, *,
                  max_bytes: int = ContentLimits.max_bytes,
                  limits: ContentLimits | None = None,
                  allow: frozenset[str] = frozenset(),
                  excludes: Sequence[str] = (),
                  stats: list[ContentStats] | None = None,
                  distribution_files: bool = False) -> tuple[list[Finding], list[str]]:
    """Secrets (live and deleted files, build history), model files and config checks of an
    image (see the module docstring). Returns (findings, problems as text).

    ``max_bytes`` overrides ``limits.max_bytes``; ``allow`` are pickle callables the model
    scanner treats as safe; ``excludes`` are globs of in-image paths the secrets scan skips
    (the walker's syntax, e.g. :data:`secpipe.scanners.walk.SECRETS_DEFAULT_EXCLUDES`; none by
    default: every file is scanned); ``stats``, when given, receives one :class:`ContentStats`
    (:meth:`ContentStats.note` says what was skipped as distribution content);
    ``distribution_files`` scans unchanged package files and apt indexes too. Raises
    :class:`ContentScanCancelled` when ``ctx.cancel`` is set.
    """
    bounds = replace(limits or ContentLimits(), max_bytes=max_bytes)
    problems: list[str] = []
    published = None if distribution_files else DistributionFiles(tree, bounds.max_bytes)
    secrets = _SecretsPass(tree, bounds, ctx, problems, _PathFilter(excludes), published)
    findings = secrets.run()
    findings.extend(_history_secrets(image))
    models, scanned = _scan_models(tree, bounds, allow, ctx, problems)
    findings.extend(models)
    findings.extend(config_findings(image, tree))
    if stats is not None:
        stats.append(ContentStats(secrets.files, secrets.deleted_files, secrets.used,
                                  secrets.binary, secrets.skipped, scanned,
                                  secrets.distribution, secrets.indexes))
    return secret_findings.dedupe(findings), problems


# -- secrets ---------------------------------------------------------------------------------
def layer_label(entry: FileEntry, deleted: DeletedFile | None = None) -> str:
    """``layer N`` (the layer that wrote the file), ``layer N, deleted in layer M`` for a file a
    later layer removed, ``layer N, replaced in layer M`` for one it overwrote."""
    label = f"layer {entry.layer}"
    if deleted is not None:
        verb = "replaced" if deleted.reason == "replaced" else "deleted"
        label += f", {verb} in layer {deleted.deleted_in}"
    return label


def image_path(entry: FileEntry) -> str:
    """The in-image path of an entry as findings name it: relative to the image's root, like
    every finding's path (``etc/app.conf``), as the rest of the image scan names paths."""
    return entry.path


def _join(label: str, member: str | None) -> str:
    return f"{label}!{member}" if member else label


class _SecretsPass:
    """One secrets scan over the live files, then the deleted ones."""

    def __init__(self, tree: FileTree, bounds: ContentLimits, ctx: StepContext | None,
                 problems: list[str], excluded: _PathFilter,
                 published: DistributionFiles | None = None) -> None:
        self.tree, self.bounds, self.ctx, self.problems = tree, bounds, ctx, problems
        self.excluded = excluded
        self.published = published
        self.distribution = self.indexes = 0
        self.limits = SecretLimits(bounds.max_file_bytes, bounds.max_archive_depth,
                                   bounds.max_archive_bytes, bounds.max_archive_members)
        self.used = self.files = self.deleted_files = self.binary = self.skipped = 0
        self.by_offset: dict[int, FileScan | None] = {}  # hardlinks share their content
        self.by_digest: dict[str, FileScan] = {}
        self.over_budget = 0
        self.deadline = _deadline(bounds)

    def run(self) -> list[Finding]:
        out: list[Finding] = []
        live = list(self.tree.files())
        live_keys: set[tuple[str, str]] = set()
        total = len(live) + len(self.tree.deleted)
        for done, entry in enumerate(live):
            if self._tick(done, total):
                return out
            scan = self._scan(entry, live=True)
            if scan is None:
                continue
            self.files += 1
            path = image_path(entry)
            label = layer_label(entry)
            out.extend(self._findings(path, label, scan))
            live_keys.update((path, hit.key) for hit in scan.hits)
        for done, gone in enumerate(self.tree.deleted, start=len(live)):
            if self._tick(done, total):
                return out
            if not gone.entry.has_content:
                continue
            scan = self._scan(gone.entry)
            if scan is None:
                continue
            self.deleted_files += 1
            path = image_path(gone.entry)
            kept = replace(scan, hits=[h for h in scan.hits if (path, h.key) not in live_keys])
            out.extend(self._findings(path, layer_label(gone.entry, gone), kept))
        if self.over_budget:
            self.problems.append(f"secrets: {self.over_budget} file(s) not scanned: the scan "
                                 f"reached its bound of {self.bounds.max_bytes} bytes")
        return out

    def _tick(self, done: int, total: int) -> bool:
        """Check cancel and the time bound before file ``done``; True: stop (a problem says
        how many files were left)."""
        if self.ctx is not None:
            if self.ctx.cancel.is_set():
                raise ContentScanCancelled("cancelled while scanning the image's files for "
                                           "secrets")
            if done % 500 == 0:
                self.ctx.progress(done, total, "image files (secrets)")
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.problems.append(f"secrets: {total - done} file(s) not scanned: the scan "
                                 f"reached its time bound of {self.bounds.max_seconds:g}s")
            return True
        return False

    @staticmethod
    def _findings(path: str, label: str, scan: FileScan) -> list[Finding]:
        out = [secret_findings.secret_finding(path, replace(hit, member=_join(label, hit.member)))
               for hit in scan.hits]
        out.extend(secret_findings.incomplete(path, _join(label, member), reason)
                   for member, reason in scan.problems)
        return out

    def _scan(self, entry: FileEntry, *, live: bool = False) -> FileScan | None:
        """The scan of one file's content (None: binary, unreadable, over the budget, or
        published distribution content)."""
        if self.excluded(entry.path):
            self.skipped += 1
            return None
        if self.published is not None:
            # decided per path, before the content cache: a hardlink of a package file at a
            # path no package records is the team's and is scanned
            try:
                kind = self.published.kind(entry, live=live)
            except (ImageError, OSError) as exc:
                self.problems.append(f"secrets: {image_path(entry)} could not be read: {exc}")
                return None
            if kind == "package":
                self.distribution += 1
                return None
            if kind == "index":
                self.indexes += 1
                return None
        if entry.content_offset in self.by_offset:
            return self.by_offset[entry.content_offset]
        scan = self._read_and_scan(entry)
        self.by_offset[entry.content_offset] = scan
        return scan

    def _read_and_scan(self, entry: FileEntry) -> FileScan | None:
        path = image_path(entry)
        if entry.size == 0:
            return None
        fmt = credfiles.credential_file(path)
        try:
            with self.tree.open(entry) as stream:
                head = stream.read(_HEAD)
                if _binary_head(head, fmt):
                    self.binary += 1
                    return None
                want = min(entry.size, self.bounds.max_file_bytes)
                if self.used + want > self.bounds.max_bytes:
                    self.over_budget += 1
                    return None
                data = head + stream.read(max(0, want - len(head)))
        except (ImageError, OSError) as exc:
            self.problems.append(f"secrets: {path} could not be read: {exc}")
            return None
        self.used += len(data)
        digest = credfiles.salted_digest(hashlib.sha256(data).hexdigest(), fmt)
        scan = self.by_digest.get(digest)
        if scan is None:
            scan = _guarded_scan(data, self.limits, digest, path)
            self.by_digest[digest] = scan
        if scan.skipped is not None:
            self.binary += 1
            return None
        if entry.size > self.bounds.max_file_bytes:
            scan = replace(scan, problems=[*scan.problems, (
                None, f"file of {entry.size} bytes: only the first "
                      f"{self.bounds.max_file_bytes} bytes were scanned")])
        return scan


class _PathFilter:
    """In-image paths excluded by globs (each folder's answer is kept: images hold many files
    per folder)."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.excluder = Excluder(list(patterns)) if patterns else None
        self.dirs: dict[str, bool] = {}

    def __call__(self, path: str) -> bool:
        if self.excluder is None:
            return False
        parts = path.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            hit = self.dirs.get(folder)
            if hit is None:
                hit = self.dirs[folder] = self.excluder.dir_excluded(folder, parts[i - 1])
            if hit:
                return True
        return self.excluder.file_excluded(path, parts[-1])


def _deadline(bounds: ContentLimits) -> float | None:
    return None if bounds.max_seconds is None else time.monotonic() + bounds.max_seconds


def _guarded_scan(data: bytes, limits: SecretLimits, digest: str, path: str) -> FileScan:
    """:func:`scan_bytes`, with a failure of the engine on hostile bytes (a zip member without
    a name makes ``zipfile`` raise ``IndexError``) turned into an incomplete scan, never a
    crash of the image scan and never a silent pass."""
    try:
        return scan_bytes(data, limits, digest, path)
    except Exception as exc:  # any engine failure is reported, not raised
        return FileScan(problems=[(None, f"the secrets engine failed on this file "
                                         f"({type(exc).__name__}: {exc})")], digest=digest)


def _binary_head(head: bytes, fmt: credfiles.CredFile | None) -> bool:
    """True when the secrets scanner would skip a file with this head as binary: a NUL byte,
    not UTF-16/32 text, not an archive it opens, not an encrypted credential store."""
    if secret_archives.sniff(head) is not None or (fmt is not None and fmt.raw is not None):
        return False
    if not sources.is_binary(head):
        return False
    return sources.decode_wide(head) is None


# -- published distribution content ----------------------------------------------------------
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d"
DPKG_INFO = "var/lib/dpkg/info"
APT_LISTS = "var/lib/apt/lists"
_MAX_STATUS_BYTES = 64 * MIB
_MAX_STANZA_BYTES = 1 * MIB
_MAX_MD5SUMS_BYTES = 16 * MIB
_MAX_STATUS_D_FILES = 50_000
_MAX_DATABASE_BYTES = 512 * MIB
_MAX_RECORDS = 2_000_000
_MD5 = re.compile(r"[0-9a-f]{32}")
_MD5SUMS_LINE = re.compile(r"^([0-9a-fA-F]{32}) [ *](.+)$")
_CONFFILE = re.compile(r"^(/.+?) ([0-9a-fA-F]{32})((?: [a-z-]+)*)$")
_GONE_STATES = frozenset({"config-files", "not-installed"})
_APT_INDEX = re.compile(r"^[^/]+_(Packages|Sources|Release|InRelease|Release\.gpg|"
                        r"Translation-[A-Za-z0-9_@.-]+)$")
_FIELD_LINE = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9-]*:[ \t]")
_CHUNK = 1 * MIB


class DistributionFiles:
    """Which files of an image are published distribution content, not the team's.

    - ``package``: a live regular file that an installed dpkg package records with an MD5
      (``/var/lib/dpkg/info/<pkg>[:<arch>].md5sums``; distroless ``status.d/<file>.md5sums``;
      the ``Conffiles`` field of the stanza for conffiles, obsolete ones excepted) and whose
      bytes still have that MD5: the file the distribution published, byte for byte. Paths of
      the records are resolved through the image's symlinks (merged ``/usr``: ``lib/…`` is
      ``usr/lib/…``). A changed file, a file at a path no installed package records, and a
      deleted or replaced copy (``live=False``) are not.
    - ``index``: a file directly in ``/var/lib/apt/lists/`` named like an index apt downloads
      (``<uri>_Packages``, ``_Sources``, ``_Release``, ``_InRelease``, ``_Release.gpg``,
      ``_Translation-<lang>``, uncompressed) whose head is what that index starts with (an
      RFC 822 field, or the OpenPGP armour): a public package index, live or deleted (the
      usual ``rm -rf /var/lib/apt/lists/*`` leaves it in the lower layer). Anything else in
      that folder (a file the team put there, ``partial/``, ``auth.conf``-like names, a
      compressed index) is scanned.

    MD5 is used here for what dpkg records it: an integrity comparison with the
    distribution's own list, not a security control (a package database the team forged
    would hide only the team's own files from its own scan). A package the team builds itself
    and installs with dpkg counts as distribution content too: ``scan_contents(…,
    distribution_files=True)`` scans it. Reading the database is bounded (status 64 MiB, each
    md5sums 16 MiB, 512 MiB in all, 2,000,000 records); over a bound, the records not read are
    not used and those files are scanned. Hashing reads only files a secrets rule would scan
    (text, archives), streamed, at most ``max_hash_bytes`` in all.
    """

    def __init__(self, tree: FileTree, max_hash_bytes: int) -> None:
        self.tree = tree
        self.max_hash_bytes = max_hash_bytes
        self.hashed = 0
        self.database_bytes = 0
        self._records: dict[str, set[str]] = {}
        self._loaded = False
        self._parents: dict[str, str] = {}

    @property
    def records(self) -> dict[str, set[str]]:
        """In-image path (real, no leading ``/``) -> the MD5s the dpkg database records."""
        if not self._loaded:
            self._loaded = True
            # on a read error the records read so far are kept; the other files are scanned
            with contextlib.suppress(ImageError, OSError, UnicodeError, RecursionError):
                self._read_database()
        return self._records

    def kind(self, entry: FileEntry, *, live: bool) -> str | None:
        """``package``, ``index`` (see the class) or None (the team's: scan it)."""
        if entry.size == 0 or not entry.has_content:
            return None
        name = entry.path.rsplit("/", 1)[-1]
        if entry.path == f"{APT_LISTS}/{name}" and _APT_INDEX.match(name):
            return "index" if self._index_head(entry, name) else None
        if not live:
            return None
        expected = self.records.get(entry.path)
        if not expected or self.hashed + entry.size > self.max_hash_bytes:
            return None
        with self.tree.open(entry) as stream:
            head = stream.read(_HEAD)
            if _binary_head(head, credfiles.credential_file(entry.path)):
                return None  # no secrets rule reads it: not worth hashing
            # integrity comparison with the distribution's record, not a security use of MD5
            digest = hashlib.md5(head, usedforsecurity=False)
            self.hashed += len(head)
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                self.hashed += len(chunk)
        return "package" if digest.hexdigest() in expected else None

    def _index_head(self, entry: FileEntry, name: str) -> bool:
        with self.tree.open(entry) as stream:
            head = stream.read(256)
        if name.endswith("_InRelease"):
            return head.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
        if name.endswith("_Release.gpg"):
            return head.startswith(b"-----BEGIN PGP SIGNATURE-----")
        return _FIELD_LINE.match(head) is not None

    def _read(self, path: str, limit: int) -> bytes | None:
        entry = self.tree.resolve(path)
        if entry is None or not entry.has_content or entry.size > limit \
                or self.database_bytes + entry.size > _MAX_DATABASE_BYTES:
            return None
        self.database_bytes += entry.size
        with self.tree.open(entry) as stream:
            return stream.read(limit)

    def _read_database(self) -> None:
        from secpipe.images.pkg_dpkg import parse_stanzas

        packages: list[tuple[dict[str, str], str | None]] = []
        status = self._read(DPKG_STATUS, _MAX_STATUS_BYTES)
        if status is not None:
            for stanza in parse_stanzas(status.decode("utf-8", "replace"), DPKG_STATUS, []):
                words = stanza.get("status", "").split()
                if len(words) == 3 and words[2] not in _GONE_STATES:
                    packages.append((stanza, None))
        folder = self.tree.realpath(DPKG_STATUS_D)
        for path in self.tree.listdir(folder)[:_MAX_STATUS_D_FILES]:
            base = path.rsplit("/", 1)[-1]
            if base.endswith(".md5sums") or base.startswith("."):
                continue
            body = self._read(path, _MAX_STANZA_BYTES)
            if body is None:
                continue
            for stanza in parse_stanzas(body.decode("utf-8", "replace"), path, []):
                words = stanza.get("status", "").split()
                if not words or (len(words) == 3 and words[2] not in _GONE_STATES):
                    packages.append((stanza, path))
        for stanza, where in packages:
            name, arch = stanza.get("package", ""), stanza.get("architecture", "")
            if not name or "/" in name or "\0" in name:
                continue
            if where is not None:
                candidates = [f"{where}.md5sums", f"{DPKG_STATUS_D}/{name}.md5sums"]
            else:
                candidates = [f"{DPKG_INFO}/{name}:{arch}.md5sums", f"{DPKG_INFO}/{name}.md5sums"]
            for candidate in candidates:
                data = self._read(candidate, _MAX_MD5SUMS_BYTES)
                if data is not None:
                    for line in data.decode("utf-8", "replace").splitlines():
                        match = _MD5SUMS_LINE.match(line)
                        if match and not self._add(match.group(2), match.group(1)):
                            return
                    break
            for line in stanza.get("conffiles", "").splitlines():
                match = _CONFFILE.match(line.strip())
                flags = match.group(3).split() if match else []
                if match and "obsolete" not in flags and "remove-on-upgrade" not in flags \
                        and not self._add(match.group(1), match.group(2)):
                    return

    def _add(self, path: str, md5: str) -> bool:
        """Record ``md5`` for ``path`` (resolved in the tree); False: the record bound is hit."""
        records = self._records
        if len(records) >= _MAX_RECORDS:
            return False
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            return True
        parent = "/".join(parts[:-1])
        real_parent = self._parents.get(parent)
        if real_parent is None:
            try:
                real_parent = self.tree.realpath(parent) if parent else ""
            except ImageError:
                real_parent = "\0"  # a loop: no file can be there
            self._parents[parent] = real_parent
        if real_parent == "\0":
            return True
        real = f"{real_parent}/{parts[-1]}" if real_parent else parts[-1]
        records.setdefault(real, set()).add(md5.lower())
        return True


def _history_secrets(image: Image) -> list[Finding]:
    """Secrets in the build history's commands (``ARG`` values recorded with ``RUN``, tokens
    in ``RUN`` text), at ``image-config!history[i]``."""
    limits = SecretLimits(_MAX_HISTORY_CHARS, 1, _MAX_HISTORY_CHARS, 1)
    out: list[Finding] = []
    for i, step in enumerate(image.config.history):
        text = step.created_by[:_MAX_HISTORY_CHARS]
        if not text.strip():
            continue
        scan = _guarded_scan(text.encode("utf-8", "replace"), limits, "", CONFIG_PATH)
        label = f"history[{i}]"
        out.extend(secret_findings.secret_finding(
            CONFIG_PATH, replace(hit, member=_join(label, hit.member))) for hit in scan.hits)
        out.extend(secret_findings.incomplete(CONFIG_PATH, _join(label, member), reason)
                   for member, reason in scan.problems)
    return out


# -- model files -----------------------------------------------------------------------------
def model_candidate(tree: FileTree, entry: FileEntry) -> bool:
    """True for a file the model scanner would take as a model: named like one (the model
    scanner's candidate extensions), or typed as a model format by its content."""
    from secpipe.scanners.models import candidates

    name = entry.path.rsplit("/", 1)[-1]
    ext = candidates.extension(name)
    # the candidate tables are private to the model scanner; read, not copied
    if ext == "pth" and entry.path.rsplit("/", 2)[-2:-1] in (["site-packages"],
                                                            ["dist-packages"]):
        # a path-configuration file of Python's site module, not a checkpoint: typed by its
        # content (a pickle or zip saved under that name is still a model)
        return _model_content(tree, entry)
    if ext in candidates._CODE_LOADERS:
        return True
    if ext in candidates._OTHER_MODELS and (ext not in candidates._GENERIC
                                            or candidates._model_named(name)):
        return True
    return _model_content(tree, entry)


def _model_content(tree: FileTree, entry: FileEntry) -> bool:
    from secpipe.scanners.models.sniff import MORE, sniff, sniff_head

    if entry.size < 2:
        return False
    with tree.open(entry) as stream:
        head = stream.read(_SNIFF_HEAD)
        kind = sniff_head(head, entry.size)
        if kind == MORE:
            if entry.size > _SNIFF_WHOLE:
                return True  # cannot rule a model out cheaply: let the model scanner decide
            kind = sniff(head + stream.read())
    return kind in MODEL_KINDS


def _scan_models(tree: FileTree, bounds: ContentLimits, allow: frozenset[str],
                 ctx: StepContext | None, problems: list[str]) -> tuple[list[Finding], int]:
    from secpipe.scanners.models.engine import ModelScanner

    chosen: list[FileEntry] = []
    size = skipped = 0
    seen: set[int] = set()
    deadline = _deadline(bounds)
    for entry in tree.files():
        if ctx is not None and ctx.cancel.is_set():
            raise ContentScanCancelled("cancelled while looking for model files in the image")
        if deadline is not None and time.monotonic() > deadline:
            problems.append(f"models: the search for model files stopped at /{entry.path}: "
                            f"time bound of {bounds.max_seconds:g}s")
            break
        if entry.content_offset in seen:
            continue
        try:
            if not model_candidate(tree, entry):
                continue
        except (ImageError, OSError) as exc:
            problems.append(f"models: {image_path(entry)} could not be read: {exc}")
            continue
        except Exception:  # noqa: S110 - typing failed on hostile bytes: the model
            pass  # scanner, which reports what it cannot analyse, decides (fails closed)
        seen.add(entry.content_offset)
        if size + entry.size > bounds.max_model_bytes or len(chosen) >= bounds.max_model_files:
            skipped += 1
            continue
        size += entry.size
        chosen.append(entry)
    if skipped:
        problems.append(f"models: {skipped} model file(s) not scanned: over the bound of "
                        f"{bounds.max_model_files} files / {bounds.max_model_bytes} bytes")
    if not chosen:
        return [], 0
    scanner = ModelScanner(allow=allow)
    out: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="secpipe-image-models-") as tmp:
        try:
            written = export_files(tree, chosen, tmp, max_bytes=bounds.max_model_bytes)
        except (ImageError, OSError) as exc:
            problems.append(f"models: candidates could not be exported: {exc}")
            return [], 0
        missing = {e.path for e in chosen} - {e.path for e in written.values()}
        problems.extend(f"models: /{p} could not be exported (a path collision)"
                        for p in sorted(missing))
        for done, (target, entry) in enumerate(written.items()):
            if deadline is not None and time.monotonic() > deadline:
                problems.append(f"models: {len(written) - done} model file(s) not scanned: "
                                f"time bound of {bounds.max_seconds:g}s")
                break
            if ctx is not None:
                if ctx.cancel.is_set():
                    raise ContentScanCancelled("cancelled while scanning the image's models")
                ctx.progress(done, len(written), "image model files")
            try:
                report = scanner.scan_file(Path(target), image_path(entry))
            except Exception as exc:  # any engine failure is reported
                out.append(_model_not_analysed(image_path(entry), f"{type(exc).__name__}: {exc}"))
                continue
            out.extend(report.findings)
    return out, len(written)


def _model_not_analysed(path: str, why: str) -> Finding:
    """The model scanner's ``models.scan-incomplete`` finding for a file it failed on."""
    from secpipe.scanners.models.report import Collector, Where

    coll = Collector()
    coll.incomplete(Where(path), f"the model scanner failed on this file ({why})")
    return coll.findings[0]


# -- config ----------------------------------------------------------------------------------
_ROOT_NAMES = frozenset({"", "root", "0"})


def config_findings(image: Image, tree: FileTree | None = None) -> list[Finding]:
    """Findings of the image config: root user, secrets in ``Env``, downloaded scripts run by
    the build history."""
    out = _root_user(image, tree)
    out.extend(_env_secrets(image.config.env))
    out.extend(_remote_scripts(image))
    return out


def _uid_of(tree: FileTree | None, name: str) -> int | None:
    """The uid ``/etc/passwd`` of the image gives ``name`` (None: unknown)."""
    if tree is None:
        return None
    try:
        data = tree.read_path("etc/passwd", limit=_PASSWD_LIMIT)
    except (ImageError, OSError):
        return None
    if data is None:
        return None
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].strip().isdigit():
            return int(fields[2])
    return None


def _root_user(image: Image, tree: FileTree | None) -> list[Finding]:
    user = image.config.user.strip()
    name = user.split(":", 1)[0].strip()
    if name.lower() in _ROOT_NAMES:
        why = ("the config sets no user: the container runs as root" if not user
               else f"the config's user is {user}: the container runs as root")
    elif not name.isdigit() and _uid_of(tree, name) == 0:
        why = f"the config's user {user} has uid 0 in the image's /etc/passwd"
    else:
        return []
    return [Finding.create(
        rule_id=ROOT_USER, title="Container image runs as root", severity=Severity.HIGH,
        scanner=SCANNER, location=Location(path=CONFIG_PATH, member="User"), message=why,
        key="user", evidence=f"User={user!r}", tags=("container", "CWE-250"),
        remediation="Build the image with a non-root `USER` (a numeric uid), or run it from a "
                    "base that runs as non-root by default.")]


def _env_secrets(env: Iterable[str]) -> list[Finding]:
    from secpipe.scanners.iac.docker.common import (
        known_key_shape,
        literal_value,
        redact,
        secret_name,
        url_password,
        weak_value,
    )

    out: list[Finding] = []
    for i, item in enumerate(env):
        name, sep, value = item.partition("=")
        if not sep or not value.strip():
            continue
        shape = known_key_shape(value)
        password = "" if shape else url_password(value)
        if not (shape or password or (secret_name(name) and literal_value(value))):
            continue
        confidence = Confidence.MEDIUM
        if shape:
            why, confidence = f"looks like a {shape.removeprefix('secrets.')}", Confidence.HIGH
        elif password:
            why = "is a URL with a password"
            confidence = Confidence.LOW if weak_value(password) else confidence
        else:
            why = "is a literal value"
            confidence = Confidence.LOW if weak_value(value) else confidence
        shown = value.replace(password, redact(password)) if password else redact(value)
        secret = password or value.strip()
        out.append(Finding.create(
            rule_id=SECRET_IN_ENV, title="Secret in the image's environment",
            severity=Severity.HIGH, scanner=SCANNER,
            location=Location(path=CONFIG_PATH, member=f"Env[{i}]"),
            message=f"ENV {name} {why}: it is stored in the image config, readable by anyone "
                    "who can pull the image",
            key=hashlib.sha256(secret.encode()).hexdigest(), confidence=confidence,
            evidence=f"{name}={shown}", tags=("container", "secret", "CWE-798"),
            remediation="Rotate the secret; pass it at run time (an orchestrator secret, a file "
                        "under /run/secrets), never with ENV."))
    return out


_NOP = re.compile(r"^\s*(?:/bin/sh -c\s+)?#\(nop\)")
_ARGS_PREFIX = re.compile(r"^\|\d+\s")
_SHELL_PREFIX = re.compile(r"(?:^|\s)(?:/bin/|/usr/bin/)?(?:ba|da)?sh\s+-[a-z]*c\s+")


def history_command(created_by: str) -> str | None:
    """The shell text a history step ran (``RUN`` forms of the classic builder, BuildKit and
    buildah, build arguments first: ``|2 A=1 B=2 /bin/sh -c …``), or None for a metadata step
    (``ENV``, ``COPY`` …)."""
    text = created_by.strip()
    if not text or _NOP.match(text):
        return None
    body: str | None = None
    if text.startswith("RUN ") or _ARGS_PREFIX.match(text):
        match = _SHELL_PREFIX.search(text)
        body = text[match.end():] if match else (text[4:] if text.startswith("RUN ") else None)
    else:
        match = _SHELL_PREFIX.match(text)
        body = text[match.end():] if match else None
    if body is None:
        return None
    body = body.strip().removesuffix("# buildkit").rstrip()
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        body = body[1:-1]
    return body


def _remote_scripts(image: Image) -> list[Finding]:
    from secpipe.scanners.iac.docker.common import scrub
    from secpipe.scanners.iac.docker.shell import remote_exec

    out: list[Finding] = []
    for i, step in enumerate(image.config.history):
        command = history_command(step.created_by[:_MAX_HISTORY_CHARS])
        if not command:
            continue
        for found in remote_exec(command):
            shown = " ".join(scrub(command).split())
            out.append(Finding.create(
                rule_id=REMOTE_SCRIPT, title="Build ran a script downloaded without verification",
                severity=Severity.HIGH, scanner=SCANNER,
                location=Location(path=CONFIG_PATH, member=f"history[{i}]"),
                message=f"a build step ran what {found.fetcher} downloaded with "
                        f"{found.interpreter} ({found.how}): nothing pinned or checked it",
                key=f"{found.how}:{found.fetcher}:{found.interpreter}:{shown}",
                confidence=Confidence.MEDIUM if found.how == "download-then-run"
                else Confidence.HIGH,
                evidence=shown if len(shown) <= 200 else shown[:199] + "…",
                tags=("container", "supply-chain", "CWE-494"),
                remediation="Download to a file, verify a pinned checksum or signature, then "
                            "run it; or install a signed package."))
    return out


__all__ = [
    "CONFIG_PATH", "MODEL_KINDS", "RULE_IDS", "SCANNER", "ContentLimits", "ContentScanCancelled",
    "ContentStats", "DistributionFiles", "config_findings", "history_command", "image_path",
    "layer_label",
    "model_candidate", "scan_contents",
]
