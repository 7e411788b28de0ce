"""``opt.backtest.report``: what a stage-2 trial run shows (#11.4): the equity curve against dates with
the folds marked, the trades as a CSV the MLflow UI previews, the per-fold table, the importance chart."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from opt.backtest.evaluate import WalkForwardResult
from opt.backtest.report import IMPORTANCE_TOP, equity_figure, write_walk_forward


def _trades(n_folds: int = 3, per_fold: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = n_folds * per_fold
    stamps = pd.date_range("2025-03-03 14:30", periods=n, freq="7h", tz="UTC")
    return pd.DataFrame({"fold": np.repeat(np.arange(n_folds), per_fold), "signal_bar": np.arange(n) * 400,
                         "timestamp": stamps, "exit_bar": np.arange(n) * 400 + 30, "pnl": rng.normal(10, 100, n),
                         "r_multiple": rng.normal(0.1, 1, n)})


def _result(trades: pd.DataFrame) -> WalkForwardResult:
    imp = [{f"feature_{i:02d}": float(i + k) for i in range(40)} for k in range(3)]
    days = pd.Series([100.0, 0.0, -40.0], index=[20150, 20151, 20152], name="daily_pnl")
    return WalkForwardResult(metrics={"net_pnl": float(trades["pnl"].sum()), "n_trades": float(len(trades))},
                             step_metrics={"sharpe": [0.5, -0.2, 1.1], "n_trades": [20.0, 20.0, 20.0]},
                             trades=trades, importances=imp, point_value=50.0, daily_pnl=days)


def test_walk_forward_files(tmp_path: Path) -> None:
    trades = _trades()
    write_walk_forward(_result(trades), tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"trades.parquet", "trades.csv", "equity_curve.png", "per_fold.csv", "feature_importance.json",
                     "feature_importance.png", "daily_pnl.parquet"}
    # the daily series the study's running PBO reads (opt.search.overfitting), days without trades included
    daily = pd.read_parquet(tmp_path / "daily_pnl.parquet")
    assert list(daily.columns) == ["trading_day", "daily_pnl"]
    assert daily["trading_day"].tolist() == [20150, 20151, 20152] and daily["daily_pnl"].tolist() == [100.0, 0.0, -40.0]
    csv = pd.read_csv(tmp_path / "trades.csv")
    assert len(csv) == len(trades) and set(csv.columns) == set(trades.columns)
    assert list(csv.columns[:4]) == ["fold", "timestamp", "pnl", "r_multiple"]  # what the UI preview shows first
    assert csv["pnl"].to_numpy() == pytest.approx(trades["pnl"].to_numpy(), rel=1e-5)
    per_fold = pd.read_csv(tmp_path / "per_fold.csv")
    assert list(per_fold.columns) == ["fold", "sharpe", "n_trades"] and per_fold["sharpe"].tolist() == [0.5, -0.2, 1.1]
    assert len(json.loads((tmp_path / "feature_importance.json").read_text())) == 40  # the JSON has them all
    for png in ("equity_curve.png", "feature_importance.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG" and (tmp_path / png).stat().st_size > 5000


def test_no_importances_no_chart(tmp_path: Path) -> None:
    result = _result(_trades())
    result.importances = []
    write_walk_forward(result, tmp_path)
    assert not (tmp_path / "feature_importance.png").exists() and (tmp_path / "trades.csv").exists()


def test_equity_is_drawn_against_dates_with_fold_starts() -> None:
    trades = _trades(n_folds=3)
    fig = equity_figure(trades)
    try:
        equity_ax, drawdown_ax = fig.axes
        (line,) = [ln for ln in equity_ax.get_lines() if len(ln.get_xdata()) > 2]
        x = np.asarray(line.get_xdata())
        assert np.issubdtype(x.dtype, np.datetime64), "the equity curve is drawn against dates"
        assert pd.Timestamp(x[-1]) == trades["timestamp"].iloc[-1].tz_convert(None)
        assert np.asarray(line.get_ydata())[-1] == pytest.approx(trades["pnl"].sum())
        fold_lines = [ln for ln in equity_ax.get_lines() if ln.get_linestyle() == "--"]
        assert len(fold_lines) == 3  # one per fold start
        assert sorted(t.get_text() for t in equity_ax.texts) == ["fold 0", "fold 1", "fold 2"]
        assert "date" in drawdown_ax.get_xlabel()
    finally:
        plt.close(fig)


def test_equity_without_timestamps_or_trades_falls_back_to_trade_number() -> None:
    for trades in (_trades().drop(columns=["timestamp"]), _trades().iloc[:0]):
        fig = equity_figure(trades)
        try:
            assert fig.axes[1].get_xlabel() == "trade"
        finally:
            plt.close(fig)


def test_importance_chart_shows_the_top_features(tmp_path: Path) -> None:
    from opt.backtest.report import plot_feature_importance

    imp = pd.Series({f"f{i}": float(i) for i in range(60)})
    plot_feature_importance(imp, tmp_path / "fi.png")
    assert (tmp_path / "fi.png").stat().st_size > 5000 and IMPORTANCE_TOP < 60
