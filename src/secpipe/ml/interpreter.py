"""Which Python runs the training: secpipe's own, or the project's (``python:``).

A project whose libraries live in its own virtual environment names it (``python: .venv``) or
its interpreter (``python: /opt/py/bin/python3``). Command mode gets it as ``{python}``; estimator
mode runs :mod:`secpipe.ml.worker` under it in isolated mode (``-I``) with a folder on its path
that holds only the ``secpipe`` package, so the project's NumPy, scikit-learn and skops are the
ones used, and nothing else of secpipe's environment leaks in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import secpipe
from secpipe.core.errors import InputError

_BOOT = ("import sys; sys.path.append(sys.argv.pop(1)); from secpipe.ml.worker import main; "
         "raise SystemExit(main(sys.argv[1:]))")
WORKER_NEEDS = "numpy, scikit-learn and skops"
"""What the project's environment must hold for estimator mode under ``python:``."""


def resolve_python(root: Path, setting: str | None) -> str | None:
    """The interpreter ``setting`` names (relative to the project, or absolute; a folder is a
    virtual environment), or None for secpipe's own."""
    if setting is None:
        return None
    path = Path(setting).expanduser()
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        candidates = [path / "bin" / "python", path / "bin" / "python3",
                      path / "Scripts" / "python.exe"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise InputError(f"python: {setting} is a folder without bin/python (name a virtual "
                             "environment or an interpreter)")
        path = found
    if not path.is_file() or not os.access(path, os.X_OK):
        raise InputError(f"python: {setting} is not an executable interpreter")
    return str(path.absolute())  # a venv's python is a link: keep it, it finds its site-packages


def worker_argv(python: str | None, workdir: Path, *args: str) -> list[str]:
    """argv running ``secpipe.ml.worker ARGS`` under ``python`` (None: secpipe's interpreter)."""
    if python is None:
        return [sys.executable, "-I", "-m", "secpipe.ml.worker", *args]
    shim = workdir / "secpipe-path"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / "secpipe"
    package = Path(secpipe.__file__).resolve().parent
    if not (link.is_symlink() and link.resolve() == package):
        link.unlink(missing_ok=True)
        link.symlink_to(package, target_is_directory=True)
    return [python, "-I", "-c", _BOOT, str(shim), *args]
