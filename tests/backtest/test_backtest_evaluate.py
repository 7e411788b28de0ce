"""The backtest engine on real data: calls -> orders, span and walk-forward evaluation, leakage check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opt.backtest import calls_to_orders, evaluate_span, evaluate_walk_forward
from opt.dataset import EventDataset, build_event_dataset
from opt.evaluation import walk_forward_folds
from opt.indicators import timeframe_atr
from opt.models.fitting import fit_model
from opt.stages import prepare_market

from tests.helpers.config import compose_config

EVENTS = pd.DataFrame({"bar": [10, 20, 30, 40], "side": [1, 1, -1, -1], "level_price": [100.0, 101, 102, 103]})


def test_break_trades_through_and_bounce_fades_the_level() -> None:
    # rows: BREAK from above, BOUNCE from above, BREAK from below, BOUNCE from below
    proba = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]])
    orders = calls_to_orders(proba, EVENTS, confidence=0.8, direction="both")
    assert orders["direction"].tolist() == [-1, 1, 1, -1]
    assert orders["call"].tolist() == [0, 1, 0, 1]
    assert calls_to_orders(proba, EVENTS, confidence=0.8, direction="long_only")["event"].tolist() == [1, 2]
    assert calls_to_orders(proba, EVENTS, confidence=0.8, direction="short_only")["event"].tolist() == [0, 3]


def test_unconfident_calls_and_chop_make_no_order() -> None:
    proba = np.array([[0.5, 0.4, 0.1], [0.1, 0.1, 0.8], [0.79, 0.2, 0.01], [0.3, 0.3, 0.4]])
    assert calls_to_orders(proba, EVENTS, confidence=0.8, direction="both").empty


@pytest.fixture(scope="module")
def es_setup():
    from tests.helpers.config import ES_CSV

    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV}")
    cfg = compose_config(["+stage=2", "data=csv", f"data.path={ES_CSV}", "instrument=es",
                          "bracket.confidence=0.45", "model.n_estimators=150"])
    market = prepare_market(cfg)
    ds = build_event_dataset(market.ctx, cfg)
    folds = walk_forward_folds(ds.events["bar"].to_numpy(), ds.events["label_end_bar"].to_numpy(),
                               len(market.ctx.close), n_folds=3, min_train_fraction=0.4, embargo_bars=60)
    atr = timeframe_atr(market.ctx.bars, 1, int(cfg.levels.atr_period))
    return cfg, market.ctx, ds, folds, atr


def _evaluate(es_setup, shuffle_seed: int | None) -> list[dict[str, float]]:
    cfg, ctx, ds, folds, atr = es_setup
    out = []
    for fold in folds:
        events = ds.events.copy()
        if shuffle_seed is not None:  # destroy the label/feature relation in the training part only
            labels = events["label"].to_numpy().copy()
            labels[fold.train] = np.random.default_rng(shuffle_seed + fold.index).permutation(labels[fold.train])
            events["label"] = labels
        train_ds = EventDataset(events=events, features=ds.features)
        model = fit_model(cfg, train_ds, ctx, fold.train)
        span = evaluate_span(cfg, ds, ctx, atr, model, fold.eval, fold.eval_start_bar, fold.eval_end_bar)
        out.append(span.metrics)
    return out


def test_evaluation_trades_only_inside_the_fold(es_setup) -> None:
    cfg, ctx, ds, folds, atr = es_setup
    fold = folds[0]
    model = fit_model(cfg, ds, ctx, fold.train)
    span = evaluate_span(cfg, ds, ctx, atr, model, fold.eval, fold.eval_start_bar, fold.eval_end_bar)
    assert len(span.trades) == span.metrics["n_trades"] > 0
    assert (span.trades["signal_bar"] >= fold.eval_start_bar).all()
    assert (span.trades["exit_bar"] < fold.eval_end_bar).all()
    assert (span.trades["entry_bar"] > span.trades["signal_bar"]).all()


def test_shuffled_training_labels_fall_to_chance(es_setup) -> None:
    """If anything but the labels carried the signal (a leak), shuffling them would not hurt."""
    real_auc = np.mean([m["auc"] for m in _evaluate(es_setup, None)])
    shuffled = [m for seed in (1, 2) for m in _evaluate(es_setup, seed)]
    auc = np.mean([m["auc"] for m in shuffled])
    assert 0.44 <= auc <= 0.56, auc
    assert real_auc > auc + 0.05, (real_auc, auc)  # the real labels do carry signal
    y = es_setup[2].y
    base = max(np.mean(y == 0), np.mean(y == 1))
    precision = [m["precision_at_80"] for m in shuffled if m["coverage_at_80"] > 0]
    assert not precision or np.mean(precision) <= base + 0.15
    assert abs(np.median([m["sharpe"] for m in shuffled])) < 3.0


def test_walk_forward_reports_each_fold_and_stops_when_report_raises(es_setup) -> None:
    cfg, ctx, ds, folds, atr = es_setup
    seen: list[tuple[int, float]] = []
    result = evaluate_walk_forward(cfg, ds, ctx, objective="sharpe", report=lambda s, v: seen.append((s, v)))
    assert [s for s, _ in seen] == list(range(int(result.metrics["n_folds"])))
    assert [v for _, v in seen] == result.step_metrics["sharpe"]
    assert (result.trades["fold"].diff().fillna(0) >= 0).all()

    class Stop(Exception):
        pass

    def stop_after_first(step: int, value: float) -> None:
        raise Stop(step)

    with pytest.raises(Stop):
        evaluate_walk_forward(cfg, ds, ctx, objective="sharpe", report=stop_after_first)
