"""Regime slices (opt.backtest.regimes): causal per-bar labels, the trades table, metrics and the concentration flag."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pandas as pd
import pytest
from omegaconf import DictConfig, OmegaConf

from opt.backtest.regimes import (
    TABLE_COLUMNS,
    _efficiency_ratio,
    _volatility,
    concentration,
    concentration_from_metrics,
    regime_labels,
    regime_metrics,
    regime_table,
)
from opt.dataset import MarketContext, build_context
from opt.indicators import timeframe_atr
from opt.schema import TrialAttr

from tests.helpers.config import compose_config
from tests.helpers.dataset import default_cfg, garbage_after, load_es


def _cfg(lookback: int = 5, bars: int = 60, efficiency: float = 0.3) -> DictConfig:
    return OmegaConf.create({"robustness": {"regimes": {"vol_lookback_days": lookback, "efficiency_bars": bars,
                                                        "trend_efficiency": efficiency, "max_slice_share": 0.8}}})


# --- no look-ahead on the real ES file ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def es() -> tuple[pd.DataFrame, MarketContext]:
    bars = load_es()
    return bars, build_context(bars, default_cfg())




def _labels(ctx: MarketContext, minutes: int) -> pd.DataFrame:
    return regime_labels(ctx, timeframe_atr(ctx.bars, minutes, 14), _cfg())


def _assert_same_labels(got: pd.DataFrame, want: pd.DataFrame, where: str) -> None:
    assert list(got.columns) == list(want.columns) and len(got) == len(want), where
    for col in want.columns:  # categorical columns compared by categories and codes (fast on 75k rows)
        assert list(got[col].cat.categories) == list(want[col].cat.categories), (where, col)
        np.testing.assert_array_equal(got[col].cat.codes.to_numpy(), want[col].cat.codes.to_numpy(), err_msg=where)


def test_labels_at_or_before_t_ignore_the_bars_after_t(es: tuple[pd.DataFrame, MarketContext]) -> None:
    bars, full = es
    day = full.calendar.trading_day
    last_of_day = np.flatnonzero(np.diff(day) != 0)
    cuts = [int(last_of_day[12]), int(last_of_day[12]) + 1, int(last_of_day[-3]) + 700]  # a day's last, first, mid bar
    whole = {minutes: _labels(full, minutes) for minutes in (1, 15)}
    for t in cuts:
        for other in (build_context(bars.iloc[: t + 1], default_cfg()), build_context(garbage_after(bars, t), default_cfg())):
            for minutes, labels in whole.items():
                known = labels.iloc[: t + 1]
                assert {"low", "mid", "high"} <= set(known["volatility"]) and {"trend", "range"} <= set(known["trend"])
                _assert_same_labels(_labels(other, minutes).iloc[: t + 1], known, f"t={t} {minutes}m")


def test_label_arrays_are_causal_at_many_cuts(es: tuple[pd.DataFrame, MarketContext]) -> None:
    """The efficiency ratio and volatility codes themselves (a one-bar leak may not flip a label at 3 cuts)."""
    _, ctx = es
    close, day, minute = ctx.close, ctx.calendar.trading_day, ctx.calendar.minutes_since_rth_open
    atr = timeframe_atr(ctx.bars, 5, 14)
    er, vol = _efficiency_ratio(close, 60), _volatility(day, minute, atr, 5)
    rng = np.random.default_rng(1)
    for t in rng.integers(0, ctx.n_bars - 1, 25):
        noise = rng.uniform(1.0, 1e4, ctx.n_bars - t - 1)
        np.testing.assert_array_equal(_efficiency_ratio(close[: t + 1], 60), er[: t + 1])
        np.testing.assert_array_equal(_efficiency_ratio(np.r_[close[: t + 1], noise], 60)[: t + 1], er[: t + 1])
        np.testing.assert_array_equal(_volatility(day[: t + 1], minute[: t + 1], atr[: t + 1], 5), vol[: t + 1])
        np.testing.assert_array_equal(_volatility(day, minute, np.r_[atr[: t + 1], noise], 5)[: t + 1], vol[: t + 1])


def test_es_labels_match_a_plain_reference(es: tuple[pd.DataFrame, MarketContext]) -> None:
    _, ctx = es
    atr = timeframe_atr(ctx.bars, 5, 14)
    labels = regime_labels(ctx, atr, _cfg(lookback=5, bars=30))
    cal, close = ctx.calendar, ctx.close
    days = np.unique(cal.trading_day)
    rng = np.random.default_rng(0)
    for t in rng.integers(30, ctx.n_bars, 40):
        path = sum(abs(close[i] - close[i - 1]) for i in range(t - 29, t + 1))
        er = abs(close[t] - close[t - 30]) / path if path > 0 else 0.0
        assert labels["trend"][t] == ("trend" if er >= 0.3 else "range")
        d = int(np.searchsorted(days, cal.trading_day[t]))
        ref = []
        for prev in days[max(0, d - 5) : d]:  # ATR at the same minute (or the last bar before it) on each earlier day
            rows = np.flatnonzero((cal.trading_day == prev) & (cal.minutes_since_rth_open <= cal.minutes_since_rth_open[t]))
            ref.append(atr[rows[-1]] if rows.size else np.nan)
        if d < 5 or not np.isfinite(ref).all() or not np.isfinite(atr[t]):
            assert labels["volatility"][t] == "unknown"
            continue
        lo, hi = np.percentile(ref, (100 / 3, 200 / 3))
        assert labels["volatility"][t] == ("low" if atr[t] < lo else "high" if atr[t] > hi else "mid")
    assert labels["session"].tolist() == np.where(cal.is_rth, "rth", "overnight").tolist()
    assert set(labels["weekday"]) <= {"mon", "tue", "wed", "thu", "fri"}


def test_volatility_by_hand_with_a_missing_minute() -> None:
    # 4 days x minutes 0, 1, 2; day 1 has no bar at minute 1 (its minute-0 ATR stands in)
    day = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3])
    minute = np.array([0, 1, 2, 0, 2, 0, 1, 2, 0, 1, 2])
    atr = np.array([1.0, 2.0, 3.0, 3.0, 5.0, 2.0, 9.0, 4.0, 0.5, np.nan, 4.0])
    ctx = SimpleNamespace(close=np.linspace(100.0, 101.0, 11), n_bars=11, calendar=SimpleNamespace(
        trading_day=day, minutes_since_rth_open=minute, is_rth=minute > 0, day_of_week=day % 7))
    labels = regime_labels(ctx, atr, _cfg(lookback=2, bars=3))  # type: ignore[arg-type]
    # day 2 minute 0: days 0, 1 had 1, 3 -> terciles 1.67, 2.33 -> 2 is mid; minute 1: {2, 3} -> 9 high;
    # minute 2: {3, 5} -> 4 mid. Day 3: minute 0 {3, 2} -> 0.5 low; minute 1 ATR NaN; minute 2 {5, 4} -> 4 low
    assert labels["volatility"].tolist() == ["unknown"] * 5 + ["mid", "high", "mid", "low", "unknown", "low"]
    assert labels["session"].tolist()[:3] == ["overnight", "rth", "rth"]
    assert labels["weekday"].tolist()[:4] == ["mon", "mon", "mon", "tue"]
    assert labels["trend"].tolist()[:4] == ["unknown"] * 3 + ["trend"]  # a straight line: efficiency 1


# --- the table, its metrics and the concentration flag -------------------------------------------------------


LABELS = pd.DataFrame({
    "volatility": ["low", "low", "mid", "high", "high", "unknown"],
    "session": ["rth", "overnight", "rth", "rth", "overnight", "rth"],
    "weekday": ["mon", "mon", "tue", "wed", "fri", "fri"],
    "trend": ["trend", "range", "range", "trend", "range", "unknown"],
})


def _trades(pnl: list[float], bars: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"fold": 0, "signal_bar": bars, "pnl": pnl, "r_multiple": np.array(pnl) / 100.0})


def test_regime_table_by_hand() -> None:
    table = regime_table(_trades([100.0, -50.0, 300.0, 200.0, -40.0], [0, 1, 3, 3, 5]), LABELS)
    assert tuple(table.columns) == TABLE_COLUMNS
    rows = {(k, s): r for k, s, r in zip(table["kind"], table["slice"], table.itertuples(), strict=True)}
    assert list(table.loc[table["kind"] == "volatility", "slice"]) == ["low", "mid", "high", "unknown"]
    low, high, mid = rows["volatility", "low"], rows["volatility", "high"], rows["volatility", "mid"]
    assert (low.n_trades, low.net_pnl, low.win_rate, low.expectancy_r) == (2, 50.0, 0.5, 0.25)
    assert (high.n_trades, high.net_pnl, high.share_of_net) == (2, 500.0, pytest.approx(500.0 / 510.0))
    assert mid.n_trades == 0 and mid.net_pnl == 0.0 and math.isnan(mid.win_rate) and math.isnan(mid.expectancy_r)
    assert rows["session", "rth"].n_trades == 4 and rows["session", "overnight"].net_pnl == -50.0
    assert [s for k, s in rows if k == "weekday"] == ["mon", "tue", "wed", "thu", "fri"]  # no sat/sun rows
    assert [s for k, s in rows if k == "trend"] == ["trend", "range", "unknown"]
    for kind in ("volatility", "session", "weekday", "trend"):  # each kind partitions all trades
        part = table[table["kind"] == kind]
        assert part["n_trades"].sum() == 5 and part["net_pnl"].sum() == pytest.approx(510.0)
    losing = regime_table(_trades([-100.0], [0]), LABELS)
    assert losing["share_of_net"].isna().all()
    empty = regime_table(_trades([], []), LABELS)
    assert (empty["n_trades"] == 0).all() and len(empty) == 3 + 2 + 5 + 2
    with pytest.raises(ValueError, match="signal_bar outside"):
        regime_table(_trades([1.0], [6]), LABELS)


def test_regime_metrics_are_compact() -> None:
    metrics = regime_metrics(regime_table(_trades([100.0, -50.0, 300.0, 200.0, -40.0], [0, 1, 3, 3, 5]), LABELS))
    assert metrics["regime_volatility_high_net_pnl"] == 500.0 and metrics["regime_volatility_mid_n_trades"] == 0.0
    assert metrics["regime_weekday_wed_net_pnl"] == 500.0 and "regime_weekday_wed_n_trades" not in metrics
    assert not [k for k in metrics if "unknown" in k]
    assert metrics["regime_max_slice_share"] == pytest.approx(600.0 / 510.0)  # trend=trend: 100 + 300 + 200
    assert set(metrics) == {f"regime_{k}_{s}_{m}" for k, ss in
                            {"volatility": ("low", "mid", "high"), "session": ("rth", "overnight"),
                             "trend": ("trend", "range")}.items() for s in ss for m in ("net_pnl", "n_trades")} | {
        f"regime_weekday_{d}_net_pnl" for d in ("mon", "tue", "wed", "thu", "fri")} | {"regime_max_slice_share"}


def _balanced_labels(n: int) -> pd.DataFrame:
    return pd.DataFrame({"volatility": np.resize(["low", "mid", "high"], n), "session": np.resize(["rth", "overnight"], n),
                         "weekday": np.resize(["mon", "tue", "wed", "thu", "fri"], n),
                         "trend": np.resize(["trend", "range"], n)})


def test_concentration_flags_a_one_slice_profit_and_not_a_balanced_one() -> None:
    labels = _balanced_labels(30)
    balanced = _trades([100.0] * 30, list(range(30)))
    assert concentration(regime_table(balanced, labels), 0.8) is None
    # high volatility (bars 2, 5, 8, ...) wins 100 each; the other slices lose a little
    pnl = [100.0 if b % 3 == 2 else -10.0 for b in range(30)]
    table = regime_table(_trades(pnl, list(range(30))), labels)
    flag = concentration(table, 0.8)
    assert flag == "volatility=high carries 125% of net PnL (the other slices lose 200)"
    assert concentration_from_metrics({"net_pnl": 800.0, **regime_metrics(table)}, 0.8) == flag
    # one slice carrying 80%+ while the rest still make money
    pnl = [100.0 if b % 3 == 2 else 10.0 for b in range(30)]
    assert concentration(regime_table(_trades(pnl, list(range(30))), labels), 0.8) == (
        "volatility=high carries 83% of net PnL (the other slices make 200)")
    assert concentration(regime_table(_trades([-100.0] * 30, list(range(30))), labels), 0.8) is None  # a loser


def test_the_run_summary_names_a_concentrated_best_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from opt.search.summary import summarize

    labels = _balanced_labels(30)
    pnl = [100.0 if b % 3 == 2 else -10.0 for b in range(30)]
    metrics = {"net_pnl": 800.0, "n_trades": 30.0, "min_trades_penalty": 0.0, "n_eval_events": 900.0, "n_folds": 3.0,
               "score": 1.2, **regime_metrics(regime_table(_trades(pnl, list(range(30))), labels))}
    study = optuna.create_study(study_name="r-stage2", direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=1.2, params={}, distributions={},
                                              user_attrs={TrialAttr.METRICS: metrics}))
    summarize(study, compose_config(["+stage=2", f"paths.experiments={tmp_path}", "search.study_name=r"]), 2)
    assert ("note: best trial #0: profit from one regime slice: volatility=high carries 125% of net PnL (the other "
            "slices lose 200) (robustness.regimes.max_slice_share=0.8") in capsys.readouterr().out
