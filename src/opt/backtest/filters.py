"""Market-context filters of bracket orders, and the trades broken down by those contexts.

Every bar gets its market context, computed from bars at or before it only (causal), and an order or a
trade is judged by the context of its signal bar (the touch bar, at whose close the order is placed):

- ``time_of_day``: the signal bar's open time on the exchange clock (``calendar.minute_of_day``). The
  filter keeps ``start <= time < end`` (``start > end`` wraps past midnight); the table has one slice per
  clock hour inside RTH (``rth_09`` = 09:30-09:59, ``rth_10``, ... ``rth_15``) and ``overnight`` for every
  bar outside RTH (the overnight session and the hour after the close).
- ``weekday``: ``mon`` ... ``sun``, the weekday of the bar's trading day (``calendar.day_of_week``).
- ``weekly_vwap``: the signal close against the weekly VWAP (``vwap_weekly`` of ``ctx.levels``, which
  includes the signal bar): ``with`` when ``direction x (close - VWAP) > 0`` (long above, short below),
  else ``against``; ``unknown`` while the week has no volume yet.
- ``ema_trend_5`` / ``ema_trend_15``: the close of the last COMPLETED 5- (15-) minute bar
  (:func:`opt.indicators.htf_bars`) against its exponential moving average over ``filters.ema_trend.period``
  completed bars of that timeframe (``alpha = 2 / (period + 1)``, seeded with the mean of the first
  ``period`` closes, running across sessions): ``with`` when ``direction x (close - EMA) > 0``, else
  ``against``; ``unknown`` until ``period`` bars have completed.
- ``pd_position`` / ``on_position``: the signal close against the previous day's RTH range [PDL, PDH]
  (known from the start of the day) or the overnight range [ONL, ONH] (known from the RTH open):
  ``inside`` (bounds included), ``above`` or ``below``; ``unknown`` while the range is not known.

Filters (``filters`` config group, ``conf/filters/default.yaml``), each off by default, keep an order only
when its slice is admitted: ``time_of_day`` the window, ``weekday`` the listed days, ``weekly_vwap_side``
the ``with`` or ``against`` slice, ``ema_trend`` the ``with`` slice of its timeframe, ``pd_position`` /
``on_position`` ``inside`` or ``outside`` (above or below). An order in an ``unknown`` slice is dropped by
the filter of that kind. :func:`apply_filters` runs between :func:`opt.backtest.calls_to_orders` and the
simulation in :func:`opt.backtest.evaluate_span` and in :class:`opt.promote.policy.SignalPolicy`, so the
walk-forward, promote and the live policy filter alike; :func:`filter_analysis` is the trades table
(``filter_analysis.csv`` of a stage-2 trial, ``test_filter_analysis.csv`` of promote), written whether
or not a filter is on.

The per-bar contexts depend on the bars and the EMA period only; they are computed once per market
context and EMA period and cached (weakly keyed by the :class:`~opt.dataset.MarketContext`).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from opt.config_rules import cfg_value, clock_minutes
from opt.dataset import MarketContext
from opt.errors import ConfigError
from opt.indicators import htf_bars
from opt.sessions import timestamps_ns

__all__ = ["ANALYSIS_COLUMNS", "EMA_TIMEFRAMES", "KINDS", "BarContexts", "FilterSettings", "apply_filters",
           "bar_contexts", "ema", "filter_analysis", "filter_mask", "order_contexts", "with_filter_analysis"]

EMA_TIMEFRAMES = (5, 15)
"""Timeframes (minutes) of the EMA trend contexts; ``filters.ema_trend.timeframe`` is one of them."""
KINDS = ("time_of_day", "weekday", "weekly_vwap", "ema_trend_5", "ema_trend_15", "pd_position", "on_position")
"""Context kinds of :func:`order_contexts` and :func:`filter_analysis`, in order."""
ANALYSIS_COLUMNS = ("kind", "slice", "filter_enabled", "n_trades", "win_rate", "expectancy_r", "net_pnl")
"""Columns of :func:`filter_analysis`."""
UNKNOWN = "unknown"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_POSITIONS = ("inside", "above", "below", UNKNOWN)
_SIDES = ("with", "against")
_HOURS = tuple(f"rth_{h:02d}" for h in range(24))
_WHERE = "filters"
_FILTERS = ("time_of_day", "weekday", "weekly_vwap_side", "ema_trend", "pd_position", "on_position")


@dataclass(frozen=True)
class FilterSettings:
    """The ``filters`` config group, checked; a filter is on when its value is not None.

    Attributes:
        time_of_day: ``(start, end)`` minutes after midnight on the exchange clock (end exclusive).
        weekday: admitted weekday names (``mon`` ... ``sun``).
        weekly_vwap_side: ``with`` or ``against``.
        ema_trend: ``(timeframe minutes, period in bars of the timeframe)``.
        pd_position, on_position: ``inside`` or ``outside``.
    """

    time_of_day: tuple[int, int] | None = None
    weekday: tuple[str, ...] | None = None
    weekly_vwap_side: str | None = None
    ema_trend: tuple[int, int] | None = None
    pd_position: str | None = None
    on_position: str | None = None

    @property
    def any(self) -> bool:
        """Whether any filter is on."""
        return any(getattr(self, f) is not None for f in _FILTERS)

    @classmethod
    def from_config(cls, cfg: Any) -> FilterSettings:
        """Read ``cfg.filters`` (a ``DictConfig`` or a plain dict); no ``filters`` section: every filter off.

        Raises:
            ConfigError: a missing or out-of-range ``filters.*`` key, or a time window with ``start == end``.
        """
        node = cfg.get("filters") if hasattr(cfg, "get") else getattr(cfg, "filters", None)
        if node is None:
            return cls()

        def on(name: str) -> Any:
            sub = cfg_value(node, name, where=_WHERE)
            return sub if cfg_value(sub, "enabled", where=f"{_WHERE}.{name}") else None

        out: dict[str, Any] = {}
        if (sub := on("time_of_day")) is not None:
            where = f"{_WHERE}.time_of_day"
            start, end = (clock_minutes(cfg_value(sub, k, where=where)) for k in ("start", "end"))
            if start == end:
                raise ConfigError(f"{where}.start = {where}.end = {sub['start']!r}: an empty window; give an end "
                                  "after the start (or before it, to wrap past midnight)")
            out["time_of_day"] = (start, end)
        if (sub := on("weekday")) is not None:
            out["weekday"] = tuple(str(d) for d in cfg_value(sub, "days", where=f"{_WHERE}.weekday"))
        if (sub := on("weekly_vwap_side")) is not None:
            out["weekly_vwap_side"] = str(cfg_value(sub, "side", where=f"{_WHERE}.weekly_vwap_side"))
        if (sub := on("ema_trend")) is not None:
            where = f"{_WHERE}.ema_trend"
            out["ema_trend"] = (int(cfg_value(sub, "timeframe", where=where)), int(cfg_value(sub, "period", where=where)))
        for name in ("pd_position", "on_position"):
            if (sub := on(name)) is not None:
                out[name] = str(cfg_value(sub, "mode", where=f"{_WHERE}.{name}"))
        return cls(**out)


@dataclass(frozen=True, eq=False)
class BarContexts:
    """The market context of every bar (module docstring); every array is ``(n_bars,)``, row t from bars <= t.

    Attributes:
        minute_of_day: int64, minutes after local midnight (exchange clock) of the bar's open time.
        is_rth: bool, inside regular trading hours.
        weekday: int64, weekday of the bar's trading day, 0 = Monday.
        vwap_gap: float64, ``close - weekly VWAP``, points; NaN while unknown.
        ema_gap: timeframe (minutes) -> float64 ``last completed close - its EMA``, points; NaN while unknown.
        pd_position, on_position: int8 codes of :data:`_POSITIONS` (0 inside, 1 above, 2 below, 3 unknown).
        rth_hours: the clock hours of the RTH bars (the regular ``time_of_day`` slices), ascending.
    """

    minute_of_day: np.ndarray
    is_rth: np.ndarray
    weekday: np.ndarray
    vwap_gap: np.ndarray
    ema_gap: dict[int, np.ndarray]
    pd_position: np.ndarray
    on_position: np.ndarray
    rth_hours: tuple[int, ...]


@njit(cache=True)
def _ema(x: np.ndarray, period: int) -> np.ndarray:  # pragma: no cover - numba
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] < period:
        return out
    value = 0.0
    for i in range(period):
        value += x[i]
    value /= period
    out[period - 1] = value
    alpha = 2.0 / (period + 1.0)
    for i in range(period, x.shape[0]):
        value += alpha * (x[i] - value)
        out[i] = value
    return out


def ema(x: np.ndarray, period: int) -> np.ndarray:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the mean of the first ``period`` values.

    Args:
        x: float64 ``(n,)``, e.g. closes in points.
        period: bars, >= 1.

    Returns:
        float64 ``(n,)``, the unit of ``x``; NaN for rows ``< period - 1``; row i depends on rows <= i only.

    Raises:
        ValueError: ``period < 1``.
    """
    if int(period) < 1:
        raise ValueError(f"EMA period must be >= 1, got {period}")
    return _ema(np.ascontiguousarray(x, dtype=np.float64), int(period))


def _position(close: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Codes 0 inside [low, high], 1 above, 2 below, 3 unknown (a NaN bound), int8 ``(n,)``."""
    known = np.isfinite(high) & np.isfinite(low)
    code = np.where(close > high, 1, np.where(close < low, 2, 0))
    return np.where(known, code, 3).astype(np.int8)


def _compute(ctx: MarketContext, ema_period: int) -> BarContexts:
    cal = ctx.calendar
    close = np.asarray(ctx.close, dtype=np.float64)
    ts = timestamps_ns(ctx.bars["timestamp"])
    ema_gap = {}
    for minutes in EMA_TIMEFRAMES:
        htf = htf_bars(ts, minutes)
        htf_close = close[htf.end]
        ema_gap[minutes] = htf.align(htf_close - ema(htf_close, ema_period))
    lv = ctx.levels
    minute = np.asarray(cal.minute_of_day, dtype=np.int64)
    is_rth = np.asarray(cal.is_rth, dtype=bool)
    return BarContexts(
        minute_of_day=minute, is_rth=is_rth, weekday=np.asarray(cal.day_of_week, dtype=np.int64),
        vwap_gap=close - lv.column("vwap_weekly"), ema_gap=ema_gap,
        pd_position=_position(close, lv.column("pdh"), lv.column("pdl")),
        on_position=_position(close, lv.column("onh"), lv.column("onl")),
        rth_hours=tuple(int(h) for h in np.unique(minute[is_rth] // 60)),
    )


_CACHE: weakref.WeakKeyDictionary[MarketContext, dict[int, BarContexts]] = weakref.WeakKeyDictionary()


def bar_contexts(ctx: MarketContext, *, ema_period: int) -> BarContexts:
    """The contexts of every bar of ``ctx`` (module docstring), computed once per context and EMA period.

    Args:
        ctx: the market context (``close``, ``bars.timestamp``, ``calendar``, ``levels`` with ``vwap_weekly``,
            ``pdh``, ``pdl``, ``onh``, ``onl``).
        ema_period: EMA length in bars of each timeframe of :data:`EMA_TIMEFRAMES`.
    """
    per_ctx = _CACHE.setdefault(ctx, {})
    if int(ema_period) not in per_ctx:
        per_ctx[int(ema_period)] = _compute(ctx, int(ema_period))
    return per_ctx[int(ema_period)]


def _side_names(gap: np.ndarray, direction: np.ndarray) -> np.ndarray:
    rel = gap * direction
    return np.where(np.isnan(rel), UNKNOWN, np.where(rel > 0, "with", "against"))


def order_contexts(signal_bar: np.ndarray, direction: np.ndarray, bc: BarContexts) -> pd.DataFrame:
    """The context slice of each order (or trade) by its signal bar and direction.

    Args:
        signal_bar: int64 ``(k,)`` rows of the bars.
        direction: ``(k,)`` +1 long / -1 short.
        bc: :func:`bar_contexts` of the bars.

    Returns:
        ``k`` rows, one string column per kind of :data:`KINDS` (slices in the module docstring).
    """
    sig = np.asarray(signal_bar, dtype=np.int64)
    d = np.asarray(direction, dtype=np.float64)
    hour = np.asarray(_HOURS)[bc.minute_of_day[sig] // 60]
    out = {
        "time_of_day": np.where(bc.is_rth[sig], hour, "overnight"),
        "weekday": np.asarray(_WEEKDAYS)[bc.weekday[sig]],
        "weekly_vwap": _side_names(bc.vwap_gap[sig], d),
        **{f"ema_trend_{m}": _side_names(bc.ema_gap[m][sig], d) for m in EMA_TIMEFRAMES},
        "pd_position": np.asarray(_POSITIONS)[bc.pd_position[sig]],
        "on_position": np.asarray(_POSITIONS)[bc.on_position[sig]],
    }
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in out.items()}, columns=list(KINDS))


def _in_window(minute: np.ndarray, start: int, end: int) -> np.ndarray:
    return (minute >= start) & (minute < end) if start < end else (minute >= start) | (minute < end)


def filter_mask(signal_bar: np.ndarray, direction: np.ndarray, bc: BarContexts, settings: FilterSettings
                ) -> np.ndarray:
    """Which orders every enabled filter admits (module docstring).

    Args:
        signal_bar: int64 ``(k,)`` rows of the bars.
        direction: ``(k,)`` +1 long / -1 short.
        bc: :func:`bar_contexts` of the bars (with the EMA period of ``settings.ema_trend``).
        settings: the filters.

    Returns:
        bool ``(k,)``; all True when no filter is on.
    """
    sig = np.asarray(signal_bar, dtype=np.int64)
    keep = np.ones(sig.shape[0], dtype=bool)
    if not settings.any or sig.size == 0:
        return keep
    slices = order_contexts(sig, direction, bc)
    if settings.time_of_day is not None:
        keep &= _in_window(bc.minute_of_day[sig], *settings.time_of_day)
    if settings.weekday is not None:
        keep &= slices["weekday"].isin(settings.weekday).to_numpy()
    if settings.weekly_vwap_side is not None:
        keep &= (slices["weekly_vwap"] == settings.weekly_vwap_side).to_numpy()
    if settings.ema_trend is not None:
        keep &= (slices[f"ema_trend_{settings.ema_trend[0]}"] == "with").to_numpy()
    for kind in ("pd_position", "on_position"):
        mode = getattr(settings, kind)
        if mode is not None:
            keep &= slices[kind].isin(("inside",) if mode == "inside" else ("above", "below")).to_numpy()
    return keep


def _ema_period(cfg: Any) -> int:
    """``filters.ema_trend.period`` (the analysis's EMA too); 200 bars where the config has no ``filters``."""
    node = cfg.get("filters") if hasattr(cfg, "get") else getattr(cfg, "filters", None)
    if node is None:
        return 200  # the conf/filters default, for policies registered before the filters existed
    return int(cfg_value(node["ema_trend"], "period", where=f"{_WHERE}.ema_trend"))


def apply_filters(orders: pd.DataFrame, ctx: MarketContext, cfg: Any) -> pd.DataFrame:
    """The orders every enabled filter of ``cfg.filters`` admits (module docstring), in their order.

    Args:
        orders: :func:`opt.backtest.calls_to_orders` rows (``signal_bar``, ``direction``, ...).
        ctx: the market context the signal bars index.
        cfg: the configuration (``DictConfig`` or plain dict); without a ``filters`` section every filter is
            off (a policy registered before the filters existed).

    Returns:
        ``orders`` itself when no filter is on, else the admitted rows with a fresh index.

    Raises:
        ConfigError: a bad ``filters.*`` value.
    """
    settings = FilterSettings.from_config(cfg)
    if not settings.any or orders.empty:
        return orders
    period = settings.ema_trend[1] if settings.ema_trend is not None else _ema_period(cfg)
    keep = filter_mask(orders["signal_bar"].to_numpy(np.int64), orders["direction"].to_numpy(np.int64),
                       bar_contexts(ctx, ema_period=period), settings)
    return orders[keep].reset_index(drop=True)


def _trade_direction(trades: pd.DataFrame) -> np.ndarray:
    """+1 long / -1 short: ``direction`` when present, else the sign of ``target_price - stop_price``."""
    if "direction" in trades:
        return trades["direction"].to_numpy(np.int64)
    return np.sign(trades["target_price"].to_numpy(np.float64) - trades["stop_price"].to_numpy(np.float64))


def _enabled(kind: str, settings: FilterSettings) -> bool:
    if kind.startswith("ema_trend_"):
        return settings.ema_trend is not None and kind == f"ema_trend_{settings.ema_trend[0]}"
    return getattr(settings, {"weekly_vwap": "weekly_vwap_side"}.get(kind, kind)) is not None


def filter_analysis(trades: pd.DataFrame, ctx: MarketContext, cfg: Any) -> pd.DataFrame:
    """The trades broken down by every context kind, whether or not its filter is on.

    Args:
        trades: one row per filled trade with ``signal_bar`` (a row of ``ctx``), ``pnl`` (net, currency),
            ``r_multiple`` (R) and ``direction`` or ``stop_price`` and ``target_price`` (points), e.g.
            ``WalkForwardResult.trades`` or ``SpanResult.trades``.
        ctx: the market context of the signal bars.
        cfg: the configuration (``filters``: which filters are on, the EMA period).

    Returns:
        One row per (kind, slice), kinds in :data:`KINDS` order; the regular slices always (``rth_HH`` per
        RTH hour and ``overnight``; ``mon`` ... ``fri``; ``with``/``against``; ``inside``/``above``/``below``),
        ``sat``/``sun``/``unknown`` only when a trade falls there, so each kind's ``n_trades`` sums to the
        trades. Columns :data:`ANALYSIS_COLUMNS`: ``filter_enabled`` (1 when this trial's filter of the kind
        was on, 0 otherwise), ``n_trades``, ``win_rate`` (share with ``pnl > 0``), ``expectancy_r`` (mean R;
        both NaN without trades) and ``net_pnl`` (sum, currency).

    Raises:
        ValueError: a signal bar outside ``ctx``.
        ConfigError: a bad ``filters.*`` value.
    """
    settings = FilterSettings.from_config(cfg)
    n = len(trades)
    sig = trades["signal_bar"].to_numpy(np.int64) if n else np.empty(0, np.int64)
    if sig.size and (sig.min() < 0 or sig.max() >= ctx.n_bars):
        raise ValueError(f"signal_bar outside the {ctx.n_bars} bars: {sig.min()}..{sig.max()}")
    bc = bar_contexts(ctx, ema_period=_ema_period(cfg))
    slices = order_contexts(sig, _trade_direction(trades) if n else np.empty(0), bc)
    pnl = trades["pnl"].to_numpy(np.float64) if n else np.empty(0)
    r = trades["r_multiple"].to_numpy(np.float64) if n else np.empty(0)
    regular = {"time_of_day": (*(f"rth_{h:02d}" for h in bc.rth_hours), "overnight"), "weekday": _WEEKDAYS[:5],
               "weekly_vwap": _SIDES, "ema_trend_5": _SIDES, "ema_trend_15": _SIDES, "pd_position": _POSITIONS[:3],
               "on_position": _POSITIONS[:3]}
    rows = []
    for kind in KINDS:
        names = slices[kind].to_numpy(str)
        extra = sorted(set(names) - set(regular[kind]), key=lambda s: (s == UNKNOWN, _order(s)))
        for name in (*regular[kind], *extra):
            mask = names == name
            k = int(mask.sum())
            rows.append({"kind": kind, "slice": name, "filter_enabled": int(_enabled(kind, settings)), "n_trades": k,
                         "win_rate": float((pnl[mask] > 0).mean()) if k else math.nan,
                         "expectancy_r": float(r[mask].mean()) if k else math.nan,
                         "net_pnl": float(pnl[mask].sum())})
    return pd.DataFrame(rows, columns=list(ANALYSIS_COLUMNS))


def _order(name: str) -> int:
    return _WEEKDAYS.index(name) if name in _WEEKDAYS else 0


def with_filter_analysis(write: Callable[[Path], None], trades: pd.DataFrame, ctx: MarketContext, cfg: Any,
                         name: str = "filter_analysis.csv") -> Callable[[Path], None]:
    """Wrap an artifact writer so it also writes :func:`filter_analysis` of ``trades`` as ``name``.

    The table is computed now (an error surfaces in the trial, not while artifacts are written).
    """
    table = filter_analysis(trades, ctx, cfg)

    def both(folder: Path) -> None:
        write(folder)
        table.to_csv(Path(folder) / name, index=False, float_format="%.6g")

    return both
