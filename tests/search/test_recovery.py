"""Crash, kill and failure recovery with real processes, a real journal storage and a real MLflow store."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.errors import ConfigError
from opt.search.recovery import Recovery, identity, reap_dead_trials
from opt.search.runner import run_study
from opt.stages import DatasetStage, TrialContext, TrialResult
from opt.tracking import Tracker

from tests.helpers.config import compose_config
from tests.helpers.workers import (
    FAST,
    check_exact_target,
    check_trial_runs,
    journal,
    load_study,
    run_opt,
    runs_of,
    sqlite_tracking,
    start_opt,
    wait_until,
)

#: a few seconds of model fitting per trial, so a signal lands inside a trial
# every trial fits the slow model (no quick events-per-day prune between the "running" check and the signal)
SLOW_TRIALS = ["model.n_estimators=2000", "model.early_stopping_rounds=null", "search.min_events_per_day=0",
               "search.max_events_per_day=100000"]


def _running_trial_with_run(workdir: Path, study_name: str) -> optuna.trial.FrozenTrial | None:
    if not (workdir / "experiments" / "optuna-journal.log").is_file():
        return None
    try:
        study = load_study(journal(workdir), study_name)
    except KeyError:
        return None
    running = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
               if "mlflow_run_id" in t.user_attrs]
    return running[0] if running else None


def _state(workdir: Path, study_name: str, number: int) -> TrialState:
    return load_study(journal(workdir), study_name).trials[number].state


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.slow
def test_kill_9_mid_trial_then_restart_reaches_the_target(workdir: Path) -> None:
    args = [*FAST, *SLOW_TRIALS, "search.study_name=kill", "search.n_trials=3"]
    proc = start_opt(args, workdir, workdir / "first.log")
    victim = wait_until(lambda: _running_trial_with_run(workdir, "kill-stage1"), timeout=180,
                        what="a RUNNING trial with its MLflow run")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _state(workdir, "kill-stage1", victim.number) == TrialState.RUNNING, "the trial ended before the kill"

    again = run_opt(args, workdir)
    assert again.returncode == 0, again.stderr[-4000:]
    study = load_study(journal(workdir), "kill-stage1")
    check_exact_target(study, 3)
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL and "died" in killed.user_attrs["error"]
    assert killed.user_attrs["worker"] == f"{os.uname().nodename}:{proc.pid}"
    runs = runs_of(sqlite_tracking(workdir), "kill")
    by_number = check_trial_runs(runs, study)
    killed_run = by_number[victim.number]
    assert killed_run.info.status == "KILLED" and killed_run.data.tags["opt.trial_state"] == "FAIL"
    parents = {r.info.run_id: r for r in runs if r.data.tags.get("opt.role") == "parent"}
    assert parents[killed_run.data.tags["mlflow.parentRunId"]].info.status == "KILLED"
    assert sorted(p.info.status for p in parents.values()) == ["FINISHED", "KILLED"]


def _check_interrupted(workdir: Path, study_name: str, result_text: str, returncode: int) -> None:
    assert returncode in (130, 143), result_text[-3000:]
    assert "Traceback" not in result_text, result_text[-3000:]
    study = load_study(journal(workdir), study_name)
    interrupted = [t for t in study.trials if t.state == TrialState.FAIL]
    assert interrupted and all("interrupted by signal" in t.user_attrs["error"] for t in interrupted)
    assert not study.get_trials(states=(TrialState.RUNNING,))
    runs = runs_of(sqlite_tracking(workdir), study_name.removesuffix("-stage1"))
    by_number = check_trial_runs(runs, study)
    assert all(by_number[t.number].info.status == "KILLED" for t in interrupted)
    assert [r.info.status for r in runs if r.data.tags.get("opt.role") == "parent"] == ["KILLED"]


@pytest.mark.slow
def test_sigterm_closes_the_trial_and_its_runs(workdir: Path) -> None:
    proc = start_opt([*FAST, *SLOW_TRIALS, "search.study_name=intr", "search.n_trials=5"], workdir,
                     workdir / "out.log")
    wait_until(lambda: _running_trial_with_run(workdir, "intr-stage1"), timeout=180, what="a RUNNING trial")
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=120)
    _check_interrupted(workdir, "intr-stage1", (workdir / "out.log").read_text(), code)


@pytest.mark.slow
def test_ctrl_c_to_the_launcher_stops_every_worker_gracefully(workdir: Path) -> None:
    proc = start_opt([*FAST, *SLOW_TRIALS, "search.study_name=term", "search.n_trials=8", "search.workers=2"],
                     workdir, workdir / "out.log")
    wait_until(lambda: _running_trial_with_run(workdir, "term-stage1"), timeout=180, what="a RUNNING trial")
    proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends (the workers run in their own sessions)
    code = proc.wait(timeout=120)
    _check_interrupted(workdir, "term-stage1", (workdir / "out.log").read_text(), code)


class _Flaky(DatasetStage):
    """Stage 1's space; trials 1 and 4 raise, trial 2 returns a NaN score; the others score their number."""

    def objective(self, ctx: TrialContext, cfg) -> TrialResult:  # noqa: ANN001
        if ctx.number in (1, 4):
            raise RuntimeError(f"boom in trial {ctx.number}")
        return TrialResult(metrics={"score": math.nan if ctx.number == 2 else float(ctx.number)})


class _Broken(DatasetStage):
    def objective(self, ctx: TrialContext, cfg) -> TrialResult:  # noqa: ANN001
        raise ValueError("the stage is broken")


def test_exception_and_nan_trials_fail_and_the_study_goes_on(workdir: Path) -> None:
    cfg = compose_config([*FAST, "search.study_name=flaky", "search.n_trials=4", "data.synthetic.n_days=10"])
    study = run_study(cfg, _Flaky())
    check_exact_target(study, 4)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE,
                      TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "RuntimeError: boom in trial 1" in study.trials[1].user_attrs["error"]
    assert "not finite" in study.trials[2].user_attrs["error"]
    runs = runs_of(sqlite_tracking(workdir), "flaky")
    by_number = check_trial_runs(runs, study)
    for number in (1, 2, 4):
        run = by_number[number]
        assert run.info.status == "FAILED" and run.data.tags["opt.trial_state"] == "FAIL"
        assert run.data.tags["opt.error"] and "Traceback" in run.data.tags["opt.traceback"]
        # a failed trial's run still has its params (they are logged with the outcome, opt.search.trial)
        assert run.data.params["events.k_atr"] == str(study.trials[number].params["events.k_atr"])
        assert "instrument.tick_size" in run.data.params
    parent = [r for r in runs if r.data.tags.get("opt.role") == "parent"][0]
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_fail"] == 3


def test_consecutive_failures_stop_the_study_with_a_clear_message(workdir: Path) -> None:
    cfg = compose_config([*FAST, "search.study_name=broken", "search.n_trials=10", "data.synthetic.n_days=10",
                          "search.max_consecutive_failures=3"])
    with pytest.raises(ConfigError, match=r"3 failed trials in a row.*ValueError: the stage is broken"):
        run_study(cfg, _Broken())
    study = load_study(journal(workdir), "broken-stage1")
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3
    runs = runs_of(sqlite_tracking(workdir), "broken")
    assert sorted(r.info.status for r in runs) == ["FAILED"] * 4  # 3 trials and the parent


def test_reaper_fails_dead_workers_trials_only_and_closes_their_runs(workdir: Path) -> None:
    import socket

    cfg = compose_config([*FAST, "search.study_name=reap"])
    storage = journal_storage(workdir)
    study = optuna.create_study(study_name="reap-stage1", storage=storage)
    host, me = socket.gethostname(), identity()
    dead = f"{host}:{_dead_pid()}"
    live, dead_trial, remote, pid_reused, anonymous = (study.ask() for _ in range(5))
    live.set_user_attr("worker", me[0])
    live.set_user_attr("worker_start", me[1])
    dead_trial.set_user_attr("worker", dead)
    remote.set_user_attr("worker", "another-host:1")
    pid_reused.set_user_attr("worker", f"{host}:{os.getppid()}")
    pid_reused.set_user_attr("worker_start", "1")  # a live pid, but of a process started at another time
    tracker = Tracker(cfg)
    parent = tracker.start_run(name="dead parent", tags={"opt.role": "parent", "opt.stage": "1", "opt.host": dead,
                                                         "opt.optuna_study": "reap-stage1"})
    child = tracker.start_run(name="dead trial", parent_run_id=parent,
                              tags={"opt.role": "trial", "opt.stage": "1", "opt.trial_number": str(dead_trial.number)})
    dead_trial.set_user_attr("mlflow_run_id", child)

    assert sorted(reap_dead_trials(study, storage, grace_s=3600)) == [dead_trial.number, pid_reused.number]
    Recovery(study, storage, tracker, 1, grace_s=0.0)()  # now also the trial that never recorded its worker
    states = [t.state for t in study.trials]
    assert states == [TrialState.RUNNING, TrialState.FAIL, TrialState.RUNNING, TrialState.FAIL, TrialState.FAIL]
    assert "died" in study.trials[dead_trial.number].user_attrs["error"]
    assert tracker.run_status(child) == "KILLED" and tracker.run_status(parent) == "KILLED"


def journal_storage(workdir: Path) -> optuna.storages.JournalStorage:
    (workdir / "experiments").mkdir(exist_ok=True)
    return journal(workdir)
