"""Helpers for the worker, recovery and PostgreSQL tests: run the real CLI, read the real stores."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import optuna
from optuna.trial import FrozenTrial, TrialState

from opt.stores import sqlalchemy_url

T = TypeVar("T")

#: small, quick stage-1 studies on synthetic data
FAST = ["+stage=1", "data.synthetic.n_days=25", "search.progress=false", "model.device=cpu", "model.n_jobs=1"]
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
LOCK_ERRORS = re.compile(r"database is locked|OperationalError|deadlock detected|could not serialize|"
                         r"Traceback|store busy", re.IGNORECASE)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


def opt_run(args: list[str]) -> list[str]:
    """The command line ``python -m opt run ARGS``."""
    return [sys.executable, "-m", "opt", "run", *args]


def run_opt(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m opt run ARGS`` in ``cwd`` to its end (never raises on the exit status)."""
    return subprocess.run(opt_run(args), cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)


def start_opt(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m opt run ARGS`` in ``cwd`` with stdout and stderr going to ``log``."""
    handle = open(log, "wb")  # noqa: SIM115 - the child holds it; closed with the process object
    return subprocess.Popen(opt_run(args), cwd=cwd, env=cli_env(), stdout=handle, stderr=subprocess.STDOUT)


def wait_until(check: Callable[[], T | None], *, timeout: float, what: str, every: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def journal(workdir: Path) -> optuna.storages.JournalStorage:
    return optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workdir / "experiments" / "optuna-journal.log")))


def load_study(storage: Any, name: str) -> optuna.Study:
    """Study ``name`` from a storage object or URL (``postgresql://`` read with psycopg2)."""
    return optuna.load_study(study_name=name, storage=sqlalchemy_url(storage) if isinstance(storage, str) else storage)


def sqlite_tracking(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"


def runs_of(tracking_uri: str, experiment: str) -> list[Any]:
    """All runs (parents and trials) of ``experiment``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sqlalchemy_url(tracking_uri))
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment!r}"
    return list(client.search_runs([exp.experiment_id], max_results=5000))


def check_exact_target(study: optuna.Study, target: int) -> list[FrozenTrial]:
    """The study holds exactly ``target`` finished trials, none RUNNING, unique numbers; returns them."""
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) and sorted(numbers) == list(range(len(numbers)))
    assert not [t.number for t in trials if t.state == TrialState.RUNNING], "trials left RUNNING"
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == target, f"{len(finished)} finished trials, target {target}"
    return finished


def check_trial_runs(runs: list[Any], study: optuna.Study) -> dict[int, Any]:
    """Every finished trial has exactly one FINISHED run; no run is left RUNNING; returns number -> run."""
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"], "MLflow runs left RUNNING"
    children = [r for r in runs if r.data.tags.get("opt.role") == "trial"]
    by_number: dict[int, Any] = {}
    for run in children:
        number = int(run.data.tags["opt.trial_number"])
        assert number not in by_number, f"two runs for trial {number}"
        by_number[number] = run
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        run = by_number[trial.number]
        assert run.info.run_id == trial.user_attrs["mlflow_run_id"]
        assert run.info.status == "FINISHED" and run.data.tags["opt.trial_state"] == trial.state.name
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if "abandoned" in trial.user_attrs:  # never got a run
            assert trial.number not in by_number and not trial.params
    return by_number


def assert_no_lock_errors(text: str) -> None:
    found = LOCK_ERRORS.findall(text)
    assert not found, f"lock errors in the logs: {sorted(set(found))}\n{text[-3000:]}"


def pg_admin(tests: str) -> Any:
    """An autocommit connection to the local PostgreSQL's ``test`` database (new databases are created
    from it); skips the calling test, naming ``tests``, when PostgreSQL does not answer."""
    import psycopg2
    import pytest

    try:  # database "test" exists on the dev machine and in CI
        con = psycopg2.connect(f"{PG_SERVER}/test", connect_timeout=3)
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        pytest.skip(f"PostgreSQL does not answer on 127.0.0.1:5432 (user postgres, database test): {reason}; "
                    f"start it to run the {tests}")
    con.autocommit = True
    return con
