"""Trials of a study as plain rows: what ``list`` tabulates and ``show`` details.

Rows come from the Optuna study (user attributes ``metrics``, ``config_params``, ``mlflow_run_id``
written by every trial), so listing needs no MLflow call. Opening, ranking and picking trials is
:mod:`opt.studies` (the reading API ``promote`` and the run summary use too).
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from opt.errors import ConfigError
from opt.schema import TrialAttr
from opt.studies import ranked_trials

__all__ = ["LOWER_IS_BETTER", "stage_of", "trial_row", "select_rows", "sort_by_metric"]


def stage_of(cfg: DictConfig) -> int:
    """``inspect.stage``, else the stage chosen with ``+stage=N``, else 2.

    Raises:
        ConfigError: a stage other than 1 or 2.
    """
    stage = cfg.inspect.stage
    if stage is None:
        stage = cfg.stage.id if cfg.get("stage") is not None else 2
    if int(stage) not in (1, 2):
        raise ConfigError(f"inspect.stage must be 1 or 2, got {stage}")
    return int(stage)


def trial_row(trial: FrozenTrial, stage: int, study_errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """One trial as ``{stage, trial, state, score, values, run_id, metrics, params, ...}``."""
    values = list(trial.values) if trial.values is not None else []
    return {
        "stage": stage, "trial": trial.number, "state": trial.state.name,
        "score": float(values[0]) if values else math.nan, "values": [float(v) for v in values],
        "run_id": trial.user_attrs.get(TrialAttr.MLFLOW_RUN_ID),
        "metrics": dict(trial.user_attrs.get(TrialAttr.METRICS, {})),
        "params": dict(trial.user_attrs.get(TrialAttr.CONFIG_PARAMS, trial.params)),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "completed": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
        "duration_s": trial.duration.total_seconds() if trial.duration else None,
        "note": trial.user_attrs.get(TrialAttr.PRUNE_REASON) or trial.user_attrs.get(TrialAttr.ERROR)
        or (study_errors or {}).get(f"trial_error.{trial.number}"),
    }


#: metrics where lower is better: ``inspect.sort`` ranks them ascending (every other metric descending)
LOWER_IS_BETTER = frozenset({"max_drawdown", "brier", "pbo", "mc_risk_of_ruin", "mc_r_risk_of_ruin",
                             "mc_max_drawdown_p5", "mc_max_drawdown_p50", "mc_max_drawdown_p95",
                             "mc_r_max_drawdown_p50", "mc_r_max_drawdown_p95", "regime_max_slice_share"})


def _metric(trial: FrozenTrial, name: str) -> float:
    value = (trial.user_attrs.get(TrialAttr.METRICS) or {}).get(name)
    return float(value) if value is not None else math.nan


def sort_by_metric(trials: list[FrozenTrial], metric: str) -> list[FrozenTrial]:
    """``trials`` ranked by their metric ``metric`` (user attribute ``metrics``), best first.

    Descending, or ascending for :data:`LOWER_IS_BETTER`; trials without a finite value (not computable,
    e.g. a deflated Sharpe ratio before two trials had a Sharpe ratio) come last in their given order.

    Raises:
        ConfigError: no trial has the metric (names the metrics they have).
    """
    values = [_metric(t, metric) for t in trials]
    if trials and not any(metric in (t.user_attrs.get(TrialAttr.METRICS) or {}) for t in trials):
        have = sorted({k for t in trials for k in (t.user_attrs.get(TrialAttr.METRICS) or {})})
        raise ConfigError(f"inspect.sort={metric}: no listed trial has that metric; they have: {', '.join(have)}")
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    order = sorted(range(len(trials)), key=lambda i: (not math.isfinite(values[i]),
                                                      sign * values[i] if math.isfinite(values[i]) else 0.0))
    return [trials[i] for i in order]


def select_rows(study: optuna.Study, stage: int, *, states: list[str], min_trades: float | None,
                top: int | None, sort: str | None = None) -> list[dict[str, Any]]:
    """Rows of ``study``'s trials in ``states``, best first, filtered and cut to ``top``.

    "Best" is the score (:func:`opt.studies.ranked_trials`), or the metric ``sort`` (:func:`sort_by_metric`,
    e.g. ``deflated_sharpe``: the trial's walk-forward Sharpe deflated by every trial the family tried).

    Raises:
        ConfigError: an unknown state name, or a ``sort`` metric no trial has.
    """
    known = {s.name for s in TrialState}
    bad = [s for s in states if s not in known]
    if bad:
        raise ConfigError(f"inspect.states: {bad} are not trial states {sorted(known)}")
    chosen = tuple(s for s in TrialState if s.name in states)
    trials = ranked_trials(study, chosen)
    if min_trades is not None:
        trials = [t for t in trials
                  if (t.user_attrs.get(TrialAttr.METRICS) or {}).get("n_trades", -math.inf) >= float(min_trades)]
    if sort is not None and sort != "score":
        trials = sort_by_metric(trials, sort)
    if top is not None:
        trials = trials[: int(top)]
    errors = study.user_attrs  # one read: only the rows shown are built (a study may hold 50,000 trials)
    return [trial_row(t, stage, errors) for t in trials]
