"""Event dataset on the real ES file: schema, consistency, level switches (DESIGN §5, §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opt.dataset import LABELS, EventDataset, MarketContext, build_context, build_event_dataset
from opt.errors import ConfigError, DataError
from opt.features import feature_names, feature_params
from opt.levels import LEVEL_TYPES

from tests.helpers.dataset import default_cfg, load_es

EVENT_COLUMNS = [
    "bar",
    "timestamp",
    "entry_bar",
    "level_name",
    "level_type",
    "level_price",
    "side",
    "label",
    "label_end_bar",
    "trading_day",
    "atr",
]


@pytest.fixture(scope="module")
def es_ctx() -> MarketContext:
    return build_context(load_es(), default_cfg())


@pytest.fixture(scope="module")
def es_ds(es_ctx: MarketContext) -> EventDataset:
    return build_event_dataset(es_ctx, default_cfg())


def test_context_arrays(es_ctx: MarketContext) -> None:
    n = es_ctx.n_bars
    assert n == 75_791 and es_ctx.timestamps.dtype == np.int64
    for a in (es_ctx.open, es_ctx.high, es_ctx.low, es_ctx.close, es_ctx.volume, es_ctx.atr):
        assert a.dtype == np.float64 and a.shape == (n,)
    assert es_ctx.levels.values.shape == (n, 14) and len(es_ctx.calendar) == n  # 14: vwap_rth
    assert np.isnan(es_ctx.atr[:13]).all() and np.isfinite(es_ctx.atr[13:]).all()


def test_event_schema_and_consistency(es_ctx: MarketContext, es_ds: EventDataset) -> None:
    ev, X = es_ds.events, es_ds.features
    assert list(ev.columns) == EVENT_COLUMNS and LABELS == ("BREAK", "BOUNCE", "CHOP")
    assert str(ev["timestamp"].dt.tz) == "UTC" and (ev.index == X.index).all()
    assert list(X.columns) == feature_names(feature_params(default_cfg().features))
    assert (X.dtypes == np.float64).all() and np.isfinite(X.to_numpy()).all()
    bar = ev["bar"].to_numpy()
    assert (np.diff(bar) >= 0).all() and ev["side"].isin([1, -1]).all()
    assert es_ds.y.dtype == np.int64 and set(np.unique(es_ds.y)) <= {0, 1, 2}
    assert (ev["label_end_bar"] == bar + 30).all() and ev["label_end_bar"].max() < es_ctx.n_bars
    assert ((ev["entry_bar"] < bar) & (ev["entry_bar"] >= bar - 15)).all()
    for name, group in ev.groupby("level_name"):
        np.testing.assert_array_equal(group["level_price"], es_ctx.levels.column(name)[group["bar"]])
    np.testing.assert_array_equal(ev["atr"], es_ctx.atr[bar])
    np.testing.assert_array_equal(ev["trading_day"], es_ctx.calendar.trading_day[bar])
    assert (ev["timestamp"].to_numpy() == pd.to_datetime(es_ctx.timestamps[bar], utc=True).to_numpy()).all()


def test_touch_bar_touches_the_level(es_ctx: MarketContext, es_ds: EventDataset) -> None:
    ev = es_ds.events
    bar, price = ev["bar"].to_numpy(), ev["level_price"].to_numpy()
    assert (es_ctx.low[bar] <= price + 0.5).all() and (es_ctx.high[bar] >= price - 0.5).all()


def test_default_config_gives_a_sensible_event_rate(es_ctx: MarketContext, es_ds: EventDataset) -> None:
    per_day = len(es_ds) / es_ctx.n_trading_days
    assert 5 <= per_day <= 60, per_day
    assert set(es_ds.events["level_type"]) == set(LEVEL_TYPES)
    shares = np.bincount(es_ds.y, minlength=3) / len(es_ds)
    assert shares.min() > 0.01, shares


def test_es_exchange_calendar_and_levels(es_ctx: MarketContext) -> None:
    """The ES file (2025-08-31 .. 11-14) spans Labor Day, a CME half day (close 13:00 ET): it is never a
    previous day, so Tuesday 9/2 has no PDH/PDL/PDC (no full day before it in the file) and Wednesday 9/3
    reads Tuesday's RTH. The RTH VWAP is known on RTH bars only from the open on."""
    cal = es_ctx.calendar
    labor_day = int(np.datetime64("2025-09-01", "D").astype(np.int64))
    assert set(np.unique(cal.trading_day[cal.is_half_day])) == {labor_day}
    assert (cal.session_end[cal.trading_day == labor_day] == pd.Timestamp("2025-09-01 17:00", tz="UTC").value).all()
    pdh = es_ctx.levels.column("pdh")
    tuesday, wednesday = labor_day + 1, labor_day + 2
    assert np.isnan(pdh[cal.trading_day <= tuesday]).all()
    rth_tuesday = (cal.trading_day == tuesday) & cal.is_rth
    assert (pdh[cal.trading_day == wednesday] == es_ctx.high[rth_tuesday].max()).all()
    vwap_rth = es_ctx.levels.column("vwap_rth")
    assert np.isnan(vwap_rth[cal.minutes_since_rth_open < 0]).all()
    assert np.isfinite(vwap_rth[cal.is_rth & (cal.trading_day > labor_day)]).all()


def test_use_switches_select_level_types(es_ctx: MarketContext) -> None:
    off = {t: False for t in LEVEL_TYPES}
    only_vwap = build_event_dataset(es_ctx, default_cfg(levels={"use": {**off, "vwap": True}}))
    assert set(only_vwap.events["level_name"]) == {"vwap_session", "vwap_weekly"}
    assert (only_vwap.features["type_vwap"] == 1.0).all()
    none = build_event_dataset(es_ctx, default_cfg(levels={"use": off}))
    assert len(none) == 0 and list(none.events.columns) == EVENT_COLUMNS and none.features.shape[1] > 0


def test_points_threshold_and_lookforward(es_ctx: MarketContext) -> None:
    ds = build_event_dataset(
        es_ctx, default_cfg(outcome={"threshold_mode": "points", "threshold": 1000.0, "lookforward": 10})
    )
    assert (ds.y == 2).all()  # nothing moves 1000 points in 10 minutes
    assert (ds.events["label_end_bar"] == ds.events["bar"] + 10).all()


@pytest.mark.parametrize(
    ("group", "key", "value"),
    [
        ("outcome", "threshold_mode", "pct"),
        ("outcome", "lookforward", 0),
        ("events", "max_wait", 0),
        ("events", "k_atr", -1.0),
    ],
)
def test_invalid_config_raises(es_ctx: MarketContext, group: str, key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"{group}.{key}"):
        build_event_dataset(es_ctx, default_cfg(**{group: {key: value}}))


def test_bad_bars_raise_data_error() -> None:
    bars = load_es().iloc[:100]
    with pytest.raises(DataError, match="volume"):
        build_context(bars.drop(columns="volume"), default_cfg())
    with pytest.raises(DataError, match="increasing"):
        build_context(bars.iloc[[0, 2, 1]], default_cfg())


def test_composed_hydra_config_is_accepted(es_ctx: MarketContext) -> None:
    from hydra import compose, initialize_config_dir

    from opt.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config")
    ds = build_event_dataset(es_ctx, cfg)
    assert len(ds) == len(build_event_dataset(es_ctx, default_cfg()))
