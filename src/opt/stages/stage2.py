"""Stage 2: model and OCO bracket parameters on the best stage-1 dataset (DESIGN §7-§9).

The dataset is fixed by the best stage-1 trial and built once (cached on disk with joblib, keyed by
the data fingerprint, the test cut and the dataset sections of the config). Every trial walks forward
over expanding, purged and embargoed folds of the search part (:func:`opt.backtest.evaluate_walk_forward`):
fit on the past, call BREAK/BOUNCE on the fold where the model is confident, turn the calls into OCO
brackets, simulate them with costs, and score the fold. The objective aggregates the per-fold
``objective.metric`` (median by default); a trial with fewer than ``objective.min_trades`` trades
scores ``objective.penalty``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import optuna
from omegaconf import DictConfig, OmegaConf

from opt.backtest import evaluate_walk_forward
from opt.backtest.report import write_walk_forward
from opt.dataset import EventDataset, MarketContext, build_event_dataset
from opt.errors import ConfigError
from opt.schema import RunTag, TrialAttr
from opt.stages.base import StagePlan, TrialContext, TrialResult
from opt.stages.space import apply_params, suggest, validate_space
from opt.studies import best_file, read_best

__all__ = ["BracketStage", "OBJECTIVE_METRICS", "DATASET_SECTIONS", "stage1_handoff", "model_families",
           "family_config", "cached_dataset"]

#: metrics ``stage.objective.metric`` may name (all maximized)
OBJECTIVE_METRICS = frozenset({"sharpe", "net_pnl", "expectancy_r", "profit_factor", "precision_at_80"})
#: metrics minimized when named in ``stage.objective.multi``
MINIMIZED_METRICS = frozenset({"max_drawdown"})
#: config sections that define the event dataset (its cache key with the data fingerprint)
DATASET_SECTIONS = ("levels", "events", "outcome", "features")
KNN_ALPHA = "model.knn_blend.alpha"
"""The kNN blend weight's parameter name when ``stage.knn_blend.search`` is on."""

_AGGREGATES = ("median", "mean", "min")


def _aggregate(name: str, per_fold: np.ndarray) -> float:
    """``stage.objective.aggregate`` of the per-fold values: median, mean or min."""
    if name == "mean":
        return float(np.mean(per_fold))
    if name == "min":
        return float(np.min(per_fold))
    return float(np.median(per_fold))


def stage1_handoff(cfg: DictConfig) -> tuple[dict[str, Any], Path]:
    """Read the best stage-1 result named by ``stage.from_stage1`` (default: the study's file).

    Raises:
        StageError: no stage-1 result; the message says which command to run first.
    """
    explicit = cfg.stage.from_stage1
    path = Path(str(explicit)) if explicit else best_file(cfg, 1)
    hint = ("run stage 1 first: python -m opt run +stage=1 " + " ".join(_data_overrides(cfg))
            + f" search.study_name={cfg.search.study_name}, or pass stage.from_stage1=PATH/best_stage1.yaml")
    return read_best(path, hint=hint), path


def _data_overrides(cfg: DictConfig) -> list[str]:
    out = [] if cfg.data.source == "synthetic" else [f"data={cfg.data.source}", f"data.path={cfg.data.path}"]
    return out + [f"instrument={str(cfg.instrument.symbol).lower()}"]


def model_families(cfg: DictConfig) -> list[str]:
    """The model families stage 2 searches: ``stage.models``, or the chosen ``model`` group when null."""
    return [str(m) for m in cfg.stage.models] if cfg.stage.models else [str(cfg.model.name)]


def family_config(cfg: DictConfig, family: str) -> DictConfig:
    """The model config of ``family``: the chosen ``model`` group (with its overrides) or its default."""
    return cfg.model if family == cfg.model.name else cfg.stage.families[family]


def _objectives(cfg: DictConfig) -> tuple[str, ...]:
    """Check the stage-2 settings; return the objective metric names handed to Optuna.

    Raises:
        ConfigError: naming the bad ``stage.*`` key.
    """
    obj = cfg.stage.objective
    if obj.metric not in OBJECTIVE_METRICS:
        raise ConfigError(f"stage.objective.metric={obj.metric!r} is not one of {sorted(OBJECTIVE_METRICS)}")
    if obj.aggregate not in _AGGREGATES:
        raise ConfigError(f"stage.objective.aggregate={obj.aggregate!r} is not one of {sorted(_AGGREGATES)}")
    models = model_families(cfg)
    unknown = [m for m in models if m not in cfg.stage.families]
    if not models or unknown:
        raise ConfigError(f"stage.models={models} must name model families from {list(cfg.stage.families)}")
    validate_space(cfg.stage.space, cfg, where="stage.space")
    for family in models:
        fcfg = cfg.copy()
        fcfg.model = family_config(cfg, family)
        validate_space(cfg.stage.model_space.get(family) or {}, fcfg, where=f"stage.model_space.{family}")
    if obj.multi:
        names = tuple(str(m) for m in obj.multi)
        allowed = OBJECTIVE_METRICS | MINIMIZED_METRICS
        if len(names) < 2 or any(m not in allowed for m in names):
            raise ConfigError(f"stage.objective.multi={list(names)} needs 2+ metrics from {sorted(allowed)}")
        return names
    return ("score",)


def cached_dataset(ctx: TrialContext, cfg: DictConfig) -> EventDataset:
    """The event dataset of ``cfg``, built once: in memory per study, on disk (joblib) across runs.

    The disk cache lives in ``experiments/cache`` and is keyed by the data fingerprint, the test
    cut and the dataset sections of the config; the market context is not hashed.
    """
    if "dataset" not in ctx.cache:
        key = {s: OmegaConf.to_container(cfg[s], resolve=True) for s in DATASET_SECTIONS}
        memory = joblib.Memory(Path(cfg.paths.experiments) / "cache", verbose=0)
        build = memory.cache(_build, ignore=["market"])
        ctx.cache["dataset"] = build(ctx.market.fingerprint, ctx.market.test_start, key, market=ctx.market.ctx)
    dataset: EventDataset = ctx.cache["dataset"]
    return dataset


def _build(fingerprint: str, test_start: int, dataset_cfg: dict[str, Any], market: MarketContext) -> EventDataset:
    return build_event_dataset(market, OmegaConf.create(dataset_cfg))


class BracketStage:
    """Stage 2 (:class:`opt.stages.base.Stage`): walk-forward bracket backtests of model + bracket configs."""

    id = 2
    result_file = "best_stage2.yaml"

    def plan(self, cfg: DictConfig) -> StagePlan:
        """Fix the dataset from the best stage-1 trial and check the stage-2 settings.

        Raises:
            StageError: no stage-1 result to build on.
            ConfigError: bad stage-2 settings.
        """
        best1, path = stage1_handoff(cfg)
        base = apply_params(cfg, best1["params"])
        objectives = _objectives(base)
        tags = {RunTag.STAGE1_RUN: str(best1.get(TrialAttr.MLFLOW_RUN_ID)), RunTag.STAGE1_FILE: str(path),
                RunTag.STAGE1_TRIAL: str(best1.get("trial")),
                RunTag.STAGE1_DATA_FINGERPRINT: str(best1.get("data_fingerprint", ""))}
        directions = tuple("minimize" if n in MINIMIZED_METRICS else "maximize" for n in objectives)
        return StagePlan(cfg=base, objectives=objectives, directions=directions, tags=tags)

    def sample(self, trial: optuna.Trial, cfg: DictConfig) -> tuple[dict[str, Any], DictConfig]:
        """Sample the model family, its space, the bracket space and (optionally) the kNN blend weight."""
        models = model_families(cfg)
        family = trial.suggest_categorical("model.name", models) if len(models) > 1 else models[0]
        base = cfg.copy()
        base.model = family_config(cfg, family)
        params: dict[str, Any] = {"model.name": family}
        params.update(suggest(trial, cfg.stage.model_space.get(family) or {}))
        params.update(suggest(trial, cfg.stage.space))
        if cfg.stage.knn_blend.search:
            params[KNN_ALPHA] = trial.suggest_float(KNN_ALPHA, 0.0, float(cfg.stage.knn_blend.alpha_high))
        return params, apply_params(base, params)

    def objective(self, ctx: TrialContext, cfg: DictConfig) -> TrialResult:
        """One stage-2 trial: walk-forward evaluation of the sampled model and bracket (module docstring)."""
        obj = cfg.stage.objective
        wf = evaluate_walk_forward(cfg, cached_dataset(ctx, cfg), ctx.market.ctx, objective=str(obj.metric),
                                   report=ctx.report, cache=ctx.cache)
        per_fold = np.asarray(wf.step_metrics[obj.metric], dtype=float)
        metrics = dict(wf.metrics)
        aggregate = _aggregate(str(obj.aggregate), per_fold) if len(per_fold) else float(obj.penalty)
        metrics["score"] = aggregate if metrics["n_trades"] >= int(obj.min_trades) else float(obj.penalty)
        tags = {}
        if metrics["n_trades"] < int(obj.min_trades):
            tags[RunTag.MIN_TRADES_PENALTY] = f"{int(metrics['n_trades'])} < {int(obj.min_trades)}"
        return TrialResult(metrics=metrics, write_artifacts=lambda folder: write_walk_forward(wf, folder),
                           step_metrics=wf.step_metrics, tags=tags)
