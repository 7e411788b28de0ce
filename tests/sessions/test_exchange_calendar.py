"""Exchange calendar (DESIGN §10): holidays, half days, the previous full day and the session's last bar."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.levels import compute_levels
from opt.sessions import build_calendar, exchange_sessions, session_last_bar, timestamps_ns

LEVELS_CFG = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "levels" / "default.yaml")
NO_CALENDAR = OmegaConf.merge(LEVELS_CFG, {"calendar": None})
ET = "America/New_York"


def _et(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(stamps)).tz_localize(ET).tz_convert("UTC")


def _day(date: str) -> int:
    return int(np.datetime64(date, "D").astype(np.int64))


def _bars(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """Rows of (ET wall time, high, low, close); open = close, volume 1."""
    ts = _et(*(r[0] for r in rows))
    h, lo, c = (np.array([r[i] for r in rows], dtype=float) for i in range(1, 4))
    return pd.DataFrame({"timestamp": ts, "open": c, "high": h, "low": lo, "close": c, "volume": np.ones(len(c))})


# Thanksgiving 2025: Wed 11/26 full day, Thu 11/27 and Fri 11/28 CME half days (early close 13:00 ET),
# Mon 12/1 full day.
THANKSGIVING = [
    ("2025-11-25 18:00", 101.0, 99.0, 100.0),  # 0 Wed ON
    ("2025-11-26 09:30", 110.0, 100.0, 105.0),  # 1 Wed RTH
    ("2025-11-26 15:59", 108.0, 90.0, 95.0),  # 2 Wed last RTH bar: PDH 110, PDL 90, PDC 95
    ("2025-11-26 18:00", 96.0, 94.0, 95.0),  # 3 Thu ON
    ("2025-11-27 09:30", 130.0, 94.0, 120.0),  # 4 Thu half-day RTH
    ("2025-11-27 12:59", 125.0, 119.0, 121.0),  # 5 Thu last bar before the 13:00 close
    ("2025-11-27 18:00", 121.0, 120.0, 120.5),  # 6 Fri ON
    ("2025-11-28 09:30", 140.0, 80.0, 85.0),  # 7 Fri half-day RTH
    ("2025-11-28 12:59", 86.0, 84.0, 85.0),  # 8 Fri last bar
    ("2025-11-30 18:00", 85.0, 84.0, 84.5),  # 9 Mon ON (Sunday evening)
    ("2025-12-01 09:30", 90.0, 83.0, 88.0),  # 10 Mon RTH
]


def _pd_levels(cfg: object) -> pd.DataFrame:
    bars = _bars(THANKSGIVING)
    ls = compute_levels(bars, build_calendar(bars["timestamp"], cfg), cfg)
    return pd.DataFrame({n: ls.column(n) for n in ("pdh", "pdl", "pdc")})


def test_half_days_and_session_ends_around_thanksgiving() -> None:
    cal = build_calendar(_bars(THANKSGIVING)["timestamp"], LEVELS_CFG)
    assert cal.is_half_day.tolist() == [False] * 3 + [True] * 6 + [False] * 2
    ends = pd.to_datetime(cal.session_end, utc=True).tz_convert(ET).strftime("%m-%d %H:%M").tolist()
    assert ends == ["11-26 17:00"] * 3 + ["11-27 13:00"] * 3 + ["11-28 13:00"] * 3 + ["12-01 17:00"] * 2


def test_a_half_day_is_never_the_previous_day() -> None:
    lv = _pd_levels(LEVELS_CFG)
    wednesday = [110.0, 90.0, 95.0]
    # Thursday (half day), Friday (after the half day, itself one) and Monday all read Wednesday's RTH
    for row in range(3, 11):
        assert lv.iloc[row].tolist() == wednesday, row
    assert lv.iloc[:3].isna().all().all()  # no full day before Wednesday in the data


def test_without_a_calendar_every_weekday_is_a_full_day() -> None:
    lv = _pd_levels(NO_CALENDAR)
    assert lv.iloc[6].tolist() == [130.0, 94.0, 121.0]  # Friday reads Thursday's half session
    assert lv.iloc[9].tolist() == [140.0, 80.0, 85.0]  # Monday reads Friday's
    cal = build_calendar(_bars(THANKSGIVING)["timestamp"], NO_CALENDAR)
    assert not cal.is_half_day.any()


def test_a_holiday_has_no_session() -> None:
    # Christmas 2025 (Thu): 12/24 is a half day, 12/25 no session. A stray bar on Christmas morning and
    # the 18:00 reopen both belong to Friday 12/26, like weekend bars belong to Monday.
    ts = _et("2025-12-24 12:59", "2025-12-25 10:00", "2025-12-25 18:00", "2025-12-26 09:30")
    cal = build_calendar(ts, LEVELS_CFG)
    assert cal.trading_day.tolist() == [_day("2025-12-24")] + [_day("2025-12-26")] * 3
    assert cal.is_half_day.tolist() == [True, False, False, False]
    assert cal.day_of_week.tolist() == [2, 4, 4, 4]
    plain = build_calendar(ts, NO_CALENDAR)
    assert plain.trading_day[1] == _day("2025-12-25")  # weekdays only: Christmas is a (bar-less) day


def test_exchange_calendar_is_offline_cached_and_checked() -> None:
    t0 = time.perf_counter()
    sessions = exchange_sessions("CME_Equity", _day("2025-01-02"), _day("2025-12-31"))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = exchange_sessions("CME_Equity", _day("2025-03-01"), _day("2025-06-30"))
    assert again is sessions and time.perf_counter() - t0 < max(first, 0.05)  # one schedule per year span
    assert _day("2025-11-27") in sessions.day and _day("2025-12-25") not in sessions.day
    with pytest.raises(ConfigError, match="levels.calendar"):
        build_calendar(_et("2025-11-26 10:00"), OmegaConf.merge(LEVELS_CFG, {"calendar": "NO_SUCH_EXCHANGE"}))


def test_old_config_without_calendar_key_is_weekdays_only() -> None:
    old = OmegaConf.create({k: v for k, v in OmegaConf.to_container(LEVELS_CFG).items() if k != "calendar"})
    cal = build_calendar(_bars(THANKSGIVING)["timestamp"], old)
    assert not cal.is_half_day.any()


def test_session_last_bar() -> None:
    ts = _et(
        "2025-11-26 16:57",  # 0
        "2025-11-26 16:58",  # 1 last before the gap to 17:00: the next bar opens at the session end
        "2025-11-26 17:00",  # 2 a stray bar after the close: its own last bar
        "2025-11-26 18:00",  # 3 Thanksgiving ON
        "2025-11-27 12:58",  # 4
        "2025-11-27 12:59",  # 5 closes at the 13:00 early close
        "2025-11-27 18:00",  # 6 Friday: the data ends mid-session
        "2025-11-28 09:30",  # 7
    )
    cal = build_calendar(ts, LEVELS_CFG)
    assert session_last_bar(timestamps_ns(ts), cal).tolist() == [1, 1, 2, 5, 5, 5, 8, 8]
