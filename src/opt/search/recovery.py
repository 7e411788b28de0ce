"""Crash and kill recovery: close what a dead process left RUNNING, in Optuna and in MLflow.

A worker records its identity on every trial it starts (user attributes ``worker`` = ``"host:pid"``
and ``worker_start``, the process start time that tells a reused pid apart). At start-up, and while
it waits for other workers, a process:

1. marks FAIL the RUNNING trials of workers of this host that are gone (never a live process's
   trial; a trial with no identity yet, i.e. killed while being sampled, once it is older than
   ``search.grace_period`` seconds). Trials of other hosts are left to the RDB heartbeat
   (``search.heartbeat_interval`` / ``search.grace_period``), which Optuna checks here too;
2. closes as KILLED the MLflow runs still RUNNING of FAIL trials (killed, reaped or heartbeat-failed),
   with tags ``opt.trial_state=FAIL`` and ``opt.error``, and the parent runs of dead invocations of
   this host.

The error is kept as the trial attribute ``error`` ("worker HOST:PID died ...").
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import warnings
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from opt.schema import RunTag, TrialAttr
from opt.studies.index import trials_of
from opt.tracking import Tracker

__all__ = ["identity", "process_start", "is_dead", "reap_dead_trials",
           "close_orphan_runs", "Recovery"]

log = logging.getLogger(__name__)



def process_start(pid: int) -> str | None:
    """Start time of process ``pid`` (clock ticks after boot, ``/proc/PID/stat``); None if unknown."""
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - a one-shot read
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the "(comm)" field


def identity() -> tuple[str, str | None]:
    """This process as (``"host:pid"``, start time)."""
    return f"{socket.gethostname()}:{os.getpid()}", process_start(os.getpid())


def is_dead(worker: str | None, start: str | None = None) -> bool:
    """Whether the process ``worker`` (``"host:pid"``) of THIS host is gone (False when unknown).

    A pid that now belongs to a process started at another time than ``start`` counts as gone.
    """
    host, _, pid_text = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    now = process_start(pid)
    return start is not None and now is not None and now != start


def _fail(study: optuna.Study, storage: optuna.storages.BaseStorage, trial: FrozenTrial, reason: str) -> bool:
    """Record ``reason`` and mark ``trial`` FAIL (public storage and ask-and-tell API); False if it finished."""
    study_id = storage.get_study_id_from_name(study.study_name)
    tid = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    try:
        storage.set_trial_user_attr(tid, TrialAttr.ERROR, reason)
    except optuna.exceptions.UpdateFinishedTrialError:  # another process got there first
        return False
    frozen = study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    return frozen.user_attrs.get(TrialAttr.ERROR) == reason


def reap_dead_trials(study: optuna.Study, storage: optuna.storages.BaseStorage, *, grace_s: float) -> list[int]:
    """Mark FAIL the RUNNING trials whose worker process (of this host) is gone; return their numbers.

    Args:
        study: the study to clean.
        storage: its storage.
        grace_s: seconds after which a RUNNING trial that never recorded its worker counts as dead.
    """
    me, _ = identity()
    now = datetime.datetime.now()
    reaped = []
    for trial in trials_of(study, (TrialState.RUNNING,)):  # RUNNING trials are always read afresh
        worker = trial.user_attrs.get(TrialAttr.WORKER)
        if worker is None:
            age = (now - trial.datetime_start).total_seconds() if trial.datetime_start else 0.0
            if age < grace_s:
                continue
            reason = f"its process died before it started (no worker recorded after {age:.0f} s)"
        elif is_dead(worker, trial.user_attrs.get(TrialAttr.WORKER_START)):
            reason = f"worker {worker} died while running it (process gone; reaped by {me})"
        else:
            continue
        if _fail(study, storage, trial, reason):
            log.warning("trial %d marked FAIL: %s", trial.number, reason)
            reaped.append(trial.number)
    return reaped


def heartbeat_interval(storage: optuna.storages.BaseStorage) -> int | None:
    """Seconds between heartbeats when the storage keeps them (RDB with ``heartbeat_interval``), else None."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if callable(get) else None


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.BaseStorage) -> None:
    """Optuna's heartbeat check (RDB storages with ``search.heartbeat_interval``): stale trials -> FAIL."""
    if not heartbeat_interval(storage):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


HEARTBEAT_ERROR = "no heartbeat for {grace} s: its process died (marked FAIL by Optuna's heartbeat check, seen by {me})"
"""The error recorded for a trial that Optuna's heartbeat check failed."""


def trial_error(study: optuna.Study, trial: FrozenTrial) -> str | None:
    """Why ``trial`` failed: its ``error`` attribute, or the study's ``trial_error.<n>`` (heartbeat failures).

    Optuna refuses attributes on a finished trial, so a trial the heartbeat check failed keeps its
    reason on the study.
    """
    error = trial.user_attrs.get(TrialAttr.ERROR)
    return str(error) if error is not None else study.user_attrs.get(f"trial_error.{trial.number}")


def _record_heartbeat_failures(study: optuna.Study, new_failures: set[int], grace_s: float) -> dict[int, str]:
    """Give each newly FAIL trial without a reason the heartbeat reason (a study attribute); return them."""
    me, _ = identity()
    out = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if t.number in new_failures and trial_error(study, t) is None and TrialAttr.ABANDONED not in t.user_attrs:
            out[t.number] = HEARTBEAT_ERROR.format(grace=int(grace_s), me=me)
            study.set_user_attr(f"trial_error.{t.number}", out[t.number])
    return out


def close_orphan_runs(study: optuna.Study, tracker: Tracker, stage: int, *,
                      dead_workers: frozenset[str] = frozenset()) -> int:
    """Close the RUNNING MLflow runs that no live process will close; return how many.

    - Trial runs of FAIL trials (same study: the run id recorded on the trial, or the trial number when
      the process died before recording it): KILLED, tagged FAIL with the trial's error.
    - Trial runs of COMPLETE or PRUNED trials whose process (of this host) is gone: it died after
      Optuna recorded the trial and before it closed the run: FINISHED, tagged with the trial's state.
    - Parent runs whose invocation (tag ``opt.host``) was a process of this host that is gone, or is
      one of ``dead_workers`` (processes of any host that Optuna's heartbeat check found dead): KILLED.
    """
    running = tracker.running_runs({RunTag.STAGE: str(stage)})
    if not running:
        return 0
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    closed = 0
    for run in running:
        tags, run_id = run.data.tags, run.info.run_id
        status = "KILLED"
        if tags.get(RunTag.ROLE) == "trial":
            number = tags.get(RunTag.TRIAL_NUMBER, "")
            trial = trials.get(int(number)) if number.isdigit() else None
            if trial is None or trial.user_attrs.get(TrialAttr.MLFLOW_RUN_ID, run_id) != run_id:
                continue
            if trial.state == TrialState.FAIL:
                error = trial_error(study, trial) or "the trial's process stopped before closing its run"
                tracker.log(run_id, tags={RunTag.TRIAL_STATE: "FAIL", RunTag.ERROR: error[:5000]})
            elif trial.state.is_finished() and is_dead(trial.user_attrs.get(TrialAttr.WORKER),
                                                       trial.user_attrs.get(TrialAttr.WORKER_START)):
                tracker.log(run_id, tags={RunTag.TRIAL_STATE: trial.state.name})
                status = "FINISHED"
            else:
                continue
        elif tags.get(RunTag.ROLE) == "parent" and tags.get(RunTag.OPTUNA_STUDY) == study.study_name:
            host = tags.get(RunTag.HOST)
            if not (is_dead(host, tags.get(RunTag.HOST_START)) or host in dead_workers):
                continue
            tracker.log(run_id, tags={RunTag.ERROR: f"invocation {host} died"})
        else:
            continue
        tracker.end_run(run_id, status)
        log.warning("MLflow run %s (%s) closed as %s: its process is gone", run_id, run.info.run_name, status)
        closed += 1
    return closed


@dataclass
class Recovery:
    """Reaps dead workers' trials and closes their runs (at start-up, after each trial, while waiting, at the end).

    Args:
        study: the study.
        storage: its storage.
        tracker: the MLflow store of the study's runs.
        stage: the stage (runs are matched by tag ``opt.stage``).
        grace_s: ``search.grace_period`` (see :func:`reap_dead_trials`).
    """

    study: optuna.Study
    storage: optuna.storages.BaseStorage
    tracker: Tracker
    stage: int
    grace_s: float
    _failed_seen: set[int] | None = field(default=None, repr=False)

    def __call__(self) -> None:
        """Reap, run the heartbeat check, and close orphan runs when new FAIL trials appeared.

        Trials the heartbeat check failed get their reason (:func:`trial_error`), and the parent runs
        of their processes (one-process invocations of any host) are closed KILLED.
        """
        reap_dead_trials(self.study, self.storage, grace_s=self.grace_s)
        fail_stale_trials(self.study, self.storage)
        failed = {t.number for t in trials_of(self.study, (TrialState.FAIL,))}  # numbers only: states are final
        new = failed - (self._failed_seen or set())
        if self._failed_seen is None or new:
            heartbeat = _record_heartbeat_failures(self.study, new, self.grace_s)
            trials = {t.number: t for t in self.study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
            dead = frozenset(str(trials[n].user_attrs.get(TrialAttr.WORKER)) for n in heartbeat
                             if trials[n].user_attrs.get(TrialAttr.WORKER))
            close_orphan_runs(self.study, self.tracker, self.stage, dead_workers=dead)
        self._failed_seen = failed
