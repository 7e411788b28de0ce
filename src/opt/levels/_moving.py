"""Moving levels: SMAs of completed higher-timeframe closes and session / weekly VWAP (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from opt.indicators import htf_bars
from opt.sessions import SessionCalendar

__all__ = ["anchored_vwap", "rth_vwap", "sma_levels"]


def sma_levels(
    close: np.ndarray, ts_ns: np.ndarray, *, timeframe_min: int, periods: Sequence[int]
) -> np.ndarray:
    """Simple moving averages of the closes of completed ``timeframe_min``-minute bars.

    ``SMA_N`` at row t is the mean of the last N closes of higher-timeframe bars completed at or
    before row t (completion rule in :mod:`opt.indicators`); NaN until N have completed. The
    average runs across sessions and weekends (gaps are skipped, not filled).

    Args:
        close: float64 ``(n,)``, points.
        ts_ns: int64 ``(n,)``, UTC epoch nanoseconds of bar open times.
        timeframe_min: higher-timeframe bar length, minutes.
        periods: SMA lengths in higher-timeframe bars.

    Returns:
        float64 ``(n, len(periods))``, points; column-major.
    """
    htf = htf_bars(ts_ns, timeframe_min)
    htf_close = np.asarray(close, dtype=np.float64)[htf.end]
    out = np.full((close.shape[0], len(periods)), np.nan, order="F")
    for j, period in enumerate(periods):
        sma = np.full(htf_close.shape[0], np.nan)
        if htf_close.shape[0] >= period:
            sma[period - 1 :] = sliding_window_view(htf_close, int(period)).mean(axis=1)
        out[:, j] = htf.align(sma)
    return out


@njit(cache=True)
def _anchored_vwap(  # pragma: no cover - numba
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, anchor: np.ndarray
) -> np.ndarray:
    n = high.shape[0]
    out = np.full(n, np.nan)
    pv = 0.0
    vol = 0.0
    for t in range(n):
        if t == 0 or anchor[t] != anchor[t - 1]:
            pv = 0.0
            vol = 0.0
        v = volume[t]
        pv += (high[t] + low[t] + close[t]) / 3.0 * v
        vol += v
        if vol > 0.0:
            out[t] = pv / vol
    return out


def anchored_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, anchor: np.ndarray
) -> np.ndarray:
    """Volume-weighted average of the typical price ``(high + low + close) / 3`` since each anchor.

    The sums restart on the first row of each run of equal ``anchor`` values (the trading day for
    session VWAP, the week for weekly VWAP) and include row t.

    Args:
        high, low, close, volume: float64 ``(n,)`` (points, contracts).
        anchor: int64 ``(n,)``, e.g. ``calendar.trading_day`` or ``calendar.week_start``.

    Returns:
        float64 ``(n,)``, points; NaN while the anchored volume is still zero.
    """
    h, lo, c, v = (np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close, volume))
    return _anchored_vwap(h, lo, c, v, np.ascontiguousarray(anchor, dtype=np.int64))


def rth_vwap(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, calendar: SessionCalendar
) -> np.ndarray:
    """RTH-anchored VWAP: the typical-price VWAP of trading day D's bars from the RTH open (09:30 ET) on.

    NaN on the bars of D before the RTH open (``minutes_since_rth_open < 0``); from the first bar at
    or after the open until the last bar of D it includes every bar of D since the open (the bars
    after the RTH close too), then restarts at the next RTH open. Row t reads rows <= t only.

    Args:
        high, low, close, volume: float64 ``(n,)`` (points, contracts).
        calendar: the bars' session calendar.

    Returns:
        float64 ``(n,)``, points; NaN before D's RTH open and while the anchored volume is zero.
    """
    after_open = np.asarray(calendar.minutes_since_rth_open) >= 0
    anchor = 2 * np.asarray(calendar.trading_day, dtype=np.int64) + after_open  # restarts at the RTH open
    out = anchored_vwap(high, low, close, volume, anchor)
    out[~after_open] = np.nan
    return out
