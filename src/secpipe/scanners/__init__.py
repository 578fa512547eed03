"""Scanners: step kinds that read a project and report findings.

Each scanner is a package (``secrets/`` first; code, dependencies, notebooks, datasets, models,
LLM endpoints, IaC and images follow) whose ``step`` module holds its
:class:`~secpipe.core.step.StepKind`.
They are listed by name in :data:`secpipe.core.registry.BUILTIN_STEPS` and imported only when used;
a plugin adds one through the ``secpipe.steps`` entry-point group.

The interface they share: a kind named ``scan-X`` is ``secpipe scan X``; its settings derive from
:class:`~secpipe.scanners.base.ScannerSettings` (``paths``, ``exclude`` added to the default
excludes, ``default_excludes``, one set of budget names); :mod:`.walk` is the one walker (links
never followed, special files and unreadable folders reported); :mod:`.options` turns the settings
fields into the command's options. ``docs/scanners.md`` describes it for plugin authors.

Every scanner follows the same contract: it never executes what it reads, it bounds every parser in
size, depth and time, it reports a bound it hit as a finding (never a silent pass), it lists what it
could not read as :class:`~secpipe.core.results.Skipped`, and it never puts a secret in clear into a
finding, a log line or a metric.
"""
