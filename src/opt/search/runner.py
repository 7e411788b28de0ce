"""``python -m opt run +stage=N``: create or resume the stage's Optuna study and run it to its target.

``search.n_trials`` is the study's target of finished (complete or pruned) trials, exactly: rerunning
the same command resumes the study and runs only what is missing, and several workers or hosts stop
together at the target (:mod:`opt.search.loop`). One MLflow parent run per invocation, one nested
child run per trial (:mod:`opt.search.trial`). ``search.workers=K`` runs K worker processes
(:mod:`opt.search.workers`); a killed process's trials and runs are closed by the next one
(:mod:`opt.search.recovery`); SIGTERM and Ctrl-C stop gracefully (:mod:`opt.search.signals`).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from opt.errors import ConfigError
from opt.search.loop import (
    FINISHED_STATES,
    ConsecutiveFailures,
    Progress,
    counts,
    quiet_optuna_failures,
    run_trials,
)
from opt.search.market import prepare_market
from opt.search.recovery import Recovery, identity
from opt.search.results import best_record, summarize, write_best
from opt.search.signals import GracefulStop
from opt.search.space import validate_space
from opt.search.storage import describe_storage, make_storage, study_name_for
from opt.search.trial import StageFn, StudyContext, make_objective
from opt.search.workers import (
    WorkerError,
    die_with_launcher,
    is_worker,
    limit_threads,
    run_workers,
    worker_count,
)
from opt.tracking import Tracker
from opt.tracking.artifacts import write_config
from opt.tracking.plots import log_study_plots

__all__ = ["run_command", "run_study", "finished_count", "FINISHED_STATES"]

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


def git_commit() -> str:
    """The git commit of the opt source tree, or 'unknown'."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _sampler(cfg: DictConfig, stage: int, *, multi: bool = False) -> optuna.samplers.BaseSampler:
    seed = int(cfg.search.seed) + int(cfg.search.get("worker_index", 0) or 0)
    name = "nsga2" if multi else str(cfg.search.sampler)
    if name == "tpe":
        multivariate = bool(cfg.stage.get("multivariate", False))
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(cfg.search.n_startup_trials),
                                          multivariate=multivariate)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ConfigError(f"search.sampler={name!r} is not one of: tpe, random, nsga2")


def _pruner(cfg: DictConfig) -> optuna.pruners.BasePruner:
    name = str(cfg.stage.get("pruner", "none"))
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=int(cfg.search.n_startup_trials) // 2,
                                           n_warmup_steps=int(cfg.stage.get("pruner_warmup_steps", 2)))
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"stage.pruner={name!r} is not one of: median, none")


def _open_study(cfg: DictConfig, stage: int, directions: tuple[str, ...]) -> optuna.Study:
    return optuna.create_study(
        study_name=study_name_for(cfg, stage), storage=make_storage(cfg), load_if_exists=True,
        directions=list(directions), sampler=_sampler(cfg, stage, multi=len(directions) > 1),
        pruner=_pruner(cfg),
    )


def run_study(cfg: DictConfig, *, stage: int, stage_fn: StageFn, space: object,
              extra_tags: dict[str, str] | None = None, directions: tuple[str, ...] = ("maximize",),
              objectives: tuple[str, ...] = ("score",),
              on_done: Callable[[optuna.Study, StudyContext], None] | None = None) -> optuna.Study:
    """Create or resume the study of ``stage`` and run trials until it holds ``search.n_trials`` finished.

    With ``search.workers=K > 1`` the trials run in K worker processes (:mod:`opt.search.workers`);
    a worker (``tracking.parent_run_id`` set) nests its trial runs under that parent run and leaves
    the parent run, ``on_done`` and the summary to its launcher. Every process first recovers what
    dead processes left RUNNING (:mod:`opt.search.recovery`).

    Raises:
        ConfigError, DataError: bad config or data (before any trial runs); ConfigError also when
            ``search.max_consecutive_failures`` trials failed in a row.
        WorkerError: a worker process failed (K > 1).
        KeyboardInterrupt: SIGTERM or Ctrl-C (the current trial is FAIL, its run and the parent KILLED).
    """
    if not callable(space):
        validate_space(space, cfg, where="stage.space")
    target = int(cfg.search.n_trials)
    if target < 1:
        raise ConfigError(f"search.n_trials must be >= 1, got {target}")
    workers = worker_count(cfg)
    stop = GracefulStop()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with stop.installed(), quiet_optuna_failures():
        if is_worker(cfg):
            die_with_launcher()
        cfg = limit_threads(cfg)
        market = prepare_market(cfg)
        study = _open_study(cfg, stage, directions)
        tracker = Tracker(cfg)
        recover = Recovery(study, tracker, stage, float(cfg.search.get("grace_period", 30) or 30))
        recover()
        parent = str(cfg.tracking.parent_run_id) if is_worker(cfg) else tracker.start_run(
            name=f"stage{stage}-{cfg.search.study_name}", tags=_parent_tags(cfg, stage, study, market.fingerprint,
                                                                           workers, extra_tags))
        sc = StudyContext(cfg=cfg, stage=stage, study_label=str(cfg.search.study_name), market=market,
                          tracker=tracker, parent_run_id=parent, space=space, objectives=tuple(objectives),
                          extra_tags=dict(extra_tags or {}), stop=stop)
        done = counts(study)[0]
        log.info("study %s (%s): %d/%d finished trials; MLflow parent run %s%s", study.study_name,
                 describe_storage(cfg), done, target, parent, f"; {workers} workers" if workers > 1 else "")
        if is_worker(cfg):
            _run_here(sc, study, stage_fn, recover)
            return study
        progress = Progress(target, done, bool(cfg.search.progress), f"stage {stage}")
        status = "FAILED"
        try:
            if workers > 1:
                codes = run_workers(cfg, workers=workers, parent_run_id=parent, stop=stop,
                                    on_poll=lambda: progress.update(study))
                recover()  # what a worker that died left behind
                stop.raise_if_requested()
                _check_workers(codes)
            else:
                _run_here(sc, study, stage_fn, recover, progress)
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            progress.close()
            _close_parent(sc, study, status)
    if on_done is not None:
        on_done(study, sc)
    return study


def _warm_up(cfg: DictConfig) -> None:
    """Pay a process's one-time costs before its first trial, so trial durations are the trials' own.

    Resolving ``model.device=auto`` imports torch (~3 s on a 2-core machine) and the first label plot
    imports matplotlib (~1 s); with K workers every worker pays them.

    Raises:
        ConfigError: a bad ``model.device``.
    """
    import matplotlib

    from opt.models.device import resolve_device

    resolve_device(str(cfg.model.get("device", "cpu")))
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def _run_here(sc: StudyContext, study: optuna.Study, stage_fn: StageFn, recover: Recovery,
              progress: Progress | None = None) -> None:
    """Run this process's trials (the loop of :mod:`opt.search.loop`).

    Raises:
        ConfigError: ``search.max_consecutive_failures`` failed trials in a row.
        KeyboardInterrupt: a stop signal (also one that arrived between trials).
    """
    cfg = sc.cfg
    if counts(study)[0] < int(cfg.search.n_trials):
        _warm_up(cfg)
    failures = ConsecutiveFailures(int(cfg.search.get("max_consecutive_failures", 0) or 0))
    deadline = time.monotonic() + float(cfg.search.timeout) if cfg.search.timeout else None
    run_trials(study, make_objective(sc, stage_fn), target=int(cfg.search.n_trials), deadline=deadline,
               stop=sc.stop, recover=recover, callbacks=[progress] if progress else [], failures=failures)
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


def _parent_tags(cfg: DictConfig, stage: int, study: optuna.Study, fingerprint: str, workers: int,
                 extra_tags: dict[str, str] | None) -> dict[str, str]:
    me, started = identity()
    return {"opt.stage": str(stage), "opt.study": str(cfg.search.study_name), "opt.role": "parent",
            "opt.optuna_study": study.study_name, "opt.storage": describe_storage(cfg),
            "opt.data_fingerprint": fingerprint, "opt.git_commit": git_commit(), "opt.host": me,
            "opt.host_start": str(started), "opt.workers": str(workers), **(extra_tags or {})}


def _close_parent(sc: StudyContext, study: optuna.Study, status: str) -> None:
    import tempfile

    trials = study.get_trials(deepcopy=False)
    abandoned = sum(1 for t in trials if "abandoned" in t.user_attrs)
    metrics = {f"n_{s.name.lower()}": float(sum(1 for t in trials if t.state == s)) for s in TrialState}
    metrics["n_fail"] -= abandoned
    metrics["n_abandoned"] = float(abandoned)
    record = best_record(study)
    if record is not None:
        metrics["best_score"] = record["score"]
        sc.tracker.log(sc.parent_run_id, metrics=metrics, tags={"opt.best_trial": str(record["trial"])})
    else:
        sc.tracker.log(sc.parent_run_id, metrics=metrics)
    with tempfile.TemporaryDirectory() as tmp:
        write_config(sc.cfg, Path(tmp))
        sc.tracker.log_artifacts(sc.parent_run_id, tmp)
    if status == "FINISHED":  # optimization history, importances, parallel coordinates (never raises)
        log_study_plots(sc.tracker, sc.parent_run_id, study)
    sc.tracker.end_run(sc.parent_run_id, status)


def run_command(cfg: DictConfig) -> int:
    """Entry of ``python -m opt run``: dispatch on ``+stage=N``; return the exit status.

    A worker process (``tracking.parent_run_id`` set) prints no summary: its launcher does.
    """
    stage = stage_of(cfg)
    if stage == 1:
        from opt.search.stage1 import stage1_trial

        study = run_study(cfg, stage=1, stage_fn=stage1_trial, space=cfg.stage.space,
                          on_done=lambda st, sc: write_best(st, sc, "best_stage1.yaml"))
    elif stage == 2:
        from opt.search.stage2 import run_stage2

        study = run_stage2(cfg)
    else:
        raise ConfigError(f"stage.id must be 1 or 2, got {stage}")
    if not is_worker(cfg):
        summarize(study, cfg)
    return 0
