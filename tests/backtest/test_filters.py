"""Market-context filters (opt.backtest.filters): each filter on hand-made bars, causal contexts on the ES file,
the trades-by-context table, and the same filtering in the backtest and the registered policy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from opt.backtest import atr_on, evaluate_span
from opt.backtest.filters import (
    ANALYSIS_COLUMNS,
    KINDS,
    BarContexts,
    FilterSettings,
    apply_filters,
    bar_contexts,
    ema,
    filter_analysis,
    filter_mask,
    order_contexts,
)
from opt.dataset import MarketContext, build_context, build_event_dataset
from opt.errors import ConfigError
from opt.evaluation import holdout_split
from opt.models import ModelData
from opt.promote.command import POLICY_SECTIONS
from opt.promote.policy import SignalPolicy
from opt.promote.replay import replay_test_part

from tests.helpers.config import compose_config
from tests.helpers.dataset import default_cfg, garbage_after, load_es, synthetic

NAN = np.nan


BASE = compose_config([])


def _filters(**on: dict[str, Any]) -> DictConfig:
    """The default config with the given filters switched on (and their settings)."""
    cfg = BASE.copy()
    for name, settings in on.items():
        cfg.filters[name].enabled = True
        for k, v in settings.items():
            cfg.filters[name][k] = v
    return cfg


# --- each filter on hand-made bars ------------------------------------------------------------------------

#: 8 hand-made bars: clock time, RTH, weekday, weekly VWAP side, EMA sides, PD / ON position
HAND = BarContexts(
    minute_of_day=np.array([570, 959, 960, 1200, 100, 600, 720, 900], dtype=np.int64),  # 09:30 15:59 16:00 20:00 ...
    is_rth=np.array([1, 1, 0, 0, 0, 1, 1, 1], dtype=bool),
    weekday=np.array([0, 1, 2, 3, 4, 0, 1, 2], dtype=np.int64),
    vwap_gap=np.array([1.5, -2, 0, NAN, 0.25, -1, 3, -4], dtype=np.float64),
    ema_gap={5: np.array([1, -1, 1, -1, NAN, 1, -1, 0], dtype=np.float64),
             15: np.array([-2, 2, -2, 2, 2, NAN, 2, 2], dtype=np.float64)},
    pd_position=np.array([0, 1, 2, 3, 0, 1, 2, 0], dtype=np.int8),
    on_position=np.array([3, 3, 0, 1, 2, 0, 0, 3], dtype=np.int8),
    rth_hours=(9, 10, 11, 12, 13, 14, 15),
)
SIG = np.arange(8, dtype=np.int64)
LONG = np.ones(8, dtype=np.int64)


def _kept(cfg: DictConfig, direction: np.ndarray = LONG) -> list[int]:
    return list(np.flatnonzero(filter_mask(SIG, direction, HAND, FilterSettings.from_config(cfg))))


def test_no_filter_keeps_every_order_and_returns_the_orders_themselves() -> None:
    cfg = BASE
    assert not FilterSettings.from_config(cfg).any
    assert _kept(cfg) == list(range(8))
    orders = pd.DataFrame({"signal_bar": SIG, "direction": LONG})
    assert apply_filters(orders, None, cfg) is orders  # type: ignore[arg-type]  # no context needed when off
    assert apply_filters(orders, None, {"bracket": {}}) is orders  # type: ignore[arg-type]  # an older policy


def test_time_of_day_keeps_the_window_and_wraps_past_midnight() -> None:
    assert _kept(_filters(time_of_day={})) == [0, 1, 5, 6, 7]  # 09:30 <= open time < 16:00
    assert _kept(_filters(time_of_day={"start": "10:00", "end": "12:00"})) == [5]  # 12:00 excluded
    assert _kept(_filters(time_of_day={"start": "18:00", "end": "09:30"})) == [3, 4]  # 20:00 and 01:40


def test_weekday_keeps_the_listed_days() -> None:
    assert _kept(_filters(weekday={"days": ["tue", "wed"]})) == [1, 2, 6, 7]
    assert _kept(_filters(weekday={})) == list(range(8))  # mon..fri


def test_weekly_vwap_side_is_judged_by_the_direction() -> None:
    assert _kept(_filters(weekly_vwap_side={})) == [0, 4, 6]  # long above
    assert _kept(_filters(weekly_vwap_side={}), -LONG) == [1, 5, 7]  # short below
    assert _kept(_filters(weekly_vwap_side={"side": "against"})) == [1, 2, 5, 7]  # at the VWAP counts as against
    assert 3 not in _kept(_filters(weekly_vwap_side={"side": "against"}))  # unknown: dropped either way


def test_ema_trend_reads_its_own_timeframe() -> None:
    assert _kept(_filters(ema_trend={})) == [0, 2, 5]
    assert _kept(_filters(ema_trend={"timeframe": 15})) == [1, 3, 4, 6, 7]
    assert _kept(_filters(ema_trend={"timeframe": 15}), -LONG) == [0, 2]
    mixed = np.array([1, -1, 1, -1, 1, -1, 1, -1])
    assert _kept(_filters(ema_trend={}), mixed) == [0, 1, 2, 3]  # long above, short below


@pytest.mark.parametrize("name, column", [("pd_position", HAND.pd_position), ("on_position", HAND.on_position)])
def test_range_position_inside_or_outside_and_unknown_dropped(name: str, column: np.ndarray) -> None:
    assert _kept(_filters(**{name: {}})) == list(np.flatnonzero(column == 0))
    assert _kept(_filters(**{name: {"mode": "outside"}})) == list(np.flatnonzero((column == 1) | (column == 2)))


def test_enabled_filters_combine_with_and() -> None:
    both = _filters(time_of_day={}, pd_position={"mode": "outside"})
    assert _kept(both) == [1, 5, 6]
    three = _filters(time_of_day={}, pd_position={"mode": "outside"}, weekday={"days": ["mon"]})
    assert _kept(three) == [5]


def test_filter_and_analysis_slices_agree() -> None:
    """A filter keeps exactly the orders of its slice(s) of order_contexts (the analysis' classification)."""
    rng = np.random.default_rng(1)
    d = rng.choice([-1, 1], 8)
    slices = order_contexts(SIG, d, HAND)
    cases = {"weekly_vwap": (_filters(weekly_vwap_side={}), {"with"}),
             "ema_trend_15": (_filters(ema_trend={"timeframe": 15}), {"with"}),
             "on_position": (_filters(on_position={"mode": "outside"}), {"above", "below"})}
    for kind, (cfg, admitted) in cases.items():
        assert _kept(cfg, d) == list(np.flatnonzero(slices[kind].isin(admitted))), kind
    assert list(slices["time_of_day"]) == ["rth_09", "rth_15", "overnight", "overnight", "overnight", "rth_10",
                                           "rth_12", "rth_15"]


@pytest.mark.parametrize("override, rule", [
    ("filters.time_of_day.end=09:30", "empty window"),
    ("filters.weekly_vwap_side.side=along", "with | against"),
    ("filters.ema_trend.timeframe=30", "5 | 15"),
    ("filters.pd_position.mode=near", "inside | outside"),
    ("filters.weekday.days=[mon,mon]", "distinct weekdays"),
    ("filters.weekday.days=[monday]", "distinct weekdays"),
    ("filters.time_of_day.start=25:00", "clock time"),
])
def test_bad_filter_settings_are_refused_with_the_key(override: str, rule: str) -> None:
    key, value = override.split("=")
    name = key.split(".")[1]
    cfg = _filters(**{name: {key.rsplit(".", 1)[1]: yaml.safe_load(value) if "[" in value else value}})
    with pytest.raises(ConfigError, match=rule) as err:
        FilterSettings.from_config(cfg)
    assert key.rsplit(".", 1)[0] in str(err.value)


def test_ema_matches_a_plain_python_reference() -> None:
    x = np.random.default_rng(0).normal(100, 5, 50)
    got = ema(x, 10)
    want = [np.nan] * 9 + [x[:10].mean()]
    for v in x[10:]:
        want.append(want[-1] + 2 / 11 * (v - want[-1]))
    np.testing.assert_allclose(got, want, equal_nan=True)
    with pytest.raises(ValueError, match="period must be >= 1"):
        ema(x, 0)


# --- the contexts of real bars: what they read, and no look-ahead ------------------------------------------


@pytest.fixture(scope="module")
def es() -> tuple[pd.DataFrame, MarketContext]:
    bars = load_es()
    return bars, build_context(bars, default_cfg())


def test_contexts_read_the_levels_and_completed_higher_timeframe_bars(es: tuple[pd.DataFrame, MarketContext]) -> None:
    _, ctx = es
    bc = bar_contexts(ctx, ema_period=200)
    assert bar_contexts(ctx, ema_period=200) is bc  # cached per context and period
    close, lv = ctx.close, ctx.levels
    above = close > lv.column("vwap_weekly")
    np.testing.assert_array_equal(bc.vwap_gap, close - lv.column("vwap_weekly"))
    assert (bc.vwap_gap[above] > 0).all()
    pdh, pdl = lv.column("pdh"), lv.column("pdl")
    known = np.isfinite(pdh)
    np.testing.assert_array_equal(bc.pd_position[known & (close > pdh)], 1)
    np.testing.assert_array_equal(bc.pd_position[known & (close < pdl)], 2)
    assert (bc.on_position[ctx.calendar.is_on & ~ctx.calendar.is_rth] == 3).all()  # ON range known from 09:30
    assert bc.rth_hours == (9, 10, 11, 12, 13, 14, 15)
    # a 15-minute side changes only on a row where a 15-minute bar completes (minute 14 of the bar, or later)
    side = np.sign(bc.ema_gap[15])
    change = np.flatnonzero(np.diff(side) != 0) + 1
    change = change[np.isfinite(side[change]) & np.isfinite(side[change - 1])]
    minute = (ctx.timestamps[change] // 60_000_000_000) % 15
    prev_minute = (ctx.timestamps[change - 1] // 60_000_000_000) % 15
    assert change.size > 100 and ((minute == 14) | (minute <= prev_minute)).all()
    for m in (5, 15):
        assert np.isnan(bc.ema_gap[m][: 200 * m - 1]).all() and np.isfinite(bc.ema_gap[m][-1000:]).all()




def test_contexts_at_or_before_t_ignore_the_bars_after_t(es: tuple[pd.DataFrame, MarketContext]) -> None:
    bars, full = es
    minute = full.timestamps // 60_000_000_000
    rth = np.flatnonzero(full.calendar.is_rth)
    mid_bar = int(rth[(minute[rth] % 15 == 7)][400])  # inside a 15- and a 5-minute bar (minute 2 of it)
    last_of_day = int(np.flatnonzero(np.diff(full.calendar.trading_day) != 0)[-4])
    whole = bar_contexts(full, ema_period=200)
    rng = np.random.default_rng(0)
    for t in (mid_bar, last_of_day):
        orders = np.sort(rng.integers(0, t + 1, 300))
        direction = rng.choice([-1, 1], 300)
        want = order_contexts(orders, direction, whole)
        for other in (build_context(bars.iloc[: t + 1], default_cfg()),
                      build_context(garbage_after(bars, t), default_cfg())):
            got = bar_contexts(other, ema_period=200)
            for name in ("minute_of_day", "is_rth", "weekday", "vwap_gap", "pd_position", "on_position"):
                np.testing.assert_array_equal(getattr(got, name)[: t + 1], getattr(whole, name)[: t + 1],
                                              err_msg=f"{name} at t={t}")
            for m in (5, 15):
                np.testing.assert_array_equal(got.ema_gap[m][: t + 1], whole.ema_gap[m][: t + 1],
                                              err_msg=f"ema_gap[{m}] at t={t}")
            pd.testing.assert_frame_equal(order_contexts(orders, direction, got), want)
        assert not np.array_equal(got.ema_gap[5][t + 1 :], whole.ema_gap[5][t + 1 :], equal_nan=True)  # garbage


# --- the trades-by-context table ---------------------------------------------------------------------------


def test_analysis_partitions_the_trades_per_kind(es: tuple[pd.DataFrame, MarketContext]) -> None:
    _, ctx = es
    rng = np.random.default_rng(3)
    n = 1500
    trades = pd.DataFrame({"signal_bar": np.sort(rng.integers(0, ctx.n_bars, n)), "stop_price": 100.0,
                           "target_price": np.where(rng.random(n) < 0.5, 104.0, 96.0),  # long / short
                           "pnl": rng.normal(5, 100, n), "r_multiple": rng.normal(0.1, 1, n)})
    cfg = _filters(ema_trend={"timeframe": 15}, weekly_vwap_side={})
    table = filter_analysis(trades, ctx, cfg)
    assert tuple(table.columns) == ANALYSIS_COLUMNS and tuple(table["kind"].unique()) == KINDS
    sums = table.groupby("kind", sort=False)[["n_trades", "net_pnl"]].sum()
    assert (sums["n_trades"] == n).all()
    np.testing.assert_allclose(sums["net_pnl"], trades["pnl"].sum())
    enabled = set(table.loc[table["filter_enabled"] == 1, "kind"])
    assert enabled == {"ema_trend_15", "weekly_vwap"}
    slices = table.groupby("kind", sort=False)["slice"].apply(list)
    assert slices["time_of_day"] == [*(f"rth_{h:02d}" for h in range(9, 16)), "overnight"]
    assert slices["pd_position"][:3] == ["inside", "above", "below"]
    row = table[(table["kind"] == "weekday") & (table["slice"] == "tue")].iloc[0]
    tue = (ctx.calendar.day_of_week[trades["signal_bar"]] == 1)
    assert row["n_trades"] == tue.sum()
    assert row["win_rate"] == pytest.approx((trades["pnl"][tue] > 0).mean())
    assert row["expectancy_r"] == pytest.approx(trades["r_multiple"][tue].mean())
    empty = filter_analysis(trades.iloc[:0], ctx, cfg)
    assert (empty["n_trades"] == 0).all() and empty["win_rate"].isna().all()
    with pytest.raises(ValueError, match="signal_bar outside"):
        filter_analysis(trades.assign(signal_bar=ctx.n_bars), ctx, cfg)


# --- the backtest and the registered policy filter alike --------------------------------------------------


class _FromFeatures:
    """Causal: P(BREAK) from the event's first feature (the bars up to the touch)."""

    def fit(self, *args: Any, **kwargs: Any) -> _FromFeatures:
        return self

    def predict_proba(self, data: ModelData) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-np.asarray(data.features[:, 0], dtype=np.float64)))
        return np.column_stack([0.9 * p, 0.9 * (1.0 - p), np.full(p.shape, 0.1)])


def test_backtest_and_policy_apply_the_same_filters() -> None:
    """Filters on: evaluate_span trades fewer orders, the policy sends fewer signals, and the replay of the
    test part (live bar by bar vs batch) finds no difference."""
    on = ["filters.time_of_day.enabled=true", "filters.time_of_day.start=10:00", "filters.ema_trend.enabled=true",
          "filters.ema_trend.period=20", "filters.pd_position.enabled=true", "filters.pd_position.mode=outside"]
    bars = synthetic(n_days=12)
    model = _FromFeatures()
    out = {}
    for name, overrides in (("off", []), ("on", on)):
        cfg = compose_config(["bracket.confidence=0.5", *overrides])
        ctx = build_context(bars, cfg)
        ds = build_event_dataset(ctx, cfg)
        test_start = holdout_split(bars["timestamp"].to_numpy(), ctx.calendar.trading_day, test_fraction=0.3)
        test = np.flatnonzero(ds.events["bar"].to_numpy() >= test_start)
        atr = atr_on({}, ctx, int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
        span = evaluate_span(cfg, ds, ctx, atr, model, test, test_start, ctx.n_bars)
        sections = OmegaConf.to_container(OmegaConf.masked_copy(cfg, list(POLICY_SECTIONS)), resolve=True)
        assert isinstance(sections, dict) and "filters" in sections
        policy = SignalPolicy(cfg={**{str(k): v for k, v in sections.items()}, "data": {"tz": None}},
                              model=model)
        out[name] = (span, policy.signals(bars), ctx)
        if name == "on":
            replay = replay_test_part(policy, bars, test_start, span, touches=False)
            assert replay.ok, replay.first_difference
    (span_off, sig_off, ctx), (span_on, sig_on, _) = out["off"], out["on"]
    assert 0 < span_on.metrics["n_orders"] < span_off.metrics["n_orders"]
    assert 0 < len(sig_on) < len(sig_off)
    minute = ctx.calendar.minute_of_day[sig_on["bar"].to_numpy()]
    assert ((minute >= 600) & (minute < 960)).all()
    kept = set(zip(sig_on["bar"], sig_on["direction"], strict=True))
    assert kept <= set(zip(sig_off["bar"], sig_off["direction"], strict=True))
    cfg_on = compose_config(on)
    admitted = apply_filters(sig_off.rename(columns={"bar": "signal_bar"}), ctx, cfg_on)
    assert set(zip(admitted["signal_bar"], admitted["direction"], strict=True)) == kept
