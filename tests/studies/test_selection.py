"""Selection-bias accounting (#13.4): N counts every configuration the family tried, and list ranks by DSR."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState, create_trial

from opt.errors import ConfigError
from opt.inspect._trials import select_rows, sort_by_metric
from opt.schema import TrialAttr
from opt.studies.selection import stage2_sharpes, trials_tried


def _study() -> optuna.Study:
    """A study holding each state once, an abandoned FAIL and trials with DSR metrics."""
    study = optuna.create_study(direction="maximize")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}

    def add(state: TrialState, value: float | None = None, **attrs: object) -> None:
        study.add_trial(create_trial(state=state, value=value, params={"x": 0.5} if state != TrialState.WAITING else {},
                                     distributions=dist if state != TrialState.WAITING else {}, user_attrs=attrs))

    add(TrialState.COMPLETE, 1.0, metrics={"sharpe": 1.2, "deflated_sharpe": 0.40, "dsr_n_trials": 6.0})
    add(TrialState.COMPLETE, 3.0, metrics={"sharpe": 2.5, "deflated_sharpe": 0.10, "dsr_n_trials": 6.0})
    add(TrialState.COMPLETE, 2.0, metrics={"sharpe": math.nan, "deflated_sharpe": math.nan})
    add(TrialState.PRUNED, metrics={"sharpe": 9.0})
    add(TrialState.FAIL)
    add(TrialState.FAIL, **{TrialAttr.ABANDONED: "target reached"})
    add(TrialState.WAITING)
    return study


def test_n_counts_complete_pruned_and_failed_trials_but_not_abandoned_or_waiting() -> None:
    study = _study()
    assert len(study.get_trials()) == 7
    assert trials_tried(study) == 5  # 3 complete + 1 pruned + 1 failed
    assert trials_tried(None) == 0
    # the trial-Sharpe variance reads COMPLETE trials with a finite Sharpe ratio only
    np.testing.assert_array_equal(stage2_sharpes(study), [1.2, 2.5])


def test_list_ranks_by_deflated_sharpe_not_by_score() -> None:
    study = _study()
    by_score = select_rows(study, 2, states=["COMPLETE"], min_trades=None, top=None)
    assert [r["trial"] for r in by_score] == [1, 2, 0]
    by_dsr = select_rows(study, 2, states=["COMPLETE"], min_trades=None, top=2, sort="deflated_sharpe")
    assert [r["trial"] for r in by_dsr] == [0, 1]  # the NaN one last, cut by top
    assert by_dsr[0]["metrics"]["dsr_n_trials"] == 6.0


def test_lower_is_better_metrics_rank_ascending_and_unknown_metrics_are_refused() -> None:
    trials = [create_trial(state=TrialState.COMPLETE, value=0.0, user_attrs={"metrics": {"max_drawdown": d}})
              for d in (500.0, 100.0, 300.0)]
    assert [t.user_attrs["metrics"]["max_drawdown"] for t in sort_by_metric(trials, "max_drawdown")] == [100, 300, 500]
    with pytest.raises(ConfigError, match=r"inspect.sort=nope: no listed trial has that metric; they have: max_drawdown"):
        sort_by_metric(trials, "nope")
