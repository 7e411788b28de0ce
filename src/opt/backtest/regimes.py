"""Regime slices of a walk-forward's trades: where the profit comes from (volatility, session, weekday, trend).

A strategy whose whole profit sits in one slice of the market (only high-volatility days, only
Mondays) rests on fewer independent outcomes than its trade count suggests. Every bar gets a label per
kind, computed from bars at or before it only (causal), and each trade is classified by its signal bar:

- ``volatility``: ``low``/``mid``/``high``: the bar's ATR (of the bracket's timeframe, points) against
  the terciles of the ATR at the same time of day (wall-clock minutes from the RTH open; the day's last
  bar at or before that minute) on each of the ``vol_lookback_days`` trading days before the bar's day:
  ``low`` below the 1/3 quantile, ``high`` above the 2/3 quantile (:func:`numpy.percentile`, linear).
  Matching the time of day keeps the intraday volatility cycle out of the regime: against one daily
  (closing) ATR, nearly every RTH bar of the ES file would be ``high`` and every overnight bar ``low``,
  repeating the session slice. ``unknown`` while fewer days lie behind, where one of those days has no
  bar yet at that time, or the ATR is NaN (warm-up).
- ``session``: ``rth`` inside regular trading hours (``calendar.is_rth``), ``overnight`` otherwise.
- ``weekday``: ``mon`` ... ``sun``, the weekday of the bar's trading day (``calendar.day_of_week``).
- ``trend``: ``trend``/``range``: Kaufman's efficiency ratio over ``n = efficiency_bars`` bars,
  ``ER_t = |close_t - close_{t-n}| / sum_{i=t-n+1..t} |close_i - close_{i-1}|`` (P. Kaufman, *Smarter
  Trading*, 1995; 0 when the denominator is 0), ``trend`` when ``ER_t >= trend_efficiency``;
  ``unknown`` for ``t < n``.

Settings: ``robustness.regimes`` (``conf/robustness/default.yaml``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from opt.config_rules import cfg_value
from opt.dataset import MarketContext

__all__ = ["KINDS", "SHARE_KINDS", "SLICES", "UNKNOWN", "TABLE_COLUMNS", "regime_labels", "regime_table",
           "regime_metrics", "concentration", "concentration_from_metrics"]

UNKNOWN = "unknown"
"""Label of a bar without enough history for its kind."""
SLICES: dict[str, tuple[str, ...]] = {
    "volatility": ("low", "mid", "high"),
    "session": ("rth", "overnight"),
    "weekday": ("mon", "tue", "wed", "thu", "fri"),
    "trend": ("trend", "range"),
}
"""Regular slices per kind: always listed by :func:`regime_table`, traded or not."""
_RARE: dict[str, tuple[str, ...]] = {"volatility": (UNKNOWN,), "session": (), "weekday": ("sat", "sun"),
                                     "trend": (UNKNOWN,)}
"""Slices listed only when a trade falls in them (the CME trading day is a weekday)."""
KINDS = tuple(SLICES)
"""Label columns of :func:`regime_labels`, in order."""
SHARE_KINDS = ("volatility", "session", "trend")
"""Kinds whose slices :func:`concentration` and ``regime_max_slice_share`` look at."""
TABLE_COLUMNS = ("kind", "slice", "n_trades", "win_rate", "expectancy_r", "net_pnl", "share_of_net")
"""Columns of :func:`regime_table`."""
_WHERE = "robustness.regimes"
_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_METRIC = re.compile(r"^regime_(volatility|session|trend)_([a-z]+)_net_pnl$")
_CHUNK = 4_000_000
"""Largest number of window values :func:`_time_of_day_terciles` hands to one :func:`numpy.percentile` call."""


def _time_of_day_terciles(grid: np.ndarray, lookback: int) -> np.ndarray:
    """Per day D and minute column m, the 1/3 and 2/3 quantiles of ``grid[D - lookback : D, m]``.

    Args:
        grid: float ``(n_days, n_minutes)``, the ATR at each minute of each day (NaN where unknown).
        lookback: days in the window.

    Returns:
        float ``(n_days, n_minutes, 2)``; NaN for ``D < lookback`` or a window with a NaN.
    """
    n_days, n_minutes = grid.shape
    out = np.full((n_days, n_minutes, 2), np.nan)
    if n_days <= lookback:
        return out
    windows = sliding_window_view(grid, lookback, axis=0)[: n_days - lookback]  # (D - lookback, m, days)
    step = max(1, _CHUNK // (lookback * n_minutes))
    for a in range(0, windows.shape[0], step):
        q = np.percentile(windows[a : a + step], (100 / 3, 200 / 3), axis=-1)  # NaN propagates
        out[lookback + a : lookback + a + q.shape[1]] = np.moveaxis(q, 0, -1)
    return out


def _volatility(trading_day: np.ndarray, minute: np.ndarray, atr: np.ndarray, lookback: int) -> np.ndarray:
    """Codes 0 low, 1 mid, 2 high, 3 unknown per bar (module docstring), int8 ``(n_bars,)``."""
    n = atr.shape[0]
    codes = np.full(n, 3, dtype=np.int8)
    if n == 0:
        return codes
    run = np.cumsum(np.concatenate([[True], trading_day[1:] != trading_day[:-1]])) - 1  # day position
    col = minute - minute.min()
    n_minutes = int(col.max()) + 1
    # the ATR of each (day, minute): the day's last bar at or before that minute (NaN before its first bar)
    last = np.full((int(run[-1]) + 1, n_minutes), -1, dtype=np.int64)
    last[run, col] = np.arange(n)
    last = np.maximum.accumulate(last, axis=1)
    grid = np.where(last >= 0, atr[np.maximum(last, 0)], np.nan)
    q = _time_of_day_terciles(grid, lookback)[run, col]  # (n_bars, 2): from the days before the bar's day
    known = np.isfinite(q[:, 0]) & np.isfinite(atr)
    lo, hi, a = q[known, 0], q[known, 1], atr[known]
    codes[known] = np.where(a < lo, 0, np.where(a > hi, 2, 1))
    return codes


def _efficiency_ratio(close: np.ndarray, n: int) -> np.ndarray:
    """Kaufman's efficiency ratio over ``n`` bars per bar, NaN for ``t < n``, float64 ``(n_bars,)``."""
    out = np.full(close.shape[0], np.nan)
    if close.shape[0] <= n:
        return out
    path = sliding_window_view(np.abs(np.diff(close)), n).sum(axis=1)  # row k: |moves| of bars k+1 .. k+n
    net = np.abs(close[n:] - close[:-n])
    out[n:] = np.divide(net, path, out=np.zeros_like(net), where=path > 0)
    return out


def regime_labels(ctx: MarketContext, atr: np.ndarray, cfg: Any) -> pd.DataFrame:
    """Label every bar with its volatility, session, weekday and trend regime (module docstring).

    Causal: the labels of bars ``<= t`` depend on bars ``<= t`` only (the volatility terciles on
    earlier trading days, the efficiency ratio on the last ``efficiency_bars`` bars).

    Args:
        ctx: the market context (``close``, ``calendar.trading_day``, ``calendar.minutes_since_rth_open``,
            ``calendar.is_rth``, ``calendar.day_of_week``).
        atr: float64 ``(n_bars,)``, the causal ATR the volatility regime is judged by, points (stage 2:
            the ATR of ``bracket.atr_timeframe``, :func:`opt.backtest.atr_on`); NaN during warm-up.
        cfg: the configuration; reads ``robustness.regimes.vol_lookback_days`` (trading days),
            ``efficiency_bars`` (bars) and ``trend_efficiency`` (ratio in [0, 1]).

    Returns:
        ``n_bars`` rows in bar order, categorical columns ``volatility`` (low, mid, high, unknown),
        ``session`` (rth, overnight), ``weekday`` (mon ... sun), ``trend`` (trend, range, unknown).

    Raises:
        ValueError: ``atr`` is not ``(n_bars,)``.
        ConfigError: a missing or out-of-range ``robustness.regimes`` key.
    """
    node = cfg.robustness.regimes
    lookback = int(cfg_value(node, "vol_lookback_days", where=_WHERE))
    n_eff = int(cfg_value(node, "efficiency_bars", where=_WHERE))
    threshold = float(cfg_value(node, "trend_efficiency", where=_WHERE))
    atr = np.asarray(atr, dtype=np.float64)
    n = ctx.n_bars
    if atr.shape != (n,):
        raise ValueError(f"atr must have shape ({n},) like the bars, got {atr.shape}")
    cal = ctx.calendar
    er = _efficiency_ratio(np.asarray(ctx.close, dtype=np.float64), n_eff)
    trend = np.where(np.isnan(er), 2, np.where(er >= threshold, 0, 1))

    def cat(codes: np.ndarray, names: tuple[str, ...]) -> pd.Series:
        return pd.Series(pd.Categorical.from_codes(codes.astype(np.int64), dtype=pd.CategoricalDtype(list(names))))

    return pd.DataFrame({
        "volatility": cat(_volatility(np.asarray(cal.trading_day), np.asarray(cal.minutes_since_rth_open), atr,
                                      lookback), (*SLICES["volatility"], UNKNOWN)),
        "session": cat(np.where(np.asarray(cal.is_rth, dtype=bool), 0, 1), SLICES["session"]),
        "weekday": cat(np.asarray(cal.day_of_week, dtype=np.int64), _WEEKDAY_NAMES),
        "trend": cat(trend, (*SLICES["trend"], UNKNOWN)),
    })


def regime_table(trades: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Trades by regime slice, each trade classified by the labels of its signal bar.

    Args:
        trades: one row per trade with ``signal_bar`` (int, a row of ``labels``), ``pnl`` (net,
            currency) and ``r_multiple`` (R), e.g. ``WalkForwardResult.trades``.
        labels: :func:`regime_labels` of the bars the trades were signalled on.

    Returns:
        One row per (kind, slice): the regular slices of :data:`SLICES` always (``n_trades`` 0 when
        none fell there), ``unknown``/``sat``/``sun`` only when a trade did. Columns
        :data:`TABLE_COLUMNS`: ``n_trades`` (int), ``win_rate`` (share with ``pnl > 0``),
        ``expectancy_r`` (mean R; both NaN without trades), ``net_pnl`` (sum, currency) and
        ``share_of_net`` (``net_pnl`` / the net PnL of all trades; NaN when that total is <= 0).

    Raises:
        ValueError: a signal bar outside ``labels``, or a label no kind knows.
    """
    sig = trades["signal_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    if sig.size and (sig.min() < 0 or sig.max() >= len(labels)):
        raise ValueError(f"signal_bar outside the {len(labels)} labelled bars: {sig.min()}..{sig.max()}")
    pnl = trades["pnl"].to_numpy(np.float64) if len(trades) else np.empty(0)
    r = trades["r_multiple"].to_numpy(np.float64) if len(trades) else np.empty(0)
    total = float(pnl.sum())
    rows = []
    for kind in KINDS:
        names = labels[kind].iloc[sig].astype(str).to_numpy()  # the trades' rows only (labels span all bars)
        odd = set(names) - set(SLICES[kind]) - set(_RARE[kind])
        if odd:
            raise ValueError(f"regime labels {sorted(odd)} are not slices of {kind!r}")
        for name in (*SLICES[kind], *(s for s in _RARE[kind] if s in set(names))):
            mask = names == name
            k = int(mask.sum())
            net = float(pnl[mask].sum())
            rows.append({"kind": kind, "slice": name, "n_trades": k,
                         "win_rate": float((pnl[mask] > 0).mean()) if k else math.nan,
                         "expectancy_r": float(r[mask].mean()) if k else math.nan, "net_pnl": net,
                         "share_of_net": net / total if total > 0 else math.nan})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def regime_metrics(table: pd.DataFrame) -> dict[str, float]:
    """A compact metric set of :func:`regime_table` for the trial run.

    ``regime_<kind>_<slice>_net_pnl`` (currency) and ``regime_<kind>_<slice>_n_trades`` for the kinds
    volatility, session and trend, ``regime_weekday_<day>_net_pnl`` for the weekdays (``unknown``
    slices left out), and ``regime_max_slice_share``: the largest ``share_of_net`` of a volatility,
    session or trend slice (NaN when the total net PnL is <= 0).
    """
    out: dict[str, float] = {}
    kinds, slices = table["kind"].to_numpy(str), table["slice"].to_numpy(str)
    net, n_trades = table["net_pnl"].to_numpy(np.float64), table["n_trades"].to_numpy(np.float64)
    for kind, name, pnl, n in zip(kinds, slices, net, n_trades, strict=True):
        if name == UNKNOWN:
            continue
        out[f"regime_{kind}_{name}_net_pnl"] = float(pnl)
        if kind != "weekday":
            out[f"regime_{kind}_{name}_n_trades"] = float(n)
    shares = table["share_of_net"].to_numpy(np.float64)[np.isin(kinds, SHARE_KINDS) & (slices != UNKNOWN)]
    out["regime_max_slice_share"] = float(np.nanmax(shares)) if np.isfinite(shares).any() else math.nan
    return out


def concentration(table: pd.DataFrame, max_share: float) -> str | None:
    """Flag a profit that comes from one regime slice.

    With a positive total net PnL, a kind of :data:`SHARE_KINDS` is concentrated when its best slice
    (``unknown`` aside) makes ``>= max_share`` x the total, or the rest of the trades together lose
    money. The most concentrated kind is named.

    Args:
        table: :func:`regime_table` (only ``kind``, ``slice`` and ``net_pnl`` are read).
        max_share: share of the total net PnL, e.g. 0.8 (``robustness.regimes.max_slice_share``).

    Returns:
        E.g. ``"volatility=high carries 93% of net PnL (the other slices lose 120)"``, or None when no
        kind is concentrated or the total net PnL is <= 0.
    """
    flags: list[tuple[float, str]] = []
    kinds, slices = table["kind"].to_numpy(str), table["slice"].to_numpy(str)
    net = table["net_pnl"].to_numpy(np.float64)
    for kind in SHARE_KINDS:
        total = float(net[kinds == kind].sum())
        known = np.flatnonzero((kinds == kind) & (slices != UNKNOWN))
        if total <= 0 or known.size == 0:
            continue
        best = known[np.argmax(net[known])]
        rest = total - float(net[best])
        share = float(net[best]) / total
        if share >= max_share or rest < 0:
            verb = "lose" if rest < 0 else "make"
            flags.append((share, f"{kind}={slices[best]} carries {share:.0%} of net PnL "
                                 f"(the other slices {verb} {abs(rest):,.0f})"))
    return max(flags)[1] if flags else None


def concentration_from_metrics(metrics: Mapping[str, float], max_share: float) -> str | None:
    """:func:`concentration` of a finished trial from its metrics (no trades file needed).

    Rebuilds the slices of :data:`SHARE_KINDS` from ``regime_<kind>_<slice>_net_pnl`` and the rest
    (``unknown``) from ``net_pnl``. None when the metrics hold no regime slices.
    """
    total = metrics.get("net_pnl")
    rows = [(m[1], m[2], float(v)) for k, v in metrics.items() if (m := _METRIC.match(k))]
    if total is None or not rows or not math.isfinite(float(total)):
        return None
    table = pd.DataFrame(rows, columns=["kind", "slice", "net_pnl"])
    rest = [(kind, UNKNOWN, float(total) - float(table.loc[table["kind"] == kind, "net_pnl"].sum()))
            for kind in SHARE_KINDS]
    return concentration(pd.concat([table, pd.DataFrame(rest, columns=table.columns)], ignore_index=True),
                         max_share)
