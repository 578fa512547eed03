"""bandit's tests, run in-process on a tree secpipe already parsed.

bandit is the field's standard Python SAST; secpipe uses its test set rather than re-writing it.
bandit's own driver (``BanditManager``) reads, tokenizes and parses every file itself and keeps
process-wide state; secpipe instead builds bandit's test set once per process
(``BanditConfig`` + ``BanditTestSet``, the pieces ``BanditManager`` builds) and walks the tree it
parsed once for every analysis with ``BanditNodeVisitor`` — the visitor's ``generic_visit`` over
the module, then the ``File`` tests, which is all ``BanditNodeVisitor.process`` does after its own
``ast.parse``. No bandit function is replaced.

``# nosec`` is interpreted here, not by bandit: the visitor gets no ``nosec`` lines, so it reports
everything, and :func:`nosec_lines` / :func:`is_suppressed` apply bandit's rule (a bare ``# nosec``
on a line of the flagged node silences every test there; ``# nosec B602, subprocess_…`` the tests
named). secpipe keeps such findings, marked as suppressed in the tool's output.

A bandit test that raises is logged by bandit; those log records are collected per file and
reported (the test could not decide), never dropped.
"""

from __future__ import annotations

import ast
import importlib
import io
import logging
import re
import sys
import threading
import tokenize
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

BANDIT_LOGGER = "bandit"

#: test id -> (title, CWE number, remediation), in secpipe's words; bandit supplies the CWE of
#: each finding, this table the title and fix (and the CWE the rule page lists)
CATALOG: dict[str, tuple[str, int, str]] = {
    "B101": ("assert used", 703, "Raise an exception for checks that must hold in production; "
             "assert statements are removed under python -O."),
    "B102": ("exec used", 78, "Do not exec strings; call the code directly or dispatch from a "
             "fixed table of functions."),
    "B103": ("permissive file permissions", 732, "Give files the narrowest mode (0o600 or "
             "0o644); never world-writable."),
    "B104": ("bind on all interfaces", 605, "Bind to 127.0.0.1 or a configured address, not "
             "0.0.0.0, unless the service is meant to be public."),
    "B105": ("hard-coded password string", 259, "Read passwords from the environment or a "
             "secret store; rotate the one written in the code."),
    "B106": ("hard-coded password argument", 259, "Pass credentials from the environment or a "
             "secret store; rotate the one written in the code."),
    "B107": ("hard-coded password default", 259, "Do not give credential parameters default "
             "values; require them or read them from a secret store."),
    "B108": ("hard-coded temporary path", 377, "Use tempfile.mkstemp / TemporaryDirectory "
             "instead of fixed paths under /tmp."),
    "B110": ("try/except/pass", 703, "Handle or at least log the exception; a silent pass "
             "hides failures, including security checks that failed."),
    "B112": ("try/except/continue", 703, "Handle or log the exception before continuing."),
    "B113": ("HTTP request without timeout", 400, "Pass timeout= (connect, read) to every "
             "requests/httpx call."),
    "B201": ("Flask app run with debug=True", 94, "Never serve with debug=True: the Werkzeug "
             "debugger runs arbitrary code for whoever reaches it. Use an environment switch "
             "that is off by default."),
    "B202": ("tarfile extractall without member checks", 22, "Pass filter='data' (Python 3.12+ "
             "or backports) or validate each member's path before extracting."),
    "B324": ("weak hash (hashlib)", 327, "Use SHA-256 or better; pass usedforsecurity=False "
             "when the hash is not a security control."),
    "B501": ("TLS certificate verification disabled", 295, "Remove verify=False; point "
             "verify= at a CA bundle when a private CA is used."),
    "B502": ("insecure SSL/TLS protocol version", 327, "Use ssl.PROTOCOL_TLS_CLIENT with a "
             "minimum_version of TLS 1.2."),
    "B503": ("insecure SSL/TLS default version", 327, "Default to TLS 1.2 or later."),
    "B504": ("SSL/TLS without an explicit version", 327, "Create contexts with "
             "ssl.create_default_context() and a minimum TLS version."),
    "B505": ("weak cryptographic key", 326, "Use RSA/DSA keys of at least 2048 bits and EC "
             "curves of at least 224 bits."),
    "B506": ("yaml.load with an unsafe loader", 20, "Use yaml.safe_load (or SafeLoader)."),
    "B507": ("SSH host key not verified", 295, "Use RejectPolicy and a known_hosts file, not "
             "AutoAddPolicy / WarningPolicy."),
    "B508": ("insecure SNMP version", 319, "Use SNMPv3."),
    "B509": ("weak SNMP cryptography", 319, "Use SNMPv3 with authPriv."),
    "B601": ("paramiko exec_command", 78, "Never build remote commands from input; pass a "
             "fixed command and validated arguments."),
    "B602": ("subprocess call with shell=True", 78, "Pass an argument list without shell=True; "
             "never build shell strings from input."),
    "B603": ("subprocess call without shell", 78, "Check that the program and arguments cannot "
             "be influenced by input."),
    "B604": ("function call with shell=True", 78, "Do not run commands through a shell; pass an "
             "argument list."),
    "B605": ("process started with a shell", 78, "Replace os.system/os.popen with "
             "subprocess.run([...]) without a shell."),
    "B606": ("process started without a shell", 78, "Check that the program and arguments "
             "cannot be influenced by input."),
    "B607": ("process started with a partial path", 78, "Call programs by absolute path (or "
             "resolve them once with shutil.which and check the result)."),
    "B608": ("SQL built from strings", 89, "Use parameterised queries (placeholders), never "
             "string formatting."),
    "B609": ("wildcard in a shell command", 155, "Expand file lists in Python and pass them as "
             "arguments; a * lets file names become options."),
    "B610": ("Django extra() used", 89, "Use the ORM's query expressions instead of extra()."),
    "B611": ("Django RawSQL used", 89, "Use parameterised RawSQL params or the ORM."),
    "B612": ("logging.config.listen", 94, "Do not expose logging.config.listen; it evaluates "
             "configuration sent to the socket."),
    "B613": ("bidirectional control characters (Trojan Source)", 838, "Remove bidi control "
             "characters from source code."),
    "B614": ("torch.load without weights_only", 502, "Pass weights_only=True or use "
             "safetensors."),
    "B615": ("Hugging Face download without a pinned revision", 494, "Pin revision= to a commit "
             "hash for every from_pretrained / hub download."),
    "B701": ("Jinja2 autoescape disabled", 94, "Create environments with "
             "autoescape=select_autoescape() (or True)."),
    "B702": ("Mako templates (no autoescape)", 79, "Use default_filters=['h'] or a template "
             "engine that escapes by default."),
    "B703": ("Django mark_safe", 79, "Escape with format_html instead of mark_safe on "
             "anything that holds input."),
    "B704": ("markupsafe Markup on dynamic text", 79, "Build HTML with Markup.format / escape, "
             "never Markup(variable)."),
    "B301": ("pickle deserialization", 502, "Do not unpickle data that is not provably yours; "
             "use JSON, safetensors or a schema-checked format."),
    "B302": ("marshal deserialization", 502, "Do not unmarshal untrusted data."),
    "B303": ("MD2/MD4/MD5/SHA1 hash", 327, "Use SHA-256 or better."),
    "B304": ("insecure cipher", 327, "Use AES-GCM or ChaCha20-Poly1305."),
    "B305": ("insecure cipher mode (ECB)", 327, "Use an authenticated mode such as GCM."),
    "B306": ("tempfile.mktemp", 377, "Use tempfile.mkstemp or NamedTemporaryFile."),
    "B307": ("eval used", 78, "Use ast.literal_eval for literals, or parse the input; never "
            "eval it."),
    "B308": ("Django mark_safe call", 79, "Escape with format_html."),
    "B310": ("urllib urlopen with any scheme", 22, "Check the URL scheme is http(s) before "
             "opening it; file:// reads local files."),
    "B311": ("non-cryptographic random", 330, "Use the secrets module for tokens and keys."),
    "B312": ("telnetlib call", 319, "Use SSH."),
    "B313": ("xml.etree.cElementTree parse", 20, "Parse untrusted XML with defusedxml."),
    "B314": ("xml.etree.ElementTree parse", 20, "Parse untrusted XML with defusedxml."),
    "B315": ("xml.sax expatreader parse", 20, "Parse untrusted XML with defusedxml."),
    "B316": ("xml.dom expatbuilder parse", 20, "Parse untrusted XML with defusedxml."),
    "B317": ("xml.sax parse", 20, "Parse untrusted XML with defusedxml."),
    "B318": ("xml.dom.minidom parse", 20, "Parse untrusted XML with defusedxml."),
    "B319": ("xml.dom.pulldom parse", 20, "Parse untrusted XML with defusedxml."),
    "B321": ("ftplib call", 319, "Use SFTP or FTPS."),
    "B323": ("unverified SSL context", 295, "Use ssl.create_default_context()."),
    "B401": ("telnetlib import", 319, "Use SSH."),
    "B402": ("ftplib import", 319, "Use SFTP or FTPS."),
    "B403": ("pickle-family import", 502, "Check that nothing unpickled comes from outside; "
             "prefer JSON or safetensors."),
    "B404": ("subprocess import", 78, "Check every command built in this module."),
    "B405": ("xml.etree import", 20, "Parse untrusted XML with defusedxml."),
    "B406": ("xml.sax import", 20, "Parse untrusted XML with defusedxml."),
    "B407": ("xml.dom.expatbuilder import", 20, "Parse untrusted XML with defusedxml."),
    "B408": ("xml.dom.minidom import", 20, "Parse untrusted XML with defusedxml."),
    "B409": ("xml.dom.pulldom import", 20, "Parse untrusted XML with defusedxml."),
    "B411": ("xmlrpc import", 20, "Use defusedxml.xmlrpc (monkey_patch) or another protocol."),
    "B412": ("CGI handler import (httpoxy)", 284, "Do not serve through CGI handlers."),
    "B413": ("pyCrypto import", 327, "Use the cryptography package (pyCrypto is "
             "unmaintained)."),
    "B415": ("pyghmi (IPMI) import", 319, "Use an encrypted management protocol."),
}

#: bandit tests whose message quotes the value it flagged (a password): the value is withheld
_QUOTES_SECRET = frozenset({"B105", "B106", "B107"})
_QUOTED = re.compile(r"""(['"]).*\1""", re.DOTALL)
_NOSEC = re.compile(r"#\s*nosec\b:?(?P<tests>[^#]*)")
_NOSEC_ITEM = re.compile(r"[\w.\-]+")


@dataclass(frozen=True)
class BanditIssue:
    """One result of one bandit test."""

    test_id: str
    """``B602``."""
    test_name: str
    """bandit's name of the test (``subprocess_popen_with_shell_equals_true``)."""
    severity: str
    """bandit's ``LOW``/``MEDIUM``/``HIGH``/``UNDEFINED``."""
    confidence: str
    """Same scale."""
    cwe: int
    """CWE number (0: none)."""
    text: str
    """bandit's message (a quoted password withheld)."""
    line: int
    """1-based line."""
    column: int
    """1-based column."""
    lines: tuple[int, ...]
    """The lines of the flagged node (``# nosec`` on any of them applies)."""


def _bandit(module: str) -> Any:
    """A module of bandit (untyped: imported by name, used through its documented classes).
    Loading bandit's extensions logs and warns about optional formatters it cannot load (its
    SARIF formatter without ``sarif_om``): not secpipe's concern, so kept off the console."""
    if module in sys.modules:
        return sys.modules[module]
    quiet = logging.getLogger("stevedore")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    finally:
        quiet.setLevel(level)


def bandit_version() -> str:
    return str(getattr(_bandit("bandit"), "__version__", "unknown"))


def known_tests() -> dict[str, str]:
    """Test id -> test name of every test bandit's installed test set offers."""
    manager = _bandit("bandit.core.extension_loader").MANAGER
    tests = {pid: p.name for pid, p in manager.plugins_by_id.items()}
    tests.update({bid: info["name"] for bid, info in manager.blacklist_by_id.items()})
    return tests


def docs_url(test_id: str, name: str) -> str:
    """Where bandit documents the test."""
    base = "https://bandit.readthedocs.io/en/latest/"
    if test_id.startswith("B3"):
        return f"{base}blacklists/blacklist_calls.html"
    if test_id.startswith("B4"):
        return f"{base}blacklists/blacklist_imports.html"
    return f"{base}plugins/{test_id.lower()}_{name}.html"


class _Collect(logging.Handler):
    """Keeps the error records bandit logs (a test that raised), per thread: bandit logs in the
    thread that runs its tests, so two scans in one process (two ``scan-code`` steps of a stage)
    each get their own records."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._local = threading.local()

    def start(self) -> None:
        """Collect this thread's records from now on."""
        self._local.records = []

    def stop(self) -> list[str]:
        """This thread's records since :meth:`start`; collecting stops."""
        records: list[str] = getattr(self._local, "records", None) or []
        self._local.records = None
        return records

    def emit(self, record: logging.LogRecord) -> None:
        records = getattr(self._local, "records", None)
        if records is not None and len(records) < 20:
            records.append(record.getMessage().split("\n", 1)[0][:300])


class BanditRunner:
    """bandit's test set, built once, run over parsed trees."""

    def __init__(self, skip: frozenset[str] = frozenset()) -> None:
        config = _bandit("bandit.core.config")
        metrics = _bandit("bandit.core.metrics")
        test_set = _bandit("bandit.core.test_set")
        logger = logging.getLogger(BANDIT_LOGGER)
        logger.propagate = False  # bandit's warnings never reach secpipe's console
        logger.setLevel(logging.ERROR)
        collectors = [h for h in logger.handlers if isinstance(h, _Collect)]
        self._collector = collectors[0] if collectors else _Collect()
        if not collectors:  # one per process, however many runners are built
            logger.addHandler(self._collector)
        self._config = config.BanditConfig()
        self.testset = test_set.BanditTestSet(self._config, {"exclude": sorted(skip)})
        self._metrics = metrics.Metrics()
        self._names = known_tests()

    @contextmanager
    def _errors(self) -> Iterator[list[str]]:
        """The records of bandit tests that raised while the block ran, in this thread."""
        errors: list[str] = []
        self._collector.start()
        try:
            yield errors
        finally:
            errors.extend(self._collector.stop())

    def run(self, tree: ast.Module, code: bytes, fname: str) -> tuple[list[BanditIssue], list[str]]:
        """Every bandit result on ``tree`` (parsed from ``code``), and the errors of tests that
        raised. ``fname`` is the file's path (bandit derives a module name from it). The tree
        gains bandit's ``_bandit_parent``/``_bandit_sibling`` attributes."""
        meta_ast = _bandit("bandit.core.meta_ast")
        node_visitor = _bandit("bandit.core.node_visitor")
        with self._errors() as errors:
            visitor = node_visitor.BanditNodeVisitor(
                fname, io.BytesIO(code), meta_ast.BanditMetaAst(), self.testset, False, {},
                self._metrics)
            visitor.generic_visit(tree)
            visitor.context = {"file_data": io.BytesIO(code), "filename": fname,
                               "lineno": 0, "linerange": [0, 1], "col_offset": 0}
            visitor.tester.run_tests(visitor.context, "File")
        issues = [self._issue(r) for r in visitor.tester.results]
        return [i for i in issues if i is not None], errors

    def _issue(self, result: Any) -> BanditIssue | None:
        """bandit's result as an issue; None for a "hard-coded password" whose value is a
        placeholder or a made-up test value (``hf_xxx``, ``<your-key>``, ``changeme``), judged
        by the secrets scanner's own placeholder checks (real credentials are scan-secrets')."""
        test_id = str(result.test_id)
        text = str(result.text)
        if test_id in _QUOTES_SECRET:
            quoted = _QUOTED.search(text)
            if quoted is not None and _made_up(quoted.group(0)[1:-1]):
                return None
            text = _QUOTED.sub("(value withheld)", text)
        line = int(result.lineno or 1)
        lines = tuple(int(n) for n in (result.linerange or ()) if isinstance(n, int))
        col = int(result.col_offset) if isinstance(result.col_offset, int) else -1
        return BanditIssue(
            test_id=test_id, test_name=self._names.get(test_id, str(result.test)),
            severity=str(result.severity), confidence=str(result.confidence),
            cwe=int(getattr(result.cwe, "id", 0) or 0), text=text, line=line,
            column=max(col, 0) + 1, lines=lines or (line,))


_FILLER = re.compile(r"(?:[A-Za-z]{1,8}[_-])?([xX*.0#])\1{2,}")
"""A prefix and one character repeated: ``hf_xxx``, ``sk-****``, ``xxxxxxxx``."""


def _made_up(value: str) -> bool:
    from secpipe.scanners.secrets.checks import is_placeholder, is_test_value

    return (not value.strip() or _FILLER.fullmatch(value) is not None
            or is_placeholder(value) or is_test_value(value))


def nosec_lines(text: str) -> dict[int, frozenset[str]]:
    """Line -> what its ``# nosec`` comment names (empty: everything) for each line that has
    one. Only real comments count (tokenized), never ``nosec`` inside a string."""
    if "nosec" not in text:
        return {}
    found: dict[int, frozenset[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT and "nosec" in tok.string:
                match = _NOSEC.search(tok.string)
                if match:
                    found[tok.start[0]] = frozenset(_NOSEC_ITEM.findall(match.group("tests")))
    except (tokenize.TokenError, SyntaxError):
        pass  # the tree parsed; a tokenizer quirk only loses the comments after it
    return found


def is_suppressed(nosec: dict[int, frozenset[str]], lines: tuple[int, ...],
                  names: tuple[str, ...]) -> bool:
    """True when a ``# nosec`` on one of ``lines`` is bare or names one of ``names`` (a test id,
    a test name, or a secpipe rule id)."""
    for line in lines:
        named = nosec.get(line)
        if named is not None and (not named or any(n in named for n in names)):
            return True
    return False


#: A literal container spanning more lines than this is split into pieces before bandit's tests.
LITERAL_SPLIT_LINES = 64
_CONTAINERS = (ast.Dict, ast.List, ast.Tuple, ast.Set)


def _pure_literal(node: ast.expr, budget: list[int]) -> bool:
    """Whether ``node`` holds only constants, containers and signed numbers (no call, name or
    operator a test could look at). ``budget`` bounds the nodes visited."""
    stack: list[ast.AST] = [node]
    while stack:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        cur = stack.pop()
        if isinstance(cur, ast.Constant | ast.expr_context):
            continue
        if isinstance(cur, ast.UnaryOp) and isinstance(cur.op, ast.USub | ast.UAdd):
            stack.append(cur.operand)
        elif isinstance(cur, ast.Dict):
            if any(k is None for k in cur.keys):
                return False  # `{**other}`
            stack.extend(k for k in cur.keys if k is not None)
            stack.extend(cur.values)
        elif isinstance(cur, ast.List | ast.Tuple | ast.Set):
            stack.extend(cur.elts)
        else:
            return False
    return True


def _span(node: ast.expr) -> int:
    return (node.end_lineno or node.lineno) - node.lineno


def _group(kind: ast.expr, items: list[tuple[ast.expr | None, ast.expr]]) -> ast.expr:
    """A container of the same kind as ``kind`` holding ``items`` ((key, value) pairs for a
    dict, (None, element) otherwise), placed where its first and last items are."""
    first = items[0][0] or items[0][1]
    last = items[-1][1]
    new: ast.expr
    if isinstance(kind, ast.Dict):
        new = ast.Dict(keys=[k for k, _ in items], values=[v for _, v in items])
    elif isinstance(kind, ast.Set):
        new = ast.Set(elts=[v for _, v in items])
    elif isinstance(kind, ast.Tuple):
        new = ast.Tuple(elts=[v for _, v in items], ctx=ast.Load())
    else:
        new = ast.List(elts=[v for _, v in items], ctx=ast.Load())
    new.lineno, new.col_offset = first.lineno, first.col_offset
    new.end_lineno, new.end_col_offset = last.end_lineno, last.end_col_offset
    return new


def _pieces(node: ast.expr, depth: int = 0) -> list[ast.expr]:
    """``node`` (a pure literal) as containers of the same kinds, each spanning at most
    :data:`LITERAL_SPLIT_LINES` lines unless it is one element; every key keeps its value."""
    if not isinstance(node, _CONTAINERS) or _span(node) <= LITERAL_SPLIT_LINES or depth > 50:
        return [node]
    pairs: list[tuple[ast.expr | None, ast.expr]] = (
        list(zip(node.keys, node.values, strict=True)) if isinstance(node, ast.Dict)
        else [(None, e) for e in node.elts])
    out: list[ast.expr] = []
    group: list[tuple[ast.expr | None, ast.expr]] = []
    for key, value in pairs:
        if isinstance(value, _CONTAINERS) and _span(value) > LITERAL_SPLIT_LINES:
            if group:
                out.append(_group(node, group))
                group = []
            inner = _pieces(value, depth + 1)
            out.append(_group(node, [(key, inner[0])]) if key is not None else inner[0])
            out.extend(inner[1:])
            continue
        group.append((key, value))
        start = group[0][0] or group[0][1]
        if (value.end_lineno or value.lineno) - start.lineno >= LITERAL_SPLIT_LINES:
            out.append(_group(node, group))
            group = []
    if group:
        out.append(_group(node, group))
    return out


class _LiteralSplitter(ast.NodeTransformer):
    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        return self._split(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | list[ast.stmt]:
        return self._split(node)

    def visit_Expr(self, node: ast.Expr) -> ast.AST | list[ast.stmt]:
        return self._split(node)

    def visit_Return(self, node: ast.Return) -> ast.AST | list[ast.stmt]:
        return self._split(node)

    @staticmethod
    def _split(node: ast.Assign | ast.AnnAssign | ast.Expr | ast.Return
               ) -> ast.AST | list[ast.stmt]:
        value = node.value
        if not (isinstance(value, _CONTAINERS) and _span(value) > LITERAL_SPLIT_LINES
                and _pure_literal(value, [5_000_000])):
            return node
        pieces = _pieces(value)
        node.value = pieces[0]
        rest: list[ast.stmt] = []
        for piece in pieces[1:]:
            stmt = ast.Expr(value=piece)
            stmt.lineno, stmt.col_offset = piece.lineno, piece.col_offset
            stmt.end_lineno, stmt.end_col_offset = piece.end_lineno, piece.end_col_offset
            rest.append(stmt)
        return [node, *rest]


def split_large_literals(tree: ast.Module) -> ast.Module:
    """Prepare a tree for bandit's tests (in place): every statement whose value is a literal
    container (only constants inside) spanning many lines becomes a few statements, each a
    container of at most :data:`LITERAL_SPLIT_LINES` lines of the same items.

    bandit checks each string against the line range of its parent (for ``# nosec``), which
    for the keys of a 150,000-line dictionary costs 150,000 steps per key: minutes for a
    generated vocabulary file. Its string tests (B104, B105, B108, B608) look only at the
    string, its key or value partner and its direct parent's kind, which the pieces keep, so
    the findings are the same, with the same lines. Call it after every other use of the
    tree: the containers are rebuilt."""
    result = _LiteralSplitter().visit(tree)
    assert isinstance(result, ast.Module)
    return result


def file_bytes(text: str) -> bytes:
    """The decoded ``text`` of a file as bytes for bandit's ``File`` tests, in the encoding its
    own ``coding:`` declaration names (those tests re-detect the encoding from the bytes, as
    Python does): a ``# -*- coding: big5 -*-`` file handed over as UTF-8 made bandit's
    Trojan Source test fail on it. Without a declaration, or when the text cannot be written
    in the declared encoding, UTF-8."""
    utf8 = text.encode("utf-8", "surrogatepass")
    try:
        declared, _ = tokenize.detect_encoding(io.BytesIO(utf8).readline)
    except SyntaxError:
        return utf8
    if declared in ("utf-8", "utf-8-sig"):
        return utf8
    try:
        return text.encode(declared)
    except (UnicodeError, LookupError):
        return utf8
