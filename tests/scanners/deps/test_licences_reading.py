"""Reading declared licence values: SPDX expressions, PyPI's free text and classifiers, pasted
licence texts, and the bounds of the reader."""

from __future__ import annotations

import pytest

from secpipe.core.findings import Confidence
from secpipe.scanners.deps import licence_names as names
from secpipe.scanners.deps.licences import (
    MAX_EXPRESSION_CHARS,
    MAX_NESTING,
    AllOf,
    NotUnderstood,
    OneOf,
    read_licence,
)

MIT_TEXT = (
    "MIT License\n\nCopyright (c) 2018 Example Authors\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy\n"
    "of this software and associated documentation files (the \"Software\"), to deal\n"
    "in the Software without restriction, including without limitation the rights\n"
    "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n"
    "copies of the Software, and to permit persons to whom the Software is\n"
    "furnished to do so, subject to the following conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all\n"
    "copies or substantial portions of the Software.\n"
)

BSD_CLAUSES = (
    "Redistribution and use in source and binary forms, with or without\n"
    "modification, are permitted provided that the following conditions are\n"
    "met:\n\n"
    "    * Redistributions of source code must retain the above copyright\n"
    "       notice, this list of conditions and the following disclaimer.\n\n"
    "    * Redistributions in binary form must reproduce the above\n"
    "       copyright notice, this list of conditions and the following\n"
    "       disclaimer in the documentation and/or other materials provided\n"
    "       with the distribution.\n\n"
)
NUMPY_1_26_LICENSE_FIELD = (  # numpy 1.x put its whole LICENSE.txt (and bundled notes) here
    "Copyright (c) 2005-2023, NumPy Developers.\n        All rights reserved.\n\n"
    + BSD_CLAUSES
    + "    * Neither the name of the NumPy Developers nor the names of any\n"
    "       contributors may be used to endorse or promote products derived\n"
    "       from this software without specific prior written permission.\n\n"
    "THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS\n"
    "\"AS IS\" AND ANY EXPRESS OR IMPLIED WARRANTIES ...\n\n----\n\n"
    "The NumPy repository and source distributions bundle several libraries that are\n"
    "compatibly licensed.  We list these here.\n\n"
    "Name: lapack-lite\nFiles: numpy/linalg/lapack_lite/*\nLicense: BSD-3-Clause\n"
    "Name: dragon4\nFiles: numpy/core/src/multiarray/dragon4.c\nLicense: MIT\n"
)
GPL3_TEXT = (
    "                    GNU GENERAL PUBLIC LICENSE\n"
    "                       Version 3, 29 June 2007\n\n"
    " Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>\n"
    " Everyone is permitted to copy and distribute verbatim copies\n"
    " of this license document, but changing it is not allowed.\n"
)
GPL2_NOTICE = (
    "Copyright (C) 2001 Example\n\n"
    "This program is free software; you can redistribute it and/or modify\n"
    "it under the terms of the GNU General Public License as published by\n"
    "the Free Software Foundation; either version 2 of the License, or\n"
    "(at your option) any later version.\n"
)


def expr(value: str | None) -> str:
    return read_licence(value).expression


@pytest.mark.parametrize(("declared", "expected"), [
    ("BSD-3-Clause", "BSD-3-Clause"),  # numpy 2.x, torch 2.x License / License-Expression
    ("Apache-2.0 OR MIT", "Apache-2.0 OR MIT"),
    ("Apache-2.0 OR BSD-3-Clause", "Apache-2.0 OR BSD-3-Clause"),  # cryptography
    ("LGPL-2.1-or-later", "LGPL-2.1-or-later"),
    ("mit", "MIT"),
    ("GPL-2.0+", "GPL-2.0-or-later"),  # SPDX's deprecated + form
    ("GPL-3.0", "GPL-3.0-only"),  # SPDX's deprecated bare form means -only
    ("(MIT OR Apache-2.0) AND BSD-3-Clause", "(MIT OR Apache-2.0) AND BSD-3-Clause"),
    ("GPL-2.0-or-later WITH Classpath-exception-2.0",
     "GPL-2.0-or-later WITH Classpath-exception-2.0"),
    ("GPL-2.0-with-classpath-exception", "GPL-2.0-only WITH Classpath-exception-2.0"),
    ("MPL-1.1+", "MPL-1.1+"),
    ("LicenseRef-Acme-Internal", "LicenseRef-Acme-Internal"),
])
def test_spdx_expressions_are_read_as_spdx(declared: str, expected: str) -> None:
    reading = read_licence(declared)
    assert reading.expression == expected
    assert reading.read_as == "SPDX expression"
    assert reading.confidence is Confidence.HIGH


@pytest.mark.parametrize(("declared", "expected"), [
    ("MIT License", "MIT"),
    ("The MIT License (MIT)", "MIT"),
    ("Apache 2.0", "Apache-2.0"),  # requests
    ("Apache License, Version 2.0", "Apache-2.0"),
    ("Apache Software License", "Apache-2.0"),
    ("BSD-3", "BSD-3-Clause"),  # torch 1.x
    ("New BSD License", "BSD-3-Clause"),
    ("Simplified BSD", "BSD-2-Clause"),
    ("GPLv3", "GPL-3.0-only"),  # decision: a version without "or later" is -only
    ("GPLv3+", "GPL-3.0-or-later"),
    ("GNU General Public License v2 or later", "GPL-2.0-or-later"),
    ("LGPLv2.1+", "LGPL-2.1-or-later"),
    ("GNU Lesser General Public License v3 (LGPLv3)", "LGPL-3.0-only"),
    ("PSF", "PSF-2.0"),
    ("Python Software Foundation License", "PSF-2.0"),
    ("MPL 2.0", "MPL-2.0"),
    ("Public Domain", "LicenseRef-scancode-public-domain"),
    ("Apache 2.0 or MIT", "Apache-2.0 OR MIT"),  # operands in free text
    ("BSD 3-Clause OR GPLv2", "BSD-3-Clause OR GPL-2.0-only"),
])
def test_free_text_spellings_are_normalised(declared: str, expected: str) -> None:
    reading = read_licence(declared)
    assert reading.expression == expected
    assert reading.read_as == "free text"


@pytest.mark.parametrize(("declared", "readings"), [
    ("BSD", ("BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause")),
    ("BSD License", ("BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause")),
    ("GPL", ("GPL-2.0-only", "GPL-3.0-only")),  # not ScanCode's GPL-1.0-or-later alias
    ("LGPL", ("LGPL-2.0-only", "LGPL-2.1-only", "LGPL-3.0-only")),
])
def test_names_without_a_variant_are_ambiguous(declared: str, readings: tuple[str, ...]) -> None:
    node = read_licence(declared).node
    assert isinstance(node, OneOf)
    assert tuple(p.render() for p in node.parts) == readings


@pytest.mark.parametrize(("declared", "expected"), [
    ("License :: OSI Approved :: MIT License", "MIT"),
    ("License :: OSI Approved :: Apache Software License", "Apache-2.0"),
    ("License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
     "GPL-3.0-or-later"),
    ("License :: OSI Approved :: GNU Affero General Public License v3", "AGPL-3.0-only"),
    ("License :: OSI Approved :: Python Software Foundation License", "PSF-2.0"),
    ("License :: OSI Approved :: BSD License",
     "one of (BSD-2-Clause, BSD-3-Clause, BSD-4-Clause)"),
    ("License  ::  OSI Approved ::  MIT License", "MIT"),  # spacing does not matter
])
def test_trove_classifiers(declared: str, expected: str) -> None:
    reading = read_licence(declared)
    assert reading.expression == expected
    assert reading.read_as == "trove classifier"


def test_several_classifiers_all_apply() -> None:
    # PyQt-style: GPL v3 and a commercial licence, declared by classifiers only
    reading = read_licence("License :: OSI Approved :: GNU General Public License v3 (GPLv3)\n"
                           "License :: Other/Proprietary License\n")
    assert isinstance(reading.node, AllOf)
    assert reading.expression == "GPL-3.0-only AND ?"


def test_every_classifier_and_spelling_of_the_tables_reads() -> None:
    for classifier in names.CLASSIFIERS:
        reading = read_licence(classifier)
        assert reading.read_as == "trove classifier", classifier
        if not names.CLASSIFIERS[classifier].startswith("?"):
            assert "?" not in reading.expression, classifier
    for meaning, spellings in names.FREE_TEXT_SPELLINGS.items():
        for spelling in spellings:
            node = read_licence(spelling).node
            if meaning.startswith("?"):
                assert isinstance(node, NotUnderstood), spelling
            else:
                assert "?" not in node.render(), spelling


def test_no_two_spellings_fold_to_one_key_with_different_meanings() -> None:
    seen: dict[str, str] = {}
    for meaning, spellings in names.FREE_TEXT_SPELLINGS.items():
        for spelling in spellings:
            key = names.text_key(spelling)
            assert seen.setdefault(key, meaning) == meaning, (spelling, seen[key], meaning)


@pytest.mark.parametrize("declared", [None, "", "UNKNOWN", "  ", "NOASSERTION", "'UNKNOWN'"])
def test_missing_values(declared: str | None) -> None:
    reading = read_licence(declared)
    assert reading.read_as == "missing"
    assert isinstance(reading.node, NotUnderstood)


def test_pasted_bsd_text_is_recognised_by_its_clauses() -> None:
    numpy = read_licence(NUMPY_1_26_LICENSE_FIELD)
    assert numpy.expression == "BSD-3-Clause"
    assert numpy.read_as == "licence text"
    assert numpy.confidence is Confidence.LOW
    two = "Copyright (c) 2020 A\n" + BSD_CLAUSES + "THIS SOFTWARE IS PROVIDED ..."
    assert expr(two) == "BSD-2-Clause"
    four = two.replace("THIS SOFTWARE", "3. All advertising materials mentioning features or "
                       "use of this software must display ...\nTHIS SOFTWARE")
    assert expr(four) == "BSD-4-Clause"


def test_pasted_texts_and_notices() -> None:
    assert expr(MIT_TEXT) == "MIT"
    assert expr(MIT_TEXT.replace("MIT License\n\n", "")) == "MIT"  # by its phrase alone
    assert expr(GPL3_TEXT) == "GPL-3.0-only"
    assert expr(GPL2_NOTICE) == "GPL-2.0-or-later"
    assert expr("Apache License\n  Version 2.0, January 2004\n  http://www.apache.org/") == \
        "Apache-2.0"
    # nothing recognisable in the text, but its first line is a licence name
    assert expr("MPL 2.0\nsee the LICENSE file for the exact terms") == "MPL-2.0"


def test_unrecognised_pasted_text_is_not_understood() -> None:
    reading = read_licence("Copyright 2024 Example Corp.\nUse of this software is governed "
                           "by the agreement you signed.")
    assert isinstance(reading.node, NotUnderstood)
    assert "first line: 'Copyright 2024 Example Corp." in reading.node.reason


@pytest.mark.parametrize(("declared", "fragment"), [
    ("MIT AND (", "not a valid SPDX expression: Invalid expression"),
    ("MIT WITH Foo-exception", "cannot be used as an exception"),
    ("Classpath-exception-2.0", "can only be used as an exception"),
    ("MIT; Apache-2.0", "not a valid SPDX expression"),
    ("My Own License 1.0", "is not an SPDX licence id or a known licence name"),
])
def test_invalid_expressions_keep_the_parsers_reason(declared: str, fragment: str) -> None:
    node = read_licence(declared).node
    assert isinstance(node, NotUnderstood)
    assert fragment in node.reason


def test_reading_is_bounded() -> None:
    long = " OR ".join(["MIT"] * 600)
    assert len(long) > MAX_EXPRESSION_CHARS
    node = read_licence(long).node
    assert isinstance(node, NotUnderstood) and node.bounded
    assert "longer than" in node.reason
    deep = "(" * (MAX_NESTING + 1) + "MIT" + ")" * (MAX_NESTING + 1)
    node = read_licence(deep).node
    assert isinstance(node, NotUnderstood) and node.bounded
    many = " OR ".join(["0BSD"] * 250)
    assert len(many) < MAX_EXPRESSION_CHARS
    node = read_licence(many).node
    assert isinstance(node, NotUnderstood) and "250 licences" in node.reason
    # a megabyte pasted into the field: its head is read, the rest is not
    huge = MIT_TEXT + ("filler line\n" * 100_000)
    assert read_licence(huge).expression == "MIT"
    one_line = "x" * 1_000_000
    node = read_licence(one_line).node
    assert isinstance(node, NotUnderstood)
