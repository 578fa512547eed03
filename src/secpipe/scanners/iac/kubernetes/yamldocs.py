"""Kubernetes objects out of YAML/JSON streams: multi-document files, ``kind: List`` items, with
the line of every key path, read through the project's bounded loader.

A problem with a file (too large, malformed, a bound hit) is a :class:`Problem`, never an
exception: :func:`read_objects` returns what it could read and the problems it met.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.safeload import YamlDocument, parse_yaml_documents, read_regular_file
from secpipe.scanners.iac.model import Budget, Problem

Loc = tuple[Hashable, ...]

MAX_DOCUMENTS = 10_000
"""Most YAML documents read from one file."""
MAX_LIST_ITEMS = 10_000
"""Most items read from one ``kind: List``."""


@dataclass
class K8sObject:
    """One Kubernetes object and where it was written."""

    data: dict[str, Any]
    """The object as plain data."""
    path: str
    """Project-relative file it is reported at."""
    lines: Mapping[Loc, int] = field(default_factory=dict)
    """Key path (from the document's root) -> line in the parsed text."""
    prefix: Loc = ()
    """Where the object lies in its document (``("items", 3)`` for a List item)."""
    first: int | None = None
    """First line of the object in ``path``."""
    last: int | None = None
    """Last line of the object in ``path``."""
    line_map: Sequence[int] | None = None
    """For rendered text: line ``n`` of the parsed text came from line ``line_map[n - 1]`` of
    ``path`` (0: unknown)."""
    origin: str = ""
    """How the object was obtained (``helm template``, ``kustomize``), for messages."""
    engine: str = ""
    """``helm`` or ``kustomize`` for rendered objects, else empty."""

    @property
    def kind(self) -> str:
        kind = self.data.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def meta(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        name = self.meta.get("name")
        return str(name) if isinstance(name, str | int) and name != "" else "<unnamed>"

    @property
    def namespace(self) -> str:
        namespace = self.meta.get("namespace")
        return str(namespace) if isinstance(namespace, str) and namespace else ""

    @property
    def address(self) -> str:
        """``Kind/namespace/name`` (namespace ``default`` when none is written)."""
        return f"{self.kind or '<no kind>'}/{self.namespace or 'default'}/{self.name}"

    def _map(self, line: int | None) -> int | None:
        """A line of the parsed text as a line of ``path``."""
        if line is None or self.line_map is None:
            return line
        if 1 <= line <= len(self.line_map):
            return self.line_map[line - 1] or None
        return None

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc`` (relative to the object), else of its nearest written parent,
        else the object's first line."""
        full = (*self.prefix, *loc)
        for end in range(len(full), len(self.prefix) - 1, -1):
            line = self.lines.get(full[:end])
            if line is not None:
                return self._map(line) or self.start
        return self.start

    def key_lines(self) -> dict[str, int]:
        """Dotted key path (relative to the object) -> line in ``path``, where known."""
        out: dict[str, int] = {}
        size = len(self.prefix)
        for loc, line in self.lines.items():
            if len(loc) > size and loc[:size] == self.prefix:
                mapped = self._map(line)
                if mapped is not None:
                    out[".".join(str(p) for p in loc[size:])] = mapped
        return out

    def has_line(self, loc: Loc) -> bool:
        """True when ``loc`` itself is written in the text."""
        return (*self.prefix, *loc) in self.lines

    @property
    def start(self) -> int | None:
        return self._map(self.first)

    @property
    def block(self) -> tuple[int, int] | None:
        first, last = self._map(self.first), self._map(self.last)
        if first is None:
            return None
        return (first, max(last or first, first))


def looks_like_object(data: Any) -> bool:
    """A mapping with string ``apiVersion`` and ``kind``."""
    return (isinstance(data, dict) and isinstance(data.get("kind"), str)
            and isinstance(data.get("apiVersion"), str))


def objects_of_text(text: str, path: str, budget: Budget, *, name: str | None = None,
                    line_map: Sequence[int] | None = None, origin: str = "",
                    engine: str = "") -> tuple[list[K8sObject], list[Problem]]:
    """The objects of a YAML stream (already read), with the problems met. JSON that YAML
    cannot read (tabs for indentation, ``\\/`` escapes) is read as JSON, without lines."""
    label = name or path
    try:
        docs = parse_yaml_documents(text, label, max_documents=MAX_DOCUMENTS,
                                    max_depth=budget.max_depth, max_nodes=budget.max_nodes)
    except ConfigError as exc:
        message = str(exc)
        rule = "iac.parse-error"
        if "more than" in message and ("documents" in message or "nodes" in message):
            rule = "iac.budget-exceeded"
        problem = Problem(rule, path, _line_of_message(message, line_map), message)
        as_json = (_json_documents(text, budget) if rule == "iac.parse-error"
                   and text.lstrip().startswith(("{", "[")) else None)
        if as_json is None:
            return [], [problem]
        docs = as_json
    except RecursionError:
        return [], [Problem("iac.parse-error", path, None,
                            f"{label}: YAML nested too deeply to parse")]
    out: list[K8sObject] = []
    problems: list[Problem] = []
    for doc in docs:
        data = doc.data
        if looks_like_object(data) and data.get("kind") == "List" and isinstance(
                data.get("items"), list):
            items = data["items"]
            if len(items) > MAX_LIST_ITEMS:
                problems.append(Problem("iac.budget-exceeded", path, doc.first_line,
                                        f"{label}: a List of {len(items)} items: only the first "
                                        f"{MAX_LIST_ITEMS} were checked"))
                items = items[:MAX_LIST_ITEMS]
            starts = [doc.lines.get(("items", i)) for i in range(len(items))]
            ends: list[int | None] = [None] * len(items)
            following = doc.last_line
            for i in range(len(items) - 1, -1, -1):
                ends[i] = following
                start = starts[i]
                if start is not None:
                    following = start - 1
            per_item: dict[int, dict[Loc, int]] = {}
            for loc, line_no in doc.lines.items():  # one pass: each item keeps its own lines
                if len(loc) > 1 and loc[0] == "items" and isinstance(loc[1], int):
                    per_item.setdefault(loc[1], {})[loc] = line_no
            for i, item in enumerate(items):
                if looks_like_object(item):
                    out.append(K8sObject(item, path, per_item.get(i, {}), ("items", i),
                                         starts[i] or doc.first_line, ends[i], line_map,
                                         origin, engine))
        elif looks_like_object(data):
            out.append(K8sObject(data, path, doc.lines, (), doc.first_line, doc.last_line,
                                 line_map, origin, engine))
    return out, problems


def _json_documents(text: str, budget: Budget) -> list[YamlDocument] | None:
    """``text`` as one JSON document (no key lines), within the depth and node bounds."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > budget.max_depth or nodes > budget.max_nodes:
            return None
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return [YamlDocument(data, {}, 1, max(1, text.rstrip().count("\n") + 1))]


def _line_of_message(message: str, line_map: Sequence[int] | None) -> int | None:
    marker = ": line "
    at = message.find(marker)
    if at < 0:
        return None
    digits = ""
    for ch in message[at + len(marker):]:
        if not ch.isdigit():
            break
        digits += ch
    if not digits:
        return None
    line = int(digits)
    if line_map is not None:
        return line_map[line - 1] or None if 1 <= line <= len(line_map) else None
    return line


def remaining_seconds(budget: Budget, most: float) -> float:
    """Seconds a tool may run: what is left of the scan's time budget, at most ``most`` (and at
    least one)."""
    left = budget.max_seconds - (time.monotonic() - budget.started)
    return max(1.0, min(most, left))


def read_text(file_path: Path, rel: str, budget: Budget) -> tuple[str | None, Problem | None]:
    """The text of a file (bounded, regular files only), or the problem reading it."""
    try:
        raw = read_regular_file(file_path, budget.max_file_bytes, rel)
    except ConfigError as exc:
        message = str(exc)
        rule = "iac.too-large" if "too large" in message else "iac.parse-error"
        return None, Problem(rule, rel, None, message)
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        return None, Problem("iac.parse-error", rel, None,
                             f"{rel}: not UTF-8 text (byte {exc.start})")


def read_objects(file_path: Path, rel: str,
                 budget: Budget) -> tuple[list[K8sObject], list[Problem], bool]:
    """The objects of one manifest file, the problems met, and whether it was read whole."""
    text, problem = read_text(file_path, rel, budget)
    if text is None:
        return [], [problem] if problem else [], False
    objects, problems = objects_of_text(text, rel, budget)
    return objects, problems, not problems
