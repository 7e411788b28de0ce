"""The live order prices of the promoted policy equal the bracket simulator's (opt.promote.policy)."""

from __future__ import annotations

import numpy as np
import pytest

from opt.backtest import order_prices
from opt.brackets import BracketParams, simulate_brackets
from opt.brackets.prices import snap_to_grid
from opt.data import generate_synthetic_bars
from opt.indicators import wilder_atr

BRACKET = dict(entry_mode="limit", entry_offset_atr=0.3, expiry_bars=10, stop_mode="atr", stop_atr=1.5,
               stop_buffer_ticks=2, atr_timeframe=1, tp_r=1.7, max_hold_bars=30, confidence=0.5,
               direction="both", slippage_ticks=1, sizing="fixed", contracts=1, risk_per_trade=500.0,
               max_positions=50)
ES = dict(tick_size=0.25, point_value=50.0, commission=2.25)


@pytest.fixture(scope="module")
def market() -> tuple[np.ndarray, ...]:
    bars = generate_synthetic_bars(seed=4, first_day="2025-03-03", n_days=3, start_price=5000.0, annual_vol=0.2,
                                   tick_size=0.25)
    o, h, lo, c = (bars[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    atr = wilder_atr(h, lo, c, 14)
    rng = np.random.default_rng(0)
    sig = np.sort(rng.choice(np.arange(100, len(c) - 200), 300, replace=False))
    return o, h, lo, c, atr, sig, rng.choice([-1, 1], sig.size).astype(np.int8)


@pytest.mark.parametrize("stop_mode", ["atr", "level"])
def test_limit_orders_match_the_simulator(market, stop_mode: str) -> None:
    o, h, lo, c, atr, sig, d = market
    bp = BracketParams.from_config({**BRACKET, "stop_mode": stop_mode}, ES)
    level = c[sig] - d * 2.0
    trades = simulate_brackets(o, h, lo, c, sig, d, atr[sig], level, bp)
    ours = order_prices(c[sig], d, atr[sig], level, bp)
    filled = trades.filled
    assert filled.sum() > 50
    np.testing.assert_array_equal(ours["stop"][filled], trades.stop_price[filled])
    np.testing.assert_array_equal(ours["take_profit"][filled], trades.target_price[filled])
    np.testing.assert_array_equal(ours["risk_points"][filled], trades.risk_points[filled])
    # the limit is on the grid, on the pullback side of the signal close
    assert np.all(d * (c[sig] - ours["entry"]) >= 0)
    np.testing.assert_array_equal(snap_to_grid(ours["entry"], np.ones(sig.size), bp), ours["entry"])


def test_market_orders_match_the_simulator_from_the_fill_price(market) -> None:
    o, h, lo, c, atr, sig, d = market
    bp = BracketParams.from_config({**BRACKET, "entry_mode": "market"}, ES)
    trades = simulate_brackets(o, h, lo, c, sig, d, atr[sig], c[sig], bp)
    fill = o[sig + 1] + d * bp.slippage_ticks * bp.tick_size
    ours = order_prices(fill, d, atr[sig], c[sig], bp)
    filled = trades.filled
    np.testing.assert_array_equal(ours["stop"][filled], trades.stop_price[filled])
    np.testing.assert_array_equal(ours["take_profit"][filled], trades.target_price[filled])


def test_orders_the_simulator_rejects_have_no_prices() -> None:
    level = BracketParams.from_config({**BRACKET, "entry_mode": "market", "stop_mode": "level"}, ES)
    out = order_prices(np.array([100.0, 100.0]), np.array([1, 1]), np.array([1.0, np.nan]),
                       np.array([101.0, 99.0]), level)  # level above a long entry: risk <= 0
    assert np.isnan(out["stop"][0]) and np.isnan(out["entry"][0]) and out["stop"][1] == 98.5
    limit = BracketParams.from_config(BRACKET, ES)  # a limit needs the ATR
    assert np.isnan(order_prices(np.array([100.0]), np.array([-1]), np.array([np.nan]), np.array([99.0]),
                                 limit)["entry"][0])
