"""A search without a result says so: the run summary and best_stage2.yaml (usable, reason)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from omegaconf import DictConfig

from opt.schema import TrialAttr
from opt.search.summary import describe_objective, summarize
from opt.studies import write_best
from opt.studies.verdict import verdict

from tests.helpers.config import compose_config

GOOD = {"n_trades": 40.0, "min_trades_penalty": 0.0, "net_pnl": 1530.0, "n_eval_events": 900.0, "n_folds": 5.0}
PENALIZED = {"n_trades": 3.0, "min_trades_penalty": 1.0, "net_pnl": 120.0, "n_eval_events": 900.0, "n_folds": 5.0}


def _cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    return compose_config(["+stage=2", f"paths.experiments={tmp_path}", "search.study_name=v", *overrides])


def _study(*trials: tuple[float, dict[str, float]]) -> optuna.Study:
    """A real in-memory stage-2 study with complete trials (score, metrics)."""
    study = optuna.create_study(study_name="v-stage2", direction="maximize")
    for score, metrics in trials:
        study.add_trial(optuna.trial.create_trial(value=score, params={}, distributions={},
                                                  user_attrs={TrialAttr.METRICS: {**metrics, "score": score}}))
    return study


def test_every_trial_penalized_is_no_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _cfg(tmp_path)
    study = _study((-10.0, PENALIZED), (-10.0, {**PENALIZED, "n_trades": 0.0}))
    judged = verdict(study, cfg, 2)
    assert not judged.usable and "every one of the 2 complete trials scored the min-trades penalty" in judged.reason
    record = yaml.safe_load(write_best(study, cfg, 2, fingerprint="f").read_text())  # type: ignore[union-attr]
    assert record["usable"] is False and record["reason"] == judged.reason
    summarize(study, cfg, 2)
    out = capsys.readouterr().out
    assert "NO RESULT: every one of the 2 complete trials scored the min-trades penalty" in out
    assert "2 of 2 complete trials scored the min-trades penalty" in out and "usable: false" in out


def test_a_best_trial_below_the_penalty_metric_is_no_result(tmp_path: Path) -> None:
    """With metric net_pnl a penalized trial (-10) can beat a losing one: it must not pass as a result."""
    cfg = _cfg(tmp_path, "stage.objective.metric=net_pnl")
    judged = verdict(_study((-10.0, PENALIZED), (-400.0, {**GOOD, "net_pnl": -400.0})), cfg, 2)
    assert not judged.usable and judged.reason.startswith("the best trial #0 scored the min-trades penalty")


def test_too_few_events_is_no_result(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "stage.objective.min_events=1000")
    judged = verdict(_study((1.2, GOOD)), cfg, 2)
    assert not judged.usable
    assert judged.reason == ("too few events to be meaningful: the best trial's walk-forward evaluated 900 events "
                             "< stage.objective.min_events=1000")
    assert verdict(_study((1.2, GOOD)), _cfg(tmp_path, "stage.objective.min_events=900"), 2).usable


def test_a_usable_result_names_its_objective(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _cfg(tmp_path)
    study = _study((1.84, GOOD), (0.5, {**GOOD, "net_pnl": -20.0}), (-10.0, PENALIZED))
    record = yaml.safe_load(write_best(study, cfg, 2, fingerprint="f").read_text())  # type: ignore[union-attr]
    assert record["usable"] is True and record["reason"] == "" and "notes" not in record
    summarize(study, cfg, 2)
    out = capsys.readouterr().out
    assert "best trial #0: score 1.84 = sharpe (pooled over 5 folds' daily PnL, maximize)" in out
    assert ("objective: sharpe (pooled over the walk-forward folds' daily PnL, maximize); fewer than "
            "stage.objective.min_trades=20 trades over all folds scores stage.objective.penalty=-10") in out
    assert "1 of 3 complete trials scored the min-trades penalty" in out and "NO RESULT" not in out


def test_a_losing_or_idle_best_trial_is_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = _study((-0.3, {**GOOD, "net_pnl": -1528.0, "n_folds_no_trades": 2.0}))
    record = yaml.safe_load(write_best(study, _cfg(tmp_path), 2, fingerprint="f").read_text())  # type: ignore[union-attr]
    assert record["usable"] is True and record["notes"] == [
        "the best trial lost money: net_pnl -1,528.00",
        "the best trial made no trade in 2 of 5 walk-forward folds: its result rests on the other folds"]
    summarize(study, _cfg(tmp_path), 2)
    assert "note: the best trial made no trade in 2 of 5 walk-forward folds" in capsys.readouterr().out


@pytest.mark.parametrize("overrides, expected", [
    ([], "sharpe (pooled over 5 folds' daily PnL, maximize)"),
    (["stage.objective.aggregate=median"], "sharpe (median of the per-fold values over 5 folds, maximize)"),
    (["stage.objective.metric=net_pnl"], "net_pnl (pooled over 5 folds' trades, maximize)"),
    (["stage.objective.metric=precision_at_80"], "precision_at_80 (pooled over 5 folds' confident calls, maximize)"),
])
def test_describe_objective(tmp_path: Path, overrides: list[str], expected: str) -> None:
    assert describe_objective(_cfg(tmp_path, *overrides), 2, ["maximize"], 5) == expected


def test_describe_objective_multi_and_stage1(tmp_path: Path) -> None:
    multi = _cfg(tmp_path, "stage.objective.multi=[net_pnl,max_drawdown]")
    assert describe_objective(multi, 2, ["maximize", "minimize"]) == (
        "(net_pnl maximize, max_drawdown minimize); score and ranking by the first")
    stage1 = compose_config(["+stage=1"])
    assert describe_objective(stage1, 1, ["maximize"]) == (
        "stage-1 composite 0.5 physics_quality + 0.3 model_performance + 0.2 variance_score (DESIGN §7, maximize)")
