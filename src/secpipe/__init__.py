"""secpipe: MLSecOps and DevSecOps pipelines for teams that ship machine-learning systems.

Architecture (see ``docs/architecture.md`` for the full map):

* :mod:`secpipe.pipeline` holds the pipeline model (stages of concurrent steps, validated with
  pydantic), the built-in ``mlsecops`` and ``devsecops`` pipelines, the :class:`Runner` and
  ``run_guarded`` (the crash guard every step runs under).
* :mod:`secpipe.core` holds the result types every step returns (:class:`Finding`,
  :class:`StepResult`), the step interface (``StepKind[Settings]`` and the ``StepContext``, the only
  channel between the runner and a step), typed run events, the exit codes, the error hierarchy
  and the explicit registry of step kinds.
* :mod:`secpipe.scanners` holds the scanner interface (one settings base, one walker) and the
  scanners (``scan-secrets``, ``scan-models``), each a step kind reachable as ``secpipe scan X``.
* :mod:`secpipe.tools` supervises external programs (process group, timeout and Ctrl-C kill,
  environment allowlist, bounded redacted output) and parses their output formats.
* :mod:`secpipe.sinks` delivers run events (console, webhook, plugins) off the step threads.
* :mod:`secpipe.policy` evaluates gates: severities, counts, metric bounds, baselines and
  suppressions with expiry.
* :mod:`secpipe.runstore` records every run in SQLite; :mod:`secpipe.reports` renders SARIF 2.1.0,
  JSON, Markdown and HTML from a recorded run.
* :mod:`secpipe.ml`, :mod:`secpipe.provenance`, :mod:`secpipe.stores` and :mod:`secpipe.keys`
  train and evaluate, sign and attest, store and load, and resolve secrets.
* :mod:`secpipe.cli` is the only layer that prints.

Public surface: the ``secpipe`` command, :func:`secpipe.cli.main.main`, the step interface in
:mod:`secpipe.core.step`, the sink interface in :mod:`secpipe.sinks.interface`, and the
``secpipe.steps`` / ``secpipe.sinks`` entry-point groups for plugins.
"""

__version__ = "0.1.0"
