"""Config-driven instantiation: configs that name a callable the loader imports and calls.

A NeMo ``.nemo`` archive (a tar) carries ``model_config.yaml``, whose Hydra ``_target_`` (and
NeMo's own ``target``) keys are imported and instantiated by ``restore_from``; Lightning's
``hparams.yaml``/``config.yaml`` name classes with ``class_path``; a transformers ``config.json``
with ``auto_map`` makes ``trust_remote_code=True`` import the repository's own Python files. Each
named callable is judged with the pickle allowlist and severity ladder (:func:`.callables.judge`),
plus the framework classes such configs ordinarily name (CamelCase classes of NeMo, Lightning,
torch, transformers …, unless the ladder calls them dangerous).

Configs are parsed, never loaded: YAML with the project's strict safe loader
(:func:`secpipe.core.safeload.parse_yaml`, bounded), JSON with :mod:`json`, both size-bounded, and
walked iteratively with node and depth bounds. A config that names an instantiation key but
cannot be parsed or walked is ``models.scan-incomplete`` (high).
"""

from __future__ import annotations

import json
import re
from typing import Any

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Severity
from secpipe.core.safeload import parse_yaml
from secpipe.scanners.models.callables import Verdict, judge
from secpipe.scanners.models.pickle_values import Buf
from secpipe.scanners.models.report import Collector, Where
from secpipe.scanners.models.treewalk import mappings

MAX_CONFIG_BYTES = 16 << 20
"""Largest config parsed (a model config is kilobytes)."""
_MAX_NODES = 1_000_000
_TOP_NAMES = frozenset(["model_config.yaml", "hparams.yaml", "config.yaml", "config.yml",
                        "config.json", "tokenizer_config.json", "processor_config.json",
                        "preprocessor_config.json", "generation_config.json"])
"""Config file names read beside a model (any ``.yaml``/``.yml``/``.json`` inside an archive)."""
_KEYS = {"_target_": "Hydra _target_", "class_path": "Lightning/jsonargparse class_path"}
_MARKERS = (b"_target_", b"class_path", b"auto_map")
_NEMO_MARKERS = (b"target:", b'"target"')
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_CLASS = re.compile(r"^_?[A-Z][A-Za-z0-9_]*$")
_FRAMEWORKS = ("nemo.", "lightning.", "pytorch_lightning.", "torch.", "torchvision.",
               "torchaudio.", "transformers.", "timm.", "omegaconf.", "sklearn.", "keras.",
               "megatron.core.", "peft.", "diffusers.", "sentence_transformers.")
"""Libraries whose classes these configs ordinarily name: allowed unless judged dangerous."""


def is_config_name(name: str, in_archive: bool) -> bool:
    """Whether a file or archive member of this name is a config worth walking."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base in _TOP_NAMES:
        return True
    return in_archive and base.endswith((".yaml", ".yml", ".json"))


def base_name(where: Where) -> str:
    """The innermost name of a position (member, else file)."""
    name = where.member.rsplit("!", 1)[-1] if where.member else where.path
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def scan_config(buf: Buf, where: Where, coll: Collector, allow: frozenset[str] = frozenset()
                ) -> None:
    """Parse a YAML or JSON config (bounded, never loaded) and judge what it instantiates."""
    name = base_name(where).lower()
    head = bytes(buf[:MAX_CONFIG_BYTES + 1])
    nemo_target = name == "model_config.yaml"
    markers = _MARKERS + (_NEMO_MARKERS if nemo_target else ())
    if not any(m in head for m in markers):
        return  # nothing a loader would instantiate
    if len(head) > MAX_CONFIG_BYTES:
        coll.incomplete(where, f"config larger than {MAX_CONFIG_BYTES} bytes names a callable")
        return
    try:
        if name.endswith(".json") or head.lstrip()[:1] in (b"{", b"["):
            data: Any = json.loads(head)
        else:
            data = parse_yaml(head, name).data
    except (ValueError, RecursionError, ConfigError) as exc:
        coll.incomplete(where, f"config names a callable but could not be parsed: "
                        f"{str(exc).splitlines()[0][:200]}")
        return
    fmt = "nemo" if where.fmt == "nemo" or nemo_target else "config"
    walk(data, where.typed(fmt), coll, allow, nemo_target)


def walk(data: object, where: Where, coll: Collector, allow: frozenset[str],
         nemo_target: bool = False) -> None:
    """Walk parsed config data (iteratively, bounded) for instantiation keys."""
    if isinstance(data, dict):
        _auto_map(data, where, coll)
    for node in mappings(data, where, coll, "config", _MAX_NODES):
        for key, value in node.items():
            what = _KEYS.get(key) if isinstance(key, str) else None
            if what is None and nemo_target and key == "target":
                what = "NeMo target"
            if what is not None and isinstance(value, str):
                coll.formats.add(where.fmt or "config")  # a config the loader acts on
                _judge(value, what, where, coll, allow)


def _judge(target: str, what: str, where: Where, coll: Collector,
           allow: frozenset[str]) -> None:
    full = target.strip().replace(":", ".")  # hydra also accepts module:attr
    if what == "NeMo target" and not _DOTTED.match(full):
        return  # NeMo's ``target`` is only imported when it is a dotted path
    j = judge(full, allow)
    if j.verdict is Verdict.DANGEROUS:
        _add(coll, "models.config.dangerous-target", Severity.CRITICAL, where,
             f"{what} instantiates {full} ({j.reason}): loading the model calls it", full)
        return
    if j.verdict is Verdict.SAFE:
        return
    leaf = full.rsplit(".", 1)[-1]
    if full.startswith(_FRAMEWORKS) and _CLASS.match(leaf):
        return  # a framework class, as ordinary configs name
    _add(coll, "models.config.unknown-target", Severity.MEDIUM, where,
         f"{what} instantiates {full}, outside the allowlist: loading the model imports and "
         "calls it", full)


def _auto_map(data: dict[Any, Any], where: Where, coll: Collector) -> None:
    amap = data.get("auto_map")
    if not isinstance(amap, dict) or not amap:
        return
    refs: list[str] = []
    for value in list(amap.values())[:64]:
        items = value if isinstance(value, list) else [value]
        refs += [v for v in items[:8] if isinstance(v, str)]
    trusted = data.get("trust_remote_code") is True
    remote = [r for r in refs if "--" in r]  # ``org/repo--module.Class``: another repository
    severity = Severity.HIGH if trusted or remote else Severity.MEDIUM
    why = (" and sets trust_remote_code" if trusted else "") + (
        f"; {remote[0]!r} comes from another repository" if remote else "")
    shown = ", ".join(refs[:4]) or "?"
    coll.formats.add("transformers-config")
    _add(coll, "models.config.remote-code", severity, where,
         f"auto_map makes transformers import repository code ({shown}) when loaded with "
         f"trust_remote_code=True{why}", "auto_map")


def _add(coll: Collector, rule_id: str, severity: Severity, where: Where, message: str,
         key: str) -> None:
    coll.add(rule_id, severity, where, message, key=key,
             props={"format": where.fmt or "config", "callable": key})
