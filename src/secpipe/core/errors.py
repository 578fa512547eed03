"""One error hierarchy with a user-facing diagnostic, caught once in ``cli.main``."""

from __future__ import annotations


class SecpipeError(Exception):
    """Base of every error reported to a user. ``str(err)`` is one line naming the problem."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostic(self) -> str:
        """The one-line message (plus a hint line when there is one)."""
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(SecpipeError):
    """A pipeline or configuration file is malformed, or names something unknown."""


class InputError(SecpipeError):
    """An input path is missing, unreadable, too large, or not what it should be."""


class StepError(SecpipeError):
    """A step could not complete (its stage fails closed)."""


class StoreError(SecpipeError):
    """The run store or an artifact store failed."""


#: extra (``pyproject.toml``) -> the modules it installs that secpipe imports; the ``all`` extra
#: installs every one. ``tests/adoption/test_install.py`` checks this against ``pyproject.toml``.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "provenance": ("cryptography", "model_signing", "in_toto_attestation", "in_toto", "OpenSSL",
                   "sigstore", "cyclonedx", "boto3", "botocore", "hvac", "oras", "requests"),
    "ml": ("sklearn", "skops", "numpy", "scipy", "joblib"),
    "onnx": ("skl2onnx", "onnxruntime", "onnx"),
    "models": ("h5py", "py7zr", "jinja2"),
}

#: extra -> the modules without which none of its features work (checked before a command or a
#: step kind starts, so a missing extra is a usage error, not a crash half-way through)
EXTRA_CORE: dict[str, tuple[str, ...]] = {
    "provenance": ("cryptography", "model_signing", "in_toto_attestation"),
    "ml": ("sklearn", "skops", "numpy"),
}


class MissingExtra(ConfigError):
    """A command or step kind needs an optional extra that is not installed."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what} needs the {extra!r} extra: pip install 'secpipe[{extra}]'")
        self.extra = extra


def extra_of(module: str | None) -> str | None:
    """The extra that installs ``module`` (a dotted name; its top-level package decides)."""
    top = (module or "").partition(".")[0]
    return next((extra for extra, names in EXTRA_MODULES.items() if top in names), None)


def require_extra(what: str, extra: str) -> None:
    """Raise :class:`MissingExtra` unless the core modules of ``extra`` are installed."""
    if not all(_installed(name) for name in EXTRA_CORE.get(extra, ())):
        raise MissingExtra(what, extra)


def _installed(module: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a broken install
        return False
