"""The trial loop of one process: run trials until the study holds exactly ``search.n_trials`` finished.

Several processes (workers of one host, or hosts sharing a PostgreSQL storage) may run the same
study. Before each trial a process counts the study's finished (COMPLETE, PRUNED) and running
trials:

- finished >= target: done;
- finished + running >= target: the last trials are in flight elsewhere; wait (polling every
  :data:`POLL_S` seconds, reaping dead workers' trials) because one of them may still fail and free
  a place;
- otherwise: run one trial on Optuna's public ask-and-tell interface (``study.ask()``, the objective,
  ``study.tell(trial, values)`` or ``study.tell(trial, state=PRUNED|FAIL)``). With an RDB storage and
  ``search.heartbeat_interval`` a thread records the trial's heartbeat while it runs
  (``storage.record_heartbeat``), and stale trials of dead processes are failed before each trial
  (``optuna.storages.fail_stale_trials``), as ``study.optimize`` would do.

Why not ``study.optimize(n_trials=...)`` with Optuna's ``MaxTrialsCallback``: the callback runs after a
trial finishes and counts trials in given states, so K processes that each start a trial while the
study is one short of its target all run it (the study overshoots by up to K - 1), and a trial that
fails after another process gave up waiting leaves the study short. Here the target counts
finished *and running* trials before a trial starts, a process waits while the last places are in
flight (one may still fail and free a place), and two processes that pass the check at once for the
last place are told apart by trial number (:func:`opt.search.trial.claim`): exactly one runs, the
other is abandoned (FAIL with user attribute ``abandoned``). Failed trials never count, so a study
always ends with exactly ``search.n_trials`` finished trials.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import optuna
from optuna.trial import FrozenTrial, TrialState

from opt.schema import TrialAttr
from opt.search.recovery import fail_stale_trials, heartbeat_interval
from opt.search.signals import GracefulStop
from opt.search.trial import LIVE_STATES, Outcome, StudyContext, run_objective
from opt.search.trial_log import log_path, log_trial
from opt.studies import FINISHED_STATES
from opt.studies.index import trials_of

__all__ = ["POLL_S", "counts", "ConsecutiveFailures", "Progress", "run_trials", "trial_id"]

log = logging.getLogger(__name__)

POLL_S = 1.0  # seconds between checks while other workers run the last trials
Callback = Callable[[optuna.Study, FrozenTrial], None]


def counts(study: optuna.Study) -> tuple[int, int]:
    """(finished, finished + running) trials of ``study``."""
    live = trials_of(study, LIVE_STATES)  # reads only what changed since the last call (opt.studies.index)
    return sum(1 for t in live if t.state in FINISHED_STATES), len(live)


def trial_id(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> int:
    """The storage's id of trial ``number`` of ``study`` (public storage API)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    return int(storage.get_trial_id_from_study_id_trial_number(study_id, number))


class ConsecutiveFailures:
    """Stop after ``limit`` failed trials in a row of this process (``search.max_consecutive_failures``).

    Abandoned trials (the target was reached elsewhere) do not count; 0 means no limit.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self.tripped = limit, 0, False
        self.last_error = ""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if TrialAttr.ABANDONED in trial.user_attrs:
            return
        if trial.state == TrialState.FAIL:
            self.count += 1
            self.last_error = str(trial.user_attrs.get(TrialAttr.ERROR, "see the MLflow run"))
        else:
            self.count = 0
        if self.limit and self.count >= self.limit:
            self.tripped = True


class Progress:
    """A tqdm bar over the study's finished trials (all workers), with the best score so far.

    While the bar is shown, the root logger's console handlers write through ``tqdm.write``
    (``tqdm.contrib.logging.logging_redirect_tqdm``), so the per-trial log lines
    (:mod:`opt.search.trial_log`) print above the bar instead of through it; :meth:`close` restores them.
    """

    def __init__(self, total: int, initial: int, enabled: bool, desc: str) -> None:
        from tqdm.auto import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self.bar = tqdm(total=total, initial=initial, desc=desc, unit="trial", disable=not enabled)
        self._redirect = contextlib.ExitStack()
        if enabled:
            self._redirect.enter_context(logging_redirect_tqdm())

    def update(self, study: optuna.Study, last: str | None = None) -> None:
        """Show the study's current finished count and best value."""
        if self.bar.disable:
            return
        finished = counts(study)[0]
        if finished == self.bar.n and last is None:
            return
        self.bar.n = finished
        post = {"last": last} if last else {}
        try:
            post["best"] = f"{study.best_value:.4f}"
        except (ValueError, RuntimeError):  # none complete yet; multi-objective
            pass
        self.bar.set_postfix(post)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.update(study, trial.state.name)

    def close(self) -> None:
        self._redirect.close()
        self.bar.close()


@contextlib.contextmanager
def _heartbeat(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> Iterator[None]:
    """Record the running trial's heartbeat every ``heartbeat_interval`` seconds for the block."""
    interval = heartbeat_interval(storage)
    if not interval:
        yield
        return
    tid = trial_id(storage, study, number)
    done = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(tid)  # type: ignore[attr-defined]  # RDBStorage, checked above
            if done.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"opt-heartbeat-{number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _failed_outside(trial: optuna.Trial, exc: BaseException) -> Outcome:
    """The outcome of a trial whose bookkeeping (not its objective) raised: FAIL, its run closed too."""
    message = f"{type(exc).__name__}: {exc}"
    try:
        trial.set_user_attr(TrialAttr.ERROR, message[:2000])
    except Exception:  # noqa: BLE001 - the storage itself may be what failed
        pass
    interrupt = exc if isinstance(exc, KeyboardInterrupt | SystemExit) else None
    if interrupt is None:
        log.warning("trial %d failed outside its objective: %s", trial.number, message[:500])
    return Outcome(TrialState.FAIL, run_id=trial.user_attrs.get(TrialAttr.MLFLOW_RUN_ID),
                   run_status="KILLED" if interrupt is not None else "FAILED", interrupt=interrupt)


PAUSE_ENV = "OPT_TEST_PAUSE_BEFORE_TELL_S"
"""Test hook: seconds to sleep between a trial's end and its record in Optuna (widens that gap)."""


def _one_trial(sc: StudyContext, study: optuna.Study, storage: optuna.storages.BaseStorage) -> FrozenTrial:
    """Ask for a trial, run it, record the outcome in Optuna, log its line, then close its MLflow run.

    The line (:func:`opt.search.trial_log.log_trial`) goes to the console and to the study's trial log.

    Raises:
        KeyboardInterrupt, SystemExit: a stop signal (re-raised once the trial is recorded FAIL).
    """
    fail_stale_trials(study, storage)
    with warnings.catch_warnings():  # this loop records the heartbeats itself (_heartbeat)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        trial = study.ask()
    with _heartbeat(storage, study, trial.number):
        try:
            outcome = run_objective(sc, trial)
        except BaseException as exc:  # outside the objective: sampling, MLflow logging, a signal
            outcome = _failed_outside(trial, exc)
        pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
        if pause > 0:
            time.sleep(pause)
        if outcome.state == TrialState.COMPLETE:
            frozen = study.tell(trial, list(outcome.values or ()))
        else:
            frozen = study.tell(trial, state=outcome.state)
    log_trial(frozen, sc.stage.id, log_path(sc.cfg, sc.stage.id))
    if outcome.run_id is not None:
        sc.tracker.end_run(outcome.run_id, outcome.run_status)
    if outcome.interrupt is not None:
        log.warning("trial %d stopped: %s", trial.number, outcome.interrupt)
        raise outcome.interrupt
    return frozen


def run_trials(sc: StudyContext, study: optuna.Study, storage: optuna.storages.BaseStorage, *, target: int,
               deadline: float | None, stop: GracefulStop, recover: Callable[[], None],
               callbacks: list[Callback], failures: ConsecutiveFailures,
               until: Callable[[optuna.Study], str | None] | None = None) -> None:
    """Run trials of ``study`` until it holds ``target`` finished trials (see the module docstring).

    Args:
        sc: what the trials share (stage, plan, market, tracker, parent run).
        study: the study.
        storage: the study's storage (heartbeats).
        target: ``search.n_trials``.
        deadline: ``time.monotonic()`` after which no trial starts (``search.timeout``), or None.
        stop: stops the loop on SIGTERM/SIGINT.
        recover: called while waiting for other workers (:class:`opt.search.recovery.Recovery`).
        callbacks: called with each finished trial of this process.
        failures: the consecutive-failure guard; the loop ends when it trips.
        until: asked before each trial; a reason (not None) ends the loop early
            (:class:`opt.search.patience.StopRule`: ``search.patience``, ``search.terminator``).

    Raises:
        KeyboardInterrupt: a stop signal interrupted a trial or a wait.
    """
    waiting = False
    while not (stop.requested or failures.tripped):
        if deadline is not None and time.monotonic() >= deadline:
            log.info("search.timeout reached: no new trial in this invocation")
            return
        finished, live = counts(study)
        if finished >= target:
            return
        if until is not None and until(study) is not None:
            return
        if live >= target:
            if not waiting:
                log.info("%d/%d trials finished, %d running elsewhere: waiting for them", finished, target,
                         live - finished)
            waiting = True
            recover()
            stop.sleep(POLL_S)
            continue
        waiting = False
        frozen = _one_trial(sc, study, storage)
        recover()  # what other processes left behind meanwhile (cheap unless new FAIL trials appeared)
        failures(study, frozen)
        for callback in callbacks:
            callback(study, frozen)
