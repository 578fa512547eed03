"""What one file is, from its name and the head of its content. Nothing is imported, executed or
unpickled: model formats are told by magic bytes, Python by regular expressions, YAML by the safe
loader."""

from __future__ import annotations

import csv
import io
import re
import struct

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import parse_yaml

MODEL_SUFFIXES: dict[str, str] = {
    ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib", ".pt": "pytorch",
    ".pth": "pytorch", ".ckpt": "checkpoint", ".h5": "hdf5", ".hdf5": "hdf5", ".keras": "keras",
    ".onnx": "onnx", ".safetensors": "safetensors", ".gguf": "gguf", ".pb": "tensorflow",
    ".skops": "skops",
}  # fmt: skip
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".ndjson", ".feather", ".arrow", ".avro",
                 ".orc", ".xlsx")
REQUIREMENT_NAMES = frozenset({
    "pyproject.toml", "setup.py", "setup.cfg", "pipfile", "pipfile.lock", "poetry.lock",
    "uv.lock", "pdm.lock", "environment.yml", "environment.yaml", "conda-lock.yml",
    "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.mod", "go.sum",
    "cargo.toml", "cargo.lock", "gemfile", "gemfile.lock", "pom.xml", "build.gradle",
})  # fmt: skip
COMPOSE_NAMES = frozenset({"docker-compose.yml", "docker-compose.yaml", "compose.yml",
                           "compose.yaml"})
LABEL_NAMES = ("label", "labels", "target", "class", "y", "outcome", "category", "is_fraud",
               "is_malicious", "is_spam", "churn", "sentiment")
"""Column names that make a column the obvious label, most telling first."""
BUILDER_NAMES = ("build_estimator", "make_estimator", "get_estimator", "create_estimator",
                 "build_pipeline", "build_model", "make_model", "create_model")
"""Function names taken for ``train``'s estimator mode (a function returning an estimator)."""
FRAMEWORKS: dict[str, str] = {
    "flask": "flask", "fastapi": "fastapi", "django": "django", "streamlit": "streamlit",
    "gradio": "gradio", "langchain": "langchain", "llama_index": "llama-index",
    "openai": "openai", "anthropic": "anthropic", "transformers": "transformers",
    "torch": "pytorch", "tensorflow": "tensorflow", "keras": "keras", "sklearn": "scikit-learn",
    "xgboost": "xgboost", "lightgbm": "lightgbm", "joblib": "joblib", "onnxruntime": "onnxruntime",
}  # fmt: skip

_IMPORT = re.compile(r"(?:^|[\"\s;])(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)
_FIT = re.compile(r"\.fit\s*\(")
_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_DOC_SPLIT = re.compile(rb"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def model_format(suffix: str, head: bytes) -> str:
    """The format of a file with a model suffix: from its magic bytes, else its suffix."""
    if head.startswith(b"version https://git-lfs"):
        return "lfs pointer"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if head.startswith(b"PK\x03\x04"):
        return {".pt": "pytorch zip", ".pth": "pytorch zip", ".ckpt": "pytorch zip"}.get(
            suffix, "skops" if suffix == ".skops" else "zip")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"GGUF"):
        return "gguf"
    if suffix == ".safetensors" and len(head) > 8 and head[8:9] == b"{":
        (length,) = struct.unpack("<Q", head[:8])
        return "safetensors" if length > 0 else "unknown"
    if suffix == ".joblib" and head[:1] in (b"\x78", b"\x1f", b"\xfd"):
        return "joblib (compressed)"
    return MODEL_SUFFIXES.get(suffix, "unknown")


def is_requirements(rel: str, name: str) -> bool:
    low = name.lower()
    if low in REQUIREMENT_NAMES:
        return True
    in_req_dir = "/requirements/" in f"/{rel.lower()}"
    return low.endswith((".txt", ".in")) and (low.startswith("requirements") or in_req_dir)


def is_container(name: str) -> bool:
    low = name.lower()
    return (low in ("dockerfile", "containerfile") or low.startswith(("dockerfile.",
            "containerfile.")) or low.endswith(".dockerfile") or low in COMPOSE_NAMES)


def is_training_name(name: str) -> bool:
    low = name.lower()
    return low.endswith(".py") and (low.startswith("train") or low.startswith("fit_"))


def yaml_iac_kind(text: bytes, name: str) -> str | None:
    """``kubernetes`` when a document of the YAML file has ``apiVersion`` and ``kind`` keys,
    ``cloudformation`` for an ``AWSTemplateFormatVersion`` key, else ``None``."""
    if b"apiVersion" not in text and b"AWSTemplateFormatVersion" not in text:
        return None
    for part in _DOC_SPLIT.split(text)[:50]:
        try:
            data = parse_yaml(part, name).data
        except ConfigError:
            continue  # a templated (Helm) or truncated document: not a manifest we can read
        if isinstance(data, dict):
            if "apiVersion" in data and "kind" in data:
                return "kubernetes"
            if "AWSTemplateFormatVersion" in data:
                return "cloudformation"
    return None


def csv_header(head: bytes, delimiter: str) -> tuple[tuple[str, ...], str | None]:
    """A CSV's column names (from its first line) and the obvious label column, if any."""
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip("\r")
    if not first:
        return (), None
    try:
        row = next(csv.reader(io.StringIO(first), delimiter=delimiter))
    except (csv.Error, StopIteration):
        return (), None
    columns = tuple(c.strip() for c in row)
    by_low = {c.lower(): c for c in columns}
    for name in LABEL_NAMES:
        if name in by_low and len(columns) > 1:
            return columns, by_low[name]
    return columns, None


def python_facts(text: str) -> tuple[bool, str | None, set[str]]:
    """Whether the code calls ``.fit(``, a builder function it defines, the frameworks it
    imports (source of a script, or a notebook's JSON)."""
    defined = set(_DEF.findall(text))
    builder = next((n for n in BUILDER_NAMES if n in defined), None)
    frameworks = {FRAMEWORKS[m.split("_")[0] if m.startswith("langchain") else m]
                  for m in _IMPORT.findall(text)
                  if (m.split("_")[0] if m.startswith("langchain") else m) in FRAMEWORKS}
    return bool(_FIT.search(text)), builder, frameworks
