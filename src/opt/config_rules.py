"""The one home of config rules: type, range and choice of every hand-set config value, and its reader.

:data:`RULES` maps a dotted config key to its :class:`Rule`. The rules are applied

- once when a command starts (:func:`check_config`), so ``search.n_trials=abc`` or
  ``split.test_fraction=2`` is refused with the key and the rule instead of a traceback deep inside a
  trial;
- against every search range (:func:`check_range`), so a range cannot sample a value its key does not
  allow;
- every time a package reads a value with :func:`cfg_value` (or checks one with :func:`check_value`),
  so the typed parameter views (``events``, ``outcome``, ``features``, ``levels``, ``bracket``,
  ``instrument``, ``split``) refuse exactly what :func:`check_config` refuses.

Defaults live in the YAML files under ``conf/`` only: a key the YAML defines is read without a code
default, and a missing key is a :class:`~opt.errors.ConfigError` naming it.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

from opt.errors import ConfigError

__all__ = [
    "RULES", "Rule", "cfg_value", "check_config", "check_fields", "check_range", "check_value", "clock_minutes",
]

_MINUTES_PER_DAY = 1440


class Rule(NamedTuple):
    """What one config key allows.

    Attributes:
        kind: ``int``, ``float``, ``str``, ``bool`` or ``list``; the value is coerced to it (an
            integer-valued float becomes an ``int``, an ``int`` a ``float``; ``bool`` and ``list`` are
            not coerced, only checked).
        predicate: extra condition on the coerced value, or None.
        text: the rule in words, as the error message quotes it (with units).
        choices: the allowed values of a categorical key (``text`` then lists them), or None.
    """

    kind: type
    predicate: Callable[[Any], bool] | None
    text: str
    choices: tuple[Any, ...] | None = None


def _ge(x: float) -> Callable[[Any], bool]:
    return lambda v: v >= x


def _gt(x: float) -> Callable[[Any], bool]:
    return lambda v: v > x


def _one_of(*choices: Any) -> Rule:
    names = (str(c).lower() if isinstance(c, bool) else str(c) for c in choices)  # as YAML spells them
    return Rule(type(choices[0]), None, "one of " + " | ".join(names), choices)


def clock_minutes(value: Any) -> int:
    """Minutes after midnight of an exchange-local clock time ``"HH:MM"``.

    Args:
        value: the clock time, e.g. ``"09:30"``.

    Returns:
        Minutes after midnight, in ``[0, 1440)``.

    Raises:
        ValueError: if ``value`` is not a ``"HH:MM"`` time within a day.
    """
    parts = str(value).strip().split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a clock time 'HH:MM': {value!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"not a clock time within a day: {value!r}")
    return hours * 60 + minutes


def _is_clock(value: str) -> bool:
    try:
        clock_minutes(value)
    except ValueError:
        return False
    return True


def _is_timezone(value: str) -> bool:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def _distinct_positive_ints(values: list[Any]) -> bool:
    def whole(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer() and v >= 1

    return all(whole(v) for v in values) and len({int(v) for v in values}) == len(values)


def _is_exchange_calendar(value: str) -> bool:
    """Whether ``pandas-market-calendars`` knows the calendar (as :func:`opt.sessions.known_calendar`; read
    here directly because ``opt.sessions`` reads its config through this module: no import cycle)."""
    import pandas_market_calendars as mcal  # lazy: ~0.4 s, only when levels.calendar is checked

    return value in set(mcal.get_calendar_names())


_CLOCK = Rule(str, _is_clock, "a clock time 'HH:MM' within a day (exchange-local)")

#: dotted key -> :class:`Rule`; keys with a null value are skipped
RULES: dict[str, Rule] = {
    "search.n_trials": Rule(int, _ge(1), ">= 1"),
    "search.timeout": Rule(float, _gt(0), "> 0 seconds (or null)"),
    "search.seed": Rule(int, _ge(0), ">= 0"),
    "search.n_startup_trials": Rule(int, _ge(0), ">= 0"),
    "search.min_events_per_day": Rule(float, _ge(0), ">= 0"),
    "search.max_events_per_day": Rule(float, _gt(0), "> 0"),
    "search.workers": Rule(int, _ge(1), ">= 1"),
    "search.grace_period": Rule(int, _ge(0), ">= 0 seconds"),
    "search.heartbeat_interval": Rule(int, _ge(1), ">= 1 second (or null = no heartbeat)"),
    "search.max_consecutive_failures": Rule(int, _ge(0), ">= 0 (0 = never stop)"),
    "search.threads_per_worker": Rule(int, _ge(1), ">= 1 (or null = cores // workers)"),
    "search.worker_index": Rule(int, _ge(0), ">= 0"),
    "search.warm_start.top_k": Rule(int, _ge(1), ">= 1 trials of the earlier study"),
    "search.patience": Rule(int, _ge(1), ">= 1 finished trials without improvement (or null = never stop)"),
    "search.terminator": Rule(bool, None, "true or false"),
    "stage.objective.aggregate": _one_of("pooled", "median", "mean", "min"),
    "stage.objective.min_trades": Rule(int, _ge(0), ">= 0 trades over all walk-forward folds"),
    "stage.objective.min_events": Rule(int, _ge(0), ">= 0 evaluation events over all walk-forward folds "
                                       "(0 = no check)"),
    "split.test_fraction": Rule(float, lambda v: 0 <= v < 0.9, "in [0, 0.9)"),
    "split.eval_fraction": Rule(float, lambda v: 0 < v < 1, "in (0, 1)"),
    "split.n_folds": Rule(int, _ge(1), ">= 1"),
    "split.min_train_fraction": Rule(float, lambda v: 0 < v < 1, "in (0, 1)"),
    "split.embargo_bars": Rule(int, _ge(0), ">= 0 bars"),
    "data.outliers": _one_of("refuse", "drop", "keep"),
    "promote.retrain": _one_of("folds", "ensemble", "early_stopping"),
    "model.sample_weight": _one_of("none", "uniqueness"),
    "promote.cost_stress.commission_factor": Rule(float, _ge(1), ">= 1 (a multiple of the commission)"),
    "promote.cost_stress.slippage_ticks_added": Rule(float, _ge(0), ">= 0 ticks"),
    "data.outlier_k": Rule(float, _gt(1), "> 1 (multiples of the rolling median bar range)"),
    "data.outlier_window": Rule(int, _ge(15), ">= 15 bars"),
    "data.years": Rule(float, _gt(0), "> 0 years of synthetic bars (or null = data.synthetic.n_days)"),
    "levels.exchange_tz": Rule(str, _is_timezone, "a known IANA time zone name (e.g. America/New_York)"),
    "levels.day_start": _CLOCK,
    "levels.day_end": _CLOCK,
    "levels.pm_start": _CLOCK,
    "levels.rth_start": _CLOCK,
    "levels.rth_end": _CLOCK,
    "levels.or_minutes": Rule(int, _ge(1), ">= 1 minute"),
    "levels.sma_timeframe_min": Rule(int, _ge(1), ">= 1 minute"),
    "levels.sma_periods": Rule(list, _distinct_positive_ints, "a list of distinct integers >= 1 (bars)"),
    "levels.atr_period": Rule(int, _ge(1), ">= 1 bar"),
    "levels.calendar": Rule(str, _is_exchange_calendar,
                            "a pandas-market-calendars calendar name (e.g. CME_Equity), or null = weekdays only"),
    "events.k_atr": Rule(float, _ge(0), ">= 0 ATR"),
    "events.max_wait": Rule(int, _ge(1), ">= 1 bar"),
    "events.cooldown": Rule(int, _ge(0), ">= 0 bars"),
    "events.warmup_bars": Rule(int, _ge(0), ">= 0 bars"),
    "outcome.threshold_mode": _one_of("atr", "points"),
    "outcome.threshold": Rule(float, _gt(0), "> 0"),
    "outcome.lookforward": Rule(int, _ge(1), ">= 1 bar"),
    "outcome.method": _one_of("threshold", "triple_barrier"),
    "outcome.upper_atr": Rule(float, _gt(0), "> 0 ATR"),
    "outcome.lower_atr": Rule(float, _gt(0), "> 0 ATR"),
    "outcome.horizon": Rule(int, _ge(1), ">= 1 bar"),
    "features.window_short": Rule(int, _ge(1), ">= 1 bar"),
    "features.window_mid": Rule(int, _ge(2), ">= 2 bars"),
    "features.window_long": Rule(int, _ge(3), ">= 3 bars"),
    "features.volume_z_window": Rule(int, _ge(2), ">= 2 bars"),
    "features.custom": Rule(list, None, "a list of _target_ nodes, each fn(bars, **kwargs) -> DataFrame"),
    "audit.n_cuts": Rule(int, _ge(1), ">= 1 cut bars"),
    "audit.seed": Rule(int, _ge(0), ">= 0"),
    "audit.offsets": Rule(list, _distinct_positive_ints, "a list of distinct integers >= 1 (bars)"),
    "audit.atr_timeframes": Rule(list, _distinct_positive_ints, "a list of distinct integers >= 1 (minutes)"),
    "audit.champion": _one_of("auto", True, False),
    "audit.tolerance": Rule(float, _ge(0), ">= 0 (0 = bit-exact)"),
    "audit.warmup_tolerance": Rule(float, _gt(0), "> 0 (relative)"),
    "bracket.entry_mode": _one_of("market", "limit"),
    "bracket.entry_offset_atr": Rule(float, _ge(0), ">= 0 ATR"),
    "bracket.expiry_bars": Rule(int, _ge(1), ">= 1 bar"),
    "bracket.stop_mode": _one_of("atr", "level"),
    "bracket.stop_atr": Rule(float, _gt(0), "> 0 ATR"),
    "bracket.stop_buffer_ticks": Rule(int, _ge(0), ">= 0 ticks"),
    "bracket.atr_timeframe": Rule(int, _ge(1), ">= 1 minute"),
    "bracket.tp_r": Rule(float, _gt(0), "> 0 R"),
    "bracket.max_hold_bars": Rule(int, _ge(1), ">= 1 bar"),
    "bracket.confidence": Rule(float, lambda v: 0 <= v <= 1, "in [0, 1] (a class probability)"),
    "bracket.direction": _one_of("both", "long_only", "short_only"),
    "bracket.slippage_ticks": Rule(float, _ge(0), ">= 0 ticks"),
    "bracket.sizing": _one_of("fixed", "risk"),
    "bracket.contracts": Rule(int, _ge(1), ">= 1 contract"),
    "bracket.risk_per_trade": Rule(float, _gt(0), "> 0 currency"),
    "bracket.max_positions": Rule(int, _ge(1), ">= 1"),
    "bracket.flatten_at_session_end": _one_of(True, False),
    "account.enabled": Rule(bool, None, "true or false"),
    "account.start_balance": Rule(float, _gt(0), "> 0 currency"),
    "account.max_drawdown": Rule(float, _gt(0), "> 0 currency"),
    "account.drawdown": _one_of("trailing", "static"),
    "account.trail_on": _one_of("trade", "day"),
    "account.daily_loss_limit": Rule(float, _gt(0), "> 0 currency (or null = no limit)"),
    "account.risk_per_trade": Rule(float, _gt(0), "> 0 currency per 1R"),
    "account.risk_step": Rule(float, _ge(0), ">= 0 currency per step"),
    "account.step_every": Rule(float, _gt(0), "> 0 currency of balance gain per risk step"),
    "account.max_risk": Rule(float, _gt(0), "> 0 currency per 1R (or null = no cap)"),
    "stage.objective.account_constraint": Rule(bool, None, "true or false"),
    "robustness.montecarlo.n_paths": Rule(int, _ge(1), ">= 1 Monte Carlo paths"),
    "robustness.montecarlo.block_days": Rule(int, _ge(1), ">= 1 trading days per bootstrap block"),
    "robustness.montecarlo.seed": Rule(int, _ge(0), ">= 0"),
    "robustness.montecarlo.ruin_drawdown": Rule(float, _gt(0), "> 0 currency (account drawdown)"),
    "robustness.montecarlo.risk_per_trade": Rule(float, _gt(0), "> 0 currency per 1R"),
    "robustness.regimes.vol_lookback_days": Rule(int, _ge(2), ">= 2 trading days"),
    "robustness.regimes.efficiency_bars": Rule(int, _ge(1), ">= 1 bar"),
    "robustness.regimes.trend_efficiency": Rule(float, lambda v: 0 <= v <= 1, "in [0, 1] (efficiency ratio)"),
    "robustness.regimes.max_slice_share": Rule(float, lambda v: 0 < v <= 1, "in (0, 1] (share of net PnL)"),
    "filters.time_of_day.start": _CLOCK,
    "filters.time_of_day.end": _CLOCK,
    "filters.weekday.days": Rule(list, lambda v: 0 < len(v) == len({str(d) for d in v}) and {str(d) for d in v}
                                 <= {"mon", "tue", "wed", "thu", "fri", "sat", "sun"},
                                 "a non-empty list of distinct weekdays mon | tue | wed | thu | fri | sat | sun"),
    "filters.weekly_vwap_side.side": _one_of("with", "against"),
    "filters.ema_trend.timeframe": _one_of(5, 15),
    "filters.ema_trend.period": Rule(int, _ge(1), ">= 1 bars of filters.ema_trend.timeframe"),
    "filters.pd_position.mode": _one_of("inside", "outside"),
    "filters.on_position.mode": _one_of("inside", "outside"),
    "instrument.tick_size": Rule(float, _gt(0), "> 0 points"),
    "instrument.point_value": Rule(float, _gt(0), "> 0 currency per point"),
    "instrument.commission": Rule(float, _ge(0), ">= 0 currency per contract per side"),
    "tracking.trial_artifacts": _one_of("top", "all", "none"),
    "tracking.trial_artifacts_top_k": Rule(int, _ge(1), ">= 1 trials (the best so far keep their artifacts)"),
    "tracking.playback": _one_of("best", "none"),
    "playback.max_bars": Rule(int, _ge(1), ">= 1 bars on the page"),
    "playback.margin_bars": Rule(int, _ge(0), ">= 0 bars before the first trade"),
    "playback.trial": Rule(int, _ge(0), ">= 0 (a stage-2 trial number; null = the best)"),
    "playback.fold": Rule(int, _ge(0), ">= 0 (a walk-forward fold; null = the best net PnL)"),
    "playback.champion": Rule(bool, None, "true or false"),
}
for _t in ("on", "pm", "or", "pd", "sma", "vwap", "vwap_rth"):
    RULES[f"levels.use.{_t}"] = _one_of(True, False)
    RULES[f"events.monitor_band.{_t}"] = Rule(float, _ge(0), ">= 0 points")
    RULES[f"events.touch_band.{_t}"] = Rule(float, _ge(0), ">= 0 points")
for _f in ("time_of_day", "weekday", "weekly_vwap_side", "ema_trend", "pd_position", "on_position"):
    RULES[f"filters.{_f}.enabled"] = _one_of(True, False)


def _kind_name(kind: type) -> str:
    return {int: "n integer", float: " number", str: " string", bool: " boolean", list: " list"}[kind]


def _coerce(rule: Rule, value: Any, strict: bool) -> Any:
    """``value`` as ``rule.kind``; ValueError/TypeError when it is not one (bools are never numbers)."""
    kind = rule.kind
    if kind is bool:
        if not isinstance(value, bool):
            raise TypeError
        return value
    if kind is list:
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            raise TypeError
        return list(value)
    if kind is str:
        return value if isinstance(value, str) else str(value)
    if isinstance(value, bool) or (strict and isinstance(value, str)):
        raise TypeError
    if kind is int and isinstance(value, float) and not value.is_integer():
        raise ValueError
    return kind(value)


def check_value(key: str, value: Any, *, strict: bool = False) -> Any:
    """Coerce ``value`` to the rule's type for ``key`` and check it; return the coerced value.

    A key without a rule, and a null value, are returned unchanged.

    Args:
        key: dotted config key, e.g. ``"bracket.tp_r"``.
        value: the value to check.
        strict: refuse a string for a numeric key instead of parsing it (``"2"`` is not ``2``).

    Returns:
        The value as the rule's type: an integer-valued float becomes an ``int`` for an integer key,
        an ``int`` a ``float`` for a real key.

    Raises:
        ConfigError: naming ``key``, the value and the rule.
    """
    rule = RULES.get(key)
    if rule is None or value is None:
        return value
    if rule.choices is not None:
        if not any(type(value) is type(c) and value == c for c in rule.choices):
            raise ConfigError(f"{key}={value!r} breaks the rule: must be {rule.text}")
        return value
    try:
        coerced = _coerce(rule, value, strict)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r} must be a{_kind_name(rule.kind)} {rule.text}") from None
    if isinstance(coerced, float) and not math.isfinite(coerced):
        raise ConfigError(f"{key}={value!r} must be a finite number {rule.text}")
    if rule.predicate is not None and not rule.predicate(coerced):
        raise ConfigError(f"{key}={value!r} breaks the rule: must be {rule.text}")
    return coerced


def cfg_value(node: Any, key: str, *, where: str, nullable: bool = False, strict: bool = False) -> Any:
    """Read ``node[key]`` and check it against the rule of ``<where>.<key>``.

    This is the one config reader of the package: every typed parameter view reads through it, so a
    value is refused with the same rule wherever it is read.

    Args:
        node: a ``DictConfig``, a mapping, or an object with attribute ``key``.
        key: the key to read.
        where: dotted path of ``node`` in the composed config, e.g. ``"events"`` (names the key in
            errors and selects the rule).
        nullable: whether ``null`` is an allowed value (returned as ``None``).
        strict: passed to :func:`check_value` (refuse numeric strings).

    Returns:
        The value, coerced by :func:`check_value` when ``<where>.<key>`` has a rule.

    Raises:
        ConfigError: if the key is missing or ``???``, null when not ``nullable``, or breaks its rule.
    """
    dotted = f"{where}.{key}"
    if isinstance(node, DictConfig) and key in node.keys() and OmegaConf.is_missing(node, key):
        raise ConfigError(f"{dotted} is required but not set (???)")
    if isinstance(node, Mapping) or hasattr(node, "keys"):
        if key not in node:
            raise ConfigError(f"{dotted} is missing from the config")
        value = node[key]
    elif hasattr(node, key):
        value = getattr(node, key)
    else:
        raise ConfigError(f"{dotted} is missing from the config")
    if value is None:
        if nullable:
            return None
        raise ConfigError(f"{dotted} must be set (got null)")
    return check_value(dotted, value, strict=strict)


def check_fields(params: Any, keys: Mapping[str, str], *, strict: bool = False) -> None:
    """Check fields of a (frozen) parameter dataclass by their config keys and store the coerced values.

    Called from ``__post_init__`` of the typed parameter views, so a view built directly (not from a
    config) is held to the same rules.

    Args:
        params: the dataclass instance.
        keys: field name -> dotted config key, e.g. ``{"tp_r": "bracket.tp_r"}``.
        strict: passed to :func:`check_value`.

    Raises:
        ConfigError: naming the config key of the first field that breaks its rule.
    """
    for name, key in keys.items():
        object.__setattr__(params, name, check_value(key, getattr(params, name), strict=strict))


def check_config(cfg: DictConfig) -> None:
    """Check every key of :data:`RULES` present in ``cfg``.

    Raises:
        ConfigError: the first key that breaks its rule.
    """
    for key in RULES:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            check_value(key, value)
    _check_relations(cfg)


#: keys whose values name files or folders under the working directory (and registry entries)
NAME_KEYS = ("search.study_name", "promote.model_name")
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def check_name(key: str, value: Any) -> str:
    """Check that ``value`` is a safe name: ``[A-Za-z0-9._-]`` only, not containing ``..``.

    Study names become folders (``experiments/<study>/``), so ``../../x`` would write outside the
    project.

    Raises:
        ConfigError: naming ``key``, the value and the rule.
    """
    text = str(value)
    if not _NAME.match(text) or ".." in text:
        raise ConfigError(f"{key}={text!r} breaks the rule: a name uses only letters, digits, '.', '_' and '-', "
                          "and no '..'")
    return text


def _check_relations(cfg: DictConfig) -> None:
    """Rules between keys, and names (:data:`NAME_KEYS`).

    Raises:
        ConfigError: naming the keys and the rule broken.
    """
    lo = OmegaConf.select(cfg, "search.min_events_per_day", default=None)
    hi = OmegaConf.select(cfg, "search.max_events_per_day", default=None)
    if lo is not None and hi is not None and float(lo) > float(hi):
        raise ConfigError(f"search.min_events_per_day={lo} > search.max_events_per_day={hi}: every trial would be "
                          "pruned; make the minimum <= the maximum")
    for key in NAME_KEYS:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None:
            check_name(key, value)


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
