"""User-facing errors.

Anything the user can fix (a bad file, a bad config value, a missing prerequisite) raises a subclass
of :class:`OptError`. The CLI prints its message on stderr without a traceback and exits with
:data:`USER_ERROR_EXIT_CODE`.
"""

from __future__ import annotations

__all__ = ["USER_ERROR_EXIT_CODE", "OptError", "DataError", "ConfigError", "StageError"]

USER_ERROR_EXIT_CODE = 2


class OptError(Exception):
    """An error the user can fix; its message says what is wrong and where."""


class DataError(OptError):
    """Market data that breaks a validation rule (names the file, the row(s) and the rule)."""


class ConfigError(OptError):
    """A config value that is missing or out of its allowed range (names the key)."""


class StageError(OptError):
    """A stage that needs the result of an earlier one that is not there (says what to run first)."""
