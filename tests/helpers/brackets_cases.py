"""Small builders shared by the bracket tests: parameters, hand-written bars, field-by-field comparison."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np

from opt.brackets import BracketParams, Trades, simulate_brackets

from tests.helpers.brackets_reference import simulate_reference

BASE_BRACKET: dict[str, Any] = {
    "entry_mode": "market", "entry_offset_atr": 0.5, "expiry_bars": 3, "stop_mode": "atr",
    "stop_atr": 1.0, "stop_buffer_ticks": 2, "atr_timeframe": 1, "tp_r": 2.0, "max_hold_bars": 60,
    "confidence": 0.6, "direction": "both", "slippage_ticks": 1, "sizing": "fixed", "contracts": 1,
    "risk_per_trade": 500.0, "max_positions": 1,
}  # fmt: skip
ES: dict[str, Any] = {"tick_size": 0.25, "point_value": 50.0, "commission": 2.25}

SIMULATORS = {"fast": simulate_brackets, "reference": simulate_reference}


def make_params(**overrides: Any) -> BracketParams:
    """ES parameters: 1-ATR stop, 2R target, 1 tick slippage, 1 contract, one position (then overrides)."""
    return replace(BracketParams.from_config(BASE_BRACKET, ES), **overrides)


def make_bars(rows: list[tuple[float, float, float, float]]) -> tuple[np.ndarray, ...]:
    """(open, high, low, close) arrays from one (o, h, l, c) tuple per bar."""
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy(), arr[:, 3].copy()


def run(sim: Any, rows: list[tuple[float, float, float, float]], signal_bar: list[int], direction: list[int],
        atr: list[float], params: BracketParams, level: list[float] | None = None,
        end_bar: int | None = None, session_last: list[int] | None = None) -> Trades:  # fmt: skip
    """Simulate orders on hand-written bars with ``sim`` (fast or reference)."""
    level_price = [float("nan")] * len(signal_bar) if level is None else level
    last = None if session_last is None else np.array(session_last, np.int64)
    return sim(*make_bars(rows), np.array(signal_bar, np.int64), np.array(direction, np.int8),
               np.array(atr, np.float64), np.array(level_price, np.float64), params, end_bar=end_bar,
               session_last=last)  # fmt: skip


def assert_same_trades(fast: Trades, ref: Trades) -> None:
    """Every field equal: exact for bools/ints, 1e-9 (relative 1e-12) for floats, NaN == NaN."""
    for f in fields(Trades):
        a, b = getattr(fast, f.name), getattr(ref, f.name)
        assert a.shape == b.shape, f.name
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9, equal_nan=True, err_msg=f.name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=f.name)
