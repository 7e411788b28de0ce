"""What ``promote`` reads from the searches: the stage-2 trial, its exact config, and the studies' trials.

The promoted configuration is the one the stage-2 trial evaluated, read back from its MLflow run's
``config.yaml`` artifact (the stage-1 dataset parameters plus the trial's model and bracket
parameters, the kNN blend weight and the seed). The invocation supplies only where the data and the
stores are (``data``, ``instrument``, ``paths``, ``tracking``, ``search.storage``) and the ``promote``
settings; the data must be the data the study searched (same fingerprint).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from opt.errors import ConfigError, StageError
from opt.search.results import best_record
from opt.search.storage import describe_storage, make_storage, study_name_for

__all__ = ["TRIAL_SECTIONS", "Studies", "load_studies", "select_trial", "trial_config", "config_hash",
           "ranked_trials", "trial_trades", "n_trials_run", "stage2_sharpes", "stage1_trial_of",
           "data_fingerprint_of"]

log = logging.getLogger(__name__)

#: config sections that come from the promoted trial's run (everything the trial evaluated)
TRIAL_SECTIONS = ("levels", "events", "outcome", "features", "model", "bracket", "split", "stage")


@dataclass(frozen=True)
class Studies:
    """The stage-2 study (required) and the stage-1 study (when it is in the same storage)."""

    stage2: optuna.Study
    stage1: optuna.Study | None


def _load(cfg: DictConfig, stage: int) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=study_name_for(cfg, stage), storage=make_storage(cfg))
    except KeyError:
        return None


def load_studies(cfg: DictConfig) -> Studies:
    """Open ``<study>-stage2`` (and ``<study>-stage1``) in ``search.storage``.

    Raises:
        StageError: no stage-2 study; the message says which command makes it.
    """
    stage2 = _load(cfg, 2)
    if stage2 is None:
        raise StageError(f"no study '{study_name_for(cfg, 2)}' in {describe_storage(cfg)}: run stage 2 first "
                         f"(python -m opt run +stage=2 search.study_name={cfg.search.study_name} ...)")
    return Studies(stage2=stage2, stage1=_load(cfg, 1))


def select_trial(study: optuna.Study, number: int | None) -> FrozenTrial:
    """The trial to promote: ``number``, or the best complete trial (Pareto front: best first objective).

    Raises:
        StageError: no complete trial, or ``number`` is not a complete trial of the study.
    """
    if number is None:
        record = best_record(study)
        if record is None:
            raise StageError(f"study '{study.study_name}' has no complete trial to promote")
        number = int(record["trial"])
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    trial = trials.get(int(number))
    if trial is None or trial.state != TrialState.COMPLETE:
        state = "does not exist" if trial is None else f"is {trial.state.name}"
        raise StageError(f"promote.trial={number}: trial {number} of '{study.study_name}' {state}; "
                         "promote a COMPLETE trial (python -m opt list shows them)")
    if not trial.user_attrs.get("mlflow_run_id"):
        raise StageError(f"trial {number} of '{study.study_name}' has no MLflow run (user attr mlflow_run_id)")
    return trial


def trial_config(cfg: DictConfig, client: Any, run_id: str) -> DictConfig:
    """``cfg`` with :data:`TRIAL_SECTIONS` and ``search.seed`` taken from the trial run's config.yaml.

    Raises:
        StageError: the run's ``config.yaml`` artifact cannot be read.
        ConfigError: the invocation's instrument differs from the one the trial traded.
    """
    with tempfile.TemporaryDirectory(prefix="opt-promote-") as tmp:
        try:
            path = client.download_artifacts(run_id, "config.yaml", tmp)
        except Exception as exc:  # noqa: BLE001 - a missing artifact is a store problem for the user
            raise StageError(f"cannot read config.yaml of MLflow run {run_id} ({exc}); is tracking.uri "
                             f"the store the search wrote to?") from exc
        trial = OmegaConf.load(path)
    symbol = OmegaConf.select(trial, "instrument.symbol")
    if symbol is not None and str(symbol) != str(cfg.instrument.symbol):
        raise ConfigError(f"the study traded instrument {symbol}, this invocation has {cfg.instrument.symbol}: "
                          f"pass instrument={str(symbol).lower()}")
    out = cfg.copy()
    OmegaConf.set_struct(out, False)
    for section in TRIAL_SECTIONS:
        if section in trial:
            out[section] = trial[section]
    out.search.seed = trial.search.seed
    return out


def config_hash(cfg: DictConfig) -> str:
    """16 hex characters of the SHA-256 of the resolved :data:`TRIAL_SECTIONS` and the seed (lineage)."""
    node = {s: OmegaConf.to_container(cfg[s], resolve=True) for s in TRIAL_SECTIONS if s in cfg}
    node["seed"] = int(cfg.search.seed)
    text = OmegaConf.to_yaml(OmegaConf.create(node), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ranked_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Complete trials, best first (the first objective in its direction)."""
    sign = 1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1.0
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(complete, key=lambda t: -sign * float(t.values[0]))


def trial_trades(client: Any, run_id: str) -> pd.DataFrame | None:
    """The ``trades.parquet`` artifact of a stage-2 trial run (walk-forward trades), or None."""
    with tempfile.TemporaryDirectory(prefix="opt-trades-") as tmp:
        try:
            return pd.read_parquet(client.download_artifacts(run_id, "trades.parquet", tmp))
        except Exception as exc:  # noqa: BLE001 - a trial without trades is skipped, not fatal
            log.warning("no trades.parquet for run %s (%s)", run_id, str(exc).splitlines()[0][:200])
            return None


def n_trials_run(studies: Studies, *, count_stage1: bool) -> int:
    """Configurations tried: finished (complete or pruned) stage-2 trials, plus stage 1's when asked."""
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    n = len(studies.stage2.get_trials(deepcopy=False, states=states))
    if count_stage1 and studies.stage1 is not None:
        n += len(studies.stage1.get_trials(deepcopy=False, states=states))
    return n


def stage2_sharpes(study: optuna.Study) -> np.ndarray:
    """Annualized walk-forward ``sharpe`` of every complete stage-2 trial (user attr ``metrics``)."""
    values = [t.user_attrs.get("metrics", {}).get("sharpe")
              for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)


def stage1_trial_of(studies: Studies, run_id: str | None) -> int | None:
    """Number of the stage-1 trial whose MLflow run is ``run_id`` (lineage), when found."""
    if studies.stage1 is None or not run_id:
        return None
    for t in studies.stage1.get_trials(deepcopy=False):
        if t.user_attrs.get("mlflow_run_id") == run_id:
            return t.number
    return None


def data_fingerprint_of(client: Any, run_id: str) -> str | None:
    """``opt.data_fingerprint`` of the parent run of trial run ``run_id`` (the data the study searched)."""
    run = client.get_run(run_id)
    parent = run.data.tags.get("mlflow.parentRunId")
    if not parent:
        return None
    return client.get_run(parent).data.tags.get("opt.data_fingerprint")
