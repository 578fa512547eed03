"""The secrets scanner (step kind ``scan-secrets``, command ``secpipe scan secrets``).

How it works, module by module:

* :mod:`.rules` (with :mod:`.rules_tokens`, :mod:`.rules_context`, :mod:`.rules_structured`) is
  the rule table: one :class:`~.rules.Rule` per kind of credential, each with prefilter keywords,
  a regular expression and a validator (checksums, structure, charset, entropy, placeholders).
* :mod:`.checks` holds the validators and the filters shared by all rules (placeholders,
  documented example keys, hashes, UUIDs, lockfile integrity strings).
* :mod:`.detect` finds rule keywords in one pass (Aho-Corasick when ``pyahocorasick`` is
  installed), runs a rule's expression only in windows around its keywords, and resolves overlaps.
* :mod:`.sources` turns file bytes into text units: plain text, notebook cells and outputs, and
  members of zip/tar archives (:mod:`.archives`), skipping binaries by content.
* :mod:`.engine` scans one file (the unit of work and of caching), :mod:`.cache` remembers results
  by content hash, :mod:`.history` scans every commit of git history, and :mod:`.step` ties them
  together with a process pool.
"""
