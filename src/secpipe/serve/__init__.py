"""``secpipe serve``: a small read-only web dashboard over the run store.

Pages (no script, one same-origin style sheet, inline SVG charts): the runs list, trends of
findings by severity and of model metrics across runs, one run's stages, steps and gate
decisions, its findings with filters, and its reports rendered on demand by the report writers.
The same data is under ``/api/`` as JSON. The server is the standard library's
(:mod:`secpipe.serve.app`): bound to loopback by default, GET and HEAD only, Host header
checked, strict Content-Security-Policy. See docs/serve.md.
"""

from __future__ import annotations

from secpipe.serve.app import Dashboard, make_server

__all__ = ["Dashboard", "make_server"]
