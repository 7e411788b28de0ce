"""End-to-end: stage 1 then stage 2 through the real CLI (synthetic data, 2 trials each)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers.cli import run_cli, runs_of

pytestmark = pytest.mark.slow

STAGE2_METRICS = ("net_pnl", "n_trades", "win_rate", "expectancy_r", "profit_factor", "max_drawdown", "sharpe",
                  "precision_at_80", "coverage_at_80", "auc", "brier", "score")
COMMON = ["search.study_name=s2", "data.synthetic.n_days=40"]


def test_stage2_without_stage1_says_what_to_run(workdir: Path) -> None:
    result = run_cli(["run", "+stage=2", *COMMON], workdir)
    assert result.returncode == 2
    assert "best_stage1.yaml not found" in result.stderr and "python -m opt run +stage=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_stage1_then_stage2_logs_walk_forward_trials(workdir: Path) -> None:
    first = run_cli(["run", "+stage=1", *COMMON, "search.n_trials=2"], workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli(["run", "+stage=2", *COMMON, "search.n_trials=2", "split.n_folds=2"], workdir)
    assert second.returncode == 0, second.stderr[-3000:]

    best1 = yaml.safe_load((workdir / "experiments" / "s2" / "best_stage1.yaml").read_text())
    runs = runs_of(workdir, "s2")
    children = [r for r in runs if r.data.tags.get("opt.role") == "trial" and r.data.tags["opt.stage"] == "2"]
    assert len(children) == 2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["opt.stage1_run"] == best1["mlflow_run_id"]
        if child.data.tags["opt.trial_state"] != "COMPLETE":
            continue
        assert set(STAGE2_METRICS) <= set(child.data.metrics)
        history = client.get_metric_history(child.info.run_id, "fold_sharpe")
        assert sorted(m.step for m in history) == list(range(len(history))) and len(history) >= 1
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "trades.parquet", "equity_curve.png", "feature_importance.json"} <= names
        trades = pd.read_parquet(client.download_artifacts(child.info.run_id, "trades.parquet"))
        assert len(trades) == int(child.data.metrics["n_trades"])
        # the stage-1 dataset parameters are fixed in stage 2
        assert float(child.data.params["events.k_atr"]) == pytest.approx(best1["params"]["events.k_atr"])
    best2 = yaml.safe_load((workdir / "experiments" / "s2" / "best_stage2.yaml").read_text())
    assert best2["stage"] == 2 and "bracket.stop_atr" in best2["params"]
    assert list((workdir / "experiments" / "cache").rglob("*.pkl")), "the stage-2 dataset is cached on disk"
