"""The built-in ``mlsecops`` and ``devsecops`` pipelines, in the seed's stage order.

Gates judge the project's policy; the gates before any metric exists (``scan-gate`` and the
DevSecOps scan/image gates) override ``metrics`` to none, so ``policy.metrics`` such as
``accuracy >= 0.8`` are checked by the gate after training and evaluation (``model-gate``).

Each pipeline is written out whole, stage by stage, in the order of the MLSecOps and DevSecOps
pipelines secpipe implements (the numbered stages of ``docs/architecture.md``).
A step whose kind is not (yet) in the registry is left out, a stage left empty is dropped, and a
gate stage whose preceding work stage was dropped goes too — so the pipelines grow as step kinds
are added, without ever running a gate that judges nothing new.
"""

from __future__ import annotations

from typing import Any

from secpipe.core.registry import available_kinds, missing_extra
from secpipe.pipeline.model import PipelineSpec

# (stage name, [(kind, id, with), ...]); a stage named "*-gate" is a quality gate.
_Stage = tuple[str, list[tuple[str, str, dict[str, Any]]]]

_MLSECOPS: list[_Stage] = [
    # 1 trigger + pre-commit: `secpipe run` in CI, and .pre-commit-hooks.yaml for developers.
    # 2 load artifacts from a store
    ("load-artifacts", [("load", "load-artifacts", {})]),
    # 3 security scan: code, secrets, dependencies, notebooks, datasets
    ("security-scan", [
        ("scan-secrets", "secrets", {}),
        ("scan-code", "code", {}),
        ("scan-deps", "dependencies", {}),
        ("scan-notebooks", "notebooks", {}),
        ("scan-datasets", "datasets", {}),
    ]),
    # 4 quality gate (findings only: no metric exists yet, so policy.metrics wait for stage 8)
    ("scan-gate", [("gate", "scan-gate", {"metrics": []})]),
    # 5 train (k-fold, early stopping)
    ("train", [("train", "train", {})]),
    # 6 evaluate (metrics)
    ("evaluate", [("evaluate", "evaluate", {})]),
    # 7 model scan + LLM probes
    ("model-scan", [("scan-models", "models", {}), ("probe-llm", "llm", {})]),
    # 8 quality gate
    ("model-gate", [("gate", "model-gate", {})]),
    # 9 sign the model (and attest what was checked)
    ("sign", [("sign", "sign-model", {})]),
    # 10 store the model
    ("store", [("store", "store-model", {})]),
]

_DEVSECOPS: list[_Stage] = [
    # 2 load app code and the signed model, verifying it
    ("load-artifacts", [("load", "load-model",
                         {"run": "latest", "pipeline": "mlsecops", "verify": True})]),
    # 3 security scan: code + infrastructure as code, and the model files the app ships
    ("security-scan", [
        ("scan-secrets", "secrets", {}),
        ("scan-models", "models", {}),
        ("scan-code", "code", {}),
        ("scan-deps", "dependencies", {}),
        ("scan-iac", "iac", {}),
    ]),
    # 4 quality gate
    ("scan-gate", [("gate", "scan-gate", {"metrics": []})]),
    # 5 build image
    ("build-image", [("build-image", "image", {})]),
    # 6 image scan (the DAST of the running app needs it deployed: stage 10's verify)
    ("image-scan", [("scan-image", "image-scan", {})]),
    # 7 quality gate
    ("image-gate", [("gate", "image-gate", {"metrics": []})]),
    # 8 sign image, 9 store image
    ("sign-image", [("sign", "sign-image", {})]),
    ("store-image", [("store", "store-image", {})]),
    # 10 deploy (health check, model smoke test), then verify the running app and its
    # environment: DAST, open ports, host compliance; the deployment is torn down at run end
    ("deploy", [("deploy", "deploy", {})]),
    ("verify", [("scan-web", "dast", {}), ("scan-ports", "ports", {}),
                ("scan-host", "host", {})]),
    # 11 quality gate
    ("deploy-gate", [("gate", "deploy-gate", {"metrics": []})]),
    # 12 runtime protection
    ("runtime", [("guard", "guard", {})]),
]

# step id -> kind that must be registered too (signing an image needs a step that builds one)
_REQUIRES = {"sign-image": "build-image", "store-image": "build-image"}

_DESCRIPTIONS = {
    "mlsecops": "MLSecOps: scan the project, gate, train, evaluate, scan the model, gate, "
    "sign, store",
    "devsecops": "DevSecOps: load the model, scan code and IaC, gate, build, scan image and app, "
    "deploy, verify, gate, protect",
}
_LAYOUTS = {"mlsecops": _MLSECOPS, "devsecops": _DEVSECOPS}


def builtin_pipeline_names() -> list[str]:
    return sorted(_LAYOUTS)


def builtin_layout(name: str) -> list[_Stage] | None:
    """The full seed layout of a built-in pipeline, including kinds not available yet."""
    return _LAYOUTS.get(name)


def runnable_kinds() -> set[str]:
    """Installed step kinds whose optional extras are installed too."""
    return {kind for kind in available_kinds() if missing_extra(kind) is None}


def _why_absent(kind: str) -> str:
    extra = missing_extra(kind) if kind in available_kinds() else None
    return f"{kind}: pip install 'secpipe[{extra}]'" if extra else kind


def missing_stages(name: str) -> list[tuple[str, list[str]]]:
    """(stage, step kinds) of the built-in pipeline ``name`` that do not run here because their
    step kinds are not installed yet (shown in the run summary and ``secpipe steps``)."""
    kinds = runnable_kinds()
    out = []
    for stage_name, steps in _LAYOUTS.get(name, []):
        absent = [_why_absent(kind) for kind, step_id, _ in steps
                  if kind not in kinds or _REQUIRES.get(step_id, kind) not in kinds]
        if absent:
            out.append((stage_name, absent))
    return out


def builtin_pipeline(name: str) -> PipelineSpec | None:
    """The runnable built-in pipeline: the layout restricted to available step kinds."""
    layout = _LAYOUTS.get(name)
    if layout is None:
        return None
    kinds = runnable_kinds()
    stages: list[dict[str, Any]] = []
    dropped_previous = True
    for stage_name, steps in layout:
        is_gate = stage_name.endswith("-gate")
        kept = [
            {"uses": kind, "id": step_id, "with": settings}
            for kind, step_id, settings in steps
            if kind in kinds and _REQUIRES.get(step_id, kind) in kinds
        ]
        if not kept or (is_gate and dropped_previous):
            dropped_previous = True
            continue
        stages.append({"name": stage_name, "steps": kept})
        dropped_previous = False
    present = [s["name"] for s in stages]
    description = f"{_DESCRIPTIONS[name].partition(':')[0]}: " + ", ".join(present)
    absent = [stage_name for stage_name, _ in layout if stage_name not in present]
    if absent:  # only the stages that run are described; the rest are named as missing
        description += " (not installed yet: " + ", ".join(absent) + ")"
    return PipelineSpec.model_validate({"description": description, "stages": stages})
