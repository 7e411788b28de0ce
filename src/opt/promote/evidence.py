"""Robustness evidence of a promotion: Monte Carlo bands and regime slices of the test part (#13).

Computed from what the promotion already has (the test part's trades and daily PnL, the promoted
trial's walk-forward trades), with the search's settings (``robustness.montecarlo``,
``robustness.regimes``, :mod:`opt.metrics.montecarlo`, :mod:`opt.backtest.regimes`):

* ``mc_*`` promote metrics: the block bootstrap of the test part's daily PnL and the reshuffle of its
  trades' R-multiples (gates ``min_mc_net_pnl_p5``, ``max_mc_max_drawdown_p95``, ``max_mc_risk_of_ruin``);
* ``regime_*`` promote metrics of the test part, and one regime table of the walk-forward trades and
  the test trades (column ``part``), with a flag per part whose profit comes from one slice.

The walk-forward trades index bars of the search part, which is the first ``test_start`` bars of the
full data: the regime labels (causal) computed on all bars are the labels the search would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from opt.backtest.regimes import concentration, regime_labels, regime_metrics, regime_table
from opt.metrics.montecarlo import equity_bands, monte_carlo
from opt.promote.guards import trial_daily_pnl

if TYPE_CHECKING:
    from opt.promote.retrain import Retrained

__all__ = ["Evidence", "promotion_evidence"]


@dataclass
class Evidence:
    """Monte Carlo and regime evidence of a promotion.

    Attributes:
        metrics: ``mc_*`` and ``regime_*`` metrics of the test part.
        bands: ``day_index, p5, p50, p95``: cumulative equity percentiles of the test part's bootstrap, currency.
        regimes: rows ``part`` (walk_forward, test), ``kind``, ``slice``, ``n_trades``, ``win_rate``,
            ``expectancy_r`` (R), ``net_pnl`` (currency), ``share_of_net``.
        flags: ``"<part>: <slice> carries ..."`` for each part whose profit comes from one slice.
    """

    metrics: dict[str, float]
    bands: pd.DataFrame
    regimes: pd.DataFrame
    flags: list[str]


def promotion_evidence(cfg: DictConfig, r: Retrained, wf_trades: pd.DataFrame | None) -> Evidence:
    """Monte Carlo bands and regime slices of ``r``'s test part (and of the walk-forward trades when given).

    Args:
        cfg: the promoted configuration (``robustness``).
        r: the retrained champion and its test evaluation.
        wf_trades: the promoted trial's walk-forward trades (its ``trades.parquet``), or None.

    Raises:
        ConfigError: bad ``robustness`` settings.
    """
    mc = cfg.robustness.montecarlo
    sampling = {"n_paths": int(mc.n_paths), "block_days": int(mc.block_days), "seed": int(mc.seed)}
    trades = r.result.trades
    daily = trial_daily_pnl(trades, r.ctx.calendar.trading_day, r.test_days)
    r_mult = trades["r_multiple"].to_numpy(np.float64) if len(trades) else np.empty(0)
    metrics = monte_carlo(daily, r_mult, ruin_drawdown=float(mc.ruin_drawdown),
                          risk_per_trade=float(mc.risk_per_trade), **sampling)
    bands = equity_bands(daily, **sampling)
    labels = regime_labels(r.ctx, r.atr, cfg)
    max_share = float(cfg.robustness.regimes.max_slice_share)
    tables, flags = [], []
    for part, frame in (("walk_forward", wf_trades), ("test", trades)):
        if frame is None:
            continue
        table = regime_table(frame, labels)
        tables.append(table.assign(part=part))
        flag = concentration(table, max_share)
        if flag is not None:
            flags.append(f"{part}: {flag}")
        if part == "test":
            metrics.update(regime_metrics(table))
    regimes = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if len(regimes):
        regimes = regimes[["part", *[c for c in regimes.columns if c != "part"]]]
    return Evidence(metrics={k: float(v) for k, v in metrics.items()}, bands=bands, regimes=regimes, flags=flags)
