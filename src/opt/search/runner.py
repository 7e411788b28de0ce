"""``python -m opt run +stage=N``: create or resume the stage's Optuna study and run it to its target.

The stage is looked up by id (:func:`opt.stages.get_stage`) and planned (hand-off from the previous
stage, objectives, directions); the sampler and the pruner are built from their config groups
(``search.sampler``, ``search.pruner``: ``_target_`` entries, :func:`hydra.utils.instantiate`).
``search.n_trials`` is the study's target of finished (complete or pruned) trials, exactly: rerunning
the same command resumes the study and runs only what is missing, and several workers or hosts stop
together at the target (:mod:`opt.search.loop`). One MLflow parent run per invocation, one nested
child run per trial (:mod:`opt.search.trial`). ``search.workers=K`` runs K worker processes
(:mod:`opt.search.workers`); a killed process's trials and runs are closed by the next one
(:mod:`opt.search.recovery`); SIGTERM and Ctrl-C stop gracefully (:mod:`opt.search.signals`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.study import StudyDirection
from optuna.trial import TrialState

from opt.errors import ConfigError
from opt.schema import RunTag, TrialAttr
from opt.search.binding import bind_study, check_handoff, study_binding
from opt.search.grid import fit_target
from opt.search.loop import ConsecutiveFailures, Progress, counts, run_trials
from opt.search.patience import STOP_REASON_TAG, StopRule
from opt.search.recovery import Recovery, identity
from opt.search.signals import GracefulStop
from opt.search.summary import summarize
from opt.search.trial import StudyContext
from opt.search.warm_start import warm_start
from opt.search.workers import (
    WorkerError,
    die_with_launcher,
    is_worker,
    limit_threads,
    run_workers,
    worker_count,
)
from opt.stages import PreparedMarket, Stage, StagePlan, get_stage, prepare_market
from opt.stores import check_stores
from opt.studies import best_record, describe_storage, make_storage, study_name_for, write_best
from opt.studies.reading import write_trials_table
from opt.tracking import Tracker
from opt.tracking.artifacts import write_config
from opt.tracking.lineage import git_commit
from opt.tracking.plots import log_study_plots
from opt.tracking.run_info import log_dataset, parent_run_name, study_params

__all__ = ["run_command", "run_study", "finished_count", "stage_of", "make_sampler", "make_pruner"]

log = logging.getLogger(__name__)


def finished_count(study: optuna.Study) -> int:
    """Trials of ``study`` that count towards its target (complete or pruned)."""
    return counts(study)[0]


def stage_of(cfg: DictConfig) -> int:
    """The stage selected with ``+stage=N``.

    Raises:
        ConfigError: when no stage was selected.
    """
    if cfg.get("stage") is None:
        raise ConfigError("no stage selected: add +stage=1 (dataset search) or +stage=2 (model and brackets)")
    return int(cfg.stage.id)


def _build(key: str, node: DictConfig, **kwargs: Any) -> Any:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        with warnings.catch_warnings():  # options opt chose on purpose (e.g. TPE's group) are not news to the user
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return instantiate(node, **kwargs)
    except InstantiationException as exc:
        raise ConfigError(f"{key} could not be built from its _target_: {exc}") from None


def make_sampler(cfg: DictConfig) -> optuna.samplers.BaseSampler:
    """The sampler of ``search.sampler`` (a ``_target_`` entry), seeded ``search.seed + search.worker_index``.

    Choices (``conf/search/sampler``): tpe (default: multivariate, grouped, constant liar, bounded history:
    :class:`opt.search.samplers.BoundedTPESampler`), tpe_independent,
    gp, cmaes, qmc, random, grid, nsga2. The grid sampler (:class:`opt.search.grid.GridSearchSampler`)
    gets the points declared in the stage space (:func:`opt.search.grid.stage_grid`).

    Raises:
        ConfigError: the sampler cannot be built (naming ``search.sampler``), or a bad grid.
    """
    from opt.search.grid import GridSearchSampler, stage_grid

    kwargs: dict[str, Any] = {"seed": int(cfg.search.seed) + int(cfg.search.worker_index)}
    if str(cfg.search.sampler.get("_target_")) == f"{GridSearchSampler.__module__}.{GridSearchSampler.__name__}":
        kwargs["points"] = stage_grid(cfg)
    sampler: optuna.samplers.BaseSampler = _build("search.sampler", cfg.search.sampler, **kwargs)
    return sampler


def make_pruner(cfg: DictConfig) -> optuna.pruners.BasePruner:
    """The pruner of ``search.pruner`` (a ``_target_`` entry).

    Choices (``conf/search/pruner``): median (default), wilcoxon (fold by fold against the best trial),
    hyperband, none. Pruners act on what a trial reports: stage 2's walk-forward folds and CNN epochs;
    stage 1 reports nothing; multi-objective studies never prune (Optuna's ``Trial.report`` refuses them).

    Raises:
        ConfigError: the pruner cannot be built (naming ``search.pruner``).
    """
    pruner: optuna.pruners.BasePruner = _build("search.pruner", cfg.search.pruner)
    return pruner


def run_study(cfg: DictConfig, stage: Stage) -> optuna.Study:
    """Create or resume the study of ``stage`` and run trials until it holds ``search.n_trials`` finished.

    With ``search.workers=K > 1`` the trials run in K worker processes (:mod:`opt.search.workers`);
    a worker (``tracking.parent_run_id`` set) nests its trial runs under that parent run and leaves
    the parent run, the result file and the summary to its launcher. Every process first recovers
    what dead processes left RUNNING (:mod:`opt.search.recovery`).

    Raises:
        ConfigError, DataError, StageError: bad config, data or hand-off (before any trial runs);
            ConfigError also when ``search.max_consecutive_failures`` trials failed in a row.
        WorkerError: a worker process failed (K > 1).
        KeyboardInterrupt: SIGTERM or Ctrl-C (the current trial is FAIL, its run and the parent KILLED).
    """
    target = int(cfg.search.n_trials)
    if target < 1:
        raise ConfigError(f"search.n_trials must be >= 1, got {target}")
    check_stores(cfg)  # separate databases, a reachable tracking server, free space for new stores: fail fast
    workers = worker_count(cfg)
    plan = stage.plan(limit_threads(cfg))
    stop = GracefulStop()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with stop.installed():
        if is_worker(cfg):
            die_with_launcher()
        market = prepare_market(plan.cfg)
        storage = make_storage(plan.cfg)
        sampler = make_sampler(plan.cfg)
        target = fit_target(plan.cfg, sampler, target)  # the grid: its number of points
        study = optuna.create_study(
            study_name=study_name_for(plan.cfg, stage.id), storage=storage, load_if_exists=True,
            directions=[StudyDirection.MINIMIZE if d == "minimize" else StudyDirection.MAXIMIZE
                        for d in plan.directions], sampler=sampler, pruner=make_pruner(plan.cfg))
        check_handoff(plan.tags.get(RunTag.STAGE1_DATA_FINGERPRINT), market.fingerprint,
                      resume_mismatch=bool(plan.cfg.search.resume_mismatch))
        bind_study(study, study_binding(plan.cfg, stage, market), resume_mismatch=bool(plan.cfg.search.resume_mismatch))
        if not is_worker(cfg):
            warm_start(study, plan.cfg, stage.id)  # search.warm_start: the K best of an earlier study go first
        tracker = Tracker(plan.cfg)
        recover = Recovery(study, storage, tracker, stage.id, float(plan.cfg.search.grace_period))
        recover()
        parent = str(cfg.tracking.parent_run_id) if is_worker(cfg) else tracker.start_run(
            name=parent_run_name(stage.id, str(cfg.search.study_name), len(study.get_trials(deepcopy=False))),
            tags=_parent_tags(plan, stage.id, study, market, workers))
        if not is_worker(cfg):  # the study's settings and its data, shown with the parent run
            tracker.log(parent, params=study_params(plan.cfg))
            log_dataset(tracker, parent, plan.cfg, market)
        sc = StudyContext(stage=stage, plan=plan, study_label=str(cfg.search.study_name), market=market,
                          tracker=tracker, parent_run_id=parent, stop=stop)
        done = counts(study)[0]
        log.info("study %s (%s): %d/%d finished trials; MLflow parent run %s%s", study.study_name,
                 describe_storage(cfg), done, target, parent, f"; {workers} workers" if workers > 1 else "")
        if is_worker(cfg):
            _run_here(sc, study, storage, recover)
            return study
        progress = Progress(target, done, bool(cfg.search.progress), f"stage {stage.id}")
        status = "FAILED"
        try:
            if workers > 1:
                codes = run_workers(cfg, workers=workers, parent_run_id=parent, stop=stop,
                                    on_poll=lambda: progress.update(study))
                recover()  # what a worker that died left behind
                stop.raise_if_requested()
                _check_workers(codes)
            else:
                _run_here(sc, study, storage, recover, progress)
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            progress.close()
            if status == "FINISHED":
                _close_parent(sc, study, status)
            else:  # an error is on its way out: closing must not replace it
                _close_parent_quietly(sc, study, status)
    path = write_best(study, plan.cfg, stage.id, fingerprint=market.fingerprint)
    if path is not None:
        log.info("best trial written to %s", path)
    return study


def _warm_up(cfg: DictConfig) -> None:
    """Pay a process's one-time costs before its first trial, so trial durations are the trials' own.

    Only what this run uses: torch (~2-3 s on a 2-core machine) when a CNN is searched (resolving its
    ``model.device=auto``; XGBoost asks the CUDA driver instead, :func:`opt.models.xgb.gpu_visible`), and
    matplotlib (~1 s) when every trial draws its plots (``tracking.trial_artifacts=all``; with ``top``
    the first trial worth keeping pays it). With K workers every worker pays them.

    Raises:
        ConfigError: a bad ``model.device``.
    """
    stage = cfg.get("stage")
    families = {str(cfg.model.name), *(str(m) for m in ((stage.get("models") if stage is not None else None) or []))}
    if "cnn" in families:
        from opt.models.device import resolve_device

        resolve_device(str(cfg.model.device))
    else:
        from opt.models.xgb import xgb_device

        xgb_device(str(cfg.model.device))
    if str(cfg.tracking.trial_artifacts) == "all":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401


def _run_here(sc: StudyContext, study: optuna.Study, storage: optuna.storages.BaseStorage, recover: Recovery,
              progress: Progress | None = None) -> None:
    """Run this process's trials (the loop of :mod:`opt.search.loop`).

    Raises:
        ConfigError: ``search.max_consecutive_failures`` failed trials in a row.
        KeyboardInterrupt: a stop signal (also one that arrived between trials).
    """
    cfg = sc.cfg
    if counts(study)[0] < int(cfg.search.n_trials):
        _warm_up(cfg)
    failures = ConsecutiveFailures(int(cfg.search.max_consecutive_failures))
    deadline = time.monotonic() + float(cfg.search.timeout) if cfg.search.timeout else None
    until = StopRule(cfg, sc.plan.directions, on_stop=lambda reason: sc.tracker.log(
        sc.parent_run_id, tags={STOP_REASON_TAG: reason}))  # search.patience / search.terminator
    run_trials(sc, study, storage, target=int(cfg.search.n_trials), deadline=deadline, stop=sc.stop,
               recover=recover, callbacks=[progress] if progress else [], failures=failures,
               until=until if until.active else None)
    recover()
    sc.stop.raise_if_requested()
    if failures.tripped:
        raise ConfigError(
            f"stopped after {failures.count} failed trials in a row (search.max_consecutive_failures="
            f"{failures.limit}); the last error: {failures.last_error}")


def _check_workers(codes: list[int]) -> None:
    """Raise when a worker failed.

    Raises:
        WorkerError: naming the workers and their exit statuses.
    """
    bad = {i: c for i, c in enumerate(codes) if c != 0}
    if bad:
        listed = ", ".join(f"worker {i}: status {c}" for i, c in bad.items())
        raise WorkerError(f"{len(bad)} of {len(codes)} workers failed ({listed}); their messages are above. "
                          "Rerun the same command to resume the study.")


def _parent_tags(plan: StagePlan, stage: int, study: optuna.Study, market: PreparedMarket,
                 workers: int) -> dict[str, str]:
    me, started = identity()
    cfg = plan.cfg
    return {RunTag.STAGE: str(stage), RunTag.STUDY: str(cfg.search.study_name), RunTag.ROLE: "parent",
            RunTag.OPTUNA_STUDY: study.study_name, RunTag.STORAGE: describe_storage(cfg),
            RunTag.DATA_FINGERPRINT: market.fingerprint, RunTag.GIT_COMMIT: git_commit(), RunTag.HOST: me,
            RunTag.HOST_START: str(started), RunTag.WORKERS: str(workers), **plan.tags}


def _close_parent_quietly(sc: StudyContext, study: optuna.Study, status: str) -> None:
    """Close the parent run after an error; a failure here is logged, never raised over the first error.

    When the full close fails (e.g. the disk that stopped the study is still full), the run is at least
    marked ``status`` if that still works.
    """
    try:
        _close_parent(sc, study, status)
    except Exception as exc:  # noqa: BLE001 - the first error is what the user needs to see
        log.error("could not close the MLflow parent run %s after the error below: %s: %s", sc.parent_run_id,
                  type(exc).__name__, (str(exc).strip().splitlines() or [""])[0][:300])
        with contextlib.suppress(Exception):
            sc.tracker.end_run(sc.parent_run_id, status)


def _running_pbo(sc: StudyContext, study: optuna.Study) -> dict[str, float]:
    """PBO over the study's top ``promote.pbo.top_k`` trials (:mod:`opt.search.overfitting`), logged on the
    parent run and kept as study user attribute ``opt.running_pbo`` for the summary; ``{}`` when it fails."""
    from opt.search.overfitting import RUNNING_PBO_ATTR, running_pbo

    try:
        found = running_pbo(study, sc.tracker.client, top_k=int(sc.cfg.promote.pbo.top_k),
                            n_splits=int(sc.cfg.promote.pbo.n_splits))
    except Exception as exc:  # noqa: BLE001 - a diagnostic: never costs the study its parent run
        log.warning("running PBO not computed: %s: %s", type(exc).__name__, str(exc)[:300])
        return {}
    study.set_user_attr(RUNNING_PBO_ATTR, {k: (None if math.isnan(v) else v) for k, v in found.items()})
    return {k: v for k, v in found.items() if math.isfinite(v)}


def _close_parent(sc: StudyContext, study: optuna.Study, status: str) -> None:
    trials = study.get_trials(deepcopy=False)
    abandoned = sum(1 for t in trials if TrialAttr.ABANDONED in t.user_attrs)
    metrics = {f"n_{s.name.lower()}": float(sum(1 for t in trials if t.state == s)) for s in TrialState}
    metrics["n_fail"] -= abandoned
    metrics["n_abandoned"] = float(abandoned)
    if sc.stage.id == 2:  # the running PBO over the best trials so far (opt.search.overfitting)
        metrics.update(_running_pbo(sc, study))
    record = best_record(study)
    if record is not None:
        metrics["best_score"] = record["score"]
        sc.tracker.log(sc.parent_run_id, metrics=metrics, tags={RunTag.BEST_TRIAL: str(record["trial"])})
    else:
        sc.tracker.log(sc.parent_run_id, metrics=metrics)
    with tempfile.TemporaryDirectory() as tmp:
        write_config(sc.cfg, Path(tmp))
        write_trials_table(study, Path(tmp))  # trials.parquet: one row per trial, a notebook's one read
        sc.tracker.log_artifacts(sc.parent_run_id, tmp)
    if status == "FINISHED":  # optimization history, importances, parallel coordinates (never raises)
        log_study_plots(sc.tracker, sc.parent_run_id, study)
    sc.tracker.end_run(sc.parent_run_id, status)


def run_command(cfg: DictConfig) -> int:
    """Entry of ``python -m opt run``: run the stage chosen with ``+stage=N``; return the exit status.

    A worker process (``tracking.parent_run_id`` set) prints no summary: its launcher does.
    """
    stage = get_stage(stage_of(cfg))
    study = run_study(cfg, stage)
    if not is_worker(cfg):
        summarize(study, cfg, stage.id)
    return 0
