"""What a search stage is: the small protocol the runner drives, and what a stage's objective returns.

A stage (:class:`Stage`) has an id, a result file, a plan (the base config after the hand-off from the
previous stage, the objective names and their directions, extra run tags), a sampler of its search
space (``sample(trial, cfg) -> (params, trial cfg)``) and an objective (``objective(ctx, cfg) ->
TrialResult``). Stages are registered by id in :mod:`opt.stages`; :mod:`opt.search` runs any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import optuna
from omegaconf import DictConfig

from opt.models import ReportFn
from opt.stages.market import PreparedMarket

__all__ = ["Stage", "StagePlan", "TrialContext", "TrialResult", "TrialPrunedWithReason", "ArtifactWriter"]

ArtifactWriter = Callable[[Path], None]
"""Writes a trial's files into the given folder (logged as the trial run's artifacts)."""


@dataclass
class TrialResult:
    """What a stage's objective returns.

    Attributes:
        metrics: metric name -> value; must hold a finite value for each of the plan's objectives.
        write_artifacts: writes the trial's files into the given folder (logged as run artifacts).
        step_metrics: per-fold metrics: name -> values, logged as ``fold_<name>`` with step = fold.
        tags: extra run tags.
        constraints: Optuna trial constraints, name -> value (<= 0 feasible), recorded with
            ``trial.set_constraint`` on a COMPLETE trial (e.g. :mod:`opt.stages.account_check`).
        write_best: writes heavy files only when the trial keeps its artifacts and is the best COMPLETE
            trial of its study so far (first objective; e.g. the stage-2 playback page, ~5 MB).
    """

    metrics: dict[str, float]
    write_artifacts: ArtifactWriter | None = None
    step_metrics: dict[str, list[float]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    constraints: dict[str, float] = field(default_factory=dict)
    write_best: ArtifactWriter | None = None


class TrialPrunedWithReason(optuna.TrialPruned):
    """Prune a trial, keeping the reason and the metrics computed so far for the record."""

    def __init__(self, reason: str, metrics: dict[str, float] | None = None,
                 write_artifacts: ArtifactWriter | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.metrics = metrics or {}
        self.write_artifacts = write_artifacts


@dataclass
class TrialContext:
    """What a stage's objective may use besides its trial config.

    Attributes:
        market: the search part of the data and its context (built once per study).
        number: the trial's number in its study.
        cache: a dict that lives as long as the study's process (datasets, ATR series).
        report: ``report(step, value)`` for intermediate values (pruning; may raise
            ``optuna.TrialPruned``), or None when the study cannot prune (several objectives).
        selection: ``selection()`` -> ``(N, sharpes)``: the configurations the study family tried so far,
            this trial included (:func:`opt.studies.selection.trials_tried`), and the annualized
            walk-forward Sharpe ratios of its COMPLETE stage-2 trials, float64 ``(n,)``; for the
            deflated Sharpe ratio during the search. None outside a search.
    """

    market: PreparedMarket
    number: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    report: ReportFn | None = None
    selection: Callable[[], tuple[int, np.ndarray]] | None = None


@dataclass(frozen=True)
class StagePlan:
    """A stage ready to run.

    Attributes:
        cfg: the base config of every trial (the previous stage's best parameters applied).
        objectives: metric names handed to Optuna, in order (more than one: multi-objective).
        directions: ``maximize``/``minimize`` per objective.
        tags: extra tags on the parent and trial runs (lineage of the hand-off).
    """

    cfg: DictConfig
    objectives: tuple[str, ...] = ("score",)
    directions: tuple[str, ...] = ("maximize",)
    tags: dict[str, str] = field(default_factory=dict)


class Stage(Protocol):
    """A search stage (see the module docstring)."""

    id: int
    result_file: str
    """File name of the best trial's record under ``experiments/<study>/``."""

    def plan(self, cfg: DictConfig) -> StagePlan:
        """Check the stage's settings and hand over from the previous stage.

        Raises:
            ConfigError: bad settings (naming the key). StageError: the previous stage's result is missing.
        """
        ...

    def sample(self, trial: optuna.Trial, cfg: DictConfig) -> tuple[dict[str, Any], DictConfig]:
        """Sample the stage's space on ``trial``: (config path -> value, the trial's config)."""
        ...

    def objective(self, ctx: TrialContext, cfg: DictConfig) -> TrialResult:
        """Run one trial on its config.

        Raises:
            TrialPrunedWithReason, optuna.TrialPruned: the trial is pruned. Exception: the trial failed.
        """
        ...
