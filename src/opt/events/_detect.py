"""Zone entries and touches of price levels (DESIGN §5).

For each level L (one column of the level matrix) the bars are scanned in time order:

- *Inside* the zone at bar t: L[t] is known, ATR[t] is known and > 0, and
  ``|close[t] - L[t]| <= monitor_band + k_atr * ATR[t]``.
- *Zone entry* at bar e > 0: inside at e and not inside at e-1 (outside, or L unknown). The
  approach side is ``sign(close[e-1] - L[e])``: +1 from above (support test), -1 from below;
  an entry whose previous close sits exactly on L has no side and is ignored.
- *Touch*: the first bar u in ``e+1 .. e+max_wait`` with ``low[u] <= L[u] + touch_band`` and
  ``high[u] >= L[u] - touch_band``. A new entry before the touch replaces the pending one; the wait
  ends when L becomes unknown. The touch consumes the entry.
- *Event* at the close of u, unless an event of the same level instance (level column and trading
  day) happened fewer than ``cooldown`` bars before u. ``touches_before`` counts the earlier
  touches of that instance, including touches whose event the cooldown suppressed.

Everything at bar t reads rows <= t only, so the events up to bar t do not depend on later bars.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["detect_touches"]


@njit(cache=True)
def _grow(buf: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - numba
    if size < buf.shape[0]:
        return buf
    bigger = np.empty((buf.shape[0] * 2, buf.shape[1]), dtype=np.int64)
    bigger[: buf.shape[0]] = buf
    return bigger


@njit(cache=True)
def _detect(  # pragma: no cover - numba
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    atr: np.ndarray,
    day: np.ndarray,
    levels: np.ndarray,
    columns: np.ndarray,
    monitor_band: np.ndarray,
    touch_band: np.ndarray,
    k_atr: float,
    max_wait: int,
    cooldown: int,
) -> np.ndarray:
    n = levels.shape[1]
    buf = np.empty((1024, 5), dtype=np.int64)  # bar, entry_bar, level column, side, touches_before
    size = 0
    for j in range(columns.shape[0]):
        lv = levels[columns[j]]
        prev_inside = False
        waiting = False
        entry = -1
        side = 0
        last_event = -1
        last_event_day = np.int64(-1)
        touches = 0
        touch_day = np.int64(-1)
        for t in range(n):
            lt = lv[t]
            a = atr[t]
            if np.isnan(lt) or not a > 0.0:
                prev_inside = False
                waiting = False
                continue
            if waiting:
                if t - entry > max_wait:
                    waiting = False
                elif low[t] <= lt + touch_band[j] and high[t] >= lt - touch_band[j]:
                    waiting = False
                    if day[t] != touch_day:
                        touch_day = day[t]
                        touches = 0
                    if not (last_event_day == day[t] and t - last_event < cooldown):
                        buf = _grow(buf, size)
                        buf[size, 0] = t
                        buf[size, 1] = entry
                        buf[size, 2] = j
                        buf[size, 3] = side
                        buf[size, 4] = touches
                        size += 1
                        last_event = t
                        last_event_day = day[t]
                    touches += 1
            inside = abs(close[t] - lt) <= monitor_band[j] + k_atr * a
            if inside and not prev_inside and t > 0:
                prev_close = close[t - 1]
                if prev_close != lt:
                    side = 1 if prev_close > lt else -1
                    entry = t
                    waiting = True
            prev_inside = inside
    return buf[:size]


def detect_touches(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    atr: np.ndarray,
    trading_day: np.ndarray,
    levels: np.ndarray,
    *,
    columns: np.ndarray | None = None,
    monitor_band: np.ndarray,
    touch_band: np.ndarray,
    k_atr: float,
    max_wait: int,
    cooldown: int,
) -> np.ndarray:
    """Find level-touch events (rules in the module docstring).

    Args:
        close, high, low: float64 ``(n,)``, points.
        atr: float64 ``(n,)``, points (rows with NaN or zero ATR are never inside a zone).
        trading_day: int64 ``(n,)``, from the session calendar.
        levels: float64 ``(n, M)``, points (NaN while unknown). Read in place when column-major (as
            :attr:`opt.levels.LevelSet.values`); a row-major matrix is transposed into a copy.
        columns: int64 ``(m,)``, the active columns of ``levels``; None = all ``M`` of them.
        monitor_band: float64 ``(m,)``, points, per active level column.
        touch_band: float64 ``(m,)``, points, per active level column.
        k_atr: zone widening in ATR multiples.
        max_wait: bars after the entry in which the touch must happen.
        cooldown: minimum bars between two events of one level instance.

    Returns:
        int64 ``(n_events, 5)`` with columns ``bar, entry_bar, level column, side, touches_before``,
        sorted by bar, then level column; the level column is a position in ``columns``.

    Raises:
        ValueError: if ``columns`` holds a position outside ``levels`` or its length differs from
            ``monitor_band`` / ``touch_band``.
    """
    f64 = np.float64
    levels = np.asarray(levels, dtype=f64)
    n_all = levels.shape[1]
    columns = np.arange(n_all, dtype=np.int64) if columns is None else np.asarray(columns, dtype=np.int64)
    if columns.ndim != 1 or np.any((columns < 0) | (columns >= n_all)):
        raise ValueError(f"columns must be positions in the {n_all} columns of levels, got {columns}")
    if np.shape(monitor_band) != columns.shape or np.shape(touch_band) != columns.shape:
        raise ValueError(f"monitor_band and touch_band need one value per active column ({columns.shape[0]})")
    raw = _detect(
        np.ascontiguousarray(close, dtype=f64),
        np.ascontiguousarray(high, dtype=f64),
        np.ascontiguousarray(low, dtype=f64),
        np.ascontiguousarray(atr, dtype=f64),
        np.ascontiguousarray(trading_day, dtype=np.int64),
        np.ascontiguousarray(levels.T),  # no copy for a column-major matrix
        np.ascontiguousarray(columns),
        np.ascontiguousarray(monitor_band, dtype=f64),
        np.ascontiguousarray(touch_band, dtype=f64),
        float(k_atr),
        int(max_wait),
        int(cooldown),
    )
    order = np.lexsort((raw[:, 2], raw[:, 0]))
    return raw[order]
