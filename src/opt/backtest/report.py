"""Backtest reports: the equity and drawdown plot and a walk-forward's files (trades, importances, folds).

What a stage-2 trial run shows in the MLflow UI (files written by :func:`write_walk_forward`):

* ``equity_curve.png``: net equity and drawdown against the trades' dates, each walk-forward fold's
  start marked;
* ``trades.csv`` (previewed as a table by the UI) and ``trades.parquet`` (typed, read by ``opt promote``);
* ``daily_pnl.parquet``: net PnL per trading day of the evaluated folds (``trading_day``, days since
  1970-01-01; ``daily_pnl``, currency; 0 on days without an exit): the series the pooled Sharpe ratio,
  the deflated Sharpe ratio and the study's PBO read;
* ``per_fold.csv``: one row per walk-forward fold, one column per span metric (the per-fold series,
  apart from the run's summary metrics);
* ``feature_importance.png`` (bar chart) and ``feature_importance.json``: mean XGBoost gain over the folds;
* ``confusion_matrix.csv``: labels (rows) x calls at the confidence (columns, ``no_call`` last), summed
  over the folds (:mod:`opt.metrics.per_class`);
* ``gradcam/fold<k>_break.png``, ``gradcam/fold<k>_bounce.png``: the CNN's Grad-CAM of fold k's most
  confident calls (:mod:`opt.backtest.insight`; none for XGBoost).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opt.backtest.evaluate import WalkForwardResult
from opt.backtest.insight import write_confusion, write_gradcam
from opt.metrics.per_class import pooled_confusion

__all__ = ["plot_equity", "equity_figure", "plot_feature_importance", "write_walk_forward", "IMPORTANCE_TOP"]

IMPORTANCE_TOP = 25  # features shown in the importance chart (the JSON has them all)
#: the columns trades.csv starts with (what the UI's preview shows first); the others follow
CSV_FIRST = ("fold", "timestamp", "call", "direction", "proba", "entry_price", "exit_price", "pnl", "r_multiple",
             "exit_reason_name", "contracts")


def _dates(trades: pd.DataFrame) -> pd.Series | None:
    """The trades' timestamps (UTC) when every trade has one, else None (the x axis is then the trade number)."""
    if "timestamp" not in trades or not len(trades):
        return None
    stamps = pd.to_datetime(trades["timestamp"], utc=True, errors="coerce")
    return None if stamps.isna().any() else stamps


def plot_equity(trades: pd.DataFrame, path: Path, title: str = "walk-forward equity (net, currency)") -> Path:
    """Equity curve and drawdown of ``trades`` as a PNG at ``path``; return ``path``.

    Args:
        trades: one row per filled trade with ``exit_bar`` (int, for the order) and ``pnl`` (net,
            currency); optionally ``timestamp`` (the trade's signal time; then the x axis is the date)
            and ``fold`` (walk-forward fold; each fold's first trade is marked with a dashed line).
            May be empty (a flat line).
        path: where to write the PNG.
        title: the plot's title.
    """
    import matplotlib.pyplot as plt

    fig = equity_figure(trades, title)
    fig.savefig(path)
    plt.close(fig)
    return path


def equity_figure(trades: pd.DataFrame, title: str = "walk-forward equity (net, currency)") -> Any:
    """The matplotlib figure of :func:`plot_equity` (two axes: equity, drawdown); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = trades.sort_values("exit_bar", kind="stable") if len(trades) else trades
    pnl = ordered["pnl"].to_numpy(float) if len(ordered) else np.zeros(0)
    dates = _dates(ordered)
    equity = np.concatenate([[0.0], np.cumsum(pnl)])
    drawdown = equity - np.maximum.accumulate(equity)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 5), dpi=80, sharex=True, height_ratios=[3, 1])
    x: np.ndarray
    if dates is not None:
        x = pd.DatetimeIndex(dates.dt.tz_convert(None)).to_numpy()
        x = np.concatenate([[x[0]], x])  # equity starts at 0 on the first trade's date
        a1.step(x, equity, where="post", color="#1f77b4")
        a2.fill_between(x, drawdown, 0, step="post", color="#d62728", alpha=0.5)
        a2.set_xlabel("date (UTC, trade signal time)")
        fig.autofmt_xdate()
    else:
        x = np.arange(len(equity))
        a1.plot(x, equity, color="#1f77b4")
        a2.fill_between(x, drawdown, 0, color="#d62728", alpha=0.5)
        a2.set_xlabel("trade")
    if "fold" in ordered and len(ordered):  # each fold's first trade (a fold without trades has no mark)
        starts = ordered.reset_index(drop=True).groupby("fold", sort=True).head(1)
        for pos, fold in zip(starts.index, starts["fold"], strict=True):
            at = x[pos + 1] if dates is not None else pos + 1
            for ax in (a1, a2):
                ax.axvline(at, color="#7f7f7f", linestyle="--", linewidth=0.9)
            a1.annotate(f"fold {int(fold)}", (at, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, color="#555555")
    a1.axhline(0.0, color="#999999", linewidth=0.6)
    a1.set_ylabel("equity (currency)")
    a1.set_title(f"{title}: {len(pnl)} trades, net {equity[-1]:,.0f}")
    a1.grid(alpha=0.3)
    a2.set_ylabel("drawdown")
    a2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_feature_importance(importance: pd.Series, path: Path, title: str = "feature importance (mean gain)") -> Path:
    """Horizontal bars of the :data:`IMPORTANCE_TOP` largest values of ``importance`` (feature -> value); return ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = importance.sort_values(ascending=False).head(IMPORTANCE_TOP)[::-1]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(top) + 1.2)), dpi=80)
    ax.barh([str(i) for i in top.index], top.to_numpy(float), color="#1f77b4")
    shown = f"top {len(top)} of {len(importance)}" if len(top) < len(importance) else f"{len(top)} features"
    ax.set_title(f"{title}, {shown}")
    ax.set_xlabel("importance")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_walk_forward(result: WalkForwardResult, folder: Path) -> None:
    """Write a walk-forward's files into ``folder`` (module docstring).

    ``trades.parquet``, ``trades.csv``, ``equity_curve.png``, ``daily_pnl.parquet`` and ``per_fold.csv`` always;
    ``feature_importance.json`` and ``feature_importance.png`` when the model reports importances;
    ``confusion_matrix.csv`` when the result has per-fold matrices; ``gradcam/fold<k>_<class>.png`` for a CNN.
    """
    result.trades.to_parquet(folder / "trades.parquet", index=False)
    first = [c for c in CSV_FIRST if c in result.trades.columns]
    result.trades[first + [c for c in result.trades.columns if c not in first]].to_csv(
        folder / "trades.csv", index=False, float_format="%.6g")
    plot_equity(result.trades, folder / "equity_curve.png")
    daily = result.daily_pnl.rename("daily_pnl").rename_axis("trading_day").reset_index()
    daily.to_parquet(folder / "daily_pnl.parquet", index=False)
    if result.step_metrics:
        per_fold = pd.DataFrame(result.step_metrics)
        per_fold.insert(0, "fold", range(len(per_fold)))
        per_fold.to_csv(folder / "per_fold.csv", index=False, float_format="%.6g")
    if result.importances:
        mean = pd.DataFrame(result.importances).fillna(0.0).mean().sort_values(ascending=False)
        (folder / "feature_importance.json").write_text(json.dumps(mean.round(6).to_dict(), indent=1))
        plot_feature_importance(mean, folder / "feature_importance.png")
    if result.confusion:
        write_confusion(pooled_confusion(result.confusion), folder / "confusion_matrix.csv")
    for fold, maps in result.gradcam.items():
        write_gradcam(maps, folder, f"fold{fold}", title=f"fold {fold}")
