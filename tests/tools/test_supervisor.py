"""The tool supervisor with real processes: cancel and timeout stop the whole process group (and
a daemon that left the session), what a tool leaves running is stopped, output is bounded and
redacted, standard input is closed, a missing program is a start error."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
from proc_helpers import PY, pid_alive, read_pids, spawner, wait_gone

from secpipe.tools.capture import EachLine, KeepHead, KeepTail
from secpipe.tools.env import tool_env
from secpipe.tools.supervisor import ToolCall, ToolOutcome, ToolStartError, run_tool

LINUX = sys.platform.startswith("linux")


def _call(folder: Path, *argv: str, timeout: float | None = None,
          stdout: KeepTail | KeepHead | EachLine | None = None, **kw: object) -> ToolCall:
    return ToolCall(tuple(argv), folder, tool_env(), stdout or KeepTail(folder / "out.log"),
                    KeepTail(folder / "err.log"), timeout, **kw)  # type: ignore[arg-type]


def _run_in_thread(call: ToolCall, cancel: threading.Event) -> list[ToolOutcome]:
    box: list[ToolOutcome] = []
    thread = threading.Thread(target=lambda: box.append(run_tool(call, cancel=cancel)))
    thread.start()
    return box


@pytest.mark.parametrize("ignore_term", [False, True], ids=["term", "term-ignored"])
def test_cancel_stops_the_tool_its_child_and_its_daemon(folder: Path, ignore_term: bool) -> None:
    script, pid_file = spawner(folder, ignore_term=ignore_term, escape=LINUX)
    cancel = threading.Event()
    box = _run_in_thread(_call(folder, PY, str(script), grace=0.5), cancel)
    pids = read_pids(pid_file, 3 if LINUX else 2)
    assert all(pid_alive(p) for p in pids)
    cancel.set()
    set_at = time.monotonic()
    while not box and time.monotonic() - set_at < 5:
        time.sleep(0.01)
    took = time.monotonic() - set_at
    assert box, "the supervisor did not return within 5 s of cancel"
    outcome = box[0]
    assert outcome.cancelled and not outcome.timed_out and outcome.exit_code is None
    assert outcome.stop_reason(None) == "cancelled"
    assert wait_gone(pids, 0.5) == [], "a process of the tool survived the cancel"
    assert took < (2.0 if ignore_term else 1.0), took  # SIGKILL after the 0.5 s grace
    if LINUX:
        assert outcome.stopped == 3 and outcome.escaped == 1


def test_timeout_stops_the_whole_group(folder: Path) -> None:
    script, pid_file = spawner(folder, escape=False)
    started = time.monotonic()
    outcome = run_tool(_call(folder, PY, str(script), timeout=1.0))
    assert time.monotonic() - started < 5
    assert outcome.timed_out and not outcome.cancelled and outcome.exit_code is None
    assert outcome.stop_reason(1.0) == "timed out after 1 s"
    assert wait_gone(read_pids(pid_file, 2), 0.5) == []
    assert outcome.stdout.last_lines == ("started",)


def test_processes_left_running_after_a_normal_exit_are_stopped(folder: Path) -> None:
    script, pid_file = spawner(folder, escape=LINUX, exit_after=0.2)
    outcome = run_tool(_call(folder, PY, str(script)))
    assert outcome.exit_code == 0 and not outcome.cancelled and not outcome.timed_out
    pids = read_pids(pid_file, 3 if LINUX else 2)
    assert wait_gone(pids, 0.5) == []
    if LINUX:
        assert (outcome.stopped, outcome.escaped) == (2, 1)


def test_a_quick_tool_returns_at_once_with_its_exit_code(folder: Path) -> None:
    started = time.monotonic()
    outcome = run_tool(_call(folder, PY, "-c", "import sys; print('x'); sys.exit(3)"))
    assert outcome.exit_code == 3 and outcome.stopped == 0
    assert time.monotonic() - started < 3
    killed = run_tool(_call(folder, PY, "-c", "import os, signal; os.kill(os.getpid(), 9)"))
    assert killed.exit_code == -9 and not killed.cancelled


def test_cancel_already_set_stops_before_any_work(folder: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    marker = folder / "ran"
    outcome = run_tool(_call(folder, PY, "-c", f"import time; time.sleep(1); "
                             f"open({str(marker)!r}, 'w')"), cancel=cancel)
    assert outcome.cancelled and not marker.exists()


def test_standard_input_is_closed_and_no_shell_runs(folder: Path) -> None:
    outcome = run_tool(_call(folder, PY, "-c", "import sys; print(repr(sys.stdin.read()))",
                             "; touch pwned"))
    assert outcome.exit_code == 0 and outcome.stdout.last_lines == ("''",)
    assert not (folder / "pwned").exists()


def test_missing_or_unrunnable_program_is_a_start_error(folder: Path) -> None:
    with pytest.raises(ToolStartError, match="command not found: secpipe-no-such-tool"):
        run_tool(_call(folder, "secpipe-no-such-tool"))
    (folder / "not-exec.sh").write_text("#!/bin/sh\n")
    with pytest.raises(ToolStartError, match=r"command not found: \./not-exec\.sh"):
        run_tool(_call(folder, "./not-exec.sh"))
    bad = folder / "bad-interp"
    bad.write_text("#!/no/such/interpreter\n")
    bad.chmod(0o755)
    with pytest.raises(ToolStartError, match=r"cannot run \./bad-interp"):
        run_tool(_call(folder, "./bad-interp"))


def test_log_capture_keeps_the_redacted_tail_and_says_what_was_left_out(folder: Path) -> None:
    token = "ghp_" + "Zx81Qw4Er7Ty0Ui3Op6As9Df2Gh5Jk8Lz1"
    code = ("import sys\n"
            "for i in range(20000): print(f'line {i:05d} ' + 'x' * 40)\n"
            f"print('token {token}', file=sys.stderr)\n"
            f"print('last {token}')\n")
    outcome = run_tool(_call(folder, PY, "-c", code,
                             stdout=KeepTail(folder / "out.log", limit=10_000)))
    assert outcome.exit_code == 0
    size = 20000 * 52 + len(f"last {token}\n")
    assert outcome.stdout.size == size and outcome.stdout.dropped > size - 10_000
    text = (folder / "out.log").read_text()
    first, second = text.splitlines()[:2]
    assert first == f"[secpipe: first {outcome.stdout.dropped} bytes left out]"
    assert second.startswith("line ") and len(second) == 51  # starts at a whole line
    assert token not in text and "ghp_****" in text
    assert token not in (folder / "err.log").read_text()
    assert outcome.stdout.last_lines[-1] == "last ghp_" + "*" * 20
    assert token not in repr(outcome)


def test_output_capture_keeps_the_raw_head_and_counts_the_rest(folder: Path) -> None:
    outcome = run_tool(_call(folder, PY, "-c", "print('a' * 5000)",
                             stdout=KeepHead(folder / "out.json", limit=1000)))
    assert (folder / "out.json").read_bytes() == b"a" * 1000
    assert outcome.stdout.size == 5001 and outcome.stdout.dropped == 4001


def test_line_capture_streams_bounded_redacted_lines(folder: Path) -> None:
    token = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    got: list[str] = []
    code = ("import time\n"
            "print('one', flush=True)\n"
            "print('y' * 300, flush=True)\n"
            f"print('secret {token}', flush=True)\n"
            "print('no newline at the end', end='')\n")
    outcome = run_tool(_call(folder, PY, "-c", code, stdout=EachLine(got.append, max_line=100)),
                       redact=lambda text: text.replace(token, "***"))
    assert got == ["one", "y" * 100, "secret ***", "no newline at the end"]
    assert outcome.stdout.dropped == 200 and outcome.stdout.path is None


def test_redaction_of_the_runs_secret_values(folder: Path) -> None:
    outcome = run_tool(_call(folder, PY, "-c", "print('pw=hunter2-and-more')"),
                       redact=lambda text: text.replace("hunter2-and-more", "***"))
    assert outcome.stdout.last_lines == ("pw=***",)
    assert "hunter2" not in (folder / "out.log").read_text()


def test_working_folder_and_environment_are_the_calls(folder: Path) -> None:
    (folder / "sub").mkdir()
    env = {**tool_env(), "ONLY": "this"}
    call = ToolCall((PY, "-c", "import os; print(os.getcwd(), os.environ['ONLY'])"),
                    folder / "sub", env, KeepTail(folder / "out.log"), KeepTail(folder / "e"))
    outcome = run_tool(call, redact=lambda text: text)  # the tmp path looks like a token
    assert outcome.stdout.last_lines == (f"{os.path.realpath(folder / 'sub')} this",)


def test_a_failing_line_callback_still_stops_the_tool(folder: Path) -> None:
    script, pid_file = spawner(folder, escape=False)

    def explode(line: str) -> None:
        raise RuntimeError(f"callback failed on {line!r}")

    with pytest.raises(RuntimeError, match="callback failed on 'started'"):
        run_tool(_call(folder, PY, str(script), stdout=EachLine(explode)))
    assert wait_gone(read_pids(pid_file, 2), 0.5) == []
