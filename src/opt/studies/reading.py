"""Reading studies back: open one, rank its trials, pick one, the best record.

Rows come from the Optuna study alone (user attributes :class:`opt.schema.TrialAttr` written by every
trial), so reading needs no MLflow call. In a multi-objective study "best" means the Pareto-front trial
with the best first objective, and ranking uses the first objective in its direction.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from omegaconf import DictConfig
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from opt.errors import StageError
from opt.schema import TrialAttr
from opt.studies.storage import describe_storage, make_storage, study_name_for

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FINISHED_STATES", "TRIALS_TABLE", "load_study", "open_study", "direction_sign", "ranked_trials",
           "best_trial", "pick_trial", "best_record", "trials_table", "write_trials_table"]

TRIALS_TABLE = "trials.parquet"
"""The artifact of a stage's MLflow parent run that holds :func:`trials_table` (one row per trial)."""

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
    if len(study.directions) == 1:
        try:
            return study.best_trial  # one query on an RDB storage, not every trial
        except ValueError:  # no complete trial
            return None
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
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
    trial: FrozenTrial | None
    if number is None:
        trial = best_trial(study)
        if trial is None:
            raise StageError(f"study '{study.study_name}' has no complete trial yet"
                             + ("" if complete else "; pass inspect.trial=N"))
    else:
        trial = next((t for t in study.get_trials(deepcopy=False) if t.number == int(number)), None)
    if trial is None:
        raise StageError(f"study '{study.study_name}' has no trial {number} "
                         f"(it has {len(study.get_trials(deepcopy=False))} trials)")
    if complete and trial.state != TrialState.COMPLETE:
        raise StageError(f"trial {trial.number} of '{study.study_name}' is {trial.state.name}; promote a COMPLETE "
                         "trial (python -m opt list shows them)")
    if complete and not trial.user_attrs.get(TrialAttr.MLFLOW_RUN_ID):
        raise StageError(f"trial {trial.number} of '{study.study_name}' has no MLflow run "
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


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """Every trial of ``study`` as one row, for a notebook to load a study in one read.

    Columns: ``number``, ``state``, ``value`` (first objective; ``value_<i>`` for the others of a
    multi-objective study), ``datetime_start``, ``datetime_complete``, ``duration_s``, ``mlflow_run_id``,
    ``worker``, ``note`` (prune reason or error), then ``params.<config path>`` (the config values of
    user attribute ``config_params``, Optuna's params otherwise) and ``metrics.<name>`` (user attribute
    ``metrics``). One pass over the trials without copying them (``deepcopy=False``).
    """
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        values = t.values or []
        row: dict[str, Any] = {
            "number": t.number, "state": t.state.name, "value": float(values[0]) if values else math.nan,
            **{f"value_{i}": float(v) for i, v in enumerate(values) if i},
            "datetime_start": t.datetime_start, "datetime_complete": t.datetime_complete,
            "duration_s": t.duration.total_seconds() if t.duration else math.nan,
            "mlflow_run_id": attrs.get(TrialAttr.MLFLOW_RUN_ID), "worker": attrs.get(TrialAttr.WORKER),
            "note": attrs.get(TrialAttr.PRUNE_REASON) or attrs.get(TrialAttr.ERROR),
        }
        row.update({f"params.{k}": v for k, v in (attrs.get(TrialAttr.CONFIG_PARAMS) or t.params).items()})
        row.update({f"metrics.{k}": v for k, v in (attrs.get(TrialAttr.METRICS) or {}).items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in [c for c in table.columns if c.startswith("params.")]:
        if table[col].dtype == object:  # mixed types (e.g. a categorical of numbers and strings): as text
            table[col] = table[col].map(lambda v: v if v is None else str(v))
    return table


def write_trials_table(study: optuna.Study, folder: Path) -> Path:
    """Write :func:`trials_table` of ``study`` to ``folder``/:data:`TRIALS_TABLE` (Parquet); return the path."""
    path = Path(folder) / TRIALS_TABLE
    trials_table(study).to_parquet(path, index=False)
    return path
