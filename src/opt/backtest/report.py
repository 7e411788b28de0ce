"""Backtest reports: the equity and drawdown plot and a walk-forward's files (trades, importances)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from opt.backtest.evaluate import WalkForwardResult

__all__ = ["plot_equity", "write_walk_forward"]


def plot_equity(trades: pd.DataFrame, path: Path, title: str = "walk-forward equity (net, currency)") -> Path:
    """Equity curve and drawdown of ``trades`` (net PnL, currency, in exit order) as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pnl = trades.sort_values("exit_bar", kind="stable")["pnl"].to_numpy(float) if len(trades) else np.zeros(1)
    equity = np.concatenate([[0.0], np.cumsum(pnl)])
    drawdown = equity - np.maximum.accumulate(equity)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 4.5), dpi=80, sharex=True, height_ratios=[3, 1])
    a1.plot(equity, color="#1f77b4")
    a1.set_ylabel("equity")
    a1.set_title(title)
    a2.fill_between(np.arange(len(drawdown)), drawdown, 0, color="#d62728", alpha=0.5)
    a2.set_ylabel("drawdown")
    a2.set_xlabel("trade")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_walk_forward(result: WalkForwardResult, folder: Path) -> None:
    """Write ``trades.parquet``, ``equity_curve.png`` and ``feature_importance.json`` (mean gain) into ``folder``."""
    result.trades.to_parquet(folder / "trades.parquet", index=False)
    plot_equity(result.trades, folder / "equity_curve.png")
    if result.importances:
        mean = pd.DataFrame(result.importances).fillna(0.0).mean().sort_values(ascending=False)
        (folder / "feature_importance.json").write_text(json.dumps(mean.round(6).to_dict(), indent=1))
