"""A ``terraform show -json`` plan into a :class:`TfModel`.

Values in ``planned_values`` are already resolved; an attribute marked in the resource change's
``after_unknown`` becomes an :class:`Unresolved` (a :class:`Ref` when the configuration names
the resource it is read from); a list of objects is a nested block (``list[TfBlock]``). Lines
are not known (``None``).
"""

from __future__ import annotations

import json
from typing import Any

from secpipe.scanners.iac.model import Budget, Problem, Ref, Unresolved
from secpipe.scanners.iac.terraform.hclparse import JsonTooDeep, load_json_bounded
from secpipe.scanners.iac.terraform.model import TfBlock, TfModel, TfResource

MAX_MODULES = 10_000
_NOT_RESOURCES = ("var", "local", "each", "count", "path", "module", "self", "terraform")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_plan_json(doc: Any) -> bool:
    """True for a decoded Terraform plan (or state) JSON document."""
    return isinstance(doc, dict) and "format_version" in doc and (
        "planned_values" in doc or "resource_changes" in doc)


def _ref(reference: str, prefix: str) -> Ref | None:
    """``aws_s3_bucket.b.id`` (or ``data.x.y.json``) as a Ref; None for var./local./…"""
    parts = reference.split(".")
    if not parts or parts[0] in _NOT_RESOURCES:
        return None
    if parts[0] == "data":
        if len(parts) < 3:
            return None
        return Ref(f"{prefix}data.{parts[1]}.{parts[2].split('[')[0]}",
                   parts[3] if len(parts) > 3 else "")
    if len(parts) < 2:
        return None
    return Ref(f"{prefix}{parts[0]}.{parts[1].split('[')[0]}",
               parts[2].split("[")[0] if len(parts) > 2 else "")


def _unknown(name: str, address: str, expr: Any, prefix: str) -> Any:
    if isinstance(expr, dict):
        for reference in _list(expr.get("references")):
            if isinstance(reference, str):
                ref = _ref(reference, prefix)
                if ref is not None:
                    return ref
    return Unresolved(f"{address}.{name}", "known only after apply")


def _block(values: Any, unknown: Any, exprs: Any, address: str, prefix: str,
           depth: int) -> TfBlock:
    out = TfBlock({}, None, None)
    if depth > 64:
        return out
    values = values if isinstance(values, dict) else {}
    unknown = unknown if isinstance(unknown, dict) else {}
    exprs = exprs if isinstance(exprs, dict) else {}
    for name, value in values.items():
        sub_unknown = unknown.get(name)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            sub_exprs = exprs.get(name)
            blocks = []
            for i, item in enumerate(value):
                u = sub_unknown[i] if isinstance(sub_unknown, list) and \
                    i < len(sub_unknown) else None
                e = sub_exprs[i] if isinstance(sub_exprs, list) and i < len(sub_exprs) \
                    else None
                blocks.append(_block(item, u, e, address, prefix, depth + 1))
            out.attrs[name] = blocks
        elif value is None and sub_unknown is True:
            out.attrs[name] = _unknown(name, address, exprs.get(name), prefix)
        elif value is None:
            continue  # null is "not set"
        else:
            out.attrs[name] = value
    for name, flag in unknown.items():
        if flag is True and name not in values:
            out.attrs[name] = _unknown(name, address, exprs.get(name), prefix)
    return out


def _config_resources(config: Any) -> dict[str, dict[str, Any]]:
    """Configuration resources by ``<module path>|<address>`` (module path ``a.b``)."""
    out: dict[str, dict[str, Any]] = {}
    stack: list[tuple[str, Any]] = [("", config)]
    seen = 0
    while stack and seen < MAX_MODULES:
        path, module = stack.pop()
        seen += 1
        if not isinstance(module, dict):
            continue
        for res in _list(module.get("resources")):
            if isinstance(res, dict) and isinstance(res.get("address"), str):
                out[f"{path}|{res['address']}"] = res
        calls = module.get("module_calls")
        if isinstance(calls, dict):
            for name, call in calls.items():
                if isinstance(call, dict):
                    stack.append((f"{path}.{name}" if path else name, call.get("module")))
    return out


def _module_path(module_address: str) -> str:
    """``module.a[0].module.b`` -> ``a.b`` (the configuration's module path)."""
    names = []
    for part in module_address.split("module.")[1:]:
        names.append(part.rstrip(".").split("[")[0])
    return ".".join(names)


def _provider_block(config: Any, depth: int = 0) -> TfBlock:
    out = TfBlock({}, None, None)
    if not isinstance(config, dict) or depth > 32:
        return out
    for name, expr in config.items():
        if isinstance(expr, dict):
            if "constant_value" in expr:
                out.attrs[name] = expr["constant_value"]
            else:
                out.attrs[name] = Unresolved(name, "provider setting not constant")
        elif isinstance(expr, list):
            out.attrs[name] = [_provider_block(e, depth + 1) for e in expr]
    return out


def load_plan(data: bytes, rel: str, budget: Budget, problems: list[Problem]) -> TfModel | None:
    """The model of one plan file; None (with a problem when it is broken) otherwise."""
    try:
        doc = load_json_bounded(data, budget.max_depth, budget.max_nodes)
    except JsonTooDeep as exc:
        problems.append(Problem("iac.parse-error", rel, None, f"{rel}: {exc}"))
        return None
    except (UnicodeDecodeError, ValueError) as exc:
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else None
        problems.append(Problem("iac.parse-error", rel, line,
                                f"{rel}: invalid JSON ({str(exc).split(':')[0]})"))
        return None
    if not is_plan_json(doc):
        return None
    model = TfModel(root=rel)
    changes: dict[str, Any] = {}
    for change in _list(doc.get("resource_changes")):
        if isinstance(change, dict) and isinstance(change.get("address"), str):
            changes[change["address"]] = _dict(change.get("change"))
    configuration = _dict(doc.get("configuration"))
    config = _config_resources(configuration.get("root_module"))
    providers = configuration.get("provider_config")
    if isinstance(providers, dict):
        for key, prov in providers.items():
            if isinstance(prov, dict):
                model.providers.append((str(prov.get("name") or key), rel,
                                        _provider_block(prov.get("expressions"))))
    planned = _dict(doc.get("planned_values"))
    stack: list[tuple[str, Any]] = [("", planned.get("root_module"))]
    seen = 0
    while stack:
        module_address, module = stack.pop(0)
        seen += 1
        if seen > MAX_MODULES:
            problems.append(Problem("iac.budget-exceeded", rel, None,
                                    f"{rel}: more than {MAX_MODULES} modules; the rest "
                                    "was not analysed"))
            break
        if not isinstance(module, dict):
            continue
        prefix = f"{module_address}." if module_address else ""
        mpath = _module_path(module_address)
        for res in _list(module.get("resources")):
            if not isinstance(res, dict):
                continue
            address, rtype, name = res.get("address"), res.get("type"), res.get("name")
            if not (isinstance(address, str) and isinstance(rtype, str)
                    and isinstance(name, str)):
                continue
            mode = "data" if res.get("mode") == "data" else "resource"
            base = f"{prefix}{'data.' if mode == 'data' else ''}{rtype}.{name}"
            change = changes.get(address, {})
            local_address = f"{'data.' if mode == 'data' else ''}{rtype}.{name}"
            exprs = _dict(config.get(f"{mpath}|{local_address}")).get("expressions")
            body = _block(res.get("values"), change.get("after_unknown"), exprs, base,
                          prefix, 0)
            model.resources.append(TfResource(mode=mode, type=rtype, name=name,
                                              address=address, module=module_address,
                                              path=rel, body=body, base_address=base))
        for child in _list(module.get("child_modules")):
            if isinstance(child, dict) and isinstance(child.get("address"), str):
                stack.append((child["address"], child))
    return model
