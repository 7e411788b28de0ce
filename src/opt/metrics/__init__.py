"""Metrics logged to MLflow (DESIGN §7), the overfitting statistics of ``promote`` (DESIGN §9) and the
Monte Carlo bands of a walk-forward (DESIGN §10)."""

from __future__ import annotations

from opt.metrics.classification import (
    BOUNCE,
    BREAK,
    CHOP,
    N_CLASSES,
    knn_purity,
    label_shares,
    macro_auc,
    multiclass_brier,
    precision_coverage_at,
    silhouette,
)
from opt.metrics.composite import STAGE1_WEIGHT_KEYS, correlation_score, stage1_metrics, variance_score
from opt.metrics.montecarlo import MC_PERCENTILES, block_bootstrap_paths, equity_bands, monte_carlo
from opt.metrics.overfitting import (
    EULER_GAMMA,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)
from opt.metrics.trading import (
    PROFIT_FACTOR_CAP,
    daily_pnl,
    drawdown_curve,
    equity_curve,
    exit_order,
    trading_metrics,
)

__all__ = [
    "BREAK",
    "BOUNCE",
    "CHOP",
    "N_CLASSES",
    "EULER_GAMMA",
    "PROFIT_FACTOR_CAP",
    "STAGE1_WEIGHT_KEYS",
    "knn_purity",
    "silhouette",
    "precision_coverage_at",
    "macro_auc",
    "multiclass_brier",
    "label_shares",
    "correlation_score",
    "variance_score",
    "stage1_metrics",
    "equity_curve",
    "drawdown_curve",
    "daily_pnl",
    "exit_order",
    "trading_metrics",
    "sharpe_ratio",
    "probabilistic_sharpe_ratio",
    "expected_max_sharpe",
    "deflated_sharpe_ratio",
    "pbo_cscv",
    "MC_PERCENTILES",
    "block_bootstrap_paths",
    "monte_carlo",
    "equity_bands",
]
