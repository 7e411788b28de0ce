"""Exchange holidays and early closes from ``pandas-market-calendars`` (DESIGN §10).

The library ships each exchange's rules as code (holiday rules, early-close rules, regular hours), so
a schedule is computed offline, without a network. :func:`exchange_sessions` turns it into two arrays
the session calendar reads: the session days and each day's close. The schedule is computed for whole
calendar years around the requested span and cached per (calendar, years), so a caller that builds the
calendar again and again on growing spans (a live feed, the promote replay) pays for it once.

Knowing at bar t that trading day D is a holiday or closes early is no look-ahead: the exchange
publishes its holiday calendar a year or more ahead, and these rules are fixed before D starts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from opt.errors import ConfigError

__all__ = ["ExchangeSessions", "exchange_sessions", "known_calendar"]

_NS_PER_DAY = 86_400_000_000_000
_MARGIN_YEARS = 1  # a holiday on the last day of the span rolls into the next year's first session


class ExchangeSessions(NamedTuple):
    """The sessions of an exchange calendar, ascending.

    Attributes:
        day: int64 ``(n_sessions,)``, session (trading) days as days since 1970-01-01 (the exchange's
            session label: the day the session closes).
        close: int64 ``(n_sessions,)``, UTC epoch nanoseconds of each session's close (an early close on
            a half day, the regular close otherwise).
    """

    day: np.ndarray
    close: np.ndarray


def known_calendar(name: str) -> bool:
    """Whether ``pandas-market-calendars`` knows the calendar ``name`` (e.g. ``CME_Equity``)."""
    import pandas_market_calendars as mcal

    return name in set(mcal.get_calendar_names())


@lru_cache(maxsize=16)
def _year_sessions(name: str, first_year: int, last_year: int) -> ExchangeSessions:
    import pandas_market_calendars as mcal

    schedule = mcal.get_calendar(name).schedule(f"{first_year}-01-01", f"{last_year}-12-31")
    day = (schedule.index.to_numpy().astype("datetime64[D]").astype(np.int64))
    close = pd.DatetimeIndex(schedule["market_close"]).tz_convert("UTC").as_unit("ns").asi8
    day.setflags(write=False)
    close = close.copy()
    close.setflags(write=False)
    return ExchangeSessions(day=day, close=close)


def exchange_sessions(name: str, first_day: int, last_day: int) -> ExchangeSessions:
    """Sessions of calendar ``name`` covering days ``first_day .. last_day`` (and a year beyond).

    Args:
        name: a ``pandas-market-calendars`` calendar name, e.g. ``CME_Equity``.
        first_day, last_day: days since 1970-01-01, the span of the bars' dates.

    Returns:
        The :class:`ExchangeSessions` of the whole calendar years from ``first_day``'s year to one year
        after ``last_day``'s (read-only arrays, shared by every caller).

    Raises:
        ConfigError: if ``name`` is not a calendar of the library (rule ``levels.calendar``).
    """
    if not known_calendar(name):
        raise ConfigError(f"levels.calendar={name!r} is not a pandas-market-calendars calendar "
                          "(e.g. CME_Equity), or null for weekdays only")
    years = pd.DatetimeIndex(np.array([first_day, last_day], dtype="datetime64[D]")).year
    return _year_sessions(name, int(years[0]), int(years[1]) + _MARGIN_YEARS)
