"""``search.workers=K``: K real worker processes on one journal-file study, exact target, cold start."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from opt.errors import ConfigError
from opt.search.workers import limit_threads, worker_commands, worker_count

from tests.helpers.config import compose_config
from tests.helpers.workers import (
    FAST,
    assert_no_lock_errors,
    check_exact_target,
    check_trial_runs,
    cli_env,
    journal,
    load_study,
    opt_run,
    run_opt,
    runs_of,
    sqlite_tracking,
)


def test_sqlite_storage_is_refused_with_several_workers() -> None:
    cfg = compose_config(["+stage=1", "search.storage=sqlite:///x.db", "search.workers=2"])
    with pytest.raises(ConfigError, match="journal.*PostgreSQL"):
        worker_count(cfg)
    assert worker_count(compose_config(["+stage=1", "search.storage=sqlite:///x.db"])) == 1
    assert worker_count(compose_config(["+stage=1", "search.workers=4"])) == 4


def test_threads_per_worker_caps_every_model_family() -> None:
    cfg = compose_config(["+stage=2", "search.threads_per_worker=1", "model.n_jobs=2"])
    capped = limit_threads(cfg)
    assert capped.model.n_jobs == 1 and capped.stage.families.xgboost.n_jobs == 1
    assert capped.stage.families.cnn.num_threads == 1
    assert cfg.model.n_jobs == 2  # the input is left alone
    assert limit_threads(compose_config(["+stage=1"])).model.n_jobs == 2  # null: unchanged


def test_worker_commands_set_index_parent_and_threads() -> None:
    commands = worker_commands(["+stage='1'", "search.n_trials=8"], workers=2, parent_run_id="abc", threads=1)
    assert len(commands) == 2
    for i, command in enumerate(commands):
        assert command[2:] == ["opt", "run", "+stage='1'", "search.n_trials=8", "search.workers=1",
                               f"search.worker_index={i}", "tracking.parent_run_id='abc'",
                               "search.threads_per_worker=1", "search.progress=false"]


@pytest.mark.slow
def test_soak_four_workers_reach_exactly_the_target(workdir: Path) -> None:
    t0 = time.perf_counter()
    result = run_opt([*FAST, "search.study_name=soak", "search.workers=4", "search.n_trials=24",
                      "search.n_startup_trials=8"], workdir, timeout=400)
    elapsed = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr[-4000:]
    assert_no_lock_errors(result.stdout + result.stderr)
    study = load_study(journal(workdir), "soak-stage1")
    finished = check_exact_target(study, 24)
    runs = runs_of(sqlite_tracking(workdir), "soak")
    by_number = check_trial_runs(runs, study)
    assert len([r for r in by_number.values() if r.info.status == "FINISHED"]) == 24
    parents = [r for r in runs if r.data.tags.get("opt.role") == "parent"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert {r.data.tags["mlflow.parentRunId"] for r in by_number.values()} == {parents[0].info.run_id}
    # four worker processes, each with its own sampler seed (their first trials differ)
    first: dict[str, dict] = {}
    for trial in sorted(finished, key=lambda t: t.number):
        first.setdefault(trial.user_attrs["worker"], trial.params)
    assert len(first) == 4
    assert len({tuple(sorted(p.items())) for p in first.values()}) == 4
    print(f"soak journal: 24 trials with 4 workers in {elapsed:.1f} s")


@pytest.mark.slow
def test_cold_start_four_processes_share_one_study_and_experiment(workdir: Path) -> None:
    args = [*FAST, "search.study_name=cold", "search.n_trials=2"]
    procs = [subprocess.Popen(opt_run(args), cwd=workdir, env=cli_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out[-4000:]
        assert_no_lock_errors(out)
    storage = journal(workdir)
    assert [s.study_name for s in storage.get_all_studies()] == ["cold-stage1"]
    study = load_study(storage, "cold-stage1")
    check_exact_target(study, 2)
    con = sqlite3.connect(workdir / "mlruns" / "mlflow.db")
    try:
        experiments = [r[0] for r in con.execute("SELECT name FROM experiments WHERE name = 'cold'")]
        version = con.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        con.close()
    assert experiments == ["cold"]
    assert version == [(_mlflow_head(),)]
    runs = runs_of(sqlite_tracking(workdir), "cold")
    check_trial_runs(runs, study)
    assert len([r for r in runs if r.data.tags.get("opt.role") == "parent"]) == 4


def _mlflow_head() -> str:
    """The newest MLflow schema revision (what a fully migrated store records)."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    return str(ScriptDirectory.from_config(_get_alembic_config("sqlite://")).get_current_head())
