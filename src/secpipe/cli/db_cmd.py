"""``secpipe db``: fill and inspect the local OSV vulnerability database ``scan-deps`` matches.

``update`` downloads OSV's per-ecosystem exports (``{url_base}/{ecosystem}/all.zip``) with
connect and read timeouts, a size bound and a time bound, then imports them; where OSV cannot be
reached it fails (exit 2) saying to use ``import``. ``import`` reads an export zip, a folder of
OSV JSON files or one JSON file (air-gapped sites carry the zip in). ``status`` shows the path,
each ecosystem's record count, when it was loaded and how old its data is (exit 2 when there is
no database). Every import is atomic: a failure leaves the database as it was.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from secpipe import __version__
from secpipe.cli.common import open_project, print_json
from secpipe.cli.render import line
from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.scanners.deps.model import NPM, PYPI
from secpipe.scanners.deps.osvdb import (
    DEFAULT_URL_BASE,
    ENV_DATABASE,
    DatabaseMissing,
    ImportReport,
    OsvDatabase,
    database_path,
    import_sources,
)

GIB = 1 << 30
_CHUNK = 1 << 16


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "db", parents=[common], help="fill and inspect the local vulnerability database (OSV)",
        description="The OSV database scan-deps matches dependencies against. Its file is "
        "--database, else defaults.scan-deps.database of the project's secpipe.yaml, else "
        f"${ENV_DATABASE}, else $XDG_CACHE_HOME/secpipe/osv.sqlite3.",
        epilog=exitcodes.EPILOG)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    update = actions.add_parser(
        "update", parents=[common], help="download OSV's exports and import them",
        description="Download {url-base}/{ecosystem}/all.zip for each ecosystem and import them "
        "(the ecosystems downloaded replace theirs; the others are kept). Where OSV cannot be "
        "reached, download the zip elsewhere and use `secpipe db import`.",
        epilog=exitcodes.EPILOG)
    update.add_argument("--ecosystem", action="append", metavar="NAME",
                        help="OSV ecosystem to download (repeatable; default: PyPI and npm)")
    update.add_argument("--url-base", default=DEFAULT_URL_BASE, metavar="URL",
                        help=f"where the exports are (default: {DEFAULT_URL_BASE})")
    update.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="connect and read timeout (default: 30)")
    update.add_argument("--max-seconds", type=float, default=1800.0, metavar="SECONDS",
                        help="longest a download may take (default: 1800)")
    update.add_argument("--max-bytes", type=int, default=2 * GIB, metavar="N",
                        help="largest export downloaded (default: 2 GiB)")
    imp = actions.add_parser(
        "import", parents=[common], help="import OSV records from files (offline)",
        description="Import an OSV export zip (all.zip), a folder of OSV JSON files or a JSON "
        "file (a record or an array). The ecosystems the records name replace theirs in the "
        "database; the others are kept. Records that do not validate are counted and listed.",
        epilog=exitcodes.EPILOG)
    imp.add_argument("sources", nargs="+", metavar="FILE|DIR", help="zip, folder or JSON file")
    imp.add_argument("--ecosystem", action="append", metavar="NAME",
                     help="import only this ecosystem's entries (repeatable)")
    status = actions.add_parser("status", parents=[common],
                                help="where the database is, what it holds and how old it is",
                                epilog=exitcodes.EPILOG)
    for sub in (update, imp, status):
        sub.add_argument("--database", metavar="FILE",
                         help="database file (default: defaults.scan-deps.database of the "
                         f"project's secpipe.yaml, else ${ENV_DATABASE}, else "
                         "$XDG_CACHE_HOME/secpipe/osv.sqlite3)")
        sub.set_defaults(func=run)
    for sub in (update, imp):
        sub.add_argument("--replace", action="store_true",
                         help="drop every ecosystem not imported now")


def _db_path(args: argparse.Namespace) -> Path:
    """``--database``, else ``defaults.scan-deps.database`` of the project's secpipe.yaml
    (relative to the project), else ``$SECPIPE_OSV_DB``, else the user's cache folder: the
    same file ``secpipe run`` uses in that project."""
    if args.database:
        return Path(args.database).expanduser()
    project = open_project(args)
    defaults = project.config.defaults.get("scan-deps") or {}
    setting = defaults.get("database") if isinstance(defaults, dict) else None
    return database_path(setting if isinstance(setting, str) else None, project.root)


def run(args: argparse.Namespace) -> int:
    with exitcodes.sigterm_interrupts():
        if args.action == "status":
            return _status(args)
        if args.action == "import":
            return _import(args)
        return _update(args)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        line(sys.stderr, text)


def _import(args: argparse.Namespace) -> int:
    db = _db_path(args)
    sources = [Path(s) for s in args.sources]
    for src in sources:
        if not src.exists():
            raise InputError(f"{src}: no such file or folder")
    _say(args, f"importing {', '.join(map(str, sources))} into {db}")
    report = import_sources(sources, db, ecosystems=args.ecosystem, replace=args.replace,
                            progress=lambda n: _say(args, f"  {n} records"))
    _print_report(args, report)
    return exitcodes.PASSED


def _update(args: argparse.Namespace) -> int:
    db = _db_path(args)
    ecosystems = args.ecosystem or [PYPI, NPM]
    base = args.url_base.rstrip("/")
    try:
        scheme = urllib.parse.urlsplit(base).scheme
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        raise InputError(f"--url-base {base!r}: only http:// and https:// are downloaded",
                         hint="for a local file use `secpipe db import FILE`")
    db.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".osv-download-", dir=db.parent) as tmp:
        files: list[Path] = []
        urls: list[str] = []
        for ecosystem in ecosystems:
            url = f"{base}/{urllib.parse.quote(ecosystem)}/all.zip"
            target = Path(tmp) / f"{len(files)}-all.zip"
            download(url, target, args, ecosystem)
            files.append(target)
            urls.append(url)
        _say(args, f"importing into {db}")
        report = import_sources(files, db, ecosystems=ecosystems, replace=args.replace,
                                source_names=urls,
                                progress=lambda n: _say(args, f"  {n} records"))
    _print_report(args, report)
    return exitcodes.PASSED


def download(url: str, target: Path, args: argparse.Namespace, ecosystem: str) -> None:
    """Stream ``url`` into ``target``: timeouts, ``--max-bytes`` and ``--max-seconds`` bound it;
    any failure is an :class:`InputError` saying how to import offline."""
    hint = (f"where OSV cannot be reached, download {ecosystem}/all.zip on a machine that can "
            f"and run `secpipe db import all.zip` here")
    started = time.monotonic()
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked: http or https)
        url, headers={"User-Agent": f"secpipe/{__version__}"})
    _say(args, f"downloading {url}")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response, \
                target.open("wb") as out:  # noqa: S310 (the scheme is checked: http or https)
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > args.max_bytes:
                raise InputError(f"{url}: {total} bytes, more than --max-bytes {args.max_bytes}")
            done = 0
            shown = started
            while chunk := response.read1(_CHUNK):  # what has arrived: time is checked
                done += len(chunk)
                if done > args.max_bytes:
                    raise InputError(f"{url}: more than --max-bytes {args.max_bytes}: stopped")
                if time.monotonic() - started > args.max_seconds:
                    raise InputError(f"{url}: not downloaded within --max-seconds "
                                     f"{args.max_seconds:g}", hint=hint)
                out.write(chunk)
                if time.monotonic() - shown >= 1.0:
                    shown = time.monotonic()
                    of = f" of {total / (1 << 20):.1f}" if total else ""
                    _say(args, f"  {done / (1 << 20):.1f}{of} MiB")
            if total is not None and done != total:
                raise InputError(f"{url}: the download ended after {done} of {total} bytes",
                                 hint=hint)
    except urllib.error.HTTPError as exc:
        raise InputError(f"cannot download {url}: HTTP {exc.code} {exc.reason}",
                         hint=hint) from None
    except urllib.error.URLError as exc:
        raise InputError(f"cannot download {url}: {exc.reason}", hint=hint) from None
    except (TimeoutError, OSError) as exc:
        raise InputError(f"cannot download {url}: {exc}", hint=hint) from None
    _say(args, f"  {done / (1 << 20):.1f} MiB in {time.monotonic() - started:.1f}s")


def _print_report(args: argparse.Namespace, report: ImportReport) -> None:
    if args.json:
        print_json({"database": str(report.path), "sources": report.sources,
                    "records": report.records, "per_ecosystem": report.per_ecosystem,
                    "withdrawn": report.withdrawn, "invalid": report.invalid,
                    "problems": report.problems, "kept": report.kept})
        return
    counts = ", ".join(f"{eco} {n}" for eco, n in sorted(report.per_ecosystem.items()))
    line(sys.stdout, f"imported {report.records} OSV records ({counts}) into {report.path}")
    if report.withdrawn:
        line(sys.stdout, f"  {report.withdrawn} withdrawn (kept, never matched)")
    if report.kept:
        line(sys.stdout, f"  kept from the previous database: {', '.join(report.kept)}")
    if report.invalid:
        line(sys.stdout, f"  {report.invalid} record(s) did not validate and were not imported:")
        for problem in report.problems:
            line(sys.stdout, f"    {problem}")
        if report.invalid > len(report.problems):
            line(sys.stdout, f"    … and {report.invalid - len(report.problems)} more")


def _status(args: argparse.Namespace) -> int:
    path = _db_path(args)
    try:
        db = OsvDatabase(path)
    except DatabaseMissing as exc:
        raise InputError(exc.message, hint="run `secpipe db update`, or `secpipe db import "
                         "FILE` with an OSV export where the network does not reach OSV") from None
    with db:
        infos = db.ecosystems()
        withdrawn = db.withdrawn_count()
    now = time.time()
    size = path.stat().st_size
    if args.json:
        print_json({"database": str(path), "bytes": size, "withdrawn": withdrawn,
                    "ecosystems": {e: {"records": i.records, "loaded_at": i.loaded_at,
                                       "age_days": round(i.age_days(now), 3),
                                       "newest_modified": i.newest_modified,
                                       "source": i.source} for e, i in infos.items()}})
        return exitcodes.PASSED
    line(sys.stdout, f"OSV database {path} ({size / (1 << 20):.1f} MiB)")
    for eco, info in infos.items():
        loaded = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(info.loaded_at))
        line(sys.stdout, f"  {eco:<10} {info.records:>8} records  loaded {loaded} "
             f"({info.age_days(now):.1f} days ago)  data as of {info.newest_modified[:10]}  "
             f"from {info.source}")
    line(sys.stdout, f"  {withdrawn} withdrawn record(s), never matched")
    return exitcodes.PASSED

