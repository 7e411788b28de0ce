"""Stage 1 objective: dataset and zone geometry (DESIGN §5-§7).

Each trial samples the stage-1 space, builds the event dataset of the search part, holds out its last
``split.eval_fraction`` (purged and embargoed), trains the quick classifier on the rest and scores the
evaluation part with the DESIGN §7 metrics and the composite ``score``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
from omegaconf import DictConfig

from opt.dataset import LABELS, build_event_dataset
from opt.evaluation import Fold, single_split
from opt.metrics import label_shares, stage1_metrics
from opt.search.modeling import fit_model, model_input
from opt.search.trial import StudyContext, TrialPrunedWithReason, TrialResult
from opt.tracking.artifacts import plot_label_distribution, write_events_sample

__all__ = ["stage1_trial"]


def stage1_trial(sc: StudyContext, trial: optuna.Trial, cfg: DictConfig) -> TrialResult:
    """Run one stage-1 trial on the trial config ``cfg``; return its metrics (``score`` included).

    Raises:
        TrialPrunedWithReason: events per day outside the configured range, or too few events in a
            split to fit a model.
    """
    ctx = sc.market.ctx
    ds = build_event_dataset(ctx, cfg)
    y = ds.y
    n_days = sc.market.n_trading_days
    metrics: dict[str, float] = {"n_events": float(len(y)), "events_per_day": len(y) / max(n_days, 1)}
    metrics.update(label_shares(y) if len(y) else {"break_rate": 0.0, "bounce_rate": 0.0, "chop_rate": 0.0})

    def write_artifacts(folder: Path) -> None:
        write_events_sample(ds.events, ds.features, folder, rows=int(cfg.tracking.events_sample_rows),
                            seed=int(cfg.search.seed))
        plot_label_distribution(ds.events, LABELS, folder)

    lo, hi = float(cfg.search.min_events_per_day), float(cfg.search.max_events_per_day)
    if not lo <= metrics["events_per_day"] <= hi:
        raise TrialPrunedWithReason(
            f"events_per_day={metrics['events_per_day']:.2f} outside [{lo}, {hi}] "
            "(search.min_events_per_day, search.max_events_per_day)", metrics, write_artifacts)

    bar = ds.events["bar"].to_numpy(np.int64)
    label_end = ds.events["label_end_bar"].to_numpy(np.int64)
    fold: Fold = single_split(bar, label_end, len(ctx.bars), eval_fraction=float(cfg.split.eval_fraction),
                              embargo_bars=int(cfg.split.embargo_bars))
    metrics.update({"n_train": float(len(fold.train)), "n_eval": float(len(fold.eval))})
    if len(fold.train) < 40 or len(fold.eval) < 30 or len(np.unique(y[fold.train])) < 2:
        raise TrialPrunedWithReason(
            f"too few events to evaluate: {len(fold.train)} to train, {len(fold.eval)} to evaluate "
            "(need 40 and 30)", metrics, write_artifacts)

    model = fit_model(cfg, ds, ctx, fold.train)
    proba = model.predict_proba(model_input(ds, ctx, fold.eval))
    X = ds.features.to_numpy(np.float64)
    metrics.update(stage1_metrics(
        train_X=X[fold.train], train_y=y[fold.train], eval_X=X[fold.eval], eval_y=y[fold.eval],
        proba=proba, weights=cfg.stage.weights, seed=int(cfg.search.seed),
    ))
    return TrialResult(metrics=metrics, write_artifacts=write_artifacts)

