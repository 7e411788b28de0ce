"""No look-ahead: nothing at bar t may change when the bars after t are cut off or replaced.

For several cut points t, the calendar, levels, ATRs and event dataset are computed on (a) all
bars, (b) bars[:t+1] and (c) all bars with every bar after t replaced by garbage. Rows <= t of
the per-bar arrays must be identical; events whose label window ends by t must be identical in
all three (label included); events with bar <= t must have identical features in (a) and (c).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opt.dataset import EventDataset, MarketContext, build_context, build_event_dataset
from opt.indicators import timeframe_atr

from tests.helpers.dataset import default_cfg, garbage_after, load_es, synthetic

CFGS = {
    "default": default_cfg(),
    "points": default_cfg(
        outcome={"threshold_mode": "points", "threshold": 3.0, "lookforward": 45},
        events={"k_atr": 1.0, "cooldown": 5},
        features={"window_short": 3, "window_long": 100},
    ),
    # a causal features.custom function: its column at the touch bar is a feature like the built-in ones
    "custom": default_cfg(features={"custom": [{"_target_": "tests.helpers.planted_features.close_change", "lag": 7}]}),
}




def _up_to(ds: EventDataset, last_bar: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep = (ds.events["bar"] <= last_bar).to_numpy()
    return ds.events[keep].reset_index(drop=True), ds.features[keep].reset_index(drop=True)


def _assert_context_prefix(full: MarketContext, other: MarketContext, t: int) -> None:
    cal_f, cal_o = full.calendar, other.calendar
    for name in (
        "trading_day",
        "minute_of_day",
        "minutes_since_rth_open",
        "is_rth",
        "is_pm",
        "is_on",
        "day_of_week",
        "week_start",
        "is_half_day",
        "session_end",
    ):
        np.testing.assert_array_equal(
            getattr(cal_f, name)[: t + 1], getattr(cal_o, name)[: t + 1], err_msg=name
        )
    assert full.levels.names == other.levels.names
    np.testing.assert_array_equal(full.levels.values[: t + 1], other.levels.values[: t + 1])
    np.testing.assert_array_equal(full.atr[: t + 1], other.atr[: t + 1])
    for minutes in (5, 15):
        np.testing.assert_array_equal(
            timeframe_atr(full.bars, minutes, 14)[: t + 1], timeframe_atr(other.bars, minutes, 14)[: t + 1]
        )


def _check_cut(bars: pd.DataFrame, t: int, cfg, full: MarketContext, full_ds: EventDataset) -> int:
    lf = int(cfg.outcome.lookforward)
    prefix = build_context(bars.iloc[: t + 1], cfg)
    garbage = build_context(garbage_after(bars, t, seed=t), cfg)
    _assert_context_prefix(full, prefix, t)
    _assert_context_prefix(full, garbage, t)
    prefix_ds, garbage_ds = build_event_dataset(prefix, cfg), build_event_dataset(garbage, cfg)
    ev_f, x_f = _up_to(full_ds, t - lf)
    for other in (prefix_ds, garbage_ds):
        ev_o, x_o = _up_to(other, t - lf)
        pd.testing.assert_frame_equal(ev_f, ev_o)
        pd.testing.assert_frame_equal(x_f, x_o)
    ev_f, x_f = _up_to(full_ds, t)
    ev_g, x_g = _up_to(garbage_ds, t)
    pd.testing.assert_frame_equal(ev_f.drop(columns="label"), ev_g.drop(columns="label"))
    pd.testing.assert_frame_equal(x_f, x_g)
    return len(ev_f)


def _on_event_bars(ds: EventDataset, starts: list[int]) -> list[int]:
    """Cut at the first event bar at or after each start, so an event sits exactly on the cut
    (a feature reading even one bar ahead then differs between the full and the garbage data)."""
    bars = ds.events["bar"].to_numpy()
    return [int(bars[np.searchsorted(bars, s)]) for s in starts]


@pytest.mark.parametrize("cfg_name", sorted(CFGS))
def test_no_lookahead_on_es(cfg_name: str) -> None:
    bars, cfg = load_es(), CFGS[cfg_name]
    full = build_context(bars, cfg)
    full_ds = build_event_dataset(full, cfg)
    # cuts inside RTH, just after the opening range, overnight and near the end
    ts = pd.DatetimeIndex(bars["timestamp"])
    starts = [
        int(np.searchsorted(ts, pd.Timestamp(s, tz="UTC")))
        for s in ("2025-09-17 14:00", "2025-10-08 14:00", "2025-10-21 03:17", "2025-11-12 19:45")
    ]
    cuts = _on_event_bars(full_ds, starts)
    counts = [_check_cut(bars, t, cfg, full, full_ds) for t in cuts]
    assert min(counts) > 50  # the comparisons cover real events


def test_no_lookahead_on_synthetic() -> None:
    bars, cfg = synthetic(n_days=20), CFGS["default"]
    full = build_context(bars, cfg)
    full_ds = build_event_dataset(full, cfg)
    # the first cut sits 4,100 bars after events.warmup_bars (6,900: no events before it)
    counts = [_check_cut(bars, t, cfg, full, full_ds) for t in _on_event_bars(full_ds, [11_000, 19_321])]
    assert min(counts) > 50
