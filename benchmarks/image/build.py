"""Build the three benchmark images without a public registry (issue 14, "Measured").

1. ``debian12``: ``debootstrap --variant=minbase bookworm`` (from the Debian mirror apt uses),
   the root filesystem tarred and committed with ``buildah from scratch`` (``--timestamp 0``);
2. ``pyapp``: a Python app on it, ``buildah bud --isolation chroot --pull=never`` of a small
   Dockerfile (``apt-get install python3 python3-yaml python3-requests``, an app folder, a
   non-root user);
3. ``distroless``: a distroless-style image written by code (``tests/images/image_builders.py``):
   seven packages' files copied out of the debootstrap root, one ``/var/lib/dpkg/status.d/<pkg>``
   stanza (plus ``<pkg>.md5sums``) per package, no ``/var/lib/dpkg/status``, no shell.

Each image is written as an OCI layout (``images/<name>``), an ``oci-archive``
(``images/<name>.oci.tar``) and, for trivy, a ``docker-archive`` (``images/<name>.docker.tar``,
by ``skopeo copy``). Needs root, buildah, skopeo and debootstrap (``apt-get install``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "images"))

from image_builders import Member, build_oci_layout, directory, symlink  # noqa: E402

DEFAULT_WORK = Path("/tmp/secpipe-bench/image")
MIRROR = "http://deb.debian.org/debian"
DISTROLESS_PACKAGES = ("base-files", "tzdata", "libc6", "liblzma5", "zlib1g", "libgcc-s1",
                       "libstdc++6", "libzstd1")

DOCKERFILE = """\
FROM localhost/debian12
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-yaml python3-requests \\
 && rm -rf /var/lib/apt/lists/*
COPY app /app
USER 1000:1000
CMD ["python3", "/app/serve.py"]
"""

APP = """\
import json
import http.server


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"label": "ok"}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)


http.server.HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


def run(argv: list[str], **kw: object) -> str:
    """Run ``argv`` (no shell), fail loudly, return its standard output."""
    print("+", " ".join(argv), flush=True)
    done = subprocess.run(argv, check=True, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    return str(done.stdout)


class Buildah:
    """buildah with its own store under the work folder (vfs driver)."""

    def __init__(self, work: Path) -> None:
        self.args = ["buildah", "--root", str(work / "store" / "root"),
                     "--runroot", str(work / "store" / "run"), "--storage-driver", "vfs"]

    def __call__(self, *argv: str, cwd: Path | None = None) -> str:
        return run([*self.args, *argv], cwd=cwd).strip()

    def export(self, image: str, out: Path, name: str) -> None:
        layout = out / name
        shutil.rmtree(layout, ignore_errors=True)
        for path in (out / f"{name}.oci.tar", out / f"{name}.docker.tar"):
            path.unlink(missing_ok=True)
        self("push", "--quiet", "--format", "oci", image, f"oci:{layout}:latest")
        self("push", "--quiet", "--format", "oci", image,
             f"oci-archive:{out / name}.oci.tar:latest")
        docker_archive(layout, out / f"{name}.docker.tar", name)


def docker_archive(layout: Path, out: Path, name: str) -> None:
    """``skopeo copy oci:LAYOUT docker-archive:OUT`` (trivy's ``--input`` reads this)."""
    run(["skopeo", "copy", "--quiet", f"oci:{layout}:latest",
         f"docker-archive:{out}:bench/{name}:latest"])


def debootstrap(work: Path) -> float:
    """The minbase root filesystem in ``work/rootfs`` (kept if present) -> seconds taken."""
    rootfs = work / "rootfs"
    if (rootfs / "var" / "lib" / "dpkg" / "status").is_file():
        return 0.0
    shutil.rmtree(rootfs, ignore_errors=True)
    start = time.monotonic()
    run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR])
    return time.monotonic() - start


def build_base(work: Path, bah: Buildah) -> None:
    """``debian12``: the debootstrap root as one layer."""
    rootfs_tar = work / "rootfs.tar"
    # apt's downloaded .debs are not part of an image
    shutil.rmtree(work / "rootfs" / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    run(["tar", "--numeric-owner", "--sort=name", "--mtime=@0", "-C", str(work / "rootfs"),
         "-cf", str(rootfs_tar), "."])
    ctr = bah("from", "--quiet", "scratch")
    bah("add", ctr, str(rootfs_tar), "/")
    bah("config", "--cmd", "/bin/bash", "--env", "PATH=/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/usr/bin:/sbin:/bin", ctr)
    bah("commit", "--quiet", "--timestamp", "0", "--format", "oci", ctr, "localhost/debian12")
    bah("rm", ctr)
    rootfs_tar.unlink()
    bah.export("localhost/debian12", work / "images", "debian12")


def build_app(work: Path, bah: Buildah) -> None:
    """``pyapp``: ``buildah bud`` of :data:`DOCKERFILE` on ``debian12``."""
    ctx = work / "pyapp-context"
    shutil.rmtree(ctx, ignore_errors=True)
    (ctx / "app").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "app" / "serve.py").write_text(APP)
    bah("bud", "--quiet", "--isolation", "chroot", "--pull=never", "--timestamp", "0",
        "--format", "oci", "-t", "localhost/pyapp", "-f", str(ctx / "Dockerfile"), str(ctx))
    bah.export("localhost/pyapp", work / "images", "pyapp")


def _stanzas(status: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for block in status.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("Package: "):
                out[line.split(": ", 1)[1].strip()] = block.strip() + "\n"
                break
    return out


def build_distroless(work: Path) -> None:
    """``distroless``: :data:`DISTROLESS_PACKAGES` with ``status.d``, written by code."""
    rootfs = work / "rootfs"
    info = rootfs / "var" / "lib" / "dpkg" / "info"
    stanzas = _stanzas((rootfs / "var" / "lib" / "dpkg" / "status").read_text())
    files: dict[str, bytes | Member] = {}
    for pkg in DISTROLESS_PACKAGES:
        stanza = stanzas[pkg]
        files[f"var/lib/dpkg/status.d/{pkg}"] = stanza.encode()
        listed = [p for p in (info / f"{pkg}.list").read_text().splitlines()
                  if p and p != "/."] if (info / f"{pkg}.list").exists() else []
        if not listed:
            arch_list = sorted(info.glob(f"{pkg}:*.list"))
            listed = [p for p in arch_list[0].read_text().splitlines() if p and p != "/."]
            sums = arch_list[0].with_suffix(".md5sums")
        else:
            sums = info / f"{pkg}.md5sums"
        if sums.exists():
            files[f"var/lib/dpkg/status.d/{pkg}.md5sums"] = sums.read_bytes()
        for path in listed:
            # merged /usr: /lib is a symlink to usr/lib in the root; store every file at its
            # real place (a layer writing through a symlinked parent is refused, rightly)
            real = rootfs / path.lstrip("/")
            parent = Path(os.path.realpath(real.parent))
            if not parent.is_relative_to(rootfs.resolve()):
                continue
            name = (parent.relative_to(rootfs.resolve()) / real.name).as_posix()
            real = rootfs / name
            if real.is_symlink():
                files[name] = symlink(os.readlink(real))
            elif real.is_dir():
                files[name] = directory()
            elif real.is_file():
                files[name] = Member(data=real.read_bytes(), mode=real.stat().st_mode & 0o7777)
    for top in ("bin", "sbin", "lib", "lib64"):  # the merged-/usr links of the root
        if (rootfs / top).is_symlink():
            files[top] = symlink(os.readlink(rootfs / top))
    # every parent folder as a member (Syft globs status.d through directory entries)
    for name in list(files):
        parts = name.split("/")
        for i in range(1, len(parts)):
            files.setdefault("/".join(parts[:i]), directory())
    ordered = dict(sorted(files.items()))
    layout = work / "images" / "distroless"
    shutil.rmtree(layout, ignore_errors=True)
    for old in (work / "images" / "distroless.oci.tar", work / "images" / "distroless.docker.tar"):
        old.unlink(missing_ok=True)
    config = {"config": {"User": "65532", "Entrypoint": ["/usr/bin/true"]}}
    build_oci_layout(layout, [ordered], config, ref_name="latest")
    run(["skopeo", "copy", "--quiet", f"oci:{layout}:latest",
         f"oci-archive:{work / 'images' / 'distroless.oci.tar'}:latest"])
    docker_archive(layout, work / "images" / "distroless.docker.tar", "distroless")


def main(argv: list[str] | None = None) -> int:
    """Build the images named on the command line (default: all three)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORK)
    parser.add_argument("images", nargs="*", default=["debian12", "pyapp", "distroless"])
    args = parser.parse_args(argv)
    work: Path = args.workdir
    (work / "images").mkdir(parents=True, exist_ok=True)
    bah = Buildah(work)
    took = debootstrap(work)
    if took:
        print(f"debootstrap minbase: {took:.1f} s")
    steps = {"debian12": lambda: build_base(work, bah), "pyapp": lambda: build_app(work, bah),
             "distroless": lambda: build_distroless(work)}
    for name in args.images:
        start = time.monotonic()
        steps[name]()
        print(f"{name}: built in {time.monotonic() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
