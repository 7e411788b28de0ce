"""One home for the codes and keys that several packages share (vectorbt's ``portfolio/enums.py`` habit).

- Label codes of level-touch events (DESIGN §5): ``BREAK=0``, ``BOUNCE=1``, ``CHOP=2``; probability
  arrays are ``(n, 3)`` in that column order.
- :data:`TRADING_DAYS_PER_YEAR`: the annualization of daily Sharpe ratios and the synthetic calendar.
- Optuna trial user-attribute keys (:class:`TrialAttr`) and MLflow run tag keys (:class:`RunTag`)
  that the search writes and ``list``, ``show``, ``promote`` and recovery read back.

Plain module constants only: importing this module imports nothing else.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BREAK", "BOUNCE", "CHOP", "LABEL_CODES", "CLASS_NAMES", "N_CLASSES", "TRADING_DAYS_PER_YEAR",
           "TrialAttr", "RunTag"]

BREAK: Final = 0
"""Price went through the level by the outcome threshold first (DESIGN §5)."""
BOUNCE: Final = 1
"""Price moved away from the level on the approach side by the threshold first."""
CHOP: Final = 2
"""Neither barrier within the label window."""
CLASS_NAMES: Final[tuple[str, ...]] = ("BREAK", "BOUNCE", "CHOP")
"""Class names in code order."""
LABEL_CODES: Final[dict[str, int]] = {name: code for code, name in enumerate(CLASS_NAMES)}
"""Class name -> code."""
N_CLASSES: Final = 3

TRADING_DAYS_PER_YEAR: Final = 252
"""Trading days per year: ``sharpe = sqrt(252) x mean / std`` of daily PnL."""


class TrialAttr:
    """Keys of the Optuna user attributes every trial records."""

    MLFLOW_RUN_ID: Final = "mlflow_run_id"
    """The trial's MLflow run id."""
    CONFIG_PARAMS: Final = "config_params"
    """Sampled values by config path (offsets resolved), read by stage 2 and promote."""
    METRICS: Final = "metrics"
    """All metrics of a finished trial (so ``list`` needs no MLflow call)."""
    ERROR: Final = "error"
    """Why a trial failed."""
    PRUNE_REASON: Final = "prune_reason"
    """Why a trial was pruned."""
    ABANDONED: Final = "abandoned"
    """Set when the study's target was reached elsewhere before the trial started (trial is FAIL)."""
    WORKER: Final = "worker"
    """``host:pid`` of the process running the trial."""
    WORKER_START: Final = "worker_start"
    """That process's start time (tells a reused pid apart)."""


class RunTag:
    """Keys of the MLflow run tags opt writes."""

    STAGE: Final = "opt.stage"
    STUDY: Final = "opt.study"
    ROLE: Final = "opt.role"
    """``parent``, ``trial`` or ``promote``."""
    TRIAL_NUMBER: Final = "opt.trial_number"
    TRIAL_STATE: Final = "opt.trial_state"
    ERROR: Final = "opt.error"
    TRACEBACK: Final = "opt.traceback"
    PRUNE_REASON: Final = "opt.prune_reason"
    OPTUNA_STUDY: Final = "opt.optuna_study"
    STORAGE: Final = "opt.storage"
    DATA_FINGERPRINT: Final = "opt.data_fingerprint"
    GIT_COMMIT: Final = "opt.git_commit"
    HOST: Final = "opt.host"
    HOST_START: Final = "opt.host_start"
    WORKERS: Final = "opt.workers"
    BEST_TRIAL: Final = "opt.best_trial"
    STAGE1_RUN: Final = "opt.stage1_run"
    STAGE1_FILE: Final = "opt.stage1_file"
    STAGE1_TRIAL: Final = "opt.stage1_trial"
    STAGE1_DATA_FINGERPRINT: Final = "opt.stage1_data_fingerprint"
    """The data fingerprint of the stage-1 result a stage-2 study was planned from."""
    MIN_TRADES_PENALTY: Final = "opt.min_trades_penalty"
    REGIME_CONCENTRATED: Final = "opt.regime_concentrated"
    """Set on a stage-2 trial whose profit comes from one regime slice (:func:`opt.backtest.regimes.concentration`)."""
    PARENT_RUN_ID: Final = "mlflow.parentRunId"
    """MLflow's own tag on nested runs."""
