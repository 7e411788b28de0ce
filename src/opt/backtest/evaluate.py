"""Evaluate a stage-2 configuration: fit, call, trade and measure a span or a purged walk-forward.

:func:`evaluate_span` scores one span's events with a fitted model, turns the confident calls into OCO
brackets (:mod:`opt.backtest.signals`), simulates them with costs (:func:`opt.brackets.simulate_brackets`)
and measures the span (DESIGN §7). :func:`evaluate_walk_forward` does that over expanding, purged and
embargoed folds of the events (:func:`opt.evaluation.walk_forward_folds`; M. Lopez de Prado, *Advances
in Financial Machine Learning*, 2018, ch. 7), fitting on each fold's past.

Intermediate values go to ``report(step, value)`` (higher is better): a fold's ``objective`` metric at
step = fold index, and a CNN's per-epoch validation value at step ``EPOCH_STEP_OFFSET x (fold + 1) +
epoch``, so a pruner compares folds with folds and epochs with epochs. ``report`` may raise to stop
the evaluation (the search raises ``optuna.TrialPruned``); the engine itself knows nothing of studies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from opt.backtest.filters import apply_filters
from opt.backtest.insight import span_gradcam
from opt.backtest.signals import calls_to_orders
from opt.brackets import BracketParams, ExitReason, Trades, simulate_brackets
from opt.dataset import EventDataset, MarketContext
from opt.evaluation import Fold, walk_forward_folds
from opt.indicators import timeframe_atr
from opt.metrics import daily_pnl, macro_auc, multiclass_brier, precision_coverage_at, trading_metrics
from opt.metrics.per_class import confusion_at, per_class_metrics, pooled_confusion
from opt.models import Classifier, ReportFn, feature_importance
from opt.models.fitting import fit_model, model_input
from opt.models.gradcam import GradCamMap
from opt.sessions import session_last_bar

__all__ = ["EPOCH_STEP_OFFSET", "MIN_FOLD_TRAIN_EVENTS", "SpanResult", "WalkForwardResult", "atr_on",
           "evaluate_span", "evaluate_walk_forward"]

EPOCH_STEP_OFFSET = 1000
"""Step offset of per-epoch reports: fold ``f`` epoch ``e`` is step ``1000 x (f + 1) + e``."""
MIN_FOLD_TRAIN_EVENTS = 50
"""A fold with fewer training events is skipped (and promote refuses to retrain on fewer)."""
CLASSIFICATION_KEYS = ("precision_at_80", "coverage_at_80", "auc", "brier")
"""Classification metrics, combined over folds as their median."""


def atr_on(cache: dict[str, Any], ctx: MarketContext, minutes: int, period: int) -> np.ndarray:
    """ATR of ``minutes``-minute bars aligned to 1-minute rows (causal, points), cached in ``cache``."""
    key = f"atr_{minutes}_{period}"
    if key not in cache:
        cache[key] = timeframe_atr(ctx.bars, int(minutes), int(period))
    return np.asarray(cache[key])


@dataclass
class SpanResult:
    """Evaluation of one span (a walk-forward fold or the test part).

    Attributes:
        metrics: DESIGN §7 trading and classification metrics of the span.
        trades: one row per filled trade (:meth:`opt.brackets.Trades.to_frame` plus ``signal_bar``,
            ``timestamp``, ``call``, ``proba``).
        proba: float ``(n_events, 3)`` probabilities of the span's events.
        confusion: int64 ``(3, 4)`` labels x calls at ``bracket.confidence`` (:mod:`opt.metrics.per_class`).
    """

    metrics: dict[str, float]
    trades: pd.DataFrame
    proba: np.ndarray
    confusion: np.ndarray = field(default_factory=lambda: pooled_confusion([]))


@dataclass
class WalkForwardResult:
    """A walk-forward evaluation.

    Attributes:
        metrics: metrics over all evaluated folds' trades and trading days together (``sharpe`` is the
            Sharpe ratio of :attr:`daily_pnl`); classification metrics are fold medians; ``n_folds``
            (folds evaluated) and ``n_folds_no_trades`` (evaluated folds without a trade).
        step_metrics: per-fold values of every span metric, in fold order.
        trades: all folds' trades with a ``fold`` column.
        importances: per-fold feature importances (XGBoost gain), empty for the CNN.
        point_value: currency per point of the instrument.
        daily_pnl: net PnL per trading day of the evaluated folds, currency, indexed by trading-day code
            in ascending order: every day of every evaluated fold, 0 on days without an exit (a fold
            without trades adds its days at 0). The pooled objective is a metric of this series.
        confusion: per-fold ``(3, 4)`` labels x calls counts (:attr:`SpanResult.confusion`), in fold order;
            :attr:`metrics` holds the per-class metrics of their sum (:mod:`opt.metrics.per_class`).
        gradcam: fold index -> the CNN's Grad-CAM maps of that fold's most confident calls
            (:func:`opt.backtest.insight.span_gradcam`); empty for other models.
    """

    metrics: dict[str, float]
    step_metrics: dict[str, list[float]]
    trades: pd.DataFrame
    importances: list[dict[str, float]] = field(default_factory=list)
    point_value: float = 1.0
    daily_pnl: pd.Series = field(default_factory=lambda: pd.Series([], dtype=float))
    confusion: list[np.ndarray] = field(default_factory=list)
    gradcam: dict[int, dict[str, GradCamMap]] = field(default_factory=dict)


def evaluate_span(cfg: DictConfig, ds: EventDataset, ctx: MarketContext, atr: np.ndarray, model: Classifier,
                  eval_idx: np.ndarray, start_bar: int, end_bar: int) -> SpanResult:
    """Score events ``eval_idx`` with ``model``, trade the confident calls, and measure (DESIGN §7).

    Args:
        cfg: the configuration (``bracket``, ``instrument``).
        ds: the event dataset.
        ctx: its market context.
        atr: float64 ``(n_bars,)`` ATR of ``bracket.atr_timeframe``-minute bars, points.
        model: a fitted classifier.
        eval_idx: int64 positions in ``ds`` of the span's events.
        start_bar: first bar of the span (its trading days count, traded or not).
        end_bar: exclusive last bar trades may use.
    """
    y = ds.y[eval_idx]
    proba = model.predict_proba(model_input(ds, ctx, eval_idx))
    events = ds.events.iloc[eval_idx].reset_index(drop=True)
    bp = BracketParams.from_config(cfg.bracket, cfg.instrument)
    orders = calls_to_orders(proba, events, confidence=bp.confidence, direction=bp.direction)
    orders = apply_filters(orders, ctx, cfg)  # market-context filters (opt.backtest.filters), off by default
    sig = orders["signal_bar"].to_numpy(np.int64)
    trades: Trades = simulate_brackets(
        ctx.open, ctx.high, ctx.low, ctx.close, sig, orders["direction"].to_numpy(np.int8),
        atr[sig] if len(sig) else np.empty(0), orders["level_price"].to_numpy(np.float64), bp, end_bar=end_bar,
        session_last=session_last_bar(ctx.timestamps, ctx.calendar) if bp.flatten_at_session_end else None)
    table = trades.to_frame()
    table.insert(0, "signal_bar", sig)
    table.insert(1, "timestamp", pd.to_datetime(ctx.timestamps[sig], utc=True) if len(sig)
                 else pd.Series([], dtype="datetime64[ns, UTC]"))
    table["call"] = orders["call"].to_numpy()
    table["proba"] = orders["proba"].to_numpy()
    filled = trades.filled
    exit_bar = trades.exit_bar[filled]
    days = ctx.calendar.trading_day
    metrics = trading_metrics(
        pnl=trades.pnl[filled], r_multiple=trades.r_multiple[filled],
        hit_target=trades.exit_reason[filled] == int(ExitReason.TARGET), exit_day=days[exit_bar],
        trading_days=np.unique(days[start_bar:end_bar]), exit_bar=exit_bar,  # drawdown in exit order
    )
    precision, coverage = precision_coverage_at(proba, y, threshold=0.8)
    metrics.update({"precision_at_80": precision, "coverage_at_80": coverage, "auc": macro_auc(proba, y),
                    "brier": multiclass_brier(proba, y), "n_events": float(len(eval_idx)),
                    "n_orders": float(len(orders))})
    confusion = confusion_at(proba, y, confidence=bp.confidence)
    metrics.update(per_class_metrics(confusion))
    return SpanResult(metrics=metrics, trades=table[filled].reset_index(drop=True), proba=proba, confusion=confusion)


def evaluate_walk_forward(cfg: DictConfig, ds: EventDataset, ctx: MarketContext, *, objective: str,
                          report: ReportFn | None = None, cache: dict[str, Any] | None = None
                          ) -> WalkForwardResult:
    """Walk forward over the events: fit on each fold's past, evaluate the fold (module docstring).

    Args:
        cfg: the configuration (``split``, ``model``, ``bracket``, ``instrument``, ``levels.atr_period``).
        ds: the event dataset of the search part.
        ctx: its market context.
        objective: the span metric reported after each fold.
        report: ``report(step, value)``; may raise to stop the evaluation. None: nothing reported.
        cache: a dict reused across calls for the ATR series, or None.

    Raises:
        ValueError: no fold had enough training events (:data:`MIN_FOLD_TRAIN_EVENTS`) and evaluation
            events.
        Exception: whatever ``report`` raised.
    """
    folds = walk_forward_folds(
        ds.events["bar"].to_numpy(np.int64), ds.events["label_end_bar"].to_numpy(np.int64), len(ctx.close),
        n_folds=int(cfg.split.n_folds), min_train_fraction=float(cfg.split.min_train_fraction),
        embargo_bars=int(cfg.split.embargo_bars))
    atr = atr_on({} if cache is None else cache, ctx, int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
    per_fold: dict[str, list[float]] = {}
    trades, importances, evaluated, confusions, gradcam = [], [], [], [], {}
    for fold in folds:
        if len(fold.train) < MIN_FOLD_TRAIN_EVENTS or len(fold.eval) == 0:
            continue
        evaluated.append(fold)
        epochs = _epoch_report(report, fold.index) if report is not None and cfg.model.name == "cnn" else None
        model = fit_model(cfg, ds, ctx, fold.train, report=epochs)
        span = evaluate_span(cfg, ds, ctx, atr, model, fold.eval, fold.eval_start_bar, fold.eval_end_bar)
        for k, v in span.metrics.items():
            per_fold.setdefault(k, []).append(float(v))
        span.trades.insert(0, "fold", fold.index)
        trades.append(span.trades)
        imp = feature_importance(model)
        if imp:
            importances.append(imp)
        confusions.append(span.confusion)
        maps = span_gradcam(cfg, ds, ctx, model, fold.eval, span.proba)
        if maps:
            gradcam[fold.index] = maps
        if report is not None:
            report(fold.index, float(span.metrics[objective]))
    if not per_fold:
        raise ValueError(f"no walk-forward fold had enough training events ({MIN_FOLD_TRAIN_EVENTS}) and "
                         "evaluation events")
    all_trades = pd.concat(trades, ignore_index=True)
    metrics = _combined(all_trades, per_fold, ctx, evaluated)  # skipped folds' days are not evaluated
    metrics["n_folds_no_trades"] = float(sum(n == 0 for n in per_fold["n_trades"]))
    metrics.update(per_class_metrics(pooled_confusion(confusions)))  # counts summed over folds, then recomputed
    return WalkForwardResult(metrics=metrics, step_metrics=per_fold, trades=all_trades, importances=importances,
                             point_value=float(cfg.instrument.point_value),
                             daily_pnl=_daily(all_trades, ctx, evaluated), confusion=confusions, gradcam=gradcam)


def _daily(trades: pd.DataFrame, ctx: MarketContext, folds: list[Fold]) -> pd.Series:
    """Net PnL per trading day of ``folds``' evaluation spans, 0 on days without an exit (currency)."""
    days = ctx.calendar.trading_day
    span_days = np.unique(np.concatenate([days[f.eval_start_bar:f.eval_end_bar] for f in folds]))
    exit_bar = trades["exit_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    pnl = trades["pnl"].to_numpy(float) if len(trades) else np.empty(0)
    return pd.Series(daily_pnl(pnl, days[exit_bar], span_days), index=span_days, name="daily_pnl")


def _epoch_report(report: ReportFn, fold: int) -> Callable[[int, float], None]:
    def epoch(step: int, value: float) -> None:
        report(EPOCH_STEP_OFFSET * (fold + 1) + step, value)

    return epoch


def _combined(trades: pd.DataFrame, per_fold: dict[str, list[float]], ctx: MarketContext,
              folds: list[Fold]) -> dict[str, float]:
    """Metrics over all folds' trades together; classification metrics are fold medians."""
    days = ctx.calendar.trading_day
    span_days = np.unique(np.concatenate([days[f.eval_start_bar:f.eval_end_bar] for f in folds]))
    exit_bar = trades["exit_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    out = trading_metrics(
        pnl=trades["pnl"].to_numpy(float) if len(trades) else np.empty(0),
        r_multiple=trades["r_multiple"].to_numpy(float) if len(trades) else np.empty(0),
        hit_target=(trades["exit_reason"].to_numpy() == int(ExitReason.TARGET)) if len(trades) else np.empty(0, bool),
        exit_day=days[exit_bar], trading_days=span_days, exit_bar=exit_bar)  # drawdown in exit order
    for k in CLASSIFICATION_KEYS:
        out[k] = float(np.median(per_fold[k]))
    out["n_folds"] = float(len(per_fold["n_trades"]))
    return out
