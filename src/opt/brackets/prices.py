"""Bracket prices of orders placed at bar closes: the one definition the simulator and live orders share.

:func:`bracket_prices` runs the kernel functions that :func:`opt.brackets.simulate_brackets` runs for
every order (:func:`opt.brackets._kernel.limit_price` and :func:`opt.brackets._kernel.bracket`), so a
live order's limit, stop and target equal the backtested ones to the bit. The only difference is the
reference of a market entry: the simulator fills it at the next bar's open (plus slippage), unknown at
the signal, so live prices are referenced to the signal bar's close; the executor keeps the distances
(``risk_points``, ``tp_r``) from its actual fill, as the simulator does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from opt.brackets._kernel import KernelConfig, order_prices, to_grid
from opt.brackets.params import BracketParams

__all__ = ["bracket_prices", "snap_to_grid"]


def _config(params: BracketParams) -> KernelConfig:
    from opt.brackets.simulator import _kernel_config

    return _kernel_config(params, 0)


def bracket_prices(close: ArrayLike, direction: ArrayLike, atr: ArrayLike, level: ArrayLike,
                   params: BracketParams) -> dict[str, np.ndarray]:
    """Entry, stop, take-profit, risk and size of orders placed at the close of their signal bars.

    Args:
        close: float64 ``(k,)`` close of each signal bar, points.
        direction: ``(k,)`` +1 long / -1 short.
        atr: float64 ``(k,)`` ATR of ``params.atr_timeframe``-minute bars known at the signal, points.
        level: float64 ``(k,)`` level price, points (read when ``stop_mode="level"``).
        params: the bracket and instrument parameters.

    Returns:
        ``entry``, ``stop``, ``take_profit``, ``risk_points`` (points) and ``contracts`` float64
        ``(k,)``; NaN prices and 0 contracts where the simulator would reject the order (risk not
        > 0, ATR or level not finite, 0 contracts under risk sizing).

    Raises:
        ValueError: arrays of different lengths or a direction other than +1/-1.
    """
    c = np.ascontiguousarray(close, dtype=np.float64)
    d_in = np.asarray(direction)
    a = np.ascontiguousarray(atr, dtype=np.float64)
    lv = np.ascontiguousarray(level, dtype=np.float64)
    if any(x.ndim != 1 or x.shape[0] != c.shape[0] for x in (d_in, a, lv)):
        raise ValueError("close, direction, atr and level must be 1-D arrays of the same length")
    if np.any((d_in != 1) & (d_in != -1)):
        raise ValueError("direction must be +1 (long) or -1 (short)")
    out = np.empty((c.shape[0], 5), dtype=np.float64)
    order_prices(c, np.ascontiguousarray(d_in, dtype=np.int64), a, lv, _config(params), out)
    return {"entry": out[:, 0], "stop": out[:, 1], "take_profit": out[:, 2], "risk_points": out[:, 3],
            "contracts": out[:, 4]}


def snap_to_grid(x: ArrayLike, side: ArrayLike, params: BracketParams) -> np.ndarray:
    """Round prices (points) to the tick grid: down where ``side`` is +1, up where it is -1.

    The simulator's rounding (:func:`opt.brackets._kernel.to_grid`), element by element.
    """
    cfg = _config(params)
    xs = np.asarray(x, dtype=np.float64)
    sides = np.broadcast_to(np.asarray(side, dtype=np.int64), xs.shape)
    return np.array([to_grid(float(v), int(s), cfg) for v, s in zip(xs.ravel(), sides.ravel(), strict=True)],
                    dtype=np.float64).reshape(xs.shape)
