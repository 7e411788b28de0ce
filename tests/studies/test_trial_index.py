"""opt.studies.index.trials_of: the same trials as study.get_trials, read incrementally."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.trial import TrialState

from opt.studies.index import trials_of

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _summary(trials: list) -> list[tuple]:
    return [(t.number, t.state, t.value, t.params, t.user_attrs) for t in trials]


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_trials_of_follows_this_and_other_processes_like_a_full_read(tmp_path: Path, kind: str) -> None:
    if kind == "journal":
        path = str(tmp_path / "journal.log")

        def storage() -> optuna.storages.BaseStorage:
            return optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    else:
        url = f"sqlite:///{tmp_path / 'optuna.db'}"

        def storage() -> optuna.storages.BaseStorage:
            return optuna.storages.RDBStorage(url)
    mine = optuna.create_study(study_name="s", storage=storage(), direction="maximize")
    other = optuna.load_study(study_name="s", storage=storage())  # another process: its own storage object
    assert trials_of(mine) == []
    held = [other.ask() for _ in range(3)]  # the other process's trials stay RUNNING for a while
    for i in range(5):
        trial = mine.ask()
        trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("worker", "me")
        assert _summary(trials_of(mine)) == _summary(mine.get_trials(deepcopy=False))
        mine.tell(trial, float(i))
    held[1].set_user_attr("worker", "other")  # a RUNNING trial changes: read again
    other.tell(held[2], 9.0)  # finished out of order
    other.tell(held[0], state=TrialState.FAIL)
    assert _summary(trials_of(mine)) == _summary(mine.get_trials(deepcopy=False))
    assert [t.number for t in trials_of(mine, (TrialState.RUNNING,))] == [held[1].number]
    other.tell(held[1], state=TrialState.PRUNED)
    other.ask()  # a new RUNNING trial of the other process
    assert _summary(trials_of(mine)) == _summary(mine.get_trials(deepcopy=False))
    assert len(trials_of(mine, (TrialState.COMPLETE, TrialState.PRUNED))) == 7
