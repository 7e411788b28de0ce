"""Type and range rules for the config values a user is most likely to set by hand.

Checked once when a command starts (:func:`check_config`), so ``search.n_trials=abc`` or
``split.test_fraction=2`` is refused with the key and the rule instead of a traceback deep inside a
trial, and against every search range (:func:`check_range`), so a range cannot sample a value its
key does not allow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from opt.errors import ConfigError

__all__ = ["RULES", "check_config", "check_value", "check_range"]

_Rule = tuple[type, Callable[[Any], bool] | None, str]


def _ge(x: float) -> Callable[[Any], bool]:
    return lambda v: v >= x


def _gt(x: float) -> Callable[[Any], bool]:
    return lambda v: v > x


#: dotted key -> (type, predicate, rule text); keys with a null value are skipped
RULES: dict[str, _Rule] = {
    "search.n_trials": (int, _ge(1), ">= 1"),
    "search.timeout": (float, _gt(0), "> 0 seconds (or null)"),
    "search.seed": (int, _ge(0), ">= 0"),
    "search.n_startup_trials": (int, _ge(0), ">= 0"),
    "search.min_events_per_day": (float, _ge(0), ">= 0"),
    "search.max_events_per_day": (float, _gt(0), "> 0"),
    "search.workers": (int, _ge(1), ">= 1"),
    "search.max_consecutive_failures": (int, _ge(0), ">= 0 (0 = never stop)"),
    "search.threads_per_worker": (int, _ge(1), ">= 1 (or null = cores // workers)"),
    "search.worker_index": (int, _ge(0), ">= 0"),
    "split.test_fraction": (float, lambda v: 0 <= v < 0.9, "in [0, 0.9)"),
    "split.eval_fraction": (float, lambda v: 0 < v < 1, "in (0, 1)"),
    "split.n_folds": (int, _ge(1), ">= 1"),
    "split.min_train_fraction": (float, lambda v: 0 < v < 1, "in (0, 1)"),
    "split.embargo_bars": (int, _ge(0), ">= 0 bars"),
    "events.k_atr": (float, _ge(0), ">= 0 ATR"),
    "events.max_wait": (int, _ge(1), ">= 1 bar"),
    "events.cooldown": (int, _ge(0), ">= 0 bars"),
    "outcome.threshold": (float, _gt(0), "> 0"),
    "outcome.lookforward": (int, _ge(1), ">= 1 bar"),
    "features.window_short": (int, _ge(1), ">= 1 bar"),
    "features.window_mid": (int, _ge(2), ">= 2 bars"),
    "features.window_long": (int, _ge(3), ">= 3 bars"),
    "features.volume_z_window": (int, _ge(2), ">= 2 bars"),
    "levels.or_minutes": (int, _ge(1), ">= 1 minute"),
    "levels.atr_period": (int, _ge(1), ">= 1 bar"),
    "instrument.tick_size": (float, _gt(0), "> 0 points"),
    "instrument.point_value": (float, _gt(0), "> 0 currency per point"),
    "instrument.commission": (float, _ge(0), ">= 0 currency per contract per side"),
}
for _t in ("on", "pm", "or", "pd", "sma", "vwap"):
    RULES[f"events.monitor_band.{_t}"] = (float, _ge(0), ">= 0 points")
    RULES[f"events.touch_band.{_t}"] = (float, _ge(0), ">= 0 points")


def check_value(key: str, value: Any) -> Any:
    """Coerce ``value`` to the rule's type for ``key`` and check it; return the coerced value.

    Raises:
        ConfigError: naming ``key``, the value and the rule.
    """
    rule = RULES.get(key)
    if rule is None or value is None:
        return value
    kind, predicate, text = rule
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        coerced = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r} must be a{'n integer' if kind is int else ' number'} {text}") from None
    if isinstance(coerced, float) and not math.isfinite(coerced) or (predicate and not predicate(coerced)):
        raise ConfigError(f"{key}={value!r} breaks the rule: must be {text}")
    return coerced


def check_config(cfg: DictConfig) -> None:
    """Check every key of :data:`RULES` present in ``cfg``.

    Raises:
        ConfigError: the first key that breaks its rule.
    """
    for key in RULES:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            check_value(key, value)


def check_range(key: str, low: Any, high: Any, *, where: str) -> None:
    """Check that both ends of a search range satisfy ``key``'s rule.

    Raises:
        ConfigError: naming ``where`` (the space entry) and the rule.
    """
    for end, value in (("low", low), ("high", high)):
        try:
            check_value(key, value)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{end}: {exc}") from None
