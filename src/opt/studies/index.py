"""The trials of a study as this process last read them, kept current by reading only what can change.

``study.get_trials()`` reads the whole study every time: on the journal file storage a Python loop over
every trial (about 20 ms at 20,000 trials, 50 ms at 50,000), on PostgreSQL every row of every trial. The
search loop asks several times per trial (targets, claims, artifact ranking, recovery), so at tens of
thousands of trials those reads, not the research, set the pace. A finished trial never changes, so
:func:`trials_of` reads the whole study once per process and, afterwards, only the trials it saw
unfinished and the trial numbers it has not seen yet (public storage API: ``get_trial``,
``get_trial_id_from_study_id_trial_number``): O(running + new) storage calls per read.

The lists it returns are shared: never change them or the trials in them.
"""

from __future__ import annotations

import weakref
from collections.abc import Container

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["trials_of"]


class _Index:
    def __init__(self, study: optuna.Study) -> None:
        self._read_all(study)

    def _read_all(self, study: optuna.Study) -> None:
        self.trials = list(study.get_trials(deepcopy=False))  # number order: trials[i].number == i
        self.pending = {t.number for t in self.trials if not t.state.is_finished()}
        self.exact = all(t.number == i for i, t in enumerate(self.trials))  # else: a full read each time

    def refresh(self, study: optuna.Study) -> None:
        if not self.exact:
            self._read_all(study)
            return
        storage, study_id = study._storage, study._study_id
        pending = set()
        for number in sorted(self.pending):
            trial = storage.get_trial(storage.get_trial_id_from_study_id_trial_number(study_id, number))
            self.trials[number] = trial
            if not trial.state.is_finished():
                pending.add(number)
        while True:  # trials created since the last read (by this process or others)
            try:
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, len(self.trials))
            except KeyError:
                break
            trial = storage.get_trial(trial_id)
            self.trials.append(trial)
            if not trial.state.is_finished():
                pending.add(trial.number)
        self.pending = pending


_INDEXES: weakref.WeakKeyDictionary[optuna.Study, _Index] = weakref.WeakKeyDictionary()


def trials_of(study: optuna.Study, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
    """The trials of ``study`` now, in number order (``states``: only those), like
    ``study.get_trials(deepcopy=False, states=states)`` but reading only what may have changed since this
    process last asked about this ``study`` object (module docstring)."""
    index = _INDEXES.get(study)
    if index is None:
        index = _INDEXES[study] = _Index(study)
    else:
        index.refresh(study)
    if states is None:
        return list(index.trials)
    return [t for t in index.trials if t.state in states]
