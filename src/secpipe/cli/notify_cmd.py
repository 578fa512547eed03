"""``secpipe notify``: list the configured sinks, send a test event, replay the spool.

* ``notify list`` — each sink of ``secpipe.yaml`` (name, kind, where it sends) and how many of its
  events are spooled; spools of sinks no longer configured are listed too. Resolves no secret.
* ``notify test SINK`` — sends one synthetic event (``run.finished`` by default; ``--event``
  picks another) through the configured sink, with its retries, and prints the outcome. It is
  sent even when the sink's ``events``/``min_severity`` would filter it (that is said).
* ``notify replay [SINK]`` — re-sends the spooled events of one sink (or of every sink), in
  order, stopping a sink at its first failure; deletes only what it delivered.

Exit codes: ``0`` delivered (or nothing to do) · ``1`` something was not delivered (it stays in
the spool; the reason is printed) · ``2`` bad input or configuration (an unknown sink, a missing
secret).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from secpipe.cli.common import open_project, print_json
from secpipe.cli.render import line
from secpipe.core import exitcodes
from secpipe.core.errors import InputError
from secpipe.core.events import (
    Event,
    FindingBrief,
    GateDecided,
    RunFinished,
    RunStarted,
    StepFinished,
)
from secpipe.core.results import GateDecision
from secpipe.pipeline.config import Project

TEST_EVENTS = ("run.finished", "run.started", "step.finished", "gate.decided")
"""Event types ``notify test --event`` can send."""
DEFAULT_WAIT = 60.0
"""Seconds ``notify test``/``replay`` may spend on one sink's retries by default."""


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "notify", parents=[common], help="list sinks, send a test event, replay the spool",
        description="Check and repair delivery to the sinks of secpipe.yaml. Events a sink could "
        "not deliver during a run are spooled under <state_dir>/spool/<sink>/ (secrets "
        "redacted); 'replay' sends them again. Exit 0 delivered or nothing to do, 1 something "
        "was not delivered (kept in the spool), 2 bad input or configuration.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = actions.add_parser("list", parents=[common],
                            help="configured sinks and how many events each has spooled")
    test = actions.add_parser("test", parents=[common],
                              help="send a synthetic test event through a sink")
    test.add_argument("sink", help="sink name (its key under sinks:)")
    test.add_argument("--event", choices=TEST_EVENTS, default="run.finished",
                      help="event type to send (default run.finished, a passed run)")
    replay = actions.add_parser("replay", parents=[common],
                                help="re-send spooled events, in order; delete what was delivered")
    replay.add_argument("sink", nargs="?", help="only this sink (default: every spooled sink)")
    for sub in (test, replay):
        sub.add_argument("--wait", type=_seconds, default=DEFAULT_WAIT, metavar="SECONDS",
                         help=f"at most this long per sink for retries (default {DEFAULT_WAIT:g})")
    for sub in (ls, test, replay):
        sub.set_defaults(func=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    if args.action == "list":
        return _list(args, project)
    if args.action == "test":
        return _test(args, project)
    return _replay(args, project)


def spool_root(project: Project) -> Path:
    """Where the bus spools: ``<state_dir>/spool``."""
    return project.state_dir / "spool"


def _source(project: Project) -> str:
    return project.config_path.name if project.config_path else "secpipe.yaml"


def _list(args: argparse.Namespace, project: Project) -> int:
    from secpipe.sinks.registry import validate_sinks
    from secpipe.sinks.spool import spooled_sinks

    configured = validate_sinks(project.config.sinks, _source(project))
    spooled = spooled_sinks(spool_root(project))
    rows = [{"name": name, "kind": cls.kind, "summary": cls.summary, "events": settings.events,
             "configured": True, "spooled": spooled.get(name, 0)}
            for name, (cls, settings) in configured.items()]
    rows += [{"name": name, "kind": None, "summary": None, "events": None, "configured": False,
              "spooled": count} for name, count in spooled.items() if name not in configured]
    if args.json:
        print_json({"spool": str(spool_root(project)), "sinks": rows})
        return exitcodes.PASSED
    if not rows:
        sys.stdout.write("no sinks configured (sinks: in secpipe.yaml) and nothing spooled\n")
        return exitcodes.PASSED
    for row in rows:
        spool = f"{row['spooled']} spooled" if row["spooled"] else "nothing spooled"
        if row["configured"]:
            line(sys.stdout, f"{row['name']}  {row['kind']}  {spool}  — {row['summary']}")
        else:
            line(sys.stdout, f"{row['name']}  (no longer configured)  {spool}")
    return exitcodes.PASSED


def _build(project: Project, name: str) -> Any:
    """The configured sink ``name``, started (its secrets resolved)."""
    from secpipe.keys.refs import SecretResolver
    from secpipe.sinks.registry import build_sinks

    if name not in project.config.sinks:
        known = ", ".join(project.config.sinks) or "none configured"
        raise InputError(f"no sink named {name!r} in {_source(project)}",
                         hint=f"sinks: {known} (secpipe notify list)")
    only = project.config.model_copy(update={"sinks": {name: project.config.sinks[name]}})
    return build_sinks(only, project.root, SecretResolver(project.root), _source(project))[0]


def synthetic_event(kind: str, project: str) -> Event:
    """A synthetic event of type ``kind`` that says it is a test (run id ``notify-test-…``)."""
    run_id = time.strftime("notify-test-%Y%m%d-%H%M%S", time.gmtime())
    if kind == "run.started":
        return RunStarted(run_id, pipeline="notify-test", project=project,
                          stage_names=("test",), stages=(("notify-test",),))
    if kind == "step.finished":
        brief = FindingBrief("low", "secpipe-notify-test", "secpipe notify test (not a finding)",
                             "secpipe.yaml", "notify-test")
        return StepFinished(run_id, step="notify-test", kind="notify-test", stage="test",
                            status="passed", message="secpipe notify test", duration=0.0,
                            findings=1, severities={"low": 1}, top=(brief,))
    if kind == "gate.decided":
        return GateDecided(run_id, step="notify-test", stage="test",
                           decision=GateDecision(passed=True, notes=("secpipe notify test",)))
    return RunFinished(run_id, pipeline="notify-test", status="passed", exit_code=0)


def _test(args: argparse.Namespace, project: Project) -> int:
    from secpipe.sinks.bus import deliver_with_retries

    sink = _build(project, args.sink)
    event = synthetic_event(args.event, project.root.name or "project")
    filtered = not sink.settings.accepts(event)
    started = time.monotonic()
    try:
        outcome = deliver_with_retries(sink, event, deadline=started + args.wait)
    finally:
        _close(sink)
    took = time.monotonic() - started
    reason = _reason(sink, outcome.error) if outcome.error else ""
    if outcome.note:
        reason += f" ({outcome.note})"
    if args.json:
        print_json({"sink": sink.name, "kind": sink.kind, "event": event.type,
                    "delivered": outcome.delivered, "attempts": outcome.attempts,
                    "seconds": round(took, 3), "error": reason or None,
                    "filtered_in_runs": filtered})
    else:
        if filtered:
            line(sys.stdout, f"note: sink {sink.name}'s events/min_severity would not send "
                 f"{event.type} during a run; sent anyway")
        if outcome.delivered:
            line(sys.stdout, f"sink {sink.name} ({sink.kind}): delivered test {event.type} "
                 f"in {took:.1f} s ({outcome.attempts} attempt(s))")
        else:
            line(sys.stdout, f"sink {sink.name} ({sink.kind}): NOT delivered after "
                 f"{outcome.attempts} attempt(s): {reason}")
    return exitcodes.PASSED if outcome.delivered else exitcodes.GATE_FAILED


def _replay(args: argparse.Namespace, project: Project) -> int:
    from secpipe.sinks.bus import deliver_with_retries
    from secpipe.sinks.spool import Spool, spooled_sinks

    root = spool_root(project)
    spooled = spooled_sinks(root)
    if args.sink is not None:
        if args.sink not in project.config.sinks:
            raise InputError(
                f"no sink named {args.sink!r} in {_source(project)}",
                hint=(f"{spooled[args.sink]} event(s) are spooled for it; configure it again "
                      "to replay them") if args.sink in spooled else "secpipe notify list")
        names = [args.sink]
    else:
        names = list(spooled)
    report: list[dict[str, Any]] = []
    code = exitcodes.PASSED
    for name in names:
        if name not in project.config.sinks:
            report.append({"sink": name, "delivered": 0, "left": spooled.get(name, 0),
                           "error": "not configured in " + _source(project)})
            code = exitcodes.GATE_FAILED
            continue
        if not spooled.get(name):
            report.append({"sink": name, "delivered": 0, "left": 0, "error": None})
            continue
        sink = _build(project, name)
        deadline = time.monotonic() + args.wait

        def send(event: Event, sink: Any = sink, deadline: float = deadline) -> str | None:
            outcome = deliver_with_retries(sink, event, deadline=deadline)
            if outcome.delivered:
                return None
            text = _reason(sink, outcome.error) if outcome.error else "not delivered"
            return f"{event.type}: {text}" + (f" ({outcome.note})" if outcome.note else "")

        try:
            result = Spool(root, name).replay(send)
        finally:
            _close(sink)
        error = result.error or None
        if result.unreadable and not error:
            error = f"{result.unreadable} unreadable line(s) kept"
        report.append({"sink": name, "delivered": result.delivered, "left": result.left,
                       "error": error})
        if result.left:
            code = exitcodes.GATE_FAILED
    if args.json:
        print_json({"spool": str(root), "sinks": report})
    elif not report:
        sys.stdout.write("nothing spooled\n")
    else:
        for row in report:
            text = f"sink {row['sink']}: {row['delivered']} delivered, {row['left']} left"
            line(sys.stdout, text + (f" — {row['error']}" if row["error"] else ""))
    return code


def _reason(sink: Any, error: BaseException | None) -> str:
    text = (str(error) or type(error).__name__) if error is not None else "failed"
    try:
        return " ".join(str(sink.redact(text)).split())[:300]
    except Exception:  # a broken redactor must not leak the text
        return type(error).__name__


def _close(sink: Any) -> None:
    try:
        sink.close()
    except Exception as exc:  # a sink's close never turns a delivery into an error
        print(f"secpipe: warning: sink {sink.name}: close failed: {_reason(sink, exc)}",
              file=sys.stderr)

