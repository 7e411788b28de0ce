"""``python -m opt promote`` on a tiny real study: gates refuse or force, the registry alias moves, and the
registered champion reproduces the retrained model's signals without look-ahead, in a fresh process too."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opt.errors import StageError
from opt.promote import SIGNAL_COLUMNS
from opt.promote.command import promote_command

from tests.helpers.config import ES_CSV
from tests.helpers.tiny_study import COMMON, STUDY, config, run_cli, tiny_study

pytestmark = pytest.mark.slow

MODEL = f"opt-MES-{STUDY}"
NO_GATES = [f"promote.gates.{g}=null" for g in ("min_trades", "min_net_pnl", "min_precision_at_80",
                                                  "min_deflated_sharpe", "min_test_deflated_sharpe", "max_pbo",
                                                  "min_plateau_score")] + [
    "promote.degenerate.min_rounds=null", "promote.degenerate.require_confidence=false",
    "promote.degenerate.require_orders=false"]
#: the bar-by-bar live replay of the test part (~9 s a promote here) is checked by tests/promote/test_replay.py, the
#: CNN champion on ES (tests/promote/test_promote_es.py) and the README walk-through's last promote
NO_REPLAY = "promote.replay.enabled=false"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_study(tmp_path_factory)


@pytest.fixture
def champion(study: Path) -> str:
    """The champion's version; registered here (gates off) when no earlier test did (e.g. with -k)."""
    try:
        return str(_client(study).get_model_version_by_alias(MODEL, "champion").version)
    except Exception:  # noqa: BLE001 - no registered model or alias yet
        with contextlib.chdir(study):
            assert promote_command(config(*NO_GATES, NO_REPLAY)) == 0
        return str(_client(study).get_model_version_by_alias(MODEL, "champion").version)


def _client(study: Path):  # noqa: ANN202
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{study / 'mlruns' / 'mlflow.db'}")


def _versions(study: Path) -> list[int]:
    return sorted(int(v.version) for v in _client(study).search_model_versions(f"name='{MODEL}'"))


def _promote_runs(study: Path) -> list:
    client = _client(study)
    exp = client.get_experiment_by_name(STUDY)
    return client.search_runs([exp.experiment_id], "tags.`opt.role` = 'promote'", order_by=["start_time DESC"])


def _best_trial_run(study: Path) -> str:
    import yaml

    return yaml.safe_load((study / "experiments" / STUDY / "best_stage2.yaml").read_text())["mlflow_run_id"]


def test_promote_without_a_stage2_study_says_what_to_run(workdir: Path) -> None:
    with pytest.raises(StageError, match=r"no study 'tiny-stage2'.*run stage 2 first"):
        promote_command(config())


def test_an_impossible_gate_refuses_names_the_gate_and_registers_nothing(study: Path) -> None:
    before = _versions(study)
    result = run_cli(["promote", *COMMON, "promote.gates.min_trades=1000000", "promote.gates.min_account_passed=0",
                      NO_REPLAY],
                     study)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "gate(s) failed" in result.stderr and "min_trades: n_trades=" in result.stderr
    assert "< 1e+06" in result.stderr and "Traceback" not in result.stderr
    assert _versions(study) == before
    run = _promote_runs(study)[0]
    assert run.data.tags["opt.role"] == "promote" and run.info.status == "FINISHED"
    assert "min_trades" in run.data.tags["opt.failed_gates"].split(",") and run.data.tags["opt.forced"] == "false"
    assert "opt.model_version" not in run.data.tags
    for name in ("net_pnl", "n_trades", "win_rate", "expectancy_r", "profit_factor", "max_drawdown", "sharpe",
                 "auc", "brier", "n_trials", "pbo", "plateau_score", "account_passed", "account_final_balance",
                 "account_max_risk", "account_min_headroom"):
        assert name in run.data.metrics, name
    assert "min_account_passed: account_passed=" in run.data.tags["opt.gates"]  # conf/account on the test part
    # the tiny study has fewer walk-forward days than promote.dsr.min_days=20: DSR and PSR are not computable
    # (no metric logged), and the failed gate says why (issue #9 C)
    assert run.data.metrics["dsr_days"] < 20
    assert "deflated_sharpe" not in run.data.metrics and "psr" not in run.data.metrics
    assert "min_deflated_sharpe: deflated_sharpe=not computable: " in result.stderr
    assert "promote.dsr.min_days=20 needed" in run.data.tags["opt.gates"]
    assert run.data.metrics["n_trials"] == 4  # 2 stage-1 + 2 stage-2 trials
    artifacts = {a.path for a in _client(study).list_artifacts(run.info.run_id)}
    assert {"config.yaml", "test_trades.parquet", "test_equity_curve.png", "sensitivity.csv",
            "topk_daily_pnl.parquet", "promote_report.json"} <= artifacts
    # the walk-forward days are rebuilt exactly: the DSR's per-day Sharpe x sqrt(252) is the trial's sharpe
    trial = _client(study).get_run(_best_trial_run(study))
    assert run.data.metrics["dsr_sharpe_per_day"] * math.sqrt(252) == pytest.approx(
        trial.data.metrics["sharpe"], rel=1e-6, abs=1e-9)


def test_force_registers_despite_the_gate_with_lineage_and_the_champion_alias(study: Path) -> None:
    before = _versions(study)
    result = run_cli(["promote", *COMMON, "promote.gates.min_trades=1000000", "promote.force=true",
                      "promote.dsr.min_days=5", NO_REPLAY], study)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "registered despite failed gate(s): min_trades" in result.stderr
    versions = _versions(study)
    assert versions == [*before, (before[-1] if before else 0) + 1]
    champion = _client(study).get_model_version_by_alias(MODEL, "champion")
    assert int(champion.version) == versions[-1]
    tags = champion.tags
    assert tags["opt.forced"] == "true" and "min_trades" in tags["opt.failed_gates"]
    assert tags["opt.stage2_run"] == _best_trial_run(study) and tags["opt.stage2_study"] == f"{STUDY}-stage2"
    assert tags["opt.stage1_study"] == f"{STUDY}-stage1" and tags["opt.stage1_trial"].isdigit()
    for key in ("opt.stage1_run", "opt.stage2_trial", "opt.config_hash", "opt.data_fingerprint", "opt.git_commit",
                "opt.promote_run"):
        assert tags[key], key
    promote = _promote_runs(study)[0]
    assert promote.data.tags["opt.forced"] == "true" and promote.data.tags["opt.model_version"] == str(champion.version)
    # enough days for promote.dsr.min_days=5 (one evaluated fold: events.warmup_bars leaves fold 0 too few training events) and two stage-2 trials with different Sharpe ratios: computed
    assert 0.0 <= promote.data.metrics["deflated_sharpe"] <= promote.data.metrics["psr"] <= 1.0


def test_a_second_promote_that_passes_moves_the_alias(study: Path) -> None:
    with contextlib.chdir(study):
        first = _versions(study)
        assert promote_command(config(*NO_GATES, NO_REPLAY)) == 0
    champion = _client(study).get_model_version_by_alias(MODEL, "champion")
    assert int(champion.version) == (first[-1] if first else 0) + 1
    assert champion.tags["opt.forced"] == "false" and champion.tags["opt.failed_gates"] == ""
    # #13: every read of the test part is in the study's ledger; this promotion is its last entry
    import optuna

    from opt.promote.ledger import holdout_ledger
    from opt.studies import make_storage

    with contextlib.chdir(study):
        ledger = holdout_ledger(optuna.load_study(study_name=f"{STUDY}-stage2", storage=make_storage(config())))
    run = _promote_runs(study)[0]
    assert run.data.metrics["holdout_reads"] == len(ledger) >= 1 and [e["read"] for e in ledger] == list(
        range(1, len(ledger) + 1))
    assert ledger[-1]["run_id"] == run.info.run_id and ledger[-1]["outcome"] == "registered"
    assert ledger[-1]["registered"] == f"{MODEL} version {champion.version}"
    # cost stress: the same trades with commission x2 and one tick more slippage earn less
    m = run.data.metrics
    assert m["stress_n_trades"] == m["n_trades"]
    assert m["stress_net_pnl"] < m["net_pnl"] if m["n_trades"] > 0 else m["stress_net_pnl"] == m["net_pnl"]
    assert {"mc_net_pnl_p5", "mc_net_pnl_p95", "mc_risk_of_ruin", "regime_session_rth_n_trades"} <= set(m)
    artifacts = {a.path for a in _client(study).list_artifacts(run.info.run_id)}
    assert {"decision_report.html", "cost_stress.csv", "regimes.csv", "mc_bands.csv",
            "test_filter_analysis.csv"} <= artifacts
    html = (study / "experiments" / STUDY / "decision_report.html").read_text()
    assert f"version {champion.version}" in html and "holdout" in html.lower()
    # the report travels with the model version too (the model's artifacts/)
    import mlflow

    with contextlib.chdir(study):
        mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}@champion"))
    assert "registered" in (model_dir / "artifacts" / "decision_report.html").read_text()


def test_champion_reproduces_the_retrained_model_and_does_not_look_ahead(study: Path, champion: str) -> None:
    import mlflow

    from opt.backtest import calls_to_orders
    from opt.dataset import build_context, build_event_dataset
    from opt.models.fitting import model_input
    from opt.promote.retrain import retrain
    from opt.promote.study import trial_config

    with contextlib.chdir(study):
        mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
        champion = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
        cfg = trial_config(config(), _client(study), _best_trial_run(study))
        fit = retrain(cfg)
    bars = fit.ctx.bars.iloc[-12000:].reset_index(drop=True)  # signals after the first events.warmup_bars
    out = champion.predict(bars)
    assert list(out.columns) == list(SIGNAL_COLUMNS) and len(out) >= 3
    ctx = build_context(bars, cfg)
    ds = build_event_dataset(ctx, cfg, keep_unlabelled=True)
    proba = fit.model.predict_proba(model_input(ds, ctx, np.arange(len(ds))))
    orders = calls_to_orders(proba, ds.events, confidence=float(cfg.bracket.confidence),
                             direction=str(cfg.bracket.direction))
    np.testing.assert_array_equal(out["bar"].to_numpy(), orders["signal_bar"].to_numpy())
    np.testing.assert_array_equal(out["direction"].to_numpy(), orders["direction"].to_numpy())
    np.testing.assert_allclose(out["probability"].to_numpy(), orders["proba"].to_numpy(), rtol=1e-6)
    # no look-ahead: cutting the bars right after a signal leaves the signals up to it unchanged, and the
    # signal on the last bar (no complete label window) is still there
    t = int(out["bar"].iloc[len(out) // 2])
    cut = champion.predict(bars.iloc[: t + 1])
    pd.testing.assert_frame_equal(cut.reset_index(drop=True), out[out["bar"] <= t].reset_index(drop=True))
    assert int(cut["bar"].iloc[-1]) == t


def test_champion_loads_in_a_fresh_process_and_returns_signals(study: Path, champion: str) -> None:
    """ES bars as a user reads them (text timestamps, integer volume); synthetic bars without the ES file."""
    read = (f"pd.read_csv({str(ES_CSV)!r}).tail(10000)" if ES_CSV.is_file() else
            "__import__('opt.data').data.generate_synthetic_bars(seed=1, first_day='2025-06-02', n_days=10, "
            "start_price=6000.0, annual_vol=0.2, tick_size=0.25)")  # > events.warmup_bars of history
    script = f"""
import json, mlflow, pandas as pd
mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
model = mlflow.pyfunc.load_model("models:/{MODEL}@champion")
out = model.predict({read})
print(json.dumps({{"columns": list(out.columns), "n": len(out)}}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=study, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["columns"] == list(SIGNAL_COLUMNS) and report["n"] > 0
