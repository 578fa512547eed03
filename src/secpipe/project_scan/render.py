"""The commented ``secpipe.yaml`` ``secpipe init`` writes: what was found, then the wiring, each
choice with the reason for it. Strings are written as JSON strings (valid YAML); comments have
their control characters replaced, so a file name cannot break out of a comment."""

from __future__ import annotations

import json

from secpipe.project_scan.choose import Choices
from secpipe.project_scan.model import ProjectScan

_LLM = frozenset({"langchain", "llama-index", "openai", "anthropic"})
_LIST_MAX = 8
"""Paths listed per kind in the header comment."""


def _c(text: str) -> str:
    """``text`` safe inside a ``#`` comment."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _listing(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    more = f" … and {len(items) - _LIST_MAX} more" if len(items) > _LIST_MAX else ""
    return [f"#   {title + ':':14} {_c(', '.join(items[:_LIST_MAX]) + more)}"]


def required_steps(scan: ProjectScan, choices: Choices) -> list[str]:
    """What the file wires, as ``policy.require``: each of them must then do real work."""
    require = ["scan-secrets"]
    if scan.sources:
        require.append("scan-code")
    if dependency_manifests(scan):
        require.append("scan-deps")
    if scan.containers or scan.iac:
        require.append("scan-iac")  # a devsecops step: a pipeline without it is not judged
    if scan.models or choices.train:
        require.append("scan-models")
    if choices.train:
        require.append("train")
        if choices.train.holdout:
            require.append("evaluate")
    if choices.sign_model or choices.train:
        require.append("sign")
    if choices.sign_model or choices.train or store_paths(scan):
        require.append("store")
    return require


def dependency_manifests(scan: ProjectScan) -> list[str]:
    """The requirement files found that ``scan-deps`` reads (not go.mod, Cargo.toml …)."""
    from secpipe.scanners.deps.readers import is_manifest

    return [r for r in scan.requirements if is_manifest(r)]


def _deps(scan: ProjectScan) -> list[str]:
    manifests = dependency_manifests(scan)
    if not manifests:
        return []
    return ["  scan-deps:",
            f"    # Dependencies declared in {_c(', '.join(manifests[:_LIST_MAX]))}: matched "
            "against a local",
            "    # OSV database that `secpipe db update` fills (`secpipe db import FILE` where "
            "the network",
            "    # cannot reach OSV). No data, or data older than max_database_age_days, fails "
            "the step.",
            "    # database: .secpipe/osv.sqlite3   # default: $SECPIPE_OSV_DB, else "
            "~/.cache/secpipe/osv.sqlite3",
            "    max_database_age_days: 7",
            "    # licences: {deny: [AGPL-3.0-only, SSPL-1.0]}   # a licence policy over SPDX "
            "expressions"]


def store_paths(scan: ProjectScan) -> list[str]:
    """Project files published with the model: what it takes to rebuild its environment."""
    return [*scan.requirements, *scan.containers]


def _header(scan: ProjectScan) -> list[str]:
    lines = ["# secpipe configuration, written by `secpipe init` from what it found in this",
             "# project. Reference: docs/configuration.md. Each choice below says why it was made;",
             "# edit freely (`secpipe init --force` starts over).", "#"]
    if scan.empty:
        lines.append(f"# secpipe init looked at {scan.files_seen} files and found no model, "
                     "training, data,")
        lines.append("# requirement, container or IaC files: this is the general template.")
    else:
        lines.append(f"# Found ({scan.files_seen} files looked at; nothing was run or loaded):")
        lines += _listing("models", [f"{m.path} ({m.format})" for m in scan.models])
        lines += _listing("training", [f"{t.path} ({t.reason})" for t in scan.training])
        lines += _listing("notebooks", list(scan.notebooks))
        lines += _listing("data", [d.path + (f" (label column '{d.label}')" if d.label else "")
                                   for d in scan.data])
        lines += _listing("requirements", list(scan.requirements))
        lines += _listing("containers", list(scan.containers))
        lines += _listing("IaC", list(scan.iac))
        lines += _listing("frameworks", list(scan.frameworks))
    if scan.truncated:
        lines.append(f"# The scan stopped early ({_c(', '.join(scan.truncated))}): it may have "
                     "missed files.")
    return [*lines, "version: 1", ""]


def _policy(require: list[str]) -> list[str]:
    return [
        "# The gate policy, applied by every `gate` step (a gate's `with:` may override single "
        "keys).",
        "policy:",
        "  fail_on: high              # fail on findings this severe or worse (critical … info, "
        "none)",
        "  # Steps that must do real work: one that is skipped (\"not configured\", \"nothing",
        "  # found\") fails the run. secpipe init lists what it wired below; each pipeline is",
        "  # held to the ones it has a step for.",
        f"  require: {_flow(require)}",
        "  # max:                     # maximum counts by severity or rule id",
        "  #   medium: 10",
        "  #   secrets.generic-password: 0",
        "  # metrics:                 # metric bounds, checked by gates after the evaluate stage",
        "  #   - accuracy >= 0.8",
        "  # baseline: .secpipe-baseline.json   # `secpipe baseline` writes it; only new findings "
        "fail",
        "",
        "# Findings accepted on purpose: a reason is required, an expiry date advised.",
        "# `secpipe suppress FINGERPRINT --reason \"...\"` appends to .secpipe-suppressions.yaml "
        "instead.",
        "suppressions: []",
        "#  - fingerprint: 0123456789abcdef0123456789abcdef",
        "#    reason: test fixture, not a real key",
        "#    expires: 2027-01-31",
        "",
    ]


def _models(scan: ProjectScan, choices: Choices) -> list[str]:
    lines: list[str] = []
    if scan.models:
        paths = [m.path for m in scan.models]
        lines += ["  scan-models:",
                  "    # The model files found (pickle-based ones can run code when loaded; the",
                  "    # scanner reads them statically). [\".\"] scans the whole project.",
                  f"    paths: {_flow(paths)}"]
    if choices.sign_model:
        lines += ["  sign:", f"    # The model the app ships, {_c(choices.sign_model)}: "
                  f"{_c(choices.sign_why)}.",
                  "    # A file or a folder; without this line `sign` signs the model `train` "
                  "writes."]
        others = [m.path for m in scan.models if m.path != choices.sign_model]
        if others:
            lines.append(f"    # Other model files: {_c(', '.join(others[:_LIST_MAX]))}.")
        lines.append(f"    model: {_q(choices.sign_model)}")
    else:
        lines += [f"  # sign: no model chosen ({_c(choices.sign_why)}).",
                  "  #   model: path/to/model.safetensors   # a file or a folder"]
    extra = store_paths(scan)
    lines += ["  store:",
              "    # Default store: .secpipe/store (uri: s3://…, oci://… for a shared one).",
              "    # Published with the run: the requirement, lock and container files found."
              if extra else "    # No requirement, lock or container files found to publish.",
              f"    paths: {_flow(extra)}"]
    return lines


def _training(scan: ProjectScan, choices: Choices) -> list[str]:
    plan = choices.train
    if plan is None:
        lines = [f"  # train: not wired: {_c(choices.train_why)}.",
                 "  # Estimator mode needs a function returning an unfitted scikit-learn",
                 "  # estimator; command mode any script that writes {outdir}/model.* and",
                 "  # {outdir}/metrics.json (docs/train-evaluate.md):"]
        script = scan.training[0].path if scan.training else "train.py"
        table = next((d for d in scan.data if d.label), None)
        lines += ["  # train:",
                  f"  #   command: [\"{{python}}\", {_q(script)}, \"--out\", \"{{outdir}}\"]",
                  f"  #   data: {_q(table.path) if table else 'data/train.csv'}",
                  f"  #   target: {_q(table.label) if table and table.label else 'label'}"]
        return lines
    lines = [f"  # Training wired: {_c(choices.train_why)}.",
             "  # The function runs in a `python -I` subprocess and must return an unfitted",
             "  # estimator (fit/predict); check it does (docs/train-evaluate.md).",
             "  train:",
             f"    estimator: {_q(plan.estimator)}",
             f"    data: {_q(plan.data)}",
             f"    target: {_q(plan.target)}",
             "    folds: 5",
             "    seed: 0",
             "    format: skops             # a format that cannot carry code"]
    if plan.holdout:
        lines += ["  evaluate:", f"    data: {_q(plan.holdout)}    # the held-out table"]
    else:
        lines += ["  # evaluate: no held-out table found (test*/holdout*/valid*.csv). Add one,",
                  "  # then uncomment and add evaluate to policy.require:",
                  "  # evaluate:",
                  "  #   data: data/holdout.csv"]
    return lines


def _exec_example(scan: ProjectScan) -> list[str]:
    if not (scan.containers or scan.iac):
        return []
    lines = ["", "# Container and IaC files found: scan-iac checks them in the devsecops "
             "pipeline; other", "# tools can add their checks through `exec` steps, e.g.",
             "# pipelines:", "#   containers:", "#     stages:", "#       - name: scan",
             "#         steps:"]
    if scan.containers:
        lines += ["#           - uses: exec", "#             id: hadolint",
                  f"#             with: {{command: [hadolint, -f, sarif, "
                  f"{_c(_q(scan.containers[0]))}]}}"]
    if scan.iac:
        lines += ["#           - uses: exec", "#             id: trivy-config",
                  "#             with: {command: [trivy, config, --format, sarif, --output,",
                  "#                              \"{sarif}\", .]}"]
    return [*lines, "#       - name: gate", "#         steps:", "#           - uses: gate"]


def render_config(scan: ProjectScan, choices: Choices) -> str:
    """The whole ``secpipe.yaml`` text."""
    lines = [*_header(scan), *_policy(required_steps(scan, choices)),
             "# Default `with:` settings per step kind, applied to the built-in pipelines too.",
             "defaults:",
             "  scan-secrets:",
             "    paths: [\".\"]",
             "    history: false           # true: also scan every commit of git history",
             "    exclude: [\".secpipe/**\", \".venv/**\", \"node_modules/**\"]"]
    llm = sorted(set(scan.frameworks) & _LLM)
    if llm:
        lines.append(f"    # LLM libraries found ({_c(', '.join(llm))}): API keys are what leak "
                     "here; keep this scan on.")
    if not scan.empty:
        lines += [*_deps(scan), *_models(scan, choices), *_training(scan, choices)]
    lines += ["", "# Pipelines: a name of a built-in (mlsecops, devsecops) replaces it; "
              "`secpipe steps` lists both.", "# pipelines:", "#   quick:", "#     stages:",
              "#       - name: scan", "#         steps:", "#           - uses: scan-secrets",
              "#       - name: gate", "#         steps:", "#           - uses: gate",
              *_exec_example(scan)]
    return "\n".join(lines) + "\n"
