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

import optuna
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial

from opt.errors import ConfigError, StageError
from opt.schema import RunTag, TrialAttr
from opt.studies import load_study, open_study, pick_trial
from opt.studies.selection import stage2_sharpes, trials_tried

__all__ = ["TRIAL_SECTIONS", "Studies", "load_studies", "select_trial", "trial_config", "config_hash",
           "trial_trades", "trial_table", "n_trials_run", "stage2_sharpes", "stage1_trial_of",
           "data_fingerprint_of"]

log = logging.getLogger(__name__)

#: config sections that come from the promoted trial's run (everything the trial evaluated)
TRIAL_SECTIONS = ("levels", "events", "outcome", "features", "model", "bracket", "filters", "split", "stage")


@dataclass(frozen=True)
class Studies:
    """The stage-2 study (required) and the stage-1 study (when it is in the same storage)."""

    stage2: optuna.Study
    stage1: optuna.Study | None


def load_studies(cfg: DictConfig) -> Studies:
    """Open ``<study>-stage2`` (and ``<study>-stage1``) in ``search.storage``.

    Raises:
        StageError: no stage-2 study; the message says which command makes it.
    """
    return Studies(stage2=open_study(cfg, 2), stage1=load_study(cfg, 1))


def select_trial(study: optuna.Study, number: int | None) -> FrozenTrial:
    """The trial to promote: ``number``, or the best complete trial (Pareto front: best first objective).

    Raises:
        StageError: no complete trial, or ``number`` is not a complete trial with an MLflow run.
    """
    return pick_trial(study, number, complete=True)


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
        node = OmegaConf.select(trial, section)
        if node is not None:
            out[section] = node
    out.search.seed = OmegaConf.select(trial, "search.seed")
    return out


def config_hash(cfg: DictConfig) -> str:
    """16 hex characters of the SHA-256 of the resolved :data:`TRIAL_SECTIONS` and the seed (lineage)."""
    node = {s: OmegaConf.to_container(cfg[s], resolve=True) for s in TRIAL_SECTIONS if s in cfg}
    node["seed"] = int(cfg.search.seed)
    text = OmegaConf.to_yaml(OmegaConf.create(node), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trial_trades(client: Any, run_id: str) -> pd.DataFrame | None:
    """The ``trades.parquet`` artifact of a stage-2 trial run (walk-forward trades), or None."""
    return trial_table(client, run_id, "trades.parquet")


def trial_table(client: Any, run_id: str, name: str) -> pd.DataFrame | None:
    """A table artifact (``.parquet`` or ``.csv``) of run ``run_id``, or None when it cannot be read (logged)."""
    with tempfile.TemporaryDirectory(prefix="opt-table-") as tmp:
        try:
            path = client.download_artifacts(run_id, name, tmp)
            return pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
        except Exception as exc:  # noqa: BLE001 - a trial without the file is skipped, not fatal
            log.warning("no %s for run %s (%s)", name, run_id, str(exc).splitlines()[0][:200])
            return None


def n_trials_run(studies: Studies, *, count_stage1: bool) -> int:
    """Configurations tried ``N`` for the deflated Sharpe ratio (:func:`opt.studies.selection.trials_tried`):
    every stage-2 trial that ran (COMPLETE, PRUNED, FAIL, RUNNING; abandoned ones excepted), plus stage 1's
    when asked. The search counts the same way for each stage-2 trial's ``deflated_sharpe``."""
    n = trials_tried(studies.stage2)
    return n + trials_tried(studies.stage1) if count_stage1 else n


def stage1_trial_of(studies: Studies, run_id: str | None) -> int | None:
    """Number of the stage-1 trial whose MLflow run is ``run_id`` (lineage), when found."""
    if studies.stage1 is None or not run_id:
        return None
    for t in studies.stage1.get_trials(deepcopy=False):
        if t.user_attrs.get(TrialAttr.MLFLOW_RUN_ID) == run_id:
            return t.number
    return None


def data_fingerprint_of(client: Any, run_id: str) -> str | None:
    """``opt.data_fingerprint`` of the parent run of trial run ``run_id`` (the data the study searched)."""
    run = client.get_run(run_id)
    parent = run.data.tags.get(RunTag.PARENT_RUN_ID)
    if not parent:
        return None
    return client.get_run(parent).data.tags.get(RunTag.DATA_FINGERPRINT)
