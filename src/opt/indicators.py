"""Causal price indicators on 1-minute bars: Wilder ATR and higher-timeframe alignment.

Higher-timeframe ("HTF") bars group 1-minute bars by ``floor(utc_epoch_minute / minutes)`` (so 5-,
15-, 30- and 60-minute bars start on the exchange's round clock times). An HTF bar is *completed*
at the 1-minute row stamped with its last minute (the 10:00-10:05 bar completes at the row stamped
10:04) or, when that minute has no bar, at the first row of a later HTF bar. A value aligned back
to the 1-minute rows uses completed HTF bars only, so row ``t`` depends on rows ``<= t`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit

from opt.sessions import timestamps_ns

__all__ = ["HtfBars", "htf_bars", "timeframe_atr", "true_range", "wilder_atr"]

_NS_PER_MINUTE = 60_000_000_000


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range ``max(high - low, |high - prev close|, |low - prev close|)``.

    Args:
        high, low, close: float64 ``(n,)``, points.

    Returns:
        float64 ``(n,)``, points; the first bar (no previous close) is ``high - low``.
    """
    high, low, close = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    tr = high - low
    if tr.shape[0] > 1:
        prev = close[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(high[1:] - prev), np.abs(low[1:] - prev)))
    return tr


@njit(cache=True)
def _wilder_smooth(x: np.ndarray, period: int) -> np.ndarray:  # pragma: no cover - numba
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] < period:
        return out
    acc = 0.0
    for i in range(period):
        acc += x[i]
    value = acc / period
    out[period - 1] = value
    for i in range(period, x.shape[0]):
        value = (value * (period - 1) + x[i]) / period
        out[i] = value
    return out


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """Average true range with Wilder's smoothing (J. W. Wilder, *New Concepts in Technical Trading
    Systems*, 1978).

    ``ATR[period-1]`` is the simple mean of the first ``period`` true ranges; afterwards
    ``ATR[i] = (ATR[i-1] * (period - 1) + TR[i]) / period``. Rows ``< period - 1`` are NaN. Gaps
    between sessions enter through the previous close, as in Wilder's definition.

    Args:
        high, low, close: float64 ``(n,)``, points.
        period: smoothing period in bars, >= 1.

    Returns:
        float64 ``(n,)``, points; row ``i`` depends on rows ``<= i`` only.

    Raises:
        ValueError: if ``period < 1`` or the arrays differ in length.
    """
    if int(period) < 1:
        raise ValueError(f"ATR period must be >= 1, got {period}")
    if not len(high) == len(low) == len(close):
        raise ValueError("high, low and close must have the same length")
    return _wilder_smooth(true_range(high, low, close), int(period))


@dataclass(frozen=True, eq=False)
class HtfBars:
    """Higher-timeframe bars built from 1-minute rows (see the module docstring).

    Attributes:
        start, end: int64 ``(n_htf,)``, first and last 1-minute row of each HTF bar.
        last_completed: int64 ``(n_rows,)``, index of the newest HTF bar completed at or before each
            1-minute row, -1 while none is.
    """

    start: np.ndarray
    end: np.ndarray
    last_completed: np.ndarray

    def align(self, htf_values: np.ndarray) -> np.ndarray:
        """Map per-HTF-bar values ``(n_htf,)`` to the 1-minute rows ``(n_rows,)`` (NaN before the first)."""
        out = np.full(self.last_completed.shape[0], np.nan)
        ok = self.last_completed >= 0
        out[ok] = htf_values[self.last_completed[ok]]
        return out


def htf_bars(ts_ns: np.ndarray, minutes: int) -> HtfBars:
    """Group 1-minute rows into completed ``minutes``-minute bars, causally.

    Args:
        ts_ns: int64 ``(n,)`` strictly increasing UTC epoch nanoseconds of bar open times.
        minutes: HTF bar length in minutes, >= 1.

    Raises:
        ValueError: if ``minutes < 1``.
    """
    if int(minutes) < 1:
        raise ValueError(f"timeframe minutes must be >= 1, got {minutes}")
    minute = np.asarray(ts_ns, dtype=np.int64) // _NS_PER_MINUTE
    bucket = minute // int(minutes)
    n = bucket.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return HtfBars(empty, empty, empty)
    start = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]]).astype(np.int64)
    end = np.r_[start[1:] - 1, n - 1].astype(np.int64)
    full = (minute[end] % int(minutes)) == int(minutes) - 1
    nxt = np.r_[start[1:], n]  # n = "not completed within these rows"
    completion = np.where(full, end, nxt)
    marks = np.full(n + 1, -1, dtype=np.int64)
    np.maximum.at(marks, completion, np.arange(start.shape[0], dtype=np.int64))
    return HtfBars(start, end, np.maximum.accumulate(marks[:n]))


def timeframe_atr(bars: pd.DataFrame, minutes: int, period: int) -> np.ndarray:
    """Wilder ATR of completed ``minutes``-minute bars, aligned back to the 1-minute rows.

    Each HTF bar has the max high, min low and last close of its rows; the ATR over HTF bars
    (:func:`wilder_atr`) is then assigned to every 1-minute row from the row where that HTF bar
    completes until the next one completes. ``minutes=1`` equals ``wilder_atr`` on the rows.

    Args:
        bars: 1-minute bars with ``timestamp``, ``high``, ``low``, ``close``; ``(n,)`` rows.
        minutes: HTF bar length in minutes, >= 1.
        period: ATR period in HTF bars, >= 1.

    Returns:
        float64 ``(n,)``, points; NaN until ``period`` HTF bars have completed.

    Raises:
        ValueError: if ``minutes`` or ``period`` is < 1.
    """
    high = bars["high"].to_numpy(np.float64)
    low = bars["low"].to_numpy(np.float64)
    close = bars["close"].to_numpy(np.float64)
    htf = htf_bars(timestamps_ns(bars["timestamp"]), minutes)
    if htf.start.shape[0] == 0:
        return np.zeros(0)
    h = np.maximum.reduceat(high, htf.start)
    lo = np.minimum.reduceat(low, htf.start)
    atr = wilder_atr(h, lo, close[htf.end], period)
    return htf.align(atr)
