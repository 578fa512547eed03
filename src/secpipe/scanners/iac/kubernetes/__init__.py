"""Kubernetes manifests, Helm charts and Kustomize overlays for ``scan-iac``.

:func:`analyse` reads the manifests the step hands it (multi-document YAML, ``kind: List``,
JSON), renders Helm charts (``helm template`` when installed, else :mod:`.gotmpl`'s static
substitution) and Kustomize overlays (``kubectl kustomize``), and checks every object with
:data:`RULES`. Bad input never raises: it becomes a :class:`~secpipe.scanners.iac.model.Problem`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from secpipe.scanners.iac.kubernetes.helm import analyse_chart
from secpipe.scanners.iac.kubernetes.kustomize import (
    KUSTOMIZATION_NAMES,
    BuildCache,
    attach_sources,
    build,
    is_kustomization,
    patch_files,
)
from secpipe.scanners.iac.kubernetes.rules import RULES, Context, build_context, check_object
from secpipe.scanners.iac.kubernetes.yamldocs import K8sObject, read_objects
from secpipe.scanners.iac.model import Analysis, Budget, IacFile, IacHit, IacResource, Problem

__all__ = ["RULES", "analyse"]


#: ``kubectl kustomize`` processes run at once (they wait on disk and on kubectl's start-up).
KUSTOMIZE_WORKERS = 4

_Built = tuple[str | None, list[Problem]] | Problem


def _built(kustomizations: list[IacFile], root: Path,
           budget: Budget) -> Iterator[tuple[IacFile, _Built]]:
    """Each kustomization with its build output (or why it was not built), in order; builds
    run a few at a time."""

    def one(k: IacFile) -> _Built:
        if budget.spent():
            return Problem("iac.budget-exceeded", k.rel, None,
                           f"{k.rel}: not built: the IaC time budget was spent")
        try:
            return build(k, root, budget)
        except Exception as exc:  # a reader bug must not end the scan
            return Problem("iac.partial-render", k.rel, 1, f"{k.rel}: could not be built: "
                           f"{type(exc).__name__}: {str(exc)[:200]}")

    if len(kustomizations) < 2:
        yield from ((k, one(k)) for k in kustomizations)
        return
    with ThreadPoolExecutor(max_workers=KUSTOMIZE_WORKERS,
                            thread_name_prefix="secpipe-kustomize") as pool:
        yield from zip(kustomizations, pool.map(one, kustomizations), strict=True)


def _inside(path: str, root: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _kustomizations(files: list[IacFile], root: Path) -> list[IacFile]:
    """Kustomizations handed in, and those lying next to a manifest handed in."""
    found = {f.rel: f for f in files if is_kustomization(f.rel)}
    folders = {(os.path.dirname(f.path), f.rel.rsplit("/", 1)[0] if "/" in f.rel else "")
               for f in files if not is_kustomization(f.rel)}
    for folder, rel_folder in sorted(folders):
        for name in KUSTOMIZATION_NAMES:
            path = os.path.join(folder, name)
            rel = f"{rel_folder}/{name}" if rel_folder else name
            if rel in found or not os.path.isfile(path) or not _inside(path, root):
                continue
            try:
                size = os.stat(path).st_size
            except OSError:
                continue
            found[rel] = IacFile(path, rel, size)
            break
    return [found[k] for k in sorted(found)]


def _resources(objects: Iterable[K8sObject], framework: str) -> list[IacResource]:
    out = []
    for obj in objects:
        block = obj.block
        out.append(IacResource(framework, obj.kind, obj.address, obj.path,
                               block[0] if block else None, obj.data,
                               block[1] if block else None, obj.key_lines()))
    return out


def _check(objects: Iterable[K8sObject], ctx: Context,
           problems: list[Problem]) -> list[IacHit]:
    hits: list[IacHit] = []
    for obj in objects:
        try:
            hits.extend(check_object(obj, ctx))
        except Exception as exc:  # a rule bug on odd data: reported, never a silent pass
            problems.append(Problem("iac.parse-error", obj.path, obj.start,
                                    f"{obj.address}: could not be checked: "
                                    f"{type(exc).__name__}: {str(exc)[:200]}"))
    return hits


Key = tuple[str, str, int | None, str, str]
_ORIGIN = re.compile(r" \((?:Helm chart|helm template of|kustomize build of) [^()]*\)$")


def _what(hit: IacHit) -> str:
    """The message after the resource, without where the object was rendered."""
    return _ORIGIN.sub("", hit.message.removeprefix(hit.resource))


def _exact(hit: IacHit) -> Key:
    """The same finding on the same object (a chart rendered both on its own and as a parent's
    subchart by ``helm template``)."""
    return hit.rule_id, hit.path, hit.line, hit.resource, _what(hit)


def _placed(hit: IacHit) -> Key:
    """The same finding at the same place on the same container, whatever the object is called
    (a base object built by several overlays has another name and namespace in each)."""
    return hit.rule_id, hit.path, hit.line, hit.resource.partition(" ")[2], _what(hit)


def _unique(direct: list[IacHit], built: list[IacHit]) -> list[IacHit]:
    """Each finding once: exact repeats dropped; a hit of a kustomize build dropped when the
    base file's own hit (or another build's) is at the same place."""
    exact: set[Key] = set()
    placed: set[Key] = set()
    out: list[IacHit] = []
    for hit in direct:
        if _exact(hit) not in exact:
            exact.add(_exact(hit))
            placed.add(_placed(hit))
            out.append(hit)
    for hit in built:
        key = _exact(hit) if is_kustomization(hit.path) else _placed(hit)
        seen = exact if is_kustomization(hit.path) else placed
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def analyse(files: list[IacFile], charts: list[IacFile], root: Path,
            budget: Budget) -> Analysis:
    """Check Kubernetes manifests, Helm charts (their ``Chart.yaml``) and Kustomize overlays."""
    analysis = Analysis()
    kustomizations = _kustomizations(files, root)
    patches: set[str] = set()
    for k in kustomizations:
        patches.update(os.path.realpath(p) for p in patch_files(Path(k.path), k.rel, budget))
    direct: list[K8sObject] = []
    for f in files:
        if is_kustomization(f.rel) or os.path.realpath(f.path) in patches:
            continue
        if budget.spent():
            analysis.problems.append(Problem("iac.budget-exceeded", f.rel, None,
                                             f"{f.rel}: not analysed: the IaC time budget "
                                             f"({budget.max_seconds:g} s) was spent"))
            continue
        try:
            objects, problems, whole = read_objects(Path(f.path), f.rel, budget)
        except Exception as exc:  # a reader bug must not end the scan: reported, not hidden
            analysis.problems.append(Problem("iac.parse-error", f.rel, None,
                                             f"{f.rel}: could not be analysed: "
                                             f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        direct.extend(objects)
        analysis.problems.extend(problems)
        analysis.files += 1 if whole else 0
    chart_objects: list[K8sObject] = []
    for chart in charts:
        if budget.spent():
            analysis.problems.append(Problem("iac.budget-exceeded", chart.rel, None,
                                             f"{chart.rel}: chart not analysed: the IaC time "
                                             "budget was spent"))
            continue
        try:
            objects, problems, count = analyse_chart(chart, root, budget)
        except Exception as exc:  # a renderer bug must not end the scan
            analysis.problems.append(Problem("iac.partial-render", chart.rel, None,
                                             f"{chart.rel}: chart could not be rendered: "
                                             f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        chart_objects.extend(objects)
        analysis.problems.extend(problems)
        analysis.files += count
    built: list[K8sObject] = []
    cache = BuildCache()
    for k, output in _built(kustomizations, root, budget):
        if isinstance(output, Problem):
            analysis.problems.append(output)
            continue
        text, problems = output
        analysis.problems.extend(problems)
        if text is None:
            continue
        try:
            objects, problems = cache.objects(text, k, budget)
        except Exception as exc:  # a reader bug must not end the scan
            analysis.problems.append(Problem("iac.partial-render", k.rel, 1,
                                             f"{k.rel}: could not be read: "
                                             f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        analysis.problems.extend(problems)
        if objects:
            analysis.files += 1
        built.extend(attach_sources(objects, direct, k))
    ctx = build_context([*direct, *chart_objects, *built])
    analysis.hits.extend(_unique(_check([*direct, *chart_objects], ctx, analysis.problems),
                                 _check(built, ctx, analysis.problems)))
    analysis.resources.extend(_resources(direct, "kubernetes"))
    analysis.resources.extend(_resources(chart_objects, "kubernetes"))  # org policies on kinds
    analysis.resources.extend(_resources(
        [o for o in built if o.path in {k.rel for k in kustomizations}], "kubernetes"))
    return analysis
