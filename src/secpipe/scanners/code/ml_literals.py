"""Rules on stores and literals: hard-coded tokens (masked), settings in ``os.environ``,
``app.debug = True``, TLS switches, ``trust_remote_code`` in keyword dictionaries."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import TYPE_CHECKING

from secpipe.scanners.code.flow import dotted, is_true

if TYPE_CHECKING:
    from secpipe.scanners.code.flow import CallSite, Flow
    from secpipe.scanners.code.ml_hits import Hits

TOKEN_PREFIXES = ("hf_", "sk-", "gsk_", "r8_", "AIza", "xai-", "pplx-", "nvapi-", "api_org_",
                  "sk_live_", "co-", "wandb_")
TOKEN_KWARGS = frozenset({"token", "use_auth_token", "api_key", "hf_token", "access_token",
                          "openai_api_key", "anthropic_api_key", "huggingfacehub_api_token",
                          "api_token", "auth_token", "cohere_api_key", "google_api_key",
                          "groq_api_key", "mistral_api_key", "replicate_api_token"})
TOKEN_ENV = frozenset({"OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                       "HUGGINGFACEHUB_API_TOKEN", "HUGGINGFACE_TOKEN", "ANTHROPIC_API_KEY",
                       "COHERE_API_KEY", "REPLICATE_API_TOKEN", "GROQ_API_KEY",
                       "MISTRAL_API_KEY", "GOOGLE_API_KEY", "TOGETHER_API_KEY",
                       "WANDB_API_KEY", "HF_API_TOKEN", "LANGCHAIN_API_KEY",
                       "PINECONE_API_KEY", "AZURE_OPENAI_API_KEY"})
_PLACEHOLDERS = ("your", "xxx", "...", "<", ">", "{", "}", "example", "changeme", "placeholder",
                 "dummy", "here", "redacted", "***", "fake", "replace", "insert", "todo")
_LOCAL = ("localhost", "127.", "0.0.0.0", "[::1]")  # noqa: S104 - a host name, not a bind


def token_like(text: str, generic: bool = True) -> bool:
    """Whether a literal looks like a real credential (not a placeholder): a known prefix and
    20+ characters, or (``generic``) 20+ characters of mixed letters and digits, no spaces."""
    value = text.strip()
    if not 12 <= len(value) <= 400 or any(c.isspace() for c in value):
        return False
    low = value.lower()
    if any(p in low for p in _PLACEHOLDERS) or len(set(value)) < 8:
        return False
    if value.startswith(TOKEN_PREFIXES) and len(value) >= 20:
        return True
    return generic and len(value) >= 20 and any(c.isdigit() for c in value) and any(
        c.isalpha() for c in value) and len(set(value)) >= 10


def mask(text: str) -> str:
    """All but the first 4 characters hidden (the length is not shown either)."""
    return text[:4] + "*" * 12


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def check_token_call(site: CallSite, hits: Hits) -> None:
    """``HfApi(token="hf_…")``, ``login("hf_…")``, ``OpenAI(api_key="sk-…")``."""
    node = site.node
    name = site.qual or dotted(node.func) or "call"
    for item in node.keywords:
        if item.arg is None or item.arg.lower() not in TOKEN_KWARGS:
            continue
        text = _literal(item.value)
        if text is not None and token_like(text):
            hits.at("code.hardcoded-hub-token", item.value,
                    f"{name}({item.arg}=...) has a hard-coded token {mask(text)}")
    if site.qual in ("huggingface_hub.login", "huggingface_hub.HfApi", "huggingface_hub.HfFolder"
                     ".save_token", "openai.OpenAI", "anthropic.Anthropic") and node.args:
        text = _literal(node.args[0])
        if text is not None and token_like(text):
            hits.at("code.hardcoded-hub-token", node.args[0],
                    f"{name}() has a hard-coded token {mask(text)}")


def env_setting(key: ast.expr, value: ast.expr, node: ast.expr | ast.stmt, hits: Hits) -> None:
    """A setting of ``os.environ[KEY] = VALUE`` (or ``setdefault``/``putenv``/``update``)."""
    name = _literal(key)
    text = _literal(value)
    if name is None or text is None:
        return
    upper = name.upper()
    if (upper in TOKEN_ENV or upper.endswith(("_API_KEY", "_TOKEN"))) and token_like(text):
        hits.at("code.hardcoded-hub-token", node,
                f"os.environ[{name!r}] set to a hard-coded token {mask(text)}")
    elif upper == "HF_HUB_DISABLE_SSL_VERIFY" and text.strip().lower() in ("1", "true", "yes",
                                                                            "on"):
        hits.at("code.tls-verify-disabled", node,
                "HF_HUB_DISABLE_SSL_VERIFY turns certificate checks off for hub downloads")
    elif upper in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE") and not text.strip():
        hits.at("code.tls-verify-disabled", node,
                f"an empty {name} turns certificate checks off for requests/huggingface_hub")
    elif upper == "PYTHONHTTPSVERIFY" and text.strip() == "0":
        hits.at("code.tls-verify-disabled", node,
                "PYTHONHTTPSVERIFY=0 turns certificate checks off for urllib")
    elif upper in ("HF_ENDPOINT", "HF_HUB_ENDPOINT") and text.startswith("http://") and \
            not text[7:].startswith(_LOCAL):
        hits.at("code.insecure-download-http", node,
                f"{name} points the hub client at plain http:// "
                f"(http://{text[7:].split('/', 1)[0].rsplit('@', 1)[-1][:80]})")


def _secret_name(name: str) -> bool:
    """``HF_TOKEN``, ``openai_api_key``, ``API_SECRET`` — not ``TOKENIZER`` or ``MAX_TOKENS``."""
    parts = name.upper().split("_")
    return "TOKEN" in parts or "SECRET" in parts or "APIKEY" in parts or (
        "API" in parts and "KEY" in parts)


def check_store(target: ast.expr, value: ast.expr, flow: Flow, hits: Hits) -> None:
    """Rules on one assignment ``target = value``."""
    if isinstance(target, ast.Name):
        text = _literal(value)
        if text is not None and _secret_name(target.id) and (
                token_like(text, generic=False) or (token_like(text) and not any(
                    c in text for c in "/.:"))):
            hits.at("code.hardcoded-hub-token", target,
                    f"{target.id} is a hard-coded token {mask(text)}")
        return
    if isinstance(target, ast.Subscript):
        base = flow.resolve(target.value) or ""
        key = target.slice
        if base == "os.environ":
            env_setting(key, value, target, hits)
        elif isinstance(target.value, ast.Attribute) and target.value.attr == "config" and \
                _literal(key) == "DEBUG" and is_true(value):
            hits.at("code.debug-server", target,
                    f"{dotted(target.value) or 'app.config'}['DEBUG'] = True turns the "
                    "debugger on")
        return
    if not isinstance(target, ast.Attribute):
        return
    attr = target.attr
    qual = flow.resolve(target) or ""
    text = _literal(value)
    if attr in ("api_key", "token", "api_token") and text is not None and token_like(text):
        hits.at("code.hardcoded-hub-token", target,
                f"{qual or dotted(target) or attr} set to a hard-coded token {mask(text)}")
    elif attr == "debug" and is_true(value) and isinstance(target.value, ast.Name) and \
            any(s.kind == "obj" and s.what in ("flask.Flask", "dash.Dash")
                for s in flow.scope.env.get(target.value.id, frozenset())):
        hits.at("code.debug-server", target, f"{target.value.id}.debug = True turns the "
                "debugger on")
    elif qual == "ssl._create_default_https_context":
        hits.at("code.tls-verify-disabled", target,
                "ssl._create_default_https_context replaced: every urllib download skips "
                "certificate checks")
    elif attr == "verify_mode" and (flow.resolve(value) or "").endswith("CERT_NONE"):
        hits.at("code.tls-verify-disabled", target, "verify_mode = CERT_NONE accepts any "
                "certificate")
    elif attr == "verify" and isinstance(value, ast.Constant) and value.value is False:
        hits.at("code.tls-verify-disabled", target,
                f"{dotted(target) or 'session.verify'} = False accepts any certificate")


def check_literals(literals: Iterable[ast.Dict | ast.Constant], hits: Hits) -> None:
    """Dictionary literals and strings anywhere (as collected by the flow's pre-pass):
    ``{"Authorization": "Bearer …"}``, ``"Authorization: Bearer …"``,
    ``{"trust_remote_code": True}``, ``{"api_key": "sk-…"}``."""
    for node in literals:
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                name = _literal(key)
                if name is None:
                    continue
                low = name.lower()
                if low == "trust_remote_code" and is_true(value):
                    hits.at("code.trust-remote-code", value,
                            "{'trust_remote_code': True} passed as keyword arguments runs "
                            "Python from the model repository")
                text = _literal(value)
                if text is None:
                    continue
                if low == "authorization":
                    _bearer(text, value, hits)
                elif low in TOKEN_KWARGS and token_like(text):
                    hits.at("code.hardcoded-hub-token", value,
                            f"{{{name!r}: ...}} has a hard-coded token {mask(text)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                len(node.value) < 2000 and "authorization:" in node.value.lower():
            low = node.value.lower()
            at = low.index("authorization:") + len("authorization:")
            _bearer(node.value[at:].strip().split("\n")[0].strip("'\" "), node, hits)


def _bearer(text: str, node: ast.expr, hits: Hits) -> None:
    scheme, _, token = text.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and token_like(token.strip()):
        hits.at("code.hardcoded-hub-token", node,
                f"Authorization header with a hard-coded {scheme} token {mask(token.strip())}")
