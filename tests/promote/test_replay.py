"""Live equals backtest (opt.promote.replay): the test part replayed bar by bar through the policy."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.backtest import SpanResult, atr_on, evaluate_span
from opt.data import load_bars_from_config
from opt.dataset import build_context, build_event_dataset
from opt.evaluation import holdout_split
from opt.models.fitting import fit_model, model_input
from opt.promote.command import POLICY_SECTIONS
from opt.promote.policy import SignalPolicy
from opt.promote.replay import replay_test_part

from tests.helpers.config import ES_CSV, compose_config

N_DAYS = 15


@dataclass
class Promoted:
    policy: SignalPolicy
    bars: pd.DataFrame
    test_start: int
    result: SpanResult


@pytest.fixture(scope="module")
def promoted() -> Promoted:
    """A quick promote on the first 15 trading days of the ES file: retrain, evaluate the test part."""
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV}: the live replay test needs it")
    cfg = compose_config(["+stage=2", "data=csv", f"data.path={ES_CSV}", "instrument=es",
                          "bracket.confidence=0.35", "model.n_estimators=50"])
    every = load_bars_from_config(cfg)
    day = build_context(every, cfg).calendar.trading_day
    bars = every[day < np.unique(day)[N_DAYS]].reset_index(drop=True)
    ctx = build_context(bars, cfg)
    test_start = holdout_split(bars["timestamp"].to_numpy(), ctx.calendar.trading_day,
                               test_fraction=float(cfg.split.test_fraction))
    ds = build_event_dataset(ctx, cfg)
    train = np.flatnonzero(ds.events["label_end_bar"].to_numpy() < test_start)
    test = np.flatnonzero(ds.events["bar"].to_numpy() >= test_start + int(cfg.split.embargo_bars))
    model = fit_model(cfg, ds, ctx, train)
    atr = atr_on({}, ctx, int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
    result = evaluate_span(cfg, ds, ctx, atr, model, test, test_start, ctx.n_bars)
    sections = OmegaConf.to_container(OmegaConf.masked_copy(cfg, list(POLICY_SECTIONS)), resolve=True)
    assert isinstance(sections, dict)
    policy = SignalPolicy(cfg={**{str(k): v for k, v in sections.items()}, "data": {"tz": cfg.data.tz}}, model=model)
    return Promoted(policy=policy, bars=bars, test_start=test_start, result=result)


def test_the_policy_sends_one_order_per_bar_and_direction(promoted: Promoted) -> None:
    """Touches of several levels on one bar (ONH = PMH, session and weekly VWAP) give one order."""
    policy, bars = promoted.policy, promoted.bars
    ctx = build_context(bars, policy.cfg)
    ds = build_event_dataset(ctx, policy.cfg, keep_unlabelled=True)
    proba = policy.model.predict_proba(model_input(ds, ctx, np.arange(len(ds))))
    confident = proba[:, :2].max(axis=1) >= policy.bracket.confidence
    call = np.where(proba[:, 0] >= proba[:, 1], -1, 1) * ds.events["side"].to_numpy()  # the order's direction
    raw = pd.DataFrame({"bar": ds.events["bar"].to_numpy()[confident], "direction": call[confident]})
    assert raw.duplicated().sum() > 0  # without deduplication this slice would double some orders
    out = policy.signals(bars)
    assert len(out) == len(raw.drop_duplicates()) > 0
    assert not out.duplicated(["timestamp", "direction", "entry", "stop", "take_profit"]).any()
    assert not out.duplicated(["bar", "direction"]).any()


def test_replay_of_the_real_policy_finds_no_difference(promoted: Promoted) -> None:
    r = replay_test_part(promoted.policy, promoted.bars, promoted.test_start, promoted.result)
    assert r.ok, r.first_difference
    assert r.first_difference is None
    assert r.n_bars == len(promoted.bars) - promoted.test_start
    assert r.n_signals_batch == r.n_signals_live > 0
    assert r.n_trades == len(promoted.result.trades) > 0
    assert r.n_calls == r.n_exact_bars + 1 >= r.n_signals_batch
    assert r.describe().endswith("no difference") and f"{r.n_bars} bars" in r.describe()


class PeekingPolicy(SignalPolicy):
    """Look-ahead: drops a signal when the NEXT bar's close moves against it (unknown on the last bar)."""

    def signals(self, bars: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        out = super().signals(bars, *args, **kwargs)
        close = bars["close"].to_numpy(np.float64)
        following = np.append(close[1:], np.nan)[out["bar"].to_numpy()]
        against = (following - close[out["bar"].to_numpy()]) * out["direction"].to_numpy() < 0
        return out[~against].reset_index(drop=True)


def test_replay_catches_a_policy_that_reads_the_next_bar(promoted: Promoted) -> None:
    honest = promoted.policy
    peeking = PeekingPolicy(cfg=honest.cfg, model=honest.model)
    close = promoted.bars["close"].to_numpy(np.float64)
    signals = honest.signals(promoted.bars)
    test = signals[signals["bar"] >= promoted.test_start]
    b = test["bar"].to_numpy()
    against = (close[np.minimum(b + 1, len(close) - 1)] - close[b]) * test["direction"].to_numpy() < 0
    assert against.any(), "no signal the look-ahead would drop: the test needs one"
    first = int(b[against].min())  # live (no next bar yet) keeps it, the batch drops it
    r = replay_test_part(peeking, promoted.bars, promoted.test_start)
    assert not r.ok
    d = r.first_difference
    assert d is not None and d["bar"] == first and d["check"] == "live vs batch"
    assert "live only" in d["what"] and d["batch"] == [] and d["live"][0]["bar"] == first
    assert d["timestamp"] == promoted.bars["timestamp"].iloc[first].isoformat()
    assert f"FIRST DIFFERENCE at bar {first}" in r.describe()


def test_a_trade_that_is_not_a_batch_signal_is_reported(promoted: Promoted) -> None:
    trades = promoted.result.trades.copy()
    i = len(trades) // 2
    trades.loc[i, "stop_price"] -= 0.25 * np.sign(trades.loc[i, "target_price"] - trades.loc[i, "stop_price"])
    r = replay_test_part(promoted.policy, promoted.bars, promoted.test_start,
                         replace(promoted.result, trades=trades), touches=False)
    d = r.first_difference
    assert d is not None and d["check"] == "trade vs batch" and d["bar"] == int(trades.loc[i, "signal_bar"])
    assert "stop/target" in d["what"] and len(d["batch"]) >= 1


def test_arguments_are_checked(promoted: Promoted) -> None:
    with pytest.raises(ValueError, match="test_start"):
        replay_test_part(promoted.policy, promoted.bars, len(promoted.bars))
    with pytest.raises(ValueError, match="chunk_bars"):
        replay_test_part(promoted.policy, promoted.bars, promoted.test_start, chunk_bars=0)
