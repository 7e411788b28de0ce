"""Walk-forward evaluation of one stage-2 configuration: model calls -> OCO brackets -> metrics.

Also used by ``promote`` to retrain on the whole search part and evaluate once on the test part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import optuna
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.brackets import BracketParams, ExitReason, Trades, simulate_brackets
from opt.dataset import EventDataset, MarketContext, build_event_dataset
from opt.evaluation import walk_forward_folds
from opt.indicators import timeframe_atr
from opt.metrics import macro_auc, multiclass_brier, precision_coverage_at, trading_metrics
from opt.models import Classifier, feature_importance
from opt.search.modeling import fit_model, model_input
from opt.search.trial import StudyContext, TrialResult

__all__ = ["OBJECTIVE_METRICS", "DATASET_SECTIONS", "cached_dataset", "calls_to_orders", "fit_model",
           "evaluate_span", "evaluate_walk_forward", "SpanResult"]

#: metrics ``stage.objective.metric`` may name (all maximized)
OBJECTIVE_METRICS = frozenset({"sharpe", "net_pnl", "expectancy_r", "profit_factor", "precision_at_80"})
#: config sections that define the event dataset (its cache key with the data fingerprint)
DATASET_SECTIONS = ("levels", "events", "outcome", "features")
BREAK, BOUNCE = 0, 1
#: per-fold step offset of CNN per-epoch reports, so the pruner compares epochs only with epochs
EPOCH_STEP_OFFSET = 1000


def _build(fingerprint: str, test_start: int, dataset_cfg: dict[str, Any], ctx: MarketContext) -> EventDataset:
    return build_event_dataset(ctx, OmegaConf.create(dataset_cfg))


def cached_dataset(sc: StudyContext, cfg: DictConfig) -> EventDataset:
    """The event dataset of ``cfg``, built once: in memory per study, on disk (joblib) across runs.

    The disk cache lives in ``experiments/cache`` and is keyed by the data fingerprint, the test
    cut and the dataset sections of the config; the market context is not hashed.
    """
    if "dataset" not in sc.cache:
        key = {s: OmegaConf.to_container(cfg[s], resolve=True) for s in DATASET_SECTIONS}
        memory = joblib.Memory(Path(cfg.paths.experiments) / "cache", verbose=0)
        build = memory.cache(_build, ignore=["ctx"])
        sc.cache["dataset"] = build(sc.market.fingerprint, sc.market.test_start, key, ctx=sc.market.ctx)
    return sc.cache["dataset"]


def atr_on(sc_cache: dict[str, Any], ctx: MarketContext, minutes: int, period: int) -> np.ndarray:
    """ATR of ``minutes``-minute bars aligned to 1-minute rows (causal), cached per timeframe."""
    key = f"atr_{minutes}_{period}"
    if key not in sc_cache:
        sc_cache[key] = timeframe_atr(ctx.bars, int(minutes), int(period))
    return sc_cache[key]


def calls_to_orders(proba: np.ndarray, events: pd.DataFrame, *, confidence: float, direction: str
                    ) -> pd.DataFrame:
    """Turn confident BREAK/BOUNCE calls into bracket orders (DESIGN §8).

    BREAK trades through the level (approach from above, side +1 -> SHORT), BOUNCE fades it
    (side +1 -> LONG): ``direction = side`` for BOUNCE and ``-side`` for BREAK.

    Args:
        proba: (n_events, 3) P(BREAK), P(BOUNCE), P(CHOP).
        events: the same n events (columns ``bar``, ``side``, ``level_price``).
        confidence: minimum P(class) of the call.
        direction: ``both``, ``long_only`` or ``short_only``.

    Returns:
        One row per order, sorted by ``signal_bar``: ``event`` (position in ``events``), ``signal_bar``,
        ``direction`` (+1 long / -1 short), ``level_price``, ``call`` (0 BREAK / 1 BOUNCE), ``proba``.
    """
    call = np.where(proba[:, BREAK] >= proba[:, BOUNCE], BREAK, BOUNCE)
    p = proba[np.arange(len(proba)), call]
    side = events["side"].to_numpy(np.int64)
    sign = np.where(call == BOUNCE, side, -side)
    keep = p >= confidence
    if direction == "long_only":
        keep &= sign > 0
    elif direction == "short_only":
        keep &= sign < 0
    idx = np.flatnonzero(keep)
    return pd.DataFrame({
        "event": idx, "signal_bar": events["bar"].to_numpy(np.int64)[idx], "direction": sign[idx].astype(np.int8),
        "level_price": events["level_price"].to_numpy(np.float64)[idx], "call": call[idx], "proba": p[idx],
    })


@dataclass
class SpanResult:
    """Evaluation of one span (a walk-forward fold or the test part)."""

    metrics: dict[str, float]
    trades: pd.DataFrame
    proba: np.ndarray


def evaluate_span(cfg: DictConfig, ds: EventDataset, ctx: MarketContext, atr: np.ndarray, model: Classifier,
                  eval_idx: np.ndarray, start_bar: int, end_bar: int) -> SpanResult:
    """Score events ``eval_idx`` with ``model``, trade the confident calls, and measure (DESIGN §7)."""
    y = ds.y[eval_idx]
    proba = model.predict_proba(model_input(ds, ctx, eval_idx))
    events = ds.events.iloc[eval_idx].reset_index(drop=True)
    bp = BracketParams.from_config(cfg.bracket, cfg.instrument)
    orders = calls_to_orders(proba, events, confidence=bp.confidence, direction=bp.direction)
    sig = orders["signal_bar"].to_numpy(np.int64)
    trades: Trades = simulate_brackets(
        ctx.open, ctx.high, ctx.low, ctx.close, sig, orders["direction"].to_numpy(np.int8),
        atr[sig] if len(sig) else np.empty(0), orders["level_price"].to_numpy(np.float64), bp, end_bar=end_bar)
    table = trades.to_frame()
    table.insert(0, "signal_bar", sig)
    table.insert(1, "timestamp", pd.to_datetime(ctx.timestamps[sig], utc=True) if len(sig) else pd.Series([], dtype="datetime64[ns, UTC]"))
    table["call"] = orders["call"].to_numpy()
    table["proba"] = orders["proba"].to_numpy()
    filled = trades.filled
    exit_bar = trades.exit_bar[filled]
    days = ctx.calendar.trading_day
    metrics = trading_metrics(
        pnl=trades.pnl[filled], r_multiple=trades.r_multiple[filled],
        is_win=trades.exit_reason[filled] == int(ExitReason.TARGET), exit_day=days[exit_bar],
        trading_days=np.unique(days[start_bar:end_bar]),
    )
    precision, coverage = precision_coverage_at(proba, y, threshold=0.8)
    metrics.update({"precision_at_80": precision, "coverage_at_80": coverage, "auc": macro_auc(proba, y),
                    "brier": multiclass_brier(proba, y), "n_events": float(len(eval_idx)),
                    "n_orders": float(len(orders))})
    return SpanResult(metrics=metrics, trades=table[filled].reset_index(drop=True), proba=proba)


def evaluate_walk_forward(sc: StudyContext, cfg: DictConfig, *, trial: optuna.Trial | None = None) -> TrialResult:
    """Walk-forward evaluation over the search part; per-fold metrics become steps (see module doc).

    Raises:
        optuna.TrialPruned: when the pruner stops the trial after a fold (or a CNN epoch).
    """
    ctx = sc.market.ctx
    ds = cached_dataset(sc, cfg)
    folds = walk_forward_folds(
        ds.events["bar"].to_numpy(np.int64), ds.events["label_end_bar"].to_numpy(np.int64), len(ctx.close),
        n_folds=int(cfg.split.n_folds), min_train_fraction=float(cfg.split.min_train_fraction),
        embargo_bars=int(cfg.split.embargo_bars))
    atr = atr_on(sc.cache, ctx, int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
    metric = str(cfg.stage.objective.metric)
    multi = trial is not None and len(trial.study.directions) > 1
    per_fold: dict[str, list[float]] = {}
    trades, importances = [], []
    for fold in folds:
        if len(fold.train) < 50 or len(fold.eval) == 0:
            continue

        def report(step: int, value: float, _fold: int = fold.index) -> None:
            if trial is not None and not multi:
                trial.report(value, EPOCH_STEP_OFFSET * (_fold + 1) + step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at fold {_fold} epoch {step}")

        model = fit_model(cfg, ds, ctx, fold.train, report=report if cfg.model.name == "cnn" else None)
        span = evaluate_span(cfg, ds, ctx, atr, model, fold.eval, fold.eval_start_bar, fold.eval_end_bar)
        for k, v in span.metrics.items():
            per_fold.setdefault(k, []).append(float(v))
        span.trades.insert(0, "fold", fold.index)
        trades.append(span.trades)
        imp = feature_importance(model)
        if imp:
            importances.append(imp)
        if trial is not None and not multi:
            trial.report(float(span.metrics[metric]), fold.index)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {fold.index}: {metric}={span.metrics[metric]:.4g}")
    if not per_fold:
        raise ValueError("no walk-forward fold had enough training events (50) and evaluation events")
    all_trades = pd.concat(trades, ignore_index=True)
    metrics = _combined(all_trades, per_fold, ctx, folds)
    write = _artifact_writer(all_trades, importances, float(cfg.instrument.point_value))
    return TrialResult(metrics=metrics, write_artifacts=write, step_metrics=per_fold)


def _combined(trades: pd.DataFrame, per_fold: dict[str, list[float]], ctx: MarketContext, folds: list) -> dict[str, float]:
    """Metrics over all folds' trades together; classification metrics are fold medians."""
    days = ctx.calendar.trading_day
    span_days = np.unique(np.concatenate([days[f.eval_start_bar:f.eval_end_bar] for f in folds]))
    exit_bar = trades["exit_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    out = trading_metrics(
        pnl=trades["pnl"].to_numpy(float) if len(trades) else np.empty(0),
        r_multiple=trades["r_multiple"].to_numpy(float) if len(trades) else np.empty(0),
        is_win=(trades["exit_reason"].to_numpy() == int(ExitReason.TARGET)) if len(trades) else np.empty(0, bool),
        exit_day=days[exit_bar], trading_days=span_days)
    for k in ("precision_at_80", "coverage_at_80", "auc", "brier"):
        out[k] = float(np.median(per_fold[k]))
    out["n_folds"] = float(len(per_fold["n_trades"]))
    return out


def _artifact_writer(trades: pd.DataFrame, importances: list[dict[str, float]], point_value: float):
    def write(folder: Path) -> None:
        trades.to_parquet(folder / "trades.parquet", index=False)
        plot_equity(trades, folder / "equity_curve.png")
        if importances:
            mean = pd.DataFrame(importances).fillna(0.0).mean().sort_values(ascending=False)
            (folder / "feature_importance.json").write_text(json.dumps(mean.round(6).to_dict(), indent=1))

    return write


def plot_equity(trades: pd.DataFrame, path: Path, title: str = "walk-forward equity (net, currency)") -> Path:
    """Equity curve and drawdown of ``trades`` (in exit order) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pnl = trades.sort_values("exit_bar")["pnl"].to_numpy(float) if len(trades) else np.zeros(1)
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
