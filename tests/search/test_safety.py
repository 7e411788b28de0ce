"""Nothing lost, nothing leaked (issue #14): settings refused up front, secrets masked, telemetry as
configured, abandoned trials counted apart, and Optuna's record before MLflow's on a kill in between."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from opt.config_rules import check_config
from opt.errors import ConfigError
from opt.search.loop import PAUSE_ENV
from opt.search.summary import state_counts
from opt.search.workers import cores, worker_count
from opt.stores import sqlalchemy_url

from tests.helpers.config import compose_config
from tests.helpers.workers import (
    FAST,
    check_exact_target,
    cli_env,
    journal,
    load_study,
    opt_run,
    run_opt,
    runs_of,
    sqlite_tracking,
    wait_until,
)

# --- settings that would waste a night are refused before anything runs ---------------------------


@pytest.mark.parametrize(("overrides", "message"), [
    (["search.min_events_per_day=9", "search.max_events_per_day=2"], r"min_events_per_day=9 > .*max_events_per_day=2"),
    (["search.grace_period=-1"], r"search.grace_period=-1 breaks the rule: must be >= 0"),
    (["search.heartbeat_interval=0"], r"search.heartbeat_interval=0 breaks the rule"),
    (["search.study_name=../../escape"], r"search.study_name='\.\./\.\./escape' breaks the rule"),
    (["search.study_name=a/b"], r"search.study_name='a/b' breaks the rule"),
    (["promote.model_name=x..y"], r"promote.model_name='x\.\.y' breaks the rule"),
])
def test_settings_that_waste_a_night_are_refused(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_config(compose_config(["+stage=1", *overrides]))


def test_safe_names_pass() -> None:
    check_config(compose_config(["+stage=1", "search.study_name=ES-2025.v2_a"]))


def test_an_added_unknown_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    result = run_opt(["+stage=1", "+search.ntrials=5"], tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "opt: error: +search.ntrials=...: opt has no config key 'search.ntrials'" in result.stderr
    assert "did you mean search.n_trials?" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "experiments").exists()  # nothing ran


def test_an_escaping_study_name_writes_nothing_outside(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    result = run_opt([*FAST, "search.study_name=../../escape", "search.n_trials=1"], work, timeout=120)
    assert result.returncode == 2 and "search.study_name='../../escape'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_more_workers_than_cores_warns_with_the_numbers(caplog: pytest.LogCaptureFixture) -> None:
    many = cores() + 3
    with caplog.at_level(logging.WARNING, logger="opt.search.workers"):
        assert worker_count(compose_config(["+stage=1", f"search.workers={many}"])) == many
    assert f"search.workers={many} is more than the {cores()} CPU cores" in caplog.text


# --- the run summary ---------------------------------------------------------------------------------


def test_abandoned_trials_are_counted_apart_from_failures() -> None:
    study = optuna.create_study()
    for number, (state, attrs) in enumerate([(TrialState.COMPLETE, {}), (TrialState.FAIL, {"error": "boom"}),
                                             (TrialState.FAIL, {"abandoned": "target reached"})]):
        trial = study.ask()
        for k, v in attrs.items():
            trial.set_user_attr(k, v)
        study.tell(trial, float(number) if state == TrialState.COMPLETE else None, state=state)
    assert state_counts(study) == {"complete": 1, "pruned": 0, "fail": 1, "abandoned": 1, "running": 0}


# --- telemetry follows tracking.telemetry --------------------------------------------------------------


def test_telemetry_true_switches_mlflow_telemetry_on() -> None:
    code = ("import os, opt, mlflow; from opt.secrets import apply_telemetry; "
            "from mlflow.telemetry.utils import is_telemetry_disabled; a = is_telemetry_disabled(); "
            "apply_telemetry(True); print(a, is_telemetry_disabled())")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "CI")
           and not k.startswith(("PYTEST", "GITHUB", "MLFLOW_"))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False"]  # off by default, on when configured


# --- secrets never reach artifacts, messages or process arguments ------------------------------------

PASSWORD = "Sup3rS3cretPw"


def _with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def _cmdlines() -> list[str]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                out.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return out


@pytest.mark.slow
@pytest.mark.postgres
def test_no_password_in_artifacts_messages_or_process_arguments(tmp_path: Path, pg_urls: dict[str, str]) -> None:
    storage, tracking = _with_password(pg_urls["storage"]), _with_password(pg_urls["tracking"])
    env = {**cli_env(), "OPT_STORAGE": storage, "OPT_TRACKING": tracking}
    args = [*FAST, "search.study_name=secret", "search.n_trials=4", "search.workers=2",
            "search.storage=${oc.env:OPT_STORAGE}", "tracking.uri=${oc.env:OPT_TRACKING}"]
    log = tmp_path / "out.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(opt_run(args), cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT)
        seen: list[str] = []
        while proc.poll() is None:
            seen += [c for c in _cmdlines() if " opt run " in c]
            time.sleep(0.2)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert any("search.worker_index=1" in c for c in seen)  # the workers' command lines were looked at
    assert not [c for c in seen if PASSWORD in c]
    assert PASSWORD not in log.read_text()
    client = MlflowClient(tracking_uri=sqlalchemy_url(tracking))
    runs = runs_of(tracking, "secret")
    assert len(runs) == 5  # the parent and 4 trials
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            folder = Path(client.download_artifacts(run.info.run_id, "", tmp)) if client.list_artifacts(
                run.info.run_id) else None
            texts = [p.read_bytes() for p in folder.rglob("*") if p.is_file()] if folder else []
            assert texts and not [t for t in texts if PASSWORD.encode() in t], run.info.run_name
            assert PASSWORD not in str(run.data.params) + str(run.data.tags)
    # the launcher's own command line carried no password either: it named the environment variables


def test_a_password_in_an_override_reaches_workers_through_the_environment() -> None:
    from opt.search.workers import _secret_to_env

    env: dict[str, str] = {}
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/db"
    arg = _secret_to_env(f"search.storage={url}", env)
    assert PASSWORD not in arg and arg == "search.storage=${oc.env:OPT_SECRET_SEARCH_STORAGE}"
    assert env == {"OPT_SECRET_SEARCH_STORAGE": url}
    assert _secret_to_env("search.n_trials=5", env) == "search.n_trials=5"


def test_the_config_artifact_masks_passwords(tmp_path: Path) -> None:
    from opt.tracking.artifacts import write_config

    cfg = compose_config(["+stage=1", f"search.storage=postgresql://postgres:{PASSWORD}@h:5432/db",
                          f"tracking.uri=http://me:{PASSWORD}@mlflow.example:5000"])
    text = write_config(cfg, tmp_path).read_text()
    assert PASSWORD not in text
    assert "postgresql://postgres:***@h:5432/db" in text and "http://me:***@mlflow.example:5000" in text


def test_the_ui_keeps_a_store_password_off_its_command_line() -> None:
    from opt.inspect import ui_commands, ui_environment

    cfg = compose_config([f"tracking.uri=postgresql://postgres:{PASSWORD}@127.0.0.1:5432/mlflow"])
    mlflow_ui, dashboard = ui_commands(cfg)
    assert PASSWORD not in " ".join(mlflow_ui + dashboard)
    assert PASSWORD in ui_environment(cfg)["MLFLOW_BACKEND_STORE_URI"]


# --- Optuna records a trial before MLflow closes its run -----------------------------------------------


@pytest.mark.slow
def test_a_kill_between_a_trials_end_and_its_record_leaves_the_stores_consistent(tmp_path: Path) -> None:
    args = [*FAST, "search.study_name=gap", "search.n_trials=4", "search.min_events_per_day=0",
            "search.max_events_per_day=100000"]
    env = {**cli_env(), PAUSE_ENV: "30"}
    with open(tmp_path / "first.log", "wb") as handle:
        proc = subprocess.Popen(opt_run(args), cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT)

    def in_the_gap() -> bool:  # the trial's run says COMPLETE/PRUNED, Optuna still has it RUNNING
        try:
            study = load_study(journal(tmp_path), "gap-stage1")
        except (KeyError, FileNotFoundError, ValueError):
            return False
        return any("metrics" in t.user_attrs for t in study.get_trials(states=(TrialState.RUNNING,)))

    wait_until(in_the_gap, timeout=240, what="a trial between its end and its record")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    again = run_opt(args, tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    study = load_study(journal(tmp_path), "gap-stage1")
    check_exact_target(study, 4)
    killed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(killed) == 1 and "died" in killed[0].user_attrs["error"]
    runs = {r.data.tags["opt.trial_number"]: r for r in runs_of(sqlite_tracking(tmp_path), "gap")
            if r.data.tags.get("opt.role") == "trial"}
    for t in study.trials:  # MLflow agrees with Optuna for every trial
        run = runs[str(t.number)]
        if t.state == TrialState.FAIL:
            assert run.info.status == "KILLED" and run.data.tags["opt.trial_state"] == "FAIL"
        else:
            assert run.info.status == "FINISHED" and run.data.tags["opt.trial_state"] == t.state.name
    assert sum(r.info.status == "FINISHED" for r in runs.values()) == 4
