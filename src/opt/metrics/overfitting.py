"""Selection-bias and overfitting statistics used by ``promote`` (DESIGN §9).

- Probabilistic Sharpe ratio: D. H. Bailey and M. Lopez de Prado, "The Sharpe Ratio Efficient
  Frontier", Journal of Risk 15(2), 2012, eq. for PSR(SR*).
- Expected maximum Sharpe ratio of N trials and the deflated Sharpe ratio: D. H. Bailey and
  M. Lopez de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting
  and Non-Normality", Journal of Portfolio Management 40(5), 2014, pp. 94-107.
- Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV):
  D. H. Bailey, J. M. Borwein, M. Lopez de Prado and Q. J. Zhu, "The Probability of Backtest
  Overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2326253, 2013-2015).

All Sharpe ratios here are per period (not annualized): ``mean / std`` of per-period returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import combinations

import numpy as np
from scipy.stats import kurtosis as _kurtosis
from scipy.stats import norm
from scipy.stats import skew as _skew

__all__ = [
    "EULER_GAMMA",
    "sharpe_ratio",
    "probabilistic_sharpe_ratio",
    "expected_max_sharpe",
    "deflated_sharpe_ratio",
    "pbo_cscv",
]

EULER_GAMMA = 0.5772156649015329
"""Euler-Mascheroni constant."""


def sharpe_ratio(returns: np.ndarray) -> np.ndarray:
    """Per-period Sharpe ratio ``mean / std(ddof=1)`` along axis 0; 0 where the returns are constant.

    Args:
        returns: Per-period returns, shape ``(T,)`` or ``(T, N)``; ``T >= 2``.

    Returns:
        Sharpe ratios, shape ``returns.shape[1:]`` (a 0-d array for 1-d input).
    """
    returns = np.asarray(returns, dtype=np.float64)
    if returns.shape[0] < 2:
        raise ValueError(f"a Sharpe ratio needs at least 2 returns, got {returns.shape[0]}")
    mean = returns.mean(axis=0)
    centred = returns - mean
    std = np.sqrt(np.einsum("t...,t...->...", centred, centred) / (returns.shape[0] - 1))
    varies = returns.max(axis=0) > returns.min(axis=0)
    return np.divide(mean, std, out=np.zeros_like(mean), where=varies)


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (Bailey & Lopez de Prado 2012).

    ``PSR = Phi((sr - sr_benchmark) * sqrt(n_obs - 1) / sqrt(1 - skew * sr + (kurtosis - 1) / 4 * sr**2))``

    Args:
        sr: Observed per-period (NOT annualized) Sharpe ratio.
        sr_benchmark: Benchmark per-period Sharpe ratio ``SR*``.
        n_obs: Number of return observations ``T`` (>= 2).
        skew: Skewness of the returns (0 for normal).
        kurtosis: RAW (non-excess, Pearson) kurtosis of the returns: 3 for normal returns.

    Returns:
        Probability in ``[0, 1]``.

    Raises:
        ValueError: ``n_obs < 2`` or moments that make the variance term non-positive (impossible for
            real data, whose kurtosis is at least ``1 + skew**2``).
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2, got {n_obs}")
    var_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if not var_term > 0:
        raise ValueError(f"inconsistent moments: 1 - skew*sr + (kurtosis-1)/4*sr^2 = {var_term} <= 0")
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var_term)
    return float(norm.cdf(z))


def expected_max_sharpe(n_trials: int, var_sr: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios with true mean 0 (Bailey & Lopez de Prado 2014).

    ``E[max SR] ~= sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))``, ``g`` the
    Euler-Mascheroni constant, ``Z^-1`` the standard normal quantile: the false-positive threshold
    ``SR0`` of the deflated Sharpe ratio (the same approximation of the expected maximum of N
    independent normals is eq. in Bailey, Borwein, Lopez de Prado and Zhu 2014, "Pseudo-Mathematics
    and Financial Charlatanism", Notices of the AMS 61(5)).

    Args:
        n_trials: Number of independent trials ``N`` (>= 1); one trial has expected maximum 0.
        var_sr: Variance ``V`` of the trials' Sharpe ratios, in the unit of the result (per period
            for per-period Sharpe ratios).

    Returns:
        Expected maximum Sharpe ratio.

    Raises:
        ValueError: ``n_trials < 1`` or ``var_sr < 0``.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if var_sr < 0:
        raise ValueError(f"var_sr must be >= 0, got {var_sr}")
    if n_trials == 1:
        return 0.0
    g = EULER_GAMMA
    z = (1 - g) * norm.ppf(1 - 1 / n_trials) + g * norm.ppf(1 - 1 / (n_trials * math.e))
    return float(math.sqrt(var_sr) * z)


def deflated_sharpe_ratio(returns: np.ndarray, *, n_trials: int, var_trial_sr: float) -> dict[str, float]:
    """Deflated Sharpe ratio of the selected strategy (Bailey & Lopez de Prado 2014).

    ``DSR = PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials, var_trial_sr)``: the probability that
    the true Sharpe ratio is above what the best of ``n_trials`` skill-less trials would show. Skewness
    and raw kurtosis are the sample (biased, :mod:`scipy.stats`) moments of ``returns``.

    A variance ``var_trial_sr`` that is 0 or not finite (one trial measured, or all equal) gives no
    ``SR0`` to deflate by: ``deflated_sharpe`` and ``sr0`` are then NaN (not computable, DESIGN §10),
    never the PSR against 0.

    Args:
        returns: Per-period returns of the selected strategy, shape ``(T,)``, ``T >= 2``.
        n_trials: Number of (independent) configurations tried.
        var_trial_sr: Variance across trials of their PER-PERIOD Sharpe ratios (> 0 to deflate).

    Returns:
        ``deflated_sharpe`` (DSR, in ``[0, 1]``; NaN when ``var_trial_sr`` is 0 or not finite), ``sharpe``
        (per period), ``sr0`` (per period; NaN likewise), ``psr`` (PSR against 0), ``skew``, ``kurtosis``
        (raw) and ``n_obs``.
    """
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 1:
        raise ValueError(f"returns must have shape (T,), got {returns.shape}")
    sr = float(sharpe_ratio(returns))
    constant = np.ptp(returns) == 0
    skew = 0.0 if constant else float(_skew(returns))
    kurt = 3.0 if constant else float(_kurtosis(returns, fisher=False))
    deflates = math.isfinite(var_trial_sr) and var_trial_sr > 0
    sr0 = expected_max_sharpe(n_trials, var_trial_sr) if deflates else math.nan
    n = returns.size
    return {
        "deflated_sharpe": probabilistic_sharpe_ratio(sr, sr0, n, skew, kurt) if deflates else math.nan,
        "sharpe": sr,
        "sr0": sr0,
        "psr": probabilistic_sharpe_ratio(sr, 0.0, n, skew, kurt),
        "skew": skew,
        "kurtosis": kurt,
        "n_obs": float(n),
    }


def _oos_rank(perf: np.ndarray, k: int) -> float:
    """Rank of ``perf[k]`` among ``perf`` (1 = lowest; ties get their average rank, as ``rankdata``)."""
    below = np.count_nonzero(perf < perf[k])
    ties = np.count_nonzero(perf == perf[k])
    return below + (ties + 1) / 2


def pbo_cscv(
    returns: np.ndarray,
    *,
    n_splits: int = 16,
    metric: Callable[[np.ndarray], np.ndarray] = sharpe_ratio,
) -> dict[str, float | int | np.ndarray]:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado and Zhu 2017).

    The ``T`` rows are cut into ``S = n_splits`` contiguous blocks of equal size (the oldest
    ``T mod S`` rows are dropped). For each of the ``C(S, S/2)`` ways to pick ``S/2`` blocks as the
    in-sample (IS) set, the rest being out-of-sample (OOS): ``n* = argmax`` of the IS metric (first on a
    tie), ``w = rank of n* among the OOS metrics / (N + 1)`` (rank 1 = worst, ties averaged), logit
    ``lambda = ln(w / (1 - w))``. ``PBO`` is the share of combinations with ``lambda <= 0``, i.e. where
    the IS-best configuration is at or below the OOS median. Cost: ``2 C(S, S/2)`` metric calls on
    ``(T/2, N)`` slices (12,870 combinations for the default ``S = 16``).

    Args:
        returns: Per-period returns of ``N`` strategy configurations, shape ``(T, N)``.
        n_splits: Number of blocks ``S``: even, >= 2, at most ``T // 2`` (2 rows per block).
        metric: Performance of each column of a ``(t, N)`` slice, returning shape ``(N,)``; default
            :func:`sharpe_ratio`.

    Returns:
        ``pbo`` (float in ``[0, 1]``), ``logits`` (shape ``(C(S, S/2),)``), ``n_combinations`` (int).

    Raises:
        ValueError: ``returns`` not 2-d, ``N < 2``, or ``n_splits`` odd, < 2 or > ``T // 2``.
    """
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2:
        raise ValueError(f"returns must have shape (T, N), got {returns.shape}")
    n_obs, n_configs = returns.shape
    if n_configs < 2:
        raise ValueError(f"CSCV needs at least 2 strategy configurations, got N={n_configs}")
    if n_splits < 2 or n_splits % 2 or n_splits > n_obs // 2:
        raise ValueError(f"n_splits must be even, >= 2 and <= T // 2 = {n_obs // 2}, got {n_splits}")
    size = n_obs // n_splits
    blocks = returns[n_obs - size * n_splits :].reshape(n_splits, size, n_configs)
    logits = []
    for is_blocks in combinations(range(n_splits), n_splits // 2):
        oos_blocks = [b for b in range(n_splits) if b not in is_blocks]
        perf_is = metric(blocks[list(is_blocks)].reshape(-1, n_configs))
        perf_oos = metric(blocks[oos_blocks].reshape(-1, n_configs))
        w = _oos_rank(perf_oos, int(np.argmax(perf_is))) / (n_configs + 1)
        logits.append(math.log(w / (1 - w)))
    lam = np.asarray(logits)
    return {"pbo": float(np.mean(lam <= 0)), "logits": lam, "n_combinations": int(lam.size)}
