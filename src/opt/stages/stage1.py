"""Stage 1: dataset and zone geometry (DESIGN §5-§7).

Each trial samples the stage-1 space (``stage.space``), builds the event dataset of the search part,
holds out its last ``split.eval_fraction`` (purged and embargoed), trains the quick classifier on the
rest and scores the evaluation part with the DESIGN §7 metrics and the composite ``score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
from omegaconf import DictConfig

from opt.dataset import LABELS, build_event_dataset
from opt.evaluation import Fold, single_split
from opt.metrics import label_shares, stage1_metrics
from opt.models.fitting import fit_model, model_input
from opt.stages.base import StagePlan, TrialContext, TrialPrunedWithReason, TrialResult
from opt.stages.space import apply_params, resolve_only_if, suggest, validate_space
from opt.tracking.artifacts import plot_label_distribution, write_events_sample

__all__ = ["DatasetStage", "MIN_TRAIN_EVENTS", "MIN_EVAL_EVENTS"]

MIN_TRAIN_EVENTS = 40
"""Fewest training events of a stage-1 trial (fewer: pruned)."""
MIN_EVAL_EVENTS = 30
"""Fewest evaluation events of a stage-1 trial (fewer: pruned)."""


class DatasetStage:
    """Stage 1 (:class:`opt.stages.base.Stage`): one maximized composite ``score``."""

    id = 1
    result_file = "best_stage1.yaml"

    def plan(self, cfg: DictConfig) -> StagePlan:
        """Resolve the ``only_if`` leaves of ``stage.space`` (e.g. ``outcome=triple_barrier``'s) and check it.

        Raises:
            ConfigError: a bad space entry (naming ``stage.space.<path>``).
        """
        cfg = cfg.copy()
        cfg.stage.space = resolve_only_if(cfg.stage.space, cfg, where="stage.space")
        validate_space(cfg.stage.space, cfg, where="stage.space")
        return StagePlan(cfg=cfg)

    def sample(self, trial: optuna.Trial, cfg: DictConfig) -> tuple[dict[str, Any], DictConfig]:
        """Sample ``stage.space``; the values replace their config paths."""
        params = suggest(trial, cfg.stage.space)
        return params, apply_params(cfg, params)

    def objective(self, ctx: TrialContext, cfg: DictConfig) -> TrialResult:
        """Run one stage-1 trial on the trial config ``cfg``; return its metrics (``score`` included).

        Raises:
            TrialPrunedWithReason: events per day outside the configured range, or too few events in a
                split to fit a model.
        """
        market = ctx.market.ctx
        ds = build_event_dataset(market, cfg)
        y = ds.y
        n_days = ctx.market.n_trading_days
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
        fold: Fold = single_split(bar, label_end, len(market.bars), eval_fraction=float(cfg.split.eval_fraction),
                                  embargo_bars=int(cfg.split.embargo_bars))
        metrics.update({"n_train": float(len(fold.train)), "n_eval": float(len(fold.eval))})
        if len(fold.train) < MIN_TRAIN_EVENTS or len(fold.eval) < MIN_EVAL_EVENTS or len(np.unique(y[fold.train])) < 2:
            raise TrialPrunedWithReason(
                f"too few events to evaluate: {len(fold.train)} to train, {len(fold.eval)} to evaluate "
                f"(need {MIN_TRAIN_EVENTS} and {MIN_EVAL_EVENTS})", metrics, write_artifacts)

        model = fit_model(cfg, ds, market, fold.train)
        proba = model.predict_proba(model_input(ds, market, fold.eval))
        X = ds.features.to_numpy(np.float64)
        metrics.update(stage1_metrics(
            train_X=X[fold.train], train_y=y[fold.train], eval_X=X[fold.eval], eval_y=y[fold.eval],
            proba=proba, weights=cfg.stage.weights, seed=int(cfg.search.seed),
        ))
        return TrialResult(metrics=metrics, write_artifacts=write_artifacts)
