"""Monte Carlo bands: block bootstrap of daily PnL and reshuffle of trade R (opt.metrics.montecarlo)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from opt.config_rules import check_config
from opt.errors import ConfigError
from opt.metrics import block_bootstrap_paths, equity_bands, monte_carlo
from opt.metrics.montecarlo import _path_stats, _shuffled_drawdowns
from opt.schema import TRADING_DAYS_PER_YEAR

from tests.helpers.config import compose_config

KW = {"n_paths": 400, "block_days": 5, "seed": 7, "ruin_drawdown": 2000.0, "risk_per_trade": 300.0}
DAILY_KEYS = [f"mc_{m}_p{q}" for m in ("net_pnl", "max_drawdown", "sharpe") for q in (5, 50, 95)] + ["mc_risk_of_ruin"]
R_KEYS = ["mc_r_total_p50", "mc_r_max_drawdown_p50", "mc_r_max_drawdown_p95", "mc_r_risk_of_ruin"]


def _daily(n: int = 250, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < 0.3, 0.0, rng.normal(40.0, 400.0, n))  # days without trades at 0


def _r(n: int = 500, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).choice([-1.0, 2.0, -0.3], size=n, p=[0.55, 0.35, 0.1])


def test_same_inputs_and_seed_give_identical_output_and_another_seed_differs() -> None:
    a = monte_carlo(_daily(), _r(), **KW)
    assert a == monte_carlo(_daily(), _r(), **KW)
    assert set(a) == {*DAILY_KEYS, *R_KEYS, "mc_paths", "mc_block_days"}
    b = monte_carlo(_daily(), _r(), **{**KW, "seed": 8})
    assert a["mc_net_pnl_p50"] != b["mc_net_pnl_p50"] and a["mc_r_max_drawdown_p50"] != b["mc_r_max_drawdown_p50"]


def test_percentiles_are_ordered() -> None:
    out = monte_carlo(_daily(), _r(), **KW)
    for m in ("net_pnl", "max_drawdown", "sharpe"):
        assert out[f"mc_{m}_p5"] <= out[f"mc_{m}_p50"] <= out[f"mc_{m}_p95"], m
    assert 0 <= out["mc_max_drawdown_p5"] and out["mc_r_max_drawdown_p50"] <= out["mc_r_max_drawdown_p95"]
    bands = equity_bands(_daily(), n_paths=400, block_days=5, seed=7)
    assert (bands["p5"] <= bands["p50"]).all() and (bands["p50"] <= bands["p95"]).all()


def test_a_constant_series_gives_constant_bands() -> None:
    daily = np.full(30, 25.0)
    bands = equity_bands(daily, n_paths=50, block_days=4, seed=0)
    assert list(bands.columns) == ["day_index", "p5", "p50", "p95"] and list(bands["day_index"]) == list(range(30))
    for col in ("p5", "p50", "p95"):
        np.testing.assert_allclose(bands[col], 25.0 * np.arange(1, 31))
    out = monte_carlo(daily, np.ones(3), **KW)
    assert out["mc_net_pnl_p5"] == pytest.approx(750.0) and out["mc_net_pnl_p95"] == pytest.approx(750.0)
    assert out["mc_max_drawdown_p95"] == 0.0 and out["mc_sharpe_p50"] == 0.0  # constant: Sharpe 0 as trading_metrics
    assert out["mc_risk_of_ruin"] == 0.0


def test_hand_computed_drawdowns_and_ruin() -> None:
    # every path of a constant loss is the same: 10 days of -100 fall 1,000 from the starting 0
    out = monte_carlo(np.full(10, -100.0), np.full(5, -1.0), **{**KW, "ruin_drawdown": 1000.0})
    assert out["mc_max_drawdown_p5"] == out["mc_max_drawdown_p95"] == pytest.approx(1000.0)
    assert out["mc_risk_of_ruin"] == 1.0
    # five losses of 1R fall 5R in any order: 5 x 300 = 1,500 >= 1,000
    assert out["mc_r_max_drawdown_p50"] == out["mc_r_max_drawdown_p95"] == 5.0 and out["mc_r_risk_of_ruin"] == 1.0
    out = monte_carlo(np.full(10, -100.0), np.full(5, -1.0), **{**KW, "ruin_drawdown": 1500.01})
    assert out["mc_risk_of_ruin"] == 0.0 and out["mc_r_risk_of_ruin"] == 0.0
    # one path by hand: cumulative 100, -200, -150, -250, 150 -> peak 100, trough -250
    path = np.array([[100.0, -300.0, 50.0, -100.0, 400.0]])
    net, dd, sharpe = _path_stats(path, math.sqrt(TRADING_DAYS_PER_YEAR))[0]
    assert (net, dd) == (150.0, 350.0)
    assert sharpe == pytest.approx(30.0 / np.std(path[0], ddof=1) * math.sqrt(252))
    # uniforms near 1 make Fisher-Yates swap each position with itself: the given order
    r = np.array([2.0, -1.0, -1.5, 3.0])
    assert _shuffled_drawdowns(r, np.full((1, 3), 0.999999))[0] == pytest.approx(2.5)  # 2 -> -0.5


def test_kernels_match_plain_numpy() -> None:
    paths = block_bootstrap_paths(_daily(60), n_paths=30, block_days=3, rng=np.random.default_rng(0))
    stats = _path_stats(paths, math.sqrt(252))
    cum = np.cumsum(paths, axis=1)
    dd = (np.maximum(np.maximum.accumulate(cum, axis=1), 0.0) - cum).max(axis=1)
    np.testing.assert_allclose(stats[:, 0], paths.sum(axis=1))
    np.testing.assert_allclose(stats[:, 1], dd)
    np.testing.assert_allclose(stats[:, 2], paths.mean(1) / paths.std(1, ddof=1) * math.sqrt(252))
    # the shuffle is a permutation: same multiset per path
    r = _r(40)
    u = np.random.default_rng(3).random((20, 39))
    ref = []
    for row in u:  # plain-Python Durstenfeld shuffle
        x = list(r)
        for i in range(len(x) - 1, 0, -1):
            j = min(int(row[len(x) - 1 - i] * (i + 1)), i)
            x[i], x[j] = x[j], x[i]
        c = np.cumsum(x)
        ref.append(float((np.maximum(np.maximum.accumulate(c), 0.0) - c).max()))
    np.testing.assert_allclose(_shuffled_drawdowns(r, u), ref)


def test_paths_are_circular_blocks() -> None:
    x = np.arange(10.0)
    paths = block_bootstrap_paths(x, n_paths=50, block_days=3, rng=np.random.default_rng(0))
    assert paths.shape == (50, 10)
    for k in range(0, 10, 3):  # inside a block, day i is followed by day i + 1 (mod 10)
        block = paths[:, k : k + 3]
        assert ((np.diff(block, axis=1) % 10) == 1).all()
    rotations = block_bootstrap_paths(x, n_paths=20, block_days=99, rng=np.random.default_rng(0))  # clipped to 10
    assert all(sorted(row) == list(x) and ((np.diff(row) % 10) == 1).all() for row in rotations)
    assert monte_carlo(x, np.ones(2), **{**KW, "block_days": 99})["mc_block_days"] == 10.0


def test_blocks_keep_streaks_that_a_day_bootstrap_breaks() -> None:
    daily = np.tile(np.r_[np.full(20, 100.0), np.full(20, -100.0)], 5)  # 20-day winning and losing streaks
    long = monte_carlo(daily, np.ones(2), **{**KW, "block_days": 20})
    short = monte_carlo(daily, np.ones(2), **{**KW, "block_days": 1})
    assert long["mc_max_drawdown_p50"] >= 2 * short["mc_max_drawdown_p50"]


def test_ruin_is_zero_for_a_huge_limit_and_one_for_zero() -> None:
    huge = monte_carlo(_daily(), _r(), **{**KW, "ruin_drawdown": 1e12})
    assert huge["mc_risk_of_ruin"] == 0.0 and huge["mc_r_risk_of_ruin"] == 0.0
    zero = monte_carlo(_daily(), _r(), **{**KW, "ruin_drawdown": 0.0})
    assert zero["mc_risk_of_ruin"] == 1.0 and zero["mc_r_risk_of_ruin"] == 1.0
    tiny = monte_carlo(-np.abs(_daily()) - 1, -np.abs(_r()), **{**KW, "ruin_drawdown": 1e-9})
    assert tiny["mc_risk_of_ruin"] == 1.0 and tiny["mc_r_risk_of_ruin"] == 1.0


def test_r_total_is_the_sum_and_bands_end_at_the_net_pnl_percentiles() -> None:
    r = _r()
    out = monte_carlo(_daily(), r, **KW)
    assert out["mc_r_total_p50"] == pytest.approx(r.sum())
    bands = equity_bands(_daily(), n_paths=KW["n_paths"], block_days=KW["block_days"], seed=KW["seed"])
    last = bands.iloc[-1]
    assert (last["p5"], last["p50"], last["p95"]) == pytest.approx(
        (out["mc_net_pnl_p5"], out["mc_net_pnl_p50"], out["mc_net_pnl_p95"]))


@pytest.mark.parametrize("daily, r, nan_daily, nan_r", [
    (np.empty(0), np.empty(0), True, True),
    (np.array([50.0]), np.array([1.0, -1.0]), True, False),
    (np.array([50.0, -20.0]), np.empty(0), False, True),
])
def test_edge_cases_give_nan_not_exceptions(daily: np.ndarray, r: np.ndarray, nan_daily: bool, nan_r: bool) -> None:
    out = monte_carlo(daily, r, **KW)
    assert all(math.isnan(out[k]) == nan_daily for k in DAILY_KEYS)
    assert all(math.isnan(out[k]) == nan_r for k in R_KEYS)
    assert out["mc_paths"] == KW["n_paths"]
    assert len(equity_bands(daily, n_paths=10, block_days=5, seed=0)) == len(daily)


@pytest.mark.parametrize("bad, message", [
    ({"n_paths": 0}, "n_paths=0 must be >= 1"),
    ({"block_days": 0}, "block_days=0 must be >= 1"),
    ({"ruin_drawdown": -1.0}, "ruin_drawdown=-1.0 must be >= 0"),
    ({"risk_per_trade": 0.0}, "risk_per_trade=0.0 must be > 0"),
])
def test_bad_arguments_raise(bad: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monte_carlo(_daily(), _r(), **{**KW, **bad})
    if "n_paths" in bad or "block_days" in bad:
        with pytest.raises(ValueError, match=message):
            equity_bands(_daily(), **{**{k: KW[k] for k in ("n_paths", "block_days", "seed")}, **bad})


def test_config_rules_refuse_bad_robustness_values() -> None:
    check_config(compose_config(["+stage=2"]))
    for override in ("robustness.montecarlo.n_paths=0", "robustness.regimes.max_slice_share=1.5",
                     "robustness.montecarlo.ruin_drawdown=-5"):
        with pytest.raises(ConfigError, match=override.split("=")[0].replace(".", r"\.")):
            check_config(compose_config([override]))


def test_a_thousand_paths_take_a_few_milliseconds() -> None:
    daily, r = _daily(250), _r(500)
    kw = {**KW, "n_paths": 1000}
    monte_carlo(daily, r, **kw)  # compile / load the kernels
    times = []
    for _ in range(5):
        start = time.perf_counter()
        monte_carlo(daily, r, **kw)
        times.append(time.perf_counter() - start)
    assert min(times) < 0.05, f"{min(times) * 1000:.1f} ms"
