"""External programs: one supervisor to run them, one parser per output format.

Every step that runs a program (``exec``, ``train``, ``evaluate``'s prediction child, and every
tool-driven step to come) goes through :func:`secpipe.tools.supervisor.run_tool`; every step that
reads a tool's output goes through a parser that bounds it and returns secpipe's own types.

- :mod:`~secpipe.tools.supervisor` — :class:`~secpipe.tools.supervisor.ToolCall` in,
  :class:`~secpipe.tools.supervisor.ToolOutcome` out: new session and process group, stdin
  closed, timeout and ``cancel`` (Ctrl-C) stop every process of the tool, output bounded;
- :mod:`~secpipe.tools.procs` — finding the tool's processes (group, session, marker token in
  their environment) and stopping them by pidfd;
- :mod:`~secpipe.tools.env` — the environment allowlist, declared variables, ``pass_env``;
- :mod:`~secpipe.tools.capture` — bounded capture: a log's tail, an output's head, line by line;
- :mod:`~secpipe.tools.redact` — bounding and redaction of what tools say (snippets quote
  secrets), applied before anything of it is kept;
- :mod:`~secpipe.tools.parsers` — ``sarif`` (with ``sarif_fields``), ``json`` (the generic
  findings shape), ``xml`` (no DTD, bounded), ``lines`` (line-oriented output), ``common``;
- :mod:`~secpipe.tools.outputs` — a findings output read by format into one result type;
- :mod:`~secpipe.tools.suppressions` — suppressions a tool wrote itself: kept as marked findings,
  counted by the gate unless the policy sets ``accept_tool_suppressions``.

See ``docs/tools.md``.
"""
