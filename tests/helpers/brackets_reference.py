"""Plain-Python reference of the OCO bracket simulator, written for clarity, not speed.

It follows the rules stated in :mod:`opt.brackets.simulator` literally: each order walks the bars one
by one through the states "pending" -> "open" -> "closed". No numba, no numpy tricks; the property
tests check that :func:`opt.brackets.simulate_brackets` gives the same answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

import numpy as np

from opt.brackets import BracketParams, ExitReason, Trades

NAN = float("nan")


@dataclass
class Outcome:
    """One order's result (the fields of :class:`Trades`), plus the last bar it holds a slot."""

    filled: bool = False
    skipped: bool = False
    entry_bar: int = -1
    entry_price: float = NAN
    stop_price: float = NAN
    target_price: float = NAN
    exit_bar: int = -1
    exit_price: float = NAN
    exit_reason: int = ExitReason.UNFILLED
    contracts: float = 0.0
    risk_points: float = NAN
    pnl_points: float = 0.0
    pnl: float = 0.0
    r_multiple: float = 0.0
    release_bar: int = -1  # -1: holds no slot


@dataclass
class Plan:
    """The bracket attached to an entry price: stop, target, 1R and size."""

    stop: float
    target: float
    risk: float
    contracts: float


class Grid:
    """The tick grid. A tick is ``num / den`` points (a small exact fraction where the float allows);
    a price is ``price x (den / num)`` ticks and ``k`` ticks is the price ``k x num / den``."""

    def __init__(self, tick_size: float) -> None:
        frac = Fraction(tick_size).limit_denominator(1_000_000)
        if float(frac) == tick_size:
            self.num, self.den = float(frac.numerator), float(frac.denominator)
        else:
            self.num, self.den = tick_size, 1.0
        self.ticks_per_point = self.den / self.num

    def down(self, price: float) -> float:
        """Highest grid price <= price (a price within 1e-6 tick above a grid price counts as on it)."""
        ticks = math.floor(price * self.ticks_per_point + 1e-6)
        return ticks * self.num / self.den

    def up(self, price: float) -> float:
        """Lowest grid price >= price (a price within 1e-6 tick below a grid price counts as on it)."""
        ticks = math.ceil(price * self.ticks_per_point - 1e-6)
        return ticks * self.num / self.den


def make_plan(
    entry: float, is_long: bool, atr: float, level: float, p: BracketParams, grid: Grid
) -> Plan | None:
    """Stop / target / risk / contracts for an entry price, or None when the order cannot be placed."""
    if p.stop_mode == "atr":
        raw_stop = entry - p.stop_atr * atr if is_long else entry + p.stop_atr * atr
    else:
        buffer = p.stop_buffer_ticks * p.tick_size
        raw_stop = level - buffer if is_long else level + buffer
    if math.isnan(raw_stop) or math.isinf(raw_stop):
        return None
    # The stop is rounded away from the entry: down for a long, up for a short.
    stop = grid.down(raw_stop) if is_long else grid.up(raw_stop)
    risk = entry - stop if is_long else stop - entry
    if not risk > 0:
        return None
    # The target is rounded away from the entry too.
    target = grid.up(entry + p.tp_r * risk) if is_long else grid.down(entry - p.tp_r * risk)
    if p.sizing == "fixed":
        contracts = float(p.contracts)
    else:
        contracts = float(math.floor(p.risk_per_trade / (risk * p.point_value) + 1e-9))
    if contracts < 1:
        return None
    return Plan(stop, target, risk, contracts)


def close_trade(
    out: Outcome, bar: int, price: float, reason: ExitReason, is_long: bool, p: BracketParams
) -> Outcome:
    """Fill in the exit and the PnL of an open trade."""
    out.exit_bar = bar
    out.exit_price = price
    out.exit_reason = reason
    out.pnl_points = price - out.entry_price if is_long else out.entry_price - price
    gross = out.pnl_points * p.point_value * out.contracts
    out.pnl = gross - 2 * p.commission * out.contracts
    out.r_multiple = out.pnl / (out.risk_points * p.point_value * out.contracts)
    out.release_bar = bar
    return out


def simulate_order(bars: dict[str, list[float]], u: int, is_long: bool, atr: float, level: float,
                   p: BracketParams, end: int, s_last: int | None = None) -> Outcome:  # fmt: skip
    """Walk one order through the bars u+1 .. end-1 (``s_last``: last bar of u's session, flattening on)."""
    grid = Grid(p.tick_size)
    cut = u + p.expiry_bars if s_last is None else min(u + p.expiry_bars, s_last)  # a limit's last live bar
    slip = p.slippage_ticks * p.tick_size
    o, h, lo, c = bars["open"], bars["high"], bars["low"], bars["close"]
    out = Outcome()
    if u + 1 >= end:
        return out  # no bar to fill on: UNFILLED
    if s_last is not None and u + 1 > s_last:
        out.exit_reason = ExitReason.EXPIRED  # placed at the close of its session's last bar
        return out

    plan = None
    limit = NAN
    if p.entry_mode == "limit":
        raw = c[u] - p.entry_offset_atr * atr if is_long else c[u] + p.entry_offset_atr * atr
        if math.isnan(raw) or math.isinf(raw):
            out.exit_reason = ExitReason.REJECTED
            return out
        limit = grid.down(raw) if is_long else grid.up(raw)  # away from the market
        plan = make_plan(limit, is_long, atr, level, p, grid)
        if plan is None:
            out.exit_reason = ExitReason.REJECTED
            return out

    state = "pending"
    for b in range(u + 1, end):
        if state == "pending" and p.entry_mode == "market":
            entry = o[b] + slip if is_long else o[b] - slip
            plan = make_plan(entry, is_long, atr, level, p, grid)
            if plan is None:
                out.exit_reason = ExitReason.REJECTED
                return out
            state = "open"
            out.filled, out.entry_bar, out.entry_price = True, b, entry
            out.stop_price, out.target_price = plan.stop, plan.target
            out.risk_points, out.contracts = plan.risk, plan.contracts
            # the fill is at the open: this bar is managed like any other (below)
        elif state == "pending":  # limit
            assert plan is not None
            if b > cut:
                out.exit_reason = ExitReason.EXPIRED
                out.release_bar = cut
                return out
            if is_long:
                if lo[b] > limit:
                    continue
                entry = min(o[b], limit)
            else:
                if h[b] < limit:
                    continue
                entry = max(o[b], limit)
            state = "open"
            out.filled, out.entry_bar, out.entry_price = True, b, entry
            out.stop_price, out.target_price = plan.stop, plan.target
            out.risk_points, out.contracts = plan.risk, plan.contracts
            # Fill bar: only the stop counts (we cannot tell when inside the bar the limit filled).
            if is_long and lo[b] <= plan.stop:
                price = (o[b] if o[b] <= plan.stop else plan.stop) - slip
                return close_trade(out, b, price, ExitReason.STOP, is_long, p)
            if not is_long and h[b] >= plan.stop:
                price = (o[b] if o[b] >= plan.stop else plan.stop) + slip
                return close_trade(out, b, price, ExitReason.STOP, is_long, p)
            at_close = c[b] - slip if is_long else c[b] + slip
            if p.max_hold_bars == 1:  # the fill bar is the trade's first and only bar
                return close_trade(out, b, at_close, ExitReason.TIME, is_long, p)
            if b == s_last:
                return close_trade(out, b, at_close, ExitReason.SESSION_END, is_long, p)
            if b == end - 1:
                return close_trade(out, b, at_close, ExitReason.END, is_long, p)
            continue

        # An open trade, bar b: the open first, then the range (stop before target), then the close.
        assert plan is not None
        stop, target = plan.stop, plan.target
        if is_long:
            if o[b] <= stop:
                return close_trade(out, b, o[b] - slip, ExitReason.STOP, is_long, p)
            if o[b] >= target:
                return close_trade(out, b, target, ExitReason.TARGET, is_long, p)
            if lo[b] <= stop:
                return close_trade(out, b, stop - slip, ExitReason.STOP, is_long, p)
            if h[b] >= target:
                return close_trade(out, b, target, ExitReason.TARGET, is_long, p)
        else:
            if o[b] >= stop:
                return close_trade(out, b, o[b] + slip, ExitReason.STOP, is_long, p)
            if o[b] <= target:
                return close_trade(out, b, target, ExitReason.TARGET, is_long, p)
            if h[b] >= stop:
                return close_trade(out, b, stop + slip, ExitReason.STOP, is_long, p)
            if lo[b] <= target:
                return close_trade(out, b, target, ExitReason.TARGET, is_long, p)
        at_close = c[b] - slip if is_long else c[b] + slip
        # Held max_hold_bars bars, the entry bar counted: entry_bar .. entry_bar + max_hold_bars - 1.
        if b == out.entry_bar + p.max_hold_bars - 1:
            return close_trade(out, b, at_close, ExitReason.TIME, is_long, p)
        if b == s_last:
            return close_trade(out, b, at_close, ExitReason.SESSION_END, is_long, p)
        if b == end - 1:
            return close_trade(out, b, at_close, ExitReason.END, is_long, p)

    # Only a limit order that never filled gets here: its bars ran out before or at its expiry.
    out.exit_reason = ExitReason.EXPIRED if cut <= end - 1 else ExitReason.UNFILLED
    out.release_bar = end - 1
    return out


def simulate_reference(open: Any, high: Any, low: Any, close: Any, signal_bar: Any, direction: Any,  # noqa: A002
                       atr: Any, level_price: Any, params: BracketParams, *,
                       end_bar: int | None = None, session_last: Any = None) -> Trades:  # fmt: skip
    """Same contract as :func:`opt.brackets.simulate_brackets` (validation aside)."""
    bars = {
        "open": [float(x) for x in open],
        "high": [float(x) for x in high],
        "low": [float(x) for x in low],
        "close": [float(x) for x in close],
    }
    end = len(bars["open"]) if end_bar is None else end_bar
    held: list[int] = []  # last bar of each held slot
    outcomes: list[Outcome] = []
    for i in range(len(signal_bar)):
        u = int(signal_bar[i])
        held = [last for last in held if last > u]
        if len(held) >= params.max_positions:
            outcomes.append(Outcome(skipped=True, exit_reason=ExitReason.SKIPPED))
            continue
        out = simulate_order(
            bars, u, int(direction[i]) == 1, float(atr[i]), float(level_price[i]), params, end,
            int(session_last[u]) if params.flatten_at_session_end else None,
        )
        if out.release_bar > u:
            held.append(out.release_bar)
        outcomes.append(out)

    dtypes = {"filled": bool, "skipped": bool, "entry_bar": np.int64, "exit_bar": np.int64,
              "exit_reason": np.int8}  # fmt: skip
    columns = {
        f.name: np.array([getattr(o, f.name) for o in outcomes], dtype=dtypes.get(f.name, np.float64))
        for f in fields(Trades)
    }
    return Trades(**columns)
