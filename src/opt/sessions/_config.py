"""Reading config values for the dataset pipeline (sessions, levels, events, features).

The pipeline accepts a Hydra ``DictConfig`` or any nested mapping, so tests and notebooks can pass
plain dicts. Missing keys and malformed values raise :class:`~opt.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opt.errors import ConfigError

__all__ = ["cfg_value", "parse_hhmm"]


def cfg_value(node: Any, key: str, *, where: str) -> Any:
    """Return ``node[key]``.

    Args:
        node: a ``DictConfig``, a mapping, or an object with attribute ``key``.
        key: the key to read.
        where: dotted path of ``node`` in the composed config (used in the error message).

    Raises:
        ConfigError: if the key is missing.
    """
    if isinstance(node, Mapping) or hasattr(node, "keys"):
        if key in node:
            return node[key]
    elif hasattr(node, key):
        return getattr(node, key)
    raise ConfigError(f"missing config key {where}.{key}")


def parse_hhmm(value: Any, *, key: str) -> int:
    """Parse an exchange-local clock time ``"HH:MM"`` into minutes after midnight.

    Args:
        value: the config value, e.g. ``"09:30"``.
        key: dotted config key, for the error message.

    Returns:
        Minutes after midnight, in ``[0, 1440)``.

    Raises:
        ConfigError: if ``value`` is not a valid ``"HH:MM"`` string.
    """
    text = str(value).strip()
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"{key} must be a clock time 'HH:MM', got {value!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ConfigError(f"{key} must be a clock time 'HH:MM' within a day, got {value!r}")
    return hours * 60 + minutes
