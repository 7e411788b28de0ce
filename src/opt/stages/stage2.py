"""Stage 2: model and OCO bracket parameters on the best stage-1 dataset (DESIGN §7-§9).

The dataset is fixed by the best stage-1 trial and built once (cached on disk with joblib, keyed by
the data fingerprint, the test cut and the dataset sections of the config). Every trial walks forward
over expanding, purged and embargoed folds of the search part (:func:`opt.backtest.evaluate_walk_forward`):
fit on the past, call BREAK/BOUNCE on the fold where the model is confident, turn the calls into OCO
brackets, simulate them with costs, and score the fold. The objective is ``objective.metric`` combined
over the folds by ``objective.aggregate`` (:func:`objective_score`): ``pooled`` (default) computes the
metric once over all folds' trades and trading days together, e.g. the Sharpe ratio of the
concatenated daily PnL, where a fold without trades adds its days at 0; ``median``/``mean``/``min``
combine the per-fold values. A trial with fewer than ``objective.min_trades`` trades over all folds
scores ``objective.penalty`` and records the metric ``min_trades_penalty`` = 1.

Every trial also records its robustness evidence (``robustness`` config group, :func:`robustness`):
Monte Carlo percentiles ``mc_*`` of the walk-forward (:func:`opt.metrics.monte_carlo`), regime slice
metrics ``regime_*`` and the table ``regimes.csv`` (:mod:`opt.backtest.regimes`), and the run tag
``opt.regime_concentrated`` when the profit comes from one slice; and ``filter_analysis.csv``, its trades
by market context (:mod:`opt.backtest.filters`). ``stage.filter_search.enabled=true`` also searches the
market-context filters (``stage.filter_search.space``; ``filters`` config group, all off by default).

The walk-forward trades are also replayed on the ``account`` config group's prop-firm account
(:mod:`opt.stages.account_check`): metrics ``account_*``, table ``account.csv``; with
``stage.objective.account_constraint=true`` a trial that blows the account scores ``objective.penalty``
and is infeasible for Optuna, so it is never the best.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import optuna
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.backtest import evaluate_walk_forward
from opt.backtest.evaluate import WalkForwardResult, atr_on
from opt.backtest.filters import with_filter_analysis
from opt.backtest.regimes import concentration, regime_labels, regime_metrics, regime_table
from opt.backtest.report import write_walk_forward
from opt.config_rules import cfg_value
from opt.dataset import EventDataset, MarketContext, build_event_dataset
from opt.errors import ConfigError
from opt.metrics import monte_carlo
from opt.playback.artifacts import trial_playback_writer
from opt.schema import RunTag, TrialAttr
from opt.stages.account_check import account_check
from opt.stages.base import StagePlan, TrialContext, TrialResult
from opt.stages.space import apply_params, suggest, validate_space
from opt.studies import best_file, read_best

__all__ = ["BracketStage", "OBJECTIVE_METRICS", "AGGREGATES", "DATASET_SECTIONS", "stage1_handoff",
           "model_families", "family_config", "cached_dataset", "objective_score", "pooled",
           "selection_metrics", "robustness"]

#: metrics ``stage.objective.metric`` may name (all maximized)
OBJECTIVE_METRICS = frozenset({"sharpe", "net_pnl", "expectancy_r", "profit_factor", "precision_at_80"})
#: metrics minimized when named in ``stage.objective.multi``
MINIMIZED_METRICS = frozenset({"max_drawdown"})
#: config sections that define the event dataset (its cache key with the data fingerprint)
DATASET_SECTIONS = ("levels", "events", "outcome", "features")
KNN_ALPHA = "model.knn_blend.alpha"
"""The kNN blend weight's parameter name when ``stage.knn_blend.search`` is on."""

#: values of ``stage.objective.aggregate``: how the walk-forward folds combine into one score
AGGREGATES = ("pooled", "median", "mean", "min")


def _aggregate(name: str, per_fold: np.ndarray) -> float:
    """``median``, ``mean`` or ``min`` of the per-fold values, float ``(n_folds,)``."""
    if name == "mean":
        return float(np.mean(per_fold))
    if name == "min":
        return float(np.min(per_fold))
    return float(np.median(per_fold))


def pooled(metric: str, wf: WalkForwardResult) -> float:
    """``metric`` computed once over all evaluated folds together (``objective.aggregate=pooled``).

    ``sharpe``: annualized Sharpe ratio (sqrt(:data:`opt.schema.TRADING_DAYS_PER_YEAR`) x mean / std,
    ddof 1) of ``wf.daily_pnl``, the daily net PnL of every day of every fold (0 on days without an
    exit, so a fold without trades lowers the mean instead of scoring a fold Sharpe of 0);
    ``net_pnl`` (currency), ``expectancy_r`` (R) and ``profit_factor``: over all folds' trades;
    ``precision_at_80``: correct confident calls / confident calls over all folds (each fold's counts
    are ``coverage_at_80 x n_events`` and ``precision_at_80`` times that).

    Raises:
        KeyError: a metric without a pooled form.
    """
    if metric == "precision_at_80":
        steps = wf.step_metrics
        confident = np.asarray(steps["coverage_at_80"]) * np.asarray(steps["n_events"])
        correct = float(np.sum(np.asarray(steps["precision_at_80"]) * confident))
        return correct / float(confident.sum()) if confident.sum() > 0 else 0.0
    if metric not in ("sharpe", "net_pnl", "expectancy_r", "profit_factor"):
        raise KeyError(f"no pooled form of {metric!r}")
    return float(wf.metrics[metric])


def objective_score(obj: DictConfig, wf: WalkForwardResult) -> tuple[float, bool]:
    """The trial's score from ``stage.objective`` and whether it is the min-trades penalty.

    Args:
        obj: ``stage.objective`` (``metric``, ``aggregate``, ``min_trades``, ``penalty``).
        wf: the trial's walk-forward evaluation.

    Returns:
        ``(score, penalized)``: ``objective.penalty`` and True when the folds together have fewer than
        ``objective.min_trades`` trades; else the ``aggregate`` of ``metric`` (:func:`pooled`, or the
        median/mean/min of the per-fold values) and False.
    """
    if wf.metrics["n_trades"] < int(obj.min_trades):
        return float(obj.penalty), True
    if str(obj.aggregate) == "pooled":
        return pooled(str(obj.metric), wf), False
    return _aggregate(str(obj.aggregate), np.asarray(wf.step_metrics[obj.metric], dtype=float)), False


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
    if obj.aggregate not in AGGREGATES:
        raise ConfigError(f"stage.objective.aggregate={obj.aggregate!r} is not one of {list(AGGREGATES)}")
    models = model_families(cfg)
    unknown = [m for m in models if m not in cfg.stage.families]
    if not models or unknown:
        raise ConfigError(f"stage.models={models} must name model families from {list(cfg.stage.families)}")
    validate_space(cfg.stage.space, cfg, where="stage.space")
    validate_space(OmegaConf.select(cfg, "stage.filter_search.space", default=None) or {}, cfg,
                   where="stage.filter_search.space")
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


def selection_metrics(ctx: TrialContext, cfg: DictConfig, wf: WalkForwardResult) -> dict[str, float]:
    """The trial's deflated Sharpe ratio given everything the study family tried so far.

    ``deflated_sharpe`` and ``psr`` of the walk-forward daily PnL (``wf.daily_pnl``) with ``N`` =
    ``ctx.selection()``'s count (:mod:`opt.studies.selection`: both stages, every invocation and worker,
    failed and pruned trials included; Bailey and Lopez de Prado 2014) and the trial-Sharpe variance of
    the study's COMPLETE trials plus this one; ``dsr_n_trials`` (N) and ``dsr_var_trial_sharpe`` (per
    day squared) beside them. NaN where not computable (fewer than ``promote.dsr.min_days`` days, fewer
    than 2 Sharpe ratios). Empty when the context has no ``selection`` (outside a search).
    """
    if ctx.selection is None:
        return {}
    from opt.promote.guards import dsr

    n_tried, sharpes = ctx.selection()
    own = float(wf.metrics.get("sharpe", np.nan))
    pool = np.append(sharpes, own) if np.isfinite(own) else sharpes
    values = dsr(wf.daily_pnl.to_numpy(np.float64), n_trials=max(1, n_tried), trial_sharpes=pool,
                 min_days=int(cfg.promote.dsr.min_days)).values
    return {"deflated_sharpe": values["deflated_sharpe"], "psr": values["psr"],
            "dsr_n_trials": float(max(1, n_tried)), "dsr_var_trial_sharpe": values["var_trial_sharpe"]}


def robustness(ctx: TrialContext, cfg: DictConfig,
               wf: WalkForwardResult) -> tuple[dict[str, float], pd.DataFrame, str | None]:
    """Monte Carlo and regime evidence of a trial's walk-forward (``robustness`` config group).

    The per-bar regime labels depend on the bracket's ATR timeframe and the regime settings only, so
    they are computed once per study and kept in ``ctx.cache`` under a key of those settings.

    Returns:
        ``(metrics, table, flag)``: the ``mc_*`` metrics (:func:`opt.metrics.monte_carlo` of
        ``wf.daily_pnl`` and the trades' R) and ``regime_*`` metrics
        (:func:`opt.backtest.regimes.regime_metrics`), the regime table written as ``regimes.csv``, and
        the concentration flag (:func:`opt.backtest.regimes.concentration`) or None.

    Raises:
        ConfigError: a missing or out-of-range ``robustness.*`` key.
    """
    mc_node, rg_node = cfg.robustness.montecarlo, cfg.robustness.regimes
    mc = {k: cfg_value(mc_node, k, where="robustness.montecarlo")
          for k in ("n_paths", "block_days", "seed", "ruin_drawdown", "risk_per_trade")}
    r = wf.trades["r_multiple"].to_numpy(np.float64) if len(wf.trades) else np.empty(0)
    metrics = monte_carlo(wf.daily_pnl.to_numpy(np.float64), r, **mc)
    market = ctx.market.ctx
    minutes, period = int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period)
    key = f"regime_labels_{minutes}_{period}_{OmegaConf.to_container(rg_node, resolve=True)}"
    if key not in ctx.cache:
        ctx.cache[key] = regime_labels(market, atr_on(ctx.cache, market, minutes, period), cfg)
    table = regime_table(wf.trades, ctx.cache[key])
    metrics.update(regime_metrics(table))
    max_share = float(cfg_value(rg_node, "max_slice_share", where="robustness.regimes"))
    return metrics, table, concentration(table, max_share)


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
        absent = object()
        missing = [k for k in best1["params"] if OmegaConf.select(cfg, k, default=absent) is absent]
        if missing:
            hint = " (stage 1 labelled with outcome=triple_barrier)" if any(k.startswith("outcome.") for k in missing) \
                else ""
            raise ConfigError(f"{path} sets {', '.join(missing)}, which this config does not have{hint}: pass stage 2 "
                              "the config group choices stage 1 ran with, e.g. outcome=triple_barrier")
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
        if OmegaConf.select(cfg, "stage.filter_search.enabled", default=False):  # market-context filters
            params.update(suggest(trial, cfg.stage.filter_search.space))
        return params, apply_params(base, params)

    def objective(self, ctx: TrialContext, cfg: DictConfig) -> TrialResult:
        """One stage-2 trial: walk-forward evaluation of the sampled model and bracket (module docstring)."""
        obj = cfg.stage.objective
        wf = evaluate_walk_forward(cfg, cached_dataset(ctx, cfg), ctx.market.ctx, objective=str(obj.metric),
                                   report=ctx.report, cache=ctx.cache)
        metrics = dict(wf.metrics)
        score, penalized = objective_score(obj, wf)
        account = account_check(cfg, wf.trades, ctx.market.ctx.calendar.trading_day)  # conf/account
        metrics.update(account.metrics)
        score = float(obj.penalty) if account.infeasible else score
        metrics.update({"score": score, "min_trades_penalty": float(penalized),
                        "n_eval_events": float(np.sum(wf.step_metrics["n_events"]))})
        metrics.update(selection_metrics(ctx, cfg, wf))
        tags = dict(account.tags)
        if penalized:
            tags[RunTag.MIN_TRADES_PENALTY] = f"{int(metrics['n_trades'])} < {int(obj.min_trades)}"
        extra, regimes, flag = robustness(ctx, cfg, wf)
        metrics.update(extra)
        if flag is not None:
            tags[RunTag.REGIME_CONCENTRATED] = flag

        def write(folder: Path) -> None:
            write_walk_forward(wf, folder)
            regimes.to_csv(folder / "regimes.csv", index=False, float_format="%.6g")
            if len(account.table):
                account.table.to_csv(folder / "account.csv", index=False, float_format="%.10g")

        return TrialResult(metrics=metrics,
                           write_artifacts=with_filter_analysis(write, wf.trades, ctx.market.ctx, cfg),
                           step_metrics=wf.step_metrics, tags=tags, constraints=account.constraints,
                           write_best=trial_playback_writer(cfg, ctx.market.ctx, cached_dataset(ctx, cfg), wf.trades,
                                                            ctx.number))  # playback.html (opt.playback.artifacts)
