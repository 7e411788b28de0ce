"""The snapshot beside the Optuna journal (opt.studies.snapshot): same study as a full replay, only faster."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.trial import TrialState

from opt.studies.journal import JournalError, check_journal
from opt.studies.snapshot import SnapshotJournalFileBackend, snapshot_path, verified_prefix

optuna.logging.set_verbosity(optuna.logging.WARNING)
DIST = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
PAD = "p" * 8000  # ~8 KB per trial record: past 2 MB (the first snapshot) at trial 300 (Optuna offers one every 100)


def _open(journal: Path, *, snapshot: bool = True) -> optuna.storages.JournalStorage:
    backend_cls = SnapshotJournalFileBackend if snapshot else JournalFileBackend
    return optuna.storages.JournalStorage(backend_cls(str(journal), lock_obj=JournalFileOpenLock(str(journal))))


def _add(journal: Path, n: int, start: int = 0) -> None:
    study = optuna.create_study(study_name="s", storage=_open(journal), direction="maximize", load_if_exists=True)
    trials = [optuna.trial.create_trial(state=TrialState.COMPLETE, value=float(i), params={"x": (i % 97) / 97},
                                        distributions=DIST, user_attrs={"pad": PAD, "i": i})
              for i in range(start, start + n)]
    study.add_trials(trials)


def _summary(storage: optuna.storages.JournalStorage) -> list[tuple[int, str, float | None, dict, int]]:
    study = optuna.load_study(study_name="s", storage=storage)
    return [(t.number, t.state.name, t.value, t.params, t.user_attrs["i"]) for t in study.get_trials(deepcopy=False)]


def test_a_big_journal_gets_a_snapshot_and_reopens_to_the_same_study_from_its_tail(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    _add(journal, 500)
    assert snapshot_path(journal).is_file()
    covered = verified_prefix(journal)
    assert covered is not None and 0 < covered[1] < journal.stat().st_size  # trials after the snapshot: the tail
    _add(journal, 30, start=500)  # written after the snapshot

    backend = SnapshotJournalFileBackend(str(journal), lock_obj=JournalFileOpenLock(str(journal)))
    restored = optuna.storages.JournalStorage(backend)
    assert covered[0] in backend._log_number_offset  # Optuna resumed reading at the snapshot's end
    assert _summary(restored) == _summary(_open(journal, snapshot=False))  # the full replay
    assert len(_summary(restored)) == 530


def test_a_snapshot_that_does_not_match_its_journal_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    journal = tmp_path / "journal.log"
    _add(journal, 400)
    snap = snapshot_path(journal).read_bytes()
    other = tmp_path / "other.log"  # another journal, same size range, different records
    _add(other, 400, start=1000)
    snapshot_path(other).write_bytes(snap)  # the first journal's snapshot beside the second journal
    assert verified_prefix(other) is None
    assert [row[4] for row in _summary(_open(other))] == list(range(1000, 1400))

    header, _, payload = snap.partition(b"\n")  # a payload altered after its header was written
    snapshot_path(journal).write_bytes(header + b"\n" + payload[:-10] + b"x" * 10)
    with caplog.at_level(logging.WARNING, logger="opt.studies.snapshot"):
        assert [row[4] for row in _summary(_open(journal))] == list(range(400))
    assert "does not match its header" in caplog.text

    head = json.loads(header)
    head["optuna"] = "0.0.1"  # written by another Optuna: its pickle may not load here
    snapshot_path(journal).write_bytes(json.dumps(head).encode() + b"\n" + payload)
    assert verified_prefix(journal) is None
    assert len(_summary(_open(journal))) == 400


def test_the_journal_check_still_refuses_a_corrupt_record_and_cuts_a_torn_tail_after_a_snapshot(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    _add(journal, 400)
    covered = verified_prefix(journal)
    assert covered is not None
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"op_code": 5, "worker_id": "w", "trial_id": 1, "sta')  # torn last write
    repair = check_journal(journal)
    assert repair is not None and journal.read_bytes() == good
    assert verified_prefix(journal) == covered  # the cut never reaches into what the snapshot covers

    journal.write_bytes(good + b"not json\n" + b'{"op_code": 0, "worker_id": "w", "study_name": "t", "directions": [1]}\n')
    bad_line = good.count(b"\n") + 1
    with pytest.raises(JournalError, match=f"corrupt at line {bad_line} "):
        check_journal(journal)


def test_a_snapshot_that_cannot_be_written_is_skipped_and_the_study_goes_on(tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture) -> None:
    journal = tmp_path / "journal.log"
    snapshot_path(journal).mkdir()  # os.replace onto a folder fails like a full or read-only disk would
    with caplog.at_level(logging.WARNING, logger="opt.studies.snapshot"):
        _add(journal, 400)
    assert "could not write the journal snapshot" in caplog.text
    assert not list(tmp_path.glob("*.tmp-*"))  # no half-written file left behind
    assert len(_summary(_open(journal))) == 400
