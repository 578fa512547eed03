"""``secpipe serve``: a read-only web dashboard over the project's run store.

Binds 127.0.0.1 by default; ``--host`` binds elsewhere, with a warning when that is not a
loopback address (the dashboard has no authentication: whoever reaches it reads every run).
Serves until Ctrl-C (exit 130) or SIGTERM (exit 143). See docs/serve.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from secpipe.cli.common import open_project
from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.reports.escape import printable

DEFAULT_PORT = 8765
"""The port ``secpipe serve`` listens on unless ``--port`` says otherwise."""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "serve", parents=[common], help="serve a read-only web dashboard of the runs",
        description="Serve a read-only web dashboard of the project's recorded runs: runs, "
        "trends of findings and model metrics, each run's stages, gate decisions, findings "
        "(with filters) and reports; JSON under /api/. Bound to 127.0.0.1 unless --host says "
        "otherwise; GET and HEAD only; no authentication. Ctrl-C stops it (exit 130).")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; anything but loopback exposes "
                   "every run to whoever can reach it)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also accept this Host header name (e.g. the machine's DNS name when "
                   "bound to a non-loopback address); repeatable")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from secpipe.serve.app import is_loopback, make_server

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port} is not a port number (0-65535)")
    project = open_project(args)
    db = project.state_dir / "runs.db"
    try:
        server = make_server(db, args.host, args.port, allow_hosts=tuple(args.allow_host),
                             quiet=args.quiet)
    except OSError as exc:
        raise InputError(f"cannot listen on {printable(args.host)} port {args.port}: "
                         f"{exc.strerror or exc}",
                         hint="pick another --port (0 picks a free one)") from None
    try:
        if not is_loopback(args.host):
            print(f"secpipe serve: warning: bound to {printable(args.host)}, not a loopback "
                  "address: anyone who can reach this port can read every recorded run "
                  "(there is no authentication)", file=sys.stderr, flush=True)
        where = "" if db.is_file() else " (no run recorded yet)"
        print(f"secpipe serve: {server.url} read-only dashboard of {printable(str(db))}{where};"
              " Ctrl-C stops", flush=True)
        with exitcodes.sigterm_interrupts():
            server.serve_forever(poll_interval=0.25)
    finally:
        server.server_close()
    return exitcodes.PASSED
