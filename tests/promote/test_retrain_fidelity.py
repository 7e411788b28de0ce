"""The champion is trained the way the walk-forward validated it, and a degenerate one is refused (#9)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from omegaconf import OmegaConf

from opt.models import AveragedClassifier, Capacity, make_model, trained_capacity
from opt.promote.degenerate import degenerate_gates, degenerate_metrics
from opt.promote.retrain import retrain

from tests.helpers.model_events import make_events, tiny_cnn_cfg, tiny_xgb_cfg
from tests.helpers.tiny_study import STUDY, config, tiny_study


def test_models_report_the_capacity_they_kept() -> None:
    data, y = make_events(300, seed=3)
    full = make_model(tiny_xgb_cfg(n_estimators=40, early_stopping_rounds=None), seed=0).fit(data, y)
    assert trained_capacity(full) == Capacity("n_estimators", "rounds", 40)
    stopped = make_model(tiny_xgb_cfg(n_estimators=400, early_stopping_rounds=5), seed=0)
    stopped.fit(data.subset(np.arange(200)), y[:200], valid=data.subset(np.arange(200, 300)), y_valid=y[200:])
    cap = trained_capacity(stopped)
    assert cap is not None and cap.unit == "rounds" and 1 <= cap.value < 400
    assert cap.value == stopped.best_iteration + 1
    cnn = make_model(tiny_cnn_cfg(epochs=3), seed=0).fit(data, y)  # no validation: every epoch kept
    assert trained_capacity(cnn) == Capacity("epochs", "epochs", 3)


def test_the_fold_ensemble_averages_its_members() -> None:
    data, y = make_events(200, seed=5)
    a = make_model(tiny_xgb_cfg(), seed=0).fit(data, y)
    b = make_model(tiny_xgb_cfg(max_depth=2), seed=1).fit(data, y)
    mean = AveragedClassifier([a, b]).predict_proba(data)
    np.testing.assert_allclose(mean, (a.predict_proba(data) + b.predict_proba(data)) / 2)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0)
    assert trained_capacity(AveragedClassifier([a])) is None


def _fake(capacity: Capacity | None, proba: np.ndarray, n_orders: float):  # noqa: ANN202
    return SimpleNamespace(capacity=capacity, fold_capacities=(10, 12), result=SimpleNamespace(proba=proba)), n_orders


def _cfg(**degenerate: object):  # noqa: ANN202
    return OmegaConf.create({"bracket": {"confidence": 0.45}, "promote": {"degenerate": {
        "min_rounds": 5, "min_epochs": 2, "require_confidence": True, "require_orders": True, **degenerate}}})


def test_a_champion_that_barely_trained_and_cannot_trade_is_refused_with_reasons() -> None:
    flat = np.full((50, 3), 1 / 3)  # the ES failure: probabilities stuck near 1/3
    r, orders = _fake(Capacity("n_estimators", "rounds", 1), flat, 0.0)
    metrics = {**degenerate_metrics(r), "n_orders": orders}  # type: ignore[arg-type]
    gates = degenerate_gates(_cfg(), r, metrics)  # type: ignore[arg-type]
    assert [g.name for g in gates if not g.passed] == ["degenerate.min_rounds", "degenerate.reaches_confidence",
                                                      "degenerate.places_orders"]
    text = "; ".join(g.describe() for g in gates)
    assert "kept only 1 rounds" in text and "never reach bracket.confidence=0.45" in text
    assert "places no order" in text and metrics["fold_capacity_median"] == 11.0


def test_a_healthy_champion_passes_and_checks_can_be_switched_off() -> None:
    proba = np.tile([0.6, 0.2, 0.2], (10, 1))
    r, orders = _fake(Capacity("epochs", "epochs", 4), proba, 3.0)
    metrics = {**degenerate_metrics(r), "n_orders": orders}  # type: ignore[arg-type]
    assert all(g.passed for g in degenerate_gates(_cfg(), r, metrics))  # type: ignore[arg-type]
    off = _cfg(min_epochs=None, require_confidence=False, require_orders=False)
    assert degenerate_gates(off, r, metrics) == []  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_study(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["folds", "ensemble", "early_stopping"])
def test_retrain_modes_on_the_tiny_study(study: Path, mode: str) -> None:
    from mlflow.tracking import MlflowClient

    from opt.promote import study as st

    with contextlib.chdir(study):
        cfg = config(f"promote.retrain={mode}")
        studies = st.load_studies(cfg)
        trial = st.select_trial(studies.stage2, None)
        client = MlflowClient(tracking_uri=f"sqlite:///{study / 'mlruns' / 'mlflow.db'}")
        r = retrain(st.trial_config(cfg, client, trial.user_attrs["mlflow_run_id"]))
    assert r.mode == mode
    if mode == "folds":
        assert r.fold_capacities and r.capacity is not None
        assert r.capacity.value == max(1, int(round(float(np.median(r.fold_capacities)))))
    elif mode == "ensemble":
        assert r.capacity is None and isinstance(r.model, AveragedClassifier)
        assert len(r.model.members) == len(r.fold_capacities) >= 1
    else:
        assert r.fold_capacities == () and r.capacity is not None
    assert r.result.proba.shape == (len(r.test), 3)


@pytest.mark.slow
def test_promote_refuses_a_deliberately_degenerate_champion(study: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from opt.promote.command import GATES_FAILED_EXIT_CODE, promote_command

    gates_off = [f"promote.gates.{g}=null" for g in ("min_trades", "min_net_pnl", "min_deflated_sharpe", "max_pbo")]
    with contextlib.chdir(study):  # no real champion keeps 100,000 rounds
        code = promote_command(config(*gates_off, "promote.degenerate.min_rounds=100000",
                                      f"promote.model_name={STUDY}-degenerate", "promote.replay.enabled=false"))
    assert code == GATES_FAILED_EXIT_CODE
    err = capsys.readouterr().err
    assert "promote refused" in err and "degenerate.min_rounds" in err and "the champion kept only" in err
