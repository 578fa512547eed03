"""``secpipe gate``: judge a recorded run against the project's current policy."""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from secpipe.cli.common import load_finished_run, open_project, print_json
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError, InputError
from secpipe.pipeline.validation import format_validation_error
from secpipe.policy.evaluate import evaluate
from secpipe.policy.gate import resolve_baseline
from secpipe.policy.model import PolicySpec
from secpipe.policy.require import REQUIRE_STEP_ID, applicable, judge_requirements


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "gate", parents=[common], help="judge a recorded run against the policy",
        description="Re-evaluate the project's policy (secpipe.yaml, suppressions, baseline) over "
        "a recorded run's findings and metrics. Exit 0 passed, 1 failed.",
    )
    p.add_argument("run_id", nargs="?", default="latest", help="run id or 'latest' (default)")
    p.add_argument("--fail-on", metavar="SEVERITY", help="override policy.fail_on")
    p.add_argument("--metric", action="append", default=[], metavar="BOUND",
                   help="add a metric bound such as 'accuracy >= 0.8' (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    record = load_finished_run(project, args.run_id, "a gate")
    override: dict[str, Any] = {}
    if args.fail_on:
        override["fail_on"] = args.fail_on
    if args.metric:
        override["metrics"] = list(project.config.policy.metrics or []) + args.metric
    try:
        policy = project.config.policy.merged(PolicySpec.model_validate(override))
    except ValidationError as exc:
        raise InputError(format_validation_error("gate options", exc)) from None
    metrics: dict[str, float] = {}
    errors = []
    for step in record.steps:
        for key, value in step.metrics.items():
            metrics[key] = value
            metrics[f"{step.step_id}.{key}"] = value
        if step.status.value == "error":
            errors.append(f"{step.step_id}: {step.message}")
    if record.status == "error" and not errors:  # e.g. a step the store could not record
        errors.append(f"run {record.run_id} ended in error")
    decision = evaluate(policy, record.findings, metrics, errors, project.suppressions,
                        resolve_baseline(project.root, policy))
    if policy.require:  # judged on the steps that ran, not on the runner's own record of it
        steps = [s for s in record.steps if s.step_id != REQUIRE_STEP_ID]
        kinds, ids = {s.kind for s in steps}, {s.step_id for s in steps}
        with contextlib.suppress(ConfigError):  # a pipeline since removed: judge what ran
            spec = project.pipeline(record.pipeline)
            kinds |= {step.uses for stage in spec.stages for step in stage.steps}
            ids |= {i for stage_ids in spec.step_ids() for i in stage_ids}
        met = judge_requirements(applicable(policy.require, kinds, ids), steps)
        decision = replace(decision, passed=decision.passed and met.passed,
                           reasons=decision.reasons + met.reasons,
                           notes=decision.notes + met.notes)
    if args.json:
        print_json({"run_id": record.run_id, **decision.to_dict()})
    else:
        verdict = "passed" if decision.passed else "FAILED"
        sys.stdout.write(f"gate {verdict} for run {record.run_id} "
                         f"({decision.counted} finding(s) judged)\n")
        for reason in decision.reasons:
            sys.stdout.write(f"  fail: {reason}\n")
        for note in decision.notes:
            sys.stdout.write(f"  note: {note}\n")
    return exitcodes.PASSED if decision.passed else exitcodes.GATE_FAILED
