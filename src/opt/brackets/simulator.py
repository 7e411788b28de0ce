"""OCO bracket simulator (DESIGN §8): turn orders placed at bar closes into trades on 1-minute bars.

Rules (points are price units, a tick is ``tick_size`` points, ``slip = slippage_ticks x tick_size``;
``d`` is +1 long / -1 short; ``u`` is the signal bar, the order is placed at its close):

Entry
    * ``market``: fills at ``open[u+1] + d x slip``. The bracket (stop, target, size) is computed from
      this fill price, so a market order can be rejected at the fill (see *Not placed*).
    * ``limit``: ``limit = close[u] - d x entry_offset_atr x atr``, rounded to the tick grid away from
      the market (long down, short up). Live on bars ``u+1 .. u+expiry_bars``; fills on the first bar
      whose low (long) / high (short) reaches the limit, at the limit, or at the open when the bar opens
      through it (the better price). No slippage. Stop, target and size are fixed at placement from the
      limit price, as an exchange-held bracket is, and stay the same when the fill is at a better open.
    * Not filled within its bars: ``EXPIRED``; cut off by ``end_bar`` first: ``UNFILLED``.

Bracket
    * Stop: ``entry - d x stop_atr x atr`` (``stop_mode="atr"``) or ``level - d x stop_buffer_ticks``
      ticks (``stop_mode="level"``), rounded to the grid away from the entry. ``risk_points`` (1R) is
      ``d x (entry - stop)`` with the market fill or the limit price as entry.
    * Target: ``entry + d x tp_r x risk_points``, rounded to the grid away from the entry.
    * Not placed (``REJECTED``): ``risk_points`` not > 0 (a level stop on the wrong side of the entry,
      a non-positive, NaN or infinite ATR/level) or ``sizing="risk"`` giving 0 contracts
      (``floor(risk_per_trade / (risk_points x point_value))``). Rejected orders hold no slot.

Exits (first that applies; both-touch bars count the STOP; a bar opening beyond a price fills there)
    * Market entries are managed from the fill bar itself (the fill is at its open, so its whole range
      comes after). For each bar: opens at/beyond the target -> ``TARGET`` at the target price (a
      resting limit; price improvement not counted, conservative); else trades at/through the stop ->
      ``STOP`` at the stop, or at the open when the bar opens beyond it (gap), minus slippage; else
      reaches the target -> ``TARGET`` at the target.
    * Limit fill bar: the order of prices inside it is unknown, so it is treated conservatively: only
      the stop is checked (``STOP`` if the bar's range reaches it, at min/max(open, stop) with slippage);
      the target is checked from the next bar on.
    * Time: still open at the close of ``entry_bar + max_hold_bars - 1`` -> ``TIME`` at that close with
      slippage (a market order): the trade is held exactly ``max_hold_bars`` bars, the entry bar counted
      (a market fill at the open of bar ``f`` or a limit fill inside bar ``f`` is bar 1; DESIGN §8). With
      ``max_hold_bars=1`` a limit fill bar is its only bar: the stop is checked there, then the close.
    * Session end (``flatten_at_session_end``): still open at the close of the last bar of its session
      (``session_last``: the last bar before ``levels.day_end`` or a half day's early close) ->
      ``SESSION_END`` at that close with slippage, instead of being held across the daily break.
    * End: still open at the close of ``end_bar - 1`` -> ``END`` at that close with slippage (the
      position is flattened like a time exit). On one bar TIME wins over SESSION_END, which wins over END.

Sessions (``flatten_at_session_end``): orders are day orders. An order fills on bars up to the last bar
of its signal bar's session only: a market order placed at the close of that bar, or a limit not
filled by it, is ``EXPIRED``.

Costs: ``pnl_points = d x (exit_price - entry_price)`` per contract (slippage is inside the prices);
``pnl = pnl_points x point_value x contracts - 2 x commission x contracts``;
``r_multiple = pnl / (risk_points x point_value x contracts)``.

Tick grid: a tick is written as an exact fraction ``num / den`` where one exists (0.25 = 1/4, 0.1 = 1/10),
a price is ``x x (den / num)`` ticks, and ``k`` ticks is the price ``k x num / den`` (so grid prices equal
the decimals a CSV parser gives); rounding treats a price within 1e-6 tick of a grid price as on it.

Positions: at most ``max_positions`` slots; a slot is held from placement to the release bar (a trade's
exit bar; a pending limit's last live bar). An order whose signal bar is before the release bar of all
``max_positions`` held slots is ``SKIPPED``; an order on its release bar itself may be placed. Orders
on the same bar are taken in input order.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

from opt.brackets._kernel import KernelConfig, simulate_orders
from opt.brackets.params import BracketParams
from opt.brackets.trades import TradeArrays, Trades

__all__ = ["simulate_brackets", "tick_fraction"]

_DTYPES = {
    "filled": np.dtype(np.bool_),
    "skipped": np.dtype(np.bool_),
    "entry_bar": np.dtype(np.int64),
    "exit_bar": np.dtype(np.int64),
    "exit_reason": np.dtype(np.int8),
}


def tick_fraction(tick_size: float) -> tuple[float, float]:
    """Write the tick as ``num / den`` so that grid prices ``k x num / den`` equal parsed decimals.

    ``k * 0.1`` is not always the double nearest to the decimal ``k/10`` (the value a CSV parser
    gives), but ``k * 1 / 10`` is, so prices on the grid compare equal to the bars' prices.

    Args:
        tick_size: points per tick, > 0.

    Returns:
        (num, den) as floats; (tick_size, 1.0) when no small fraction matches the tick exactly.
    """
    frac = Fraction(tick_size).limit_denominator(1_000_000)
    if float(frac) != tick_size:
        return float(tick_size), 1.0
    return float(frac.numerator), float(frac.denominator)


def simulate_brackets(
    open: ArrayLike,  # noqa: A002 - the bar field's name
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    signal_bar: ArrayLike,
    direction: ArrayLike,
    atr: ArrayLike,
    level_price: ArrayLike,
    params: BracketParams,
    *,
    end_bar: int | None = None,
    session_last: ArrayLike | None = None,
) -> Trades:
    """Simulate one OCO bracket per order on 1-minute bars (rules in the module docstring).

    Args:
        open: float64 (n_bars,), points. Bars must be valid (``low <= open, close <= high``).
        high: float64 (n_bars,), points.
        low: float64 (n_bars,), points.
        close: float64 (n_bars,), points.
        signal_bar: int64 (n_orders,), ascending: the bar at whose close each order is placed.
        direction: int8 (n_orders,), +1 long / -1 short.
        atr: float64 (n_orders,), points, ATR known at the signal bar.
        level_price: float64 (n_orders,), points, the level (read when ``stop_mode="level"``).
        params: the bracket and instrument parameters.
        end_bar: exclusive cap on the bars trades may use (a fold's end); default n_bars.
        session_last: int64 (n_bars,), for each bar the last bar of its session at or after it
            (:func:`opt.sessions.session_last_bar`; ``n_bars`` where the data ends first). Read only with
            ``params.flatten_at_session_end``, which requires it.

    Returns:
        :class:`Trades` with one entry per order.

    Raises:
        ValueError: on mismatched lengths, unsorted or out-of-range signal bars, a direction other than
            +1/-1, ``end_bar`` outside ``[0, n_bars]``, or ``flatten_at_session_end`` without a valid
            ``session_last``.
    """
    open_a, high_a, low_a, close_a = (
        np.ascontiguousarray(a, dtype=np.float64) for a in (open, high, low, close)
    )
    bars = (open_a, high_a, low_a, close_a)
    n_bars = open_a.shape[0]
    if any(b.ndim != 1 or b.shape[0] != n_bars for b in bars):
        raise ValueError("open, high, low and close must be 1-D arrays of the same length")
    sig = np.ascontiguousarray(signal_bar, dtype=np.int64)
    dirs_in = np.asarray(direction)
    if np.any((dirs_in != 1) & (dirs_in != -1)):
        raise ValueError("direction must be +1 (long) or -1 (short)")
    dirs = np.ascontiguousarray(dirs_in, dtype=np.int8)
    atr_a = np.ascontiguousarray(atr, dtype=np.float64)
    lvl = np.ascontiguousarray(level_price, dtype=np.float64)
    n = sig.shape[0]
    if any(a.ndim != 1 or a.shape[0] != n for a in (sig, dirs, atr_a, lvl)):
        raise ValueError("signal_bar, direction, atr and level_price must be 1-D arrays of the same length")
    if np.any(np.diff(sig) < 0):
        raise ValueError("signal_bar must be sorted ascending")
    if n and (sig[0] < 0 or sig[-1] >= n_bars):
        raise ValueError(f"signal_bar must lie in [0, {n_bars}), got {sig[0]}..{sig[-1]}")
    end = n_bars if end_bar is None else int(end_bar)
    if not 0 <= end <= n_bars:
        raise ValueError(f"end_bar must lie in [0, {n_bars}], got {end_bar}")

    last = np.empty(0, np.int64)
    if params.flatten_at_session_end:
        if session_last is None:
            raise ValueError("bracket.flatten_at_session_end needs session_last (opt.sessions.session_last_bar)")
        last = np.ascontiguousarray(session_last, dtype=np.int64)
        if last.shape != (n_bars,) or np.any(last < np.arange(n_bars)):
            raise ValueError("session_last must be (n_bars,) with session_last[t] >= t")
    cfg = _kernel_config(params, end)
    out = _allocate(n)
    simulate_orders(open_a, high_a, low_a, close_a, sig, dirs, atr_a, lvl, last, cfg, out)
    return Trades(*out)


def _kernel_config(p: BracketParams, end: int) -> KernelConfig:
    """The kernels' view of ``p``, every field cast so numba compiles one specialisation only."""
    num, den = tick_fraction(p.tick_size)
    return KernelConfig(
        end=int(end),
        limit_entry=p.entry_mode == "limit",
        entry_offset_atr=float(p.entry_offset_atr),
        expiry_bars=int(p.expiry_bars),
        level_stop=p.stop_mode == "level",
        stop_atr=float(p.stop_atr),
        buffer_points=float(p.stop_buffer_ticks * p.tick_size),
        tp_r=float(p.tp_r),
        max_hold=int(p.max_hold_bars),
        slip=float(p.slippage_ticks * p.tick_size),
        risk_sizing=p.sizing == "risk",
        fixed_contracts=float(p.contracts),
        risk_per_trade=float(p.risk_per_trade),
        max_positions=int(p.max_positions),
        ticks_per_point=den / num,
        num=num,
        den=den,
        point_value=float(p.point_value),
        commission=float(p.commission),
        flatten=bool(p.flatten_at_session_end),
    )


def _allocate(n: int) -> TradeArrays:
    """Uninitialised :class:`Trades` arrays for ``n`` orders, all views of one numpy buffer.

    One allocation instead of 14: numpy reuses (and for large sizes huge-page-advises) a single
    block, where 14 fresh arrays cost a page fault per 4 KiB on every call, which for 100k orders
    takes longer than the simulation itself.
    """
    layout = [(name, _DTYPES.get(name, np.dtype(np.float64))) for name in TradeArrays._fields]
    widest_first = sorted(layout, key=lambda item: -item[1].itemsize)  # every view stays aligned
    buffer = np.empty(sum(dt.itemsize for _, dt in layout) * n, np.uint8)
    views: dict[str, np.ndarray] = {}
    offset = 0
    for name, dt in widest_first:
        views[name] = buffer[offset : offset + dt.itemsize * n].view(dt)
        offset += dt.itemsize * n
    return TradeArrays(**views)
