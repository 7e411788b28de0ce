"""The life of one trial: sample, run the stage, log a nested MLflow run, close it with the right status.

Every trial gets a child run of the invocation's parent run, with tags ``opt.stage``, ``opt.study``,
``opt.trial_number`` and ``opt.trial_state`` (COMPLETE, PRUNED, FAIL). The run is closed whatever
happens: FINISHED for complete and pruned trials, FAILED when the stage raised (the error is
recorded as tag ``opt.error`` and trial attribute ``error``; Optuna marks the trial FAIL and the study
goes on), KILLED on Ctrl-C / SIGTERM (the trial is FAIL with ``error`` "interrupted by signal N").

Before anything else a trial records its worker (``worker`` = ``"host:pid"``, ``worker_start``; see
:mod:`opt.search.recovery`) and checks the study's target: when other workers already started or
finished ``search.n_trials`` trials with lower numbers that are not FAIL, the trial is abandoned
(:class:`TrialAbandoned`): it becomes FAIL with user attribute ``abandoned`` and no params and no
MLflow run, so the study never overshoots its target.
"""

from __future__ import annotations

import math
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from opt.search.market import PreparedMarket
from opt.search.recovery import WORKER_ATTR, WORKER_START_ATTR, identity
from opt.search.signals import GracefulStop
from opt.search.space import apply_params, suggest
from opt.tracking import Tracker
from opt.tracking.artifacts import flatten_config, write_config

__all__ = ["StudyContext", "TrialResult", "TrialPrunedWithReason", "TrialAbandoned", "make_objective",
           "DATA_SECTIONS", "LIVE_STATES"]

#: config sections logged as params of every trial (the values that shape the data and the model)
DATA_SECTIONS = ("data", "instrument", "levels", "events", "outcome", "features", "split", "model")


@dataclass
class TrialResult:
    """What a stage function returns.

    Attributes:
        metrics: metric name -> value; must contain a finite ``score``.
        write_artifacts: writes the trial's files into the given folder (logged as run artifacts).
        step_metrics: per-fold metrics: name -> values, logged as ``fold_<name>`` with step = fold.
        tags: extra run tags.
    """

    metrics: dict[str, float]
    write_artifacts: Callable[[Path], None] | None = None
    step_metrics: dict[str, list[float]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


#: trial states that hold a place towards the study's target (finished or in flight)
LIVE_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


class TrialAbandoned(Exception):
    """The study's target was reached by other workers before this trial started (recorded as FAIL)."""


class TrialPrunedWithReason(optuna.TrialPruned):
    """Prune a trial, keeping the reason and the metrics computed so far for the record."""

    def __init__(self, reason: str, metrics: dict[str, float] | None = None,
                 write_artifacts: Callable[[Path], None] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.metrics = metrics or {}
        self.write_artifacts = write_artifacts


@dataclass
class StudyContext:
    """What every trial of one invocation shares (built once per study)."""

    cfg: DictConfig
    stage: int
    study_label: str
    market: PreparedMarket
    tracker: Tracker
    parent_run_id: str
    space: Any  # a space mapping, or a callable (trial, cfg) -> (params, trial cfg)
    objectives: tuple[str, ...] = ("score",)  # metric names returned to Optuna (more than one: multi-objective)
    extra_tags: dict[str, str] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    stop: GracefulStop = field(default_factory=GracefulStop)  # SIGTERM/SIGINT interrupt only the stage function


StageFn = Callable[[StudyContext, optuna.Trial, DictConfig], TrialResult]


def _log_result(sc: StudyContext, run_id: str, metrics: dict[str, float], steps: dict[str, list[float]],
                write_artifacts: Callable[[Path], None] | None, cfg: DictConfig) -> None:
    sc.tracker.log(run_id, metrics=metrics, step_metrics={f"fold_{k}": v for k, v in steps.items()})
    with tempfile.TemporaryDirectory(prefix="opt-artifacts-") as tmp:
        folder = Path(tmp)
        write_config(cfg, folder)
        if write_artifacts is not None:
            write_artifacts(folder)
        sc.tracker.log_artifacts(run_id, folder)


def claim(trial: optuna.Trial, target: int) -> None:
    """Record this process on ``trial`` and check that the trial fits in the study's target.

    Raises:
        TrialAbandoned: ``target`` trials with lower numbers are finished or running.
    """
    worker, started = identity()
    trial.set_user_attr(WORKER_ATTR, worker)
    if started is not None:
        trial.set_user_attr(WORKER_START_ATTR, started)
    ahead = sum(1 for t in trial.study.get_trials(deepcopy=False, states=LIVE_STATES) if t.number < trial.number)
    if ahead >= target:
        reason = f"{ahead} earlier trials finished or running reach search.n_trials={target}"
        trial.set_user_attr("abandoned", reason)
        raise TrialAbandoned(reason)


def make_objective(sc: StudyContext, stage_fn: StageFn) -> Callable[[optuna.Trial], float]:
    """Wrap ``stage_fn`` into an Optuna objective that tracks every trial in MLflow."""

    def objective(trial: optuna.Trial) -> float | tuple[float, ...]:
        claim(trial, int(sc.cfg.search.n_trials))
        if callable(sc.space):
            params, cfg = sc.space(trial, sc.cfg)
        else:
            params = suggest(trial, sc.space)
            cfg = apply_params(sc.cfg, params)
        tags = {"opt.stage": str(sc.stage), "opt.study": sc.study_label, "opt.trial_number": str(trial.number),
                "opt.role": "trial", **sc.extra_tags}
        run_id = sc.tracker.start_run(name=f"stage{sc.stage}-trial-{trial.number:04d}", tags=tags,
                                      parent_run_id=sc.parent_run_id)
        trial.set_user_attr("mlflow_run_id", run_id)
        trial.set_user_attr("config_params", params)  # config values (offsets resolved), read by stage 2
        sc.tracker.log(run_id, params={**flatten_config(cfg, DATA_SECTIONS), **params})
        status = "FAILED"
        try:
            with sc.stop.interruptible():
                result = stage_fn(sc, trial, cfg)
            values = tuple(float(result.metrics.get(name, math.nan)) for name in sc.objectives)
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"objective {sc.objectives} is not finite ({values}); metrics: {result.metrics}")
            _log_result(sc, run_id, result.metrics, result.step_metrics, result.write_artifacts, cfg)
            sc.tracker.log(run_id, tags={"opt.trial_state": "COMPLETE", **result.tags})
            trial.set_user_attr("metrics", {k: float(v) for k, v in result.metrics.items()})
            status = "FINISHED"
            return values[0] if len(values) == 1 else values
        except TrialPrunedWithReason as pruned:
            _log_result(sc, run_id, pruned.metrics, {}, pruned.write_artifacts, cfg)
            sc.tracker.log(run_id, tags={"opt.trial_state": "PRUNED", "opt.prune_reason": pruned.reason})
            trial.set_user_attr("prune_reason", pruned.reason)
            trial.set_user_attr("metrics", {k: float(v) for k, v in pruned.metrics.items()})
            status = "FINISHED"
            raise
        except optuna.TrialPruned as pruned:  # raised by a pruner via trial.should_prune()
            sc.tracker.log(run_id, tags={"opt.trial_state": "PRUNED", "opt.prune_reason": str(pruned) or "pruner"})
            trial.set_user_attr("prune_reason", str(pruned) or "pruner")
            status = "FINISHED"
            raise
        except (KeyboardInterrupt, SystemExit) as stop:
            status = "KILLED"
            message = f"interrupted by {stop}" if str(stop) else "interrupted"
            trial.set_user_attr("error", message)
            sc.tracker.log(run_id, tags={"opt.trial_state": "FAIL", "opt.error": message})
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("error", message[:2000])
            sc.tracker.log(run_id, tags={"opt.trial_state": "FAIL", "opt.error": message[:5000],
                                         "opt.traceback": traceback.format_exc()[-5000:]})
            raise
        finally:
            sc.tracker.end_run(run_id, status)

    return objective
