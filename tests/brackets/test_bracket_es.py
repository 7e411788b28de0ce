"""On the real ES bars: fast == reference on random orders for both kernels, and the benchmark runs."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opt.brackets import ExitReason, simulate_brackets

from tests.helpers.brackets_cases import assert_same_trades, make_params
from tests.helpers.brackets_reference import simulate_reference

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def es_bars(request: pytest.FixtureRequest) -> pd.DataFrame:
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / "ES_1min.csv"
    if not path.is_file():
        pytest.skip(f"real ES data not found at {path} (../shared/data/ES_1min.csv beside the repo)")
    return pd.read_csv(path)


def _bench_module():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARKS))
    import bench_brackets

    return bench_brackets


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # one position: most random orders are skipped (in-order kernel)
        {"max_positions": 10**6},  # no order can be skipped: no slot book-keeping
        {"entry_mode": "limit", "entry_offset_atr": 0.25, "max_positions": 2},
        {"stop_mode": "level", "sizing": "risk", "max_hold_bars": 15, "max_positions": 10**6},
    ],
    ids=["default", "no-skip", "limit-2pos", "level-risk"],
)
def test_fast_equals_reference_on_es(es_bars: pd.DataFrame, overrides: dict) -> None:
    orders = _bench_module().make_orders(es_bars, 3_000, seed=7)
    ohlc = [es_bars[c].to_numpy(np.float64) for c in ("open", "high", "low", "close")]
    params = replace(make_params(stop_atr=1.5), **overrides)
    for end_bar in (None, 50_000):
        fast = simulate_brackets(*ohlc, **orders, params=params, end_bar=end_bar)
        assert_same_trades(fast, simulate_reference(*ohlc, **orders, params=params, end_bar=end_bar))
        traded = np.isin(fast.exit_reason, [ExitReason.STOP, ExitReason.TARGET, ExitReason.TIME])
        assert traded.sum() > 100


def test_benchmark_runs(es_bars: pd.DataFrame) -> None:
    result = _bench_module().bench_brackets(n_orders=2_000, repeats=1)
    assert result["n_orders"] == 2_000 and result["reference_n_orders"] == 2_000
    assert result["brackets_per_s"] > result["reference_brackets_per_s"] > 0
