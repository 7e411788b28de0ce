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

import bisect
import copy
import math
from collections.abc import Container, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import default_gamma, default_gamma_multiobjective  # Optuna's own defaults
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from opt.studies.index import trials_of

__all__ = ["BoundedTPESampler", "bounded_history"]


def _feasible(trial: FrozenTrial) -> bool:
    return all(value <= 0.0 for value in trial.constraints.values())  # Optuna: feasible when all <= 0


def _number(trial: FrozenTrial) -> int:
    return trial.number


def _rank_key(trial: FrozenTrial, sign: float) -> tuple[float, int]:
    return (-sign * float(trial.value), trial.number)  # type: ignore[arg-type]


def bounded_history(trials: Sequence[FrozenTrial], *, max_history: int, n_best: int,
                    direction: StudyDirection | None) -> list[FrozenTrial]:
    """The trials TPE sees: all of ``trials`` when at most ``max_history`` are finished, else a bounded view.

    Args:
        trials: the study's trials, any states, in trial-number order (what ``study.get_trials`` returns).
        max_history: most finished trials in the view (RUNNING trials come on top).
        n_best: best feasible COMPLETE trials always kept (by value in ``direction``); the rest of the
            ``max_history`` is an evenly spaced sample of the other finished trials, the latest included.
        direction: the single objective's direction; None (several objectives): no best trials are
            singled out, the whole view is the evenly spaced sample.

    Returns:
        The view, in trial-number order.

    Raises:
        ValueError: ``max_history < 1`` or ``n_best`` outside ``[0, max_history]``.
    """
    _check_bounds(max_history, n_best)
    finished = [t for t in trials if t.state.is_finished()]
    running = [t for t in trials if not t.state.is_finished()]
    if len(finished) <= max_history:
        return list(trials)
    best: list[FrozenTrial] = []
    if direction is not None and n_best > 0:
        sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
        best = sorted((t for t in finished if t.state == TrialState.COMPLETE and t.value is not None
                       and math.isfinite(t.value) and _feasible(t)), key=lambda t: _rank_key(t, sign))[:n_best]
    return _select(finished, running, best, max_history)


def _check_bounds(max_history: int, n_best: int) -> None:
    if max_history < 1 or not 0 <= n_best <= max_history:
        raise ValueError(f"bounded TPE history needs max_history >= 1 and 0 <= n_best <= max_history, "
                         f"got max_history={max_history}, n_best={n_best}")


def _select(finished: Sequence[FrozenTrial], running: Sequence[FrozenTrial], best: Sequence[FrozenTrial],
            max_history: int) -> list[FrozenTrial]:
    """``best`` + an evenly spaced sample of the other ``finished`` trials (``max_history`` in all when there
    are more) + ``running``, in number order; O(max_history) for ``finished`` in number order."""
    if len(finished) <= max_history:
        return sorted([*finished, *running], key=lambda t: t.number)
    chosen = {t.number for t in best}
    k = max_history - len(best)
    spread: list[FrozenTrial] = []
    step = (len(finished) - 1) / (k - 1) if k > 1 else 0.0
    nxt = 0  # positions before this one are taken
    for i in range(k):  # evenly spaced positions, each moved past the best trials it lands on
        at = max(len(finished) - 1 if k == 1 else round(i * step), nxt)
        while at < len(finished) and finished[at].number in chosen:
            at += 1
        if at >= len(finished):
            break
        spread.append(finished[at])
        nxt = at + 1
    return sorted([*best, *spread, *running], key=lambda t: t.number)


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


class _History:
    """The finished trials of one study as this process has seen them, kept up to date by looking only
    at the trials it has not seen finished (finished trials never change): O(new + running) per ``ask()``
    instead of O(study).

    Attributes:
        finished: finished trials (any finished state), in number order.
        best: the ``n_best`` best feasible COMPLETE trials (none with several objectives).
        n_modelled: COMPLETE + PRUNED trials among them (what TPE counts for its good set).
    """

    def __init__(self, study: Study, direction: StudyDirection | None, n_best: int) -> None:
        self.study_id = study._study_id
        self.sign = None if direction is None else (1.0 if direction == StudyDirection.MAXIMIZE else -1.0)
        self.n_best = n_best
        self.finished: list[FrozenTrial] = []
        self.best: list[FrozenTrial] = []
        self.n_modelled = 0
        self.pending: set[int] = set()  # numbers seen unfinished
        self.next_number = 0  # numbers from here on not looked at yet

    def _add(self, new: list[FrozenTrial]) -> None:
        for trial in new:  # few per ask: O(log n) each, not a sort of the whole history
            bisect.insort(self.finished, trial, key=_number)
        self.n_modelled += sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in new)
        if self.sign is not None and self.n_best:
            sign = self.sign
            self.best.extend(t for t in new if t.state == TrialState.COMPLETE and t.value is not None
                             and math.isfinite(t.value) and _feasible(t))
            self.best.sort(key=lambda t: _rank_key(t, sign))
            del self.best[self.n_best:]

    def refresh(self, study: Study) -> list[FrozenTrial]:
        """Take in the trials finished since the last call; return the unfinished ones (RUNNING, for the
        constant liar, and WAITING). The study is read through :func:`opt.studies.index.trials_of`
        (only unfinished and new trials, shared with the search loop); only those are looked at here."""
        trials = trials_of(study)
        if trials and trials[-1].number != len(trials) - 1:  # not numbered 0..n-1: look trials up by number
            by_number: Sequence[FrozenTrial] | dict[int, FrozenTrial] = {t.number: t for t in trials}
            end = max(t.number for t in trials) + 1
        else:
            by_number, end = trials, len(trials)
        fetched = [by_number[n] for n in sorted(self.pending | set(range(self.next_number, end)))]
        self.next_number = end
        running = [t for t in fetched if not t.state.is_finished()]
        self._add([t for t in fetched if t.state.is_finished()])
        self.pending = {t.number for t in running}
        return running


class BoundedTPESampler(TPESampler):
    """Optuna's TPE on a bounded view of the history (module docstring); ``search.sampler=tpe``.

    Args:
        max_history: most finished trials TPE models (null: all, Optuna's TPE unchanged). The cost of
            one ``ask()`` grows with this, not with the study.
        n_best: best feasible COMPLETE trials always in the view (at least TPE's good set, 25 by default).
        **kwargs: :class:`optuna.samplers.TPESampler`'s arguments (``seed``, ``multivariate``, ``group``,
            ``constant_liar``, ``n_startup_trials``, ...).

    Raises:
        ValueError: ``max_history`` not a whole number >= 1 or null, ``n_best`` not a whole number >= 0
            (an ``n_best`` above ``max_history`` is cut to it).
    """

    def __init__(self, *, max_history: int | None = 250, n_best: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name, value in (("max_history", max_history), ("n_best", n_best)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"search.sampler.{name} must be a whole number of trials, got {value!r}")
        if max_history is not None and max_history < 1 or n_best < 0:
            raise ValueError(f"bounded TPE history needs search.sampler.max_history >= 1 (or null: no bound) and "
                             f"search.sampler.n_best >= 0, got max_history={max_history}, n_best={n_best}")
        self._user_gamma = kwargs.get("gamma")
        self._max_history = max_history
        self._n_best = n_best if max_history is None else min(n_best, max_history)
        self._view_of: tuple[int, int, list[FrozenTrial]] | None = None  # (study id, trial number, view)
        self._history: _History | None = None

    def _view(self, study: Study, trial: FrozenTrial) -> Study:
        key = (study._study_id, trial.number)
        if self._view_of is None or self._view_of[:2] != key:
            if self._history is None or self._history.study_id != study._study_id:
                direction = None if study._is_multi_objective() else study.direction
                self._history = _History(study, direction, self._n_best)
            running = self._history.refresh(study)
            self._set_gamma(study, self._history.n_modelled)
            finished = self._history.finished
            if self._max_history is None:
                view = sorted([*finished, *running], key=lambda t: t.number)
            else:
                view = _select(finished, running, self._history.best, self._max_history)
            self._view_of = (*key, view)
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

