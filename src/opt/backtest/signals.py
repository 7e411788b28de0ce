"""From model probabilities to bracket orders (DESIGN §8).

:func:`calls_to_orders` keeps the confident BREAK/BOUNCE calls, gives each its direction and keeps one
order per signal bar and direction (the one place where both the backtest and the registered policy
deduplicate); :func:`order_prices` prices the live orders with the bracket simulator's own kernel functions
(:func:`opt.brackets.bracket_prices`), so the backtest and the registered policy cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from opt.brackets import BracketParams, bracket_prices
from opt.schema import BOUNCE, BREAK

__all__ = ["calls_to_orders", "order_prices"]


def calls_to_orders(proba: np.ndarray, events: pd.DataFrame, *, confidence: float, direction: str
                    ) -> pd.DataFrame:
    """Turn confident BREAK/BOUNCE calls into bracket orders, one per signal bar and direction (DESIGN §8).

    BREAK trades through the level (approach from above, side +1 -> SHORT), BOUNCE fades it
    (side +1 -> LONG): ``direction = side`` for BOUNCE and ``-side`` for BREAK.

    Several levels can be touched on one bar (ONH and PMH at the same price, session and weekly VWAP a
    fraction of a tick apart, PDH next to the session VWAP): their confident calls in one direction are
    one order placed at one close (the entry and, with ``stop_mode="atr"``, the stop and target depend
    on the bar, the direction and the ATR only; with ``stop_mode="level"`` only the stop differs), and
    sending each would double the position. They collapse to one order: the most confident call, ties
    to the first event. This is the one deduplication of the walk-forward, the test-part evaluation and
    the registered policy (:class:`opt.promote.policy.SignalPolicy`), so live orders are the backtested
    ones; the events themselves stay one per level (DESIGN §5).

    Args:
        proba: (n_events, 3) P(BREAK), P(BOUNCE), P(CHOP).
        events: the same n events (columns ``bar``, ``side``, ``level_price``).
        confidence: minimum P(class) of the call.
        direction: ``both``, ``long_only`` or ``short_only``.

    Returns:
        One row per order, in event order (sorted by ``signal_bar`` when ``events`` is sorted by bar):
        ``event`` (position in ``events``), ``signal_bar``, ``direction`` (+1 long / -1 short),
        ``level_price``, ``call`` (0 BREAK / 1 BOUNCE), ``proba``; no two rows share ``signal_bar``
        and ``direction``.
    """
    call = np.where(proba[:, BREAK] >= proba[:, BOUNCE], BREAK, BOUNCE)
    p = proba[np.arange(len(proba)), call]
    side = events["side"].to_numpy(np.int64)
    bar = events["bar"].to_numpy(np.int64)
    sign = np.where(call == BOUNCE, side, -side)
    keep = p >= confidence
    if direction == "long_only":
        keep &= sign > 0
    elif direction == "short_only":
        keep &= sign < 0
    idx = _one_per_bar_and_direction(np.flatnonzero(keep), bar, sign, p)
    return pd.DataFrame({
        "event": idx, "signal_bar": bar[idx], "direction": sign[idx].astype(np.int8),
        "level_price": events["level_price"].to_numpy(np.float64)[idx], "call": call[idx], "proba": p[idx],
    })


def _one_per_bar_and_direction(idx: np.ndarray, bar: np.ndarray, sign: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Of the events ``idx`` (ascending), the most confident per (bar, direction), ties to the first; ascending."""
    if idx.size < 2:
        return idx
    order = np.lexsort((idx, -p[idx], sign[idx], bar[idx]))  # by bar, direction, confidence down, event
    ranked = idx[order]
    first = np.ones(ranked.size, dtype=bool)
    first[1:] = (bar[ranked[1:]] != bar[ranked[:-1]]) | (sign[ranked[1:]] != sign[ranked[:-1]])
    return np.sort(ranked[first])


def order_prices(close: np.ndarray, direction: np.ndarray, atr: np.ndarray, level: np.ndarray,
                 bp: BracketParams) -> dict[str, np.ndarray]:
    """Entry, stop, take-profit and risk (points) of orders placed at the close of their signal bars.

    The simulator's price functions (:func:`opt.brackets.bracket_prices`): a limit entry is
    ``close - d x entry_offset_atr x ATR`` on the tick grid away from the market; a market entry fills
    at the next bar's open, unknown at the signal, so ``entry`` is the signal close and the executor
    keeps the distances (``risk_points``, ``tp_r``) from its actual fill, as the simulator does.

    Args:
        close: float64 ``(k,)`` close of each signal bar, points.
        direction: ``(k,)`` +1 long / -1 short.
        atr: float64 ``(k,)`` ATR of ``bp.atr_timeframe``-minute bars known at the signal, points.
        level: float64 ``(k,)`` level price, points (read when ``stop_mode="level"``).
        bp: the bracket and instrument parameters.

    Returns:
        ``entry``, ``stop``, ``take_profit``, ``risk_points`` float64 ``(k,)``; NaN where the simulator
        would reject the order (risk not > 0, ATR not finite, 0 contracts under risk sizing).
    """
    prices = bracket_prices(close, direction, atr, level, bp)
    return {k: prices[k] for k in ("entry", "stop", "take_profit", "risk_points")}
