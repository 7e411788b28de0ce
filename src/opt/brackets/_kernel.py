"""Numba kernels of the bracket simulator: a short walk over bars per order, orders in signal order.

The rules are documented in :mod:`opt.brackets.simulator`; this module only makes them fast. Prices
are points, bars are indices into the OHLC arrays. The exit scan relies on valid bars
(``low <= open, close <= high``), which the data loader guarantees.

One pass over the orders in signal order (whether an order is placed depends on the earlier ones
through the ``max_positions`` slots); per order a bracket is computed and the bars are walked from the
fill to the first exit. No parallel loop: numba's OpenMP/workqueue threading layers are not safe under
``fork`` or concurrent callers (Optuna threads, joblib workers), and one core already does >10M
brackets/s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from opt.brackets.trades import TradeArrays

Arr = np.ndarray  # numba reads no annotations; these are for readers and type checkers

# Exit reason codes, the values of opt.brackets.ExitReason. They are defined here, not imported: numba
# freezes globals into compiled code and its cache only watches this file.
UNFILLED = 0
EXPIRED = 1
STOP = 2
TARGET = 3
TIME = 4
END = 5
SKIPPED = 6
REJECTED = 7
SESSION_END = 8
_NO_EXIT = -1

TICK_EPS = 1e-6
"""Ticks of tolerance when snapping to the grid: a price within 1e-6 tick of a grid price is on it."""
CONTRACT_EPS = 1e-9
"""Contracts of tolerance in risk sizing's floor (4.9999999999 contracts from float error is 5)."""


class KernelConfig(NamedTuple):
    """:class:`~opt.brackets.BracketParams` as the kernels read it (flags, points, currency)."""

    end: int  # exclusive last bar
    limit_entry: bool
    entry_offset_atr: float
    expiry_bars: int
    level_stop: bool
    stop_atr: float
    buffer_points: float  # stop_buffer_ticks x tick_size
    tp_r: float
    max_hold: int
    slip: float  # slippage_ticks x tick_size
    risk_sizing: bool
    fixed_contracts: float
    risk_per_trade: float
    max_positions: int
    ticks_per_point: float  # den / num
    num: float  # tick_size = num / den
    den: float
    point_value: float
    commission: float
    flatten: bool  # flatten_at_session_end: session_last bounds orders and trades


@njit(cache=True)
def to_grid(x: float, side: int, cfg: KernelConfig) -> float:
    """Round ``x`` points to the tick grid: downward for ``side`` +1, upward for -1 (no branch).

    ``k`` ticks is the price ``k x num / den``; upward rounding is ``-floor(-x)``, the same float.
    """
    return side * np.floor(side * x * cfg.ticks_per_point + TICK_EPS) * cfg.num / cfg.den


@njit(cache=True)
def limit_price(close_u: float, d: int, atr_i: float, cfg: KernelConfig) -> float:
    """Limit entry of an order placed at a bar's close: ``close - d x entry_offset_atr x atr`` on the grid.

    Rounded away from the market (long down, short up). The one definition the simulator and the live
    policy (:func:`opt.brackets.prices.bracket_prices`) both use.
    """
    return to_grid(close_u - d * (cfg.entry_offset_atr * atr_i), d, cfg)


@njit(cache=True)
def bracket(
    ref: float, d: int, atr_i: float, level_i: float, cfg: KernelConfig
) -> tuple[float, float, float, float]:
    """Stop, target, risk (points) and contracts for an entry at ``ref``; 0 contracts = not placed.

    The one bracket-price definition: :func:`simulate_orders` calls it with the fill price (market) or
    the limit price, :func:`order_prices` with the live policy's reference price.
    """
    if cfg.level_stop:
        raw = level_i - d * cfg.buffer_points
    else:
        raw = ref - d * (cfg.stop_atr * atr_i)
    if not (np.isfinite(raw) and np.isfinite(ref)):
        return np.nan, np.nan, np.nan, 0.0
    stop = to_grid(raw, d, cfg)  # away from the entry: long down, short up
    risk = d * (ref - stop)
    if not risk > 0.0:
        return np.nan, np.nan, np.nan, 0.0
    target = to_grid(ref + d * (cfg.tp_r * risk), -d, cfg)  # away from the entry
    if cfg.risk_sizing:
        qty = np.floor(cfg.risk_per_trade / (risk * cfg.point_value) + CONTRACT_EPS)
    else:
        qty = cfg.fixed_contracts
    return stop, target, risk, qty


@njit(cache=True)
def _limit_fill(
    open_: Arr, high: Arr, low: Arr, d: int, limit: float, first: int, last: int
) -> tuple[int, float]:
    """First bar in first..last trading at/through the limit and its fill price; (-1, nan) if none."""
    if d > 0:
        for b in range(first, last + 1):
            if low[b] <= limit:
                return b, min(open_[b], limit)
    else:
        for b in range(first, last + 1):
            if high[b] >= limit:
                return b, max(open_[b], limit)
    return -1, np.nan


@njit(cache=True)
def _walk(open_: Arr, high: Arr, low: Arr, d: int, first: int, last: int, stop: float, target: float,
          slip: float) -> tuple[int, float, int]:  # fmt: skip
    """Scan bars first..last for the stop/target: (exit bar, exit price, reason); reason -1 if neither.

    Per bar: the stop reached (low <= stop for a long) fills at the stop, or at the open when the bar
    opens beyond it, minus slippage; unless the bar opened at/beyond the target (then the target filled
    first, at the target price). Else the target reached fills at the target.
    """
    if d > 0:
        for b in range(first, last + 1):
            if low[b] <= stop:
                o = open_[b]
                if o >= target:
                    return b, target, TARGET
                return b, min(o, stop) - slip, STOP
            if high[b] >= target:
                return b, target, TARGET
    else:
        for b in range(first, last + 1):
            if high[b] >= stop:
                o = open_[b]
                if o <= target:
                    return b, target, TARGET
                return b, max(o, stop) + slip, STOP
            if low[b] <= target:
                return b, target, TARGET
    return last, np.nan, _NO_EXIT


@njit(cache=True, inline="always")
def _not_filled(out: TradeArrays, i: int, reason: int) -> None:
    """Write the outcome of an order that does not fill (``reason``) into row ``i``."""
    out.filled[i] = False
    out.skipped[i] = reason == SKIPPED
    out.entry_bar[i] = -1
    out.entry_price[i] = np.nan
    out.stop_price[i] = np.nan
    out.target_price[i] = np.nan
    out.exit_bar[i] = -1
    out.exit_price[i] = np.nan
    out.exit_reason[i] = reason
    out.contracts[i] = 0.0
    out.risk_points[i] = np.nan
    out.pnl_points[i] = 0.0
    out.pnl[i] = 0.0
    out.r_multiple[i] = 0.0


@njit(cache=True)
def _heap_push(heap: Arr, size: int, value: int) -> int:
    """Push ``value`` on the int64 min-heap ``heap[:size]``; returns the new size."""
    i = size
    heap[i] = value
    while i > 0:
        parent = (i - 1) // 2
        if heap[parent] <= heap[i]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return size + 1


@njit(cache=True)
def _heap_pop(heap: Arr, size: int) -> int:
    """Drop the minimum of the int64 min-heap ``heap[:size]``; returns the new size."""
    size -= 1
    heap[0] = heap[size]
    i = 0
    while True:
        left = 2 * i + 1
        small = i
        if left < size and heap[left] < heap[small]:
            small = left
        if left + 1 < size and heap[left + 1] < heap[small]:
            small = left + 1
        if small == i:
            return size
        heap[small], heap[i] = heap[i], heap[small]
        i = small


@njit(cache=True)
def may_skip(signal_bar: Arr, cfg: KernelConfig) -> bool:
    """Whether some order could arrive with all ``max_positions`` slots held.

    An order placed at ``u`` frees its slot by bar ``u + span`` at the latest (market: fill at
    ``u + 1``, exit by ``u + 1 + max_hold - 1``; limit: fill by ``u + expiry_bars``, exit by the close of
    ``max_hold - 1`` bars later, the fill bar counted; DESIGN §8). With the signal bars sorted, order
    ``i`` can only be skipped if the ``max_positions``-th order before it was placed after
    ``u_i - span``.
    """
    span = (cfg.expiry_bars if cfg.limit_entry else 1) + cfg.max_hold - 1
    mp = cfg.max_positions
    blocked = False
    for i in range(mp, signal_bar.shape[0]):
        blocked |= signal_bar[i - mp] + span > signal_bar[i]
    return blocked


@njit(cache=True)
def simulate_orders(open_: Arr, high: Arr, low: Arr, close: Arr, signal_bar: Arr, direction: Arr, atr: Arr,
                    level: Arr, session_last: Arr, cfg: KernelConfig, out: TradeArrays) -> None:  # fmt: skip
    """Simulate the orders in signal order, writing every row of ``out``.

    With ``cfg.flatten``, ``session_last[u]`` (int64 per bar) is the last bar of bar ``u``'s session: an
    order fills on bars up to it only, and a trade still open at its close exits there
    (``SESSION_END``); otherwise ``session_last`` is not read.

    An order arriving while all ``max_positions`` slots are held is skipped. A slot is held from the
    order's placement to the last bar it is live (a trade's exit bar, a limit order's last live bar);
    from that bar on it is free. The slot book-keeping (a min-heap of those last bars) is left out
    when :func:`may_skip` proves no order can be skipped. (The per-order code sits in the loop body:
    moved into a function with numba's ``inline="always"`` it ran twice as slow.)
    """
    n = signal_bar.shape[0]
    skip = may_skip(signal_bar, cfg)
    heap = np.empty(min(cfg.max_positions, n) + 1 if skip else 1, np.int64)  # held slots' last bars
    held = 0
    for i in range(n):
        u = signal_bar[i]
        if skip:
            while held > 0 and heap[0] <= u:
                held = _heap_pop(heap, held)
            if held >= cfg.max_positions:
                _not_filled(out, i, SKIPPED)
                continue
        f = u + 1
        if f >= cfg.end:
            _not_filled(out, i, UNFILLED)  # no bar left to fill on
            continue
        s_last = session_last[u] if cfg.flatten else np.int64(cfg.end)
        if f > s_last:
            _not_filled(out, i, EXPIRED)  # placed at the close of its session's last bar: a day order
            continue
        d = direction[i]
        if cfg.limit_entry:
            ref = limit_price(close[u], d, atr[i], cfg)  # long down, short up
        else:
            ref = open_[f] + d * cfg.slip
        stop, target, risk, qty = bracket(ref, d, atr[i], level[i], cfg)
        if not qty >= 1.0:
            _not_filled(out, i, REJECTED)
            continue
        if cfg.limit_entry:
            cut = min(u + cfg.expiry_bars, s_last)
            last_fill = min(cut, cfg.end - 1)
            f, entry = _limit_fill(open_, high, low, d, ref, f, last_fill)
            if f < 0:
                _not_filled(out, i, EXPIRED if cut < cfg.end else UNFILLED)
                if skip:
                    held = _heap_push(heap, held, last_fill)
                continue
            last = min(f + cfg.max_hold - 1, cfg.end - 1, s_last)  # the fill bar is bar 1 of max_hold
            # Fill bar: the order of prices inside it is unknown, so only the stop can be hit.
            if d > 0 and low[f] <= stop:
                xb, xp, xr = f, min(open_[f], stop) - cfg.slip, STOP
            elif d < 0 and high[f] >= stop:
                xb, xp, xr = f, max(open_[f], stop) + cfg.slip, STOP
            else:
                xb, xp, xr = _walk(open_, high, low, d, f + 1, last, stop, target, cfg.slip)
        else:
            entry = ref
            xb, xp, xr = _walk(open_, high, low, d, f, min(f + cfg.max_hold - 1, cfg.end - 1, s_last), stop,
                               target, cfg.slip)  # fmt: skip
        if xr == _NO_EXIT:
            # Time exit at the close of the max_hold-th bar in the trade, the entry bar counted (DESIGN §8);
            # else the session's last bar (flatten_at_session_end), else the end of the data / fold.
            xp = close[xb] - d * cfg.slip
            if xb == f + cfg.max_hold - 1:
                xr = TIME
            elif xb == s_last:
                xr = SESSION_END
            else:
                xr = END

        pts = d * (xp - entry)
        money = pts * cfg.point_value * qty - 2.0 * cfg.commission * qty
        out.filled[i] = True
        out.skipped[i] = False
        out.entry_bar[i] = f
        out.entry_price[i] = entry
        out.stop_price[i] = stop
        out.target_price[i] = target
        out.exit_bar[i] = xb
        out.exit_price[i] = xp
        out.exit_reason[i] = xr
        out.contracts[i] = qty
        out.risk_points[i] = risk
        out.pnl_points[i] = pts
        out.pnl[i] = money
        out.r_multiple[i] = money / (risk * cfg.point_value * qty)
        if skip:
            held = _heap_push(heap, held, xb)


@njit(cache=True)
def order_prices(close: Arr, direction: Arr, atr: Arr, level: Arr, cfg: KernelConfig, out: Arr) -> None:
    """Entry, stop, target, risk (points) and contracts of orders placed at the close of their signal bars.

    Row ``i`` of ``out`` (float64 ``(n, 5)``) gets ``(entry, stop, target, risk, contracts)`` for the
    order with signal-bar close ``close[i]``: a limit entry is :func:`limit_price`; a market entry is
    referenced to that close (its fill, the next open, is unknown at the signal). NaN prices and 0
    contracts where :func:`simulate_orders` would reject the order.
    """
    for i in range(close.shape[0]):
        d = direction[i]
        if cfg.limit_entry:
            ref = limit_price(close[i], d, atr[i], cfg)
        else:
            ref = close[i]
        stop, target, risk, qty = bracket(ref, d, atr[i], level[i], cfg)
        if not qty >= 1.0:
            out[i, 0] = np.nan
            out[i, 1] = np.nan
            out[i, 2] = np.nan
            out[i, 3] = np.nan
            out[i, 4] = 0.0
        else:
            out[i, 0] = ref
            out[i, 1] = stop
            out[i, 2] = target
            out[i, 3] = risk
            out[i, 4] = qty
