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

__all__ = ["stage_of", "trial_row", "select_rows"]


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


def select_rows(study: optuna.Study, stage: int, *, states: list[str], min_trades: float | None,
                top: int | None) -> list[dict[str, Any]]:
    """Rows of ``study``'s trials in ``states``, best score first, filtered and cut to ``top``.

    Raises:
        ConfigError: an unknown state name.
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
    if top is not None:
        trials = trials[: int(top)]
    errors = study.user_attrs  # one read: only the rows shown are built (a study may hold 50,000 trials)
    return [trial_row(t, stage, errors) for t in trials]
