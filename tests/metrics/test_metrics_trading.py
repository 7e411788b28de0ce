"""Bracket-trading metrics (DESIGN §7) on a hand-computed trade list."""

from __future__ import annotations

import math

import numpy as np
import pytest

from opt.metrics import PROFIT_FACTOR_CAP, daily_pnl, drawdown_curve, equity_curve, trading_metrics

PNL = np.array([100.0, -50.0, -30.0, 80.0, -120.0, 40.0])
DAYS = np.arange(1, 6, dtype=np.int64)


def _metrics(pnl: np.ndarray = PNL, exit_day: np.ndarray | None = None, **kw: object) -> dict[str, float]:
    n = pnl.size
    return trading_metrics(
        pnl=pnl,
        r_multiple=kw.get("r", np.zeros(n)),
        hit_target=kw.get("hit", pnl > 0),
        exit_day=np.array([1, 1, 2, 4, 4, 5], dtype=np.int64) if exit_day is None else exit_day,
        trading_days=kw.get("days", DAYS),
    )


def test_trading_metrics_by_hand() -> None:
    r = np.array([2.0, -1.0, -1.0, 1.6, -1.0, 0.8])
    m = _metrics(r=r)
    assert m["net_pnl"] == pytest.approx(20.0)
    assert m["n_trades"] == 6.0
    assert m["win_rate"] == pytest.approx(0.5)
    assert m["target_hit_rate"] == pytest.approx(0.5)
    assert m["expectancy_r"] == pytest.approx(1.4 / 6)
    assert m["profit_factor"] == pytest.approx(220 / 200)
    # equity 0, 100, 50, 20, 100, -20, 20: peak 100 -> trough -20
    assert m["max_drawdown"] == pytest.approx(120.0)
    # daily 50, -30, 0 (no trade), -40, 40: mean 4, sample variance 6520 / 4
    assert m["sharpe"] == pytest.approx(4 / math.sqrt(1630) * math.sqrt(252))


def test_win_rate_counts_net_pnl_and_target_hit_rate_counts_take_profits() -> None:
    # trade 1 hits take-profit but costs leave it at -2; trade 3 is a time exit with +30; trade 4 is a
    # stop-out that gapped in the trade's favour (+5): 2 of 4 hit the target, 3 of 4 made money
    pnl = np.array([-2.0, 50.0, 30.0, 5.0])
    hit = np.array([True, True, False, False])
    m = _metrics(pnl, exit_day=np.array([1, 2, 3, 4]), hit=hit)
    assert m["win_rate"] == pytest.approx(3 / 4)
    assert m["target_hit_rate"] == pytest.approx(2 / 4)


def test_curves_and_daily_pnl() -> None:
    np.testing.assert_allclose(equity_curve(PNL), [0, 100, 50, 20, 100, -20, 20])
    np.testing.assert_allclose(drawdown_curve(equity_curve([-10.0, 5.0])), [0, 10, 5])
    np.testing.assert_allclose(
        daily_pnl(PNL, np.array([1, 1, 2, 4, 4, 5]), np.repeat(DAYS, 3)), [50, -30, 0, -40, 40]
    )
    with pytest.raises(ValueError, match="exit days"):
        daily_pnl(np.array([1.0]), np.array([9]), DAYS)


def test_no_trades_is_all_zero_and_finite() -> None:
    m = _metrics(np.empty(0), exit_day=np.empty(0, np.int64))
    assert m == {k: 0.0 for k in m}


def test_profit_factor_edges() -> None:
    only_wins = np.array([10.0, 5.0])
    assert _metrics(only_wins, exit_day=np.array([1, 2]))["profit_factor"] == PROFIT_FACTOR_CAP
    assert _metrics(-only_wins, exit_day=np.array([1, 2]))["profit_factor"] == 0.0
    assert _metrics(np.array([1e6, -1e-3]), exit_day=np.array([1, 2]))["profit_factor"] == PROFIT_FACTOR_CAP


def test_sharpe_degenerate_cases() -> None:
    one_day = _metrics(np.array([10.0, -5.0]), exit_day=np.array([3, 3]), days=np.array([3]))
    assert one_day["sharpe"] == 0.0
    flat = _metrics(np.array([10.0, 10.0]), exit_day=np.array([1, 2]), days=np.array([1, 2]))
    assert flat["sharpe"] == 0.0
    assert flat["max_drawdown"] == 0.0


# Overlapping trades (max_positions > 1), in signal order: the first exits after the second.
SIGNAL_ORDER_PNL = np.array([-80.0, 100.0, -50.0])
SIGNAL_ORDER_EXIT_BAR = np.array([20, 10, 30], dtype=np.int64)


def test_max_drawdown_follows_exit_order() -> None:
    """Signal order: equity 0, -80, 20, -30 (drawdown 80); exit order 100, -80, -50: 0, 100, 20, -30 (130)."""
    days = np.array([1, 1, 1], dtype=np.int64)
    m = trading_metrics(pnl=SIGNAL_ORDER_PNL, r_multiple=np.zeros(3), hit_target=SIGNAL_ORDER_PNL > 0,
                        exit_day=days, trading_days=days, exit_bar=SIGNAL_ORDER_EXIT_BAR)  # fmt: skip
    assert m["max_drawdown"] == pytest.approx(130.0)
    assert m["net_pnl"] == pytest.approx(-30.0)


def test_max_drawdown_ties_keep_input_order() -> None:
    """Same exit bar: the input order stands (stable), 0, -50, 50, -30 -> 80 (not 100 - 80 - 50 -> 130)."""
    pnl = np.array([-50.0, 100.0, -80.0])
    days = np.array([1, 1, 1], dtype=np.int64)
    m = trading_metrics(pnl=pnl, r_multiple=np.zeros(3), hit_target=pnl > 0, exit_day=days, trading_days=days,
                        exit_bar=np.array([7, 7, 7], dtype=np.int64))  # fmt: skip
    assert m["max_drawdown"] == pytest.approx(80.0)


def test_walk_forward_combination_measures_drawdown_in_exit_order() -> None:
    """The walk-forward trade table is in signal order; its combined max_drawdown is in exit order."""
    from types import SimpleNamespace

    import pandas as pd

    from opt.backtest.evaluate import CLASSIFICATION_KEYS, _combined

    trades = pd.DataFrame({"pnl": SIGNAL_ORDER_PNL, "r_multiple": np.zeros(3),
                           "exit_reason": np.zeros(3, np.int8), "exit_bar": SIGNAL_ORDER_EXIT_BAR})  # fmt: skip
    ctx = SimpleNamespace(calendar=SimpleNamespace(trading_day=np.repeat(np.array([1, 2], np.int64), 20)))
    folds = [SimpleNamespace(eval_start_bar=0, eval_end_bar=40)]
    per_fold = {k: [0.5] for k in (*CLASSIFICATION_KEYS, "n_trades")}
    out = _combined(trades, per_fold, ctx, folds)  # type: ignore[arg-type]
    assert out["max_drawdown"] == pytest.approx(130.0)
