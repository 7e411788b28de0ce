"""Session calendar: trading day, session flags and RTH clock (DESIGN §4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.sessions import build_calendar

LEVELS_CFG = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "levels" / "default.yaml")


def _day(date: str) -> int:
    return int(pd.Timestamp(date).value // 86_400_000_000_000)


def _cal(utc: list[str]):
    return build_calendar(pd.Series(pd.to_datetime(utc, utc=True)), LEVELS_CFG)


def test_sunday_evening_belongs_to_monday_and_monday_evening_to_tuesday() -> None:
    cal = _cal(["2025-09-07T22:00Z", "2025-09-08T13:30Z", "2025-09-08T22:00Z", "2025-09-12T20:59Z"])
    assert cal.trading_day.tolist() == [
        _day("2025-09-08"),
        _day("2025-09-08"),
        _day("2025-09-09"),
        _day("2025-09-12"),
    ]
    assert cal.day_of_week.tolist() == [0, 0, 1, 4]
    assert cal.week_start.tolist() == [_day("2025-09-08")] * 4
    assert cal.trading_day.dtype == np.int64


@pytest.mark.parametrize(
    ("utc", "minute_of_day", "since_open", "on", "pm", "rth"),
    [
        ("2025-09-07T22:00Z", 18 * 60, -930, True, False, False),  # Sunday 18:00 EDT
        ("2025-09-08T07:59Z", 3 * 60 + 59, -331, True, False, False),  # 03:59 EDT
        ("2025-09-08T08:00Z", 4 * 60, -330, True, True, False),  # 04:00 EDT: pre-market
        ("2025-09-08T13:29Z", 9 * 60 + 29, -1, True, True, False),
        ("2025-09-08T13:30Z", 9 * 60 + 30, 0, False, False, True),  # RTH open
        ("2025-09-08T19:59Z", 15 * 60 + 59, 389, False, False, True),
        ("2025-09-08T20:00Z", 16 * 60, 390, False, False, False),  # RTH over
        ("2025-11-10T14:30Z", 9 * 60 + 30, 0, False, False, True),  # EST after the DST change
        ("2025-11-09T23:00Z", 18 * 60, -930, True, False, False),  # Sunday 18:00 EST
    ],
)
def test_session_flags(utc: str, minute_of_day: int, since_open: int, on: bool, pm: bool, rth: bool) -> None:
    cal = _cal([utc])
    assert cal.minute_of_day[0] == minute_of_day
    assert cal.minutes_since_rth_open[0] == since_open
    assert (cal.is_on[0], cal.is_pm[0], cal.is_rth[0]) == (on, pm, rth)


def test_naive_and_microsecond_timestamps_are_utc() -> None:
    naive = pd.Series(pd.to_datetime(["2025-09-08 13:30"]).as_unit("us"))
    cal = build_calendar(naive, LEVELS_CFG)
    assert cal.minutes_since_rth_open.tolist() == [0]
    assert len(cal) == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [("rth_start", "9h30"), ("rth_end", "09:00"), ("exchange_tz", "Mars/Olympus"), ("or_minutes", 0)],
)
def test_bad_session_config_raises(key: str, value: object) -> None:
    cfg = OmegaConf.merge(LEVELS_CFG, {key: value})
    with pytest.raises(ConfigError, match=key.split("_")[0]):
        _cal_with(cfg)


def _cal_with(cfg):
    return build_calendar(pd.Series(pd.to_datetime(["2025-09-08T13:30Z"], utc=True)), cfg)


def test_missing_key_names_it() -> None:
    cfg = OmegaConf.to_container(LEVELS_CFG)
    del cfg["pm_start"]
    with pytest.raises(ConfigError, match="levels.pm_start"):
        _cal_with(cfg)
