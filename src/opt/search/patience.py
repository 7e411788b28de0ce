"""Stop a study early: ``search.patience`` (no better score in N finished trials) and ``search.terminator``.

The trial loop (:func:`opt.search.loop.run_trials`) asks a :class:`StopRule` before every trial; when it
gives a reason, the process starts no more trials, the reason is logged and tagged ``opt.stop_reason``
on the invocation's MLflow parent run, and the study ends with fewer than ``search.n_trials`` trials.
The rule reads the whole study, so several workers (and a resumed invocation) see the same count.

- Patience: finished (COMPLETE or PRUNED) trials in order of completion; a COMPLETE trial whose first
  objective beats every earlier one (in the study's direction) resets the count, every other finished
  trial adds one (FAIL trials do not count). The count starts at the first trial, so N finished trials
  without any complete one also stop the study.
- Terminator: :class:`optuna.terminator.Terminator` with a Gaussian-process upper bound on the regret
  (``RegretBoundEvaluator``, Makarova et al. 2022, "Automatic termination for hyperparameter
  optimization") compared with ``MedianErrorEvaluator`` (a fraction of the median regret bound of the
  first trials): Optuna's default error estimate needs cross-validation scores reported on every
  trial, which opt's trials do not have. One objective only, from 20 complete trials on.
"""

from __future__ import annotations

import datetime
import logging
import warnings
from collections.abc import Callable, Sequence

import optuna
from omegaconf import DictConfig
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from opt.errors import ConfigError
from opt.studies.index import trials_of

__all__ = ["STOP_REASON_TAG", "StopRule", "stale_trials"]

log = logging.getLogger(__name__)

STOP_REASON_TAG = "opt.stop_reason"
"""The MLflow parent-run tag that says why a study stopped before its target."""

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
_EPOCH = datetime.datetime.min


def stale_trials(study: optuna.Study) -> tuple[int, FrozenTrial | None]:
    """Finished trials since the last improvement of the first objective, and the best trial so far.

    Returns:
        ``(count, best)``: ``count`` finished trials completed after ``best`` (all finished trials when
        no trial is COMPLETE; ``best`` is then None).
    """
    sign = 1.0 if study.directions[0] == StudyDirection.MAXIMIZE else -1.0
    finished = trials_of(study, _FINISHED)  # O(new) reads (opt.studies.index); no sort: O(n) per call

    def order(t: FrozenTrial) -> tuple[datetime.datetime, int]:
        return (t.datetime_complete or _EPOCH, t.number)

    complete = [t for t in finished if t.state == TrialState.COMPLETE and t.values]
    if not complete:
        return len(finished), None
    top = max(sign * t.values[0] for t in complete)
    best = min((t for t in complete if sign * t.values[0] == top), key=order)  # the first to reach the best score
    mark = order(best)
    return sum(1 for t in finished if order(t) > mark), best


class StopRule:
    """``rule(study)`` -> the reason to stop now, or None (see the module docstring).

    Args:
        cfg: the config (``search.patience``, ``search.terminator``).
        directions: the study's objective directions (``maximize``/``minimize``).
        on_stop: called once with the reason when the rule first trips (the runner tags the parent run).

    Raises:
        ConfigError: ``search.terminator=true`` with several objectives.
    """

    def __init__(self, cfg: DictConfig, directions: Sequence[str],
                 on_stop: Callable[[str], None] | None = None) -> None:
        patience = cfg.search.patience
        self.patience = int(patience) if patience is not None else None
        self.terminator: optuna.terminator.Terminator | None = None
        if bool(cfg.search.terminator):
            if len(directions) > 1:
                raise ConfigError(f"search.terminator=true needs one objective; this study has {len(directions)} "
                                  "(stage.objective.multi): use search.patience instead")
            from optuna.terminator import MedianErrorEvaluator, RegretBoundEvaluator, Terminator

            with warnings.catch_warnings():  # marked experimental
                warnings.simplefilter("ignore")
                self.terminator = Terminator(
                    improvement_evaluator=RegretBoundEvaluator(),
                    error_evaluator=MedianErrorEvaluator(paired_improvement_evaluator=RegretBoundEvaluator()))
        self.on_stop = on_stop
        self.reason: str | None = None

    @property
    def active(self) -> bool:
        """Whether any early stop is configured."""
        return self.patience is not None or self.terminator is not None

    def __call__(self, study: optuna.Study) -> str | None:
        """The reason to stop ``study`` before its next trial, or None."""
        reason = self._check(study)
        if reason is not None and self.reason is None:
            self.reason = reason
            log.info("stopping the study early: %s", reason)
            if self.on_stop is not None:
                self.on_stop(reason)
        return reason

    def _check(self, study: optuna.Study) -> str | None:
        if self.patience is not None:
            stale, best = stale_trials(study)
            if stale >= self.patience:
                since = (f"the best score {best.values[0]:.6g} (trial {best.number})" if best is not None
                         else "the start (no complete trial)")
                return (f"search.patience={self.patience}: {stale} finished trials without a better score since "
                        f"{since}")
        if self.terminator is not None:
            with warnings.catch_warnings():  # Terminator is marked experimental
                warnings.simplefilter("ignore")
                if self.terminator.should_terminate(study):
                    n = len(trials_of(study, (TrialState.COMPLETE,)))
                    return (f"search.terminator=true: Optuna's Terminator found the remaining room to improve below "
                            f"the score's noise after {n} complete trials")
        return None
