"""Reading and writing configuration files: one bounded reader, one YAML loader, one writer.

Every file secpipe reads as configuration (``secpipe.yaml``, ``.secpipe-suppressions.yaml``, a
baseline) goes through :func:`read_regular_file`: opened once without blocking, checked on the open
descriptor to be a regular file (a folder, FIFO or device is refused before a byte is read), and
read up to its byte limit plus one, so nothing can stream forever.

:func:`parse_yaml` keeps ``yaml.safe_load``'s constructors (plain data, never objects) and refuses
what ``safe_load`` lets through:

- a duplicated mapping key (``safe_load`` keeps the last one silently), naming both lines;
- nesting deeper than :data:`MAX_DEPTH`, aliases included (``safe_load`` recurses until Python's
  stack gives out);
- more than :data:`MAX_NODES` nodes once aliases are expanded (billion laughs), and an alias to a
  node that contains it;
- a scalar its constructor cannot build (``expires: 2027-13-01``).

Every problem is a one-line :class:`ConfigError` naming the file, the line and the key path. The
document also keeps the line of every key path, so a later validation error can name it too
(:meth:`YamlDocument.line_of`).

:func:`write_text_atomically` replaces a file that secpipe writes (suppressions, a baseline) all at
once: a temporary file beside it, flushed to disk, renamed over it; on any failure the old file is
untouched and the temporary one removed.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from secpipe.core.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_DOCUMENTS", "MAX_NODES", "MAX_YAML_BYTES", "YamlDocument",
           "format_loc", "load_yaml", "parse_yaml", "parse_yaml_documents", "read_regular_file",
           "write_text_atomically"]

MAX_YAML_BYTES = 1 << 20
"""Largest YAML configuration file read (1 MiB)."""
MAX_DEPTH = 64
"""Deepest nesting of collections, counting through aliases."""
MAX_NODES = 250_000
"""Most nodes a document may hold once every alias is expanded."""
MAX_DOCUMENTS = 10_000
"""Most documents :func:`parse_yaml_documents` reads from one stream."""

Loc = tuple[Hashable, ...]
"""A key path: mapping keys and sequence indices from the top of a document."""

_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_READ_CHUNK = 1 << 16
_TYPE_WORDS = {"timestamp": "a date", "int": "an integer", "float": "a number",
               "bool": "a boolean", "binary": "base64 data"}


def format_loc(loc: Loc, most: int = 8) -> str:
    """``("policy", "max", 0)`` as ``policy.max[0]``; a path of more than ``most`` steps keeps
    its first and last few around ``…``."""
    parts = [f"[{part}]" if isinstance(part, int) and not isinstance(part, bool) else str(part)
             for part in loc]
    if len(parts) > most:
        parts = [*parts[: most // 2], "…", *parts[-(most // 2) :]]
    return ".".join(parts).replace(".[", "[").replace(".….", "…").replace(".…", "…")


_FILE_TYPES = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a named pipe (FIFO)",
               stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
               stat.S_IFSOCK: "a socket"}


def _describe(mode: int) -> str:
    return _FILE_TYPES.get(stat.S_IFMT(mode), "a special file")


def _size_text(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 and size % (1 << 20) == 0 else f"{size} bytes"


def read_regular_file(path: Path, max_bytes: int, name: str | None = None) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``max_bytes``.

    ``name`` is how diagnostics call the file (default: the path). The file is opened once with
    ``O_NONBLOCK`` (so a FIFO cannot block the open) and checked with ``fstat`` on that descriptor
    before any read; at most ``max_bytes + 1`` bytes are ever read."""
    label = name or str(path)
    try:
        mode = os.stat(path).st_mode  # refuse a device without even opening it
    except FileNotFoundError:
        mode = stat.S_IFREG  # a dangling symlink or a race: the open below says which
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{label}: is {_describe(mode)}, not a regular file")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ConfigError(f"{label}: cannot open: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{label}: is {_describe(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise ConfigError(f"{label}: {info.st_size} bytes is too large "
                              f"(max {_size_text(max_bytes)})")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, _READ_CHUNK))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if left <= 0:
        raise ConfigError(f"{label}: too large (max {_size_text(max_bytes)})")
    return b"".join(chunks)


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file."""

    data: Any
    """Plain data: dicts, lists, str, int, float, bool, None, dates."""
    lines: Mapping[Loc, int]
    """The 1-based line of each key path written in the file (an alias's insides have none)."""
    first_line: int | None = None
    """First line of the document's content (set by :func:`parse_yaml_documents`)."""
    last_line: int | None = None
    """Last line of the document's content (set by :func:`parse_yaml_documents`)."""

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc``, else of its nearest written parent (``None``: nothing known)."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


def _base_loader() -> type[yaml.SafeLoader]:
    """libyaml's C scanner and parser (several times faster than PyYAML's own) under PyYAML's
    Python composer, so every node still passes through :meth:`_Loader.compose_node` and its
    bounds, with ``safe_load``'s constructors and resolver; PyYAML's pure-Python loader when
    PyYAML was built without libyaml."""
    try:
        from yaml._yaml import CParser
    except ImportError:
        return yaml.SafeLoader

    class Fast(Composer, CParser, SafeConstructor, Resolver):
        def __init__(self, text: bytes | str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    return Fast  # type: ignore[return-value]


if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:
    _Base = _base_loader()


class _Loader(_Base):
    """``SafeLoader`` with bounds, duplicate keys refused and scalars built as they are read."""

    def __init__(self, text: bytes | str, name: str, max_depth: int = MAX_DEPTH,
                 max_nodes: int = MAX_NODES) -> None:
        super().__init__(text)
        self.name = name
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.lines: dict[Loc, int] = {}
        self._path: list[Hashable] = []
        self._depth = 0
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

    def _fail(self, mark: Any, problem: str, loc: Loc | None = None) -> NoReturn:
        where = f" line {mark.line + 1}:" if mark is not None else ""
        path = format_loc(tuple(self._path) if loc is None else loc)
        problem = " ".join(problem.split("\n"))[:300]
        raise ConfigError(f"{self.name}:{where} {path + ': ' if path else ''}{problem}")

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        step = self._step(parent, index)
        self._depth += 1
        if step is not None:
            self._path.append(step)
        try:
            if self._depth > self.max_depth:
                self._fail(event.start_mark, f"nested deeper than {self.max_depth} levels")
            if step is not None:
                mark = index.start_mark if isinstance(index, Node) else event.start_mark
                self.lines.setdefault(tuple(self._path), mark.line + 1)
            node = super().compose_node(parent, index)
            if node is None:
                self._fail(event.start_mark, "expected a node")
            if isinstance(event, AliasEvent):
                self._measure_alias(node, event.start_mark)
            else:
                self._measure(node)
                if isinstance(node, ScalarNode):
                    self._build_scalar(node)
                elif isinstance(node, MappingNode):
                    self._refuse_duplicates(node)
            return node
        finally:
            self._depth -= 1
            if step is not None:
                self._path.pop()

    def _step(self, parent: Node | None, index: Any) -> Hashable | None:
        """The key path step of a node composed under ``parent`` (``None``: a root or a key)."""
        if isinstance(parent, SequenceNode):
            return int(index)
        if isinstance(parent, MappingNode) and isinstance(index, ScalarNode):
            key = self.constructed_objects.get(index, index.value)
            return key if isinstance(key, Hashable) else str(index.value)
        if isinstance(parent, MappingNode) and isinstance(index, Node):
            return "?"  # a complex key: the constructor refuses it
        return None

    def _measure(self, node: Node) -> None:
        size, height = 1, 1
        if isinstance(node, SequenceNode | MappingNode):
            children: list[Node] = (node.value if isinstance(node, SequenceNode)
                                    else [part for pair in node.value for part in pair])
            for child in children:
                child_size, child_height = self._measured[id(child)]
                size += child_size
                height = max(height, child_height + 1)
        if size > self.max_nodes:
            self._fail(node.start_mark,
                       f"more than {self.max_nodes} nodes once aliases are expanded")
        self._measured[id(node)] = (size, height)

    def _measure_alias(self, node: Node, mark: Any) -> None:
        measured = self._measured.get(id(node))
        if measured is None:
            self._fail(mark, "an alias refers to a node that contains it")
        if self._depth + measured[1] - 1 > self.max_depth:
            self._fail(mark, f"nested deeper than {self.max_depth} levels (through an alias)")

    def _build_scalar(self, node: ScalarNode) -> None:
        """Construct a scalar now, while its key path is known, so a bad one names it."""
        if node.tag in (_MERGE, _VALUE):
            return  # markers the mapping constructor consumes, not values
        try:
            self.construct_object(node)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's constructors raise what they meet (ValueError, …)
            kind = node.tag.rsplit(":", 1)[-1]
            what = _TYPE_WORDS.get(kind, f"'{kind}'")
            self._fail(node.start_mark, f"cannot read {str(node.value)[:40]!r} as {what}: {exc}")

    def _refuse_duplicates(self, node: MappingNode) -> None:
        first: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key = ("<<",) if key_node.tag == _MERGE else self.constructed_objects.get(
                key_node, key_node.value)
            if not isinstance(key, Hashable):
                continue
            line = key_node.start_mark.line + 1
            if key in first:
                self._fail(key_node.start_mark,
                           f"duplicate key, first defined on line {first[key]} (a second "
                           "definition would silently replace the first)",
                           (*self._path, str(key_node.value) if isinstance(key, tuple) else key))
            first[key] = line


def parse_yaml(text: bytes | str, name: str) -> YamlDocument:
    """Parse one YAML document with ``safe_load`` semantics and the bounds above; every problem
    is a one-line :class:`ConfigError` starting with ``name``."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text, name)
        return YamlDocument(data=loader.get_single_data(), lines=loader.lines)
    except ConfigError:
        raise
    except Exception as exc:
        _reraise(exc, name)
    finally:
        if loader is not None:
            loader.dispose()


def parse_yaml_documents(text: bytes | str, name: str, *, max_documents: int = MAX_DOCUMENTS,
                         max_depth: int = MAX_DEPTH,
                         max_nodes: int = MAX_NODES) -> list[YamlDocument]:
    """Parse a multi-document YAML stream (``---`` separated) with the bounds of
    :func:`parse_yaml`, the node bound applied to the whole stream and at most ``max_documents``
    documents. Each document's :attr:`YamlDocument.lines` are key paths from its own root, and its
    :attr:`~YamlDocument.first_line`/:attr:`~YamlDocument.last_line` say where it lies in the
    stream. An empty or null document (``---`` with nothing after it) is left out. Every problem
    is a one-line :class:`ConfigError` starting with ``name``."""
    loader: _Loader | None = None
    out: list[YamlDocument] = []
    total = 0
    try:
        loader = _Loader(text, name, max_depth=max_depth, max_nodes=max_nodes)
        while loader.check_node():
            if len(out) >= max_documents:
                raise ConfigError(f"{name}: more than {max_documents} YAML documents")
            loader.lines = {}
            loader._measured = {}  # anchors do not cross documents; ids may be reused
            node = loader.get_node()
            if node is None:
                continue
            total += loader._measured[id(node)][0]
            if total > max_nodes:
                raise ConfigError(f"{name}: line {node.start_mark.line + 1}: more than "
                                  f"{max_nodes} nodes in the whole stream")
            data = loader.construct_document(node)
            if data is None:
                continue
            end = node.end_mark
            last = end.line + 1 if end.column > 0 or end.line == node.start_mark.line else end.line
            out.append(YamlDocument(data=data, lines=loader.lines,
                                    first_line=node.start_mark.line + 1, last_line=max(
                                        last, node.start_mark.line + 1)))
        return out
    except ConfigError:
        raise
    except Exception as exc:
        _reraise(exc, name, max_depth)
    finally:
        if loader is not None:
            loader.dispose()


def _reraise(exc: Exception, name: str, max_depth: int = MAX_DEPTH) -> NoReturn:
    """A PyYAML or constructor failure as a one-line :class:`ConfigError`."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}:" if mark is not None else ""
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own bound (1,000 levels)
            raise ConfigError(f"{name}:{where} nested deeper than {max_depth} levels") from None
        context = exc.context
        if context and exc.context_mark and mark and exc.context_mark.line != mark.line:
            context += f" on line {exc.context_mark.line + 1}"
        problem = ": ".join(part for part in (context, exc.problem) if part)
        problem = problem or str(exc).splitlines()[0]
        raise ConfigError(f"{name}:{where} malformed YAML: {problem}") from None
    if isinstance(exc, yaml.YAMLError):
        raise ConfigError(f"{name}: malformed YAML: {str(exc).splitlines()[0]}") from None
    # a constructor's own failure: still the file's fault, not ours
    problem = " ".join(str(exc).split("\n"))[:300]
    raise ConfigError(f"{name}: malformed YAML: {type(exc).__name__}: {problem}") from None


def load_yaml(path: Path, name: str | None = None,
              max_bytes: int = MAX_YAML_BYTES) -> YamlDocument:
    """Read ``path`` with :func:`read_regular_file` and parse it with :func:`parse_yaml`."""
    label = name or str(path)
    return parse_yaml(read_regular_file(path, max_bytes, label), label)


def write_text_atomically(path: Path, text: str, name: str | None = None) -> None:
    """Replace ``path`` with ``text`` whole (the file keeps its permissions; a new one is 0644).
    A failure is a one-line :class:`ConfigError`; the old file is then as it was."""
    label = name or str(path)
    tmp: str | None = None
    path = Path(os.path.realpath(path))  # through a symbolic link its target is replaced
    try:
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{label}: {_describe(st.st_mode)}, not a regular file; "
                                  "not replacing it")
            mode = stat.S_IMODE(st.st_mode)
        except FileNotFoundError:
            mode = 0o644
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot write: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
