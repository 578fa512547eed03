"""A code-scanner worker process: analyses the files its parent sends, one at a time.

Started by :mod:`secpipe.scanners.code.pool` as ``python -I -c BOOTSTRAP SYS_PATH``. Protocol,
one JSON document per line: the parent writes the :class:`~.engine.Options` first, the worker
answers ``{"ready": true}`` once bandit's tests and the rule pack are loaded; then the parent
writes ``{"i": N, "path": …, "rel": …, "kind": …}`` and the worker answers
``{"i": N, "result": …}``. End of input ends the worker. The worker never writes anything else to
its protocol stream (``print`` goes to stderr), and nothing it reads is executed.
"""

from __future__ import annotations

import json
import os
import signal
import sys

BOOTSTRAP = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
             "from secpipe.scanners.code.worker import main; main()")
"""The ``-c`` program that starts a worker with the parent's import path."""


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # a stray print never corrupts the protocol
    from secpipe.scanners.code.engine import Analyser, FileResult, Options
    from secpipe.scanners.code.meta import meta_finding

    first = sys.stdin.readline()
    if not first:
        return
    analyser = Analyser(Options.from_json(json.loads(first)))
    out.write('{"ready": true}\n')
    out.flush()
    for text in sys.stdin:
        task = json.loads(text)
        try:
            result = analyser.analyse(task["path"], task["rel"], task["kind"])
        except Exception as exc:  # reported as a finding by the parent's rules, never lost
            result = FileResult()
            why = f"analysis failed: {type(exc).__name__}: {str(exc)[:200]}"
            result.fail(meta_finding("code.analysis-failed", task["rel"], why), why)
        out.write(json.dumps({"i": task["i"], "result": result.to_json()}) + "\n")
        out.flush()


if __name__ == "__main__":  # pragma: no cover
    main()
