"""The explicit registry of step kinds.

Built-in kinds are listed here, by name, next to the module that implements them; modules are
imported only when a pipeline uses the kind (so ``secpipe --help`` stays fast and optional
extras stay optional). Third-party kinds come from the ``secpipe.steps`` entry-point group of
*installed* packages. Nothing is ever imported from the project being scanned, and a
configuration file can only name a kind, never a module.

Scanners follow one naming rule: every kind named ``scan-X``, built-in or from a plugin, is a
scanner that ``secpipe scan X`` runs (:func:`scanner_kinds`), and its ``Settings`` must derive from
:class:`secpipe.scanners.base.ScannerSettings` (:func:`load_kind` refuses it otherwise), so every
scanner shares paths, excludes and budget names, and the command's options follow from its fields.
"""

from __future__ import annotations

import importlib
from typing import Any

from secpipe.core.errors import ConfigError, MissingExtra, extra_of, require_extra
from secpipe.core.step import StepKind

ENTRY_POINT_GROUP = "secpipe.steps"
SCANNER_PREFIX = "scan-"
"""A kind named ``scan-X`` is a scanner, run by ``secpipe scan X``."""

#: kind name -> (module, class). Keep sorted; ``tests/core/test_registry.py`` checks every entry.
BUILTIN_STEPS: dict[str, tuple[str, str]] = {
    "build-image": ("secpipe.delivery.build_step", "BuildImageStep"),
    "deploy": ("secpipe.delivery.deploy", "DeployStep"),
    "evaluate": ("secpipe.ml.evaluate_step", "EvaluateStep"),
    "exec": ("secpipe.steps.exec", "ExecStep"),
    "gate": ("secpipe.policy.gate", "GateStep"),
    "load": ("secpipe.stores.steps", "LoadStep"),
    "scan-code": ("secpipe.scanners.code.step", "CodeScanStep"),
    "scan-deps": ("secpipe.scanners.deps.step", "DepsScanStep"),
    "scan-host": ("secpipe.scanners.host.step", "HostScanStep"),
    "scan-iac": ("secpipe.scanners.iac.step", "IacScanStep"),
    "scan-image": ("secpipe.scanners.image.step", "ImageScanStep"),
    "scan-models": ("secpipe.scanners.models.step", "ModelScanStep"),
    "scan-ports": ("secpipe.scanners.ports.step", "PortScanStep"),
    "scan-secrets": ("secpipe.scanners.secrets.step", "SecretsScanStep"),
    "scan-web": ("secpipe.scanners.web.step", "WebScanStep"),
    "sign": ("secpipe.provenance.sign_step", "SignStep"),
    "store": ("secpipe.stores.steps", "StoreStep"),
    "train": ("secpipe.ml.train_step", "TrainStep"),
    "verify": ("secpipe.provenance.verify_step", "VerifyStep"),
}


#: built-in kind -> the extra (``pyproject.toml``) it cannot run without; :func:`load_kind` checks
#: it, so a pipeline using the kind fails its validation naming the extra, before any stage runs
KIND_EXTRAS: dict[str, str] = {
    "sign": "provenance",
    "verify": "provenance",
}


def missing_extra(name: str) -> str | None:
    """The extra a built-in kind needs and that is not installed (``provenance`` …), else None:
    the built-in pipelines leave such a kind out and say why."""
    extra = KIND_EXTRAS.get(name)
    if extra is None:
        return None
    try:
        require_extra(name, extra)
    except MissingExtra:
        return extra
    return None


def builtin_kinds() -> list[str]:
    """Names of the built-in step kinds."""
    return sorted(BUILTIN_STEPS)


def _third_party() -> dict[str, object]:
    from importlib.metadata import entry_points  # slow to import; only needed for plugins

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_kinds() -> list[str]:
    """Built-in plus installed third-party kinds."""
    return sorted(set(BUILTIN_STEPS) | set(_third_party()))


def scanner_kinds(*, plugins: bool = True) -> dict[str, str]:
    """``secpipe scan`` name -> kind, for every kind named ``scan-X`` (sorted by name); without
    ``plugins`` only the built-in ones (no entry point is read)."""
    kinds = available_kinds() if plugins else builtin_kinds()
    return {k.removeprefix(SCANNER_PREFIX): k for k in kinds
            if k.startswith(SCANNER_PREFIX) and len(k) > len(SCANNER_PREFIX)}


def load_kind(name: str, *, check_extra: bool = True) -> type[StepKind[Any]]:
    """Return the class for a kind name; :class:`ConfigError` names the unknown kind, and
    :class:`MissingExtra` the extra a built-in kind needs (unless ``check_extra`` is false)."""
    if name in BUILTIN_STEPS:
        if check_extra and name in KIND_EXTRAS:
            require_extra(f"step kind {name!r}", KIND_EXTRAS[name])
        module_name, attr = BUILTIN_STEPS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            extra = extra_of(exc.name)
            if extra is None:
                raise
            raise MissingExtra(f"step kind {name!r}", extra) from None
        cls = getattr(module, attr)
    else:
        ep = _third_party().get(name)
        if ep is None:
            raise ConfigError(
                f"unknown step kind {name!r}",
                hint="known kinds: " + ", ".join(available_kinds()),
            )
        try:
            cls = ep.load()  # type: ignore[attr-defined]
        except Exception as exc:  # a broken plugin must not look like an unknown kind
            raise ConfigError(
                f"step kind {name!r} from an installed plugin failed to load: {exc}"
            ) from None
    if not (isinstance(cls, type) and issubclass(cls, StepKind)):
        raise ConfigError(f"step kind {name!r} does not implement secpipe.core.step.StepKind")
    if name.startswith(SCANNER_PREFIX):
        _check_scanner(name, cls)
    return cls


def _check_scanner(name: str, cls: type[StepKind[Any]]) -> None:
    from secpipe.scanners.base import ScannerSettings  # the scanner interface builds on core

    settings = getattr(cls, "Settings", None)
    if not (isinstance(settings, type) and issubclass(settings, ScannerSettings)):
        raise ConfigError(
            f"step kind {name!r} is named as a scanner but its Settings do not derive from "
            "secpipe.scanners.base.ScannerSettings",
            hint="derive the settings from ScannerSettings, or name the kind without 'scan-'")
