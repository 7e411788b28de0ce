"""End-to-end: a stage-2 study that searches the market-context filters (``stage.filter_search.enabled=true``)
through the real CLI, and the trades-by-context table every trial logs (synthetic data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers.cli import run_cli, runs_of

pytestmark = pytest.mark.slow

STUDY = "s2f"
#: the README override: the default stage-2 space plus every filter's switch (and window when on)
OVERRIDES = ["+stage=2", "stage.filter_search.enabled=true", f"search.study_name={STUDY}", "data.synthetic.n_days=40",
             "search.n_trials=2", "split.n_folds=2", "search.progress=false",
             # seed 6: trial 0 switches time_of_day (and others) on, trial 1 time_of_day and ema_trend only;
             # small models and low confidences keep the trials quick and trading
             "search.seed=6", "stage.model_space.xgboost.model.n_estimators.high=150",
             "stage.space.bracket.confidence.high=0.5", "stage.space.bracket.confidence.grid=[0.45,0.5]"]


def test_stage2_searches_filters_and_logs_the_filter_analysis(workdir: Path) -> None:
    best1 = workdir / "best_stage1.yaml"  # the default dataset stands in for a stage-1 result (saves a study)
    best1.write_text(yaml.safe_dump({"stage": 1, "trial": 0, "params": {}}))
    result = run_cli(["run", *OVERRIDES, f"stage.from_stage1={best1}"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    children = [r for r in runs_of(workdir, STUDY) if r.data.tags.get("opt.role") == "trial"]
    assert len(children) == 2
    switched_on = set()
    for child in children:
        params = child.data.params
        for name in ("time_of_day", "ema_trend", "weekly_vwap_side", "pd_position", "on_position"):
            assert f"filters.{name}.enabled" in params, name  # every trial samples each filter's switch
        on = {k.split(".")[1] for k, v in params.items() if k.endswith(".enabled") and v == "True"}
        switched_on |= on
        assert ("filters.time_of_day.start" in params) == ("time_of_day" in on)  # windows only when on
        assert ("filters.ema_trend.timeframe" in params) == ("ema_trend" in on)
        if child.data.tags["opt.trial_state"] != "COMPLETE":
            continue
        table = pd.read_csv(client.download_artifacts(child.info.run_id, "filter_analysis.csv"))
        trades = pd.read_parquet(client.download_artifacts(child.info.run_id, "trades.parquet"))
        assert (table.groupby("kind")["n_trades"].sum() == len(trades)).all()  # each kind partitions the trades
        flagged = set(table.loc[table["filter_enabled"] == 1, "kind"])
        assert ("time_of_day" in flagged) == ("time_of_day" in on)
        if "ema_trend" in on:
            kind = f"ema_trend_{params['filters.ema_trend.timeframe']}"
            assert kind in flagged
            assert (table.loc[(table["kind"] == kind) & (table["slice"] != "with"), "n_trades"] == 0).all()
        if "time_of_day" in on and len(trades):
            local = pd.DatetimeIndex(trades["timestamp"]).tz_convert("America/New_York")
            minute = np.asarray(local.hour * 60 + local.minute)
            start, end = (int(params[f"filters.time_of_day.{k}"][:2]) * 60 + int(params[f"filters.time_of_day.{k}"][3:])
                          for k in ("start", "end"))
            assert ((minute >= start) & (minute < end)).all()
    assert {"time_of_day", "ema_trend"} <= switched_on, switched_on  # both filters were tried on
