"""SMA of completed higher-timeframe bars and anchored VWAP levels (DESIGN §4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.levels import compute_levels
from opt.sessions import build_calendar

LEVELS_CFG = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "levels" / "default.yaml")


def _bars(et: list[str], close: list[float], high=None, low=None, volume=None) -> pd.DataFrame:
    ts = pd.DatetimeIndex(et).tz_localize("America/New_York").tz_convert("UTC")
    c = np.asarray(close, dtype=float)
    h = c if high is None else np.asarray(high, dtype=float)
    lo = c if low is None else np.asarray(low, dtype=float)
    v = np.ones_like(c) if volume is None else np.asarray(volume, dtype=float)
    return pd.DataFrame({"timestamp": ts, "open": c, "high": h, "low": lo, "close": c, "volume": v})


def _levels(bars: pd.DataFrame, **overrides) -> dict[str, np.ndarray]:
    cfg = OmegaConf.merge(LEVELS_CFG, overrides)
    ls = compute_levels(bars, build_calendar(bars["timestamp"], cfg), cfg)
    return {n: ls.column(n) for n in ls.names}


def test_sma_uses_completed_five_minute_bars_only() -> None:
    et = [f"2025-09-09 10:{m:02d}" for m in range(15)]
    lv = _levels(_bars(et, [float(m + 1) for m in range(15)]), sma_periods=[2])
    # 5-minute closes 5 (at 10:04), 10 (at 10:09), 15 (at 10:14).
    expected = [np.nan] * 9 + [7.5] * 5 + [12.5]
    np.testing.assert_array_equal(lv["sma_2"], expected)


def test_sma_bucket_without_last_minute_completes_at_next_bar() -> None:
    et = [f"2025-09-09 10:{m:02d}" for m in range(15) if m != 9]
    close = [float(m + 1) for m in range(15) if m != 9]
    lv = _levels(_bars(et, close), sma_periods=[2])
    # 10:05-10:09 closes at 10:08 (close 9) and is complete from the 10:10 row (index 9).
    expected = [np.nan] * 9 + [7.0] * 4 + [12.0]
    np.testing.assert_array_equal(lv["sma_2"], expected)


def test_sma_config_is_checked() -> None:
    bars = _bars(["2025-09-09 10:00"], [1.0])
    with pytest.raises(ConfigError, match="sma_periods"):
        _levels(bars, sma_periods=[5, 5])
    with pytest.raises(ConfigError, match="sma_timeframe_min"):
        _levels(bars, sma_timeframe_min=0)


def test_session_vwap_resets_each_trading_day_weekly_vwap_each_week() -> None:
    et = ["2025-09-11 10:00", "2025-09-11 10:01", "2025-09-11 18:00", "2025-09-14 18:00"]
    # typical prices 100, 102, 104, 106 (h, l around c)
    bars = _bars(
        et,
        [100.0, 102.0, 104.0, 106.0],
        high=[101, 103, 105, 107],
        low=[99, 101, 103, 105],
        volume=[10, 30, 20, 5],
    )
    lv = _levels(bars)
    np.testing.assert_allclose(lv["vwap_session"], [100.0, (1000 + 3060) / 40, 104.0, 106.0])
    np.testing.assert_allclose(
        lv["vwap_weekly"], [100.0, (1000 + 3060) / 40, (1000 + 3060 + 2080) / 60, 106.0]
    )


def test_vwap_unknown_while_volume_is_zero() -> None:
    bars = _bars(["2025-09-11 10:00", "2025-09-11 10:01"], [100.0, 102.0], volume=[0, 2])
    np.testing.assert_array_equal(_levels(bars)["vwap_session"], [np.nan, 102.0])


def test_rth_vwap_from_the_rth_open_until_the_end_of_the_day() -> None:
    et = ["2025-09-10 18:00", "2025-09-11 09:29", "2025-09-11 09:30", "2025-09-11 12:00", "2025-09-11 16:30",
          "2025-09-11 18:00", "2025-09-12 09:30"]
    bars = _bars(et, [50.0, 60.0, 100.0, 103.0, 110.0, 70.0, 90.0], volume=[7, 9, 10, 20, 10, 4, 5])
    lv = _levels(bars)
    rth = (100 * 10 + 103 * 20 + 110 * 10) / 40  # Thursday's bars from 09:30 on, the 16:30 bar included
    np.testing.assert_allclose(lv["vwap_rth"], [np.nan, np.nan, 100.0, (1000 + 2060) / 30, rth, np.nan, 90.0])
    # the Globex-anchored session VWAP starts at 18:00 and includes the overnight bars
    np.testing.assert_allclose(lv["vwap_session"][2], (50 * 7 + 60 * 9 + 100 * 10) / 26)
