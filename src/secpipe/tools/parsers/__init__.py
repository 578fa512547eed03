"""One parser per tool output format, each bounded in size and returning secpipe's own types.

- :mod:`~secpipe.tools.parsers.sarif` — SARIF 2.1.0 logs into findings (the field readers are in
  :mod:`~secpipe.tools.parsers.sarif_fields`);
- :mod:`~secpipe.tools.parsers.json` — bounded JSON, and the generic findings shape;
- :mod:`~secpipe.tools.parsers.xml` — XML without any DTD or entity, depth and size bounded,
  into :class:`~secpipe.tools.parsers.xml.XmlElement` trees;
- :mod:`~secpipe.tools.parsers.lines` — line splitting and reading within bounds, and
  compiler-style ``path:line: message`` lines;
- :mod:`~secpipe.tools.parsers.common` — the bounded file read and path normalisation they share.

Malformed, oversized or unexpected input is an :class:`~secpipe.core.errors.InputError` naming
the file and position, never an empty result.
"""
