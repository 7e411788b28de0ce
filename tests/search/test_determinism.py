"""Same seed, same data, one worker: identical trials, best parameters and metrics (two real CLI runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers.workers import journal, load_study, run_opt, runs_of, sqlite_tracking

pytestmark = pytest.mark.slow

#: the default model threads (model.n_jobs=2: XGBoost multithreaded) and TPE after 2 random trials
ARGS = ["+stage=1", "data.synthetic.n_days=25", "search.progress=false", "model.device=cpu",
        "search.study_name=det", "search.n_trials=4", "search.n_startup_trials=2"]


def _record(workdir: Path) -> tuple[list[tuple], dict, dict[int, dict]]:
    study = load_study(journal(workdir), "det-stage1")
    trials = [(t.number, t.state.name, t.params, t.values, t.user_attrs.get("metrics"),
               t.user_attrs.get("prune_reason")) for t in study.trials]
    best = yaml.safe_load((workdir / "experiments" / "det" / "best_stage1.yaml").read_text())
    best.pop("mlflow_run_id")
    runs = runs_of(sqlite_tracking(workdir), "det")
    metrics = {int(r.data.tags["opt.trial_number"]): r.data.metrics for r in runs
               if r.data.tags.get("opt.role") == "trial"}
    return trials, best, metrics


def test_same_seed_gives_identical_trials_best_and_metrics(tmp_path: Path) -> None:
    records = []
    for name in ("first", "second"):
        workdir = tmp_path / name
        workdir.mkdir()
        result = run_opt(ARGS, workdir)
        assert result.returncode == 0, result.stderr[-3000:]
        records.append(_record(workdir))
    (trials_a, best_a, metrics_a), (trials_b, best_b, metrics_b) = records
    assert len(trials_a) == 4 and trials_a == trials_b  # params, scores and metrics, bit for bit
    assert best_a == best_b
    assert metrics_a == metrics_b
