"""One-step neighbours of searched parameters (opt.promote.sensitivity) and the plateau score."""

from __future__ import annotations

import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from opt.promote.sensitivity import neighbours, plateau_score


def test_float_steps_are_a_share_of_the_searched_range() -> None:
    dist = FloatDistribution(0.5, 4.0)
    assert neighbours(dist, 2.0, float_step=0.1) == [(-1, pytest.approx(1.65)), (1, pytest.approx(2.35))]
    assert neighbours(dist, 0.6, float_step=0.1) == [(-1, 0.5), (1, pytest.approx(0.95))]  # clipped to low
    assert neighbours(dist, 0.5, float_step=0.1) == [(1, pytest.approx(0.85))]  # at the edge: one side


def test_log_and_stepped_floats() -> None:
    log = FloatDistribution(0.01, 1.0, log=True)  # 10% of the log range: a factor 100 ** 0.1
    low, high = neighbours(log, 0.1, float_step=0.1)
    assert low[1] == pytest.approx(0.1 / 100 ** 0.1) and high[1] == pytest.approx(0.1 * 100 ** 0.1)
    stepped = FloatDistribution(0.0, 1.5, step=0.25)
    assert neighbours(stepped, 0.75, float_step=0.1) == [(-1, 0.5), (1, 1.0)]


def test_int_steps_and_categorical_neighbours() -> None:
    assert neighbours(IntDistribution(1, 30), 30, float_step=0.1) == [(-1, 29)]
    assert neighbours(IntDistribution(10, 60, step=5), 20, float_step=0.1) == [(-1, 15), (1, 25)]
    cat = CategoricalDistribution(["both", "long_only", "short_only"])
    assert neighbours(cat, "both", float_step=0.1) == [(1, "long_only")]
    assert neighbours(cat, "long_only", float_step=0.1) == [(-1, "both"), (1, "short_only")]
    assert neighbours(CategoricalDistribution([1, 5, 15]), 5, float_step=0.1) == [(-1, 1), (1, 15)]


def test_plateau_score_counts_neighbours_keeping_half_the_result() -> None:
    table = pd.DataFrame({"net_pnl": [100.0, 49.0, 50.0, 200.0]})
    out = plateau_score(table, 100.0, keep_share=0.5)
    assert out["plateau_score"] == 0.75 and out["sensitivity_worst_net_pnl"] == 49.0
    # a losing base: neighbours may lose up to 1.5x as much
    assert plateau_score(pd.DataFrame({"net_pnl": [-140.0, -160.0]}), -100.0, keep_share=0.5)["plateau_score"] == 0.5
    assert plateau_score(table.iloc[:0], 100.0, keep_share=0.5)["sensitivity_neighbours"] == 0.0
