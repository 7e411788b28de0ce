"""End-to-end: stage 1 then stage 2 through the real CLI (synthetic data, 2 trials each)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers.cli import run_cli, runs_of

pytestmark = pytest.mark.slow

STAGE2_METRICS = ("net_pnl", "n_trades", "win_rate", "target_hit_rate", "expectancy_r", "profit_factor",
                  "max_drawdown", "sharpe", "precision_at_80", "coverage_at_80", "auc", "brier", "score",
                  "min_trades_penalty", "n_eval_events", "n_folds_no_trades")
COMMON = ["search.study_name=s2", "data.synthetic.n_days=40"]
#: robustness evidence of every stage-2 trial (Monte Carlo bands, regime slices)
ROBUSTNESS_METRICS = ("mc_net_pnl_p5", "mc_net_pnl_p50", "mc_net_pnl_p95", "mc_max_drawdown_p95", "mc_sharpe_p50",
                      "mc_risk_of_ruin", "mc_r_total_p50", "mc_r_max_drawdown_p95", "mc_r_risk_of_ruin", "mc_paths",
                      "mc_block_days", "regime_volatility_high_net_pnl", "regime_session_rth_n_trades",
                      "regime_trend_range_net_pnl", "regime_weekday_mon_net_pnl", "regime_max_slice_share")
#: the account rules (conf/account) replayed on every stage-2 trial's walk-forward trades
ACCOUNT_METRICS = ("account_passed", "account_final_balance", "account_max_risk", "account_min_headroom")


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
        assert set(ROBUSTNESS_METRICS) <= set(child.data.metrics) and child.data.metrics["mc_paths"] == 1000
        # per-fold series are a table, not metrics whose last fold the UI would show as the result
        assert not [k for k in child.data.metrics if k.startswith("fold_")]
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "trades.parquet", "equity_curve.png", "feature_importance.json", "per_fold.csv"} <= names
        per_fold = pd.read_csv(client.download_artifacts(child.info.run_id, "per_fold.csv"))
        assert list(per_fold["fold"]) == list(range(len(per_fold))) and {"sharpe", "n_trades"} <= set(per_fold)
        trades = pd.read_parquet(client.download_artifacts(child.info.run_id, "trades.parquet"))
        assert len(trades) == int(child.data.metrics["n_trades"])
        regimes = pd.read_csv(client.download_artifacts(child.info.run_id, "regimes.csv"))
        assert list(regimes.columns) == ["kind", "slice", "n_trades", "win_rate", "expectancy_r", "net_pnl",
                                         "share_of_net"]
        assert (regimes.groupby("kind")["n_trades"].sum() == len(trades)).all()  # each kind partitions the trades
        if child.data.metrics["n_trades"] > 0:
            assert child.data.metrics["mc_r_total_p50"] == pytest.approx(trades["r_multiple"].sum())
        assert set(ACCOUNT_METRICS) <= set(child.data.metrics) and child.data.metrics["account_max_risk"] >= 0
        if child.data.metrics["n_trades"] > 0:  # account.csv: the balance path, final balance = the metric
            account = pd.read_csv(client.download_artifacts(child.info.run_id, "account.csv"))
            assert len(account) == len(trades)
            assert account["balance"].iloc[-1] == pytest.approx(child.data.metrics["account_final_balance"], abs=0.01)
        assert (child.data.metrics["account_passed"] == 1) == ("opt.account_failed_on" not in child.data.tags)
        # the stage-1 dataset parameters are fixed in stage 2
        assert float(child.data.params["events.k_atr"]) == pytest.approx(best1["params"]["events.k_atr"])
        # selection bias as the search goes: N = the 2 stage-1 trials + the stage-2 trials tried so far
        number = int(child.data.tags["opt.trial_number"])
        assert child.data.metrics["dsr_n_trials"] == 2 + number + 1
        assert {"deflated_sharpe", "psr", "dsr_var_trial_sharpe"} <= set(child.data.metrics)
        assert "daily_pnl.parquet" in names
    parent = next(r for r in runs if r.data.tags.get("opt.role") == "parent" and r.data.tags["opt.stage"] == "2")
    assert parent.data.metrics["n_trials_tried"] == 2 and parent.data.metrics["pbo_trials"] == 2  # the running PBO
    assert "selection bias: best trial's deflated Sharpe ratio" in second.stdout and "with N = " in second.stdout
    listed = run_cli(["list", "+stage=2", *COMMON, "inspect.sort=deflated_sharpe"], workdir)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "ranked by deflated_sharpe" in listed.stdout and "dsr_n_trials" in listed.stdout
    best2 = yaml.safe_load((workdir / "experiments" / "s2" / "best_stage2.yaml").read_text())
    assert best2["stage"] == 2 and "bracket.stop_atr" in best2["params"]
    assert isinstance(best2["usable"], bool) and isinstance(best2["reason"], str)
    assert best2["usable"] or f"NO RESULT: {best2['reason']}" in second.stdout
    # the summary names the objective; one line per trial on the console and in the study's trial log
    assert "objective: sharpe (pooled over the walk-forward folds' daily PnL, maximize)" in second.stdout
    assert re.search(r"best trial #\d+: score \S+ = sharpe \(pooled over \d folds' daily PnL, maximize\)",
                     second.stdout)
    for stage, out in ((1, first.stdout), (2, second.stdout)):
        lines = (workdir / "experiments" / "s2" / f"stage{stage}_trials.log").read_text().splitlines()
        assert [re.search(r" (trial \d) (COMPLETE|PRUNED|FAIL) ", line)[1] for line in lines] == ["trial 0", "trial 1"]
        for line in lines:
            assert line.split(" ", 2)[2] in out and re.search(r" \d+\.\ds$", line)
    assert list((workdir / "experiments" / "cache").rglob("*.pkl")), "the stage-2 dataset is cached on disk"
