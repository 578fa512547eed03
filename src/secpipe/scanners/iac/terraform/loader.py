"""Terraform files -> :class:`TfModel` objects -> rule hits (the entry point of ``scan-iac``).

Every folder holding ``.tf``/``.tf.json`` files is a module; a folder no other scanned folder
calls through a local ``source`` is a root, and each root becomes one :class:`TfModel` holding
its resources and those of the local modules it calls (addresses prefixed ``module.NAME.``).
Variables take their default, then ``terraform.tfvars``, ``terraform.tfvars.json`` and
``*.auto.tfvars(.json)`` of the root folder, then the user's var files (the later wins). Values
are computed by :mod:`.expr`; a Terraform plan JSON file is read by :mod:`.plan` into a model of
its own.

Nothing is executed. Besides the scanned files, only var files the user names and files the
configuration reads with ``file()``/``templatefile()`` are read, and only inside the project
(regular files, size-bounded). Every bound (file size, nesting, module depth, the scan's time
budget, evaluation steps) that is hit becomes a :class:`Problem`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secpipe.core.errors import SecpipeError
from secpipe.core.safeload import read_regular_file
from secpipe.scanners.iac.model import (
    Analysis,
    Budget,
    IacFile,
    IacHit,
    IacResource,
    IacRule,
    Problem,
    Unresolved,
    rule_table,
)
from secpipe.scanners.iac.terraform import rules_aws, rules_azure, rules_gcp
from secpipe.scanners.iac.terraform.expr import MAX_ITEMS, Context, Evaluator
from secpipe.scanners.iac.terraform.hclparse import (
    PARSER_VERSION,
    JsonTooDeep,
    ParsedFile,
    load_json_bounded,
    parse_hcl,
    parse_tf_json,
    parse_tfvars_json,
)
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource
from secpipe.scanners.iac.terraform.plan import load_plan

Check = Callable[[TfModel], Iterable[IacHit | Problem]]

RULES: dict[str, IacRule] = rule_table(
    [*rules_aws.RULES.values(), *rules_azure.RULES.values(), *rules_gcp.RULES.values()])
"""Every Terraform rule, by id (a duplicated id is refused)."""

STRICT_CHECKS: bool | None = None
"""A check that raises: re-raised when True, a problem when False; None (the default) means
re-raise under pytest (so rule bugs show in tests) and record a problem otherwise."""

MAX_EVAL_STEPS = 1_000_000
"""Expression evaluation steps per model before the rest is left unresolved."""
MAX_LOCAL_DEPTH = 24
"""Deepest chain of locals/module outputs resolved through one another."""
MAX_INSTANCES = 1_000
"""Most instances one ``count``/``for_each`` expands to (the rest is cut, with a problem)."""
MAX_READ_BYTES = 1 << 20
"""Largest file a ``file()``/``templatefile()`` call reads."""
MAX_READS = 200
"""Most files read by ``file()``/``templatefile()`` per model."""
MAX_CACHE_ENTRY = 4 << 20
MAX_CACHE_ENTRIES = 20_000
MAX_CACHE_BYTES = 512 << 20
_META_ARGS = frozenset({"count", "for_each", "depends_on"})
_MODULE_META = frozenset({"source", "version", "count", "for_each", "providers",
                          "depends_on"})


def _checks() -> list[Check]:
    return [*rules_aws.CHECKS, *rules_azure.CHECKS, *rules_gcp.CHECKS]


# -- reading and parsing -------------------------------------------------------------------

def _kind_of(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1].lower()
    if name.endswith(".tf.json"):
        return "tf.json"
    if name.endswith(".tf"):
        return "tf"
    if name.endswith(".tfvars.json"):
        return "tfvars.json"
    if name.endswith(".tfvars"):
        return "tfvars"
    return "json"


class _Cache:
    """Parsed (unevaluated) syntax keyed by content hash: one JSON file per entry, written
    atomically; a corrupt entry is ignored and rewritten."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self._prune(folder)
            except OSError:
                self.folder = None

    @staticmethod
    def _prune(folder: Path) -> None:
        """Past :data:`MAX_CACHE_ENTRIES` entries or :data:`MAX_CACHE_BYTES`, the oldest
        entries go until three quarters of both bounds are left."""
        entries: list[tuple[float, int, Path]] = []
        for sub in folder.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                for entry in sub.glob("*.json"):
                    with contextlib.suppress(OSError):
                        info = entry.stat()
                        entries.append((info.st_mtime, info.st_size, entry))
        total = sum(size for _, size, _ in entries)
        if len(entries) <= MAX_CACHE_ENTRIES and total <= MAX_CACHE_BYTES:
            return
        entries.sort()
        count = len(entries)
        for _, size, entry in entries:
            if count <= MAX_CACHE_ENTRIES * 3 // 4 and total <= MAX_CACHE_BYTES * 3 // 4:
                break
            with contextlib.suppress(OSError):
                entry.unlink()
            count -= 1
            total -= size

    def key(self, kind: str, max_depth: int, data: bytes) -> str:
        digest = hashlib.sha256(f"{PARSER_VERSION}:{kind}:{max_depth}:".encode())
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str) -> ParsedFile | None:
        if self.folder is None:
            return None
        path = self.folder / key[:2] / f"{key}.json"
        try:
            raw = read_regular_file(path, MAX_CACHE_ENTRY)
            return ParsedFile.from_json(json.loads(raw))
        except (SecpipeError, OSError, ValueError, RecursionError):
            return None

    def put(self, key: str, parsed: ParsedFile) -> None:
        if self.folder is None:
            return
        try:
            text = json.dumps(parsed.to_json(), separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            return
        if len(text) > MAX_CACHE_ENTRY:
            return
        sub = self.folder / key[:2]
        tmp = sub / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            sub.mkdir(exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, sub / f"{key}.json")
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _parse(kind: str, data: bytes, budget: Budget) -> ParsedFile:
    if kind in ("tf", "tfvars"):
        return parse_hcl(data, budget.max_depth)
    try:
        doc = load_json_bounded(data, budget.max_depth, budget.max_nodes)
    except JsonTooDeep as exc:
        return ParsedFile(errors=[(None, str(exc))])
    except (UnicodeDecodeError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        return ParsedFile(errors=[(line, f"invalid JSON: {str(exc).split(':')[0]}")])
    if kind == "tf.json":
        return parse_tf_json(doc, budget.max_depth)
    return parse_tfvars_json(doc, budget.max_depth)


@dataclass
class _Loaded:
    file: IacFile
    kind: str
    parsed: ParsedFile


def _read(file: IacFile, budget: Budget, problems: list[Problem]) -> bytes | None:
    if file.size > budget.max_file_bytes:
        problems.append(Problem("iac.too-large", file.rel, None,
                                f"{file.rel}: {file.size} bytes exceeds the budget of "
                                f"{budget.max_file_bytes} bytes; not analysed"))
        return None
    try:
        return read_regular_file(Path(file.path), budget.max_file_bytes, file.rel)
    except SecpipeError as exc:
        rule = "iac.too-large" if "too large" in str(exc) else "iac.parse-error"
        problems.append(Problem(rule, file.rel, None, f"{exc}; not analysed"))
        return None


# -- module folders ------------------------------------------------------------------------

@dataclass
class _Block:
    kind: str
    labels: list[str]
    body: dict[str, Any]
    line: int | None
    end_line: int | None
    path: str


@dataclass
class _Folder:
    """What one module folder declares (unevaluated)."""

    path: str
    variables: dict[str, _Block] = field(default_factory=dict)
    locals: dict[str, tuple[Any, str, int | None]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    modules: list[_Block] = field(default_factory=list)
    resources: list[_Block] = field(default_factory=list)
    providers: list[_Block] = field(default_factory=list)
    calls: dict[str, str] = field(default_factory=dict)
    """Module call name -> target folder, for local sources found among the scanned."""

    def add(self, rel: str, body: dict[str, Any], override: bool = False) -> None:
        for kind, labels, inner, line, end in body.get("b", []):
            block = _Block(kind, list(labels), inner, line, end, rel)
            if override and self._override(block):
                continue
            if kind == "variable" and labels:
                self.variables[labels[0]] = block
            elif kind == "locals":
                for name, node, aline in inner.get("a", []):
                    self.locals[name] = (node, rel, aline)
            elif kind == "output" and labels:
                value = next((n for a, n, _ in inner.get("a", []) if a == "value"), None)
                if value is not None:
                    self.outputs[labels[0]] = value
            elif kind == "module" and labels:
                self.modules.append(block)
            elif kind in ("resource", "data") and len(labels) >= 2:
                self.resources.append(block)
            elif kind == "provider" and labels:
                self.providers.append(block)

    def _override(self, block: _Block) -> bool:
        """Merge a block of an override file into the block it overrides (Terraform's
        override files); False when there is none (then it is an ordinary block)."""
        kind, labels = block.kind, block.labels
        if kind == "locals":
            return False  # an override local simply replaces the value of the same name
        if kind == "output" and labels:
            value = _attr(block.body, "value")
            if value is not None and labels[0] in self.outputs:
                self.outputs[labels[0]] = value[0]
                return True
            return False
        target: _Block | None
        if kind == "variable" and labels and labels[0] in self.variables:
            target = self.variables[labels[0]]
        else:
            pool = {"module": self.modules, "resource": self.resources, "data": self.resources,
                    "provider": self.providers}.get(kind, [])
            target = next((b for b in pool if b.kind == kind and b.labels == labels), None)
            if target is None:
                return False
        target.body = _merge_bodies(target.body, block.body)
        return True


def _without_lines(body: dict[str, Any]) -> dict[str, Any]:
    """A body from an override file keeps no lines (they would point into the wrong file)."""
    return {"a": [[name, node, None] for name, node, _ in body.get("a", [])],
            "b": [[kind, labels, _without_lines(inner), None, None]
                  for kind, labels, inner, _, _ in body.get("b", [])]}


def _merge_bodies(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Override semantics: an attribute replaces the same-named one; nested blocks of a type
    the override writes replace all blocks of that type."""
    over = _without_lines(over)
    names = {a[0] for a in over["a"]}
    kinds = {b[0] for b in over["b"]}
    attrs = [a for a in base.get("a", []) if a[0] not in names] + over["a"]
    blocks = [b for b in base.get("b", []) if b[0] not in kinds] + over["b"]
    return {"a": attrs, "b": blocks}


def _is_override(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    stem = name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


def _attr(body: dict[str, Any], name: str) -> tuple[Any, int | None] | None:
    for a, node, line in body.get("a", []):
        if a == name:
            return node, line
    return None


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _show_source(source: str) -> str:
    """A module source for a message: credentials and query strings (tokens) left out."""
    shown = _USERINFO.sub("***@", source.split("?", 1)[0])
    return shown if len(shown) <= 200 else shown[:199] + "…"


def _is_local_source(source: str) -> bool:
    return source.startswith(("./", "../")) or source in (".", "..")


# -- evaluation ----------------------------------------------------------------------------

@dataclass
class _Shared:
    """State of one model being built."""

    folders: dict[str, _Folder]
    budget: Budget
    problems: list[Problem]
    reported: set[tuple[str, str, int | None]]
    steps: list[int] = field(default_factory=lambda: [0])
    local_depth: int = 0
    model: TfModel = field(default_factory=TfModel)

    root: Path = field(default_factory=lambda: Path("."))
    files_read: dict[str, str | Unresolved] = field(default_factory=dict)

    def read_file(self, rel: str) -> str | Unresolved:
        """A file the configuration reads with file()/templatefile(): only a regular file
        inside the project, at most :data:`MAX_READ_BYTES`, at most :data:`MAX_READS` per
        model."""
        rel = posixpath.normpath(rel.replace("\\", "/"))
        if rel in self.files_read:
            return self.files_read[rel]
        result: str | Unresolved
        if len(self.files_read) >= MAX_READS:
            return Unresolved(rel, f"more than {MAX_READS} files read by one configuration")
        real_root = Path(os.path.realpath(self.root))
        target = Path(os.path.realpath(self.root / rel))
        if rel.startswith("/") or rel.startswith("../") or \
                not target.is_relative_to(real_root):
            result = Unresolved(rel, "file outside the project is not read")
        else:
            try:
                data = read_regular_file(target, MAX_READ_BYTES, rel)
                result = data.decode("utf-8")
            except SecpipeError as exc:
                result = Unresolved(rel, f"file not read: {str(exc).split(': ', 1)[-1]}")
            except UnicodeDecodeError:
                result = Unresolved(rel, "file is not UTF-8 text")
        self.files_read[rel] = result
        return result

    def problem(self, rule: str, path: str, line: int | None, message: str) -> None:
        key = (rule, path, line)
        if key not in self.reported:
            self.reported.add(key)
            self.problems.append(Problem(rule, path, line, message))


class _Instance(Context):
    """One instance of a module: its variables, locals and child modules."""

    def __init__(self, shared: _Shared, folder: _Folder, prefix: str,
                 values: dict[str, Any], missing_reason: str, chain: tuple[str, ...],
                 root_path: str) -> None:
        self.shared = shared
        self.folder = folder
        self.prefix = prefix
        # like Terraform, path.module is relative to the root module's folder (the working
        # directory), and so are the paths file() reads
        self.module_path = posixpath.relpath(folder.path, root_path)
        self.root_path = "."
        self.root_folder = root_path
        self.chain = chain
        self.ev = Evaluator(self, shared.steps, MAX_EVAL_STEPS)
        self.values: dict[str, Any] = {}
        self.local_values: dict[str, Any] = {}
        self.active: set[str] = set()
        self.children: dict[str, list[_Instance] | None] = {}
        empty = Evaluator(Context(), shared.steps, MAX_EVAL_STEPS)
        for name, block in folder.variables.items():
            if name in values:
                self.values[name] = values[name]
                continue
            default = _attr(block.body, "default")
            if default is not None:
                self.values[name] = _safe_eval(empty, default[0], {})
            else:
                self.values[name] = Unresolved(f"var.{name}", missing_reason)

    # Context
    def var(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        return Unresolved(f"var.{name}", "variable not declared")

    def local(self, name: str) -> Any:
        if name in self.local_values:
            return self.local_values[name]
        entry = self.folder.locals.get(name)
        if entry is None:
            return Unresolved(f"local.{name}", "local value not declared")
        if name in self.active:
            return Unresolved(f"local.{name}", "refers to itself (a cycle of locals)")
        if self.shared.local_depth >= MAX_LOCAL_DEPTH:
            return Unresolved(f"local.{name}", "chain of locals too deep")
        self.active.add(name)
        self.shared.local_depth += 1
        try:
            value = _safe_eval(self.ev, entry[0], {})
        finally:
            self.shared.local_depth -= 1
            self.active.discard(name)
        self.local_values[name] = value
        return value

    def read_file(self, path: str) -> str | Unresolved:
        return self.shared.read_file(posixpath.join(self.root_folder, path))

    def module_output(self, call: str, output: str, text: str, key: Any = None) -> Any:
        instances = self.child(call)
        if instances is None:
            return Unresolved(text, "module not analysed")
        if key is None:
            wanted = f"{self.prefix}module.{call}."
        else:
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            label = json.dumps(key, ensure_ascii=False) if isinstance(key, str) else str(key)
            wanted = f"{self.prefix}module.{call}[{label}]."
        found = [i for i in instances if i.prefix == wanted]
        if len(found) != 1 or output not in found[0].folder.outputs:
            return Unresolved(text, "module output not known statically")
        child = found[0]
        key = f"\x00output.{output}"
        if key in child.active or self.shared.local_depth >= MAX_LOCAL_DEPTH:
            return Unresolved(text, "module outputs refer to each other")
        child.active.add(key)
        self.shared.local_depth += 1
        try:
            return _safe_eval(child.ev, child.folder.outputs[output], {})
        finally:
            self.shared.local_depth -= 1
            child.active.discard(key)

    # module calls
    def child(self, call: str) -> list[_Instance] | None:
        if call in self.children:
            return self.children[call]
        self.children[call] = None  # while being built: a self-reference sees "not analysed"
        block = next((b for b in self.folder.modules if b.labels[0] == call), None)
        target = self.folder.calls.get(call)
        if block is None or target is None:
            return None
        shared = self.shared
        if target in self.chain:
            shared.problem("iac.module-unavailable", block.path, block.line,
                           f"module.{call}: module call loop through {target} "
                           f"({' -> '.join(self.chain)}); cut here")
            return None
        if len(self.chain) > shared.budget.max_module_depth:
            shared.problem("iac.budget-exceeded", block.path, block.line,
                           f"module.{call}: local modules nested deeper than "
                           f"{shared.budget.max_module_depth} levels; not followed")
            return None
        out: list[_Instance] = []
        for suffix, env in self._instances(block, f"module.{call}"):
            values: dict[str, Any] = {}
            for name, node, _ in block.body.get("a", []):
                if name not in _MODULE_META:
                    values[name] = _safe_eval(self.ev, node, env)
            out.append(_Instance(shared, shared.folders[target],
                                 f"{self.prefix}module.{call}{suffix}.", values,
                                 "no default and no value from the module call",
                                 (*self.chain, target), self.root_folder))
        self.children[call] = out
        return out

    def _instances(self, block: _Block, what: str) -> list[tuple[str, dict[str, Any]]]:
        """(address suffix, env) of every instance ``count``/``for_each`` gives."""
        count = _attr(block.body, "count")
        for_each = _attr(block.body, "for_each")
        if count is not None:
            value = _safe_eval(self.ev, count[0], {})
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                return [("[?]", {"count": {"index": Unresolved(
                    "count.index", f"count of {what} not known")}})]
            if value > MAX_INSTANCES:
                self.shared.problem("iac.budget-exceeded", block.path, count[1],
                                    f"{what}: count {value} expanded to the first "
                                    f"{MAX_INSTANCES} instances only")
                value = MAX_INSTANCES
            return [(f"[{i}]", {"count": {"index": i}}) for i in range(max(value, 0))]
        if for_each is not None:
            value = _safe_eval(self.ev, for_each[0], {})
            pairs: list[tuple[str, Any]] | None = None
            if isinstance(value, dict):
                pairs = [(k, value[k]) for k in sorted(value)]
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                pairs = [(v, v) for v in sorted(set(value))]
            if pairs is None:
                reason = f"for_each of {what} not known"
                return [("[?]", {"each": {"key": Unresolved("each.key", reason),
                                          "value": Unresolved("each.value", reason)}})]
            if len(pairs) > MAX_INSTANCES:
                self.shared.problem("iac.budget-exceeded", block.path, for_each[1],
                                    f"{what}: for_each expanded to the first "
                                    f"{MAX_INSTANCES} instances only")
                pairs = pairs[:MAX_INSTANCES]
            return [(f"[{json.dumps(k, ensure_ascii=False)}]", {"each": {"key": k, "value": v}})
                    for k, v in pairs]
        return [("", {})]

    # building
    def build(self) -> None:
        model = self.shared.model
        for block in self.folder.providers:
            model.providers.append((block.labels[0], block.path,
                                    self.block(block.body, {}, block.line, block.end_line)))
        for block in self.folder.resources:
            if self.shared.budget.spent():
                self.shared.problem("iac.budget-exceeded", block.path, block.line,
                                    "time budget spent before every resource was analysed")
                return
            rtype, name = block.labels[0], block.labels[1]
            base = f"{'data.' if block.kind == 'data' else ''}{rtype}.{name}"
            for suffix, env in self._instances(block, f"{self.prefix}{base}"):
                body = self.block(block.body, env, block.line, block.end_line, top=True)
                model.resources.append(TfResource(
                    mode="data" if block.kind == "data" else "resource", type=rtype,
                    name=name, address=f"{self.prefix}{base}{suffix}",
                    module=self.prefix[:-1], path=block.path, body=body,
                    base_address=f"{self.prefix}{base}"))
        for block in self.folder.modules:
            for child in self.child(block.labels[0]) or []:
                child.build()

    def block(self, body: dict[str, Any], env: dict[str, Any], line: int | None,
              end_line: int | None, top: bool = False) -> TfBlock:
        out = TfBlock({}, line, end_line)
        for name, node, aline in body.get("a", []):
            if top and name in _META_ARGS:
                continue
            value = _safe_eval(self.ev, node, env)
            if value is None:
                continue  # null is "not set" in Terraform
            out.attrs[name] = value
            if aline is not None:
                out.lines[name] = aline
        for kind, labels, inner, bline, bend in body.get("b", []):
            if kind == "dynamic" and labels:
                blocks = self.dynamic(labels[0], inner, env, bline, bend)
                target = labels[0]
            else:
                blocks = [self.block(inner, env, bline, bend)]
                target = kind
            existing = out.attrs.setdefault(target, [])
            if isinstance(existing, list):
                existing.extend(blocks)
            if bline is not None:
                out.lines.setdefault(target, bline)
        return out

    def dynamic(self, label: str, body: dict[str, Any], env: dict[str, Any],
                line: int | None, end_line: int | None) -> list[TfBlock]:
        iterator = label
        it_attr = _attr(body, "iterator")
        node = it_attr[0] if it_attr is not None else None
        if isinstance(node, list) and len(node) == 2 and node[0] == "name":
            iterator = str(node[1])
        content = next((b for b in body.get("b", []) if b[0] == "content"), None)
        if content is None:
            return []
        for_each = _attr(body, "for_each")
        value = _safe_eval(self.ev, for_each[0], env) if for_each is not None else None
        pairs: list[tuple[Any, Any]] | None = None
        if isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            pairs = list(enumerate(value))
        if pairs is None:
            reason = f"for_each of dynamic {label} not known"
            pairs = [(Unresolved(f"{iterator}.key", reason),
                      Unresolved(f"{iterator}.value", reason))]
        out: list[TfBlock] = []
        for k, v in pairs[:MAX_ITEMS]:
            inner = dict(env)
            inner[iterator] = {"key": k, "value": v}
            out.append(self.block(content[2], inner, content[3] or line,
                                  content[4] or end_line))
        return out


def _safe_eval(ev: Evaluator, node: Any, env: dict[str, Any]) -> Any:
    try:
        return ev.eval(node, env)
    except RecursionError:
        return Unresolved("expression", "too deeply nested to evaluate")


# -- load ----------------------------------------------------------------------------------

def load(files: list[IacFile], root: Path, budget: Budget, tfvars: Iterable[str] = (),
         cache_dir: Path | None = None) -> tuple[list[TfModel], list[Problem]]:
    """Parse ``files`` and build one :class:`TfModel` per root module and per plan file."""
    models, problems, _ = _load(files, root, budget, list(tfvars), cache_dir)
    return models, problems


def _load(files: list[IacFile], root: Path, budget: Budget, tfvars: list[str],
          cache_dir: Path | None) -> tuple[list[TfModel], list[Problem], int]:
    problems: list[Problem] = []
    cache = _Cache(cache_dir)
    loaded: list[_Loaded] = []
    plans: list[TfModel] = []
    parsed_ok = 0
    ordered = sorted(files, key=lambda f: f.rel)
    for i, file in enumerate(ordered):
        if budget.spent():
            for rest in ordered[i:]:
                problems.append(Problem("iac.budget-exceeded", rest.rel, None,
                                        f"{rest.rel}: time budget of {budget.max_seconds:g}s "
                                        "spent; not analysed"))
            break
        data = _read(file, budget, problems)
        if data is None:
            continue
        kind = _kind_of(file.rel)
        if kind == "json":
            plan_problems: list[Problem] = []
            model = load_plan(data, file.rel, budget, plan_problems)
            problems.extend(plan_problems)
            if model is not None:
                plans.append(model)
                if not plan_problems:
                    parsed_ok += 1
            continue
        key = cache.key(kind, budget.max_depth, data)
        parsed = cache.get(key)
        if parsed is None:
            parsed = _parse(kind, data, budget)
            cache.put(key, parsed)
        for line, message in parsed.errors:
            where = f" line {line}" if line else ""
            problems.append(Problem("iac.parse-error", file.rel, line,
                                    f"{file.rel}{where}: {message}"))
        if not parsed.errors:
            parsed_ok += 1
        loaded.append(_Loaded(file, kind, parsed))

    folders: dict[str, _Folder] = {}
    var_files: dict[str, _Loaded] = {}
    # override files are merged after every ordinary file of their folder
    for item in sorted(loaded, key=lambda i: _is_override(i.file.rel)):
        where = posixpath.dirname(item.file.rel) or "."
        if item.kind in ("tf", "tf.json"):
            folders.setdefault(where, _Folder(where)).add(
                item.file.rel, item.parsed.body, override=_is_override(item.file.rel))
        else:
            var_files[item.file.rel] = item

    reported: set[tuple[str, str, int | None]] = set()
    called: set[str] = set()
    for module_folder in folders.values():
        _link_calls(module_folder, folders, problems, reported, called)

    roots = [f for f in sorted(folders) if f not in called]
    reach: set[str] = set()

    def mark(start: str) -> None:
        stack = [start]
        while stack:
            cur = stack.pop()
            if cur not in reach:
                reach.add(cur)
                stack.extend(folders[cur].calls.values())

    for r in roots:
        mark(r)
    for f in sorted(folders):  # folders only reachable through a loop of calls
        if f not in reach:
            roots.append(f)
            mark(f)

    user_vars = _user_var_files(tfvars, root, var_files, budget, problems)
    models: list[TfModel] = []
    for folder_path in roots:
        if budget.spent():
            problems.append(Problem("iac.budget-exceeded", folder_path, None,
                                    f"module {folder_path}: time budget spent; not analysed"))
            continue
        shared = _Shared(folders, budget, problems, reported, root=root)
        shared.model.root = folder_path
        values = _root_values(folder_path, var_files, user_vars, shared)
        top = _Instance(shared, folders[folder_path], "", values,
                        "no default and no tfvars value", (folder_path,), folder_path)
        top.build()
        if shared.steps[0] > MAX_EVAL_STEPS:
            shared.problem("iac.budget-exceeded", folder_path, None,
                           f"module {folder_path}: more than {MAX_EVAL_STEPS} expression "
                           "evaluation steps; the rest was left unresolved")
        models.append(shared.model)
    return models + plans, problems, parsed_ok


def _link_calls(folder: _Folder, folders: dict[str, _Folder], problems: list[Problem],
                reported: set[tuple[str, str, int | None]], called: set[str]) -> None:
    for block in folder.modules:
        name = block.labels[0]
        source_attr = _attr(block.body, "source")
        source = source_attr[0] if source_attr is not None else None
        text = source[1] if isinstance(source, list) and len(source) == 2 and \
            source[0] == "lit" else None
        if not isinstance(text, str):
            message = f"module.{name}: source is not a literal string; not analysed"
        elif _is_local_source(text):
            target = posixpath.normpath(posixpath.join(folder.path, text))
            if target in folders and not target.startswith("../") and target != "..":
                folder.calls[name] = target
                if target != folder.path:
                    called.add(target)
                continue
            message = (f"module.{name}: local source {_show_source(text)!r} ({target}) is "
                       "not among the scanned files; not analysed")
        else:
            message = (f"module.{name}: source {_show_source(text)!r} is remote (registry, "
                       "git or URL); its resources are not analysed")
        key = ("iac.module-unavailable", block.path, block.line)
        if key not in reported:
            reported.add(key)
            problems.append(Problem("iac.module-unavailable", block.path, block.line,
                                    message))


def _user_var_files(tfvars: list[str], root: Path, var_files: dict[str, _Loaded],
                    budget: Budget, problems: list[Problem]) -> list[_Loaded]:
    out: list[_Loaded] = []
    real_root = Path(os.path.realpath(root))
    for rel in tfvars:
        rel = rel.replace("\\", "/").removeprefix("./")
        if rel in var_files:
            out.append(var_files[rel])
            continue
        path = Path(os.path.realpath(root / rel))
        if not path.is_relative_to(real_root):
            problems.append(Problem("iac.parse-error", rel, None,
                                    f"var file {rel} is outside the project; not read"))
            continue
        size = path.stat().st_size if path.is_file() else 0
        data = _read(IacFile(str(path), rel, size), budget, problems)
        if data is None:
            continue
        kind = "tfvars.json" if rel.lower().endswith(".json") else "tfvars"
        parsed = _parse(kind, data, budget)
        for line, message in parsed.errors:
            problems.append(Problem("iac.parse-error", rel, line, f"{rel}: {message}"))
        out.append(_Loaded(IacFile(str(path), rel, size), kind, parsed))
    return out


def _root_values(folder: str, var_files: dict[str, _Loaded], user: list[_Loaded],
                 shared: _Shared) -> dict[str, Any]:
    def in_folder(rel: str) -> bool:
        return (posixpath.dirname(rel) or ".") == folder

    def name(rel: str) -> str:
        return rel.rsplit("/", 1)[-1]

    auto = [v for r, v in var_files.items() if in_folder(r)]
    ordered = sorted((v for v in auto if name(v.file.rel) == "terraform.tfvars"),
                     key=lambda v: v.file.rel)
    ordered += [v for v in auto if name(v.file.rel) == "terraform.tfvars.json"]
    ordered += sorted((v for v in auto if name(v.file.rel).endswith(
        (".auto.tfvars", ".auto.tfvars.json"))), key=lambda v: name(v.file.rel))
    ordered += user
    ev = Evaluator(Context(), shared.steps, MAX_EVAL_STEPS)
    values: dict[str, Any] = {}
    for item in ordered:
        for attr, node, _ in item.parsed.body.get("a", []):
            values[attr] = _safe_eval(ev, node, {})
    return values


# -- analyse -------------------------------------------------------------------------------

def to_plain(value: Any, depth: int = 0) -> Any:
    """A TfBlock value as plain data for :class:`IacResource` (blocks become dicts)."""
    if depth > 128:
        return Unresolved("…", "too deep")
    if isinstance(value, TfBlock):
        return {k: to_plain(v, depth + 1) for k, v in value.attrs.items()}
    if isinstance(value, list):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v, depth + 1) for k, v in value.items()}
    return value


def _lines(block: TfBlock, prefix: str, out: dict[str, int], depth: int = 0) -> None:
    if depth > 32:
        return
    for name, line in block.lines.items():
        out.setdefault(prefix + name, line)
    for name, value in block.attrs.items():
        if isinstance(value, list):
            for sub in value:
                if isinstance(sub, TfBlock):
                    _lines(sub, f"{prefix}{name}.", out, depth + 1)


def _strict() -> bool:
    if STRICT_CHECKS is not None:
        return STRICT_CHECKS
    return "PYTEST_CURRENT_TEST" in os.environ


def run_checks(model: TfModel, checks: Iterable[Check], analysis: Analysis) -> None:
    """Every check on ``model``; a check that raises is a bug (see :data:`STRICT_CHECKS`)."""
    for check in checks:
        try:
            for item in check(model):
                if isinstance(item, IacHit):
                    analysis.hits.append(item)
                else:
                    analysis.problems.append(item)
        except Exception as exc:
            if _strict():
                raise
            name = getattr(check, "__name__", "check")
            analysis.problems.append(Problem(
                "iac.unresolved", model.root, None,
                f"rule {name} could not evaluate {model.root}: internal error "
                f"({type(exc).__name__})"))


def analyse(files: list[IacFile], root: Path, budget: Budget, tfvars: Iterable[str] = (),
            cache_dir: Path | None = None) -> Analysis:
    """Load ``files`` (Terraform, var files, plan JSON), run every Terraform check on each
    model and list every managed resource."""
    models, problems, parsed_ok = _load(files, root, budget, list(tfvars), cache_dir)
    analysis = Analysis(problems=problems, files=parsed_ok)
    checks = _checks()
    for model in models:
        run_checks(model, checks, analysis)
        for res in model.resources:
            if res.mode != "resource":
                continue
            lines: dict[str, int] = {}
            _lines(res.body, "", lines)
            analysis.resources.append(IacResource(
                framework="terraform", type=res.type, name=res.address, path=res.path,
                line=res.body.line, attrs=to_plain(res.body), end_line=res.body.end_line,
                lines=lines))
    return analysis


__all__ = ["RULES", "STRICT_CHECKS", "analyse", "load", "run_checks", "to_plain"]
