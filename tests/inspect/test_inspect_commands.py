"""``python -m opt list``, ``show`` and ``ui`` on a tiny real study."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from opt.errors import StageError  # noqa: E402
from opt.inspect import list_command, show_command, ui_command  # noqa: E402

from tests.helpers.tiny_study import COMMON, STUDY, config, run_cli, tiny_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_study(tmp_path_factory)


def _json(capsys: pytest.CaptureFixture[str], command, *overrides: str) -> object:  # noqa: ANN001
    capsys.readouterr()
    assert command(config(*overrides, "inspect.format=json")) == 0
    return json.loads(capsys.readouterr().out)


def test_list_prints_the_best_trials_as_a_table(study: Path) -> None:
    result = run_cli(["list", "+stage=2", *COMMON], study)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert f"{STUDY}-stage2" in out and "best first" in out
    for column in ("score", "net_pnl", "n_trades", "sharpe", "stop_atr", "confidence"):
        assert column in out, column


def test_list_json_filters_and_stage_1(study: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.chdir(study):
        rows = _json(capsys, list_command)
        assert [r["stage"] for r in rows] == [2, 2]
        assert rows[0]["score"] >= rows[1]["score"]
        assert {"net_pnl", "n_trades", "sharpe"} <= set(rows[0]["metrics"]) and "bracket.tp_r" in rows[0]["params"]
        assert len(_json(capsys, list_command, "inspect.top=1")) == 1
        few = min(r["metrics"]["n_trades"] for r in rows)
        kept = _json(capsys, list_command, f"inspect.min_trades={few + 1}")
        assert all(r["metrics"]["n_trades"] >= few + 1 for r in kept) and len(kept) < len(rows)
        stage1 = _json(capsys, list_command, "+stage=1", "inspect.states=[COMPLETE,PRUNED]")
        assert [r["stage"] for r in stage1] == [1, 1] and "knn5_purity" in stage1[0]["metrics"]
        complete = _json(capsys, list_command, "+stage=1")  # the default shows COMPLETE trials only
        assert [r["state"] for r in complete] == ["COMPLETE"] * len(complete) and len(complete) >= 1
        capsys.readouterr()
        assert list_command(config("inspect.format=csv")) == 0
        header = capsys.readouterr().out.splitlines()[0]
        assert header.startswith("stage,trial,state,score,run_id") and "param.bracket.tp_r" in header


def test_show_prints_one_trial_in_full(study: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["show", *COMMON, "inspect.trial=0"], study)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "per fold" in result.stdout and "trades.parquet" in result.stdout and "bracket.stop_atr" in result.stdout
    assert "win_rate: share of trades with net PnL > 0" in result.stdout  # names that need it are explained
    assert "score: the value Optuna optimized" in result.stdout
    with contextlib.chdir(study):
        detail = _json(capsys, show_command)  # the best trial
        assert detail["study"] == f"{STUDY}-stage2" and detail["state"] == "COMPLETE"
        assert detail["run_status"] == "FINISHED" and "bracket.tp_r" in detail["params"]
        folds = detail["folds"]
        assert {"sharpe", "net_pnl", "n_trades"} <= set(folds) and sorted(folds["sharpe"]) == ["0", "1"]
        assert any(p.endswith("/trades.parquet") and Path(p).is_file() for p in detail["artifacts"])
        assert detail["metrics"]["n_trades"] == sum(folds["n_trades"].values())
        with pytest.raises(StageError, match="has no trial 99"):
            show_command(config("inspect.trial=99"))


def test_list_without_a_study_says_what_to_run(workdir: Path) -> None:
    with pytest.raises(StageError, match=r"no study 'tiny-stage2'.*python -m opt run \+stage=2"):
        list_command(config())


def test_ui_dry_run_prints_the_commands(study: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.chdir(study):
        assert ui_command(config("inspect.dry_run=true", "inspect.port=5123")) == 0
    out = capsys.readouterr().out
    assert "-m mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5123 --workers 1" in out
    assert "optuna-dashboard --storage-class JournalFileStorage experiments/optuna-journal.log" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ui_serves_the_store_on_localhost(study: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "opt", "ui", *COMMON, f"inspect.port={port}"], cwd=study,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200, f"the MLflow UI did not answer on port {port} (exit {proc.poll()})"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the process started above
        proc.wait(timeout=30)


def test_ui_prints_the_link_to_each_study_trial_runs_table(study: Path) -> None:
    """MLflow 3 opens an experiment on its GenAI overview whatever its tags: ``opt ui`` prints the link
    that opens the trial runs table (Model training, opt's saved view)."""
    result = run_cli(["ui", *COMMON, "inspect.dry_run=true", "inspect.port=5999"], study)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(rf"trial runs of {STUDY}: http://127\.0\.0\.1:5999/#/experiments/\d+/runs\?"
                     r"workflowType=machine_learning&viewStateShareKey=opt-trials", result.stdout), result.stdout
