"""Trials of a study as plain rows: what ``list`` tabulates and ``show`` details.

Rows come from the Optuna study (user attributes ``metrics``, ``config_params``, ``mlflow_run_id``
written by every trial), so listing needs no MLflow call.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from opt.errors import ConfigError, StageError
from opt.search.results import best_record
from opt.search.storage import describe_storage, make_storage, study_name_for

__all__ = ["stage_of", "open_study", "trial_row", "select_rows", "pick_trial"]


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


def open_study(cfg: DictConfig, stage: int) -> optuna.Study:
    """Load ``<study>-stage<stage>`` from ``search.storage``.

    Raises:
        StageError: the study does not exist (names the storage and the command that creates it).
    """
    name = study_name_for(cfg, stage)
    try:
        return optuna.load_study(study_name=name, storage=make_storage(cfg))
    except KeyError:
        raise StageError(f"no study '{name}' in {describe_storage(cfg)}: run it first "
                         f"(python -m opt run +stage={stage} search.study_name={cfg.search.study_name})") from None


def trial_row(trial: FrozenTrial, stage: int) -> dict[str, Any]:
    """One trial as ``{stage, trial, state, score, values, run_id, metrics, params, ...}``."""
    values = list(trial.values) if trial.values is not None else []
    return {
        "stage": stage, "trial": trial.number, "state": trial.state.name,
        "score": float(values[0]) if values else math.nan, "values": [float(v) for v in values],
        "run_id": trial.user_attrs.get("mlflow_run_id"),
        "metrics": dict(trial.user_attrs.get("metrics", {})),
        "params": dict(trial.user_attrs.get("config_params", trial.params)),
        "started": trial.datetime_start.isoformat() if trial.datetime_start else None,
        "completed": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
        "duration_s": trial.duration.total_seconds() if trial.duration else None,
        "note": trial.user_attrs.get("prune_reason") or trial.user_attrs.get("error"),
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
    sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
    rows = [trial_row(t, stage) for t in study.get_trials(deepcopy=False) if t.state.name in states]
    if min_trades is not None:
        rows = [r for r in rows if r["metrics"].get("n_trades", -math.inf) >= float(min_trades)]
    rows.sort(key=lambda r: (math.isnan(r["score"]), -sign * (0.0 if math.isnan(r["score"]) else r["score"])))
    return rows if top is None else rows[: int(top)]


def pick_trial(study: optuna.Study, number: int | None) -> FrozenTrial:
    """Trial ``number``, or the best complete trial.

    Raises:
        StageError: no such trial, or no complete trial when ``number`` is None.
    """
    if number is None:
        record = best_record(study)
        if record is None:
            raise StageError(f"study '{study.study_name}' has no complete trial; pass inspect.trial=N")
        number = int(record["trial"])
    for t in study.get_trials(deepcopy=False):
        if t.number == int(number):
            return t
    raise StageError(f"study '{study.study_name}' has no trial {number} (it has {len(study.trials)} trials)")
