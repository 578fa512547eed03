"""The licence names found in package metadata that are not SPDX expressions, and what they mean.

Three explicit tables, read by :mod:`secpipe.scanners.deps.licences`:

* :data:`CLASSIFIERS`: every ``License ::`` trove classifier of PyPI's list, exactly as written;
* :data:`FREE_TEXT`: the common spellings of the ``License:`` field (``MIT License``,
  ``Apache 2.0``, ``BSD``, ``GPLv3``, ``PSF`` …), looked up through :func:`text_key`, which
  folds case, punctuation, ``licence``/``license``, ``version``/``v`` and ``or later``/``+``;
* :data:`TEXT_MARKERS`: phrases that identify a licence *text* pasted into the field.

A value is one of:

* an SPDX expression (``MIT``, ``GPL-2.0-or-later``, ``LicenseRef-scancode-public-domain``);
* ``A | B | C``: the name says *one of these* without saying which (``BSD License``: 2-, 3- or
  4-clause). The policy accepts it only when every reading is acceptable, denies it only when
  every reading is denied, and otherwise reports it as not understood, naming the readings;
* ``?why``: the name says nothing usable about the terms (``Freeware``, ``Other/Proprietary
  License``, ``OSI Approved``): reported as not understood, with ``why``.

Decisions, stated once:

* A GNU licence named with a version but without "or later" (``GPLv3``, the ``GNU General
  Public License v3 (GPLv3)`` classifier) is read ``-only``: SPDX's own deprecated ``GPL-3.0``
  means ``GPL-3.0-only``, the classifiers spell "or later" separately (``GPLv3+``), and
  ``-only`` is never judged more acceptable than ``-or-later`` (it offers fewer versions to
  choose from), so the reading cannot hide a problem.
* A GNU licence named without a version (``GPL``, ``LGPL``) is one of the versions in use
  (GPL 2 or 3; LGPL 2.0, 2.1 or 3); AGPL without a version is AGPL 3.
* ``Apache``, ``Apache Software License`` (the classifier) and their spellings without a
  version are read ``Apache-2.0``: the classifier has no version and Apache 1.x is not used
  by current packages.
* ``PSF``/``Python Software Foundation License`` is ``PSF-2.0`` (the PSF License Agreement,
  which packages such as ``typing_extensions`` declare), not ``Python-2.0`` (the whole stack
  of licences CPython ships under).
* ``Public Domain`` is ScanCode's ``LicenseRef-scancode-public-domain`` (SPDX has no id for it);
  a policy can allow or deny that id like any other.
"""

from __future__ import annotations

import re

BSD_ANY = "BSD-2-Clause | BSD-3-Clause | BSD-4-Clause"
GPL_ANY = "GPL-2.0-only | GPL-3.0-only"
LGPL_ANY = "LGPL-2.0-only | LGPL-2.1-only | LGPL-3.0-only"
_NOT_STATED = "?the name does not state the licence terms"
_PROPRIETARY = "?proprietary or other licence: its terms are not stated"

CLASSIFIERS: dict[str, str] = {
    "License :: Aladdin Free Public License (AFPL)": "Aladdin",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: CeCILL-B Free Software License Agreement (CECILL-B)": "CECILL-B",
    "License :: CeCILL-C Free Software License Agreement (CECILL-C)": "CECILL-C",
    "License :: DFSG approved": "?DFSG approved, but which licence is not named",
    "License :: Eiffel Forum License (EFL)": "EFL-1.0 | EFL-2.0",
    "License :: Free For Educational Use": _NOT_STATED,
    "License :: Free For Home Use": _NOT_STATED,
    "License :: Free To Use But Restricted": _NOT_STATED,
    "License :: Free for non-commercial use": _NOT_STATED,
    "License :: Freely Distributable": _NOT_STATED,
    "License :: Freeware": _NOT_STATED,
    "License :: GUST Font License 1.0": "LicenseRef-scancode-gust-font-1.0",
    "License :: GUST Font License 2006-09-30": "LicenseRef-scancode-gust-font-2006-09-30",
    "License :: Netscape Public License (NPL)": "NPL-1.0 | NPL-1.1",
    "License :: Nokia Open Source License (NOKOS)": "Nokia",
    "License :: OSI Approved": "?OSI approved, but which licence is not named",
    "License :: OSI Approved :: Academic Free License (AFL)":
        "AFL-1.1 | AFL-1.2 | AFL-2.0 | AFL-2.1 | AFL-3.0",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: Apple Public Source License":
        "APSL-1.0 | APSL-1.1 | APSL-1.2 | APSL-2.0",
    "License :: OSI Approved :: Artistic License": "Artistic-1.0 | Artistic-2.0",
    "License :: OSI Approved :: Attribution Assurance License": "AAL",
    "License :: OSI Approved :: BSD License": BSD_ANY,
    "License :: OSI Approved :: Blue Oak Model License (BlueOak-1.0.0)": "BlueOak-1.0.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: CEA CNRS Inria Logiciel Libre License, version 2.1 (CeCILL-2.1)":
        "CECILL-2.1",
    "License :: OSI Approved :: CMU License (MIT-CMU)": "MIT-CMU",
    "License :: OSI Approved :: Common Development and Distribution License 1.0 (CDDL-1.0)":
        "CDDL-1.0",
    "License :: OSI Approved :: Common Public License": "CPL-1.0",
    "License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: Educational Community License, Version 2.0 (ECL-2.0)": "ECL-2.0",
    "License :: OSI Approved :: Eiffel Forum License": "EFL-1.0 | EFL-2.0",
    "License :: OSI Approved :: European Union Public Licence 1.0 (EUPL 1.0)": "EUPL-1.0",
    "License :: OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
    "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)":
        "AGPL-3.0-or-later",
    "License :: OSI Approved :: GNU Free Documentation License (FDL)":
        "GFDL-1.1-only | GFDL-1.2-only | GFDL-1.3-only",
    "License :: OSI Approved :: GNU General Public License (GPL)": GPL_ANY,
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)":
        "GPL-2.0-or-later",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)":
        "GPL-3.0-or-later",
    # "Lesser" GPL version 2 does not exist: 2.0 was the Library GPL, 2.1 the first Lesser one
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)":
        "LGPL-2.0-only | LGPL-2.1-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)":
        "LGPL-2.0-or-later | LGPL-2.1-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)":
        "LGPL-3.0-or-later",
    "License :: OSI Approved :: GNU Library or Lesser General Public License (LGPL)": LGPL_ANY,
    "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "License :: OSI Approved :: IBM Public License": "IPL-1.0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: MirOS License (MirOS)": "MirOS",
    "License :: OSI Approved :: Motosoto License": "Motosoto",
    "License :: OSI Approved :: Mozilla Public License 1.0 (MPL)": "MPL-1.0",
    "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Mulan Permissive Software License v2 (MulanPSL-2.0)":
        "MulanPSL-2.0",
    "License :: OSI Approved :: NASA Open Source Agreement v1.3 (NASA-1.3)": "NASA-1.3",
    "License :: OSI Approved :: Nethack General Public License": "NGPL",
    "License :: OSI Approved :: Nokia Open Source License": "Nokia",
    "License :: OSI Approved :: Open Group Test Suite License": "OGTSL",
    "License :: OSI Approved :: Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
    "License :: OSI Approved :: PostgreSQL License": "PostgreSQL",
    "License :: OSI Approved :: Python License (CNRI Python License)": "CNRI-Python",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: Qt Public License (QPL)": "QPL-1.0",
    "License :: OSI Approved :: Ricoh Source Code Public License": "RSCPL",
    "License :: OSI Approved :: SIL Open Font License 1.1 (OFL-1.1)": "OFL-1.1",
    "License :: OSI Approved :: Sleepycat License": "Sleepycat",
    "License :: OSI Approved :: Sun Public License": "SPL-1.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "License :: OSI Approved :: University of Illinois/NCSA Open Source License": "NCSA",
    "License :: OSI Approved :: Vovida Software License 1.0": "VSL-1.0",
    "License :: OSI Approved :: W3C License": "W3C",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
    "License :: OSI Approved :: Zope Public License": "ZPL-1.1 | ZPL-2.0 | ZPL-2.1",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
    "License :: Other/Proprietary License": _PROPRIETARY,
    "License :: Public Domain": "LicenseRef-scancode-public-domain",
    "License :: Repoze Public License": "?Repoze Public License has no SPDX id",
}
"""Every ``License ::`` classifier of PyPI's list (trove-classifiers), exactly as spelt."""

MISSING = frozenset({"", "unknown", "none", "n/a", "na", "noassertion", "not specified",
                     "unspecified", "undefined", "null", "license", "other", "see license",
                     "see license file", "see license.txt", "license.txt", "license file"})
"""Values of the field that declare nothing (``UNKNOWN`` is what old setuptools wrote when the
author gave no licence), compared after :func:`text_key`-style folding (lower case)."""

FREE_TEXT_SPELLINGS: dict[str, tuple[str, ...]] = {
    "MIT": ("MIT", "MIT License", "The MIT License", "MIT license (MIT)", "Expat",
            "Expat License", "MIT/Expat", "MIT/X11", "X11/MIT"),
    "MIT-0": ("MIT No Attribution", "MIT-0 License"),
    "Apache-2.0": ("Apache", "Apache 2", "Apache 2.0", "Apache-2", "Apache2", "Apache v2",
                   "Apache License", "Apache License 2.0", "Apache License, Version 2.0",
                   "Apache License Version 2.0", "Apache Software License",
                   "Apache Software License 2.0", "Apache Software License, Version 2.0",
                   "Apache License v2.0", "ASL 2.0", "ASL2", "AL2", "Apache Public License 2.0"),
    "Apache-1.1": ("Apache 1.1", "Apache License 1.1", "Apache Software License 1.1"),
    BSD_ANY: ("BSD", "BSD License", "BSD-style", "BSD-style license", "BSD like", "BSD-like",
              "OSI Approved BSD", "BSD licence"),
    "BSD-3-Clause": ("BSD 3-Clause", "BSD-3", "BSD 3", "3-clause BSD", "3-Clause BSD License",
                     "BSD 3-Clause License", "BSD-3-Clause License", "New BSD", "New BSD License",
                     "Modified BSD", "Modified BSD License", "Revised BSD",
                     "Revised BSD License", "BSD (3-clause)", "BSD three-clause",
                     "BSD 3 clause", "3 clause BSD", "BSD-3-clause license"),
    "BSD-2-Clause": ("BSD 2-Clause", "BSD-2", "BSD 2", "2-clause BSD", "2-Clause BSD License",
                     "BSD 2-Clause License", "Simplified BSD", "Simplified BSD License",
                     "FreeBSD License", "BSD (2-clause)", "BSD two-clause"),
    "BSD-4-Clause": ("BSD 4-Clause", "4-clause BSD", "Original BSD", "Original BSD License"),
    "0BSD": ("Zero-Clause BSD", "0-clause BSD", "BSD Zero Clause"),
    GPL_ANY: ("GPL", "GNU GPL", "GNU General Public License", "General Public License"),
    "GPL-2.0-only": ("GPLv2", "GPL v2", "GPL 2", "GPL-2", "GPL2", "GPL 2.0", "GNU GPL v2",
                     "GNU GPLv2", "GNU General Public License v2", "GNU GPL version 2",
                     "GNU General Public License, version 2", "GPL version 2",
                     "GNU General Public License v2 (GPLv2)"),
    "GPL-2.0-or-later": ("GPLv2+", "GPL v2+", "GPL 2+", "GPL2+", "GPL v2 or later",
                         "GPLv2 or later", "GPL 2 or later", "GNU GPL v2 or later",
                         "GNU GPLv2+", "GNU General Public License v2 or later",
                         "GPL version 2 or later", "GPL-2.0 or later",
                         "GNU General Public License v2 or later (GPLv2+)",
                         "GNU General Public License version 2 or any later version"),
    "GPL-3.0-only": ("GPLv3", "GPL v3", "GPL 3", "GPL-3", "GPL3", "GPL 3.0", "GNU GPL v3",
                     "GNU GPLv3", "GNU General Public License v3", "GNU GPL version 3",
                     "GNU General Public License, version 3", "GPL version 3",
                     "GNU General Public License v3 (GPLv3)"),
    "GPL-3.0-or-later": ("GPLv3+", "GPL v3+", "GPL 3+", "GPL3+", "GPL v3 or later",
                         "GPLv3 or later", "GPL 3 or later", "GNU GPL v3 or later",
                         "GNU GPLv3+", "GNU General Public License v3 or later",
                         "GPL version 3 or later", "GPL-3.0 or later",
                         "GNU General Public License v3 or later (GPLv3+)",
                         "GNU General Public License version 3 or any later version"),
    LGPL_ANY: ("LGPL", "GNU LGPL", "GNU Lesser General Public License",
               "GNU Library or Lesser General Public License",
               "GNU Library or Lesser General Public License (LGPL)",
               "Lesser General Public License",
               # psycopg2: an exception only adds permissions, so reading it as LGPL is safe
               "LGPL with exceptions"),
    "LGPL-2.0-only | LGPL-2.1-only": ("LGPLv2", "LGPL v2", "LGPL 2", "LGPL2"),
    "LGPL-2.0-or-later | LGPL-2.1-or-later": ("LGPLv2+", "LGPL v2+", "LGPL2+",
                                              "LGPL v2 or later", "LGPLv2 or later"),
    "LGPL-2.1-only": ("LGPLv2.1", "LGPL v2.1", "LGPL 2.1", "LGPL-2.1", "LGPL2.1",
                      "GNU LGPL v2.1", "GNU Lesser General Public License v2.1",
                      "GNU Lesser General Public License, version 2.1"),
    "LGPL-2.1-or-later": ("LGPLv2.1+", "LGPL v2.1+", "LGPL 2.1+", "LGPL v2.1 or later",
                          "LGPLv2.1 or later", "LGPL 2.1 or later", "GNU LGPL v2.1 or later",
                          "GNU Lesser General Public License v2.1 or later"),
    "LGPL-3.0-only": ("LGPLv3", "LGPL v3", "LGPL 3", "LGPL-3", "LGPL3", "LGPL 3.0",
                      "GNU LGPL v3", "GNU LGPLv3", "GNU Lesser General Public License v3",
                      "GNU Lesser General Public License v3 (LGPLv3)"),
    "LGPL-3.0-or-later": ("LGPLv3+", "LGPL v3+", "LGPL 3+", "LGPL3+", "LGPL v3 or later",
                          "LGPLv3 or later", "GNU LGPL v3 or later",
                          "GNU Lesser General Public License v3 or later",
                          "GNU Lesser General Public License v3 or later (LGPLv3+)"),
    "AGPL-3.0-only": ("AGPL", "AGPLv3", "AGPL v3", "AGPL 3", "AGPL-3", "AGPL3", "GNU AGPL",
                      "GNU AGPLv3", "GNU AGPL v3", "GNU Affero General Public License",
                      "GNU Affero General Public License v3", "Affero GPL", "Affero GPLv3"),
    "AGPL-3.0-or-later": ("AGPLv3+", "AGPL v3+", "AGPL 3+", "AGPL3+", "AGPL v3 or later",
                          "AGPLv3 or later", "GNU AGPLv3+", "GNU AGPL v3 or later",
                          "GNU Affero General Public License v3 or later",
                          "GNU Affero General Public License v3 or later (AGPLv3+)"),
    "MPL-2.0": ("MPL 2", "MPL 2.0", "MPL2", "MPLv2", "MPL v2", "MPL-2",
                "Mozilla Public License 2.0",
                "Mozilla Public License, Version 2.0", "Mozilla Public License Version 2.0",
                "Mozilla Public License 2.0 (MPL 2.0)"),
    "MPL-1.1": ("MPL 1.1", "Mozilla Public License 1.1"),
    "PSF-2.0": ("PSF", "PSFL", "PSF License", "PSF license 2.0", "PSF 2.0",
                "Python Software Foundation License", "Python Software Foundation",
                "Python Software Foundation License Version 2", "PSF License Version 2"),
    "ISC": ("ISC", "ISC License", "ISCL", "ISC License (ISCL)"),
    "Unlicense": ("The Unlicense", "Unlicense"),
    "CC0-1.0": ("CC0", "CC0 1.0", "CC0 1.0 Universal", "Creative Commons Zero"),
    "LicenseRef-scancode-public-domain": ("Public Domain", "Public-Domain",
                                          "Released into the public domain"),
    "BSL-1.0": ("Boost", "Boost Software License", "Boost Software License 1.0",
                "Boost License"),
    "Zlib": ("zlib/libpng", "zlib License", "zlib/libpng license"),
    "EPL-2.0": ("EPL 2.0", "Eclipse Public License 2.0", "Eclipse Public License v2.0"),
    "EPL-1.0": ("EPL 1.0", "Eclipse Public License 1.0", "Eclipse Public License v1.0"),
    "Artistic-2.0": ("Artistic 2.0", "Artistic License 2.0"),
    "SSPL-1.0": ("SSPL", "SSPL v1", "Server Side Public License",
                 "Server Side Public License v1"),
    "BUSL-1.1": ("BSL 1.1", "Business Source License", "Business Source License 1.1"),
    "HPND": ("Historical Permission Notice and Disclaimer",),
    "CDDL-1.0": ("CDDL", "CDDL 1.0", "Common Development and Distribution License",
                 "Common Development and Distribution License 1.0"),
    "EUPL-1.2": ("EUPL 1.2", "EUPL v1.2", "European Union Public Licence 1.2"),
    "ZPL-2.1": ("ZPL 2.1", "Zope Public License 2.1"),
    "ZPL-1.1 | ZPL-2.0 | ZPL-2.1": ("ZPL", "Zope Public License"),
    "OFL-1.1": ("OFL 1.1", "SIL Open Font License 1.1", "SIL OFL 1.1"),
    "CC-BY-4.0": ("CC BY 4.0", "CC-BY 4.0", "Creative Commons Attribution 4.0",
                  "Creative Commons Attribution 4.0 International"),
    "CC-BY-SA-4.0": ("CC BY-SA 4.0", "Creative Commons Attribution-ShareAlike 4.0",
                     "Creative Commons Attribution Share Alike 4.0 International"),
    "CC-BY-NC-4.0": ("CC BY-NC 4.0", "Creative Commons Attribution-NonCommercial 4.0",
                     "Creative Commons Attribution Non Commercial 4.0 International"),
    "CC-BY-NC-SA-4.0": ("CC BY-NC-SA 4.0",
                        "Creative Commons Attribution-NonCommercial-ShareAlike 4.0"),
    "WTFPL": ("WTFPL", "Do What The F*ck You Want To Public License"),
    _PROPRIETARY: ("Proprietary", "Commercial", "Other/Proprietary", "Other/Proprietary License",
                   "Closed source", "All rights reserved", "Copyright", "Private",
                   "Proprietary License", "Commercial License"),
    "?dual-licensed, but the licences are not named": ("Dual License", "Dual licensed",
                                                       "Dual-licensed"),
    _NOT_STATED: ("Freeware", "Freely Distributable", "Free for non-commercial use",
                  "Free To Use But Restricted", "Free For Home Use",
                  "Free For Educational Use", "OSI Approved", "Open Source", "DFSG approved"),
}
"""SPDX reading → the spellings of the ``License:`` field that mean it (matched through
:func:`text_key`, so case, punctuation and ``licence``/``license`` do not matter)."""

_NUMBER = re.compile(r"\d+(?:\.\d+)*\+?")
_TOKEN = re.compile(r"\d+(?:\.\d+)*\+?|[a-z0-9]+|\+")
_DROPPED = frozenset({"the", "license", "licenses", "licensed", "version", "ver", "under",
                      "gnu", "terms", "style"})
_LATER = (("or", "any", "later"), ("or", "later"), ("and", "later"), ("or", "newer"),
          ("or", "above"), ("or", "greater"), ("later",))
_PHRASES = (
    ("library or lesser general public", "lgpl"),
    ("lesser general public", "lgpl"),
    ("library general public", "lgpl"),
    ("affero general public", "agpl"),
    ("affero gpl", "agpl"),
    ("general public", "gpl"),
)


def _fold_version(token: str) -> str:
    """``2.0`` → ``2``, ``3.0+`` → ``3+``, ``2.1`` unchanged."""
    plus = token.endswith("+")
    core = token.rstrip("+")
    while core.endswith(".0"):
        core = core[:-2]
    return core + ("+" if plus else "")


def text_key(text: str) -> str:
    """The comparison key of a licence name: lower case, ``licence`` = ``license``, punctuation
    and filler words (``the``, ``license``, ``version``, ``gnu``) dropped, ``v3``/``version 3``
    /``3.0`` → ``3``, ``or later``/``or any later version``/``+`` → ``+``, the GNU licence names
    spelt out → ``gpl``/``lgpl``/``agpl``. ``GNU General Public License v3 or later`` and
    ``GPLv3+`` both give ``gpl 3+``."""
    s = text.lower().replace("licence", "license").replace("_", " ")
    s = re.sub(r"v(?=\d)", " ", s)  # gplv3, v2.0
    s = re.sub(r"(?<=[a-z])(?=\d)", " ", s)  # apache2, gpl3
    tokens = [t for t in _TOKEN.findall(s) if t not in _DROPPED]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if _NUMBER.fullmatch(tok):
            tok = _fold_version(tok)
            for later in _LATER:
                if tuple(tokens[i + 1:i + 1 + len(later)]) == later:
                    tok = tok.rstrip("+") + "+"
                    i += len(later)
                    break
        if tok == "+" and out and _NUMBER.fullmatch(out[-1]):
            out[-1] = out[-1].rstrip("+") + "+"
        elif not out or out[-1] != tok:  # "MIT License (MIT)" → "mit"
            out.append(tok)
        i += 1
    key = " ".join(out)
    for phrase, short in _PHRASES:
        key = key.replace(phrase, short)
    return key


FREE_TEXT: dict[str, str] = {text_key(spelling): meaning
                             for meaning, spellings in FREE_TEXT_SPELLINGS.items()
                             for spelling in spellings}
"""``text_key(spelling)`` → reading, built from :data:`FREE_TEXT_SPELLINGS`."""

TEXT_MARKERS: tuple[tuple[str, str], ...] = (
    # GNU notices: "… under the terms of the GNU General Public License as published by the Free
    # Software Foundation, either version 3 of the License, or (at your option) any later version"
    (r"gnu affero general public license as published by the free software foundation[;,]? "
     r"(?:either )?version 3(?: of the license)?,? or \(at your option\) any later version",
     "AGPL-3.0-or-later"),
    (r"gnu lesser general public license as published by the free software foundation[;,]? "
     r"(?:either )?version 3(?: of the license)?,? or \(at your option\) any later version",
     "LGPL-3.0-or-later"),
    (r"gnu lesser general public license as published by the free software foundation[;,]? "
     r"(?:either )?version 2\.1(?: of the license)?,? or \(at your option\) any later version",
     "LGPL-2.1-or-later"),
    (r"gnu general public license as published by the free software foundation[;,]? "
     r"(?:either )?version 3(?: of the license)?,? or \(at your option\) any later version",
     "GPL-3.0-or-later"),
    (r"gnu general public license as published by the free software foundation[;,]? "
     r"(?:either )?version 2(?: of the license)?,? or \(at your option\) any later version",
     "GPL-2.0-or-later"),
    # the licences' own titles ("or later" is not in a licence's text: read -only)
    (r"gnu affero general public license version 3", "AGPL-3.0-only"),
    (r"gnu lesser general public license version 3", "LGPL-3.0-only"),
    (r"gnu lesser general public license version 2\.1", "LGPL-2.1-only"),
    (r"gnu library general public license version 2", "LGPL-2.0-only"),
    (r"gnu general public license version 3", "GPL-3.0-only"),
    (r"gnu general public license version 2", "GPL-2.0-only"),
    (r"apache license,? version 2\.0", "Apache-2.0"),
    (r"mozilla public license,? version 2\.0", "MPL-2.0"),
    (r"mozilla public license,? version 1\.1", "MPL-1.1"),
    (r"server side public license,? version 1", "SSPL-1.0"),
    (r"business source license 1\.1", "BUSL-1.1"),
    (r"eclipse public license - v(?:ersion)? 2\.0", "EPL-2.0"),
    (r"boost software license - version 1\.0", "BSL-1.0"),
    (r"python software foundation license version 2", "PSF-2.0"),
    (r"cc0 1\.0 universal", "CC0-1.0"),
    (r"this is free and unencumbered software released into the public domain", "Unlicense"),
    (r"permission is hereby granted, free of charge, to any person obtaining a copy", "MIT"),
    (r"permission to use, copy, modify, and(?:/or)? distribute this software for any purpose "
     r"with or without fee is hereby granted", "ISC"),
    (r"redistribution and use in source and binary forms, with or without modification, are "
     r"permitted provided that the following conditions are met", "BSD"),
)
"""(regular expression over the text folded to lower case with single spaces, reading) of a
licence text pasted into the ``License:`` field; the earliest match in the text wins. ``BSD``
is resolved by the clauses present (an advertising clause: 4-clause; a no-endorsement clause
"neither the name …": 3-clause; neither: 2-clause)."""

BSD_ADVERTISING = "all advertising materials mentioning features"
BSD_ENDORSEMENT = (r"neither the name of|the names? of (?:the )?(?:copyright holders?|authors?|its"
                   r" contributors)? ?.{0,120}?may not be used to endorse")
