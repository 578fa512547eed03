"""Dockerfiles and Compose files for ``scan-iac``: :func:`analyse` and the rules (``RULES``).

:mod:`.dockerfile` reads Dockerfiles (multi-stage, here-documents, the escape directive) and
checks them; :mod:`.compose` does the same for Compose files; :mod:`.shell` is the bounded reader
of ``RUN`` commands; :mod:`.images` knows image references and the short list of bases that run
as non-root by default; :mod:`.rules` holds every rule's text and mappings.
"""

from __future__ import annotations

from pathlib import Path

from secpipe.scanners.iac.docker import compose, dockerfile
from secpipe.scanners.iac.docker.rules import RULES
from secpipe.scanners.iac.model import Analysis, Budget, IacFile, Problem

__all__ = ["RULES", "analyse"]


def analyse(dockerfiles: list[IacFile], composes: list[IacFile], root: Path,
            budget: Budget) -> Analysis:
    """Analyse the Dockerfiles and Compose files given (``root`` is the project folder; files
    are read through their own absolute paths). What could not be analysed (too large, not
    parsable, the time budget spent) is a :class:`Problem` each; nothing raises for bad input."""
    del root  # every file carries its own path; nothing else is read
    out = Analysis()
    jobs = [(f, dockerfile.analyse_file) for f in dockerfiles] + \
        [(f, compose.analyse_file) for f in composes]
    for index, (file, run) in enumerate(jobs):
        if budget.spent():
            for left, _ in jobs[index:]:
                out.problems.append(Problem("iac.budget-exceeded", left.rel, None,
                                            f"the IaC time budget ({budget.max_seconds:g} s) "
                                            "was spent before this file: not analysed"))
            break
        try:
            out.extend(run(file, budget))
        except RecursionError:
            out.problems.append(Problem("iac.budget-exceeded", file.rel, None,
                                        "nested too deeply to analyse: not analysed"))
        except Exception as exc:  # a bug of ours must not pass the file silently or stop the scan
            out.problems.append(Problem(
                "iac.parse-error", file.rel, None,
                f"not analysed: the analyser failed ({type(exc).__name__}); please report it"))
    return out
