"""Promotion gates: min_/max_ thresholds against the promote metrics (opt.promote.gates)."""

from __future__ import annotations

import math

import pytest

from opt.errors import ConfigError
from opt.promote.gates import check_gates, describe_failures

METRICS = {"n_trades": 42.0, "net_pnl": -70.5, "deflated_sharpe": 0.97, "pbo": 0.625, "plateau_score": math.nan}


def test_gates_pass_and_fail_with_value_and_threshold_named() -> None:
    gates = check_gates({"min_trades": 20, "min_net_pnl": 0.0, "min_deflated_sharpe": 0.95, "max_pbo": 0.5,
                         "min_precision_at_80": None}, METRICS)
    assert [(g.name, g.metric, g.passed) for g in gates] == [
        ("min_trades", "n_trades", True), ("min_net_pnl", "net_pnl", False),
        ("min_deflated_sharpe", "deflated_sharpe", True), ("max_pbo", "pbo", False)]
    assert describe_failures(gates) == "min_net_pnl: net_pnl=-70.5 < 0; max_pbo: pbo=0.625 > 0.5"
    assert gates[0].describe() == "min_trades: n_trades=42 >= 20"


def test_a_metric_that_could_not_be_computed_fails_its_gate() -> None:
    (gate,) = check_gates({"min_plateau_score": 0.5}, METRICS)
    assert not gate.passed and gate.reason == "not computable: no value (NaN)"
    assert gate.describe() == "min_plateau_score: plateau_score=not computable: no value (NaN) (needs >= 0.5)"
    (named,) = check_gates({"min_plateau_score": 0.5}, METRICS, reasons={"plateau_score": "no neighbour"})
    assert named.describe() == "min_plateau_score: plateau_score=not computable: no neighbour (needs >= 0.5)"


def test_boundaries_are_inclusive() -> None:
    assert all(g.passed for g in check_gates({"min_trades": 42, "max_pbo": 0.625}, METRICS))


@pytest.mark.parametrize(("gates", "match"), [({"min_sharpness": 1.0}, "no promote metric 'sharpness'"),
                                               ({"trades": 1}, "min_<metric> or max_<metric>"),
                                               ({"max_pbo": "high"}, "must be a number")])
def test_bad_gate_config_names_the_key(gates: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_gates(gates, METRICS)
