"""Benchmark: bracket simulator throughput on the real ES bars, fast (numba) vs plain-Python reference.

Run ``python benchmarks/bench_brackets.py`` (from the repository root). The orders are random: signal
bars uniform over the data, random direction, ATR from a Wilder ATR(14) of the 1-minute bars. Two
parameter sets are timed on the same orders: the config defaults (market entry, 1.5 ATR stop, 2R
target, 60-bar hold, one position at a time: most random orders overlap an open trade and are
skipped) and the same with ``max_positions`` = n_orders, so that every order is simulated
(``brackets_per_s`` reports this harder case).
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
ES_CSV = REPO_ROOT.parent / "shared" / "data" / "ES_1min.csv"

try:
    import opt  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(REPO_ROOT / "src"))
sys.path.insert(0, str(REPO_ROOT))  # the reference simulator lives in tests/helpers/

from opt.brackets import BracketParams, simulate_brackets  # noqa: E402

from tests.helpers.brackets_reference import simulate_reference  # noqa: E402

DEFAULT_BRACKET: dict[str, Any] = {
    "entry_mode": "market", "entry_offset_atr": 0.25, "expiry_bars": 10, "stop_mode": "atr",
    "stop_atr": 1.5, "stop_buffer_ticks": 2, "atr_timeframe": 1, "tp_r": 2.0, "max_hold_bars": 60,
    "confidence": 0.6, "direction": "both", "slippage_ticks": 1, "sizing": "fixed", "contracts": 1,
    "risk_per_trade": 500.0, "max_positions": 1,
}  # fmt: skip
ES_INSTRUMENT: dict[str, Any] = {"tick_size": 0.25, "point_value": 50.0, "commission": 2.25}


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's ATR, points, shape (n_bars,); NaN until ``period`` true ranges are known."""
    prev_close = np.concatenate(([close[0]], close[:-1]))
    tr = np.maximum(high, prev_close) - np.minimum(low, prev_close)
    out = np.full(len(tr), np.nan)
    if len(tr) < period:
        return out
    out[period - 1] = tr[:period].mean()
    for i in range(period, len(tr)):
        out[i] = out[i - 1] + (tr[i] - out[i - 1]) / period
    return out


def make_orders(bars: pd.DataFrame, n_orders: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random orders on ``bars``: the simulator's per-order arrays (signal_bar, direction, atr, level)."""
    rng = np.random.default_rng(seed)
    atr_bars = wilder_atr(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy())
    signal_bar = np.sort(rng.integers(14, len(bars) - 1, n_orders)).astype(np.int64)
    direction = rng.choice(np.array([-1, 1], dtype=np.int8), n_orders)
    atr = atr_bars[signal_bar]
    level = bars["close"].to_numpy()[signal_bar] - direction * atr
    return {"signal_bar": signal_bar, "direction": direction, "atr": atr, "level_price": level}


def _times(fn: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_brackets(
    n_orders: int = 100_000, repeats: int = 5, reference_orders: int | None = None
) -> dict[str, float | int]:
    """Time the fast simulator and the reference on the same random orders on the ES bars.

    Args:
        n_orders: orders to simulate (>= 100,000 for a meaningful figure).
        repeats: timed runs of the fast simulator after a warm-up call (median reported).
        reference_orders: time the reference (one run) on the first this many orders; None = all.

    Returns:
        ``brackets_per_s``: fast, median, every order simulated (``max_positions`` = n_orders);
        ``brackets_per_s_best``: the same, fastest run (the machine is shared: the median moves);
        ``brackets_per_s_default``: fast, median, config defaults (one position at a time, most
        random orders skipped); ``reference_brackets_per_s`` on ``reference_n_orders`` orders, every
        order simulated; ``speedup`` = brackets_per_s / reference_brackets_per_s; ``n_orders``.

    Raises:
        FileNotFoundError: if the ES sample is not at ``../shared/data/ES_1min.csv``.
    """
    if not ES_CSV.is_file():
        raise FileNotFoundError(f"ES sample not found at {ES_CSV}")
    bars = pd.read_csv(ES_CSV)
    ohlc = [bars[c].to_numpy(np.float64) for c in ("open", "high", "low", "close")]
    orders = make_orders(bars, n_orders)
    default = BracketParams.from_config(DEFAULT_BRACKET, ES_INSTRUMENT)
    every = replace(default, max_positions=n_orders)

    def fast(params: BracketParams) -> Any:
        return simulate_brackets(*ohlc, **orders, params=params)

    fast(every)  # warm-up: compile or load the numba cache
    fast(default)
    every_times = _times(lambda: fast(every), repeats)
    default_times = _times(lambda: fast(default), repeats)
    k = n_orders if reference_orders is None else min(n_orders, reference_orders)
    sub = {key: v[:k] for key, v in orders.items()}
    (ref_time,) = _times(lambda: simulate_reference(*ohlc, **sub, params=every), 1)
    rate = n_orders / statistics.median(every_times)
    return {
        "brackets_per_s": rate,
        "brackets_per_s_best": n_orders / min(every_times),
        "brackets_per_s_default": n_orders / statistics.median(default_times),
        "reference_brackets_per_s": k / ref_time,
        "reference_n_orders": k,
        "speedup": rate / (k / ref_time),
        "n_orders": n_orders,
    }


if __name__ == "__main__":
    for name, value in bench_brackets().items():
        print(f"{name:>26}: {value:,.0f}" if value >= 100 else f"{name:>26}: {value:.3g}")
