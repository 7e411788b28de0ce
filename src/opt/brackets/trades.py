"""What the bracket simulator returns: one row per order, as arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import NamedTuple

import numpy as np
import pandas as pd

from opt.brackets import _kernel

__all__ = ["ExitReason", "TradeArrays", "Trades"]


class ExitReason(IntEnum):
    """How an order ended (``Trades.exit_reason``, int8 codes).

    Attributes:
        UNFILLED: placed but not filled before the data (or ``end_bar``) ran out; also a signal on the
            last usable bar, which has no next bar to fill on.
        EXPIRED: limit order not filled within its ``expiry_bars`` bars; with ``flatten_at_session_end``
            also an order not filled by the last bar of its signal bar's session (a market order placed
            at the close of that bar).
        STOP: stop-loss hit (including a bar that opens beyond the stop, and a bar that touches both).
        TARGET: take-profit hit.
        TIME: closed at the close of ``entry_bar + max_hold_bars - 1`` (the entry bar counts).
        END: still open at ``end_bar - 1``: closed at that bar's close.
        SKIPPED: not placed: ``max_positions`` positions / pending orders were already open.
        REJECTED: not placed: the risk is not positive (stop on the wrong side of the entry, ATR or level
            not finite) or risk sizing gives 0 contracts.
        SESSION_END: ``flatten_at_session_end``: still open at the close of the last bar before the session
            end (``levels.day_end`` or a half day's early close): closed at that close with slippage.
    """

    UNFILLED = _kernel.UNFILLED
    EXPIRED = _kernel.EXPIRED
    STOP = _kernel.STOP
    TARGET = _kernel.TARGET
    TIME = _kernel.TIME
    END = _kernel.END
    SKIPPED = _kernel.SKIPPED
    REJECTED = _kernel.REJECTED
    SESSION_END = _kernel.SESSION_END


@dataclass(frozen=True, eq=False)
class Trades:
    """Per-order outcome of :func:`opt.brackets.simulate_brackets`; every array has shape (n_orders,).

    Fields describing a trade are NaN (prices, ``risk_points``), -1 (bars) or 0 (``contracts``, PnL,
    ``r_multiple``) where ``filled`` is False, so sums over all orders are sums over trades.

    Attributes:
        filled: bool, the entry filled.
        skipped: bool, not placed because ``max_positions`` were open (``exit_reason == SKIPPED``).
        entry_bar: int64, bar of the entry fill.
        entry_price: float64 points, fill price (market: open +/- slippage; limit: limit or better open).
        stop_price: float64 points, stop-loss price (tick grid).
        target_price: float64 points, take-profit price (tick grid).
        exit_bar: int64, bar of the exit fill.
        exit_price: float64 points, exit fill price, slippage included.
        exit_reason: int8 :class:`ExitReason` codes.
        contracts: float64, contracts traded.
        risk_points: float64 points, planned stop distance per contract (1R).
        pnl_points: float64 points per contract, after slippage, before commission (positive = profit).
        pnl: float64 currency, ``pnl_points x point_value x contracts - 2 x commission x contracts``.
        r_multiple: float64, ``pnl / (risk_points x point_value x contracts)``.
    """

    filled: np.ndarray
    skipped: np.ndarray
    entry_bar: np.ndarray
    entry_price: np.ndarray
    stop_price: np.ndarray
    target_price: np.ndarray
    exit_bar: np.ndarray
    exit_price: np.ndarray
    exit_reason: np.ndarray
    contracts: np.ndarray
    risk_points: np.ndarray
    pnl_points: np.ndarray
    pnl: np.ndarray
    r_multiple: np.ndarray

    def __len__(self) -> int:
        return len(self.filled)

    def to_frame(self) -> pd.DataFrame:
        """One row per order, one column per field, plus ``exit_reason_name`` (the enum's name)."""
        frame = pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})
        names = np.array([r.name for r in ExitReason])
        frame["exit_reason_name"] = names[self.exit_reason.astype(np.intp)]
        return frame


class TradeArrays(NamedTuple):
    """The :class:`Trades` arrays as a tuple numba can take (the kernel's ``out``), in field order.

    Spelled out (not built from ``fields(Trades)``) so that mypy sees the fields; the check below keeps
    the two in step.
    """

    filled: np.ndarray
    skipped: np.ndarray
    entry_bar: np.ndarray
    entry_price: np.ndarray
    stop_price: np.ndarray
    target_price: np.ndarray
    exit_bar: np.ndarray
    exit_price: np.ndarray
    exit_reason: np.ndarray
    contracts: np.ndarray
    risk_points: np.ndarray
    pnl_points: np.ndarray
    pnl: np.ndarray
    r_multiple: np.ndarray


assert TradeArrays._fields == tuple(f.name for f in fields(Trades)), "TradeArrays must mirror Trades"
