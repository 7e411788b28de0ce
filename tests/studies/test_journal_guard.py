"""The journal guard (opt.studies.journal): a torn last line is cut (with a backup), a corrupt record is a
clear error. Real journals written by Optuna and by the real CLI; no mocks."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.studies.journal import JournalError, check_journal, scan_journal

from tests.helpers.cli import run_cli
from tests.helpers.workers import FAST, journal, load_study, run_opt

JOURNAL = Path("experiments") / "optuna-journal.log"


def _write_study(path: Path, name: str, n_trials: int = 3) -> None:
    """A real journal: study ``name`` with ``n_trials`` complete trials, written by Optuna."""
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    study = optuna.create_study(study_name=name, storage=storage)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=n_trials)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _finished(study: optuna.Study) -> dict[int, tuple[dict[str, object], list[float] | None, TrialState]]:
    return {t.number: (t.params, t.values, t.state) for t in study.trials
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)}


# --- the guard itself, on journals written by Optuna -------------------------------------------------

def test_a_whole_journal_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    _write_study(path, "s")
    before = path.read_bytes()
    assert check_journal(path) is None
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("j.log.bak-*")) and not (tmp_path / "j.log.lock").exists()


def test_a_torn_last_line_is_cut_to_the_last_complete_record_with_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    _write_study(path, "s")
    whole = path.read_bytes()
    torn = whole + b'{"op_code":4,"worker_id":"w","study_id":0,"datetime_st'  # the next append, torn
    path.write_bytes(torn)

    repair = check_journal(path)

    assert repair is not None and repair.cut_bytes == len(torn) - len(whole) and repair.kept_bytes == len(whole)
    assert path.read_bytes() == whole
    assert repair.backup.read_bytes() == torn and repair.backup.name.startswith("j.log.bak-")
    assert not (tmp_path / "j.log.lock").exists(), "the journal lock is released"
    study = load_study(optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path))), "s")
    assert len(study.trials) == 3 and all(t.state == TrialState.COMPLETE for t in study.trials)


def test_a_corrupt_middle_line_is_refused_naming_the_line_and_the_repair(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    _write_study(path, "s")
    lines = _lines(path)
    # the classic result of a torn write followed by the next append: half a record, then a whole one
    lines[4] = lines[4][: len(lines[4]) // 2] + lines[5]
    path.write_bytes(b"\n".join(lines))
    before = path.read_bytes()

    with pytest.raises(JournalError) as raised:
        check_journal(path)

    message = str(raised.value)
    assert f"{path} is corrupt at line 5" in message and "4 records before it are intact" in message
    assert "delete the first" in message and "head -n 4" in message
    assert path.read_bytes() == before, "a corrupt journal is never changed"
    assert not (tmp_path / "j.log.lock").exists()


def test_a_blank_or_binary_middle_line_is_refused(tmp_path: Path) -> None:
    for bad in (b"", b"\x00\x00\x00\x00", b"[1, 2]"):
        path = tmp_path / "j.log"
        _write_study(path, "s")
        lines = _lines(path)
        lines.insert(2, bad)
        path.write_bytes(b"\n".join(lines))
        with pytest.raises(JournalError, match="corrupt at line 3"):
            check_journal(path)
        path.unlink()


def test_the_scan_reads_blocks_and_finds_the_first_bad_line_anywhere(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import opt.studies.journal as guard

    monkeypatch.setattr(guard, "BLOCK", 64)  # many blocks, records split across block boundaries
    path = tmp_path / "j.log"
    records = [json.dumps({"op_code": 5, "i": i, "pad": "x" * (i % 50)}).encode() for i in range(200)]
    path.write_bytes(b"\n".join(records) + b"\n")
    scan = scan_journal(path)
    assert (scan.records, scan.good_end, scan.size, scan.bad_line) == (200, path.stat().st_size,
                                                                       path.stat().st_size, None)
    records[137] = records[137][:-3]
    path.write_bytes(b"\n".join(records) + b"\n")
    scan = scan_journal(path)
    assert scan.bad_line == 138 and scan.records == 137
    assert scan.good_end == sum(len(r) + 1 for r in records[:137])


# --- the real CLI ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_torn_journal_resumes_with_its_trials_and_list_show_work(workdir: Path) -> None:
    args = [*FAST, "search.study_name=torn"]
    first = run_opt([*args, "search.n_trials=3"], workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    path = workdir / JOURNAL
    before = _finished(load_study(journal(workdir), "torn-stage1"))
    assert len(before) == 3

    # a full disk tore the next write: the journal's last line stops half-way (no newline)
    whole = path.read_bytes()
    last = _lines(path)[-2]
    torn = whole + last[: len(last) // 2]
    path.write_bytes(torn)

    again = run_opt([*args, "search.n_trials=5"], workdir)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-4000:]
    assert "Traceback" not in out
    assert f"cut its last {len(last) // 2} bytes" in out and "torn record" in out
    backups = list(path.parent.glob("optuna-journal.log.bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == torn and backups[0].name in out
    study = load_study(journal(workdir), "torn-stage1")
    after = _finished(study)
    assert len(after) == 5
    assert {n: after[n] for n in before} == before, "the 3 finished trials are intact"
    assert scan_journal(path).bad_line is None and path.read_bytes().endswith(b"\n")

    # the literal case: the last line itself (the last trial's COMPLETE record) torn mid-way: that record
    # is lost, every other one is kept; the trial is then the one of a dead process (FAIL) and the study
    # runs one more trial to reach its target
    last = _lines(path)[-2]
    record = json.loads(last)
    assert record["op_code"] == 6  # SET_TRIAL_STATE_VALUES: the last trial's COMPLETE or PRUNED
    torn_trial = int(record["trial_id"])  # one study in this journal: trial id == trial number
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(last) - 1 + len(last) // 2])
    third = run_opt([*args, "search.n_trials=6"], workdir)
    assert third.returncode == 0, (third.stdout + third.stderr)[-4000:]
    assert "torn record" in third.stdout + third.stderr
    study = load_study(journal(workdir), "torn-stage1")
    finished = _finished(study)
    assert len(finished) == 6 and torn_trial not in finished
    assert study.trials[torn_trial].state == TrialState.FAIL
    assert {n: finished[n] for n in after if n != torn_trial} == {n: v for n, v in after.items() if n != torn_trial}

    for command in (["list", "+stage=1", "search.study_name=torn"],
                    ["show", "+stage=1", "search.study_name=torn", "inspect.trial=4"]):
        shown = run_cli(command, workdir, timeout=300)
        assert shown.returncode == 0, shown.stderr[-3000:]
        assert "Traceback" not in shown.stdout + shown.stderr


@pytest.mark.slow
def test_a_corrupt_journal_is_a_clear_error_for_run_list_and_show(workdir: Path) -> None:
    path = workdir / JOURNAL
    _write_study(path, "bad-stage1")
    lines = _lines(path)
    lines[2] = lines[2][:40] + lines[3]  # a torn record, then the next append straight after it
    path.write_bytes(b"\n".join(lines))
    before = path.read_bytes()

    for command in (["run", *FAST, "search.study_name=bad", "search.n_trials=5"],
                    ["list", "+stage=1", "search.study_name=bad"],
                    ["show", "+stage=1", "search.study_name=bad", "inspect.trial=0"]):
        result = run_cli(command, workdir, timeout=300)
        out = result.stdout + result.stderr
        assert result.returncode == 2, out[-3000:]
        assert "Traceback" not in out and "JSONDecodeError" not in out
        assert "opt: error: the Optuna journal experiments/optuna-journal.log is corrupt at line 3" in result.stderr
        assert "Repair:" in result.stderr and "delete the first 40 bytes of line 3" in result.stderr
    assert path.read_bytes() == before
