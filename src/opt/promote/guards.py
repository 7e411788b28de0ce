"""Overfitting guards of ``promote`` (DESIGN §9): deflated Sharpe ratio and PBO over the searched trials.

Units. Every Sharpe ratio here is per trading day: the stage-2 ``sharpe`` metric is annualized
(``sqrt(252) x mean / std`` of daily PnL, :func:`opt.metrics.trading_metrics`), so the trials' Sharpe
ratios are divided by ``sqrt(252)`` before their variance enters the deflated Sharpe ratio, whose
returns are daily PnL in currency (a day without a trade counts 0).

- Deflated Sharpe ratio (D. H. Bailey and M. Lopez de Prado, "The Deflated Sharpe Ratio: Correcting
  for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5),
  2014): ``DSR = PSR(SR0)``, ``SR0 = sqrt(V) x ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))`` with
  ``N`` the configurations tried and ``V`` the variance of their (per-day) Sharpe ratios
  (:func:`opt.metrics.deflated_sharpe_ratio`). It is computed for the selected trial's walk-forward
  daily PnL (the backtest the selection was made on, the paper's setting) and for the test part's.
  Not computable (NaN, with a reason; a gate on it fails) when ``V`` is 0 or unknown (fewer than 2
  finite trial Sharpe ratios): without ``V`` there is nothing to deflate by, and the DSR is never the
  PSR. DSR and PSR both need ``promote.dsr.min_days`` daily observations (DESIGN §10).
- Probability of backtest overfitting by CSCV (D. H. Bailey, J. M. Borwein, M. Lopez de Prado and
  Q. J. Zhu, "The Probability of Backtest Overfitting", Journal of Computational Finance 20(4), 2017):
  the daily PnL of the top-K stage-2 trials on the common walk-forward days form the ``(T, K)``
  matrix, cut into ``S`` blocks (:func:`opt.metrics.pbo_cscv`, Sharpe ratio as the metric).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from opt.metrics import daily_pnl, deflated_sharpe_ratio, pbo_cscv
from opt.schema import TRADING_DAYS_PER_YEAR

__all__ = ["PERIODS_PER_YEAR", "per_day_sharpe", "trial_daily_pnl", "Dsr", "dsr", "cscv_splits", "pbo"]

PERIODS_PER_YEAR = TRADING_DAYS_PER_YEAR
"""Trading days per year in the annualized ``sharpe`` metric (:data:`opt.schema.TRADING_DAYS_PER_YEAR`)."""


def per_day_sharpe(annualized: np.ndarray) -> np.ndarray:
    """Per-day Sharpe ratios from annualized ones: ``SR_day = SR_year / sqrt(252)``."""
    return np.asarray(annualized, dtype=np.float64) / math.sqrt(PERIODS_PER_YEAR)


def trial_daily_pnl(trades: pd.DataFrame, day_of_bar: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Daily PnL (currency) of one trial's trades on ``days``, 0 on days without an exit.

    Args:
        trades: rows with ``exit_bar`` (bar index) and ``pnl`` (currency), e.g. a trial's trades.parquet.
        day_of_bar: int64 ``(n_bars,)`` trading day of every bar.
        days: int64 ``(T,)`` trading days of the span, ascending.

    Returns:
        float64 ``(T,)``.

    Raises:
        ValueError: a trade exits outside ``days``.
    """
    exit_bar = trades["exit_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    pnl = trades["pnl"].to_numpy(np.float64) if len(trades) else np.empty(0)
    return daily_pnl(pnl, day_of_bar[exit_bar], days)


class Dsr(NamedTuple):
    """:func:`dsr`'s answer."""

    values: dict[str, float]
    """``deflated_sharpe``, ``psr``, ``sharpe``, ``sr0``, ``skew``, ``kurtosis``, ``n_obs``, ``n_trials``,
    ``var_trial_sharpe``; NaN where not computable."""
    reasons: dict[str, str]
    """Why, for each of ``deflated_sharpe`` and ``psr`` that is not computable (absent when computed)."""


def dsr(daily: np.ndarray, *, n_trials: int, trial_sharpes: np.ndarray, min_days: int) -> Dsr:
    """Deflated Sharpe ratio of daily PnL ``daily`` given the trials tried (module docstring).

    Args:
        daily: float64 ``(T,)`` daily PnL of the selected strategy.
        n_trials: configurations tried ``N`` (>= 1).
        trial_sharpes: ANNUALIZED Sharpe ratios of the trials (converted to per day here; non-finite
            ones dropped); their sample variance (ddof=1) is ``V``, unknown with fewer than 2.
        min_days: ``promote.dsr.min_days``: fewest daily observations ``T`` for DSR and PSR (>= 2).

    Returns:
        :class:`Dsr`. ``deflated_sharpe`` (and ``sr0``) NaN when ``V`` is 0 or unknown; ``deflated_sharpe``
        and ``psr`` NaN when ``T < min_days``; ``sharpe``, ``skew``, ``kurtosis`` NaN when ``T < 2``.
        ``var_trial_sharpe`` (per day squared) is NaN when unknown.

    Raises:
        ValueError: ``min_days < 2``.
    """
    if isinstance(min_days, bool) or not isinstance(min_days, int | np.integer) or min_days < 2:
        raise ValueError(f"promote.dsr.min_days must be an integer >= 2 (a Sharpe ratio needs 2 days), got "
                         f"{min_days!r}")
    per_day = per_day_sharpe(trial_sharpes)
    per_day = per_day[np.isfinite(per_day)]
    var = float(np.var(per_day, ddof=1)) if per_day.size >= 2 else math.nan
    reasons: dict[str, str] = {}
    if per_day.size < 2:
        reasons["deflated_sharpe"] = (f"trial-Sharpe variance unknown ({per_day.size} stage-2 trial(s) with a "
                                      "Sharpe ratio, 2 needed)")
    elif np.ptp(per_day) == 0:
        var = 0.0
        reasons["deflated_sharpe"] = f"trial-Sharpe variance is 0 (all {per_day.size} stage-2 Sharpe ratios equal)"
    n_obs = len(daily)
    if n_obs < min_days:
        few = f"{n_obs} daily observations, promote.dsr.min_days={min_days} needed"
        reasons["deflated_sharpe"] = "; ".join(filter(None, (few, reasons.get("deflated_sharpe"))))
        reasons["psr"] = few
    extra = {"n_trials": float(n_trials), "var_trial_sharpe": var}
    if n_obs < 2:
        keys = ("deflated_sharpe", "psr", "sharpe", "sr0", "skew", "kurtosis")
        return Dsr({**{k: math.nan for k in keys}, "n_obs": float(n_obs), **extra}, reasons)
    # V unknown (NaN) or 0: the DSR and SR0 come back NaN; too few days: the values are dropped below
    values = deflated_sharpe_ratio(np.asarray(daily, float), n_trials=max(1, n_trials), var_trial_sr=var)
    for key in reasons:
        values[key] = math.nan
    return Dsr({**values, **extra}, reasons)


def cscv_splits(n_obs: int, max_splits: int) -> int:
    """Blocks ``S`` for CSCV: the largest even number <= ``max_splits`` with >= 2 rows per block; 0 if none.

    Bailey et al. (2017) use ``S = 16``; fewer days force fewer (and so coarser) blocks.
    """
    s = min(int(max_splits), n_obs // 2)
    s -= s % 2
    return s if s >= 2 else 0


def pbo(matrix: np.ndarray, *, max_splits: int) -> dict[str, float]:
    """PBO by CSCV of a ``(T, K)`` daily PnL matrix (module docstring).

    Returns:
        ``pbo`` (NaN when ``K < 2`` or ``T < 4``: not computable), ``pbo_splits`` (S),
        ``pbo_combinations``, ``pbo_trials`` (K), ``pbo_days`` (T), ``pbo_logit_median``.
    """
    n_obs, k = matrix.shape
    s = cscv_splits(n_obs, max_splits)
    out = {"pbo_splits": float(s), "pbo_trials": float(k), "pbo_days": float(n_obs)}
    if k < 2 or s == 0:
        return {"pbo": math.nan, "pbo_combinations": 0.0, "pbo_logit_median": math.nan, **out}
    res = pbo_cscv(matrix, n_splits=s)
    return {"pbo": float(res["pbo"]), "pbo_combinations": float(res["n_combinations"]),
            "pbo_logit_median": float(np.median(res["logits"])), **out}
