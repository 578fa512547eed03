"""Rules that look at one call: unsafe loaders, model output reaching a sink, risky flags."""

from __future__ import annotations

import ast
import re

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.code.flow import (
    REMOTE,
    UNTRUSTED,
    CallSite,
    Taint,
    chain_text,
    describe,
    is_false,
    is_true,
    kinds_of,
)
from secpipe.scanners.code.ml_hits import Hits, ladder
from secpipe.scanners.code.ml_literals import check_token_call, env_setting

LLM = frozenset({"llm"})

PICKLE_LOADERS = frozenset({
    "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads",
    "_pickle.Unpickler", "cPickle.load", "cPickle.loads", "cPickle.Unpickler", "dill.load",
    "dill.loads", "dill.Unpickler", "cloudpickle.load", "cloudpickle.loads", "joblib.load",
    "sklearn.externals.joblib.load", "pandas.read_pickle", "shelve.open",
    "shelve.DbfilenameShelf", "torch.package.PackageImporter", "jsonpickle.decode",
    "jsonpickle.loads", "pickle5.load", "pickle5.loads", "dill.load_session",
})
EXEC_SINKS = frozenset({"builtins.eval", "builtins.exec", "builtins.compile", "pandas.eval",
                        "sympy.sympify", "numexpr.evaluate", "builtins.__import__",
                        "importlib.import_module"})
SHELL_STRING = frozenset({"os.system", "os.popen", "subprocess.getoutput",
                          "subprocess.getstatusoutput", "commands.getoutput", "os.popen2",
                          "os.popen3", "pty.spawn", "asyncio.create_subprocess_shell"})
SUBPROCESS = frozenset({"subprocess.run", "subprocess.call", "subprocess.check_call",
                        "subprocess.check_output", "subprocess.Popen", "os.execv", "os.execvp",
                        "os.execl", "os.execlp", "os.spawnv", "os.spawnl",
                        "asyncio.create_subprocess_exec"})
SQL_METHODS = frozenset({"execute", "executemany", "executescript", "exec_driver_sql", "raw",
                         "read_sql", "read_sql_query", "sql", "query_df"})
HTML_SINKS = frozenset({"streamlit.html", "streamlit.components.v1.html", "markupsafe.Markup",
                        "flask.Markup", "jinja2.Markup", "flask.render_template_string",
                        "fastapi.responses.HTMLResponse", "starlette.responses.HTMLResponse",
                        "gradio.HTML", "IPython.display.HTML", "IPython.core.display.HTML",
                        "django.utils.safestring.mark_safe", "django.http.HttpResponse",
                        "flask.make_response", "panel.pane.HTML", "dash.html.Iframe"})
RESPONSES = frozenset({"flask.Response", "werkzeug.Response", "werkzeug.wrappers.Response",
                       "starlette.responses.Response", "fastapi.Response",
                       "fastapi.responses.Response"})
SHELLS = frozenset({"sh", "bash", "zsh", "cmd", "cmd.exe", "powershell", "pwsh", "/bin/sh",
                    "/bin/bash"})
AGENT_TOOLS = frozenset({"PythonREPLTool", "PythonAstREPLTool", "PythonREPL", "ShellTool",
                         "BashProcess", "LLMMathChain", "PALChain", "LLMBashChain",
                         "create_python_agent", "PandasQueryEngine",
                         "LocalCommandLineCodeExecutor", "PythonInterpreterTool",
                         "LocalPythonInterpreter", "LocalPythonExecutor"})
AGENT_TOOL_NAMES = frozenset({"python_repl", "terminal", "shell", "bash", "python",
                              "llm-math", "pal-math", "pal-colored-objects"})
HTTP_VERBS = frozenset({"get", "post", "put", "delete", "patch", "head", "request", "options",
                        "stream", "urlopen", "Session", "Client", "AsyncClient", "send"})
DOWNLOADERS = ("requests.", "httpx.", "urllib.request.urlopen", "urllib.request.urlretrieve",
               "wget.download", "torch.hub.load_state_dict_from_url",
               "torch.hub.download_url_to_file", "keras.utils.get_file",
               "tensorflow.keras.utils.get_file", "gdown.download", "fsspec.open")
_SAFE_LOADER = re.compile(r"(^|\.)(C?SafeLoader|BaseLoader)$")
_UNSAFE_LOADER = re.compile(r"(^|\.)(Loader|UnsafeLoader|CLoader|CUnsafeLoader)$")
_SAFE_FILTER = re.compile(r"\|\s*safe\b")
_LOCAL_HOSTS = ("localhost", "127.", "0.0.0.0", "[::1]")  # noqa: S104 - a host name, not a bind


def _name(site: CallSite) -> str:
    return (site.qual or chain_text(site.node.func)).removeprefix("builtins.")


def _short(site: CallSite) -> str:
    """The callee's last name, even when it is not resolved through an import."""
    func = site.node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _first_arg_taint(site: CallSite) -> tuple[ast.expr | None, Taint]:
    node = site.arg(0)
    return node, site.taint(node)


def check_call(site: CallSite, hits: Hits) -> None:
    """Run every call rule on one call."""
    qual = site.qual or ""
    _loads(site, qual, hits)
    _llm_sinks(site, qual, hits)
    _flags(site, qual, hits)
    check_token_call(site, hits)


# ------------------------------------------------------------------------- loaders
def _loads(site: CallSite, qual: str, hits: Hits) -> None:
    node = site.node
    if qual == "torch.load":
        _torch_load(site, hits)
    elif qual in PICKLE_LOADERS:
        data = site.arg(0)
        if site.is_selfmade(data) or _repo_file(site, data):
            hits.clear(node, 502)  # a round trip, or a file the repository ships
            return
        sev, conf, why = ladder(site.taint(data), site.is_const(data))
        hits.at("code.pickle-deserialization", node,
                f"{qual}() deserialises pickle data {why}", sev, conf)
    elif is_true(site.kw("allow_dangerous_deserialization")) or (
            qual.startswith("mlflow.") and qual.endswith(".load_model")) or (
            qual == "skops.io.load" and is_true(site.kw("trusted"))):
        data = site.arg(0)
        sev, conf, why = ladder(site.taint(data), site.is_const(data))
        what = ("allow_dangerous_deserialization=True: pickle" if site.kw(
            "allow_dangerous_deserialization") is not None else "a pickled model")
        hits.at("code.pickle-deserialization", node,
                f"{_name(site)}() loads {what} {why}",
                max(sev, Severity.MEDIUM, key=lambda s: s.rank), conf)
    elif qual == "numpy.load" and is_true(site.kw("allow_pickle")):
        data = site.arg(0, "file")
        if site.is_selfmade(data) or _repo_file(site, data):
            hits.clear(node, 502)
            return
        sev, conf, why = ladder(site.taint(data), site.is_const(data))
        hits.at("code.numpy-allow-pickle", node,
                f"numpy.load(..., allow_pickle=True) of data {why}", sev, conf)
    elif _is_keras_load(qual):
        _keras_load(site, qual, hits)
    elif qual in ("keras.config.enable_unsafe_deserialization",
                  "tensorflow.keras.config.enable_unsafe_deserialization"):
        hits.at("code.keras-unsafe-load", node,
                f"{qual}() turns Keras safe_mode off for every later load")
    elif qual in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.unsafe_load_all"):
        _yaml(site, qual, hits)
    elif qual == "torch.hub.load":
        repo = site.arg(0, "repo_or_dir")
        kinds = kinds_of(site.taint(repo))
        if kinds & UNTRUSTED:
            hits.at("code.torch-hub-untrusted", node,
                    "torch.hub.load() of a repository named "
                    f"from {describe(site.taint(repo), UNTRUSTED)}", Severity.HIGH)
        elif is_true(site.kw("trust_repo")):
            hits.at("code.torch-hub-untrusted", node,
                    "torch.hub.load(..., trust_repo=True) runs the repository's hubconf.py "
                    "without confirmation")
    _archives(site, qual, hits)


def _torch_load(site: CallSite, hits: Hits) -> None:
    node = site.node
    data = site.arg(0, "f")
    taint = site.taint(data)
    kinds = kinds_of(taint)
    weights_only = site.kw("weights_only")
    if is_true(weights_only):
        return
    if site.is_selfmade(data):
        hits.clear(node, 502)
        return
    if weights_only is not None and is_false(weights_only):
        sev, _conf, why = ladder(taint, site.is_const(data))
        hits.at("code.torch-load-unsafe", node,
                f"torch.load(..., weights_only=False) unpickles a checkpoint {why}",
                max(sev, Severity.HIGH, key=lambda s: s.rank), Confidence.HIGH)
    elif weights_only is not None:
        return  # a variable: decided elsewhere, not provably unsafe
    elif kinds & UNTRUSTED:
        hits.at("code.torch-load-unsafe", node,
                "torch.load() without weights_only=True (unsafe before torch 2.6) of a "
                f"checkpoint from {describe(taint, UNTRUSTED)}", Severity.HIGH, Confidence.MEDIUM)
    else:
        hits.at("code.torch-load-unsafe", node,
                "torch.load() without weights_only=True: unpickles arbitrary objects on torch "
                "older than 2.6", Severity.LOW, Confidence.LOW)


ASGI_APPS = frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI",
                       "starlette.applications.Starlette"})
"""Application constructors whose ``debug=True`` sends tracebacks in error responses."""


def module_true_names(tree: ast.Module) -> frozenset[str]:
    """Names the module binds once, at its top level, to the literal ``True`` (``DEBUG = True``):
    ``app.run(debug=DEBUG)`` is then ``debug=True``."""
    bound: dict[str, int] = {}
    true: set[str] = set()
    top = {id(stmt) for stmt in tree.body}
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = bound.get(target.id, 0) + 1
                    if id(stmt) in top and isinstance(stmt.value, ast.Constant) and \
                            stmt.value.value is True:
                        true.add(target.id)
    return frozenset(n for n in true if bound[n] == 1)


def module_templates_with_safe(tree: ast.Module) -> frozenset[str]:
    """Names the module binds, once and at its top level, to a string literal holding a |safe
    filter (``PAGE = "…{{ x|safe }}…"``): a template rendered by name keeps its filter."""
    bound: dict[str, int] = {}
    safe: set[str] = set()
    for stmt in tree.body:
        targets: list[ast.expr]
        value: ast.expr | None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
            targets, value = [stmt.target], stmt.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                bound[target.id] = bound.get(target.id, 0) + 1
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and \
                        _SAFE_FILTER.search(value.value):
                    safe.add(target.id)
    return frozenset(n for n in safe if bound[n] == 1)


def _repo_file(site: CallSite, data: ast.expr | None) -> bool:
    """Whether a loader's argument is provably a file of the repository: a path built only from
    literals (and ``__file__``), tainted by nothing. The rule is about files that are not
    provably local; the content of a repository file is the model scanner's (scan-models reads
    every pickle in the tree without loading it)."""
    if data is None or not site.is_const(data) or (
            kinds_of(site.taint(data)) & (UNTRUSTED | LLM | {"param"})):
        return False
    # an absolute literal (`/tmp/model.pkl`, `~/cache/x.pkl`) names a file outside the
    # repository, which anyone with access to that folder may have written
    return not any(isinstance(n, ast.Constant) and isinstance(n.value, str)
                   and n.value.startswith(("/", "~", "\\")) for n in ast.walk(data))


def _is_keras_load(qual: str) -> bool:
    return qual.endswith(".load_model") and qual.startswith(
        ("keras.", "tensorflow.keras.", "tf_keras.", "tensorflow.python.keras."))


def _keras_load(site: CallSite, qual: str, hits: Hits) -> None:
    data = site.arg(0, "filepath")
    taint = site.taint(data)
    if is_false(site.kw("safe_mode")):
        sev, _conf, why = ladder(taint, site.is_const(data))
        hits.at("code.keras-unsafe-load", site.node,
                f"{qual}(..., safe_mode=False) of a model {why}",
                max(sev, Severity.HIGH, key=lambda s: s.rank), Confidence.HIGH)
    elif kinds_of(taint) & UNTRUSTED:
        hits.at("code.keras-unsafe-load", site.node,
                f"{qual}() of a model from {describe(taint, UNTRUSTED)}: legacy HDF5 models "
                "are not covered by safe_mode", Severity.MEDIUM, Confidence.MEDIUM)


def _yaml(site: CallSite, qual: str, hits: Hits) -> None:
    data = site.arg(0, "stream")
    loader = site.arg(1, "Loader")
    if qual.startswith("yaml.unsafe_load"):
        why = f"{qual}() constructs arbitrary Python objects"
    elif loader is None:
        why = f"{qual}() without Loader= (unsafe on PyYAML < 5.1)"
    else:
        name = site.flow.resolve(loader) or chain_text(loader)
        if _SAFE_LOADER.search(name) or not _UNSAFE_LOADER.search(name):
            return
        why = f"{qual}(..., Loader={name.rsplit('.', 1)[-1]}) constructs arbitrary objects"
    taint = site.taint(data)
    sev = Severity.HIGH if kinds_of(taint) & UNTRUSTED else Severity.MEDIUM
    src = f" from {describe(taint, UNTRUSTED)}" if kinds_of(taint) & UNTRUSTED else ""
    hits.at("code.yaml-unsafe-load", site.node, why + src, sev)


def _archives(site: CallSite, qual: str, hits: Hits) -> None:
    method = site.method
    node = site.node
    tar = any(s.kind == "obj" and s.what.startswith("tarfile.") for s in site.receiver)
    if method in ("extractall", "extract") and (tar or qual.startswith("tarfile.")):
        flt = site.kw("filter")
        if flt is not None and not (isinstance(flt, ast.Constant) and
                                    flt.value == "fully_trusted"):
            return
        if site.kw("members") is not None and method == "extractall":
            return  # the caller chose the members: assumed checked
        taint = site.receiver
        if kinds_of(taint) & UNTRUSTED:
            hits.at("code.archive-path-traversal", node,
                    f"tarfile {method}() without filter= of an archive from "
                    f"{describe(taint, UNTRUSTED)}", Severity.HIGH, Confidence.HIGH)
        else:
            hits.at("code.archive-path-traversal", node,
                    f"tarfile {method}() without filter= (members may write outside the "
                    "target)")
    elif qual == "shutil.unpack_archive" and site.kw("filter") is None:
        data = site.arg(0, "filename")
        taint = site.taint(data)
        if kinds_of(taint) & UNTRUSTED:
            hits.at("code.archive-path-traversal", node,
                    "shutil.unpack_archive() without filter= of an archive from "
                    f"{describe(taint, UNTRUSTED)}", Severity.HIGH, Confidence.MEDIUM)
        elif not site.is_const(data):
            hits.at("code.archive-path-traversal", node,
                    "shutil.unpack_archive() without filter= of an archive not known to be "
                    "local", Severity.LOW, Confidence.LOW)


# ------------------------------------------------------------------------- LLM output sinks
def _llm_sinks(site: CallSite, qual: str, hits: Hits) -> None:
    node = site.node
    name = _name(site)
    if qual in EXEC_SINKS or (site.method == "eval" and kinds_of(site.receiver) & {"obj"}
                              and any(s.what.startswith("pandas.") for s in site.receiver)):
        data, taint = _first_arg_taint(site)
        if data is None or isinstance(data, ast.Constant):
            return
        kinds = kinds_of(taint)
        if kinds & LLM:
            hits.at("code.llm-output-exec", node,
                    f"{name}() runs model output from {describe(taint, LLM)}")
        elif qual in ("builtins.__import__", "importlib.import_module"):
            return
        elif kinds & REMOTE:
            hits.at("code.untrusted-code-exec", node,
                    f"{name}() runs data from {describe(taint, REMOTE)}",
                    Severity.CRITICAL, Confidence.HIGH)
        elif qual == "builtins.compile":
            return  # compiling is not running: the exec/eval of the result is the sink
        elif kinds & {"env", "input"}:
            hits.at("code.untrusted-code-exec", node,
                    f"{name}() runs data from {describe(taint, UNTRUSTED)}",
                    Severity.HIGH, Confidence.MEDIUM)
        elif kinds & UNTRUSTED:
            hits.at("code.untrusted-code-exec", node,
                    f"{name}() runs code named on the command line "
                    f"({describe(taint, UNTRUSTED)})", Severity.MEDIUM, Confidence.LOW)
        elif qual in ("builtins.eval", "builtins.exec") and not site.is_const(data):
            hits.at("code.untrusted-code-exec", node,
                    f"{name}() of a string that is not a literal (configuration or computed "
                    "text)", Severity.LOW, Confidence.LOW)
        return
    if qual in SHELL_STRING:
        data, taint = _first_arg_taint(site)
        if kinds_of(taint) & LLM:
            hits.at("code.llm-output-shell", node,
                    f"{name}() runs a command built from model output from "
                    f"{describe(taint, LLM)}")
        return
    if qual in SUBPROCESS:
        _subprocess(site, name, hits)
        return
    sql_db = site.method == "run" and any(s.kind == "obj" and "SQLDatabase" in s.what
                                          for s in site.receiver)
    if site.method in SQL_METHODS or sql_db or qual in ("pandas.read_sql",
                                                        "pandas.read_sql_query",
                                                        "sqlalchemy.text"):
        data, taint = _first_arg_taint(site)
        if data is not None and kinds_of(taint) & LLM:
            hits.at("code.llm-output-sql", node,
                    f"{name}() executes SQL built from model output from "
                    f"{describe(taint, LLM)}")
        return
    _html(site, qual, name, hits)


def _fixed_argv(site: CallSite, cmd: ast.expr, taint: Taint) -> bool:
    """A command that cannot be injected: an argv list (no shell) naming a literal program,
    whose every element the data flow knows the origin of and finds nothing untrusted in
    (literals, values checked against an allow-list, the code's own computations)."""
    if site.kw("shell") is not None and not is_false(site.kw("shell")):
        return False
    if isinstance(cmd, ast.Subscript) and site.is_const(cmd.value):
        return not kinds_of(taint)  # one of the code's own argv lists, picked by a clean key
    if not isinstance(cmd, ast.List | ast.Tuple) or not cmd.elts:
        return False
    first = cmd.elts[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return False
    return not kinds_of(taint) and not any(isinstance(e, ast.Starred) for e in cmd.elts)


def _subprocess(site: CallSite, name: str, hits: Hits) -> None:
    cmd = site.arg(0, "args")
    if cmd is None:
        return
    taint = site.taint(cmd)
    if _fixed_argv(site, cmd, taint):
        hits.clear(site.node, 78)  # bandit's "subprocess call" notices (B603/B607) are moot
        return
    if not kinds_of(taint) & LLM:
        return
    shell = is_true(site.kw("shell"))
    if isinstance(cmd, ast.List | ast.Tuple):
        elts = cmd.elts
        first = elts[0] if elts else None
        program = site.taint(first) if first is not None else frozenset()
        via_shell = (isinstance(first, ast.Constant) and str(first.value) in SHELLS
                     and len(elts) >= 3 and kinds_of(site.taint(elts[2])) & LLM)
        if not (kinds_of(program) & LLM or via_shell or shell):
            return  # model output only as an argument of a fixed program
    hits.at("code.llm-output-shell", site.node,
            f"{name}() runs a command {'through the shell ' if shell else ''}built from model "
            f"output from {describe(taint, LLM)}")


def check_return(stmt: ast.Return, taint: Taint, route: str, hits: Hits) -> None:
    """A Flask view returning a string serves it as text/html: model output in it is XSS."""
    value = stmt.value
    if route != "flask" or value is None or not kinds_of(taint) & LLM:
        return
    if isinstance(value, ast.Dict | ast.List) or (isinstance(value, ast.Call) and _short_call(
            value) in ("jsonify", "dumps", "make_response", "Response", "render_template",
                       "render_template_string")):
        return  # JSON, or a response whose type is decided elsewhere, or a template Flask
        # renders with autoescape on (its source and its |safe filters are checked at the call)
    if isinstance(value, ast.Tuple) and value.elts and isinstance(value.elts[0], ast.Dict):
        return
    hits.at("code.llm-output-html", stmt,
            f"a Flask view returns model output from {describe(taint, LLM)}, served as "
            "text/html without escaping")


def _short_call(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else (
        func.id if isinstance(func, ast.Name) else "")


def _html(site: CallSite, qual: str, name: str, hits: Hits) -> None:
    node = site.node
    unsafe_kw = is_true(site.kw("unsafe_allow_html"))
    sink = unsafe_kw or qual in HTML_SINKS
    if qual in RESPONSES or (site.method in ("Response",) and not qual):
        ctype = site.kw("mimetype") or site.kw("content_type") or site.kw("media_type")
        sink = isinstance(ctype, ast.Constant) and "html" in str(ctype.value)
    if sink:
        data = site.arg(0, "body") or site.arg(0, "content") or site.arg(0, "value")
        if qual == "flask.render_template_string":
            data = site.arg(0, "source")
        taint = site.taint(data)
        if kinds_of(taint) & LLM:
            what = "with unsafe_allow_html=True " if unsafe_kw else ""
            hits.at("code.llm-output-html", node,
                    f"{name}() {what}renders model output from {describe(taint, LLM)} as HTML")
            return
        if qual != "flask.render_template_string":
            return
    _jinja(site, qual, name, hits)


def _jinja(site: CallSite, qual: str, name: str, hits: Hits) -> None:
    node = site.node
    if qual in ("jinja2.Environment", "jinja2.environment.Environment"):
        auto = site.kw("autoescape")
        if auto is not None and not is_false(auto):
            hits.escaped_envs.add(node.lineno)
        elif is_false(auto):
            hits.at("code.jinja-autoescape-off", node,
                    "jinja2.Environment(autoescape=False): templates render values as raw HTML")
        return
    source: ast.expr | None = None
    if qual in ("jinja2.Template", "flask.render_template_string") or (
            site.method == "from_string" and _jinja_receiver(site.receiver)):
        source = site.arg(0, "source")
        if (isinstance(source, ast.Constant) and isinstance(source.value, str)
                and _SAFE_FILTER.search(source.value)) or (
                isinstance(source, ast.Name) and source.id in hits.safe_template_names):
            hits.safe_templates.add(node.lineno)
        taint = site.taint(source)
        if kinds_of(taint) & LLM:
            hits.at("code.jinja-autoescape-off", node,
                    f"{name}() builds a template from model output from "
                    f"{describe(taint, LLM)} (server-side template injection)",
                    Severity.CRITICAL, Confidence.HIGH)
            return
    if qual == "flask.render_template_string":
        rendered = _union_kwargs(site)
        if node.lineno in hits.safe_templates and kinds_of(rendered) & LLM:
            hits.at("code.jinja-autoescape-off", node,
                    f"{name}() renders model output from {describe(rendered, LLM)} through "
                    "a |safe filter", Severity.HIGH, Confidence.HIGH)
        return
    if site.method in ("render", "render_async", "stream", "generate") and _jinja_receiver(
            site.receiver):
        rendered = _union_kwargs(site)
        if not kinds_of(rendered) & LLM:
            return
        lines = {s.line for s in site.receiver if s.kind == "obj"}
        envs = [s for s in site.receiver if s.kind == "obj" and s.what in (
            "jinja2.Environment", "jinja2.environment.Environment")]
        unescaped = (any(s.what == "jinja2.Template" for s in site.receiver) or
                     any(s.line not in hits.escaped_envs for s in envs))
        with_safe = bool(lines & hits.safe_templates)
        if unescaped or with_safe:
            how = "through a |safe filter" if with_safe and not unescaped else \
                "with autoescape off"
            hits.at("code.jinja-autoescape-off", node,
                    f"template .{site.method}() puts model output from "
                    f"{describe(rendered, LLM)} into HTML {how}", Severity.HIGH,
                    Confidence.HIGH)


def _jinja_receiver(receiver: Taint) -> bool:
    return any(s.kind == "obj" and s.what.startswith("jinja2.") for s in receiver)


def _union_kwargs(site: CallSite) -> Taint:
    result: Taint = frozenset()
    for value in site.all_args():
        result |= site.taint(value)
    return result


# ------------------------------------------------------------------------- risky flags
def _flags(site: CallSite, qual: str, hits: Hits) -> None:
    node = site.node
    method = site.method
    name = _name(site)
    trc = site.kw("trust_remote_code")
    if is_true(trc):
        model = site.arg(0)
        taint = site.taint(model)
        if kinds_of(taint) & UNTRUSTED:
            hits.at("code.trust-remote-code", node,
                    f"{name}(..., trust_remote_code=True) of a repository named from "
                    f"{describe(taint, UNTRUSTED)}", Severity.CRITICAL)
        else:
            hits.at("code.trust-remote-code", node,
                    f"{name}(..., trust_remote_code=True) runs Python from the model "
                    "repository")
    elif trc is not None and kinds_of(site.taint(trc)) & UNTRUSTED:
        hits.at("code.trust-remote-code", node,
                f"{name}(trust_remote_code=...) set from {describe(site.taint(trc), UNTRUSTED)}",
                Severity.MEDIUM, Confidence.MEDIUM)
    _agents(site, qual, hits)
    _tls(site, qual, hits)
    debug = site.kw("debug")
    debug_on = is_true(debug) or (isinstance(debug, ast.Name) and debug.id in hits.true_names)
    if method in ("run", "run_server") and debug_on and not qual.startswith(
            ("uvicorn.", "hypercorn.", "gradio.")):
        hits.at("code.debug-server", node,
                f"{chain_text(node.func)}(debug=True) serves the interactive debugger")
    elif qual in ASGI_APPS and debug_on:
        hits.at("code.debug-server", node,
                f"{chain_text(node.func)}(debug=True) returns tracebacks to every client")
    if method == "launch" and is_true(site.kw("share")):
        authed = site.kw("auth") is not None
        hits.at("code.gradio-public-share", node,
                f"{chain_text(node.func)}(share=True) publishes the app on a public link"
                + (" (with auth=)" if authed else " without authentication"),
                Severity.LOW if authed else None)


def _agents(site: CallSite, qual: str, hits: Hits) -> None:
    node = site.node
    short = _short(site)
    parts = set(qual.split(".")) if qual else set(chain_text(node.func).split("."))
    resolved_short = next(iter(sorted(parts & AGENT_TOOLS)), qual.rsplit(".", 1)[-1])
    from_agent_lib = qual.startswith(("langchain", "llama_index", "autogen", "smolagents",
                                      "crewai")) or (not qual and isinstance(node.func, ast.Name)
                                                     and node.func.id not in site.flow.scope.env)
    if (resolved_short or short) in AGENT_TOOLS and from_agent_lib:
        hits.at("code.agent-code-execution-tool", node,
                f"{qual or short}() lets the model run code on this host")
        return
    if is_true(site.kw("allow_dangerous_code")):
        hits.at("code.agent-code-execution-tool", node,
                f"{qual or short}(allow_dangerous_code=True) lets the model run Python on this "
                "host")
        return
    config = site.kw("code_execution_config")
    if isinstance(config, ast.Dict):
        for key, value in zip(config.keys, config.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "use_docker" and is_false(value):
                hits.at("code.agent-code-execution-tool", node,
                        f"{qual or short}(code_execution_config={{'use_docker': False}}) runs "
                        "model-written code on this host")
                return
    if (resolved_short or short) == "load_tools" and node.args:
        names = node.args[0]
        if isinstance(names, ast.List | ast.Tuple):
            bad = sorted(str(e.value) for e in names.elts if isinstance(e, ast.Constant)
                         and str(e.value) in AGENT_TOOL_NAMES)
            if bad:
                hits.at("code.agent-code-execution-tool", node,
                        f"load_tools({bad}) gives the agent a code or shell execution tool")


def _tls(site: CallSite, qual: str, hits: Hits) -> None:
    node = site.node
    verify = site.kw("verify")
    if is_false(verify) and (qual.startswith(("requests.", "httpx.", "aiohttp.")) or
                             site.method in HTTP_VERBS or _short(site) in HTTP_VERBS):
        hits.at("code.tls-verify-disabled", node,
                f"{_name(site)}(..., verify=False) accepts any certificate")
    elif qual.startswith("aiohttp.") and (is_false(site.kw("ssl")) or is_false(
            site.kw("verify_ssl"))):
        hits.at("code.tls-verify-disabled", node,
                f"{_name(site)}(ssl=False) accepts any certificate")
    elif qual.startswith("urllib3.") and isinstance(site.kw("cert_reqs"), ast.Constant) and \
            str(getattr(site.kw("cert_reqs"), "value", "")) in ("CERT_NONE", "none"):
        hits.at("code.tls-verify-disabled", node,
                f"{_name(site)}(cert_reqs='CERT_NONE') accepts any certificate")
    elif qual in ("ssl._create_unverified_context", "ssl._create_stdlib_context"):
        hits.at("code.tls-verify-disabled", node,
                f"{qual}() builds a context that accepts any certificate")
    elif qual in ("os.environ.setdefault", "os.putenv", "os.environ.update"):
        if qual == "os.environ.update" and node.args and isinstance(node.args[0], ast.Dict):
            for key, value in zip(node.args[0].keys, node.args[0].values, strict=True):
                if key is not None:
                    env_setting(key, value, node, hits)
        elif len(node.args) >= 2:
            env_setting(node.args[0], node.args[1], node, hits)
    if qual.startswith(DOWNLOADERS) or qual in ("huggingface_hub.HfApi",
                                                "huggingface_hub.hf_hub_download"):
        url = site.arg(0, "url") or site.kw("endpoint")
        text = _literal_prefix(url)
        if text.startswith("http://") and not text[7:].startswith(_LOCAL_HOSTS):
            hits.at("code.insecure-download-http", node,
                    f"{_name(site)}() downloads over plain http:// ({_host(text)})")


def _literal_prefix(node: ast.expr | None) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(
            node.values[0], ast.Constant) and isinstance(node.values[0].value, str):
        return node.values[0].value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_prefix(node.left)
    return ""


def _host(url: str) -> str:
    """``http://host`` of a URL, without any ``user:password@`` part."""
    return "http://" + url[7:].split("/", 1)[0].rsplit("@", 1)[-1][:80]
