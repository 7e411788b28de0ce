"""Session levels: overnight, pre-market, opening range and previous day (DESIGN §4).

For trading day D (see :mod:`opt.sessions`), with ``s`` = minutes since the RTH open of D:

- ONH/ONL: high/low of the bars of D with ``s < 0`` (18:00 ET of D-1 .. 09:30); known on the
  bars of D with ``s >= 0`` (from 09:30 until the end of D).
- PMH/PML: high/low of the pre-market bars of D (``pm_start`` .. 09:30); known on ``s >= 0``.
- ORH/ORL: high/low of the bars with ``0 <= s < or_minutes``; known on ``s >= or_minutes``.
- PDH/PDL/PDC: RTH high, low and last RTH close of the previous *full* RTH day: the latest trading
  day before D that had RTH bars and is not a half day (``calendar.is_half_day``, an early close of
  the exchange calendar; DESIGN §10). Known on every bar of D. So after Thanksgiving (a 09:30-13:00
  half session) and the half day after it, Friday's and Monday's previous day is Wednesday. The
  half-day flag of an earlier day is published by the exchange in advance; the values read only bars
  of days before D.

A level whose window has no bar stays NaN on that day. All values at row t use rows <= t.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from opt.sessions import SessionCalendar

__all__ = ["SESSION_LEVEL_ORDER", "session_levels"]

SESSION_LEVEL_ORDER: tuple[str, ...] = ("onh", "onl", "pmh", "pml", "orh", "orl", "pdh", "pdl", "pdc")


@njit(cache=True)
def _session_levels(  # pragma: no cover - numba
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    day: np.ndarray,
    since_open: np.ndarray,
    is_pm: np.ndarray,
    is_half: np.ndarray,
    or_minutes: int,
    rth_minutes: int,
) -> np.ndarray:
    n = high.shape[0]
    out = np.full((9, n), np.nan)  # level-major: returned transposed, a column-major (n, 9) matrix
    cur_day = np.int64(-1)
    cur_half = False
    on_h = on_l = pm_h = pm_l = or_h = or_l = rth_h = rth_l = rth_c = np.nan
    pd_h = pd_l = pd_c = np.nan
    for t in range(n):
        if day[t] != cur_day:
            if not np.isnan(rth_c) and not cur_half:  # a half day is never a previous day
                pd_h, pd_l, pd_c = rth_h, rth_l, rth_c
            on_h = on_l = pm_h = pm_l = or_h = or_l = rth_h = rth_l = rth_c = np.nan
            cur_day = day[t]
            cur_half = is_half[t]
        s = since_open[t]
        h, lo = high[t], low[t]
        if s < 0:
            on_h = h if np.isnan(on_h) else max(on_h, h)
            on_l = lo if np.isnan(on_l) else min(on_l, lo)
            if is_pm[t]:
                pm_h = h if np.isnan(pm_h) else max(pm_h, h)
                pm_l = lo if np.isnan(pm_l) else min(pm_l, lo)
        elif s < rth_minutes:
            rth_h = h if np.isnan(rth_h) else max(rth_h, h)
            rth_l = lo if np.isnan(rth_l) else min(rth_l, lo)
            rth_c = close[t]
            if s < or_minutes:
                or_h = h if np.isnan(or_h) else max(or_h, h)
                or_l = lo if np.isnan(or_l) else min(or_l, lo)
        if s >= 0:
            out[0, t], out[1, t] = on_h, on_l
            out[2, t], out[3, t] = pm_h, pm_l
        if s >= or_minutes:
            out[4, t], out[5, t] = or_h, or_l
        out[6, t], out[7, t], out[8, t] = pd_h, pd_l, pd_c
    return out


def session_levels(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    calendar: SessionCalendar,
    *,
    or_minutes: int,
    rth_minutes: int,
) -> np.ndarray:
    """Compute the nine session levels, columns in :data:`SESSION_LEVEL_ORDER`.

    Args:
        high, low, close: float64 ``(n,)``, points.
        calendar: the bars' session calendar.
        or_minutes: opening-range length, minutes.
        rth_minutes: RTH length (``rth_end - rth_start``), minutes.

    Returns:
        float64 ``(n, 9)``, points, NaN while unknown; column-major (each level contiguous).
    """
    return _session_levels(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        calendar.trading_day,
        calendar.minutes_since_rth_open,
        calendar.is_pm,
        np.ascontiguousarray(calendar.is_half_day, dtype=np.bool_),
        int(or_minutes),
        int(rth_minutes),
    ).T
