"""ON / PM / OR / previous-day levels on hand-built bars (DESIGN §4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from opt.levels import LEVEL_NAMES, LEVEL_TYPES, compute_levels
from opt.sessions import build_calendar

LEVELS_CFG = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "levels" / "default.yaml")
NAN = np.nan


def _bars(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """Rows of (ET wall time, high, low, close, volume); open = close."""
    ts = pd.DatetimeIndex([r[0] for r in rows]).tz_localize("America/New_York").tz_convert("UTC")
    h, lo, c, v = (np.array([r[i] for r in rows], dtype=float) for i in range(1, 5))
    return pd.DataFrame({"timestamp": ts, "open": c, "high": h, "low": lo, "close": c, "volume": v})


# Trading day Tue 2025-09-09, a Wednesday with ON bars only, then Thursday.
ROWS = [
    ("2025-09-08 18:00", 101.0, 99.0, 100.0, 1),  # 0 ON
    ("2025-09-08 23:00", 103.0, 98.0, 100.0, 1),  # 1 ON
    ("2025-09-09 04:00", 102.0, 100.0, 101.0, 1),  # 2 ON + PM
    ("2025-09-09 09:29", 101.5, 100.5, 101.0, 1),  # 3 ON + PM
    ("2025-09-09 09:30", 104.0, 100.0, 103.0, 1),  # 4 RTH, OR
    ("2025-09-09 09:59", 105.0, 102.0, 104.0, 1),  # 5 OR
    ("2025-09-09 10:00", 106.0, 101.0, 105.0, 1),  # 6 RTH, OR known
    ("2025-09-09 15:59", 107.0, 104.0, 106.0, 1),  # 7 last RTH bar
    ("2025-09-09 16:30", 108.0, 95.0, 107.0, 1),  # 8 after RTH (not in PD)
    ("2025-09-09 18:00", 110.0, 109.0, 109.5, 1),  # 9 Wednesday ON, no RTH that day
    ("2025-09-10 09:00", 111.0, 108.0, 110.0, 1),  # 10 Wednesday PM
    ("2025-09-10 18:00", 112.0, 111.0, 111.5, 1),  # 11 Thursday ON
    ("2025-09-11 09:30", 113.0, 110.0, 112.0, 1),  # 12 Thursday RTH
]


def _levels() -> pd.DataFrame:
    bars = _bars(ROWS)
    ls = compute_levels(bars, build_calendar(bars["timestamp"], LEVELS_CFG), LEVELS_CFG)
    return pd.DataFrame(ls.values, columns=list(ls.names))


def test_names_and_types_cover_every_level_type() -> None:
    bars = _bars(ROWS)
    ls = compute_levels(bars, build_calendar(bars["timestamp"], LEVELS_CFG), LEVELS_CFG)
    assert ls.names == tuple(n for t in LEVEL_TYPES for n in LEVEL_NAMES[t])
    assert ls.names[-5:] == ("sma_200", "sma_400", "vwap_session", "vwap_weekly", "vwap_rth")
    assert set(ls.types) == set(LEVEL_TYPES) and ls.values.dtype == np.float64
    assert ls.values.shape == (len(ROWS), 14)


def test_overnight_high_low_known_from_rth_open_until_end_of_day() -> None:
    lv = _levels()
    np.testing.assert_array_equal(lv["onh"], [NAN] * 4 + [103.0] * 5 + [NAN, NAN, NAN, 112.0])
    np.testing.assert_array_equal(lv["onl"], [NAN] * 4 + [98.0] * 5 + [NAN, NAN, NAN, 111.0])


def test_premarket_high_low() -> None:
    lv = _levels()
    np.testing.assert_array_equal(lv["pmh"], [NAN] * 4 + [102.0] * 5 + [NAN] * 4)
    np.testing.assert_array_equal(lv["pml"], [NAN] * 4 + [100.0] * 5 + [NAN] * 4)


def test_opening_range_known_after_or_minutes() -> None:
    lv = _levels()
    np.testing.assert_array_equal(lv["orh"], [NAN] * 6 + [105.0] * 3 + [NAN] * 4)
    np.testing.assert_array_equal(lv["orl"], [NAN] * 6 + [100.0] * 3 + [NAN] * 4)


def test_previous_day_is_last_day_with_rth_bars() -> None:
    lv = _levels()
    # Wednesday had no RTH bars, so Thursday still sees Tuesday's RTH high / low / close.
    np.testing.assert_array_equal(lv["pdh"], [NAN] * 9 + [107.0] * 4)
    np.testing.assert_array_equal(lv["pdl"], [NAN] * 9 + [100.0] * 4)
    np.testing.assert_array_equal(lv["pdc"], [NAN] * 9 + [106.0] * 4)


def test_or_minutes_from_config() -> None:
    bars = _bars(ROWS)
    cfg = OmegaConf.merge(LEVELS_CFG, {"or_minutes": 15})
    ls = compute_levels(bars, build_calendar(bars["timestamp"], cfg), cfg)
    # OR window 09:30-09:44 holds only row 4; known from row 5 (09:59 >= 09:45).
    np.testing.assert_array_equal(ls.column("orh")[4:9], [NAN, 104.0, 104.0, 104.0, 104.0])
