"""Promote-level DSR and PBO: unit conversion of the trials' Sharpe ratios, CSCV block choice, worked numbers."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from opt.metrics import EULER_GAMMA, pbo_cscv
from opt.promote.guards import cscv_splits, dsr, pbo, per_day_sharpe, trial_daily_pnl


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_annualized_trial_sharpes_are_converted_to_per_day() -> None:
    np.testing.assert_allclose(per_day_sharpe(np.array([math.sqrt(252), -2 * math.sqrt(252)])), [1.0, -2.0])


def test_dsr_worked_example_with_annualized_trial_sharpes() -> None:
    """The setting of Bailey & Lopez de Prado (2014): N = 100 trials, per-day V[SR] = 0.5 / 250, T = 1250
    days, selected per-day SR = 2.5 / sqrt(250); here with two-point returns (skew 0, raw kurtosis 1)
    and the trials' Sharpe ratios given ANNUALIZED (sqrt 252) as stage 2 logs them."""
    T, sr_day, var_day = 1250, 2.5 / math.sqrt(250), 0.5 / 250
    # two-point returns mu +/- s: per-day SR = mu / (s sqrt(T / (T - 1)))
    s = 1.0
    mu = sr_day * s * math.sqrt(T / (T - 1))
    daily = mu + s * np.tile([1.0, -1.0], T // 2)
    a = math.sqrt(var_day * 252 / 2)  # sample variance (ddof=1) of [a, -a] is 2 a^2, annualized
    result = dsr(daily, n_trials=100, trial_sharpes=np.array([a, -a]), min_days=20)
    out = result.values
    assert result.reasons == {}
    assert out["sharpe"] == pytest.approx(sr_day, rel=1e-12)
    assert out["var_trial_sharpe"] == pytest.approx(var_day, rel=1e-12)
    z_a, z_b = NormalDist().inv_cdf(0.99), NormalDist().inv_cdf(1 - 1 / (100 * math.e))
    sr0 = math.sqrt(var_day) * ((1 - EULER_GAMMA) * z_a + EULER_GAMMA * z_b)
    assert out["sr0"] == pytest.approx(sr0, rel=1e-9) and sr0 == pytest.approx(0.1132, abs=5e-5)
    assert out["skew"] == pytest.approx(0.0, abs=1e-9) and out["kurtosis"] == pytest.approx(1.0, abs=1e-9)
    expected = _phi((sr_day - sr0) * math.sqrt(T - 1))  # variance term 1 - 0 + (1 - 1) / 4 SR^2 = 1
    assert out["deflated_sharpe"] == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.9437, abs=5e-4)
    assert out["psr"] > out["deflated_sharpe"]  # deflating for 100 trials lowers the confidence


def test_dsr_edges() -> None:
    # one trial: no trial-Sharpe variance, so not computable (it used to fall back to the PSR; issue #9 C)
    rng = np.random.default_rng(1)
    daily = rng.normal(0.2, 1.0, 60)
    one = dsr(daily, n_trials=1, trial_sharpes=np.array([1.3]), min_days=20)
    assert math.isnan(one.values["sr0"]) and math.isnan(one.values["deflated_sharpe"])
    assert 0.0 < one.values["psr"] <= 1.0 and set(one.reasons) == {"deflated_sharpe"}
    single_day = dsr(np.array([5.0]), n_trials=10, trial_sharpes=np.array([1.0, 2.0, 3.0]), min_days=20)
    assert math.isnan(single_day.values["deflated_sharpe"]) and math.isnan(single_day.values["sharpe"])
    assert set(single_day.reasons) == {"deflated_sharpe", "psr"}


@pytest.mark.parametrize(("n_obs", "max_splits", "expected"), [(40, 16, 16), (19, 16, 8), (33, 16, 16), (5, 16, 2),
                                                                 (3, 16, 0), (100, 10, 10), (100, 9, 8)])
def test_cscv_splits_fit_the_days(n_obs: int, max_splits: int, expected: int) -> None:
    assert cscv_splits(n_obs, max_splits) == expected


def test_pbo_uses_the_fitted_blocks_and_reports_not_computable() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(0, 1, (19, 4))
    out = pbo(matrix, max_splits=16)
    ref = pbo_cscv(matrix, n_splits=8)
    assert out["pbo"] == ref["pbo"] and out["pbo_splits"] == 8 and out["pbo_combinations"] == 70
    assert math.isnan(pbo(matrix[:, :1], max_splits=16)["pbo"])  # one trial
    assert math.isnan(pbo(matrix[:3], max_splits=16)["pbo"])  # 3 days: no 2 blocks of 2 days


def test_pbo_worked_cases() -> None:
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1, (32, 1))
    # a configuration that beats the others on every day: never overfit
    dominant = np.hstack([noise + 1.0, noise, noise - 0.5])
    assert pbo(dominant, max_splits=16)["pbo"] == 0.0
    # two configurations that take turns (A wins the first half, B the second): with S = 2 blocks the
    # in-sample winner is the out-of-sample loser in both combinations
    turns = np.zeros((32, 2))
    turns[:16, 0], turns[16:, 1] = 1.0 + noise[:16, 0] * 0.1, 1.0 + noise[16:, 0] * 0.1
    turns[:16, 1], turns[16:, 0] = -1.0 + noise[:16, 0] * 0.1, -1.0 + noise[16:, 0] * 0.1
    assert pbo(turns, max_splits=2)["pbo"] == 1.0


def test_trial_daily_pnl_sums_exits_per_day_with_zero_days() -> None:
    day_of_bar = np.repeat([10, 11, 12, 13], 5)
    trades = pd.DataFrame({"exit_bar": [0, 3, 12, 19], "pnl": [1.0, 2.0, -4.0, 0.5]})
    np.testing.assert_allclose(trial_daily_pnl(trades, day_of_bar, np.array([10, 11, 12, 13])), [3.0, 0.0, -4.0, 0.5])
    empty = trades.iloc[:0]
    np.testing.assert_allclose(trial_daily_pnl(empty, day_of_bar, np.array([10, 11])), [0.0, 0.0])
