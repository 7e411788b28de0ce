"""The trial loop of one process: run trials until the study holds exactly ``search.n_trials`` finished.

Several processes (workers of one host, or hosts sharing a PostgreSQL storage) may run the same
study. Before each trial a process counts the study's finished (COMPLETE, PRUNED) and running
trials:

- finished >= target: done;
- finished + running >= target: the last trials are in flight elsewhere; wait (polling every
  :data:`POLL_S` seconds, reaping dead workers' trials) because one of them may still fail and free
  a place;
- otherwise: run one trial (``study.optimize(n_trials=1)``, so Optuna's heartbeat, stale-trial check
  and ``catch`` apply).

Two processes can pass the check at once for the last place; the trial's own check
(:func:`opt.search.trial.claim`, by trial number) lets exactly one of them run and abandons the
other, so the study never overshoots.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import optuna
from optuna.trial import FrozenTrial, TrialState

from opt.search.signals import GracefulStop
from opt.search.trial import LIVE_STATES, TrialAbandoned

__all__ = ["FINISHED_STATES", "POLL_S", "counts", "ConsecutiveFailures", "Progress", "run_trials",
           "quiet_optuna_failures"]

log = logging.getLogger(__name__)

FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
POLL_S = 1.0  # seconds between checks while other workers run the last trials


def counts(study: optuna.Study) -> tuple[int, int]:
    """(finished, finished + running) trials of ``study``."""
    live = study.get_trials(deepcopy=False, states=LIVE_STATES)
    return sum(1 for t in live if t.state in FINISHED_STATES), len(live)


class ConsecutiveFailures:
    """Stop after ``limit`` failed trials in a row of this process (``search.max_consecutive_failures``).

    Abandoned trials (the target was reached elsewhere) do not count; 0 means no limit.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.count, self.tripped = limit, 0, False
        self.last_error = ""

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if "abandoned" in trial.user_attrs:
            return
        if trial.state == TrialState.FAIL:
            self.count += 1
            self.last_error = str(trial.user_attrs.get("error", "see the MLflow run"))
        else:
            self.count = 0
        if self.limit and self.count >= self.limit:
            self.tripped = True
            study.stop()


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


class _QuietFailures(logging.Filter):
    """Optuna's failed-trial warnings without noise: abandoned trials and the "failed with value None"
    line are dropped, an interrupted trial is one line (no traceback)."""

    _VALUE_NONE = re.compile(r"^Trial \d+ failed with value None\.$")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, TrialAbandoned) or self._VALUE_NONE.match(record.getMessage()):
            return False
        if isinstance(exc, KeyboardInterrupt):
            number = re.match(r"Trial (\d+)", record.getMessage())
            record.msg, record.args = f"Trial {number.group(1) if number else '?'} stopped: {exc}", ()
            record.exc_info = None
        return True


@contextmanager
def quiet_optuna_failures() -> Iterator[None]:
    """Install :class:`_QuietFailures` on Optuna's optimize logger for the block."""
    logger = logging.getLogger("optuna.study._optimize")
    quiet = _QuietFailures()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def run_trials(study: optuna.Study, objective: Callable[[optuna.Trial], object], *, target: int,
               deadline: float | None, stop: GracefulStop, recover: Callable[[], None],
               callbacks: list[Callable[[optuna.Study, FrozenTrial], None]],
               failures: ConsecutiveFailures) -> None:
    """Run trials of ``study`` until it holds ``target`` finished trials (see the module docstring).

    Args:
        study: the study.
        objective: the trial objective (:func:`opt.search.trial.make_objective`).
        target: ``search.n_trials``.
        deadline: ``time.monotonic()`` after which no trial starts (``search.timeout``), or None.
        stop: stops the loop on SIGTERM/SIGINT.
        recover: called while waiting for other workers (:class:`opt.search.recovery.Recovery`).
        callbacks: Optuna callbacks after each trial of this process.
        failures: the consecutive-failure guard (also a callback); the loop ends when it trips.

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
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[failures, *callbacks],
                       gc_after_trial=False)
