"""Property test: the numba simulator equals the plain-Python reference on random bars, orders, params.

Bars are random paths on the tick grid with gaps (some large enough to jump a stop), flat bars and wide
bars that reach both stop and target; orders have random signal bars (ties included), sides, ATRs
(including 0 and NaN) and levels; parameters cover both entry modes, both stop modes, both sizings,
expiries, time exits, ``end_bar`` cuts and one to three positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opt.brackets import BracketParams, simulate_brackets
from opt.brackets.simulator import tick_fraction

from tests.helpers.brackets_cases import assert_same_trades
from tests.helpers.brackets_reference import simulate_reference

TICKS = [0.25, 0.1, 1.0, 0.01, 0.03125]


@st.composite
def bar_paths(draw: st.DrawFn, tick: float) -> tuple[np.ndarray, ...]:
    """(open, high, low, close) on the tick grid: prices are k x num / den, as the simulator's grid."""
    num, den = tick_fraction(tick)
    n = draw(st.one_of(st.integers(1, 12), st.integers(1, 40)))
    gap = st.one_of(st.just(0), st.integers(-3, 3), st.integers(-60, 60))
    reach = st.one_of(st.just(0), st.integers(0, 6), st.integers(0, 40))
    bars = draw(st.lists(st.tuples(gap, reach, reach, st.floats(0, 1)), min_size=n, max_size=n))
    k_close = draw(st.integers(2_000, 40_000))
    rows = []
    for g, up, down, where in bars:
        k_open = max(1, k_close + g)
        k_high, k_low = k_open + up, max(1, k_open - down)
        k_close = k_low + round(where * (k_high - k_low))
        rows.append([k * num / den for k in (k_open, k_high, k_low, k_close)])
    arr = np.array(rows, dtype=np.float64)
    return tuple(arr[:, j].copy() for j in range(4))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    tick = draw(st.sampled_from(TICKS))
    open_, high, low, close = draw(bar_paths(tick))
    n_bars = len(open_)
    n_orders = draw(st.integers(0, 12))
    signal_bar = np.sort(np.array(draw(st.lists(st.integers(0, n_bars - 1), min_size=n_orders,
                                                max_size=n_orders)), dtype=np.int64))  # fmt: skip
    direction = np.array(
        draw(st.lists(st.sampled_from([-1, 1]), min_size=n_orders, max_size=n_orders)), np.int8
    )
    atr_ticks = st.one_of(
        st.floats(0.05, 30), st.integers(1, 20).map(float), st.sampled_from([0.0, float("nan")])
    )
    atr = np.array(draw(st.lists(atr_ticks, min_size=n_orders, max_size=n_orders)), np.float64) * tick
    offsets = np.array(draw(st.lists(st.floats(-20, 20), min_size=n_orders, max_size=n_orders)), np.float64)
    level = close[signal_bar] + offsets * tick
    params = BracketParams(
        entry_mode=draw(st.sampled_from(["market", "limit"])),
        entry_offset_atr=draw(st.one_of(st.just(0.0), st.floats(0, 2), st.floats(2, 10))),
        expiry_bars=draw(st.integers(1, 6)),
        stop_mode=draw(st.sampled_from(["atr", "level"])),
        stop_atr=draw(st.floats(0.1, 3)),
        stop_buffer_ticks=draw(st.integers(0, 4)),
        atr_timeframe=1,
        tp_r=draw(st.one_of(st.floats(0.1, 4), st.sampled_from([1.0, 1.5, 2.0]))),
        max_hold_bars=draw(st.integers(1, 12)),
        confidence=0.6,
        direction="both",
        slippage_ticks=draw(st.sampled_from([0.0, 1.0, 2.0, 0.5])),
        sizing=draw(st.sampled_from(["fixed", "risk"])),
        contracts=draw(st.integers(1, 3)),
        risk_per_trade=draw(st.floats(5, 3000)),
        max_positions=draw(st.sampled_from([1, 1, 2, 3])),
        tick_size=tick,
        point_value=draw(st.sampled_from([2.0, 5.0, 20.0, 50.0])),
        commission=draw(st.sampled_from([0.0, 0.62, 2.25])),
    )
    end_bar = draw(st.one_of(st.none(), st.integers(0, n_bars)))
    return {
        "bars": (open_, high, low, close),
        "orders": (signal_bar, direction, atr, level),
        "params": params,
        "end_bar": end_bar,
    }


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fast_equals_reference(case: dict[str, Any]) -> None:
    args = (*case["bars"], *case["orders"], case["params"])
    fast = simulate_brackets(*args, end_bar=case["end_bar"])
    ref = simulate_reference(*args, end_bar=case["end_bar"])
    assert_same_trades(fast, ref)
