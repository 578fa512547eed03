"""The apk database ``/lib/apk/db/installed``: blank-line separated stanzas of ``X:value`` lines.

``P`` name, ``V`` version, ``A`` arch, ``o`` origin (the source aport: the name Alpine's
security data uses), ``L`` licence, ``F`` a folder and ``R`` a file in it (file ownership).
"""

from __future__ import annotations

from secpipe.images.pkg_model import APK, Distro, FsView, Package, Problem, read_text

INSTALLED = "/lib/apk/db/installed"
MAX_INSTALLED_BYTES = 64 << 20
MAX_FILES_PER_PACKAGE = 50_000


def read_apk(fs: FsView, distro: Distro | None, problems: list[Problem],
             databases: list[str]) -> list[Package]:
    """Every package of the apk database (a stanza without ``P`` or ``V`` is a problem)."""
    text = read_text(fs, INSTALLED, MAX_INSTALLED_BYTES, problems)
    if text is None:
        return []
    databases.append(INSTALLED)
    found: list[Package] = []
    fields: dict[str, str] = {}
    files: list[str] = []
    folder = ""
    start = 1
    bad = False

    def close(end: int) -> None:
        if not fields and not bad:
            return
        name, version = fields.get("P", ""), fields.get("V", "")
        if bad or not name or not version:
            problems.append(Problem(INSTALLED, f"lines {start}-{end}: stanza without a "
                                               "package name and version, or malformed"))
            return
        if len(files) > MAX_FILES_PER_PACKAGE:
            problems.append(Problem(INSTALLED, f"{name}: more than {MAX_FILES_PER_PACKAGE} "
                                               "files: the rest not listed"))
        found.append(Package(ecosystem=APK, name=name, version=version,
                             source_name=fields.get("o") or name, source_version=version,
                             arch=fields.get("A") or None, distro=distro,
                             locations=(INSTALLED,), licence=fields.get("L") or None,
                             files=tuple(files[:MAX_FILES_PER_PACKAGE])))

    number = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            close(number - 1)
            fields, files, folder, start, bad = {}, [], "", number + 1, False
            continue
        if len(line) < 2 or line[1] != ":":
            bad = True
            continue
        key, value = line[0], line[2:]
        if key == "F":
            folder = value
        elif key == "R":
            if len(files) <= MAX_FILES_PER_PACKAGE:
                files.append(f"/{folder}/{value}" if folder else f"/{value}")
        elif key not in fields:
            fields[key] = value
    close(number)
    return found
