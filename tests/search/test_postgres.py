"""Several invocations ("hosts") on one study with the Optuna storage AND the MLflow store on PostgreSQL.

Needs the PostgreSQL server on 127.0.0.1:5432 (user postgres, trust auth); each test creates its own
databases and drops them after (``pg_urls``), and is skipped with a message when the server is down.
"""

from __future__ import annotations

import subprocess
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from opt.search.recovery import Recovery, trial_error
from opt.studies import make_storage
from opt.tracking import Tracker

from tests.helpers.config import compose_config
from tests.helpers.workers import (
    FAST,
    assert_no_lock_errors,
    check_exact_target,
    check_trial_runs,
    cli_env,
    load_study,
    opt_run,
    runs_of,
)

pytestmark = pytest.mark.postgres


@pytest.mark.slow
def test_two_hosts_four_workers_reach_exactly_the_target(workdir: Path, pg_urls: dict[str, str]) -> None:
    """"Host" A runs 3 workers, "host" B one process: 4 workers x ~6 trials on one PostgreSQL study (24: each worker runs several, and the last places are raced for)."""
    args = [*FAST, "search.study_name=pgsoak", "search.n_trials=24", "search.n_startup_trials=8",
            f"search.storage={pg_urls['storage']}", f"tracking.uri={pg_urls['tracking']}"]
    t0 = time.perf_counter()
    hosts = [subprocess.Popen(opt_run([*args, f"search.workers={k}"]), cwd=workdir, env=cli_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for k in (3, 1)]
    outputs = [h.communicate(timeout=400)[0] for h in hosts]
    elapsed = time.perf_counter() - t0
    for host, out in zip(hosts, outputs, strict=True):
        assert host.returncode == 0, out[-4000:]
        assert_no_lock_errors(out)
    study = load_study(pg_urls["storage"], "pgsoak-stage1")
    finished = check_exact_target(study, 24)
    runs = runs_of(pg_urls["tracking"], "pgsoak")
    by_number = check_trial_runs(runs, study)
    assert len([r for r in by_number.values() if r.info.status == "FINISHED"]) == 24
    parents = [r for r in runs if r.data.tags.get("opt.role") == "parent"]
    assert len(parents) == 2 and {p.info.status for p in parents} == {"FINISHED"}
    assert len({t.user_attrs["worker"] for t in finished}) == 4
    print(f"soak PostgreSQL: 24 trials with 4 workers on 2 invocations in {elapsed:.1f} s")


def test_heartbeat_failed_trial_of_another_host_gets_its_run_closed(workdir: Path,
                                                                     pg_urls: dict[str, str]) -> None:
    cfg = compose_config([*FAST, "search.study_name=hb", f"search.storage={pg_urls['storage']}",
                          f"tracking.uri={pg_urls['tracking']}", "search.heartbeat_interval=1",
                          "search.grace_period=2"])
    storage = make_storage(cfg)
    study = optuna.create_study(study_name="hb-stage1", storage=storage)
    with warnings.catch_warnings():  # "heartbeat ... supposed to be used with Study.optimize": a remote trial
        warnings.simplefilter("ignore", UserWarning)
        trial = study.ask()
    trial.set_user_attr("worker", "another-host:12345")  # not this host's: only the heartbeat can tell
    tracker = Tracker(cfg)
    parent = tracker.start_run(name="remote invocation", tags={  # a one-process invocation on that host
        "opt.role": "parent", "opt.stage": "1", "opt.host": "another-host:12345", "opt.optuna_study": "hb-stage1"})
    run = tracker.start_run(name="remote trial", parent_run_id=parent,
                            tags={"opt.role": "trial", "opt.stage": "1", "opt.trial_number": str(trial.number)})
    trial.set_user_attr("mlflow_run_id", run)
    recover = Recovery(study, storage, tracker, 1, grace_s=30.0)
    storage.record_heartbeat(trial._trial_id)
    recover()
    assert study.trials[0].state == TrialState.RUNNING  # heartbeat still fresh
    time.sleep(3.5)
    recover()
    assert study.trials[0].state == TrialState.FAIL
    assert tracker.run_status(run) == "KILLED"
    # the surviving process records why (on the study: Optuna refuses attributes on a finished trial)
    # and closes the dead invocation's parent run too, without waiting for a rerun on that host
    error = trial_error(study, study.trials[0])
    assert error is not None and "no heartbeat" in error
    assert tracker.client.get_run(run).data.tags["opt.error"] == error
    assert tracker.run_status(parent) == "KILLED"
