"""Generic step kinds that are not scanners of their own.

- :mod:`secpipe.steps.exec` — the ``exec`` kind: run any external program (argv, never a shell)
  under the tool supervisor and read its findings (SARIF 2.1.0, or secpipe's generic findings
  JSON) or, with ``parse: none``, just its exit code (a build or deploy command as a step).

How external programs are run and their output read lives in :mod:`secpipe.tools`.
"""
