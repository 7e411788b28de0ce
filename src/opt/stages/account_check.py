"""The account rules as a stage-2 constraint (``stage.objective.account_constraint``, conf/account).

Every stage-2 trial replays its walk-forward trades (all folds, in exit order) on the account of the
``account`` config group (:mod:`opt.backtest.account`) and records the ``account_*`` metrics, the
table ``account.csv`` and, when the account failed, the run tag ``opt.account_failed_on`` (ISO date).

With ``stage.objective.account_constraint: true`` a trial whose account failed cannot be the best,
by two means that agree:

- its ``score`` is ``stage.objective.penalty`` (metric ``account_penalty`` = 1), so opt's own ranking
  (:func:`opt.studies.reading.ranked_trials`, ``list``, PBO's top-K) puts it with the penalized trials;
- it records the Optuna trial constraint ``account`` = ``-account_min_headroom`` (currency below the
  floor; <= 0 is feasible), so ``study.best_trial`` (hence ``best_stage2.yaml`` and ``promote``) skips
  it and the samplers that read constraints (TPE, NSGA-II, GP in Optuna >= 5) steer away from it. A
  study where every trial failed its account has no best trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from opt.backtest.account import FAILED_ON_TAG, account_report
from opt.errors import ConfigError

__all__ = ["ACCOUNT_CONSTRAINT", "FAILED_ON_TAG", "AccountCheck", "account_check"]

ACCOUNT_CONSTRAINT = "account"
"""The Optuna trial constraint key (value ``-account_min_headroom``, currency; <= 0 feasible)."""


@dataclass(frozen=True)
class AccountCheck:
    """A trial's account evidence.

    Attributes:
        metrics: the ``account_*`` metrics plus ``account_penalty`` (1 when the constraint replaced the
            score); empty when ``account.enabled`` is false.
        table: one row per walk-forward trade in exit order (``account.csv``).
        tags: ``{opt.account_failed_on: ISO date}`` when the account failed.
        constraints: ``{"account": -account_min_headroom}`` when the constraint is on, else empty.
        infeasible: the constraint is on and the account failed: the score must be the penalty.
    """

    metrics: dict[str, float]
    table: pd.DataFrame
    tags: dict[str, str] = field(default_factory=dict)
    constraints: dict[str, float] = field(default_factory=dict)
    infeasible: bool = False


def account_check(cfg: DictConfig, trades: pd.DataFrame, trading_day: np.ndarray) -> AccountCheck:
    """Replay ``trades`` on the configured account and apply ``stage.objective.account_constraint``.

    Args:
        cfg: the trial config (``account``, ``stage.objective.account_constraint``).
        trades: the walk-forward trades (``entry_bar``, ``exit_bar``, ``r_multiple``).
        trading_day: int64 ``(n_bars,)`` trading day code of every bar.

    Raises:
        ConfigError: ``account_constraint`` is true while ``account.enabled`` is false, or a bad
            ``account.*`` value.
    """
    metrics, table, failed_on = account_report(OmegaConf.select(cfg, "account", default=None), trades, trading_day)
    on = bool(OmegaConf.select(cfg, "stage.objective.account_constraint", default=False))
    if on and not metrics:
        raise ConfigError("stage.objective.account_constraint=true needs account.enabled=true (the account metrics)")
    tags = {FAILED_ON_TAG: failed_on} if failed_on else {}
    if not on:
        return AccountCheck(metrics=metrics, table=table, tags=tags)
    infeasible = metrics["account_passed"] < 1
    metrics["account_penalty"] = float(infeasible)
    return AccountCheck(metrics=metrics, table=table, tags=tags, infeasible=infeasible,
                        constraints={ACCOUNT_CONSTRAINT: -float(metrics["account_min_headroom"])})
