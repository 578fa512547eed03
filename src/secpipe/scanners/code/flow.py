"""Intra-procedural taint tracking on a Python AST, for the ML/LLM rule pack.

The analysis never imports or runs what it reads. It walks each scope (the module top level,
each class body, each function) once, in statement order, keeping an environment that maps a
local name (or a dotted ``self.x`` name) to its *taint*: the set of :class:`Source` values it may
carry (a download, a web request, the command line, the environment, an LLM's output …) plus
*object markers* saying what built it (``obj`` with the constructor's qualified name, ``llmobj``
for an LLM client, pipeline or chain). Loop bodies are walked twice so loop-carried values
settle. Functions start from the module's final environment (globals) plus their parameters
(parameters of web routes, ``request`` and ``UploadFile``/``Request`` parameters are request
sources); the methods of a class also see what any of its methods stored in ``self.x``. A
pre-pass marks the literal paths that downloads write to (``urlretrieve(url, "m.pkl")``,
``download_file(..., "m.pkl")``, ``os.system("wget … -O m.pkl")``) so a later load of that
path is a load of downloaded data.

Names are resolved through the imports of the file (``import torch as t``,
``from pickle import loads as l``, ``jl = joblib.load``), so ``from torch import load;
load(p)`` is ``torch.load`` while a user's own ``def load()`` resolves to nothing.

Every call met is reported to a callback as a :class:`CallSite`, from which rules read the
qualified name, the keywords and the taint of any argument. Work is bounded: a cap on the
expressions evaluated per scope and on the nesting depth; hitting one is reported in
:attr:`FlowResult.incomplete`, never silently dropped.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field

from secpipe.core import pyast

#: Most expression evaluations in one scope before the analysis of that scope stops.
MAX_STEPS_PER_SCOPE = 200_000
#: Most expression evaluations in one file, all scopes together.
MAX_STEPS_PER_FILE = 2_000_000
#: Deepest expression or statement nesting followed.
MAX_DEPTH = 200


@dataclass(frozen=True)
class Source:
    """Where a value may come from."""

    kind: str
    """``download``, ``request``, ``argv``, ``input``, ``env``, ``llm``, ``param`` (a parameter of
    an ordinary function: provenance unknown), or the object markers ``obj`` and ``llmobj``."""
    what: str
    """What produced it, e.g. ``requests.get`` or ``flask.request``."""
    line: int
    """1-based line where it entered the value."""


Taint = frozenset[Source]
EMPTY: Taint = frozenset()

#: Kinds that come from outside the program (network, user, deployment environment).
UNTRUSTED = frozenset({"download", "request", "argv", "input", "env"})
#: URL schemes of a literal that names remote data (pandas, joblib, fsspec … open them).
REMOTE_SCHEMES = ("http://", "https://", "s3://", "gs://", "gcs://", "ftp://", "hf://",
                  "az://", "abfs://")
#: Kinds from outside the machine: the strongest evidence.
REMOTE = frozenset({"download", "request"})
#: Object markers: they say what a value *is*, not that it is dangerous.
MARKERS = frozenset({"obj", "llmobj"})

_BUILTINS = frozenset({"eval", "exec", "compile", "open", "input", "__import__", "str", "bytes",
                       "int", "float", "bool", "len", "repr", "format", "getattr"})

#: Calls whose result is data from outside.
SOURCE_CALLS: dict[str, str] = {
    "requests.get": "download", "requests.post": "download", "requests.request": "download",
    "requests.put": "download", "httpx.get": "download", "httpx.post": "download",
    "httpx.request": "download", "urllib.request.urlopen": "download",
    "urllib.request.urlretrieve": "download", "urllib.urlopen": "download",
    "urllib2.urlopen": "download", "urllib.request.Request": "download",
    "huggingface_hub.hf_hub_download": "download",
    "huggingface_hub.snapshot_download": "download",
    "huggingface_hub.cached_download": "download", "huggingface_hub.hf_hub_url": "download",
    "wget.download": "download", "gdown.download": "download",
    "torch.hub.download_url_to_file": "download",
    "tensorflow.keras.utils.get_file": "download", "keras.utils.get_file": "download",
    "fsspec.open": "download", "smart_open.open": "download",
    "modelscope.snapshot_download": "download", "kagglehub.model_download": "download",
    "kagglehub.dataset_download": "download",
    "os.getenv": "env", "os.environ.get": "env", "os.environ.__getitem__": "env",
    "builtins.input": "input", "sys.stdin.read": "input", "sys.stdin.readline": "input",
}
#: Methods that fetch from the network whatever the receiver (boto3, sockets, aiohttp …).
SOURCE_METHODS: dict[str, str] = {
    "download_file": "download", "download_fileobj": "download", "get_object": "download",
    "recv": "download", "urlopen": "download", "parse_args": "argv",
    "parse_known_args": "argv",
}
#: Attribute reads that are sources (prefix match on the qualified name).
SOURCE_ATTRS: dict[str, str] = {
    "flask.request": "request", "bottle.request": "request", "sys.argv": "argv",
    "os.environ": "env", "sys.stdin": "input", "quart.request": "request",
    "sanic.request": "request",
}
#: Calls that write a downloaded file: (qualified name or ``.method``, position, keyword) of
#: the destination path, which becomes a download source.
DOWNLOAD_DESTINATIONS: tuple[tuple[str, int, str], ...] = (
    ("urllib.request.urlretrieve", 1, "filename"), ("wget.download", 1, "out"),
    ("gdown.download", 1, "output"), ("torch.hub.download_url_to_file", 1, "dst"),
    (".download_file", 2, "Filename"), ("tensorflow.keras.utils.get_file", 0, "fname"),
    ("keras.utils.get_file", 0, "fname"),
)
#: Calls whose result carries none of their arguments' taint.
SANITISERS = frozenset({
    "builtins.int", "builtins.float", "builtins.bool", "builtins.len", "html.escape",
    "markupsafe.escape", "bleach.clean", "bleach.linkify", "shlex.quote", "os.path.exists",
    "os.path.isfile", "os.path.isdir", "os.path.getsize", "ast.literal_eval", "hashlib.sha256",
    "hashlib.md5", "hashlib.sha1", "builtins.isinstance", "flask.escape", "jinja2.escape",
    "django.utils.html.escape", "nh3.clean", "uuid.uuid4", "secrets.token_hex",
    "werkzeug.utils.secure_filename", "cgi.escape", "xml.sax.saxutils.escape",
})
#: Module prefixes whose constructors build an LLM client, model, pipeline or chain.
LLM_PREFIXES = ("openai.", "anthropic.", "langchain", "llama_index.", "llama_cpp.", "ollama.",
                "litellm.", "cohere.", "mistralai.", "google.generativeai.", "vertexai.",
                "groq.", "together.", "huggingface_hub.InferenceClient", "vllm.",
                "transformers.pipeline", "transformers.AutoTokenizer",
                "transformers.TextGenerationPipeline", "transformers.AutoProcessor",
                "google.genai.", "replicate.")
#: Parts of a transformers class name that mark a text-generating model.
_GENERATIVE = ("CausalLM", "Seq2SeqLM", "ForConditionalGeneration", "Tokenizer", "Processor",
               "ForVision2Seq", "ImageTextToText")
#: Calls that return model output directly.
LLM_CALLS = frozenset({
    "openai.ChatCompletion.create", "openai.Completion.create", "litellm.completion",
    "litellm.acompletion", "ollama.chat", "ollama.generate", "replicate.run",
    "openai.chat.completions.create", "openai.completions.create",
})
#: Methods that, on an LLM object, return model output.
GEN_METHODS = frozenset({
    "invoke", "ainvoke", "predict", "apredict", "run", "arun", "generate", "agenerate",
    "batch", "abatch", "stream", "astream", "call", "complete", "acomplete", "chat", "achat",
    "generate_content", "send_message", "query", "aquery", "create_completion",
    "create_chat_completion", "text_generation", "chat_completion", "predict_messages",
    "__call__",
})
#: Dotted call tails that are LLM API calls whatever the receiver.
LLM_TAILS = (".chat.completions.create", ".messages.create", ".responses.create",
             ".completions.create", ".chat.completions.parse", ".generate_content")
#: Names that mean the usual module when a snippet or notebook cell uses them without importing
#: them (and does not bind them itself): ``np.load`` in a cell whose imports are elsewhere.
CONVENTIONAL: dict[str, str] = {
    "torch": "torch", "pickle": "pickle", "joblib": "joblib", "np": "numpy", "numpy": "numpy",
    "pd": "pandas", "pandas": "pandas", "tf": "tensorflow", "keras": "keras",
    "st": "streamlit", "gr": "gradio", "yaml": "yaml", "requests": "requests",
    "subprocess": "subprocess", "os": "os", "sys": "sys", "dill": "dill",
    "cloudpickle": "cloudpickle", "shelve": "shelve", "tarfile": "tarfile", "shutil": "shutil",
    "openai": "openai", "anthropic": "anthropic", "huggingface_hub": "huggingface_hub",
    "transformers": "transformers", "urllib": "urllib", "ssl": "ssl", "jinja2": "jinja2",
    "flask": "flask", "sqlite3": "sqlite3", "httpx": "httpx", "urllib3": "urllib3",
    "shlex": "shlex", "html": "html", "bleach": "bleach", "markupsafe": "markupsafe",
    "json": "json", "ast": "ast", "io": "io", "re": "re",
}
#: Names that say a value is an LLM, chain or agent when its origin is not visible (a
#: parameter, an attribute set elsewhere): ``llm``, ``self.qa_chain``, ``agent_executor``.
LLM_NAME = re.compile(r"(^|_)(llms?|chains?|agents?|chatbot|chat_model|gpt|claude|gemini|"
                      r"assistant|qa|rag|agent_executor)($|_)", re.IGNORECASE)
#: Methods that return generated text on anything named like a model or client (``model``,
#: ``client``, ``bot``, ``generator``): more specific than :data:`GEN_METHODS`.
STRONG_GEN_METHODS = frozenset({
    "invoke", "ainvoke", "generate", "agenerate", "generate_content", "chat", "achat",
    "complete", "acomplete", "create_completion", "create_chat_completion", "text_generation",
    "chat_completion", "predict_messages", "send_message", "stream_chat"})
MODEL_NAME = re.compile(r"(^|_)(models?|client|generator|pipe|pipeline|conversation|"
                        r"engine|query_engine|chat_engine|llama|mistral|ollama)($|_)",
                        re.IGNORECASE)
LLM_ENDPOINTS = ("/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions",
                 "/generate_stream", "/v1/messages", ":generateContent", "/v1/responses",
                 "api-inference.huggingface.co", "api.openai.com", "api.anthropic.com",
                 "generativelanguage.googleapis.com", "/api/v1/generate", "/completion",
                 "router.huggingface.co")
_MUTATORS = frozenset({"append", "extend", "add", "update", "insert", "write", "writelines",
                       "write_bytes", "write_text", "save", "save_pretrained",
                       "setdefault", "appendleft", "put"})
_ROUTE_DECORATORS = frozenset({"get", "post", "put", "delete", "patch", "route", "api_route",
                               "websocket", "head", "options"})
_REQUEST_ANNOTATIONS = frozenset({"UploadFile", "Request", "WebSocket", "Form", "File",
                                  "HttpRequest"})
_REQUEST_PARAM_NAMES = frozenset({"request", "req"})


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of names, else ``None``."""
    parts: list[str] = []
    cur: ast.expr = node
    while isinstance(cur, ast.Attribute):
        parts.append(cur.attr)
        cur = cur.value
    if not isinstance(cur, ast.Name):
        return None
    parts.append(cur.id)
    return ".".join(reversed(parts))


def chain_text(node: ast.expr, limit: int = 12) -> str:
    """A dotted rendering of a call target for messages, ``x.chat.completions.create``; calls
    and subscripts on the way show as ``()`` and ``[]``."""
    parts: list[str] = []
    cur: ast.expr = node
    for _ in range(limit):
        if isinstance(cur, ast.Attribute):
            parts.append("." + cur.attr)
            cur = cur.value
        elif isinstance(cur, ast.Call):
            parts.append("()")
            cur = cur.func
        elif isinstance(cur, ast.Subscript):
            parts.append("[]")
            cur = cur.value
        else:
            break
    head = cur.id if isinstance(cur, ast.Name) else "…"
    return head + "".join(reversed(parts))


def describe(taint: Taint, kinds: Iterable[str]) -> str:
    """``requests.get (line 4)`` for the first source of one of ``kinds`` in ``taint``."""
    wanted = set(kinds)
    found = sorted((s for s in taint if s.kind in wanted), key=lambda s: (s.line, s.what))
    if not found:
        return ""
    first = found[0]
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f"{first.what} (line {first.line}){more}"


def kinds_of(taint: Taint) -> frozenset[str]:
    return frozenset(s.kind for s in taint)


def marked(taint: Taint, qual_prefix: str) -> bool:
    """Whether an ``obj`` marker whose constructor starts with ``qual_prefix`` is present."""
    return any(s.kind == "obj" and s.what.startswith(qual_prefix) for s in taint)


class _Budget(Exception):
    """A scope or file hit its evaluation cap."""


class Names:
    """A set of names layered over a parent's, which it reads but never copies or changes (a
    module with 50,000 functions must not copy 50,000 names into each of them)."""

    def __init__(self, base: Names | None = None) -> None:
        self._base = base
        self._added: set[str] = set()
        self._removed: set[str] = set()

    def __contains__(self, name: object) -> bool:
        if name in self._added:
            return True
        return name not in self._removed and self._base is not None and name in self._base

    def add(self, name: str) -> None:
        self._added.add(name)
        self._removed.discard(name)

    def discard(self, name: str) -> None:
        self._added.discard(name)
        if self._base is not None:
            self._removed.add(name)


class Env(MutableMapping[str, Taint]):
    """A scope's names -> taint, layered over the enclosing (module) scope's, which it reads
    but never copies or changes: a function sees the module's globals at no cost per
    function, so a generated module with 40,000 constants and 10,000 functions stays linear."""

    def __init__(self, base: Env | None = None) -> None:
        self._base = base
        self._local: dict[str, Taint] = {}
        self._removed: set[str] = set()

    def __getitem__(self, key: str) -> Taint:
        found = self._local.get(key)
        if found is not None:
            return found
        if self._base is None or key in self._removed:
            raise KeyError(key)
        return self._base[key]

    def __contains__(self, key: object) -> bool:
        if key in self._local:
            return True
        return self._base is not None and key not in self._removed and key in self._base

    def __setitem__(self, key: str, value: Taint) -> None:
        self._local[key] = value
        self._removed.discard(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._local.pop(key, None)
        if self._base is not None:
            self._removed.add(key)

    def __iter__(self) -> Iterator[str]:
        yield from self._local
        if self._base is not None:
            for key in self._base:
                if key not in self._local and key not in self._removed:
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def own_items(self) -> Iterator[tuple[str, Taint]]:
        """The names bound in this scope itself (not those only read from the base)."""
        yield from self._local.items()

    def checkpoint(self) -> tuple[dict[str, Taint], set[str]]:
        """This scope's own state, for :meth:`restore` (costs what the scope bound, not what
        the base holds)."""
        return dict(self._local), set(self._removed)

    def restore(self, state: tuple[dict[str, Taint], set[str]]) -> None:
        self._local, self._removed = dict(state[0]), set(state[1])


@dataclass
class Scope:
    """What one scope knows while it is walked."""

    env: Env
    consts: Names
    aliases: dict[str, str]
    defined: Names
    selfmade: set[str] = field(default_factory=set)
    """Names holding bytes this scope serialised itself (``b = pickle.dumps(x)``), a path it
    wrote with a serialiser (``joblib.dump(m, path)``), or a file opened on such a path."""
    written: dict[str, frozenset[str]] = field(default_factory=dict)
    """Source text of each destination a serialiser wrote to in this scope, with the names
    that text reads (rebinding one of them forgets the entry)."""
    opened: dict[str, str] = field(default_factory=dict)
    """File variable -> source text of the path it was opened on (``f = open(p, "wb")``)."""


@dataclass
class CallSite:
    """One call, as rules see it."""

    node: ast.Call
    qual: str | None
    """The callee's fully qualified name through imports (``torch.load``), or ``None``."""
    method: str | None
    """The attribute called, when the callee is ``something.method``."""
    receiver: Taint
    """Taint (with object markers) of ``something`` in ``something.method(...)``."""
    flow: Flow

    def kw(self, name: str) -> ast.expr | None:
        for item in self.node.keywords:
            if item.arg == name:
                return item.value
        return None

    def arg(self, pos: int, name: str | None = None) -> ast.expr | None:
        """Positional argument ``pos`` or keyword ``name``."""
        if name is not None:
            value = self.kw(name)
            if value is not None:
                return value
        for i, value in enumerate(self.node.args):
            if isinstance(value, ast.Starred):
                return None
            if i == pos:
                return value
        return None

    def taint(self, node: ast.expr | None) -> Taint:
        return EMPTY if node is None else self.flow.taint(node)

    def is_const(self, node: ast.expr | None) -> bool:
        return node is not None and self.flow.is_const(node)

    def is_selfmade(self, node: ast.expr | None) -> bool:
        """Whether the value is data the same scope serialised itself (a round trip)."""
        return self.flow.is_selfmade(node)

    def all_args(self) -> Iterator[ast.expr]:
        yield from self.node.args
        for item in self.node.keywords:
            yield item.value


@dataclass
class FlowResult:
    incomplete: list[tuple[int, str]] = field(default_factory=list)
    """(line, reason) of every scope whose analysis hit a bound."""


def is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


class Flow:
    """The walker. Build it on a module and call :meth:`run`."""

    def __init__(self, tree: ast.Module, on_call: Callable[[CallSite], None],
                 on_store: Callable[[ast.expr, ast.expr, Flow], None] | None = None) -> None:
        self.tree = tree
        self.on_call = on_call
        self.on_store = on_store
        self.on_return: Callable[[ast.Return, Taint, Flow], None] | None = None
        #: the route decorator of the function being analysed (``flask`` when it is a Flask
        #: view, whose returned string is served as text/html), else ``""``
        self.route = ""
        self.result = FlowResult()
        self.scope = Scope(Env(), Names(), {}, Names())
        self._memo: dict[int, Taint] = {}
        self._steps = 0
        self._file_steps = 0
        self._depth = 0
        self.tainted_paths: dict[str, Taint] = {}
        self._imports: dict[str, str] = {}
        #: dictionary and string literals of the file, collected by the pre-pass
        self.literals: list[ast.Dict | ast.Constant] = []

    # ---------------------------------------------------------------- driving
    def run(self) -> FlowResult:
        self._collect_download_destinations()
        module_scope = Scope(Env(), Names(), {}, Names())
        self._walk_scope(module_scope, self.tree.body, 1, "module")
        self._functions(self.tree.body, module_scope, 0)
        return self.result

    def _functions(self, body: list[ast.stmt], module_scope: Scope, depth: int) -> None:
        """Analyse every function and class body in ``body`` (nested ones too)."""
        if depth > MAX_DEPTH:
            self.result.incomplete.append((body[0].lineno if body else 1, "nesting too deep"))
            return
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self._function(stmt, module_scope)
            elif isinstance(stmt, ast.ClassDef):
                scope = self._child_scope(module_scope)
                self._walk_scope(scope, stmt.body, stmt.lineno, f"class {stmt.name}")
                self._class(stmt, module_scope, depth)
                continue
            for sub in _bodies(stmt):
                self._functions(sub, module_scope, depth + 1)

    def _class(self, cls: ast.ClassDef, module_scope: Scope, depth: int) -> None:
        """Methods see what other methods stored in ``self.x``: a first pass collects those
        attributes, a second analyses every method with them."""
        methods = [s for s in cls.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
        shared: dict[str, Taint] = {}
        for method in methods:
            env = self._function(method, module_scope)
            for key, value in env.own_items():
                if key.startswith("self.") and value:
                    shared[key] = shared.get(key, EMPTY) | value
        seeded = self._child_scope(module_scope)
        seeded.env.update(shared)
        for method in methods:
            if shared:
                self._function(method, seeded)
        for stmt in cls.body:
            if isinstance(stmt, ast.ClassDef):
                self._functions([stmt], module_scope, depth + 1)
            elif not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in _bodies(stmt):
                    self._functions(sub, module_scope, depth + 1)
            else:
                self._functions(stmt.body, module_scope, depth + 1)

    @staticmethod
    def _child_scope(parent: Scope) -> Scope:
        return Scope(Env(parent.env), Names(parent.consts), dict(parent.aliases),
                     Names(parent.defined), set(parent.selfmade), dict(parent.written),
                     dict(parent.opened))

    def _function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                  module_scope: Scope) -> Env:
        """Analyse one function; returns its final environment."""
        scope = self._child_scope(module_scope)
        routes = [d for d in fn.decorator_list if isinstance(d, ast.Call) and isinstance(
            d.func, ast.Attribute) and d.func.attr in _ROUTE_DECORATORS]
        routed = bool(routes)
        flask = any(q.split(".")[0] in ("flask", "quart") for q in module_scope.aliases.values())
        route = "flask" if routed and flask else ("other" if routed else "")
        args = fn.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        if args.vararg:
            params.append(args.vararg)
        if args.kwarg:
            params.append(args.kwarg)
        for i, param in enumerate(params):
            name = param.arg
            scope.aliases.pop(name, None)
            scope.defined.add(name)
            scope.consts.discard(name)
            self._forget(name)
            if i == 0 and name in ("self", "cls"):
                scope.env[name] = EMPTY
                continue
            ann = param.annotation
            ann_name = ""
            if ann is not None:
                ann_name = ann.attr if isinstance(ann, ast.Attribute) else (
                    ann.id if isinstance(ann, ast.Name) else "")
            if ann_name in _REQUEST_ANNOTATIONS or name in _REQUEST_PARAM_NAMES or routed:
                what = f"request parameter {name!r}" if routed or name in _REQUEST_PARAM_NAMES \
                    else f"{ann_name} parameter {name!r}"
                scope.env[name] = frozenset({Source("request", what, param.lineno)})
            else:
                scope.env[name] = frozenset({Source("param", f"parameter {name!r}",
                                                    param.lineno)})
        saved_route, self.route = self.route, route
        try:
            self._walk_scope(scope, fn.body, fn.lineno, f"function {fn.name}")
        finally:
            self.route = saved_route
        return scope.env

    def _walk_scope(self, scope: Scope, body: list[ast.stmt], line: int, what: str) -> None:
        saved = self.scope
        self.scope = scope
        self._steps = 0
        try:
            self._block(body, 0)
        except _Budget:
            self.result.incomplete.append(
                (line, f"{what}: analysis budget reached (more than {MAX_STEPS_PER_SCOPE} "
                       f"expressions in the scope or {MAX_STEPS_PER_FILE} in the file)"))
        except RecursionError:
            self.result.incomplete.append((line, f"{what}: nesting too deep to analyse"))
        finally:
            self.scope = saved

    def _collect_download_destinations(self) -> None:
        """One walk of the whole tree: imports (for :meth:`_resolve_loose`), the literal nodes
        rules look at (:attr:`literals`), and the paths downloads write to."""
        calls: list[ast.Call] = []
        self._imports = {}
        for count, node in enumerate(ast.walk(self.tree)):
            if count > MAX_STEPS_PER_FILE:
                self.result.incomplete.append(
                    (1, f"file too large for the pre-pass (more than {MAX_STEPS_PER_FILE} "
                        "nodes): literal and download-path rules are incomplete"))
                break
            if isinstance(node, ast.Call):
                calls.append(node)
            elif isinstance(node, ast.Dict) or (isinstance(node, ast.Constant)
                                                and isinstance(node.value, str)):
                self.literals.append(node)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.partition(".")[0]
                    self._imports[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self._imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in calls:
            qual = self._resolve_loose(node.func)
            for target, pos, kw in DOWNLOAD_DESTINATIONS:
                hit = (qual == target) if not target.startswith(".") else (
                    isinstance(node.func, ast.Attribute) and node.func.attr == target[1:])
                if not hit:
                    continue
                dest: ast.expr | None = next((k.value for k in node.keywords if k.arg == kw),
                                             None)
                if dest is None and len(node.args) > pos:
                    dest = node.args[pos]
                if isinstance(dest, ast.Constant) and isinstance(dest.value, str):
                    name = qual or chain_text(node.func)
                    self.tainted_paths[dest.value] = frozenset(
                        {Source("download", f"{name} destination", node.lineno)})
            if qual in _SHELL_RUNNERS and node.args:
                for path in _fetched_paths(node.args[0]):
                    self.tainted_paths[path] = frozenset(
                        {Source("download", f"{qual}(wget/curl) output", node.lineno)})

    def _resolve_loose(self, node: ast.expr) -> str | None:
        """Resolution through the module's imports only (for the pre-pass)."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        base = self._imports.get(head) or CONVENTIONAL.get(head)
        if base is None:
            return None
        return base + ("." + rest if rest else "")

    # ---------------------------------------------------------------- resolution
    def resolve(self, node: ast.expr) -> str | None:
        """The fully qualified name of a callee or attribute chain, through imports."""
        if isinstance(node, ast.Name):
            if node.id in self.scope.aliases:
                return self.scope.aliases[node.id]
            if node.id in self.scope.defined:
                return None
            if node.id in _BUILTINS:
                return f"builtins.{node.id}"
            return CONVENTIONAL.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value) if not isinstance(node.value, ast.Call) else (
                self._call_qual(node.value))
            return f"{base}.{node.attr}" if base else None
        return None

    def _call_qual(self, node: ast.Call) -> str | None:
        base = self.resolve(node.func)
        return f"{base}()" if base else None

    def _bind_import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        scope = self.scope
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    local, qual = alias.asname, alias.name
                else:
                    local = qual = alias.name.partition(".")[0]
                scope.aliases[local] = qual
                scope.defined.discard(local)
        else:
            module = ("." * stmt.level) + (stmt.module or "")
            for alias in stmt.names:
                if alias.name == "*":
                    continue
                local = alias.asname or alias.name
                scope.aliases[local] = f"{module}.{alias.name}"
                scope.defined.discard(local)

    # ---------------------------------------------------------------- statements
    def _tick(self) -> None:
        self._steps += 1
        self._file_steps += 1
        if self._steps > MAX_STEPS_PER_SCOPE or self._file_steps > MAX_STEPS_PER_FILE:
            raise _Budget

    def _block(self, body: list[ast.stmt], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise RecursionError
        for stmt in body:
            self._memo.clear()
            self._stmt(stmt, depth)

    def _stmt(self, stmt: ast.stmt, depth: int) -> None:
        scope = self.scope
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self._bind_import(stmt)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for deco in stmt.decorator_list:
                self.taint(deco)
            if not isinstance(stmt, ast.ClassDef):
                for default in [*stmt.args.defaults, *stmt.args.kw_defaults]:
                    if default is not None:
                        self.taint(default)
            scope.aliases.pop(stmt.name, None)
            scope.defined.add(stmt.name)
            scope.env.pop(stmt.name, None)
        elif isinstance(stmt, ast.Assign):
            value = self.taint(stmt.value)
            for target in stmt.targets:
                self._assign(target, stmt.value, value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._assign(stmt.target, stmt.value, self.taint(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            value = self.taint(stmt.value)
            key = self._key(stmt.target)
            if key is not None:
                scope.env[key] = scope.env.get(key, EMPTY) | value
                if not self.is_const(stmt.value):
                    scope.consts.discard(key)
                self._forget(key)
            elif isinstance(stmt.target, ast.Subscript):
                self._assign(stmt.target, stmt.value, value)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            it = self.taint(stmt.iter)
            before = self._snapshot()
            for _ in range(2):
                self._memo.clear()
                self._assign(stmt.target, stmt.iter, it, element=True)
                self._block(stmt.body, depth + 1)
            self._merge(before, self._snapshot())  # the body may not run
            self._block(stmt.orelse, depth + 1)
        elif isinstance(stmt, ast.While):
            before = self._snapshot()
            for _ in range(2):
                self._memo.clear()
                self.taint(stmt.test)
                self._block(stmt.body, depth + 1)
            self._merge(before, self._snapshot())  # the body may not run
            self._block(stmt.orelse, depth + 1)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                value = self.taint(item.context_expr)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, item.context_expr, value)
            self._block(stmt.body, depth + 1)
        elif isinstance(stmt, ast.If):
            self.taint(stmt.test)
            before = self._snapshot()
            guarded = self._guard(stmt.test)
            if guarded is not None and guarded[1]:
                saved = scope.env.get(guarded[0])
                scope.env[guarded[0]] = EMPTY
                self._block(stmt.body, depth + 1)
                if saved is not None and scope.env.get(guarded[0]) == EMPTY:
                    scope.env[guarded[0]] = saved
                after_body = self._restore(before)
                self._block(stmt.orelse, depth + 1)
            else:
                self._block(stmt.body, depth + 1)
                after_body = self._restore(before)
                self._block(stmt.orelse, depth + 1)
                if guarded is not None and stmt.body and isinstance(
                        stmt.body[-1], ast.Return | ast.Raise | ast.Continue | ast.Break):
                    scope.env[guarded[0]] = EMPTY  # `if x not in ALLOWED: raise` guards x
            self._merge(after_body, self._snapshot())
        elif isinstance(stmt, ast.Try | ast.TryStar):
            before = self._snapshot()
            self._block(stmt.body, depth + 1)
            self._merge(before, self._snapshot())  # a handler may start anywhere in the body
            start = self._snapshot()
            ends = []
            for handler in stmt.handlers:
                self._restore(start)
                if handler.type is not None:
                    self.taint(handler.type)
                self._block(handler.body, depth + 1)
                ends.append(self._snapshot())
            self._restore(start)
            self._block(stmt.orelse, depth + 1)
            self._merge(self._snapshot(), *ends)
            self._block(stmt.finalbody, depth + 1)
        elif isinstance(stmt, ast.Return):
            value = self.taint(stmt.value) if stmt.value is not None else EMPTY
            if self.on_return is not None:
                self.on_return(stmt, value, self)
        elif isinstance(stmt, ast.Match):
            self.taint(stmt.subject)
            before = self._snapshot()
            ends = [before]
            for case in stmt.cases:
                self._restore(before)
                self._block(case.body, depth + 1)
                ends.append(self._snapshot())
            self._merge(*ends)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.taint(child)

    def _guard(self, test: ast.expr) -> tuple[str, bool] | None:
        """``(name, True)`` for ``if name in ALLOWED`` (the body is guarded), ``(name, False)``
        for ``if name not in ALLOWED`` (what follows a body that leaves is guarded). ``ALLOWED``
        must be a literal collection or a constant name."""
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1
                and isinstance(test.left, ast.Name)):
            return None
        right = test.comparators[0]
        literal = isinstance(right, ast.List | ast.Tuple | ast.Set) and all(
            isinstance(e, ast.Constant) for e in right.elts)
        named = isinstance(right, ast.Name) and (right.id.isupper() or
                                                 right.id in self.scope.consts)
        if not (literal or named):
            return None
        if isinstance(test.ops[0], ast.In):
            return test.left.id, True
        if isinstance(test.ops[0], ast.NotIn):
            return test.left.id, False
        return None

    def _key(self, target: ast.expr) -> str | None:
        if isinstance(target, ast.Name):
            return target.id
        if isinstance(target, ast.Attribute):
            return dotted(target)
        return None

    def _assign(self, target: ast.expr, value_node: ast.expr, value: Taint,
                element: bool = False) -> None:
        scope = self.scope
        if self.on_store is not None and not element:
            self.on_store(target, value_node, self)
        if isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                inner = elt.value if isinstance(elt, ast.Starred) else elt
                self._assign(inner, value_node, value, element=True)
            return
        if isinstance(target, ast.Subscript | ast.Starred):
            base = target.value
            while isinstance(base, ast.Subscript | ast.Starred):
                base = base.value
            key = self._key(base)
            if key is not None:
                scope.env[key] = scope.env.get(key, EMPTY) | value
                scope.consts.discard(key)
            return
        key = self._key(target)
        if key is None:
            return
        scope.env[key] = value
        if isinstance(target, ast.Name):
            qual = None if element else self.resolve(value_node) if isinstance(
                value_node, ast.Name | ast.Attribute) else None
            head = dotted(value_node) if qual else None
            if qual and head and head.partition(".")[0] in scope.aliases:
                scope.aliases[key] = qual  # `jl = joblib.load` is an alias of joblib.load
                scope.defined.discard(key)
            else:
                scope.aliases.pop(key, None)
                scope.defined.add(key)
        self._forget(key)
        if not element:
            self._note_selfmade(key, value_node)
        if not element and self.is_const(value_node):
            scope.consts.add(key)
        else:
            scope.consts.discard(key)

    # ---------------------------------------------------------------- self-made data
    def _forget(self, key: str) -> None:
        """``key`` is rebound: it no longer holds self-made data, and no written path or open
        file read through it is known any more."""
        scope = self.scope
        scope.selfmade.discard(key)
        scope.opened.pop(key, None)
        root = key.partition(".")[0]
        stale = [text for text, names in scope.written.items() if root in names]
        for text in stale:
            del scope.written[text]

    def _note_selfmade(self, key: str, value_node: ast.expr) -> None:
        scope = self.scope
        if self.is_selfmade(value_node):
            scope.selfmade.add(key)
        if isinstance(value_node, ast.Call) and self._is_open(value_node) and value_node.args:
            text = _path_text(value_node.args[0])
            if text is not None:
                scope.opened[key] = text[0]

    def _is_open(self, node: ast.Call) -> bool:
        return (self.resolve(node.func) or "") in _OPENERS

    def _snapshot(self) -> tuple[set[str], dict[str, frozenset[str]], dict[str, str]]:
        scope = self.scope
        return set(scope.selfmade), dict(scope.written), dict(scope.opened)

    def _restore(self, state: tuple[set[str], dict[str, frozenset[str]], dict[str, str]]
                 ) -> tuple[set[str], dict[str, frozenset[str]], dict[str, str]]:
        """Put back a snapshot; returns the state it replaced."""
        current = self._snapshot()
        scope = self.scope
        scope.selfmade, scope.written, scope.opened = set(state[0]), dict(state[1]), dict(
            state[2])
        return current

    def _merge(self, *states: tuple[set[str], dict[str, frozenset[str]], dict[str, str]]
               ) -> None:
        """After branches: self-made only what every branch left self-made."""
        scope = self.scope
        scope.selfmade = set.intersection(*(st[0] for st in states))
        scope.written = {k: v for k, v in states[0][1].items()
                         if all(k in st[1] for st in states)}
        scope.opened = {k: v for k, v in states[0][2].items()
                        if all(st[2].get(k) == v for st in states)}

    def _note_dump(self, node: ast.Call, qual: str | None, method: str | None) -> None:
        """A serialiser wrote to a path or file: remember the destination's text."""
        dest: ast.expr | None = None
        if qual is not None and qual in _DUMPERS:
            pos, name = _DUMPERS[qual]
            dest = next((k.value for k in node.keywords if k.arg == name), None)
            if dest is None and len(node.args) > pos and not any(
                    isinstance(a, ast.Starred) for a in node.args[:pos + 1]):
                dest = node.args[pos]
        elif method == "to_pickle" and node.args:
            dest = node.args[0]
        if dest is None:
            return
        scope = self.scope
        key = self._key(dest)
        if key is not None and key in scope.opened:  # `pickle.dump(obj, f)`, f = open(p, "wb")
            text = scope.opened[key]
            scope.written[text] = _names_in_text(text)
            return
        if isinstance(dest, ast.Call) and self._is_open(dest) and dest.args:
            dest = dest.args[0]  # `pickle.dump(obj, open(p, "wb"))`
        found = _path_text(dest)
        if found is not None:
            scope.written[found[0]] = found[1]

    def is_selfmade(self, node: ast.expr | None, depth: int = 0) -> bool:
        """Whether the value is data this scope serialised itself: the result of
        ``pickle.dumps`` (and its kin), ``io.BytesIO`` of such bytes, a path a serialiser
        wrote earlier in the scope, or a file opened on such a path. Loading it back is a
        round trip, not a load of data from elsewhere."""
        if node is None or depth > 10:
            return False
        scope = self.scope
        key = self._key(node)
        if key is not None and key in scope.selfmade:
            return True
        if key is not None and scope.opened.get(key) in scope.written:
            return True
        if isinstance(node, ast.Call):
            qual = self.resolve(node.func) or ""
            if qual in _SERIALISERS:
                return True
            if qual in ("io.BytesIO", "_io.BytesIO") or self._is_open(node):
                return bool(node.args) and self.is_selfmade(node.args[0], depth + 1)
        text = _path_text(node)
        return text is not None and text[0] in scope.written

    # ---------------------------------------------------------------- expressions
    def is_const(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether the value is built only from literals in the code (a path in the repo):
        string constants, names bound to such, ``os.path.join``/``Path``/``/`` of them,
        ``__file__``, ``open()`` of them, lists, tuples, sets and dicts of them (bounded). A
        path a download wrote to is not constant."""
        if depth > 30:
            return False
        if isinstance(node, ast.Constant):
            return not (isinstance(node.value, str) and (node.value in self.tainted_paths or
                                                         node.value.startswith(REMOTE_SCHEMES)))
        if isinstance(node, ast.Name):
            return node.id in self.scope.consts or node.id == "__file__"
        if isinstance(node, ast.Attribute):
            key = dotted(node)
            if key is not None and key in self.scope.consts:
                return True
            return node.attr in ("parent", "stem", "name") and self.is_const(node.value,
                                                                                depth + 1)
        if isinstance(node, ast.JoinedStr):
            return all(self.is_const(v, depth + 1) for v in node.values)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):  # a table of the code's own values
            return len(node.elts) <= 1000 and all(
                not isinstance(e, ast.Starred) and self.is_const(e, depth + 1)
                for e in node.elts)
        if isinstance(node, ast.Dict):
            return len(node.values) <= 1000 and all(
                k is not None and self.is_const(k, depth + 1) and self.is_const(v, depth + 1)
                for k, v in zip(node.keys, node.values, strict=True))
        if isinstance(node, ast.FormattedValue):
            return self.is_const(node.value, depth + 1)
        if isinstance(node, ast.BinOp):
            return self.is_const(node.left, depth + 1) and self.is_const(node.right, depth + 1)
        if isinstance(node, ast.Call):
            qual = self.resolve(node.func) or ""
            method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            pathish = qual in ("os.path.join", "os.path.dirname", "os.path.abspath",
                               "os.path.realpath", "pathlib.Path", "builtins.open",
                               "io.open", "gzip.open", "bz2.open", "lzma.open",
                               "os.path.expanduser", "builtins.str") or method in (
                                   "joinpath", "open", "resolve", "with_suffix")
            if method in ("read", "read_text", "read_bytes", "decode", "strip", "encode") and \
                    isinstance(node.func, ast.Attribute):
                return self.is_const(node.func.value, depth + 1)  # `open("v.py").read()`
            if not pathish:
                return False
            inner = [a for a in node.args[:1]] if qual.endswith("open") or method == "open" \
                else list(node.args)
            receiver_ok = (not isinstance(node.func, ast.Attribute) or qual != "" or
                           self.is_const(node.func.value, depth + 1))
            return receiver_ok and all(self.is_const(a, depth + 1) for a in inner)
        return False

    def taint(self, node: ast.expr) -> Taint:
        """The taint of an expression (and, on the way, every call in it is reported)."""
        key = id(node)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        self._tick()
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RecursionError
            result = self._taint(node)
        finally:
            self._depth -= 1
        self._memo[key] = result
        return result

    def _union(self, nodes: Iterable[ast.expr | None]) -> Taint:
        out: set[Source] = set()
        for n in nodes:
            if n is not None:
                out |= self.taint(n)
        return frozenset(out)

    def _taint(self, node: ast.expr) -> Taint:
        env = self.scope.env
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                if node.value.startswith(REMOTE_SCHEMES):  # loaders that fetch URLs themselves
                    return frozenset({Source("download", f"URL {_url_head(node.value)}",
                                             node.lineno)})
                return self.tainted_paths.get(node.value, EMPTY)
            return EMPTY
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            qual = self.resolve(node)
            return self._attr_source(qual, node.lineno)
        if isinstance(node, ast.Attribute):
            key = dotted(node)
            if key is not None and key in env:
                return env[key]
            qual = self.resolve(node)
            src = self._attr_source(qual, node.lineno)
            if src:
                return src
            base = self.taint(node.value)
            if _llm_shape(node):
                base = base | {Source("llm", chain_text(node), node.lineno)}
            return frozenset(s for s in base if s.kind not in MARKERS or node.attr in (
                "chat", "completions", "messages", "responses", "models", "llm", "pipeline",
                "model", "tokenizer", "chain", "agent", "tools"))
        if isinstance(node, ast.Subscript):
            self.taint(node.slice)
            base = self.taint(node.value)
            if _llm_shape(node):
                base = base | {Source("llm", chain_text(node), node.lineno)}
            return base
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Lambda):
            saved = env.checkpoint()
            for a in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                env[a.arg] = frozenset({Source("param", f"parameter {a.arg!r}", a.lineno)})
            self.taint(node.body)
            env.restore(saved)
            return EMPTY
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self._comprehension(node)
        if isinstance(node, ast.NamedExpr):
            value = self.taint(node.value)
            self._assign(node.target, node.value, value)
            return value
        if isinstance(node, ast.IfExp):
            self.taint(node.test)
            return self.taint(node.body) | self.taint(node.orelse)
        if isinstance(node, ast.Compare):
            self._union([node.left, *node.comparators])
            return EMPTY
        if isinstance(node, ast.BinOp):
            operands: list[ast.expr] = []
            cur: ast.expr = node
            while isinstance(cur, ast.BinOp) and len(operands) < MAX_STEPS_PER_SCOPE:
                operands.append(cur.right)  # `a + b + c` nests to the left: walk it flat
                cur = cur.left
            operands.append(cur)
            both = self._union(reversed(operands))
            flat = _strip_markers(both)
            if isinstance(node.op, ast.BitOr):  # `prompt | llm | parser` (LCEL) is a chain
                flat |= frozenset(s for s in both if s.kind == "llmobj")
            return flat
        if isinstance(node, ast.Dict):
            return self._union([*node.keys, *node.values])
        out: set[Source] = set()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                out |= self.taint(child)
            elif isinstance(child, ast.comprehension):  # pragma: no cover - handled above
                out |= self.taint(child.iter)
        return frozenset(out)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                       | ast.DictComp) -> Taint:
        env = self.scope.env
        saved = env.checkpoint()
        out: set[Source] = set()
        for gen in node.generators:
            it = self.taint(gen.iter)
            for name in ast.walk(gen.target):
                if isinstance(name, ast.Name):
                    env[name.id] = it
            for cond in gen.ifs:
                self.taint(cond)
        if isinstance(node, ast.DictComp):
            out |= self.taint(node.key) | self.taint(node.value)
        else:
            out |= self.taint(node.elt)
        env.restore(saved)
        for sub in ast.walk(node):  # the memo must not keep values computed in the inner env
            self._memo.pop(id(sub), None)
        return frozenset(out)

    def _attr_source(self, qual: str | None, line: int) -> Taint:
        if not qual:
            return EMPTY
        for prefix, kind in SOURCE_ATTRS.items():
            if qual == prefix or qual.startswith(prefix + "."):
                return frozenset({Source(kind, prefix, line)})
        return EMPTY

    def _call(self, node: ast.Call) -> Taint:
        func = node.func
        qual = self.resolve(func)
        method = func.attr if isinstance(func, ast.Attribute) else None
        receiver = self.taint(func.value) if isinstance(func, ast.Attribute) else (
            self.taint(func) if not isinstance(func, ast.Name) or func.id in self.scope.env
            else EMPTY)
        args = self._union([*node.args, *(k.value for k in node.keywords)])
        if qual is None and method is not None:
            objs = sorted(s.what for s in receiver if s.kind == "obj")
            if objs:
                qual = f"{objs[0]}().{method}"
        self.on_call(CallSite(node, qual, method, receiver, self))
        self._note_dump(node, qual, method)
        if method in _MUTATORS and isinstance(func, ast.Attribute):
            key = self._key(func.value)
            moved = _strip_markers(args)
            if key is not None and moved:  # `chunks.append(part)` taints `chunks`
                self.scope.env[key] = self.scope.env.get(key, EMPTY) | moved
                self.scope.consts.discard(key)
        line = node.lineno
        shape = chain_text(func)
        text = qual or shape
        if qual in SANITISERS:
            return EMPTY
        if qual is not None:
            kind = SOURCE_CALLS.get(qual)
            if kind is not None:
                found = {Source(kind, qual, line), Source("obj", qual, line)}
                url = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg == "url"), None)
                if kind == "download" and _llm_endpoint(url):
                    found.add(Source("llm", f"{qual} of an LLM endpoint", line))
                return frozenset(found)
            if qual == "os.environ.get" or qual.startswith("os.environ."):
                return frozenset({Source("env", "os.environ", line)})
        if method is not None and method in SOURCE_METHODS:
            return frozenset({Source(SOURCE_METHODS[method], text, line)}) | _strip_markers(
                receiver)
        receiver_kinds = kinds_of(receiver)
        if qual in LLM_CALLS or (method is not None and shape.endswith(LLM_TAILS)):
            return frozenset({Source("llm", shape, line)})
        if method is not None and "llmobj" not in receiver_kinds and isinstance(
                func, ast.Attribute) and ((method in GEN_METHODS and _llm_named(func.value)) or (
                    method in STRONG_GEN_METHODS and _model_named(func.value))):
            return frozenset({Source("llm", shape, line)})
        if method is None and isinstance(func, ast.Name) and func.id in self.scope.env and \
                "obj" not in receiver_kinds and _llm_named(func):
            return frozenset({Source("llm", shape + "(...)", line)})
        if method is not None and "llmobj" in receiver_kinds and method in GEN_METHODS:
            return frozenset({Source("llm", shape, line)})
        if method is None and any(s.kind == "llmobj" and "Tokenizer" not in s.what
                                  and "Processor" not in s.what for s in receiver):
            return frozenset({Source("llm", shape + "(...)", line)})
        out = set(_strip_markers(args)) | set(receiver)
        if method is not None and "llmobj" in receiver_kinds and method in (
                "from_template", "from_messages", "bind", "bind_tools", "with_config",
                "with_structured_output", "pipe", "as_query_engine", "as_chat_engine",
                "as_retriever", "to"):
            out.add(Source("llmobj", text, line))
        if qual is not None:
            if qual.startswith(LLM_PREFIXES) or (qual.startswith("transformers.") and any(
                    part in qual for part in _GENERATIVE)):
                out.add(Source("llmobj", qual, line))
            out.add(Source("obj", qual, line))
            out |= {s for s in args if s.kind == "llmobj"}
        return frozenset(out)


#: Calls that return serialised bytes of their argument.
_SERIALISERS = frozenset({"pickle.dumps", "_pickle.dumps", "cPickle.dumps", "dill.dumps",
                          "cloudpickle.dumps", "pickle5.dumps", "jsonpickle.encode",
                          "jsonpickle.dumps"})
#: Calls that serialise to a file: qualified name -> (position, keyword) of the destination.
_DUMPERS: dict[str, tuple[int, str]] = {
    "pickle.dump": (1, "file"), "_pickle.dump": (1, "file"), "cPickle.dump": (1, "file"),
    "dill.dump": (1, "file"), "cloudpickle.dump": (1, "file"), "pickle5.dump": (1, "file"),
    "joblib.dump": (1, "filename"), "sklearn.externals.joblib.dump": (1, "filename"),
    "numpy.save": (0, "file"), "torch.save": (1, "f"),
}
_OPENERS = frozenset({"builtins.open", "io.open", "gzip.open", "bz2.open", "lzma.open"})
#: Largest expression (in AST nodes) compared by its source text as a written path.
_MAX_PATH_NODES = 40


def _path_text(node: ast.expr) -> tuple[str, frozenset[str]] | None:
    """The source text of a small path-like expression and the names it reads, or ``None``
    for a call other than a path join (its value may differ on each evaluation)."""
    names: set[str] = set()
    for count, sub in enumerate(ast.walk(node), 1):
        if count > _MAX_PATH_NODES:
            return None
        if isinstance(sub, ast.Name):
            names.add(sub.id)
        elif isinstance(sub, ast.Call) and not (
                isinstance(sub.func, ast.Attribute) and sub.func.attr in (
                    "join", "joinpath", "with_suffix", "format")) and not (
                isinstance(sub.func, ast.Name) and sub.func.id in ("str", "Path")):
            return None
    return ast.unparse(node), frozenset(names)


def _names_in_text(text: str) -> frozenset[str]:
    try:
        tree = pyast.parse_expression(text)
    except SyntaxError:  # pragma: no cover - the text came from ast.unparse
        return frozenset()
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


_SHELL_RUNNERS = frozenset({"os.system", "os.popen", "subprocess.run", "subprocess.call",
                            "subprocess.check_call", "subprocess.check_output",
                            "subprocess.Popen"})
_FETCH_OUTPUT = re.compile(r"(?:^|\s)(?:-O|-o|--output-document|--output)[ =]?\s*([^\s;&|]+)")


def _fetched_paths(command: ast.expr) -> list[str]:
    """Files a literal ``wget``/``curl`` command writes: the ``-O``/``-o`` operand, or for wget
    without one the last segment of the URL."""
    words: list[str] = []
    if isinstance(command, ast.Constant) and isinstance(command.value, str):
        words = command.value[:4000].split()
    elif isinstance(command, ast.List | ast.Tuple):
        words = [e.value for e in command.elts[:200] if isinstance(e, ast.Constant)
                 and isinstance(e.value, str)]
    if not words or words[0].rsplit("/", 1)[-1] not in ("wget", "curl"):
        return []
    text = " ".join(words)
    found = [m.group(1).strip("'\"") for m in _FETCH_OUTPUT.finditer(text)]
    if not found and words[0].endswith("wget"):
        urls = [w for w in words if w.startswith(("http://", "https://", "ftp://"))]
        found = [u.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] for u in urls]
    return [f for f in found if f]


def _url_head(url: str) -> str:
    """``scheme://host`` of a URL, without credentials."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rsplit('@', 1)[-1][:80]}"


def _llm_endpoint(url: ast.expr | None) -> bool:
    """A URL literal (or f-string) with the path of an LLM completion API (Ollama, vLLM, TGI,
    OpenAI-compatible servers)."""
    parts: list[str] = []
    if isinstance(url, ast.Constant) and isinstance(url.value, str):
        parts.append(url.value)
    elif isinstance(url, ast.JoinedStr):
        parts.extend(v.value for v in url.values if isinstance(v, ast.Constant)
                     and isinstance(v.value, str))
    return any(tail in part for part in parts for tail in LLM_ENDPOINTS)


def _model_named(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else (
        node.id if isinstance(node, ast.Name) else "")
    return bool(name) and (LLM_NAME.search(name) is not None or MODEL_NAME.search(name)
                           is not None)


def _llm_named(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else (
        node.id if isinstance(node, ast.Name) else "")
    return bool(name) and LLM_NAME.search(name) is not None


def _strip_markers(taint: Taint) -> Taint:
    return frozenset(s for s in taint if s.kind not in MARKERS)


def _llm_shape(node: ast.expr) -> bool:
    """``….choices[0].message.content``, ``….choices[0].text``, ``….content[0].text``: the
    shapes of OpenAI and Anthropic responses, whatever the receiver."""
    if isinstance(node, ast.Attribute) and node.attr in ("content", "text"):
        inner = node.value
        if node.attr == "content" and isinstance(inner, ast.Attribute) and \
                inner.attr == "message":
            inner = inner.value
            return isinstance(inner, ast.Subscript) and isinstance(inner.value, ast.Attribute) \
                and inner.value.attr == "choices"
        if node.attr == "text" and isinstance(inner, ast.Subscript) and isinstance(
                inner.value, ast.Attribute):
            return inner.value.attr in ("choices", "content")
    return False


def _bodies(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists directly inside ``stmt`` (bodies, branches, handlers, cases)."""
    for name in ("body", "orelse", "finalbody"):
        value = getattr(stmt, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            yield value
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body
    for case in getattr(stmt, "cases", ()):
        yield case.body
