"""Feature values at the touch bar on hand-built bars (DESIGN §6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.dataset import build_context
from opt.errors import ConfigError
from opt.features import FeatureParams, compute_features, feature_names, feature_params
from opt.levels import LEVEL_TYPES

CONF = Path(__file__).resolve().parents[2] / "conf"
CFG = OmegaConf.create({"levels": OmegaConf.load(CONF / "levels" / "default.yaml")})
N, U = 40, 30


def _ctx():
    ts = pd.date_range("2025-09-09 13:30", periods=N, freq="min", tz="UTC")  # 09:30 EDT onwards
    close = 120.0 - 0.5 * np.arange(N)
    volume = np.where(np.arange(N) % 2 == 0, 10.0, 30.0)
    volume[U] = 100.0
    bars = pd.DataFrame(
        {
            "timestamp": ts,
            "open": close + 0.5,
            "high": close + 0.5,
            "low": close - 0.25,
            "close": close,
            "volume": volume,
        }
    )
    return build_context(bars, CFG)


def _events(ctx, bars: list[int], side: list[int], offset: float = 0.2) -> pd.DataFrame:
    b = np.array(bars)
    return pd.DataFrame(
        {
            "bar": b,
            "timestamp": pd.to_datetime(ctx.timestamps[b], utc=True),
            "entry_bar": b - 2,
            "level_name": "pdh",
            "level_type": "pd",
            "level_price": ctx.close[b] - np.array(side) * offset,
            "side": np.array(side),
            "atr": ctx.atr[b],
        }
    )


def _features(ctx, events, params, values_u=None, own=None):
    k = len(events)
    values_u = events["level_price"].to_numpy()[:, None] if values_u is None else values_u
    own = np.zeros(k, np.int64) if own is None else own
    return compute_features(
        ctx, events, touches_before=np.arange(k), level_values_u=values_u, own_column=own, params=params
    )


PARAMS = FeatureParams(windows=(2, 5, 11), volume_z_window=10, extra_path=None)


def test_kinematics_in_approach_frame() -> None:
    ctx = _ctx()
    atr = ctx.atr[U]
    f = _features(ctx, _events(ctx, [U, U], [1, -1]), PARAMS)
    assert list(f.columns) == feature_names(PARAMS)
    # the close falls 0.5 per bar: toward a level below (side +1), away from a level above (side -1)
    np.testing.assert_allclose(f["velocity_5"], [0.5 / atr, -0.5 / atr])
    np.testing.assert_allclose(f[["acceleration_2", "jerk_2", "acceleration_11"]], 0.0, atol=1e-12)
    assert (f["jerk_11"] == 0.0).all()  # u - 33 < 0: undefined -> 0
    np.testing.assert_allclose(f["ofi_proxy_5"], [1.0, -1.0])  # every bar closes below its open


def test_bar_and_level_features() -> None:
    ctx = _ctx()
    atr = ctx.atr[U]
    f = _features(ctx, _events(ctx, [U], [1]), PARAMS).iloc[0]
    window = ctx.volume[U - 9 : U + 1]
    assert f["volume_z"] == pytest.approx((100.0 - window.mean()) / window.std())
    assert f["range_atr"] == pytest.approx(0.75 / atr)
    assert f["dist_level_atr"] == pytest.approx(0.2 / atr)
    assert f["bars_entry_to_touch"] == 2 and f["touches_today"] == 0 and f["side"] == 1
    assert f["minutes_since_rth_open"] == U and f["day_of_week"] == 1  # Tuesday
    vwap = ctx.levels.column("vwap_session")[U]
    assert f["vwap_dist_atr"] == pytest.approx((ctx.close[U] - vwap) / atr)
    assert [f[f"type_{t}"] for t in LEVEL_TYPES] == [0, 0, 0, 1, 0, 0, 0]


def test_neighbour_levels_above_and_below() -> None:
    ctx = _ctx()
    ev = _events(ctx, [U, U + 1], [1, 1])
    price = ev["level_price"].to_numpy()
    values = np.column_stack([price, price + 1.0, price - 3.0, [np.nan, np.nan]])
    values[1, 1:] = np.nan  # second event: no other level known
    f = _features(ctx, ev, PARAMS, values_u=values)
    np.testing.assert_allclose(f["dist_above_atr"], [1.0 / ctx.atr[U], 0.0])
    np.testing.assert_allclose(f["dist_below_atr"], [3.0 / ctx.atr[U], 0.0])
    assert f["has_level_above"].tolist() == [1.0, 0.0] and f["has_level_below"].tolist() == [1.0, 0.0]


def test_windows_before_first_bar_are_zero_and_no_nan() -> None:
    ctx = _ctx()
    f = _features(
        ctx, _events(ctx, [15], [1]), FeatureParams(windows=(2, 5, 20), volume_z_window=30, extra_path=None)
    )
    assert f[["velocity_20", "ofi_proxy_20", "volume_z", "jerk_5"]].to_numpy().tolist() == [
        [0.0, 0.0, 0.0, 0.0]
    ]
    assert not f.isna().any().any()


def test_extra_features_joined_as_of_backward(tmp_path: Path) -> None:
    ctx = _ctx()
    ev = _events(ctx, [20, 25, 30], [1, 1, 1])
    ts = pd.to_datetime(ctx.timestamps, utc=True)
    extra = pd.DataFrame(
        {"timestamp": [ts[22], ts[25], ts[35]], "gex": [1.0, 2.0, 3.0], "iv": [0.1, 0.2, 0.3]}
    )
    path = tmp_path / "extra.csv"
    extra.to_csv(path, index=False)
    params = FeatureParams(windows=(2, 5, 11), volume_z_window=10, extra_path=str(path))
    f = _features(ctx, ev, params)
    assert f["gex"].tolist() == [0.0, 2.0, 2.0]  # before the first row -> 0; exact match allowed
    assert f["iv"].tolist() == [0.0, 0.2, 0.2]
    extra.rename(columns={"gex": "side"}).to_csv(tmp_path / "clash.csv", index=False)
    with pytest.raises(ConfigError, match="collide"):
        _features(ctx, ev, FeatureParams((2, 5, 11), 10, str(tmp_path / "clash.csv")))
    extra.assign(iv="x").to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(ConfigError, match="numeric"):
        _features(ctx, ev, FeatureParams((2, 5, 11), 10, str(tmp_path / "text.csv")))
    with pytest.raises(ConfigError, match="not found"):
        _features(ctx, ev, FeatureParams((2, 5, 11), 10, str(tmp_path / "missing.csv")))


def test_feature_params_checked() -> None:
    base = OmegaConf.load(CONF / "features" / "default.yaml")
    assert feature_params(base).windows == (5, 15, 60)
    with pytest.raises(ConfigError, match="distinct"):
        feature_params(OmegaConf.merge(base, {"window_mid": 5}))
    with pytest.raises(ConfigError, match="volume_z_window"):
        feature_params(OmegaConf.merge(base, {"volume_z_window": 1}))
