"""The catalogue of secpipe's ML/LLM code rules: what each means, why, how to fix it.

Tags name the OWASP Top 10 for LLM Applications 2025 (``OWASP-LLM01`` … ``OWASP-LLM10``) and the
OWASP Machine Learning Security Top 10 (``OWASP-ML01`` … ``OWASP-ML10``) entries a rule belongs
to. The docs page of the code scanner is generated from these fields.
"""

from __future__ import annotations

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.code.rules import CodeRule

_H, _M, _L, _C = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.CRITICAL
_SUPPLY = ("OWASP-LLM03", "OWASP-ML06")
_OUTPUT = ("OWASP-LLM05",)

_CATALOGUE: tuple[CodeRule, ...] = (
    CodeRule(
        id="code.torch-load-unsafe",
        title="torch.load without weights_only=True",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-502", tags=_SUPPLY,
        rationale=(
            "torch.load unpickles the checkpoint; with weights_only=False any callable named in "
            "the file runs on load, so a downloaded or user-supplied checkpoint is code "
            "execution. torch 2.6 made weights_only=True the default, which an explicit "
            "weights_only=False turns off again; code that omits the argument is unsafe on "
            "every older torch (reported low unless the path comes from outside)."),
        fix=("Pass weights_only=True (register extra classes with "
             "torch.serialization.add_safe_globals), or ship weights as safetensors."),
        bad='state = torch.load(hf_hub_download(repo, "model.bin"), weights_only=False)',
        good='state = torch.load(hf_hub_download(repo, "model.bin"), weights_only=True)',
    ),
    CodeRule(
        id="code.pickle-deserialization",
        title="Pickle-based load of data that is not provably local",
        severity=_M, confidence=Confidence.MEDIUM, cwe="CWE-502", tags=_SUPPLY,
        rationale=(
            "pickle, cPickle, dill, cloudpickle, joblib.load, pandas.read_pickle, shelve, "
            "jsonpickle and torch.package all execute callables named by the data while "
            "loading it. A model or dataset fetched from a hub, a bucket, a URL or a request "
            "is attacker-controlled code. Severity follows where the data comes from: critical "
            "from a request or a download, high from the command line or the environment, "
            "medium when unknown (a parameter), low for an absolute literal path. A relative "
            "path built only from literals (a file the repository ships) is not reported: "
            "scan-models reads that file's content; nor is a load of data the same function "
            "just serialised."),
        fix=("Load weights with safetensors, data with JSON/Parquet/NumPy (allow_pickle=False) "
             "and scikit-learn models with skops.io and an explicit trusted-type list; if a "
             "pickle cannot be avoided, verify its digest or signature before loading."),
        bad=("data = requests.get(url, timeout=10).content\n"
             "model = pickle.loads(data)"),
        good=("data = requests.get(url, timeout=10).content\n"
              "weights = safetensors.torch.load(data)"),
    ),
    CodeRule(
        id="code.numpy-allow-pickle",
        title="numpy.load with allow_pickle=True",
        severity=_M, confidence=Confidence.MEDIUM, cwe="CWE-502", tags=_SUPPLY,
        rationale=(
            "allow_pickle=True lets numpy.load unpickle object arrays, which runs code named by "
            "the file. NumPy turned it off by default for this reason (CVE-2019-6446)."),
        fix="Keep allow_pickle=False and store object data in a safe format (JSON, Arrow).",
        bad='arr = np.load(path_from_user, allow_pickle=True)',
        good='arr = np.load(path_from_user, allow_pickle=False)',
    ),
    CodeRule(
        id="code.trust-remote-code",
        title="trust_remote_code=True runs the model repository's Python",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-94", tags=_SUPPLY,
        rationale=(
            "With trust_remote_code=True, transformers' from_pretrained/pipeline and "
            "datasets' load_dataset download and import Python files from the hub repository. "
            "Whoever controls that repository (or its next revision) runs code in your process."),
        fix=("Use a model whose architecture ships with transformers; otherwise vendor the "
             "reviewed modelling code and pin revision= to a commit hash."),
        bad='model = AutoModel.from_pretrained("org/model", trust_remote_code=True)',
        good='model = AutoModel.from_pretrained("org/model", revision="3f1c0e2")',
    ),
    CodeRule(
        id="code.keras-unsafe-load",
        title="Keras model load with safe_mode off or of an untrusted file",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-502", tags=_SUPPLY,
        rationale=(
            "Keras' safe_mode refuses Lambda layers, whose serialised bytecode runs on load; "
            "safe_mode=False or keras.config.enable_unsafe_deserialization() turns that off. "
            "Legacy HDF5 models are not covered by safe_mode at all, so loading one from a "
            "download is unsafe whatever the flag (CVE-2024-3660)."),
        fix=("Keep the default safe_mode=True, load only .keras files you produced, and rebuild "
             "custom layers from code instead of deserialising them."),
        bad='model = keras.models.load_model(path, safe_mode=False)',
        good='model = keras.models.load_model(path)',
    ),
    CodeRule(
        id="code.llm-output-exec",
        title="LLM output executed as code",
        severity=_C, confidence=Confidence.HIGH, cwe="CWE-95", tags=("OWASP-LLM05", "OWASP-LLM06"),
        rationale=(
            "Text from a language model is attacker-influenced (prompt injection through the "
            "user, documents or tools). Passing it to eval, exec, compile, pandas.eval or "
            "sympify lets whoever steers the model run Python in your process."),
        fix=("Never execute model output. Ask for structured output (JSON) and map it to "
             "functions you wrote; if code execution is the feature, run it in a sandbox "
             "(separate container, no credentials, no network)."),
        bad='answer = llm.invoke(question).content\nresult = eval(answer)',
        good='answer = llm.invoke(question).content\nresult = ast.literal_eval(answer)',
    ),
    CodeRule(
        id="code.llm-output-shell",
        title="LLM output run as a shell command",
        severity=_C, confidence=Confidence.HIGH, cwe="CWE-78", tags=("OWASP-LLM05", "OWASP-LLM06"),
        rationale=(
            "Model output in os.system, os.popen or subprocess with shell=True (or as the "
            "program to run) is command injection steered by prompt injection."),
        fix=("Map the model's choice to a fixed allow-list of commands and pass arguments as a "
             "list without shell=True; never let the model pick the program."),
        bad='cmd = chain.invoke({"task": task})\nsubprocess.run(cmd, shell=True)',
        good=('tool = chain.invoke({"task": task}).strip()\n'
              'if tool in ALLOWED:\n    subprocess.run(ALLOWED[tool], check=True)'),
    ),
    CodeRule(
        id="code.llm-output-sql",
        title="LLM output in an SQL statement",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-89", tags=_OUTPUT,
        rationale=(
            "An SQL string built from model output (f-string, concatenation, % or format) or "
            "generated SQL executed as is lets prompt injection read or change any data the "
            "connection can reach."),
        fix=("Use parameterised queries (?/%s placeholders with a parameter tuple); for "
             "text-to-SQL, run generated SQL on a read-only connection limited to allowed "
             "tables, after parsing it."),
        bad='name = llm.invoke(q).content\ncur.execute(f"SELECT * FROM t WHERE n = \'{name}\'")',
        good='name = llm.invoke(q).content\ncur.execute("SELECT * FROM t WHERE n = ?", (name,))',
    ),
    CodeRule(
        id="code.llm-output-html",
        title="LLM output rendered as HTML without escaping",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-79", tags=_OUTPUT,
        rationale=(
            "Model output placed in a page unescaped (Streamlit unsafe_allow_html, "
            "components.html, markupsafe.Markup, render_template_string, an HTML response, "
            "gradio.HTML, IPython HTML) is stored/reflected XSS: prompt injection can plant "
            "scripts that run in the user's browser and exfiltrate the session."),
        fix=("Render model output as text or Markdown without HTML, or escape it first "
             "(html.escape, markupsafe.escape) or sanitise it (bleach/nh3 with an allow-list)."),
        bad='st.markdown(response.choices[0].message.content, unsafe_allow_html=True)',
        good='st.markdown(html.escape(response.choices[0].message.content))',
    ),
    CodeRule(
        id="code.jinja-autoescape-off",
        title="Jinja2 rendering without autoescape (or |safe) on model output",
        severity=_M, confidence=Confidence.MEDIUM, cwe="CWE-79", tags=_OUTPUT,
        rationale=(
            "jinja2.Environment and jinja2.Template do not escape by default; autoescape=False "
            "or a |safe filter in the template puts values into the page as HTML. Rendering "
            "model output this way is XSS (high); a template built from model output is "
            "server-side template injection."),
        fix=("Create the Environment with autoescape=select_autoescape() (or True), drop "
             "|safe on model output, and never build template source from model output."),
        bad=('from jinja2 import Environment\n'
             'env = Environment(autoescape=False)\n'
             'html = env.from_string(T).render(answer=llm.invoke(q).content)'),
        good=('from jinja2 import Environment, select_autoescape\n'
              'env = Environment(autoescape=select_autoescape())\n'
              'html = env.from_string(T).render(answer=llm.invoke(q).content)'),
    ),
    CodeRule(
        id="code.agent-code-execution-tool",
        title="LLM agent given a Python or shell execution tool",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-94", tags=("OWASP-LLM06", "OWASP-LLM05"),
        rationale=(
            "PythonREPLTool, PythonAstREPLTool, ShellTool, load_tools(['python_repl'|'terminal'])"
            ", create_python_agent, the pandas/CSV agents with allow_dangerous_code=True, "
            "LLMMathChain, PALChain, LLMBashChain and local code executors run whatever the "
            "model writes on the host. Prompt injection through any input the agent reads "
            "becomes remote code execution (CVE-2023-29374, CVE-2023-36258, CVE-2023-44467)."),
        fix=("Give the agent narrow tools with typed arguments; if it must run code, execute it "
             "in an isolated sandbox (container or remote interpreter) without credentials."),
        bad='agent = initialize_agent([PythonREPLTool()], llm, agent=AGENT_TYPE)',
        good='agent = initialize_agent([search_tool], llm, agent=AGENT_TYPE)',
    ),
    CodeRule(
        id="code.untrusted-code-exec",
        title="eval/exec of downloaded, request or configuration data",
        severity=_H, confidence=Confidence.MEDIUM, cwe="CWE-95", tags=_SUPPLY,
        rationale=(
            "eval/exec/compile of text fetched from a URL, read from a request, the command "
            "line or the environment runs whatever that source supplies; eval of strings from "
            "a config file (a common way to build layers or losses from YAML) runs whatever "
            "the config says (reported low when the origin is unknown)."),
        fix=("Parse data with json or ast.literal_eval; map config strings to callables through "
             "an explicit dictionary."),
        bad='exec(requests.get(PLUGIN_URL, timeout=10).text)',
        good='ACTIVATIONS = {"relu": nn.ReLU}\nlayer = ACTIVATIONS[cfg["activation"]]()',
    ),
    CodeRule(
        id="code.tls-verify-disabled",
        title="TLS certificate verification disabled",
        severity=_M, confidence=Confidence.HIGH, cwe="CWE-295", tags=_SUPPLY,
        rationale=(
            "verify=False, ssl._create_unverified_context, CERT_NONE, an empty CURL_CA_BUNDLE "
            "or HF_HUB_DISABLE_SSL_VERIFY let anyone on the network path swap the model, "
            "dataset or package being downloaded, and read the tokens sent with it."),
        fix=("Keep verification on; for a corporate proxy point REQUESTS_CA_BUNDLE / "
             "SSL_CERT_FILE at its CA certificate instead of disabling checks."),
        bad='r = requests.get(MODEL_URL, verify=False, timeout=30)',
        good='r = requests.get(MODEL_URL, verify="/etc/ssl/corp-ca.pem", timeout=30)',
    ),
    CodeRule(
        id="code.insecure-download-http",
        title="Model or data downloaded over plain http://",
        severity=_M, confidence=Confidence.HIGH, cwe="CWE-494", tags=_SUPPLY,
        rationale=(
            "A download over http:// can be read and replaced in transit; for model files in "
            "pickle-based formats that is code execution, for data it is poisoning."),
        fix="Download over https:// and check a pinned SHA-256 of the file before using it.",
        bad='urllib.request.urlretrieve("http://models.example.com/m.pt", "m.pt")',
        good='urllib.request.urlretrieve("https://models.example.com/m.pt", "m.pt")',
    ),
    CodeRule(
        id="code.debug-server",
        title="Web app served with the debugger on",
        severity=_H, confidence=Confidence.HIGH, cwe="CWE-489", tags=("OWASP-LLM02",),
        rationale=(
            "Flask/Werkzeug's debug=True serves an interactive debugger that runs Python for "
            "whoever reaches a traceback page, and shows source, settings and secrets; Dash "
            "run_server(debug=True) does the same, and FastAPI/Starlette(debug=True) return "
            "tracebacks to every client. A module constant bound once to True (DEBUG = True) "
            "counts as True. (uvicorn's reload=True is not reported: it only restarts on file "
            "changes.)"),
        fix="Turn debug off outside local development (read it from the environment, default off).",
        bad='app.run(host="0.0.0.0", debug=True)',
        good='app.run(host="0.0.0.0", debug=os.environ.get("FLASK_DEBUG") == "1")',
    ),
    CodeRule(
        id="code.gradio-public-share",
        title="Gradio app shared publicly (share=True)",
        severity=_M, confidence=Confidence.HIGH, cwe="CWE-668", tags=("OWASP-LLM10", "OWASP-ML05"),
        rationale=(
            "launch(share=True) opens a public *.gradio.live tunnel to the app: anyone with the "
            "link can query the model (model theft, cost, abuse) and reach whatever the app's "
            "functions can, with no authentication unless auth= is set."),
        fix=("Serve behind your own authenticated endpoint, or pass auth= and share links "
             "privately."),
        bad='demo.launch(share=True)',
        good='demo.launch(server_name="127.0.0.1")',
    ),
    CodeRule(
        id="code.hardcoded-hub-token",
        title="Hub or LLM API token hard-coded",
        severity=_H, confidence=Confidence.MEDIUM, cwe="CWE-798",
        tags=("OWASP-LLM02", "OWASP-ML06"),
        rationale=(
            "A Hugging Face, OpenAI, Anthropic or other bearer token in code is readable by "
            "everyone with the repository (and its history, and notebooks' outputs); a hub "
            "write token lets them replace your models."),
        fix=("Revoke the token, then read it from the environment or a secret manager "
             "(huggingface_hub reads HF_TOKEN, openai reads OPENAI_API_KEY)."),
        bad='api = HfApi(token="hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456")',
        good='api = HfApi(token=os.environ["HF_TOKEN"])',
    ),
    CodeRule(
        id="code.yaml-unsafe-load",
        title="yaml.load without a safe loader",
        severity=_M, confidence=Confidence.HIGH, cwe="CWE-502", tags=_SUPPLY,
        rationale=(
            "yaml.load with Loader=yaml.Loader/UnsafeLoader (or no Loader on old PyYAML) and "
            "yaml.unsafe_load build arbitrary Python objects from tags such as "
            "!!python/object/apply, so a model config from a hub runs code when read."),
        fix="Use yaml.safe_load (or Loader=yaml.SafeLoader / CSafeLoader).",
        bad='cfg = yaml.load(open(config_path), Loader=yaml.Loader)',
        good='cfg = yaml.safe_load(open(config_path))',
    ),
    CodeRule(
        id="code.archive-path-traversal",
        title="Archive extracted without a member filter",
        severity=_M, confidence=Confidence.MEDIUM, cwe="CWE-22", tags=_SUPPLY,
        rationale=(
            "tarfile's extractall/extract (and shutil.unpack_archive of a tar) before Python "
            "3.14 write members wherever their names point (../, absolute paths, links), so a "
            "downloaded dataset or model archive can overwrite files outside the target "
            "(CVE-2007-4559). Reported high when the archive comes from a download."),
        fix=("Pass filter='data' (Python 3.12+ and backports) or check every member's resolved "
             "path."),
        bad='with tarfile.open(archive) as tar:\n    tar.extractall(dest)',
        good="with tarfile.open(archive) as tar:\n    tar.extractall(dest, filter='data')",
    ),
    CodeRule(
        id="code.torch-hub-untrusted",
        title="torch.hub.load of an untrusted repository",
        severity=_M, confidence=Confidence.MEDIUM, cwe="CWE-94", tags=_SUPPLY,
        rationale=(
            "torch.hub.load imports hubconf.py from the named GitHub repository; trust_repo=True "
            "skips the confirmation, and a repository name from outside lets the caller choose "
            "the code that runs."),
        fix="Vendor the model code and load only weights (weights_only=True) from a pinned URL.",
        bad='model = torch.hub.load(repo_from_user, "model", trust_repo=True)',
        good='model = torchvision.models.resnet50(weights="IMAGENET1K_V2")',
    ),
    CodeRule(
        id="code.analysis-incomplete",
        title="Code rule analysis incomplete",
        severity=_L, confidence=Confidence.HIGH, cwe="", tags=(),
        rationale=(
            "The data-flow analysis of a scope stopped at a bound (expressions analysed, nesting "
            "depth). The rules still ran on what was analysed, but a flow through the rest may "
            "have been missed: this is not a pass."),
        fix="Split the very large or deeply nested function, or review it by hand.",
        bad="# a generated function with hundreds of thousands of expressions",
        good="# the same logic split into functions",
    ),
)

RULES: dict[str, CodeRule] = {rule.id: rule for rule in _CATALOGUE}
