"""Exchange session calendar of 1-minute bars (DESIGN §4).

Trading day ``D`` runs from ``day_start`` (18:00 ET) on the calendar day before ``D`` to ``day_end``
(17:00 ET) on ``D``. Bars of a weekend day (the Sunday-evening Globex open, a stray Saturday bar)
belong to the next weekday, so a Sunday 18:00 ET bar is on Monday's trading day and a Monday 18:00
ET bar on Tuesday's.

Exchange calendar (``levels.calendar``, e.g. ``CME_Equity``; DESIGN §10): holidays and half days come
from ``pandas-market-calendars`` (:mod:`opt.sessions._exchange`). A day that is no session of the
exchange (a holiday) is rolled forward like a weekend day, so no bar is ever on a holiday's trading
day; a session that closes before ``day_end`` is a half day (``is_half_day``), and ``session_end`` is
its early close. With ``levels.calendar: null`` every weekday is a full session ending at ``day_end``
(and a holiday is just a day without bars). Whether D is a holiday or a half day is published by the
exchange long before D, so reading it at any bar of D is no look-ahead.

Session flags of a bar are derived from its signed distance to the RTH open of its own trading day,
measured on the exchange-local wall clock (``minutes_since_rth_open``):

- overnight (ON): ``minutes_since_rth_open < 0`` (18:00 ET of D-1 .. 09:30 ET of D);
- pre-market (PM): ``pm_start`` .. ``rth_start`` of D (a subset of ON);
- RTH: ``rth_start`` .. ``rth_end`` of D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value, clock_minutes
from opt.errors import ConfigError
from opt.sessions._exchange import exchange_sessions

__all__ = ["SessionCalendar", "SessionSpec", "build_calendar", "session_spec", "timestamps_ns"]

_MINUTES_PER_DAY = 1440
_NS_PER_MINUTE = 60_000_000_000


@dataclass(frozen=True)
class SessionSpec:
    """Session clock times of one exchange, parsed from the ``levels`` config group.

    Attributes:
        exchange_tz: IANA timezone of the exchange clock, e.g. ``America/New_York``.
        day_start: minutes after midnight where trading day D+1 begins (18:00 -> 1080).
        day_end: minutes after midnight where trading day D ends (17:00 -> 1020).
        pm_start: start of the pre-market window, minutes after midnight.
        rth_start: RTH open, minutes after midnight.
        rth_end: RTH close, minutes after midnight.
        or_minutes: length of the opening range, minutes.
    """

    exchange_tz: str
    day_start: int
    day_end: int
    pm_start: int
    rth_start: int
    rth_end: int
    or_minutes: int


def session_spec(levels_cfg: Any) -> SessionSpec:
    """Parse and check the session clock times of the ``levels`` config group.

    Each value is checked by the rule of its key in :data:`opt.config_rules.RULES` (clock times
    ``"HH:MM"``, a known time zone, ``or_minutes >= 1``); the rules between keys are checked here.

    Args:
        levels_cfg: the ``levels`` group (``DictConfig`` or mapping).

    Returns:
        The :class:`SessionSpec`, times in minutes after midnight.

    Raises:
        ConfigError: naming the key, on a missing key, a malformed time, an unknown timezone or an
            RTH window that is empty, shorter than the opening range or outside the trading day.
    """
    times = {
        k: clock_minutes(cfg_value(levels_cfg, k, where="levels"))
        for k in ("day_start", "day_end", "pm_start", "rth_start", "rth_end")
    }
    tz = cfg_value(levels_cfg, "exchange_tz", where="levels")
    or_minutes = cfg_value(levels_cfg, "or_minutes", where="levels")
    if times["rth_end"] <= times["rth_start"]:
        raise ConfigError(f"levels.rth_end ({times['rth_end']} min) must be after levels.rth_start")
    rth_minutes = times["rth_end"] - times["rth_start"]
    if or_minutes > rth_minutes:
        raise ConfigError(f"levels.or_minutes={or_minutes} must be at most the RTH length ({rth_minutes} minutes)")
    if times["rth_start"] >= times["day_start"] or times["rth_end"] > times["day_end"]:
        raise ConfigError(
            "levels: RTH must lie inside the trading day (rth_start < day_start, rth_end <= day_end)"
        )
    return SessionSpec(exchange_tz=tz, or_minutes=or_minutes, **times)


@dataclass(frozen=True, eq=False)
class SessionCalendar:
    """Per-bar session facts; every array has shape ``(n_bars,)`` and depends on that bar alone.

    Attributes:
        trading_day: int64, trading day D as days since 1970-01-01 (a weekday).
        minute_of_day: int64, minutes since local midnight on the exchange clock.
        minutes_since_rth_open: int64, wall-clock minutes from the RTH open of D (negative before).
        is_rth: bool, ``rth_start <= local time < rth_end`` on D.
        is_pm: bool, ``pm_start <= local time < rth_start`` (pre-market, part of ON).
        is_on: bool, overnight session of D (before the RTH open of D).
        day_of_week: int64, weekday of D, 0 = Monday.
        week_start: int64, trading day of the Monday of D's week (days since 1970-01-01).
        is_half_day: bool, D is a session of the exchange calendar that closes before ``day_end`` (an
            early close, e.g. Thanksgiving); all False without ``levels.calendar``.
        session_end: int64, UTC epoch nanoseconds of the end of D's session: ``day_end`` on D, or the
            early close of a half day.
    """

    trading_day: np.ndarray
    minute_of_day: np.ndarray
    minutes_since_rth_open: np.ndarray
    is_rth: np.ndarray
    is_pm: np.ndarray
    is_on: np.ndarray
    day_of_week: np.ndarray
    week_start: np.ndarray
    is_half_day: np.ndarray
    session_end: np.ndarray

    def __len__(self) -> int:
        return int(self.trading_day.shape[0])


def timestamps_ns(timestamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """UTC epoch nanoseconds of ``timestamps`` as int64 ``(n,)``; naive values are taken as UTC.

    Pandas may store datetimes at microsecond resolution, so the unit is normalised first.
    """
    idx = pd.DatetimeIndex(timestamps)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return idx.as_unit("ns").asi8.copy()


def build_calendar(timestamps: pd.Series | pd.DatetimeIndex, levels_cfg: Any) -> SessionCalendar:
    """Compute the session calendar of bar timestamps.

    Args:
        timestamps: bar open times, shape ``(n_bars,)``, tz-aware (converted to UTC; naive = UTC).
        levels_cfg: the ``levels`` config group (``exchange_tz``, ``day_start``, ``pm_start``,
            ``rth_start``, ``rth_end``, ``or_minutes``, ``day_end``, and ``calendar``: an exchange
            calendar name or null; a config without the key, saved before it existed, is null).

    Returns:
        The :class:`SessionCalendar`; row ``t`` depends on ``timestamps[t]`` (and the exchange's
        published calendar) only.

    Raises:
        ConfigError: if the session times are invalid (see :func:`session_spec`) or the calendar is
            unknown.
    """
    spec = session_spec(levels_cfg)
    utc = pd.DatetimeIndex(timestamps_ns(timestamps)).tz_localize("UTC")
    local = utc.tz_convert(spec.exchange_tz).tz_localize(None).as_unit("ns")
    local_minutes = local.asi8 // _NS_PER_MINUTE  # wall-clock minutes since 1970-01-01 00:00 local
    date = local_minutes // _MINUTES_PER_DAY
    minute_of_day = local_minutes - date * _MINUTES_PER_DAY
    day = date + (minute_of_day >= spec.day_start)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    day = day + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    day, is_half_day, session_end = _exchange_days(day, spec, _calendar_name(levels_cfg))
    day_of_week = (day + 3) % 7
    since_open = local_minutes - (day * _MINUTES_PER_DAY + spec.rth_start)
    pm_offset = spec.pm_start - spec.rth_start
    if pm_offset > 0:  # pre-market starting on the previous evening
        pm_offset -= _MINUTES_PER_DAY
    is_on = since_open < 0
    return SessionCalendar(
        trading_day=day.astype(np.int64),
        minute_of_day=minute_of_day.astype(np.int64),
        minutes_since_rth_open=since_open.astype(np.int64),
        is_rth=(since_open >= 0) & (since_open < spec.rth_end - spec.rth_start),
        is_pm=is_on & (since_open >= pm_offset),
        is_on=is_on,
        day_of_week=day_of_week.astype(np.int64),
        week_start=(day - day_of_week).astype(np.int64),
        is_half_day=is_half_day,
        session_end=session_end,
    )


def _calendar_name(levels_cfg: Any) -> str | None:
    """``levels.calendar``; None when null or absent (a config saved before the key: weekdays only)."""
    if "calendar" not in levels_cfg:
        return None
    name = cfg_value(levels_cfg, "calendar", where="levels", nullable=True)
    return None if name is None else str(name)


def _day_end_ns(days: np.ndarray, spec: SessionSpec) -> np.ndarray:
    """UTC epoch nanoseconds of ``day_end`` (exchange clock) on each of ``days``, int64."""
    local = pd.DatetimeIndex((days * _MINUTES_PER_DAY + spec.day_end) * _NS_PER_MINUTE)
    utc = local.tz_localize(spec.exchange_tz, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")
    return utc.as_unit("ns").asi8.copy()


def _exchange_days(day: np.ndarray, spec: SessionSpec, calendar: str | None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Roll days that are no exchange session forward; flag half days; each bar's session end.

    Returns:
        ``(trading_day, is_half_day, session_end)``, each ``(n,)``: int64 days, bool, int64 UTC ns.
    """
    if day.shape[0] == 0:
        return day.astype(np.int64), np.zeros(0, bool), np.zeros(0, np.int64)
    unique, inverse = np.unique(day, return_inverse=True)
    if calendar is None:
        ends = _day_end_ns(unique, spec)
        return day.astype(np.int64), np.zeros(day.shape[0], bool), ends[inverse]
    sessions = exchange_sessions(calendar, int(unique[0]), int(unique[-1]))
    at = np.minimum(np.searchsorted(sessions.day, unique), sessions.day.shape[0] - 1)
    rolled = np.where(sessions.day[at] >= unique, sessions.day[at], unique)  # beyond the table: unchanged
    full_end = _day_end_ns(rolled, spec)
    close = np.where(sessions.day[at] >= unique, sessions.close[at], full_end)
    half = close < full_end
    return rolled[inverse].astype(np.int64), half[inverse], np.minimum(close, full_end)[inverse]
