"""The warm-up measurement (opt.audit._warmup) and events.warmup_bars (opt.dataset)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.audit import measure_warmup, settled_after
from opt.dataset import build_context, build_event_dataset
from opt.errors import ConfigError
from opt.indicators import wilder_atr

from tests.helpers.config import compose_config
from tests.helpers.dataset import default_cfg, synthetic


def _late(fn, x: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(full history at rows >= s, the same computed from x[s:])."""
    return fn(x)[s:], fn(x[s:])


def test_a_running_mean_of_n_bars_settles_after_n_minus_1_bars() -> None:
    x = np.random.default_rng(0).normal(100.0, 5.0, 3_000)
    for n in (5, 20, 200):
        full, late = _late(lambda v, n=n: pd.Series(v).rolling(n, min_periods=1).mean().to_numpy(), x, s=777)
        assert settled_after(full, late, rtol=1e-12) == n - 1


def test_an_unknown_value_is_not_a_wrong_one() -> None:
    """An n-bar SMA is NaN until n bars are in, then exact: nothing to wait for, unless NaN counts as wrong
    (features turn NaN into 0)."""
    x = np.random.default_rng(1).normal(100.0, 5.0, 2_000)
    full, late = _late(lambda v: pd.Series(v).rolling(50).mean().to_numpy(), x, s=300)
    assert settled_after(full, late, rtol=1e-12) == 0
    assert settled_after(full, late, rtol=1e-12, unknown_ok=False) == 49
    assert settled_after(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), rtol=0.1) == 1  # known late, unknown in full


def test_wilder_atr_takes_longer_than_its_period_and_the_tolerance_sets_how_long() -> None:
    rng = np.random.default_rng(2)
    close = 5_000 + np.cumsum(rng.normal(0, 1, 5_000))
    high, low = close + rng.uniform(0, 2, 5_000), close - rng.uniform(0, 2, 5_000)

    def needed(rtol: float, period: int = 14) -> int:
        s = 1_000
        full = wilder_atr(high, low, close, period)[s:]
        return settled_after(full, wilder_atr(high[s:], low[s:], close[s:], period), rtol=rtol)

    loose, tight = needed(1e-2), needed(1e-6)
    assert 14 < loose < tight < 500  # geometric decay (13/14)^k of the starting error
    assert needed(1e-3, period=28) > needed(1e-3)


def test_settled_after_refuses_different_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        settled_after(np.zeros(3), np.zeros(4), rtol=0.1)


def test_measure_warmup_finds_a_custom_feature_that_depends_on_the_start() -> None:
    bars = synthetic(n_days=12)
    cfg = compose_config(["events.warmup_bars=0",
                          "features.custom=[{_target_: tests.helpers.planted_features.bar_number},"
                          "{_target_: tests.helpers.planted_features.close_change, lag: 5}]"])
    rows, offsets = measure_warmup(bars, cfg, offsets=[1, 1500, len(bars) - 1], timeframes=[1, 15], rtol=1e-3)
    by = {r.state: r for r in rows}
    assert offsets == [1, 1500]  # an offset that leaves fewer than 2 bars is skipped
    assert by["custom_bar_number"].never and not by["custom_bar_number"].covered(10**9)
    change = by["custom_close_change"]
    assert not change.never and change.bars <= 6 and change.covered(6)
    assert by["sma_400"].bars == 0 and by["atr_15m"].bars > by["atr_1m"].bars > 14
    assert by["vwap_weekly"].kind == "level" and by["events"].kind == "events"


def test_a_level_type_that_is_off_is_reported_but_not_required() -> None:
    bars = synthetic(n_days=8)
    cfg = compose_config(["levels.use.vwap=false"])
    rows, _ = measure_warmup(bars, cfg, offsets=[2_000], timeframes=[1], rtol=1e-3)
    by = {r.state: r for r in rows}
    assert not by["vwap_weekly"].used and by["vwap_weekly"].covered(0)
    assert by["onh"].used


def test_warmup_bars_drops_the_first_touches_and_changes_nothing_else() -> None:
    bars = synthetic(n_days=8)
    every = build_event_dataset(build_context(bars, default_cfg()), default_cfg(events={"warmup_bars": 0}))
    later = build_event_dataset(build_context(bars, default_cfg()), default_cfg(events={"warmup_bars": 3_000}))
    keep = (every.events["bar"] >= 3_000).to_numpy()
    assert keep.sum() == len(later) > 0 and (~keep).sum() > 0
    pd.testing.assert_frame_equal(every.events[keep].reset_index(drop=True), later.events)
    pd.testing.assert_frame_equal(every.features[keep].reset_index(drop=True), later.features)


def test_warmup_bars_rule_and_old_configs() -> None:
    from opt.config_rules import check_config
    from opt.events import event_params
    from opt.levels import LEVEL_TYPES

    with pytest.raises(ConfigError, match=r"events.warmup_bars=-1 breaks the rule: must be >= 0 bars"):
        check_config(compose_config(["events.warmup_bars=-1"]))
    old = OmegaConf.create({k: v for k, v in default_cfg().events.items() if k != "warmup_bars"})
    assert event_params(old, LEVEL_TYPES).warmup_bars == 0  # a trial's config.yaml from before the key


def test_a_short_warmup_fails_the_audit_naming_the_state_and_the_bars_it_needs() -> None:
    from opt.audit import audit_params, run_audit

    cfg = compose_config(["events.warmup_bars=100", "audit.n_cuts=1", "audit.offsets=[1,700]"])
    result = run_audit(cfg, synthetic(n_days=9), audit_params(cfg))
    assert result.differences == [] and not result.passed
    worst = result.uncovered[0]
    assert worst.bars > 100 and worst.used and not worst.never
    message = result.failure()
    assert message.startswith("set events.warmup_bars >= ") and f"({worst.state} needs {worst.bars:,} bars" in message
    needed = int(message.split(">= ")[1].split(" ")[0])
    assert needed % 100 == 0 and worst.bars <= needed < worst.bars + 100
