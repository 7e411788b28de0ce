"""The life of one trial: claim a place, sample, run the stage's objective, log a nested MLflow run.

Every trial gets a child run of the invocation's parent run, with tags ``opt.stage``, ``opt.study``,
``opt.trial_number`` and ``opt.trial_state`` (COMPLETE, PRUNED, FAIL). The run is closed whatever
happens: FINISHED for complete and pruned trials, FAILED when the objective raised (the error is
recorded as tag ``opt.error`` and trial attribute ``error``), KILLED on Ctrl-C / SIGTERM (the trial's
``error`` is "interrupted by signal N"). :func:`run_objective` returns the :class:`Outcome` with the run
still open; the loop (:mod:`opt.search.loop`) records it in Optuna first and closes the run after, so
MLflow never shows a finished run for a trial Optuna has not recorded. Every run gets its params,
metrics and ``config.yaml``; the stage's heavier files (images, event and trade tables) only where
``tracking.trial_artifacts`` says (:func:`keeps_artifacts`: by default a trial among the study's best
so far, ``tracking.trial_artifacts_top_k`` but at least ``promote.pbo.top_k``).

Before anything else a trial records its worker (``worker`` = ``"host:pid"``, ``worker_start``; see
:mod:`opt.search.recovery`) and checks the study's target: when other workers already started or
finished ``search.n_trials`` trials with lower numbers that are not FAIL, the trial is abandoned
(:class:`TrialAbandoned`): it becomes FAIL with user attribute ``abandoned`` and no params and no
MLflow run, so the study never overshoots its target.
"""

from __future__ import annotations

import logging
import math
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml
from omegaconf import DictConfig
from optuna.trial import TrialState

from opt.backtest import EPOCH_STEP_OFFSET
from opt.models import ReportFn
from opt.schema import RunTag, TrialAttr
from opt.search.recovery import identity
from opt.search.signals import GracefulStop
from opt.secrets import masked_container
from opt.stages import PreparedMarket, Stage, StagePlan, TrialContext, TrialPrunedWithReason
from opt.stages.base import ArtifactWriter
from opt.studies import direction_sign, load_study
from opt.studies.index import trials_of
from opt.studies.selection import stage2_sharpes, trials_tried
from opt.tracking import Tracker
from opt.tracking.artifacts import flatten_config

__all__ = ["StudyContext", "TrialAbandoned", "Outcome", "run_objective", "claim", "keeps_artifacts", "best_so_far",
           "write_trial_config", "selection_bias", "DATA_SECTIONS", "LIVE_STATES"]

log = logging.getLogger(__name__)

#: config sections logged as params of every trial (the values that shape the data and the model)
DATA_SECTIONS = ("data", "instrument", "levels", "events", "outcome", "features", "split", "model")
#: trial states that hold a place towards the study's target (finished or in flight)
LIVE_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


class TrialAbandoned(Exception):
    """The study's target was reached by other workers before this trial started (recorded as FAIL)."""


@dataclass
class StudyContext:
    """What every trial of one invocation shares (built once per study)."""

    stage: Stage
    plan: StagePlan
    study_label: str
    market: PreparedMarket
    tracker: Tracker
    parent_run_id: str
    cache: dict[str, Any] = field(default_factory=dict)
    stop: GracefulStop = field(default_factory=GracefulStop)  # SIGTERM/SIGINT interrupt only the objective

    @property
    def cfg(self) -> DictConfig:
        """The base config of every trial (the plan's)."""
        return self.plan.cfg


def claim(trial: optuna.Trial, target: int) -> None:
    """Record this process on ``trial`` and check that the trial fits in the study's target.

    Raises:
        TrialAbandoned: ``target`` trials with lower numbers are finished or running.
    """
    worker, started = identity()
    trial.set_user_attr(TrialAttr.WORKER, worker)
    if started is not None:
        trial.set_user_attr(TrialAttr.WORKER_START, started)
    live = trials_of(trial.study, LIVE_STATES)
    if len(live) < target:  # fewer than ``target`` trials in all: none to count (the loop at 50,000)
        return
    ahead = sum(1 for t in live if t.number < trial.number)
    if ahead >= target:
        reason = f"{ahead} earlier trials finished or running reach search.n_trials={target}"
        trial.set_user_attr(TrialAttr.ABANDONED, reason)
        raise TrialAbandoned(reason)


def selection_bias(sc: StudyContext, study: optuna.Study) -> tuple[int, np.ndarray]:
    """``(N, sharpes)`` of :attr:`opt.stages.base.TrialContext.selection` for a trial of ``study``.

    ``N`` = the trials this stage's study tried so far (this one included) + the trials the family's
    stage-1 study tried (counted once per process, when a stage-2 trial first asks: stage 1 is over
    when stage 2 runs; a stage-1 study resumed meanwhile is counted by the next invocation and by
    ``promote``). ``sharpes``: :func:`opt.studies.selection.stage2_sharpes` of ``study``.
    """
    if sc.stage.id == 2 and "stage1_tried" not in sc.cache:
        sc.cache["stage1_tried"] = trials_tried(load_study(sc.cfg, 1))
    earlier = int(sc.cache.get("stage1_tried", 0)) if sc.stage.id == 2 else 0
    return trials_tried(study) + earlier, stage2_sharpes(study)


def _pruning_report(trial: optuna.Trial) -> ReportFn:
    """``report(step, value)`` onto ``trial``; raises ``optuna.TrialPruned`` when the pruner says so."""

    def report(step: int, value: float) -> None:
        trial.report(value, step)
        if trial.should_prune():
            where = (f"after fold {step}" if step < EPOCH_STEP_OFFSET
                     else f"at fold {step // EPOCH_STEP_OFFSET - 1} epoch {step % EPOCH_STEP_OFFSET}")
            raise optuna.TrialPruned(f"pruned {where}: reported {value:.4g}")

    return report


def keeps_artifacts(sc: StudyContext, trial: optuna.Trial, values: tuple[float, ...] | None) -> bool:
    """Whether a trial logs its stage's heavy artifacts (``tracking.trial_artifacts``).

    ``all``: every trial; ``none``: no trial; ``top`` (default): a COMPLETE trial (``values`` given) whose
    first objective ranks among the K best COMPLETE trials of the study when it finishes (ties count for
    it). A trial among the final K best was among the K best when it finished, so the study's best K
    trials always have them; K is ``tracking.trial_artifacts_top_k``, at least ``promote.pbo.top_k`` (the
    trials whose ``trades.parquet`` promote reads). Pruned and failed trials keep none under ``top``.
    ``config.yaml``, params, metrics and tags are logged whatever this says.
    """
    policy = str(sc.cfg.tracking.trial_artifacts)
    if policy != "top":
        return policy == "all"
    if values is None:
        return False
    k = max(int(sc.cfg.tracking.trial_artifacts_top_k), int(sc.cfg.promote.pbo.top_k))
    sign, mine = direction_sign(trial.study), values[0]
    better = 0
    for t in trials_of(trial.study, (TrialState.COMPLETE,)):
        if t.values and sign * t.values[0] > sign * mine:
            better += 1
            if better >= k:
                return False
    return True


def best_so_far(trial: optuna.Trial, values: tuple[float, ...]) -> bool:
    """No COMPLETE trial of the study has a better first objective than ``values`` (ties count for it)."""
    sign = direction_sign(trial.study)
    return not any(t.values and sign * t.values[0] > sign * values[0]
                   for t in trials_of(trial.study, (TrialState.COMPLETE,)))


def _chained(first: ArtifactWriter, then: ArtifactWriter) -> ArtifactWriter:
    def write(folder: Path) -> None:
        first(folder)
        then(folder)

    return write


def write_trial_config(cfg: DictConfig, folder: Path) -> Path:
    """Write ``config.yaml`` as :func:`opt.tracking.artifacts.write_config` does (resolved, passwords masked).

    One ``to_container`` and a plain YAML dump, without OmegaConf's own YAML round trip: ~15 ms instead
    of ~85 ms on a trial's config (it runs for every trial).
    """
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path = folder / "config.yaml"
    path.write_text(yaml.dump(masked_container(cfg), Dumper=dumper, sort_keys=False,
                              default_flow_style=False, allow_unicode=True))
    return path


def _log_result(sc: StudyContext, run_id: str, metrics: dict[str, float], steps: dict[str, list[float]],
                write_artifacts: ArtifactWriter | None, cfg: DictConfig, tags: dict[str, str],
                params: dict[str, Any]) -> None:
    # per-fold series go to the trial's per_fold.csv (opt.backtest.report), not into the run's metrics,
    # where MLflow would show each one's last fold as if it were the trial's result
    del steps
    sc.tracker.log(run_id, params=params, metrics=metrics, tags=tags)  # one batch: one store transaction, not three
    with tempfile.TemporaryDirectory(prefix="opt-artifacts-") as tmp:
        folder = Path(tmp)
        write_trial_config(cfg, folder)
        if write_artifacts is not None:
            write_artifacts(folder)
        sc.tracker.log_artifacts(run_id, folder)


@dataclass
class Outcome:
    """What a trial came to, before anything is recorded (the loop tells Optuna, then closes the run).

    Attributes:
        state: COMPLETE, PRUNED or FAIL.
        values: the objective values of a COMPLETE trial.
        run_id: the trial's MLflow run (None when abandoned before it had one).
        run_status: FINISHED, FAILED or KILLED: how to close the run.
        interrupt: a stop signal to re-raise once the outcome is recorded.
    """

    state: TrialState
    values: tuple[float, ...] | None = None
    run_id: str | None = None
    run_status: str = "FINISHED"
    interrupt: BaseException | None = None


def run_objective(sc: StudyContext, trial: optuna.Trial) -> Outcome:
    """Run one trial of the stage on ``trial``, tracked in MLflow; return its outcome, run still open.

    The caller records the outcome in Optuna first and closes the run after (:mod:`opt.search.loop`),
    so a process killed in between leaves Optuna's record and the run consistent after recovery.

    Returns:
        COMPLETE with the values; PRUNED (pruner or stage guard: run to close FINISHED); FAIL when the
        objective raised or returned a non-finite value (run FAILED), when the trial was abandoned
        (no run), or on a stop signal (run KILLED, ``interrupt`` set).
    """
    try:
        claim(trial, int(sc.cfg.search.n_trials))
    except TrialAbandoned:
        return Outcome(TrialState.FAIL, run_id=None)
    params, cfg = sc.stage.sample(trial, sc.cfg)
    tags = {RunTag.STAGE: str(sc.stage.id), RunTag.STUDY: sc.study_label, RunTag.TRIAL_NUMBER: str(trial.number),
            RunTag.ROLE: "trial", **sc.plan.tags}
    run_id = sc.tracker.start_run(name=f"stage{sc.stage.id}-trial-{trial.number:04d}", tags=tags,
                                  parent_run_id=sc.parent_run_id)
    trial.set_user_attr(TrialAttr.MLFLOW_RUN_ID, run_id)
    trial.set_user_attr(TrialAttr.CONFIG_PARAMS, params)  # config values (offsets resolved), read by stage 2
    # the run's params go in one batch with its outcome (every path below logs them): a store transaction
    # less per trial; a trial killed with SIGKILL mid-objective keeps its params in Optuna, not in its run
    run_params = {**flatten_config(cfg, DATA_SECTIONS), **params}
    report = _pruning_report(trial) if len(sc.plan.directions) == 1 else None
    ctx = TrialContext(market=sc.market, number=trial.number, cache=sc.cache, report=report,
                       selection=lambda: selection_bias(sc, trial.study))
    try:
        with sc.stop.interruptible():
            result = sc.stage.objective(ctx, cfg)
        values = tuple(float(result.metrics.get(name, math.nan)) for name in sc.plan.objectives)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"objective {sc.plan.objectives} is not finite ({values}); metrics: {result.metrics}")
        writer = result.write_artifacts if keeps_artifacts(sc, trial, values) else None
        if writer is not None and result.write_best is not None and best_so_far(trial, values):
            writer = _chained(writer, result.write_best)
        _log_result(sc, run_id, result.metrics, result.step_metrics, writer, cfg,
                    {RunTag.TRIAL_STATE: "COMPLETE", **result.tags}, run_params)
        trial.set_user_attr(TrialAttr.METRICS, {k: float(v) for k, v in result.metrics.items()})
        for name, value in result.constraints.items():  # Optuna's feasibility (<= 0): best_trial, TPE, NSGA-II
            trial.set_constraint(name, value)
        return Outcome(TrialState.COMPLETE, values=values, run_id=run_id)
    except TrialPrunedWithReason as pruned:
        _log_result(sc, run_id, pruned.metrics, {}, pruned.write_artifacts if keeps_artifacts(sc, trial, None) else None,
                    cfg, {RunTag.TRIAL_STATE: "PRUNED", RunTag.PRUNE_REASON: pruned.reason}, run_params)
        trial.set_user_attr(TrialAttr.PRUNE_REASON, pruned.reason)
        trial.set_user_attr(TrialAttr.METRICS, {k: float(v) for k, v in pruned.metrics.items()})
        return Outcome(TrialState.PRUNED, run_id=run_id)
    except optuna.TrialPruned as pruned:  # raised by the pruner through report()
        reason = str(pruned) or "pruner"
        sc.tracker.log(run_id, params=run_params, tags={RunTag.TRIAL_STATE: "PRUNED", RunTag.PRUNE_REASON: reason})
        trial.set_user_attr(TrialAttr.PRUNE_REASON, reason)
        return Outcome(TrialState.PRUNED, run_id=run_id)
    except (KeyboardInterrupt, SystemExit) as stop:
        message = f"interrupted by {stop}" if str(stop) else "interrupted"
        trial.set_user_attr(TrialAttr.ERROR, message)
        sc.tracker.log(run_id, params=run_params, tags={RunTag.TRIAL_STATE: "FAIL", RunTag.ERROR: message})
        return Outcome(TrialState.FAIL, run_id=run_id, run_status="KILLED", interrupt=stop)
    except Exception as exc:  # noqa: BLE001 - a failed trial is recorded and the study goes on
        message = f"{type(exc).__name__}: {exc}"
        trial.set_user_attr(TrialAttr.ERROR, message[:2000])
        sc.tracker.log(run_id, params=run_params, tags={RunTag.TRIAL_STATE: "FAIL", RunTag.ERROR: message[:5000],
                                                         RunTag.TRACEBACK: traceback.format_exc()[-5000:]})
        log.warning("trial %d failed: %s", trial.number, message[:500])
        return Outcome(TrialState.FAIL, run_id=run_id, run_status="FAILED")
