"""Account rules on hand-made trade sequences (opt.backtest.account, DESIGN §10 ``account_*``)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest

from opt.backtest.account import (
    AccountRules,
    account_metrics,
    account_rules,
    fail_date,
    simulate_account,
    trades_account,
)
from opt.errors import ConfigError
from opt.stages.account_check import ACCOUNT_CONSTRAINT, account_check
from opt.studies.reading import best_trial

from tests.helpers.config import compose_config

FIXED = dict(risk_step=0.0)  # fixed $300 risk: PnL = 300 R


def _run(r: list[float], rules: AccountRules, days: list[int] | None = None, entry: list[int] | None = None):
    n = len(r)
    exit_bar = np.arange(10, 10 + 10 * n, 10, dtype=np.int64)
    entry_bar = np.asarray(entry, np.int64) if entry is not None else exit_bar - 5
    day = np.asarray(days if days is not None else np.arange(n) + 20_000, np.int64)
    return simulate_account(np.asarray(r, float), entry_bar, exit_bar, day, rules)


def test_trailing_floor_moves_up_and_stops_at_start_balance() -> None:
    res = _run([2, 3, 2, 1, -8, -0.1, 5], AccountRules(**FIXED))
    # balances 50600, 51500, 52100, 52400, 50000 (= floor: not below, passes), 49970 < 50000: fails
    assert list(res.floor[:6]) == [48000, 48600, 49500, 50000, 50000, 50000]
    assert list(res.balance[:6]) == pytest.approx([50600, 51500, 52100, 52400, 50000, 49970])
    assert not res.passed and res.fail_index == 5 and res.fail_day == 20_005
    assert list(res.taken) == [True] * 6 + [False]  # nothing after the fail
    assert res.final_balance == pytest.approx(49970) and res.min_headroom == pytest.approx(-30)


def test_static_floor_never_moves() -> None:
    res = _run([5, -11, -1], AccountRules(drawdown="static", **FIXED))
    assert list(res.floor) == [48000, 48000, 48000]
    assert list(res.balance) == pytest.approx([51500, 48200, 47900]) and res.fail_index == 2
    trailing = _run([5, -11, -1], AccountRules(**FIXED))
    assert trailing.fail_index == 1  # the trailing floor was 49500 after +1500


def test_trail_on_day_moves_the_floor_at_day_ends_only() -> None:
    rules = AccountRules(trail_on="day", **FIXED)
    res = _run([3, 2, -1, 1], rules, days=[1, 1, 1, 2])  # day 1 ends at 51200
    assert list(res.floor) == [48000, 48000, 48000, 49200]
    by_trade = _run([3, 2, -1, 1], AccountRules(**FIXED), days=[1, 1, 1, 2])
    assert list(by_trade.floor) == [48000, 48900, 49500, 49500]  # peak 51500 after the 2nd trade


def test_daily_loss_limit_stops_the_day_not_the_account() -> None:
    rules = AccountRules(daily_loss_limit=500.0, **FIXED)
    res = _run([-1, -1, 3, 1], rules, days=[7, 7, 7, 8])
    assert list(res.taken) == [True, True, False, True] and list(res.skipped_daily) == [False, False, True, False]
    assert res.passed and res.final_balance == pytest.approx(50000 - 600 + 300)
    assert account_metrics(res)["account_n_skipped_daily"] == 1
    unlimited = _run([-1, -1, 3, 1], AccountRules(**FIXED), days=[7, 7, 7, 8])
    assert unlimited.final_balance == pytest.approx(50000 + 600)


def test_risk_steps_up_by_50_per_1000_gained_and_back_down() -> None:
    res = _run([4, 4, -1, -2, 1], AccountRules())
    # +1200 -> 51200 (1 step), +1400 -> 52600 (2 steps), -400 -> 52200 (2), -800 -> 51400 (1)
    assert list(res.risk) == [300, 350, 400, 400, 350]
    assert list(res.pnl) == pytest.approx([1200, 1400, -400, -800, 350])
    capped = _run([4, 4, -1], AccountRules(max_risk=375.0))
    assert list(capped.risk) == [300, 350, 375] and capped.max_risk == 375
    assert AccountRules().risk(50_999.0) == 300 and AccountRules().risk(49_000.0) == 300


def test_risk_reads_only_trades_closed_before_the_entry() -> None:
    # the 2nd trade entered (bar 12) before the 1st exited (bar 20): its risk cannot know the +1200
    res = simulate_account(np.array([4.0, 1.0, 1.0]), np.array([5, 12, 25]), np.array([20, 20, 30]),
                           np.array([1, 1, 1]), AccountRules())
    assert list(res.risk) == [300, 300, 350]
    # a prefix of the trades gives the same path: later trades never change earlier rows
    full = _run([2, -1, 3, -4, 1, 2], AccountRules(daily_loss_limit=900.0), days=[1, 1, 1, 2, 2, 2])
    part = _run([2, -1, 3, 99, 99, 99], AccountRules(daily_loss_limit=900.0), days=[1, 1, 1, 2, 2, 2])
    assert np.array_equal(full.balance[:3], part.balance[:3]) and np.array_equal(full.risk[:3], part.risk[:3])


def test_metrics_and_fail_date() -> None:
    passed = _run([1, -1], AccountRules())
    m = account_metrics(passed)
    assert m["account_passed"] == 1 and math.isnan(m["account_fail_day"]) and fail_date(passed) is None
    failed = _run([-7], AccountRules(), days=[20_364])
    m = account_metrics(failed)
    assert m["account_passed"] == 0 and m["account_fail_day"] == 20_364 and fail_date(failed) == "2025-10-03"
    empty = _run([], AccountRules())
    assert account_metrics(empty)["account_final_balance"] == 50_000 and empty.passed and empty.max_risk == 0


def test_trades_account_sorts_into_exit_order_and_tabulates() -> None:
    trades = pd.DataFrame({"entry_bar": [30, 1], "exit_bar": [40, 10], "r_multiple": [1.0, -1.0]})
    day = np.full(50, 20_000, np.int64)
    res, table = trades_account(trades, day, AccountRules())
    assert list(table["exit_bar"]) == [10, 40] and list(table["pnl"]) == [-300, 300]
    assert list(table.columns) == ["exit_bar", "exit_day", "r_multiple", "taken", "risk", "pnl", "balance", "floor",
                                   "skipped_daily"]
    assert table["exit_day"].iloc[0] == "2024-10-04" and res.final_balance == 50_000


def test_bad_input_and_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="exit order"):
        simulate_account(np.ones(2), np.array([0, 0]), np.array([5, 3]), np.zeros(2, np.int64), AccountRules())
    with pytest.raises(ConfigError, match="account.max_drawdown"):
        AccountRules(max_drawdown=60_000.0)
    with pytest.raises(ConfigError, match="account.drawdown"):
        AccountRules(drawdown="weekly")
    with pytest.raises(ConfigError, match="account.max_risk"):
        AccountRules(max_risk=100.0)


def test_config_group_defaults() -> None:
    cfg = compose_config(["+stage=2"])
    rules = account_rules(cfg.account)
    assert rules == AccountRules(start_balance=50_000.0, max_drawdown=2_000.0, drawdown="trailing", trail_on="trade",
                                 daily_loss_limit=None, risk_per_trade=300.0, risk_step=50.0, step_every=1_000.0)
    assert cfg.stage.objective.account_constraint is False and cfg.promote.gates.min_account_passed is None
    assert account_rules(compose_config(["account.enabled=false"]).account) is None


def test_account_constraint_penalizes_and_makes_the_trial_infeasible() -> None:
    trades = pd.DataFrame({"entry_bar": [1, 11], "exit_bar": [10, 20], "r_multiple": [-4.0, -3.0]})  # -2100
    day = np.full(30, 20_000, np.int64)
    off = account_check(compose_config(["+stage=2"]), trades, day)
    assert off.metrics["account_passed"] == 0 and not off.infeasible and off.constraints == {}
    assert off.tags == {"opt.account_failed_on": "2024-10-04"}
    on = account_check(compose_config(["+stage=2", "stage.objective.account_constraint=true"]), trades, day)
    assert on.infeasible and on.metrics["account_penalty"] == 1 and on.constraints == {ACCOUNT_CONSTRAINT: 100.0}
    with pytest.raises(ConfigError, match="account.enabled"):
        account_check(compose_config(["+stage=2", "stage.objective.account_constraint=true", "account.enabled=false"]),
                      trades, day)


def test_an_infeasible_trial_is_never_the_best() -> None:
    study = optuna.create_study(direction="maximize")
    for value, violation in ((5.0, 0.0), (9.0, 100.0), (7.0, -50.0)):
        trial = study.ask()
        trial.set_constraint(ACCOUNT_CONSTRAINT, violation)
        study.tell(trial, value)
    best = best_trial(study)
    assert best is not None and best.number == 2 and best.values == [7.0]
