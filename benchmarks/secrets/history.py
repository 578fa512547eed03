"""A small git repository whose secrets exist only in history (committed, then removed).

Commits use fixed authors and dates, so commit ids are the same on every run.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import kinds
from layout import Item, render_lines
from recorder import Recorder


def _git_env(tmp_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(tmp_home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Dana Dev",
        GIT_AUTHOR_EMAIL="dana@corp.example",
        GIT_COMMITTER_NAME="Dana Dev",
        GIT_COMMITTER_EMAIL="dana@corp.example",
    )
    return env


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.home = path.parent / ".git-home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = _git_env(self.home)
        self.tick = 0
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, env=self.env, check=True, capture_output=True, text=True
        )
        return proc.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")

    def remove(self, rel: str) -> None:
        (self.path / rel).unlink()

    def commit(self, message: str) -> str:
        self.tick += 1
        date = f"2024-03-{self.tick:02d}T10:00:00+00:00"
        self.env["GIT_AUTHOR_DATE"] = self.env["GIT_COMMITTER_DATE"] = date
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def _items(rng: random.Random, names: list[str]) -> list[Item]:
    out = []
    for name in names:
        k = kinds.KIND_BY_NAME[name]
        out.append(Item(var=k.var, value=k.gen(rng), kind=k.name))
    return out


def build(rec: Recorder, rng: random.Random) -> None:
    root = rec.out / "history"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    repo = Repo(root)
    readme = "# payload-classifier\n\nClassifies HTTP payloads.\n"
    cfg_items = _items(rng, ["github-pat-classic", "postgres-url"])
    cfg = render_lines("py", cfg_items, rng, set())
    sh_items = _items(rng, ["dockerhub-pat", "slack-webhook-url"])
    sh = render_lines("sh", sh_items, rng, set())
    env_items = _items(rng, ["stripe-secret-key", "openai-project-key"])
    env = render_lines("env", env_items, rng, set())
    repo.write("README.md", readme)
    repo.write("app/config.py", cfg)
    repo.write("deploy/deploy.sh", sh)
    repo.write(".env.production", env)
    c1 = repo.commit("Initial import")

    lines = cfg.split("\n")
    refs: list[Item] = []
    for item in cfg_items:
        idx = next(i for i, ln in enumerate(lines) if item.value in ln)
        lines[idx] = f'{item.var} = os.environ["{item.var}"]'
        refs.append(Item(var="", value=lines[idx], category="placeholder", note="env lookup"))
        refs[-1].needle = lines[idx]
    cfg2 = "\n".join(lines)
    repo.write("app/config.py", cfg2)
    c2 = repo.commit("Read credentials from the environment")

    repo.remove("deploy/deploy.sh")
    repo.remove(".env.production")
    c3 = repo.commit("Remove the old deploy script and env file")

    key_item = _items(rng, ["private-key-rsa"])[0]
    key_item.needle = key_item.value
    k8s_items = _items(rng, ["hashicorp-vault-token"])
    k8s = render_lines("yaml", k8s_items, rng, set())
    repo.write("ci/signing.key", key_item.value + "\n")
    repo.write("k8s/secret.yaml", k8s)
    c4 = repo.commit("Add CI signing key and vault config")
    repo.remove("ci/signing.key")
    repo.remove("k8s/secret.yaml")
    c5 = repo.commit("Remove committed key material")
    repo.write("README.md", readme + "\nSee docs/ for the deployment guide.\n")
    c6 = repo.commit("Docs")

    for item in cfg_items + sh_items + env_items + k8s_items:
        item.needle = item.value
    rec.record("history", "app/config.py", cfg, cfg_items, "history", commits=[c1])
    rec.record("history", "deploy/deploy.sh", sh, sh_items, "history", commits=[c1, c2])
    rec.record("history", ".env.production", env, env_items, "history", commits=[c1, c2])
    rec.record(
        "history", "ci/signing.key", key_item.value + "\n", [key_item], "history", commits=[c4]
    )
    rec.record("history", "k8s/secret.yaml", k8s, k8s_items, "history", commits=[c4])
    rec.record("history", "app/config.py", cfg2, refs, "history", commits=[c2, c3, c4, c5, c6])
    shutil.rmtree(repo.home, ignore_errors=True)
