"""Stage 2 objective: model and OCO bracket parameters on the best stage-1 dataset (DESIGN §7-§9).

The dataset is fixed by the best stage-1 trial and built once (cached on disk with joblib, keyed by
the data fingerprint and the dataset parameters). Every trial walks forward over expanding, purged and
embargoed folds of the search part: fit on the past, call BREAK/BOUNCE on the fold where the model is
confident, turn the calls into OCO brackets, simulate them with costs, and score the fold. The
objective aggregates the per-fold ``objective.metric`` (median by default); a trial with fewer than
``objective.min_trades`` trades scores ``objective.penalty``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
from omegaconf import DictConfig, OmegaConf

from opt.errors import ConfigError
from opt.search.results import best_file, read_best, write_best
from opt.search.runner import run_study
from opt.search.space import apply_params, suggest, validate_space
from opt.search.stage2_eval import OBJECTIVE_METRICS, evaluate_walk_forward
from opt.search.trial import StudyContext, TrialResult

__all__ = ["run_stage2", "stage1_handoff", "sample_stage2", "stage2_trial"]

_AGGREGATES = {"median": np.median, "mean": np.mean, "min": np.min}


def stage1_handoff(cfg: DictConfig) -> tuple[dict[str, Any], Path]:
    """Read the best stage-1 result named by ``stage.from_stage1`` (default: the study's file).

    Raises:
        StageError: no stage-1 result; the message says which command to run first.
    """
    explicit = cfg.stage.get("from_stage1")
    path = Path(str(explicit)) if explicit else best_file(cfg, 1)
    hint = ("run stage 1 first: python -m opt run +stage=1 " + " ".join(_data_overrides(cfg))
            + f" search.study_name={cfg.search.study_name}, or pass stage.from_stage1=PATH/best_stage1.yaml")
    return read_best(path, hint=hint), path


def _data_overrides(cfg: DictConfig) -> list[str]:
    out = [] if cfg.data.source == "synthetic" else [f"data={cfg.data.source}", f"data.path={cfg.data.path}"]
    return out + [f"instrument={str(cfg.instrument.symbol).lower()}"]


def _validate(cfg: DictConfig) -> tuple[str, ...]:
    """Check the stage-2 settings; return the objective metric names handed to Optuna."""
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
        bad = [m for m in names if m not in OBJECTIVE_METRICS and m != "max_drawdown"]
        if len(names) < 2 or bad:
            raise ConfigError(f"stage.objective.multi={list(names)} needs 2+ metrics from "
                              f"{sorted(OBJECTIVE_METRICS) + ['max_drawdown']}")
        return names
    return ("score",)


def model_families(cfg: DictConfig) -> list[str]:
    """The model families stage 2 searches: ``stage.models``, or the chosen ``model`` group when null."""
    return [str(m) for m in cfg.stage.models] if cfg.stage.get("models") else [str(cfg.model.name)]


def family_config(cfg: DictConfig, family: str) -> DictConfig:
    """The model config of ``family``: the chosen ``model`` group (with its overrides) or its default."""
    return cfg.model if family == cfg.model.name else cfg.stage.families[family]


def _directions(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("minimize" if n == "max_drawdown" else "maximize" for n in names)


def sample_stage2(trial: optuna.Trial, cfg: DictConfig) -> tuple[dict[str, Any], DictConfig]:
    """Sample the model family, its space, the bracket space and the optional kNN blend weight."""
    models = model_families(cfg)
    family = trial.suggest_categorical("model.name", models) if len(models) > 1 else models[0]
    base = cfg.copy()
    base.model = family_config(cfg, family)
    params: dict[str, Any] = {"model.name": family}
    params.update(suggest(trial, cfg.stage.model_space.get(family) or {}))
    params.update(suggest(trial, cfg.stage.space))
    if cfg.stage.knn_blend.search:
        params["knn_blend.alpha"] = trial.suggest_float("knn_blend.alpha", 0.0, float(cfg.stage.knn_blend.alpha_high))
    model_params = {k: v for k, v in params.items() if k != "knn_blend.alpha"}
    out = apply_params(base, model_params)
    OmegaConf.update(out, "stage.knn_alpha", params.get("knn_blend.alpha", 0.0), force_add=True)
    return params, out


def stage2_trial(sc: StudyContext, trial: optuna.Trial, cfg: DictConfig) -> TrialResult:
    """One stage-2 trial: walk-forward evaluation of the sampled model and bracket (see module doc)."""
    result = evaluate_walk_forward(sc, cfg, trial=trial)
    obj = cfg.stage.objective
    per_fold = np.asarray(result.step_metrics[obj.metric], dtype=float)
    metrics = dict(result.metrics)
    aggregate = float(_AGGREGATES[str(obj.aggregate)](per_fold)) if len(per_fold) else float(obj.penalty)
    metrics["score"] = aggregate if metrics["n_trades"] >= int(obj.min_trades) else float(obj.penalty)
    result.metrics = metrics
    if metrics["n_trades"] < int(obj.min_trades):
        result.tags["opt.min_trades_penalty"] = f"{int(metrics['n_trades'])} < {int(obj.min_trades)}"
    return result


def run_stage2(cfg: DictConfig) -> optuna.Study:
    """``python -m opt run +stage=2``: fix the dataset from stage 1 and search model + brackets.

    Raises:
        StageError: no stage-1 result to build on.
        ConfigError: bad stage-2 settings.
    """
    best1, path = stage1_handoff(cfg)
    base = apply_params(cfg, best1["params"])
    objectives = _validate(base)
    tags = {"opt.stage1_run": str(best1.get("mlflow_run_id")), "opt.stage1_file": str(path),
            "opt.stage1_trial": str(best1.get("trial"))}
    return run_study(
        base, stage=2, stage_fn=stage2_trial, space=sample_stage2, extra_tags=tags,
        directions=_directions(objectives), objectives=objectives,
        on_done=lambda st, sc: write_best(st, sc, "best_stage2.yaml"),
    )
