"""Generic step kinds that are not scanners of their own.

- :mod:`secpipe.steps.exec` — the ``exec`` kind: run any external tool (argv, never a shell) and
  ingest the SARIF 2.1.0 log it writes, so Gitleaks, Trivy, Semgrep or Checkov plug in wherever a
  user has them.
- :mod:`secpipe.steps.sarif_ingest` — the bounded, tolerant SARIF reader behind it (also used to
  re-read secpipe's own SARIF reports).
- :mod:`secpipe.steps.redact` — bounding and redaction of what external tools say (snippets quote
  secrets), applied before anything of it is kept.
"""
