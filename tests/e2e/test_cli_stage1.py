"""End-to-end: the real ``python -m opt run +stage=1`` in a tmp working directory."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from tests.helpers.cli import STAGE1_METRICS, run_cli, runs_of

pytestmark = pytest.mark.slow


def _check_stage1_store(workdir: Path, study: str, n_children: int) -> list:
    runs = runs_of(workdir, study)
    parents = [r for r in runs if r.data.tags.get("opt.role") == "parent"]
    children = [r for r in runs if r.data.tags.get("opt.role") == "trial"]
    assert parents and all(p.info.status == "FINISHED" for p in parents)
    plots = {Path(a.path).name for a in _artifacts(workdir, parents[0].info.run_id, "plots")}
    assert {"optimization_history.png", "param_importances.png", "parallel_coordinate.png"} <= plots
    assert len(children) == n_children
    parent_ids = {p.info.run_id for p in parents}
    for child in children:
        tags = child.data.tags
        assert tags["mlflow.parentRunId"] in parent_ids
        assert tags["opt.stage"] == "1" and tags["opt.study"] == study
        assert tags["opt.trial_number"].isdigit()
        assert child.info.status == "FINISHED"
        if tags["opt.trial_state"] == "COMPLETE":
            assert set(STAGE1_METRICS) <= set(child.data.metrics), set(STAGE1_METRICS) - set(child.data.metrics)
            assert "events.k_atr" in child.data.params and "instrument.tick_size" in child.data.params
            artifacts = {Path(a.path).name for a in _artifacts(workdir, child.info.run_id)}
            assert {"config.yaml", "events_sample.parquet", "label_distribution.png"} <= artifacts
        else:
            assert tags["opt.trial_state"] == "PRUNED" and tags["opt.prune_reason"]
    return children


def _artifacts(workdir: Path, run_id: str, path: str | None = None) -> list:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").list_artifacts(run_id, path)


def test_stage1_on_synthetic_data_runs_logs_and_resumes(workdir: Path) -> None:
    args = ["run", "+stage=1", "search.study_name=syn", "data.synthetic.n_days=40", "search.n_trials=3"]
    first = run_cli(args, workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    _check_stage1_store(workdir, "syn", 3)
    best = yaml.safe_load((workdir / "experiments" / "syn" / "best_stage1.yaml").read_text())
    assert best["stage"] == 1 and "events.k_atr" in best["params"] and "score" in best["metrics"]

    again = run_cli([*args[:-1], "search.n_trials=4"], workdir)  # same study: resumes, runs 1 more
    assert again.returncode == 0, again.stderr[-3000:]
    _check_stage1_store(workdir, "syn", 4)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workdir / "experiments" / "optuna-journal.log")))
    study = optuna.load_study(study_name="syn-stage1", storage=storage)
    assert len(study.trials) == 4 and [t.number for t in study.trials] == [0, 1, 2, 3]


def test_stage1_on_real_es_file(workdir: Path, es_csv: Path) -> None:
    result = run_cli(["run", "+stage=1", "data=csv", f"data.path={es_csv}", "instrument=es",
                      "search.n_trials=2", "search.study_name=es"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    children = _check_stage1_store(workdir, "es", 2)
    assert any(c.data.tags["opt.trial_state"] == "COMPLETE" for c in children)


def test_bad_file_is_refused_with_a_clear_message(workdir: Path) -> None:
    bad = workdir / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n"
                   "2025-09-02T14:30:00Z,100,101,99,100,5\n"
                   "2025-09-02T14:31:00Z,100,98,99,100,5\n")
    result = run_cli(["run", "+stage=1", "data=csv", f"data.path={bad}"], workdir)
    assert result.returncode == 2
    assert "bad.csv" in result.stderr and "row 2" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_missing_stage_and_missing_path_are_user_errors(workdir: Path) -> None:
    no_stage = run_cli(["run"], workdir)
    assert no_stage.returncode == 2 and "+stage=1" in no_stage.stderr
    no_path = run_cli(["run", "+stage=1", "data=csv"], workdir)
    assert no_path.returncode == 2 and "data.path" in no_path.stderr
    assert "Traceback" not in no_stage.stderr + no_path.stderr


def test_cfg_job_prints_the_composed_config(workdir: Path) -> None:
    result = run_cli(["run", "+stage=1", "instrument=es", "--cfg", "job"], workdir)
    assert result.returncode == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    assert cfg["instrument"]["symbol"] == "ES" and cfg["stage"]["id"] == 1
    assert not (workdir / "mlruns" / "mlflow.db").exists()
