"""Issue 9, "fail closed and never destroy": what secpipe writes, and where.

Each test reproduces a reported defect: a pull that deleted the folder it was pointed at, a
verdict lost to a closed pipe, ``-o`` replacing special files, ``file://`` store URIs that
escaped, file names that drove the terminal or crashed the reports, and run ids read as SQL
``LIKE`` patterns. Hostile trees and names are built here, in temporary folders.

Real devices are only ever written after a canary: the same command first writes a device node
made in the test's own folder, and the test stops if that node did not survive.
"""

from __future__ import annotations

import io
import json
import os
import random
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from markdown_it import MarkdownIt

from built_secrets import github_token
from secpipe.cli.main import main
from secpipe.cli.render import ConsoleSink
from secpipe.core.events import StepLog
from secpipe.stores.local import LocalStore
from secpipe.stores.manifest import LocalFile, publish, run_prefix

SARIF_SCHEMA = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"
PIPELINE = """
pipelines:
  p:
    stages:
      - name: scan
        steps: [{uses: scan-secrets, with: {paths: [tree], cache: false, workers: 1}}]
      - name: gate
        steps: [{uses: gate}]
"""
#: hostile names, as bytes: undecodable, a screen-clearing escape, a forged line, a bidi
#: override, Markdown/HTML markup, C1 CSI
NAMES = (b"bad\xff.txt", b"esc\x1b[2J.txt", b"nl\nforged.txt", b"bidi\xe2\x80\xaetxt.exe",
         b"md`<img src=x onerror=alert(1)>|*x*.txt", b"c1\xc2\x9b31m.txt")


_token = github_token


def _leaky_tree(root: Path, files: int = 1, names: tuple[bytes, ...] = ()) -> Path:
    """A folder with a planted secret in each of ``files`` files, plus one per hostile name."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    for i in range(files):
        (root / f"conf{i:04}.env").write_text(f"GITHUB_TOKEN={_token(rng)}\n")
    for name in names:
        with open(os.path.join(os.fsencode(root), name), "w") as fh:
            fh.write(f"TOKEN = '{_token(rng)}'\n")
    return root


def _secpipe(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "secpipe", *argv], capture_output=True,
                          timeout=300, cwd=cwd)


# -- 1. a pull never deletes what it did not create ---------------------------------------------
def _published(project: Path, tmp_path: Path) -> Path:
    """A project whose default store holds one published run; returns the stored model."""
    (project / "secpipe.yaml").write_text("version: 1\n")
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(4096))
    run_id = "20260101-000000-abcd"
    store = LocalStore(project / ".secpipe" / "store")
    publish(store, run_prefix("mlsecops", run_id), "mlsecops", run_id,
            [LocalFile(name="model", source=model, path="model/model.bin")])
    return project / ".secpipe" / "store" / "mlsecops" / run_id / "files" / "model" / "model.bin"


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name]


def test_pull_into_a_folder_with_a_users_file_is_refused_and_the_file_kept(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _published(project, tmp_path)
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("my work")
    assert main(["store", "pull", "latest", str(dest), "-C", str(project)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    assert (dest / "notes.txt").read_text() == "my work"
    assert not _leftovers(tmp_path)


def test_pull_latest_into_the_project_folder_keeps_the_project(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _published(project, tmp_path)
    monkeypatch.chdir(project)
    before = sorted(p.name for p in project.iterdir())
    assert main(["store", "pull", "latest", "."]) == 2
    assert "secpipe: error:" in capsys.readouterr().err
    assert sorted(p.name for p in project.iterdir()) == before
    assert (project / ".secpipe" / "store").is_dir() and (project / "secpipe.yaml").is_file()
    assert not _leftovers(tmp_path) and not _leftovers(project)


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_pull_onto_a_file_or_a_link_is_refused(project: Path, tmp_path: Path, kind: str) -> None:
    _published(project, tmp_path)
    target = tmp_path / "target"
    target.mkdir()
    dest = tmp_path / "dest"
    if kind == "file":
        dest.write_text("keep")
    else:
        dest.symlink_to(target)
    assert main(["store", "pull", "latest", str(dest), "-C", str(project), "-q"]) == 2
    assert dest.is_symlink() if kind == "symlink" else dest.read_text() == "keep"
    assert not list(target.iterdir()) and not _leftovers(tmp_path)


def test_pull_into_a_new_or_an_empty_folder_works(project: Path, tmp_path: Path) -> None:
    stored = _published(project, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for dest in (tmp_path / "new" / "run", empty):
        assert main(["store", "pull", "latest", str(dest), "-C", str(project), "-q"]) == 0
        assert (dest / "model" / "model.bin").read_bytes() == stored.read_bytes()
    assert not _leftovers(tmp_path) and not _leftovers(tmp_path / "new")


def test_a_failed_pull_removes_only_the_folders_it_created(project: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    stored = _published(project, tmp_path)
    stored.write_bytes(b"tampered after publication")
    dest = tmp_path / "a" / "b" / "run"
    assert main(["store", "pull", "latest", str(dest), "-C", str(project)]) == 2
    assert "does not match its manifest" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()  # parents it made are gone, and only those
    assert (project / "secpipe.yaml").is_file() and stored.is_file()


# -- 2. exit codes survive a broken pipe --------------------------------------------------------
def _closed_early(argv: list[str], cwd: Path, read_first_line: bool) -> tuple[int, str]:
    """Run secpipe with stdout a pipe whose reader goes away: at once, or after one line."""
    with subprocess.Popen([sys.executable, "-m", "secpipe", *argv], cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        if read_first_line:
            proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        return proc.wait(timeout=300), err


@pytest.mark.parametrize("argv", [["scan", "secrets", "tree", "-q"],
                                  ["scan", "secrets", "tree", "--json"],
                                  ["scan", "secrets", "tree", "--format", "sarif"],
                                  ["run", "p", "-q"]],
                         ids=["table", "json", "sarif", "run"])
def test_the_verdict_survives_a_reader_that_goes_away(tmp_path: Path, argv: list[str]) -> None:
    tries = []
    for i in range(8):  # half read one line first (`| head -1`), half read nothing
        root = tmp_path / f"p{i}"
        _leaky_tree(root / "tree", files=200)  # JSON/SARIF output well over a pipe's buffer
        (root / "secpipe.yaml").write_text(PIPELINE)
        tries.append((argv, root, i % 2 == 0))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: _closed_early(*t), tries))
    for code, err in results:
        assert code == 1, err
        assert "BrokenPipeError" not in err and "Exception ignored" not in err, err


def test_a_closed_stdout_in_process_keeps_the_verdict(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    tree = _leaky_tree(tmp_path / "tree")
    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["scan", "secrets", str(tree), "-q"]) == 1
    assert main(["scan", "secrets", str(tree), "--json"]) == 1


# -- 3. -o writes to what it names ---------------------------------------------------------------
def _report(tree: Path, output: Path | str, fmt: str = "json") -> int:
    return main(["scan", "secrets", str(tree), "-q", "--format", fmt, "-o", str(output)])


def test_o_into_a_fifo_writes_through_it_and_keeps_it(tmp_path: Path) -> None:
    tree = _leaky_tree(tmp_path / "tree")
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert _report(tree, fifo) == 1
    reader.join(timeout=10)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(got[0])["summary"]["findings"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.fifo", "tree"]


def test_o_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    tree = _leaky_tree(tmp_path / "tree")
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "report.json"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(Path("out") / "report.json")
    assert _report(tree, link) == 1
    assert link.is_symlink() and os.readlink(link) == os.path.join("out", "report.json")
    assert json.loads(target.read_text())["summary"]["findings"] == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file it replaced kept its mode
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json"]


def test_o_naming_a_folder_is_refused_and_leaves_nothing(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    tree = _leaky_tree(tmp_path / "tree")
    folder = tmp_path / "reports"
    folder.mkdir()
    assert _report(tree, folder) == 2
    assert "it is a folder" in capsys.readouterr().err
    assert not list(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "tree"]


def _device_twin(folder: Path, name: str, minor: int) -> Path | None:
    """A character device node (1, minor) in the test's folder, or None when we may not."""
    node = folder / name
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        return None  # not root: nothing here could replace a device in /dev either
    return node


def test_o_writes_devices_in_place_and_full_is_enospc(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    tree = _leaky_tree(tmp_path / "tree")
    null_twin = _device_twin(tmp_path, "null", 3)
    full_twin = _device_twin(tmp_path, "full", 7)
    if null_twin is not None and full_twin is not None:  # the canary: our own nodes first
        assert _report(tree, null_twin) == 1
        assert stat.S_ISCHR(null_twin.lstat().st_mode), "-o replaced a device node"
        assert _report(tree, full_twin) == 2
        assert stat.S_ISCHR(full_twin.lstat().st_mode), "-o replaced a device node"
        assert "No space left on device" in capsys.readouterr().err
    for device, code in (("/dev/null", 1), ("/dev/full", 2)):
        if not os.path.exists(device):
            continue
        assert _report(tree, device) == code
        assert stat.S_ISCHR(os.lstat(device).st_mode)
    err = capsys.readouterr().err
    if os.path.exists("/dev/full"):
        assert "cannot write report /dev/full: No space left on device" in err
        assert len(err.strip().splitlines()) == 1


def test_o_to_a_link_to_proc_self_stdout_writes_in_place(tmp_path: Path) -> None:
    tree = _leaky_tree(tmp_path / "tree")
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    proc = _secpipe("scan", "secrets", str(tree), "-q", "--format", "json", "-o", str(link))
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["findings"] == 1
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_init_and_baseline_keep_links_and_refuse_folders(project: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("")
    link = project / "secpipe.yaml"
    link.symlink_to(real)
    assert main(["init", "-C", str(project), "--force", "-q"]) == 0
    assert link.is_symlink() and "policy:" in real.read_text()
    assert main(["init", "-C", str(project), "-c", str(tmp_path), "--force"]) == 2
    _leaky_tree(project / "tree")
    link.unlink()
    (project / "secpipe.yaml").write_text(PIPELINE)
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    shared = tmp_path / "shared-baseline.json"
    (project / ".secpipe-baseline.json").symlink_to(shared)
    assert main(["baseline", "-C", str(project), "-q"]) == 0
    assert (project / ".secpipe-baseline.json").is_symlink()
    assert len(json.loads(shared.read_text())["fingerprints"]) == 1


# -- 4. store URIs are validated ----------------------------------------------------------------
@pytest.mark.parametrize("template", [
    "file://../{outside}",            # was: a folder at the file system's root
    "file:///srv/../{outside}",       # the same, spelt with an absolute path
    "file://host{tmp}/hoststore",     # was: the host silently ignored
    "file://relative",                # was: the project folder itself
    "file:relative",
    "file://{tmp}/qstore?x=1",        # was: the query silently dropped
    "../{outside}",                   # a plain path climbing out of the project
    "a/../../{outside}",
])
def test_store_uris_that_escape_or_name_a_host_are_errors(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str) -> None:
    outside = f"secpipe-test-outside-{os.getpid()}-{random.randrange(1 << 30)}"
    uri = template.format(outside=outside, tmp=tmp_path)
    (project / "secpipe.yaml").write_text(PIPELINE)
    _leaky_tree(project / "tree")
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    capsys.readouterr()
    escaped = [Path("/") / outside, project.parent / outside]
    try:
        assert main(["store", "push", "latest", "-C", str(project), "--store", uri]) == 2
        err = capsys.readouterr().err
        assert uri in err and err.startswith("secpipe: error:"), err
        for where in (*escaped, tmp_path / "hoststore", tmp_path / "qstore", project / "p",
                      project / "relative"):
            assert not where.exists(), where
    finally:
        for where in escaped:  # what a regression would make; a random name nobody else has
            if where.is_dir():
                subprocess.run(["rm", "-r", "--", str(where)], check=False)


def test_absolute_file_uris_and_plain_paths_keep_working(project: Path, tmp_path: Path) -> None:
    (project / "secpipe.yaml").write_text(PIPELINE)
    _leaky_tree(project / "tree")
    for uri in (f"file://{tmp_path}/s1", f"file://localhost{tmp_path}/s2", str(tmp_path / "s3"),
                "inside/s4", "inside/../s5"):
        assert main(["run", "p", "-C", str(project), "-q"]) == 1
        assert main(["store", "push", "latest", "-C", str(project), "-q", "--store", uri]) == 0
    for where in (tmp_path / "s1", tmp_path / "s2", tmp_path / "s3", project / "inside" / "s4",
                  project / "s5"):
        assert list(where.glob("p/*/manifest.json")), where


def test_scanning_a_file_uri_with_a_host_is_an_error(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "secrets", "file://../elsewhere"]) == 2
    assert "file://../elsewhere" in capsys.readouterr().err


# -- 5. names are escaped for terminals and encoded safely for every report -------------------
RAW = (b"\x1b", b"\xe2\x80\xae", b"\xc2\x9b", b"\xff", b"\nforged")


def test_hostile_names_are_escaped_on_the_terminal(tmp_path: Path) -> None:
    tree = _leaky_tree(tmp_path / "tree", files=0, names=NAMES)
    proc = _secpipe("scan", "secrets", str(tree))
    assert proc.returncode == 1, proc.stderr
    for raw in RAW:
        assert raw not in proc.stdout and raw not in proc.stderr, raw
    text = proc.stdout.decode("utf-8")
    for shown in ("bad\\xff.txt", "esc\\x1b[2J.txt", "nl\\nforged.txt", "bidi\\u202etxt.exe",
                  "c1\\x9b31m.txt"):
        assert shown in text, shown


def test_console_sink_lines_are_escaped() -> None:
    out = io.StringIO()
    sink = ConsoleSink(stream=out)
    sink(StepLog("r", step="scan\x1b[31m", message="skipped esc\x1b[2J.txt\nforged \u202e"))
    assert out.getvalue() == "   scan\\x1b[31m: skipped esc\\x1b[2J.txt\\nforged \\u202e\n"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _tags(html: str) -> set[str]:
    parser = _Tags()
    parser.feed(html)
    return set(parser.tags)


@pytest.mark.parametrize("fmt", ["json", "sarif", "markdown", "html"])
def test_every_report_renders_hostile_names(tmp_path: Path, fmt: str) -> None:
    tree = _leaky_tree(tmp_path / "tree", files=0, names=NAMES)
    out = tmp_path / f"report.{fmt}"
    assert _report(tree, out, fmt) == 1
    data = out.read_bytes()
    text = data.decode("utf-8")  # strict: the report is valid UTF-8
    for raw in RAW:
        assert raw not in data, raw
    if fmt == "json":
        paths = {f["location"]["path"] for f in json.loads(text)["findings"]}
        assert "bad\\xff.txt" in paths and "nl\nforged.txt" in paths
    elif fmt == "sarif":
        log = json.loads(text)
        schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
        Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER).validate(log)
        uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in log["runs"][0]["results"]}
        assert {"bad%FF.txt", "esc%1B%5B2J.txt", "nl%0Aforged.txt"} <= uris
    elif fmt == "markdown":
        html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
        assert "img" not in _tags(html)
        assert "bad\\xff.txt" in text
        assert not any(line.startswith("forged") for line in text.splitlines())
    else:
        tags = _tags(text)
        assert "img" not in tags and "&lt;img src=x onerror=alert(1)&gt;" in text
        assert "bad\\xff.txt" in text and "nl\\nforged.txt" in text


# -- 6. run ids are not patterns -----------------------------------------------------------------
def test_like_wildcards_do_not_resolve_to_a_run(project: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "secpipe.yaml").write_text(PIPELINE)
    _leaky_tree(project / "tree")
    assert main(["run", "p", "-C", str(project), "-q"]) == 1
    run_id = json.loads((capsys.readouterr(), main(["runs", "-C", str(project), "--json"]))
                        and capsys.readouterr().out)[0]["id"]
    for ref in ("%", "_", "2026%", run_id[:4] + "_", "%" + run_id[-4:], "x' OR 1=1 --", ""):
        assert main(["gate", ref, "-C", str(project), "-q"]) == 2, ref
        err = capsys.readouterr().err
        assert "invalid run reference" in err, (ref, err)
    assert main(["gate", run_id[:8], "-C", str(project), "-q"]) == 1  # a real prefix still works
