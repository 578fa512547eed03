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
