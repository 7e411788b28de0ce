"""From model probabilities to bracket orders (DESIGN §8).

:func:`calls_to_orders` keeps the confident BREAK/BOUNCE calls and gives each its direction;
:func:`order_prices` prices the live orders with the bracket simulator's own kernel functions
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
    """Turn confident BREAK/BOUNCE calls into bracket orders (DESIGN §8).

    BREAK trades through the level (approach from above, side +1 -> SHORT), BOUNCE fades it
    (side +1 -> LONG): ``direction = side`` for BOUNCE and ``-side`` for BREAK.

    Args:
        proba: (n_events, 3) P(BREAK), P(BOUNCE), P(CHOP).
        events: the same n events (columns ``bar``, ``side``, ``level_price``).
        confidence: minimum P(class) of the call.
        direction: ``both``, ``long_only`` or ``short_only``.

    Returns:
        One row per order, sorted by ``signal_bar``: ``event`` (position in ``events``), ``signal_bar``,
        ``direction`` (+1 long / -1 short), ``level_price``, ``call`` (0 BREAK / 1 BOUNCE), ``proba``.
    """
    call = np.where(proba[:, BREAK] >= proba[:, BOUNCE], BREAK, BOUNCE)
    p = proba[np.arange(len(proba)), call]
    side = events["side"].to_numpy(np.int64)
    sign = np.where(call == BOUNCE, side, -side)
    keep = p >= confidence
    if direction == "long_only":
        keep &= sign > 0
    elif direction == "short_only":
        keep &= sign < 0
    idx = np.flatnonzero(keep)
    return pd.DataFrame({
        "event": idx, "signal_bar": events["bar"].to_numpy(np.int64)[idx], "direction": sign[idx].astype(np.int8),
        "level_price": events["level_price"].to_numpy(np.float64)[idx], "call": call[idx], "proba": p[idx],
    })


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
