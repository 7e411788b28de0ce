"""Samplers of opt's own: TPE whose cost per trial stays flat however many trials the study holds.

Optuna's :class:`~optuna.samplers.TPESampler` reads every finished trial of the study on every
``ask()`` (and, grouped, once per group of parameters that occur together), so its cost grows linearly
with the study: on the stage-1 space, 29 ms per trial at 0 finished trials and 713 ms at 10,000
(``benchmarks/bench_scale.py``, README). :class:`BoundedTPESampler` gives TPE a bounded view of the
history instead:

- every trial when the study holds at most ``max_history`` finished ones (identical to Optuna's TPE);
- beyond that, the ``n_best`` best feasible COMPLETE trials, which always contain TPE's "good" set
  (Optuna's default gamma puts at most 25 trials there: Watanabe 2023, "Tree-structured Parzen
  estimator: understanding its algorithm components", arXiv:2304.11127), plus an evenly spaced sample
  (by trial number, the latest always in) of the other finished trials, ``max_history`` in all, so
  the "bad" density keeps the shape of the whole history instead of only its recent corner;
- the RUNNING trials of other workers, as the constant liar needs.

The view is taken once per trial (one storage read per ``ask()`` instead of one per parameter group).
Its cost in search quality is measured by ``benchmarks/bench_samplers.py`` (README, "Overnight").
"""

from __future__ import annotations

import copy
import math
from collections.abc import Container, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import default_gamma, default_gamma_multiobjective  # Optuna's own defaults
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = ["BoundedTPESampler", "bounded_history"]


def _feasible(trial: FrozenTrial) -> bool:
    return all(value <= 0.0 for value in trial.constraints.values())  # Optuna: feasible when all <= 0


def _rank_key(trial: FrozenTrial, sign: float) -> tuple[float, int]:
    return (-sign * float(trial.value), trial.number)  # type: ignore[arg-type]


def _spread(rest: Sequence[FrozenTrial], k: int) -> list[FrozenTrial]:
    """``k`` trials of ``rest`` evenly spaced by position, first and last included (all when ``k >= len``)."""
    if k >= len(rest):
        return list(rest)
    if k <= 0:
        return []
    if k == 1:
        return [rest[-1]]
    step = (len(rest) - 1) / (k - 1)
    return [rest[round(i * step)] for i in range(k)]


def bounded_history(trials: Sequence[FrozenTrial], *, max_history: int, n_best: int,
                    direction: StudyDirection | None,
                    best: Sequence[FrozenTrial] | None = None) -> list[FrozenTrial]:
    """The trials TPE sees: all of ``trials`` when at most ``max_history`` are finished, else a bounded view.

    Args:
        trials: the study's trials, any states, in trial-number order (what ``study.get_trials`` returns).
        max_history: most finished trials in the view (RUNNING trials come on top).
        n_best: best feasible COMPLETE trials always kept (by value in ``direction``); the rest of the
            ``max_history`` is an evenly spaced sample of the other finished trials, the latest included.
        direction: the single objective's direction; None (several objectives): no best trials are
            singled out, the whole view is the evenly spaced sample.
        best: the ``n_best`` best feasible COMPLETE trials of ``trials`` when the caller keeps them
            already (:class:`BoundedTPESampler` does, incrementally); None: found here.

    Returns:
        The view, in trial-number order.

    Raises:
        ValueError: ``max_history < 1`` or ``n_best`` outside ``[0, max_history]``.
    """
    if max_history < 1 or not 0 <= n_best <= max_history:
        raise ValueError(f"bounded TPE history needs max_history >= 1 and 0 <= n_best <= max_history, "
                         f"got max_history={max_history}, n_best={n_best}")
    finished = [t for t in trials if t.state.is_finished()]
    if len(finished) <= max_history:
        return list(trials)
    running = [t for t in trials if not t.state.is_finished()]
    if direction is None or n_best == 0:
        best = []
    elif best is None:
        sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
        best = sorted((t for t in finished if t.state == TrialState.COMPLETE and t.value is not None
                       and math.isfinite(t.value) and _feasible(t)), key=lambda t: _rank_key(t, sign))[:n_best]
    chosen = {t.number for t in best}
    rest = [t for t in finished if t.number not in chosen]
    return sorted([*best, *_spread(rest, max_history - len(best)), *running], key=lambda t: t.number)


class _HistoryView:
    """A study seen through a fixed list of trials (everything else is the real study)."""

    def __init__(self, study: Study, trials: list[FrozenTrial]) -> None:
        self._real = study
        self._view = trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        del use_cache
        out = self._view if states is None else [t for t in self._view if t.state in states]
        return copy.deepcopy(out) if deepcopy else out

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)


class BoundedTPESampler(TPESampler):
    """Optuna's TPE on a bounded view of the history (module docstring); ``search.sampler=tpe``.

    Args:
        max_history: most finished trials TPE models (null: all, Optuna's TPE unchanged). The cost of
            one ``ask()`` grows with this, not with the study.
        n_best: best feasible COMPLETE trials always in the view (at least TPE's good set, 25 by default).
        **kwargs: :class:`optuna.samplers.TPESampler`'s arguments (``seed``, ``multivariate``, ``group``,
            ``constant_liar``, ``n_startup_trials``, ...).

    Raises:
        ValueError: ``max_history < 1`` or ``n_best`` outside ``[0, max_history]``.
    """

    def __init__(self, *, max_history: int | None = 1000, n_best: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_history is not None:
            bounded_history([], max_history=int(max_history), n_best=min(int(n_best), int(max_history)),
                            direction=None)
        self._user_gamma = kwargs.get("gamma")
        self._max_history = None if max_history is None else int(max_history)
        self._n_best = int(n_best) if max_history is None else min(int(n_best), int(max_history))
        self._view_of: tuple[int, int, list[FrozenTrial]] | None = None  # (study id, trial number, view)
        self._best_of: tuple[int, set[int], list[FrozenTrial]] | None = None  # (study id, finished seen, best)

    def _best(self, study: Study, trials: Sequence[FrozenTrial], direction: StudyDirection) -> list[FrozenTrial]:
        """The ``n_best`` best feasible COMPLETE trials, updated with the trials finished since the last call
        (a finished trial never changes, so each is looked at once per process)."""
        if self._best_of is None or self._best_of[0] != study._study_id:
            self._best_of = (study._study_id, set(), [])
        _, seen, best = self._best_of
        new = [t for t in trials if t.state.is_finished() and t.number not in seen]
        if new:
            seen.update(t.number for t in new)
            sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
            best.extend(t for t in new if t.state == TrialState.COMPLETE and t.value is not None
                        and math.isfinite(t.value) and _feasible(t))
            best.sort(key=lambda t: _rank_key(t, sign))
            del best[self._n_best:]
        return best

    def _view(self, study: Study, trial: FrozenTrial) -> Study:
        key = (study._study_id, trial.number)
        if self._view_of is None or self._view_of[:2] != key:
            trials = study._get_trials(deepcopy=False, use_cache=False)
            self._set_gamma(study, sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials))
            if self._max_history is not None:
                direction = None if study._is_multi_objective() else study.direction
                best = None if direction is None else self._best(study, trials, direction)
                trials = bounded_history(trials, max_history=self._max_history, n_best=self._n_best,
                                         direction=direction, best=best)
            self._view_of = (*key, trials)
        return _HistoryView(study, self._view_of[2])  # type: ignore[return-value]

    def _set_gamma(self, study: Study, n_history: int) -> None:
        """TPE's good-set size from the whole history's count, not the view's: the view holds the
        ``n_best`` best trials, so the good set is the one Optuna's TPE would pick (at most 25 trials by
        default; ``n_best`` should be at least that)."""
        base = self._user_gamma or (default_gamma_multiobjective if study._is_multi_objective() else default_gamma)
        self._gamma = lambda n: base(max(n, n_history))

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """TPE's relative search space, from the bounded view of ``study``."""
        return super().infer_relative_search_space(self._view(study, trial), trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """TPE's joint sample, from the bounded view of ``study``."""
        return super().sample_relative(self._view(study, trial), trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """TPE's sample of one parameter, from the bounded view of ``study``."""
        return super().sample_independent(self._view(study, trial), trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        """Optuna's after-trial hook; the view of that trial is dropped."""
        self._view_of = None
        super().after_trial(study, trial, state, values)

