"""Sign / verify a model folder beside the `model_signing` CLI, and store / load throughput to a
real SeaweedFS S3 server. A benchmark, not a test: prints a Markdown table.

    .venv/bin/python benchmarks/provenance/run.py --size-mb 1024 --files 4 --runs 3

Every timing is the median of ``--runs`` runs after one warm-up run (the model is in the page
cache: this measures hashing and signing, not the disk). Both tools hash in parallel over files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # tests/servers.py starts SeaweedFS

BIN = Path(sys.executable).parent


def make_model(folder: Path, size_mb: int, files: int) -> None:
    folder.mkdir(parents=True)
    per = size_mb * (1 << 20) // files
    block = os.urandom(1 << 20)
    for i in range(files):
        with (folder / f"shard-{i:02d}.safetensors").open("wb") as fh:
            for j in range(per >> 20):
                fh.write(block[j % 7:] + block[: j % 7])
    (folder / "config.json").write_text('{"arch": "bench"}')


def timed(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {done.stdout}{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from secpipe.keys.signers import LocalKeyFile
    from secpipe.provenance.modelsig import sign_model, verify_model

    work = Path(tempfile.mkdtemp(prefix="secpipe-bench-prov-"))
    env = {**os.environ, "HOME": str(work)}
    try:
        model = work / "model"
        make_model(model, args.size_mb, args.files)
        project = work / "project"
        project.mkdir()
        key = LocalKeyFile(work / "keys" / "ec.pem")
        public = key.public_pem()
        pem = work / "keys" / "ec.pem"
        (work / "keys" / "ec.pub").write_bytes(public)

        rows = []
        secs = timed(lambda: sign_model(model, work / "ours.sig", key), args.runs)
        rows.append(("secpipe sign (library call)", secs))
        secs = timed(lambda: verify_model(model, work / "ours.sig", public), args.runs)
        rows.append(("secpipe verify (library call)", secs))
        secpipe = [str(BIN / "secpipe")]
        secs = timed(lambda: run([*secpipe, "sign", str(model), "-C", str(project), "--key",
                                  str(pem), "-o", str(work / "cli.sig"), "-q"], env), args.runs)
        rows.append(("`secpipe sign` (CLI process)", secs))
        secs = timed(lambda: run([*secpipe, "verify", str(model), "-C", str(project),
                                  "--public-key", str(work / "keys" / "ec.pub"), "--signature",
                                  str(work / "cli.sig"), "-q"], env), args.runs)
        rows.append(("`secpipe verify` (CLI process)", secs))
        ms = str(BIN / "model_signing")
        secs = timed(lambda: run([ms, "sign", "key", str(model), "--private_key", str(pem),
                                  "--signature", str(work / "theirs.sig")], env), args.runs)
        rows.append(("`model_signing sign key` (CLI process)", secs))
        secs = timed(lambda: run([ms, "verify", "key", str(model), "--signature",
                                  str(work / "theirs.sig"), "--public_key",
                                  str(work / "keys" / "ec.pub")], env), args.runs)
        rows.append(("`model_signing verify key` (CLI process)", secs))
        rows.extend(store_load(model, work, args.runs))

        total = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
        print(f"model: {len(list(model.iterdir()))} files, {total / (1 << 20):.0f} MiB; "
              f"median of {args.runs} runs after a warm-up; {os.cpu_count()} CPUs\n")
        print("| operation | seconds | MiB/s |")
        print("|---|---:|---:|")
        for name, secs in rows:
            print(f"| {name} | {secs:.2f} | {total / (1 << 20) / secs:.0f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def store_load(model: Path, work: Path, runs: int) -> list[tuple[str, float]]:
    import servers
    from secpipe.core.artifacts import sha256_file
    from secpipe.keys.refs import SecretResolver
    from secpipe.stores.manifest import LocalFile, fetch, publish
    from secpipe.stores.open import StoreSettings, open_store

    server = servers.seaweedfs()
    settings = StoreSettings(uri=f"s3://{servers.S3_BUCKET}/bench", endpoint_url=server.url,
                             access_key=servers.S3_ACCESS_KEY, secret_key=servers.S3_SECRET_KEY)
    store = open_store(settings.uri, settings, work, SecretResolver(work))
    files = [LocalFile(name=p.name, source=p, path=f"model/{p.name}",
                       expected_digest="sha256:" + sha256_file(p)[0])
             for p in sorted(model.iterdir())]
    counter = iter(range(1000))

    def push() -> None:
        run_id = f"20260101-000000-{next(counter):04d}"
        publish(store, f"bench/{run_id}", "bench", run_id, files, workers=4)

    def pull() -> None:
        fetch(store, "bench/20260101-000000-0000", work / "pulled", workers=4)

    try:
        return [("store: publish to SeaweedFS S3 (4 workers)", timed(push, runs)),
                ("load: fetch + digest check from SeaweedFS S3", timed(pull, runs))]
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
