"""The secrets scanner (step kind ``scan-secrets``, command ``secpipe scan secrets``).

How it works, module by module:

* :mod:`.rules` (with :mod:`.rules_tokens`, :mod:`.rules_context`, :mod:`.rules_structured`,
  :mod:`.rules_hashes`, :mod:`.rules_cmdline`) is the rule table: one :class:`~.rules.Rule`
  per kind of credential, each with prefilter keywords, a regular expression and a validator
  (checksums, structure, charset, entropy, placeholders).
* :mod:`.checks` holds the validators and the filters shared by all rules (placeholders,
  documented example keys, hashes, UUIDs, lockfile integrity strings).
* :mod:`.detect` finds rule keywords in one pass (one RE2 alternation when ``google-re2`` is
  installed), runs a rule's expression only in windows around its keywords, and resolves overlaps.
* :mod:`.sources` turns file bytes into text units: UTF-8, UTF-16 and UTF-32 text, notebook cells
  and outputs, and members of zip/tar archives (:mod:`.archives`), skipping binaries by content.
* :mod:`.encoded` decodes base64/hex blobs (two layers at most) so the rules see what they hide;
  :mod:`.credfiles` parses credential files known by name (``.netrc``, ``.pgpass``,
  ``kaggle.json``, docker ``config.json``, tool and IDE connection stores …), each by its format,
  and configuration files for keys named like a password.
* :mod:`.engine` scans one file (the unit of work and of caching), :mod:`.cache` remembers results
  by content hash, :mod:`.history` scans every commit of git history, and :mod:`.step` ties them
  together with a process pool.
"""
