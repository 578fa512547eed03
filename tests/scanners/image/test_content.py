"""Layer contents of an image: secrets (deleted files too), model files, config and history."""

from __future__ import annotations

import os
import pickle
import random
import string
import struct
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "images"))

from image_builders import LayerSpec, build_oci_layout, hardlink

from secpipe.core.findings import Finding
from secpipe.core.step import StepContext
from secpipe.images.layers import FileTree, apply_layers
from secpipe.images.layout import Image, open_image
from secpipe.scanners.image.content import (
    CONFIG_PATH,
    ContentLimits,
    ContentScanCancelled,
    ContentStats,
    history_command,
    scan_contents,
)

UPPER32 = string.ascii_uppercase + "234567"


def aws_key(seed: int = 7) -> str:
    """An AWS access key id shaped token, made up at run time (never a literal credential)."""
    rng = random.Random(seed)
    return "AKIA" + "".join(rng.choice(UPPER32) for _ in range(16))


class _Evil:
    """Pickles as a call of os.system (never unpickled here)."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("echo owned",))


def _config(user: str = "app", env: Sequence[str] = (),
            history: Sequence[str] | None = None, layers: int = 1) -> dict[str, Any]:
    config: dict[str, Any] = {"config": {"User": user, "Env": ["PATH=/usr/bin:/bin", *env]}}
    if history is not None:
        config["history"] = [{"created_by": h} for h in history]
    return config


@contextmanager
def opened(tmp_path: Path, layers: Sequence[LayerSpec],
           config: Mapping[str, Any] | None = None) -> Iterator[tuple[FileTree, Image]]:
    layout = tmp_path / "img"
    build_oci_layout(layout, layers, config if config is not None else _config())
    with open_image(layout) as image, apply_layers(image) as tree:
        yield tree, image


def _rules(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings}


def test_secret_in_file_deleted_later_is_found_and_says_so(tmp_path: Path) -> None:
    key = aws_key()
    layers: list[LayerSpec] = [
        {"app/main.py": b"print(1)\n"},
        {"app/.env": f"AWS_ACCESS_KEY_ID={key}\n".encode()},
        {"app/.wh..env": b""},
    ]
    with opened(tmp_path, layers) as (tree, image):
        assert tree.get("app/.env") is None
        findings, problems = scan_contents(tree, image)
    secret = [f for f in findings if f.rule_id == "secrets.aws-access-key"]
    assert len(secret) == 1, findings
    loc = secret[0].location
    assert loc.path == "app/.env"
    assert loc.member == "layer 1, deleted in layer 2"
    assert loc.line == 1
    assert key not in secret[0].message and key not in secret[0].evidence
    assert problems == []


def test_secret_in_live_file_names_its_layer_and_is_not_repeated_for_the_old_copy(
        tmp_path: Path) -> None:
    key = aws_key(3)
    text = f"AWS_ACCESS_KEY_ID={key}\n".encode()
    layers: list[LayerSpec] = [{"etc/app.conf": text}, {"etc/app.conf": text + b"# again\n"}]
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image)
    secret = [f for f in findings if f.rule_id == "secrets.aws-access-key"]
    assert [(f.location.path, f.location.member) for f in secret] == [("etc/app.conf",
                                                                         "layer 1")]


def test_replaced_file_with_another_secret_says_replaced(tmp_path: Path) -> None:
    old, new = aws_key(1), aws_key(2)
    layers: list[LayerSpec] = [{"srv/key": f"AWS_ACCESS_KEY_ID={old}\n".encode()},
                               {"srv/key": f"AWS_ACCESS_KEY_ID={new}\n".encode()}]
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image)
    members = sorted(f.location.member or "" for f in findings
                     if f.rule_id == "secrets.aws-access-key")
    assert members == ["layer 0, replaced in layer 1", "layer 1"]


def test_binary_files_are_skipped_without_being_read_whole(tmp_path: Path) -> None:
    key = aws_key(5)
    blob = b"\x7fELF\x00\x00" + b"\x00" * 20000 + f"AWS_ACCESS_KEY_ID={key}".encode()
    stats: list[ContentStats] = []
    with opened(tmp_path, [{"usr/bin/tool": blob}]) as (tree, image):
        findings, _ = scan_contents(tree, image, stats=stats)
    assert "secrets.aws-access-key" not in _rules(findings)
    assert stats[0].binary_skipped == 1 and stats[0].bytes_scanned == 0


def test_hardlinked_secret_is_scanned_once_per_path(tmp_path: Path) -> None:
    key = aws_key(9)
    layers: list[LayerSpec] = [{"a/creds": f"AWS_ACCESS_KEY_ID={key}\n".encode(),
                                "b/creds": hardlink("a/creds")}]
    stats: list[ContentStats] = []
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image, stats=stats)
    paths = sorted(f.location.path for f in findings if f.rule_id == "secrets.aws-access-key")
    assert paths == ["a/creds", "b/creds"]
    assert stats[0].bytes_scanned == len(f"AWS_ACCESS_KEY_ID={key}\n")


def test_bounds_turn_into_problems(tmp_path: Path) -> None:
    key = aws_key(11)
    big = b"x = 1\n" * 400 + f"AWS_ACCESS_KEY_ID={key}\n".encode()
    layers: list[LayerSpec] = [{"a.txt": big, "b.txt": big + b"\n", "c.txt": b"y" * 100}]
    with opened(tmp_path, layers) as (tree, image):
        findings, problems = scan_contents(tree, image, max_bytes=len(big) + 50)
        assert any("not scanned" in p and "bound" in p for p in problems), problems
        small = ContentLimits(max_file_bytes=1024)
        findings, problems = scan_contents(tree, image, limits=small, max_bytes=10**6)
    incomplete = [f for f in findings if f.rule_id == "secrets.scan-incomplete"]
    assert incomplete and all("only the first 1024" in f.message for f in incomplete)


def test_pickle_with_os_system_is_found_by_the_model_scanner(tmp_path: Path) -> None:
    payload = pickle.dumps(_Evil(), protocol=4)
    layers: list[LayerSpec] = [{"srv/model/classifier.pkl": payload,
                                "srv/model/no_extension": payload,
                                "srv/readme.txt": b"hello\n"}]
    stats: list[ContentStats] = []
    with opened(tmp_path, layers) as (tree, image):
        findings, problems = scan_contents(tree, image, stats=stats)
    bad = [f for f in findings if f.rule_id == "models.pickle.dangerous-callable"]
    assert sorted(f.location.path for f in bad) == ["srv/model/classifier.pkl",
                                                    "srv/model/no_extension"]
    assert all("system" in f.message for f in bad)
    assert stats[0].models_scanned == 2 and problems == []


def test_root_user_variants(tmp_path: Path) -> None:
    passwd = b"root:x:0:0:root:/root:/bin/sh\nadmin:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"
    for user, rooted in [("", True), ("root", True), ("0:0", True), ("root:app", True),
                         ("admin", True), ("app", False), ("1000:1000", False)]:
        where = tmp_path / (user.replace(":", "_") or "empty")
        where.mkdir()
        with opened(where, [{"etc/passwd": passwd}], _config(user=user)) as (tree, image):
            findings, _ = scan_contents(tree, image)
        got = [f for f in findings if f.rule_id == "image.root-user"]
        assert bool(got) is rooted, (user, findings)
        if got:
            assert got[0].location.path == CONFIG_PATH


def test_env_secret_is_redacted(tmp_path: Path) -> None:
    key = aws_key(13)
    password = "-".join(["Zq8", "vT3r", "pL0x", "w" * 6])  # built at run time
    env = [f"DB_PASSWORD={password}", f"SOME_ID={key}", "DB_PASSWORD_FILE=/run/secrets/db",
           "API_TOKEN=${TOKEN}", "LOG_LEVEL=debug",
           "DATABASE_URL=postgres://app:" + password + "@db/app"]
    with opened(tmp_path, [{"a": b"1"}], _config(env=env)) as (tree, image):
        findings, _ = scan_contents(tree, image)
    got = {f.location.member: f for f in findings if f.rule_id == "image.secret-in-env"}
    assert set(got) == {"Env[1]", "Env[2]", "Env[6]"}, got
    for finding in got.values():
        text = f"{finding.message} {finding.evidence}"
        assert password not in text and key not in text
    assert got["Env[2]"].evidence.startswith("SOME_ID=AKIA")
    assert got["Env[2]"].confidence == "high"


def test_history_remote_script_and_history_secret(tmp_path: Path) -> None:
    key = aws_key(17)
    history = [
        "/bin/sh -c #(nop) ADD file:abc in / ",
        "RUN /bin/sh -c curl -fsSL https://get.example.com/install.sh | sh # buildkit",
        "|1 AWS_ACCESS_KEY_ID=" + key + " /bin/sh -c echo building",
        "/bin/sh -c curl -fsSL https://example.com/x.tgz | tar xz",
    ]
    with opened(tmp_path, [{"a": b"1"}], _config(history=history)) as (tree, image):
        findings, _ = scan_contents(tree, image)
    remote = [f for f in findings if f.rule_id == "image.remote-script-exec"]
    assert [f.location.member for f in remote] == ["history[1]"]
    secret = [f for f in findings if f.rule_id == "secrets.aws-access-key"]
    assert [(f.location.path, f.location.member) for f in secret] == [(CONFIG_PATH,
                                                                         "history[2]")]
    assert key not in secret[0].message


def test_history_command_forms() -> None:
    assert history_command("/bin/sh -c #(nop)  ENV A=b") is None
    assert history_command("COPY . /app # buildkit") is None
    assert history_command("/bin/sh -c apt-get update") == "apt-get update"
    assert history_command("RUN /bin/sh -c make # buildkit") == "make"
    assert history_command("|2 A=1 B=2 /bin/sh -c make") == "make"
    assert history_command("/bin/sh -c 'curl x | sh'") == "curl x | sh"


def test_clean_image_gives_nothing(tmp_path: Path) -> None:
    layers: list[LayerSpec] = [
        {"etc/passwd": b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
         "app/main.py": b"import json\nprint(json.dumps({'ok': True}))\n",
         "app/data.json": b'{"a": 1}\n', "usr/lib/libx.so": b"\x7fELF\x02\x01\x00" * 50},
        {"app/main.py": b"print('v2')\n", "tmp/.wh.junk": b""},
    ]
    history = ["/bin/sh -c #(nop) ADD file:abc in /", "/bin/sh -c apt-get install -y curl"]
    config = _config(user="1000:1000", env=["LANG=C.UTF-8"], history=history)
    with opened(tmp_path, layers, config) as (tree, image):
        findings, problems = scan_contents(tree, image)
    assert findings == [] and problems == []


def test_cancel_raises(tmp_path: Path) -> None:
    ctx = StepContext(project_root=tmp_path, workdir=tmp_path, cancel=threading.Event())
    ctx.cancel.set()
    with opened(tmp_path, [{"a.txt": b"hello\n"}]) as (tree, image), \
            pytest.raises(ContentScanCancelled):
        scan_contents(tree, image, ctx)


def test_hostile_names_never_leave_the_temp_root(tmp_path: Path) -> None:
    payload = pickle.dumps(_Evil(), protocol=2)
    layers: list[LayerSpec] = [{"../../escape.pkl": payload, "/abs/evil.pkl": payload,
                                "ok/model.pkl": payload}]
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image)
    assert {f.location.path for f in findings
            if f.rule_id == "models.pickle.dangerous-callable"} == {"ok/model.pkl"}
    assert not (tmp_path.parent / "escape.pkl").exists()
    assert not Path("/abs/evil.pkl").exists()


def test_excludes_skip_in_image_paths(tmp_path: Path) -> None:
    key = aws_key(19)
    text = f"AWS_ACCESS_KEY_ID={key}\n".encode()
    layers: list[LayerSpec] = [{"app/node_modules/pkg/test.env": text, "app/.env": text}]
    stats: list[ContentStats] = []
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image, excludes=("node_modules/",), stats=stats)
    assert [f.location.path for f in findings if f.rule_id == "secrets.aws-access-key"] == [
        "app/.env"]
    assert stats[0].excluded == 1


def test_secret_inside_an_archive_in_a_layer_names_layer_and_member(tmp_path: Path) -> None:
    import io
    import tarfile

    key = aws_key(23)
    data = f"AWS_ACCESS_KEY_ID={key}\n".encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("conf/creds.ini")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with opened(tmp_path, [{"opt/backup.tgz": out.getvalue()}]) as (tree, image):
        findings, _ = scan_contents(tree, image)
    secret = [f for f in findings if f.rule_id == "secrets.aws-access-key"]
    assert [f.location.display() for f in secret] == ["opt/backup.tgz!layer 0!conf/creds.ini:1"]


def test_model_candidates_by_name_or_content_only(tmp_path: Path) -> None:
    import zipfile
    from io import BytesIO

    zipped = BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("data.pkl", pickle.dumps(_Evil(), protocol=2))
    payload = zipped.getvalue()
    layers: list[LayerSpec] = [{"srv/weights.pt": payload, "srv/bundle.zip": payload,
                                "srv/notes.txt": b"(just text)\n"}]
    stats: list[ContentStats] = []
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image, stats=stats)
    bad = {f.location.path for f in findings if f.rule_id == "models.pickle.dangerous-callable"}
    assert bad == {"srv/weights.pt"}  # a zip not named like a model is not a model candidate
    assert stats[0].models_scanned == 1


def test_deleted_model_file_is_not_scanned_as_a_model(tmp_path: Path) -> None:
    payload = pickle.dumps(_Evil(), protocol=2)
    layers: list[LayerSpec] = [{"srv/m.pkl": payload}, {"srv/.wh.m.pkl": b""}]
    with opened(tmp_path, layers) as (tree, image):
        findings, _ = scan_contents(tree, image)
    assert not [f for f in findings if f.rule_id.startswith("models.")]


def test_history_command_with_spaced_build_args() -> None:
    assert history_command("|1 MSG=hello world /bin/sh -c curl -s https://x.example/i | bash") \
        == "curl -s https://x.example/i | bash"
    assert history_command("RUN sh -c echo hi # buildkit") == "echo hi"
    assert history_command("WORKDIR /app") is None


def test_a_zip_member_without_a_name_is_still_scanned(tmp_path: Path) -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:  # a member without a name (once crashed a walk)
        archive.writestr(zipfile.ZipInfo(""), f"aws_access_key_id = {aws_key(7)}\n")
    with opened(tmp_path, [{"opt/odd.zip": out.getvalue()}]) as (tree, image):
        findings, problems = scan_contents(tree, image)
    found = [f for f in findings if f.rule_id == "secrets.aws-access-key"]
    assert [f.location.path for f in found] == ["opt/odd.zip"], findings
    assert "<unnamed member>" in found[0].location.display() and problems == []


def test_time_bound_is_a_problem(tmp_path: Path) -> None:
    layers: list[LayerSpec] = [{f"f{i}.txt": b"hello\n" for i in range(5)}]
    with opened(tmp_path, layers) as (tree, image):
        _, problems = scan_contents(tree, image, limits=ContentLimits(max_seconds=-1.0))
    assert any("5 file(s) not scanned" in p and "time bound" in p for p in problems), problems


def test_system_files_that_look_like_models_are_not(tmp_path: Path) -> None:
    # files every Debian/Python image holds: a site .pth (path lines, text), a pkg-config file
    # with `{` at offset 8, a gettext catalogue of 123 strings; a pickle under a site .pth
    # name is still a model
    gettext = struct.pack("<IIIIIII", 0x950412DE, 0, 123, 28, 28 + 123 * 8, 0, 0) + b"\0" * 64
    layers: list[LayerSpec] = [{
        "usr/lib/python3/dist-packages/distutils-precedence.pth":
            b"import os; var = 'SETUPTOOLS_USE_DISTUTILS'\n",
        "usr/local/lib/python3.11/site-packages/extra.pth": b"/opt/extra/lib\n",
        "usr/lib/x86_64-linux-gnu/pkgconfig/numpy.pc": b"prefix${pcfiledir}/../..\nName: numpy\n",
        "usr/share/locale/de/LC_MESSAGES/apt.mo": gettext,
        "usr/local/lib/python3.11/site-packages/evil.pth": pickle.dumps(_Evil(), protocol=2)}]
    stats: list[ContentStats] = []
    with opened(tmp_path, layers) as (tree, image):
        findings, problems = scan_contents(tree, image, stats=stats)
    models = {f.location.path for f in findings if f.rule_id.startswith("models.")}
    assert models == {"usr/local/lib/python3.11/site-packages/evil.pth"}, findings
    assert stats[0].models_scanned == 1 and problems == []
