"""A full disk is one clear error and breaks nothing for later; cleanup never hides the first error.

The disk tests mount a small tmpfs (root only; skipped with the reason otherwise) and run the real CLI
with ``paths.experiments`` and ``paths.mlruns`` (so the journal, the MLflow store and its artifacts) on it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.workers import (
    FAST,
    check_exact_target,
    check_trial_runs,
    load_study,
    run_opt,
    runs_of,
)

pytestmark = pytest.mark.slow

Mount = Callable[[str], Path]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Mount]:
    """``mount(size)``: a tmpfs of ``size`` (e.g. "8m") at ``tmp_path/disk``, grown in place when called again."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (mount -t tmpfs -o size=8m tmpfs DIR)")
    where = tmp_path / "disk"
    where.mkdir()
    mounted = False

    def mount(size: str) -> Path:
        nonlocal mounted
        command = (["mount", "-o", f"remount,size={size}", str(where)] if mounted
                   else ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except OSError as exc:
            pytest.skip(f"cannot run mount here: {exc}")
        if done.returncode != 0:
            if not mounted:
                pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
            raise AssertionError(f"remount failed: {done.stderr}")
        mounted = True
        return where

    try:
        yield mount
    finally:
        if mounted:  # lazily when busy: this process may still hold the MLflow store it read open
            if subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode != 0:
                subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _on(disk: Path, name: str) -> list[str]:
    return [*FAST, f"search.study_name={name}", f"paths.experiments={disk}/experiments", f"paths.mlruns={disk}/mlruns"]


def _check_clear_disk_full(result: subprocess.CompletedProcess[str], disk: Path) -> None:
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    assert f"opt: error: disk full at {disk}" in result.stderr, result.stderr[-2000:]


def _fill(disk: Path, leave_kb: int) -> Path:
    """A filler file that leaves about ``leave_kb`` KB free on ``disk``."""
    filler = disk / "filler"
    st = os.statvfs(disk)
    size = st.f_bavail * st.f_frsize - leave_kb * 1024
    with open(filler, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, size)
    return filler


def _stores_complete(disk: Path, name: str, target: int) -> None:
    import optuna

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(f"{disk}/experiments/optuna-journal.log"))
    study = load_study(storage, f"{name}-stage1")
    check_exact_target(study, target)
    check_trial_runs(runs_of(f"sqlite:///{disk}/mlruns/mlflow.db", name), study)


def test_too_little_space_is_refused_before_any_store_is_created(small_disk: Mount) -> None:
    disk = small_disk("8m")
    first = run_opt([*_on(disk, "small"), "search.n_trials=2"], disk.parent)
    _check_clear_disk_full(first, disk)
    assert "MB free, opt needs 50 MB to create" in first.stderr and "paths.min_free_mb" in first.stderr
    assert os.listdir(disk) == [], "nothing was created on the full disk"

    small_disk("96m")
    again = run_opt([*_on(disk, "small"), "search.n_trials=2"], disk.parent)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    _stores_complete(disk, "small", 2)


def test_an_interrupted_first_migration_leaves_no_half_migrated_store(small_disk: Mount) -> None:
    # 600 KB: the journal fits, MLflow's first migration (a ~1 MB database) does not
    disk = small_disk("600k")
    args = [*_on(disk, "migrate"), "search.n_trials=2", "paths.min_free_mb=0"]
    first = run_opt(args, disk.parent)
    _check_clear_disk_full(first, disk)
    assert "database or disk is full" in first.stderr
    assert sorted(os.listdir(disk / "mlruns")) == [".init.lock"], "no mlflow.db, no temporary file left behind"

    small_disk("96m")
    again = run_opt(args, disk.parent)
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-4000:]
    assert "duplicate column" not in out
    _stores_complete(disk, "migrate", 2)


def test_a_disk_that_fills_during_a_study_is_one_clear_error_and_the_rerun_completes(small_disk: Mount) -> None:
    disk = small_disk("64m")
    args = _on(disk, "fills")
    first = run_opt([*args, "search.n_trials=1"], disk.parent)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]

    filler = _fill(disk, leave_kb=300)  # room for a few journal records and MLflow pages, not for a trial
    full = run_opt([*args, "search.n_trials=3"], disk.parent)
    _check_clear_disk_full(full, disk)

    filler.unlink()
    again = run_opt([*args, "search.n_trials=3"], disk.parent)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    _stores_complete(disk, "fills", 3)


def test_a_failing_parent_close_does_not_hide_the_first_error(workdir: Path) -> None:
    """The trial fails (artifacts cannot be written), the study stops after 1 failure in a row, and closing
    the parent run (its config.yaml artifact) fails the same way: the user sees the first error."""
    (workdir / "blocker").write_text("a file where the artifact folder should be\n")
    args = [*FAST, "search.study_name=masked", "search.n_trials=3", "tracking.artifact_root=blocker/artifacts",
            "search.max_consecutive_failures=1", "search.min_events_per_day=0", "search.max_events_per_day=100000"]
    result = run_opt(args, workdir)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    assert "opt: error: stopped after 1 failed trials in a row" in result.stderr
    assert "could not close the MLflow parent run" in out
    parents = [r for r in runs_of(f"sqlite:///{workdir}/mlruns/mlflow.db", "masked")
               if r.data.tags.get("opt.role") == "parent"]
    assert [p.info.status for p in parents] == ["FAILED"], "the parent run is still marked FAILED"
