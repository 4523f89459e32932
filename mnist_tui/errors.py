"""User-facing error types, one per layer.

Each carries a one-line message that the CLI prints to stderr and the app shows as a
notification, so callers never need to format tracebacks for the user.
"""

from __future__ import annotations


class MnistTuiError(Exception):
    """Base for every error a user can cause; ``str(err)`` is the one-line message."""


class DatasetError(MnistTuiError):
    """Data could not be found, read or validated."""


class ConfigError(MnistTuiError):
    """A training config field holds a bad value; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


class ModelFileError(MnistTuiError):
    """A saved model file could not be loaded."""
