"""The labelled-corpus writer shared by the generator modules."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

CMD = "echo secpipe-bench-marker > /tmp/secpipe-bench-pwned"
"""The shell command every payload would run: harmless, and nothing here ever loads it."""


@dataclass(frozen=True)
class Label:
    """One corpus file's ground truth."""

    path: str
    """Path relative to the corpus root (a file, or a SavedModel folder)."""
    label: str
    """``malicious`` or ``benign``."""
    technique: str
    """Technique id (malicious) or benign kind id."""
    fmt: str
    """Format family: pickle, torch, joblib, numpy, keras, savedmodel, onnx, gguf, ..."""
    description: str
    """One line: what the file is and what trick it uses."""
    source: str = ""
    """Where the technique was published (CVE, advisory, issue), when it was."""


@dataclass
class Corpus:
    """Collects files and their labels under ``root``."""

    root: Path
    labels: list[Label] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What a builder skipped, and why (written to NOTES.txt)."""

    def path(self, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def add(
        self,
        rel: str,
        data: bytes | None,
        *,
        label: str,
        technique: str,
        fmt: str,
        description: str,
        source: str = "",
    ) -> Path:
        """Write ``data`` to ``rel`` (unless None: the caller wrote it) and record its label."""
        p = self.path(rel)
        if data is not None:
            p.write_bytes(data)
        self.labels.append(Label(rel, label, technique, fmt, description, source))
        return p

    def mal(
        self, rel: str, data: bytes | None, tech: str, fmt: str, desc: str, src: str = ""
    ) -> Path:
        return self.add(rel, data, label="malicious", technique=tech, fmt=fmt, description=desc,
                        source=src)

    def ok(self, rel: str, data: bytes | None, kind: str, fmt: str, desc: str) -> Path:
        return self.add(rel, data, label="benign", technique=kind, fmt=fmt, description=desc)

    def write_labels(self) -> Path:
        out = self.root / "labels.json"
        files = {lb.path: {k: v for k, v in asdict(lb).items() if k != "path"}
                 for lb in self.labels}
        out.write_text(json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True))
        return out
