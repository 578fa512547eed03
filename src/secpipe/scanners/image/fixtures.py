"""Model files that are test fixtures of an installed third-party package.

A library's wheel or Debian package often ships its own test data: numpy's
``numpy/lib/tests/data/*.npy`` with object arrays (pickles), scipy's IDL and MATLAB files, an
``onnx`` package's test models. The application never loads them; only that package's test
suite does. The model scanner still reports them (it cannot know), and each finding is kept, but
one that sits in a ``tests``/``test``/``testing`` folder *inside an installed package's own file
list* (a dist-info ``RECORD``, an egg-info ``installed-files.txt``, a dpkg ``.list``, an npm
package folder) is lowered to LOW, with the package named, so the image gate judges the image
and not its libraries' test suites. A pickle anywhere else in a package (its code folders, a
data folder it loads from) keeps its severity; so does any file no package lists.

The package's identity is what the image's vulnerability match checks (a malicious package is
an OSV ``MAL-*`` record there); this module only moves its test fixtures out of the gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from secpipe.core.findings import Finding, Severity
from secpipe.images.pkg_model import DEB, NPM, PYPI, Package

TEST_FOLDERS = frozenset({"tests", "test", "testing", "__tests__"})
"""Folder names that hold a package's own test suite and its data."""
_LIBRARY_ROOTS = ("site-packages/", "dist-packages/", "node_modules/")
MAX_FIXTURES = 200_000
"""Most file paths considered (a package list beyond that is not read further)."""


def package_test_files(packages: Iterable[Package]) -> dict[str, Package]:
    """In-image paths (no leading ``/``) of files that packages list under a test folder of a
    library tree (``site-packages``, ``dist-packages``, ``node_modules``), mapped to the
    package that lists them."""
    out: dict[str, Package] = {}
    for package in packages:
        if package.ecosystem not in (PYPI, DEB, NPM):
            continue
        for path in package.files:
            clean = path.lstrip("/")
            cut = max(clean.rfind(root) for root in _LIBRARY_ROOTS)
            if cut < 0:
                continue
            inside = clean[cut:].split("/")[1:-1]  # folders below the library root
            if TEST_FOLDERS.intersection(inside):
                out.setdefault(clean, package)
                if len(out) >= MAX_FIXTURES:
                    return out
    return out


def lower_fixture_findings(findings: Sequence[Finding],
                           fixtures: dict[str, Package]) -> tuple[list[Finding], int]:
    """``findings`` with every model finding on a package test fixture lowered to LOW (the
    message and properties name the package); and how many were lowered."""
    out: list[Finding] = []
    lowered = 0
    for finding in findings:
        package = fixtures.get(finding.location.path.lstrip("/"))
        if package is None or not finding.rule_id.startswith("models.") \
                or finding.severity.rank <= Severity.LOW.rank:
            out.append(finding)
            continue
        lowered += 1
        owner = f"{package.name} {package.version}"
        out.append(replace(
            finding, severity=Severity.LOW,
            message=f"{finding.message} (test data of the installed package {owner}: its test "
                    f"suite loads it, the application does not; was {finding.severity.value})",
            properties=(*finding.properties, ("package_test_fixture", owner),
                        ("original_severity", finding.severity.value))))
    return out, lowered
