"""secpipe: MLSecOps and DevSecOps pipelines for teams that ship machine-learning systems.

Architecture (see ``docs/architecture.md`` for the full map):

* :mod:`secpipe.pipeline` holds the pipeline model (stages of concurrent steps, validated with
  pydantic), the built-in ``mlsecops`` and ``devsecops`` pipelines and the :class:`Runner`.
* :mod:`secpipe.core` holds the result types every step returns (:class:`Finding`,
  :class:`StepResult`), the error hierarchy and the explicit registry of step kinds.
* :mod:`secpipe.scanners` holds the scanners (``scan-secrets`` first), each a step kind.
* :mod:`secpipe.policy` evaluates gates: severities, counts, metric bounds, baselines and
  suppressions with expiry.
* :mod:`secpipe.runstore` records every run in SQLite; :mod:`secpipe.reports` renders SARIF 2.1.0,
  JSON, Markdown and HTML from a recorded run.
* :mod:`secpipe.cli` is the only layer that prints.

Public surface: the ``secpipe`` command, :func:`secpipe.cli.main.main`, and the types re-exported
from :mod:`secpipe.core`.
"""

__version__ = "0.1.0"
