"""``python -m opt run +stage=N``: create or resume the stage's Optuna study and run it to its target.

``search.n_trials`` is the study's target of finished (complete or pruned) trials: rerunning the same
command resumes the study and runs only what is missing. One MLflow parent run per invocation, one
nested child run per trial (:mod:`opt.search.trial`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import optuna
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from opt.errors import ConfigError
from opt.search.market import prepare_market
from opt.search.results import best_record, summarize, write_best
from opt.search.space import validate_space
from opt.search.storage import describe_storage, make_storage, study_name_for
from opt.search.trial import StageFn, StudyContext, make_objective
from opt.tracking import Tracker
from opt.tracking.artifacts import write_config

__all__ = ["run_command", "run_study", "finished_count", "FINISHED_STATES"]

log = logging.getLogger(__name__)

FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)


def finished_count(study: optuna.Study) -> int:
    """Trials of ``study`` that count towards its target (complete or pruned)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED_STATES))


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


class _ConsecutiveFailures:
    """Stop the study after ``limit`` failed trials in a row (``search.max_consecutive_failures``)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self.tripped = limit, 0, False

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.count = self.count + 1 if trial.state == TrialState.FAIL else 0
        if self.limit and self.count >= self.limit:
            self.tripped = True
            study.stop()


class _Progress:
    """A tqdm bar over the study's finished trials, with the best score so far."""

    def __init__(self, total: int, initial: int, enabled: bool, desc: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc=desc, unit="trial", disable=not enabled)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state in FINISHED_STATES:
            self.bar.update(1)
        try:
            self.bar.set_postfix(best=f"{study.best_value:.4f}", last=trial.state.name)
        except ValueError:
            self.bar.set_postfix(last=trial.state.name)

    def close(self) -> None:
        self.bar.close()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_study(cfg: DictConfig, *, stage: int, stage_fn: StageFn, space: object,
              extra_tags: dict[str, str] | None = None, directions: tuple[str, ...] = ("maximize",),
              objectives: tuple[str, ...] = ("score",),
              on_done: Callable[[optuna.Study, StudyContext], None] | None = None) -> optuna.Study:
    """Create or resume the study of ``stage`` and run trials until it reaches ``search.n_trials``.

    Raises:
        ConfigError, DataError: bad config or data (before any trial runs).
    """
    if not callable(space):
        validate_space(space, cfg, where="stage.space")
    target = int(cfg.search.n_trials)
    if target < 1:
        raise ConfigError(f"search.n_trials must be >= 1, got {target}")
    market = prepare_market(cfg)
    label = str(cfg.search.study_name)
    study = optuna.create_study(
        study_name=study_name_for(cfg, stage), storage=make_storage(cfg), load_if_exists=True,
        directions=list(directions), sampler=_sampler(cfg, stage, multi=len(directions) > 1),
        pruner=_pruner(cfg),
    )
    tracker = Tracker(cfg)
    tags = {"opt.stage": str(stage), "opt.study": label, "opt.role": "parent",
            "opt.optuna_study": study.study_name, "opt.storage": describe_storage(cfg),
            "opt.data_fingerprint": market.fingerprint, "opt.git_commit": git_commit(),
            "opt.host": f"{socket.gethostname()}:{os.getpid()}", **(extra_tags or {})}
    parent = tracker.start_run(name=f"stage{stage}-{label}", tags=tags)
    sc = StudyContext(cfg=cfg, stage=stage, study_label=label, market=market, tracker=tracker,
                      parent_run_id=parent, space=space, objectives=tuple(objectives),
                      extra_tags=dict(extra_tags or {}))
    done = finished_count(study)
    remaining = max(0, target - done)
    log.info("study %s (%s): %d/%d finished trials, running up to %d more; MLflow parent run %s",
             study.study_name, describe_storage(cfg), done, target, remaining, parent)
    failures = _ConsecutiveFailures(int(cfg.search.get("max_consecutive_failures", 0) or 0))
    progress = _Progress(target, done, bool(cfg.search.progress), f"stage {stage}")
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    status = "FAILED"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if remaining:
            study.optimize(
                make_objective(sc, stage_fn), n_trials=remaining,
                timeout=float(cfg.search.timeout) if cfg.search.timeout else None,
                catch=(Exception,), gc_after_trial=False,
                callbacks=[optuna.study.MaxTrialsCallback(target, states=FINISHED_STATES), failures, progress],
            )
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        progress.close()
        signal.signal(signal.SIGTERM, previous)
        _close_parent(sc, study, status)
    if failures.tripped:
        raise ConfigError(
            f"stopped after {failures.count} failed trials in a row (search.max_consecutive_failures); "
            f"the last error: {study.trials[-1].user_attrs.get('error', 'see the MLflow run')}")
    if on_done is not None:
        on_done(study, sc)
    return study


def _close_parent(sc: StudyContext, study: optuna.Study, status: str) -> None:
    import tempfile

    states = [t.state for t in study.get_trials(deepcopy=False)]
    metrics = {f"n_{s.name.lower()}": float(states.count(s)) for s in TrialState}
    record = best_record(study)
    if record is not None:
        metrics["best_score"] = record["score"]
        sc.tracker.log(sc.parent_run_id, metrics=metrics, tags={"opt.best_trial": str(record["trial"])})
    else:
        sc.tracker.log(sc.parent_run_id, metrics=metrics)
    with tempfile.TemporaryDirectory() as tmp:
        write_config(sc.cfg, Path(tmp))
        sc.tracker.log_artifacts(sc.parent_run_id, tmp)
    sc.tracker.end_run(sc.parent_run_id, status)


def run_command(cfg: DictConfig) -> int:
    """Entry of ``python -m opt run``: dispatch on ``+stage=N``; return the exit status."""
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
    summarize(study, cfg)
    return 0
