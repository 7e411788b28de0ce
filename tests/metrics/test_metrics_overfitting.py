"""PSR, expected maximum Sharpe, DSR and CSCV PBO against worked numbers and constructed cases."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from opt.metrics import (
    EULER_GAMMA,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe_ratio,
)


def _phi(z: float) -> float:
    """Standard normal CDF via math.erf (independent of scipy)."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_psr_hand_computed() -> None:
    # SR 0.1 per period, T = 101, normal returns: z = 0.1 * 10 / sqrt(1 + 2/4 * 0.01)
    z = 0.1 * 10 / math.sqrt(1.005)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101, 0.0, 3.0) == pytest.approx(_phi(z), abs=1e-12)
    assert _phi(z) == pytest.approx(0.8407, abs=1e-4)
    assert probabilistic_sharpe_ratio(0.2, 0.2, 50, -1.0, 6.0) == pytest.approx(0.5)
    # negative skew and fat tails widen the SR estimate's error: less confidence in a positive SR
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101, -2.0, 9.0) < probabilistic_sharpe_ratio(
        0.1, 0.0, 101, 0.0, 3.0
    )
    with pytest.raises(ValueError):
        probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0)


def test_dsr_numerical_example_bailey_lopez_de_prado_2014() -> None:
    """The numerical example of "The Deflated Sharpe Ratio" (JPM 2014): best of N = 100 trials with
    annualized SR 2.5 over T = 1250 daily observations (5 years of 250 days), annualized V[SR] = 1/2,
    skewness -3, raw kurtosis 10. The paper reports SR0 ~ 0.1132 per day and DSR ~ 0.9004 (values as
    recalled from the paper; the independent closed form below is the tight check)."""
    sr, var_sr = 2.5 / math.sqrt(250), 0.5 / 250
    sr0 = expected_max_sharpe(100, var_sr)
    # independent of scipy: the standard library's normal quantile
    z_a, z_b = NormalDist().inv_cdf(0.99), NormalDist().inv_cdf(1 - 1 / (100 * math.e))
    assert sr0 == pytest.approx(math.sqrt(var_sr) * ((1 - EULER_GAMMA) * z_a + EULER_GAMMA * z_b), rel=1e-9)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0)
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    assert dsr == pytest.approx(_phi(z), abs=1e-12)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


@pytest.mark.parametrize("n_trials", [10, 100, 1000])
def test_expected_max_sharpe_matches_monte_carlo(n_trials: int) -> None:
    rng = np.random.default_rng(42)
    mc = rng.standard_normal((4000, n_trials)).max(axis=1).mean()
    # the closed form is an approximation of E[max of N normals]: within 3% for N >= 10
    assert expected_max_sharpe(n_trials, 1.0) == pytest.approx(mc, rel=0.03)
    assert expected_max_sharpe(n_trials, 4.0) == pytest.approx(2 * expected_max_sharpe(n_trials, 1.0))


def test_expected_max_sharpe_edges() -> None:
    assert expected_max_sharpe(1, 1.0) == 0.0
    with pytest.raises(ValueError):
        expected_max_sharpe(0, 1.0)
    with pytest.raises(ValueError):
        expected_max_sharpe(10, -1.0)


def test_deflated_sharpe_ratio_from_returns() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0.1, 1.0, 500)
    out = deflated_sharpe_ratio(returns, n_trials=50, var_trial_sr=0.002)
    sr = returns.mean() / returns.std(ddof=1)
    centred = returns - returns.mean()
    m2 = np.mean(centred**2)
    skew, kurt = np.mean(centred**3) / m2**1.5, np.mean(centred**4) / m2**2
    assert out["sharpe"] == pytest.approx(sr)
    assert out["skew"] == pytest.approx(skew) and out["kurtosis"] == pytest.approx(kurt)
    assert out["sr0"] == pytest.approx(expected_max_sharpe(50, 0.002))
    assert out["deflated_sharpe"] == pytest.approx(
        probabilistic_sharpe_ratio(sr, out["sr0"], 500, skew, kurt)
    )
    assert 0.0 <= out["deflated_sharpe"] < out["psr"] <= 1.0
    single = deflated_sharpe_ratio(returns, n_trials=1, var_trial_sr=0.002)
    assert single["deflated_sharpe"] == pytest.approx(single["psr"])


@pytest.mark.parametrize("var", [0.0, float("nan")])
def test_deflated_sharpe_ratio_without_trial_variance_is_not_the_psr(var: float) -> None:
    """Issue #9 C: no trial-Sharpe variance, no SR0 to deflate by: NaN, not PSR(0), whatever N."""
    returns = np.random.default_rng(7).normal(0.1, 1.0, 500)
    for n_trials in (1, 50):
        out = deflated_sharpe_ratio(returns, n_trials=n_trials, var_trial_sr=var)
        assert math.isnan(out["deflated_sharpe"]) and math.isnan(out["sr0"])
        assert 0.0 < out["psr"] <= 1.0 and out["n_obs"] == 500.0


def test_pbo_identical_skill_is_near_one_half() -> None:
    pbos = [
        pbo_cscv(np.random.default_rng(seed).normal(0.0, 1.0, (400, 20)), n_splits=8)["pbo"]
        for seed in range(20)
    ]
    assert 0.35 < float(np.mean(pbos)) < 0.65


def test_pbo_dominant_configuration_is_zero() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0, 1.0, (320, 6))
    returns[:, 2] = returns[:, :2].mean(axis=1) + np.tile([1.0, 3.0], 160)  # high mean, every block
    out = pbo_cscv(returns, n_splits=16)
    assert out["n_combinations"] == math.comb(16, 8) == out["logits"].size
    assert out["pbo"] == 0.0
    assert np.all(out["logits"] == pytest.approx(math.log(6 / 1)))


def test_pbo_in_sample_best_always_out_of_sample_worst_is_one() -> None:
    # Two configurations whose per-block mean difference sums to 0 with no zero subset sum: for every
    # half of the blocks, IS difference = -(OOS difference) != 0, so the IS winner is the OOS loser.
    block_diff = np.array([1.0, 2.0, 4.0, -7.0])
    a = np.repeat(block_diff, 5)
    returns = np.column_stack([a, np.zeros_like(a)])
    out = pbo_cscv(returns, n_splits=4, metric=lambda r: r.mean(axis=0))
    assert out["n_combinations"] == 6
    assert out["pbo"] == 1.0
    np.testing.assert_allclose(out["logits"], math.log((1 / 3) / (2 / 3)))


@pytest.mark.parametrize(("shape", "n_splits"), [((100, 1), 4), ((100, 3), 5), ((100, 3), 0), ((10, 3), 6)])
def test_pbo_rejects_bad_arguments(shape: tuple[int, int], n_splits: int) -> None:
    with pytest.raises(ValueError):
        pbo_cscv(np.zeros(shape), n_splits=n_splits)
