"""Shared helpers of the AWS Terraform rules: hits, unresolved problems, tri-state values,
nested blocks written either as blocks or as attribute lists, IAM policy documents and CIDRs.

Nothing here executes or evaluates what it reads: policy JSON is parsed with :func:`json.loads`
under a size and depth bound; a value that cannot be judged comes back as
:class:`~secpipe.scanners.iac.model.Unresolved` so the rule reports ``iac.unresolved`` instead of
passing.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from secpipe.core.findings import Confidence, Severity
from secpipe.scanners.iac.model import IacHit, IacRule, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource

Check = Callable[[TfModel], Iterable[IacHit | Problem]]

MAX_POLICY_CHARS = 256 * 1024
"""Largest policy document text parsed (AWS caps managed policies at 6 144 characters)."""
MAX_POLICY_DEPTH = 32
"""Deepest JSON nesting accepted in a policy document."""
MAX_EVIDENCE = 160


def rule(
    id: str, title: str, severity: Severity, cwe: str, controls: tuple[str, ...], rationale: str,
    fix: str, bad: str, good: str, aliases: tuple[str, ...] = (),
    confidence: Confidence = Confidence.HIGH,
) -> IacRule:
    """An :class:`IacRule` of the ``terraform`` framework (keyword-free shorthand)."""
    return IacRule(id=id, title=title, severity=severity, framework="terraform", cwe=cwe,
                   controls=controls, rationale=rationale, fix=fix, bad=bad.strip("\n"),
                   good=good.strip("\n"), aliases=aliases, confidence=confidence)


def short(value: Any, nested: bool = False) -> str:
    """A value as it appears in a message: strings quoted, bounded to one short line (a list
    shows its first scalar items; deeper structure is elided, never walked)."""
    if isinstance(value, str):
        text = json.dumps(value[: MAX_EVIDENCE * 2])
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Unresolved):
        text = value.text[: MAX_EVIDENCE * 2]
    elif isinstance(value, list | tuple):
        if nested:
            return "[…]"
        text = "[" + ", ".join(short(v, True) for v in list(value)[:6]) + \
            (", …]" if len(value) > 6 else "]")
    elif isinstance(value, dict | TfBlock):
        return "{…}"
    elif isinstance(value, int | float | Ref) or value is None:
        text = "null" if value is None else str(value)
    else:
        text = type(value).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_EVIDENCE else text[: MAX_EVIDENCE - 1] + "…"


def hit(rule_id: str, res: TfResource, message: str, *, attr: str = "",
        body: TfBlock | None = None, severity: Severity | None = None,
        confidence: Confidence | None = None, evidence: str = "") -> IacHit:
    """A hit on ``res``, at the line of ``attr`` in ``body`` (default: the resource body)."""
    where = body if body is not None else res.body
    line = where.line_of(attr) if attr else where.line
    if line is None:
        line = res.line
    return IacHit(rule_id=rule_id, path=res.path, line=line,
                  message=f"{res.address}: {message}", resource=res.address, block=res.block,
                  severity=severity, confidence=confidence, evidence=evidence[:MAX_EVIDENCE])


def unresolved(rule_id: str, res: TfResource, attr: str, value: Unresolved,
               body: TfBlock | None = None) -> Problem:
    """The ``iac.unresolved`` problem for a deciding value that could not be computed."""
    where = body if body is not None else res.body
    line = where.line_of(attr) if attr else where.line
    reason = value.reason or "not statically known"
    return Problem("iac.unresolved", res.path, line if line is not None else res.line,
                   f"{rule_id}: {res.address}.{attr} is {value.text} ({reason}): "
                   "could not be judged")


MAX_WALK = 100_000
"""Most items :func:`first_unresolved` looks at in one value."""


def first_unresolved(value: Any) -> Unresolved | None:
    """The first :class:`Unresolved` inside ``value`` (a list, dict or the value itself),
    walked without recursion and bounded by :data:`MAX_WALK` items."""
    stack: list[Any] = [value]
    seen = 0
    while stack and seen < MAX_WALK:
        item = stack.pop()
        seen += 1
        if isinstance(item, Unresolved):
            return item
        if isinstance(item, TfBlock):
            item = item.attrs
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return None


def as_bool(value: Any) -> bool | Unresolved | None:
    """``true``/``false`` (also as strings), an :class:`Unresolved`, else ``None`` (absent or
    not a boolean)."""
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_int(value: Any) -> int | Unresolved | None:
    """An integer (also written as a string), an :class:`Unresolved`, else ``None``."""
    if isinstance(value, Unresolved):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and len(text) < 12:
            return int(text)
    return None


def as_str(value: Any) -> str | Unresolved | None:
    if isinstance(value, Unresolved | str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def as_list(value: Any) -> list[Any]:
    """A list value as a list; a scalar as a one-element list; ``None`` as empty."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def sub_blocks(body: TfBlock, name: str) -> list[TfBlock]:
    """Nested blocks called ``name``, also when written as an attribute (``ingress = [{…}]``,
    ``metadata_options = {…}``); an unresolved attribute gives one block of unresolved
    attributes (``_unresolved`` holds it)."""
    value = body.attrs.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    line = body.line_of(name)
    out: list[TfBlock] = []
    for item in items:
        if isinstance(item, TfBlock):
            out.append(item)
        elif isinstance(item, dict):
            out.append(TfBlock(attrs=dict(item), line=line, end_line=line))
        elif isinstance(item, Unresolved):
            out.append(TfBlock(attrs={"_unresolved": item}, line=line, end_line=line))
    return out


def find_target(model: TfModel, ref: Ref, origin: TfResource) -> TfResource | None:
    """The resource or data source a :class:`Ref` written in ``origin`` names."""
    wanted = {ref.address}
    if origin.module:
        wanted.add(f"{origin.module}.{ref.address}")
    for r in model.resources:
        if r.base_address in wanted or r.address in wanted:
            return r
    return None


# --- networks ------------------------------------------------------------------------------

def is_world(cidr: Any) -> bool | Unresolved:
    """True when ``cidr`` is the whole IPv4 or IPv6 internet (``0.0.0.0/0``, ``::/0``, also
    non-canonical spellings such as ``0.0.0.0/00``); an :class:`Unresolved` stays so."""
    if isinstance(cidr, Unresolved):
        return cidr
    if not isinstance(cidr, str):
        return False
    text = cidr.strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return net.prefixlen == 0


# --- IAM policy documents ------------------------------------------------------------------


@dataclass
class Statement:
    """One statement of a policy document, normalised (lists of strings, principal as a dict of
    lists, ``"*"`` kept as ``{"*": ["*"]}``). Parts the loader could not compute are left out
    of the lists and recorded in :attr:`unknown` (field name -> the first such value)."""

    effect: str
    actions: list[str] = field(default_factory=list)
    not_actions: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    not_resources: list[str] = field(default_factory=list)
    principals: dict[str, list[str]] = field(default_factory=dict)
    has_principal: bool = False
    has_condition: bool = False
    sid: str = ""
    unknown: dict[str, Unresolved] = field(default_factory=dict)

    @property
    def allows(self) -> bool:
        return self.effect.lower() == "allow"

    def public_principal(self) -> bool:
        """Principal ``"*"`` or ``{"AWS": "*"}`` (any other key with ``*`` too)."""
        return any("*" in ids for ids in self.principals.values())

    def _effect(self) -> bool | Unresolved | None:
        if self.allows:
            return True
        return self.unknown.get("effect")

    def grants(self, actions: set[str]) -> bool | Unresolved | None:
        """Allow of one of ``actions`` (lower case) on Resource ``"*"``: True, an
        :class:`Unresolved` when an unknown part may make it so, else None."""
        parts: list[bool | Unresolved | None] = [self._effect()]
        parts.append(True if lowered(self.actions) & actions else self.unknown.get("actions"))
        parts.append(True if "*" in self.resources else self.unknown.get("resources"))
        return _all(parts)

    def public_grant(self) -> bool | Unresolved | None:
        """Allow to any principal without a condition (True / Unresolved / None)."""
        if self.has_condition:
            return None
        parts: list[bool | Unresolved | None] = [self._effect()]
        parts.append(True if self.public_principal() else self.unknown.get("principals"))
        return _all(parts)


def _all(parts: list[bool | Unresolved | None]) -> bool | Unresolved | None:
    if any(p is None or p is False for p in parts):
        return None
    return next((p for p in parts if isinstance(p, Unresolved)), True)


def verdict(statements: list[Statement], test: Callable[[Statement], bool | Unresolved | None]
            ) -> tuple[Statement | None, Unresolved | None]:
    """The first statement ``test`` holds for, else the first unknown that may make it hold."""
    maybe: Unresolved | None = None
    for st in statements:
        result = test(st)
        if result is True:
            return st, None
        if isinstance(result, Unresolved) and maybe is None:
            maybe = result
    return None, maybe


class PolicyError(Exception):
    """A policy document that could not be read (its message says why)."""


def _depth(value: Any, limit: int) -> int:
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def _strings(value: Any, unknown: dict[str, Unresolved], name: str) -> list[str]:
    out: list[str] = []
    for v in as_list(value):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, Unresolved):
            unknown.setdefault(name, v)
        elif isinstance(v, Ref):
            out.append(f"${{{v}}}")
    return out


def _may_be_public(kind: Any) -> bool:
    """Only an ``AWS`` (or ``*``) principal can name everyone; an unknown ``Service`` or
    ``Federated`` identifier cannot make a statement public."""
    return str(kind).strip().upper() in ("AWS", "*")


def _principal(value: Any, unknown: dict[str, Unresolved]) -> dict[str, list[str]]:
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: [value]} if value == "*" else {"AWS": [value]}
    if isinstance(value, dict):
        return {str(k): _strings(v, unknown if _may_be_public(k) else {}, "principals")
                for k, v in value.items()}
    if isinstance(value, Unresolved):
        unknown.setdefault("principals", value)
    return {}


def _effect_of(value: Any, unknown: dict[str, Unresolved]) -> str:
    if isinstance(value, Unresolved):
        unknown["effect"] = value
        return ""
    return str(value) if value is not None else ""


def _json_statements(doc: Any) -> list[Statement]:
    if not isinstance(doc, dict):
        raise PolicyError("the document is not a JSON object")
    raw = doc.get("Statement", [])
    if isinstance(raw, Unresolved):
        raise PolicyError(f"{raw.text} is not statically known")
    out: list[Statement] = []
    for st in as_list(raw):
        if isinstance(st, Unresolved):
            raise PolicyError(f"{st.text} is not statically known")
        if not isinstance(st, dict):
            continue
        unknown: dict[str, Unresolved] = {}
        principal = st.get("Principal")
        out.append(Statement(
            effect=_effect_of(st.get("Effect", ""), unknown),
            actions=_strings(st.get("Action"), unknown, "actions"),
            not_actions=_strings(st.get("NotAction"), unknown, "not_actions"),
            resources=_strings(st.get("Resource"), unknown, "resources"),
            not_resources=_strings(st.get("NotResource"), unknown, "not_resources"),
            principals=_principal(principal, unknown),
            has_principal=principal is not None or "NotPrincipal" in st,
            has_condition=bool(st.get("Condition")), sid=str(st.get("Sid", "")),
            unknown=unknown))
    return out


def _document_statements(data: TfResource) -> list[Statement]:
    """Statements of a ``data "aws_iam_policy_document"`` (its ``statement`` blocks)."""
    out: list[Statement] = []
    for st in sub_blocks(data.body, "statement"):
        bad = st.attrs.get("_unresolved")
        if isinstance(bad, Unresolved):
            raise PolicyError(f"{bad.text} is not statically known")
        unknown: dict[str, Unresolved] = {}
        effect = _effect_of(st.get("effect", "Allow"), unknown)
        principals: dict[str, list[str]] = {}
        for p in sub_blocks(st, "principals"):
            kind = p.get("type", "")
            if isinstance(kind, Unresolved):
                unknown.setdefault("principals", kind)
                continue
            principals.setdefault(str(kind), []).extend(
                _strings(p.get("identifiers"), unknown if _may_be_public(kind) else {},
                         "principals"))
        if "*" in principals:
            principals["*"] = ["*"]
        out.append(Statement(
            effect=effect, actions=_strings(st.get("actions"), unknown, "actions"),
            not_actions=_strings(st.get("not_actions"), unknown, "not_actions"),
            resources=_strings(st.get("resources"), unknown, "resources"),
            not_resources=_strings(st.get("not_resources"), unknown, "not_resources"),
            principals=principals,
            has_principal=bool(sub_blocks(st, "principals") or sub_blocks(st, "not_principals")),
            has_condition=bool(sub_blocks(st, "condition")), sid=str(st.get("sid", "")),
            unknown=unknown))
    return out


_AWS_MANAGED = re.compile(r"^arn:(?:aws[\w-]*|\$\{[^}]{1,200}\}):iam::aws:policy/"
                          r"(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")


def _managed_policy(data: TfResource, value: Ref) -> list[Statement]:
    """``data "aws_iam_policy"`` read from the account: an AWS-managed policy is known by its
    ARN (only AdministratorAccess grants everything); a customer policy cannot be read."""
    arn = data.body.get("arn")
    match = _AWS_MANAGED.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise PolicyError(f"{value} is read from the AWS account at plan time")
    if match.group(1) == "AdministratorAccess":
        return [Statement(effect="Allow", actions=["*"], resources=["*"])]
    return []


def policy_statements(model: TfModel, res: TfResource, value: Any,
                      seen: frozenset[str] = frozenset()) -> list[Statement]:
    """The statements of a policy value as the loader left it: JSON text (heredoc or a
    computed ``jsonencode``), an already decoded object, or a :class:`Ref` to a
    ``data.aws_iam_policy_document``'s ``json``. Raises :class:`PolicyError` when it cannot be
    read (unresolved, not JSON, too large or too deep)."""
    if isinstance(value, Unresolved):
        raise PolicyError(f"{value.text} is not statically known"
                          + (f" ({value.reason})" if value.reason else ""))
    if isinstance(value, Ref):
        target = find_target(model, value, res)
        if target is not None and (target.address in seen or len(seen) > 8):
            raise PolicyError(f"{value} refers back to itself")
        if target is not None and target.mode == "resource" and \
                value.attribute in ("policy", "assume_role_policy") and \
                target.body.get(value.attribute) is not None:
            # another resource's own document (aws_iam_policy.x.policy)
            return policy_statements(model, target, target.body.get(value.attribute),
                                     seen | {target.address})
        if target is not None and target.mode == "data" and target.type == "aws_iam_policy":
            return _managed_policy(target, value)
        if target is None or target.type != "aws_iam_policy_document":
            raise PolicyError(f"{value} is not a policy document in the analysed code")
        found = _document_statements(target)
        for attr in ("source_policy_documents", "override_policy_documents"):
            for extra in as_list(target.body.get(attr)):
                found.extend(policy_statements(model, target, extra, seen | {target.address}))
        return found
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if len(text) > MAX_POLICY_CHARS:
            raise PolicyError(f"the document is larger than {MAX_POLICY_CHARS} characters")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PolicyError(f"the document is not valid JSON ({type(exc).__name__})") from None
        value = doc
    if isinstance(value, dict):
        if _depth(value, MAX_POLICY_DEPTH) > MAX_POLICY_DEPTH:
            raise PolicyError(f"the document is nested deeper than {MAX_POLICY_DEPTH}")
        return _json_statements(value)
    raise PolicyError("the value is not a policy document")


def policy_problem(rule_id: str, res: TfResource, attr: str, err: PolicyError) -> Problem:
    line = res.body.line_of(attr)
    return Problem("iac.unresolved", res.path, line,
                   f"{rule_id}: {res.address}.{attr} could not be read ({err}): "
                   "could not be judged")


def maybe_problem(rule_id: str, res: TfResource, attr: str, value: Unresolved) -> Problem:
    """``iac.unresolved`` for a policy whose verdict depends on a value not known."""
    reason = f" ({value.reason})" if value.reason else ""
    return Problem("iac.unresolved", res.path, res.body.line_of(attr),
                   f"{rule_id}: {res.address}.{attr} depends on {value.text}{reason}: "
                   "could not be judged")


def lowered(items: Iterable[str]) -> set[str]:
    return {i.strip().lower() for i in items}


def iter_policies(model: TfModel, res: TfResource, attrs: Iterable[str]
                  ) -> Iterator[tuple[str, list[Statement] | PolicyError]]:
    """``(attr, statements or the error)`` for each policy attribute ``res`` writes."""
    for attr in attrs:
        if not res.body.has(attr):
            continue
        value = res.body.get(attr)
        if value is None:
            continue
        try:
            yield attr, policy_statements(model, res, value)
        except PolicyError as err:
            yield attr, err


# --- secrets -------------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|(^|[_-])pass($|[_-])|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"signing[_-]?key|encryption[_-]?key|master[_-]?key|credential|(^|[_-])key$|^key[_-]",
    re.IGNORECASE)
_NOT_SECRET_NAME = re.compile(
    r"(_|-)(url|uri|path|file|arn|id|name|type|length|ttl|expiry|region|endpoint|host|port|"
    r"header|rotation|days|enabled|version|prefix)$|public", re.IGNORECASE)
_NOT_SECRET_VALUE = re.compile(r"^(arn:aws[\w-]*:(secretsmanager|ssm|kms):|\$\{|/aws/|"
                               r"(true|false|yes|no|none|null|-?\d+)$)", re.IGNORECASE)


def secret_name(name: str) -> bool:
    """True when a variable or attribute name says it holds a secret (``DB_PASSWORD``,
    ``API_KEY``, ``auth_token``), not a reference to one (``SECRET_ARN``, ``TOKEN_URL``)."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def literal_secret(value: Any) -> bool:
    """True for a non-empty literal string that is not a reference, flag or number."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return len(text) >= 4 and "${" not in text and not _NOT_SECRET_VALUE.match(text)


def redacted(name: str) -> str:
    """Evidence for a literal secret: the name only, the value masked."""
    return f"{name} = \"****\""
