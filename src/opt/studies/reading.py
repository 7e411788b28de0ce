"""Reading studies back: open one, rank its trials, pick one, the best record.

Rows come from the Optuna study alone (user attributes :class:`opt.schema.TrialAttr` written by every
trial), so reading needs no MLflow call. In a multi-objective study "best" means the Pareto-front trial
with the best first objective, and ranking uses the first objective in its direction.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from opt.errors import StageError
from opt.schema import TrialAttr
from opt.studies.storage import describe_storage, make_storage, study_name_for

__all__ = ["FINISHED_STATES", "load_study", "open_study", "direction_sign", "ranked_trials", "best_trial",
           "pick_trial", "best_record"]

FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
"""Trial states that count towards a study's target of finished trials."""


def load_study(cfg: DictConfig, stage: int) -> optuna.Study | None:
    """``<search.study_name>-stage<stage>`` from ``search.storage``, or None when it does not exist."""
    try:
        return optuna.load_study(study_name=study_name_for(cfg, stage), storage=make_storage(cfg))
    except KeyError:
        return None


def open_study(cfg: DictConfig, stage: int) -> optuna.Study:
    """``<search.study_name>-stage<stage>`` from ``search.storage``.

    Raises:
        StageError: the study does not exist (names the storage and the command that creates it).
    """
    study = load_study(cfg, stage)
    if study is None:
        raise StageError(f"no study '{study_name_for(cfg, stage)}' in {describe_storage(cfg)}: run stage {stage} first "
                         f"(python -m opt run +stage={stage} search.study_name={cfg.search.study_name} ...)")
    return study


def direction_sign(study: optuna.Study) -> float:
    """+1 when the study's first objective is maximized, -1 when minimized."""
    return 1.0 if study.directions[0] == StudyDirection.MAXIMIZE else -1.0


def ranked_trials(study: optuna.Study, states: tuple[TrialState, ...] = (TrialState.COMPLETE,)
                  ) -> list[FrozenTrial]:
    """Trials in ``states``, best first (first objective in its direction); trials without a value last."""
    sign = direction_sign(study)

    def key(t: FrozenTrial) -> tuple[bool, float]:
        value = float(t.values[0]) if t.values else math.nan
        return (math.isnan(value), -sign * (0.0 if math.isnan(value) else value))

    return sorted(study.get_trials(deepcopy=False, states=states), key=key)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best complete trial (multi-objective: the Pareto-front trial with the best first objective)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    if len(study.directions) == 1:
        return study.best_trial
    sign = direction_sign(study)
    return max(study.best_trials, key=lambda t: sign * float(t.values[0]))


def pick_trial(study: optuna.Study, number: int | None, *, complete: bool = False) -> FrozenTrial:
    """Trial ``number``, or the best complete trial when ``number`` is None.

    Args:
        study: the study.
        number: a trial number, or None for the best.
        complete: refuse a trial that is not COMPLETE or has no MLflow run (what ``promote`` needs).

    Raises:
        StageError: no complete trial, no such trial, or (``complete``) a trial that is not COMPLETE or
            has no MLflow run.
    """
    if number is None:
        best = best_trial(study)
        if best is None:
            raise StageError(f"study '{study.study_name}' has no complete trial yet"
                             + ("" if complete else "; pass inspect.trial=N"))
        number = best.number
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == int(number)), None)
    if trial is None:
        raise StageError(f"study '{study.study_name}' has no trial {number} "
                         f"(it has {len(study.get_trials(deepcopy=False))} trials)")
    if complete and trial.state != TrialState.COMPLETE:
        raise StageError(f"trial {number} of '{study.study_name}' is {trial.state.name}; promote a COMPLETE "
                         "trial (python -m opt list shows them)")
    if complete and not trial.user_attrs.get(TrialAttr.MLFLOW_RUN_ID):
        raise StageError(f"trial {number} of '{study.study_name}' has no MLflow run "
                         f"(user attr {TrialAttr.MLFLOW_RUN_ID})")
    return trial


def best_record(study: optuna.Study) -> dict[str, Any] | None:
    """The best complete trial as a plain dict (None when the study has none).

    Keys: ``optuna_study``, ``trial``, ``score`` (first objective), ``values``, ``mlflow_run_id``,
    ``params`` (config paths -> values), ``metrics``, ``n_trials``, ``n_complete``.
    """
    best = best_trial(study)
    if best is None:
        return None
    return {
        "optuna_study": study.study_name,
        "trial": best.number,
        "score": float(best.values[0]),
        "values": [float(v) for v in best.values],
        TrialAttr.MLFLOW_RUN_ID: best.user_attrs.get(TrialAttr.MLFLOW_RUN_ID),
        "params": dict(best.user_attrs.get(TrialAttr.CONFIG_PARAMS, best.params)),
        "metrics": dict(best.user_attrs.get(TrialAttr.METRICS, {})),
        "n_trials": len(study.get_trials(deepcopy=False)),
        "n_complete": len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))),
    }
