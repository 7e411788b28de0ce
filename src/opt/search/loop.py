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
import threading
import time
import warnings
from collections.abc import Callable, Iterator

import optuna
from optuna.trial import FrozenTrial, TrialState

from opt.schema import TrialAttr
from opt.search.recovery import fail_stale_trials
from opt.search.signals import GracefulStop
from opt.search.trial import LIVE_STATES, StudyContext, TrialAbandoned, run_objective
from opt.studies import FINISHED_STATES

__all__ = ["POLL_S", "counts", "ConsecutiveFailures", "Progress", "run_trials", "trial_id"]

log = logging.getLogger(__name__)

POLL_S = 1.0  # seconds between checks while other workers run the last trials
Callback = Callable[[optuna.Study, FrozenTrial], None]


def counts(study: optuna.Study) -> tuple[int, int]:
    """(finished, finished + running) trials of ``study``."""
    live = study.get_trials(deepcopy=False, states=LIVE_STATES)
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
    """A tqdm bar over the study's finished trials (all workers), with the best score so far."""

    def __init__(self, total: int, initial: int, enabled: bool, desc: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=initial, desc=desc, unit="trial", disable=not enabled)

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
        self.bar.close()


def _heartbeat_interval(storage: optuna.storages.BaseStorage) -> int | None:
    """Seconds between heartbeats when the storage keeps them (RDB with ``heartbeat_interval``), else None."""
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if callable(get) else None


@contextlib.contextmanager
def _heartbeat(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> Iterator[None]:
    """Record the running trial's heartbeat every ``heartbeat_interval`` seconds for the block."""
    interval = _heartbeat_interval(storage)
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


def _one_trial(sc: StudyContext, study: optuna.Study, storage: optuna.storages.BaseStorage) -> FrozenTrial:
    """Ask for a trial, run it, tell Optuna the outcome; return the finished trial.

    Raises:
        KeyboardInterrupt, SystemExit: a stop signal (the trial is told FAIL first).
    """
    fail_stale_trials(study, storage)
    with warnings.catch_warnings():  # this loop records the heartbeats itself (_heartbeat)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        trial = study.ask()
    with _heartbeat(storage, study, trial.number):
        try:
            values = run_objective(sc, trial)
        except TrialAbandoned:
            return study.tell(trial, state=TrialState.FAIL)
        except optuna.TrialPruned:
            return study.tell(trial, state=TrialState.PRUNED)
        except (KeyboardInterrupt, SystemExit) as stop:
            study.tell(trial, state=TrialState.FAIL)
            log.warning("trial %d stopped: %s", trial.number, stop)
            raise
        except Exception as exc:  # noqa: BLE001 - a failed trial is recorded and the study goes on
            log.warning("trial %d failed: %s: %s", trial.number, type(exc).__name__, str(exc)[:500])
            return study.tell(trial, state=TrialState.FAIL)
    return study.tell(trial, values)


def run_trials(sc: StudyContext, study: optuna.Study, storage: optuna.storages.BaseStorage, *, target: int,
               deadline: float | None, stop: GracefulStop, recover: Callable[[], None],
               callbacks: list[Callback], failures: ConsecutiveFailures) -> None:
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
        failures(study, frozen)
        for callback in callbacks:
            callback(study, frozen)
