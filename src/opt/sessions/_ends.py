"""The last bar of each session: where ``bracket.flatten_at_session_end`` closes a position (DESIGN §8, §10)."""

from __future__ import annotations

import numpy as np

from opt.sessions._calendar import SessionCalendar

__all__ = ["session_last_bar"]

_NS_PER_MINUTE = 60_000_000_000


def session_last_bar(timestamps_ns: np.ndarray, calendar: SessionCalendar) -> np.ndarray:
    """For each bar, the index of the last bar of its session at or after it.

    Bar ``s`` is the last bar of its session when its close (open + 1 minute) reaches the session end
    (``calendar.session_end``: ``day_end``, or a half day's early close), or when the next bar belongs to
    another trading day or opens at or after the session end (a gap before the daily break). A bar
    opening at or after the session end (a stray bar after the close) is its own last bar. The data's
    last bar is a session's last bar only by its clock (the data may stop mid-session).

    Args:
        timestamps_ns: int64 ``(n,)``, UTC epoch nanoseconds of bar open times, ascending.
        calendar: the bars' session calendar (``trading_day``, ``session_end``).

    Returns:
        int64 ``(n,)``: ``out[t] >= t`` is the last bar of ``t``'s session, or ``n`` when the data ends
        before that session does.

    Raises:
        ValueError: if ``calendar`` does not have one row per timestamp.
    """
    ts = np.asarray(timestamps_ns, dtype=np.int64)
    n = ts.shape[0]
    if len(calendar) != n:
        raise ValueError(f"calendar has {len(calendar)} rows for {n} bars")
    end, day = calendar.session_end, calendar.trading_day
    last = ts + _NS_PER_MINUTE >= end
    last[:-1] |= (day[1:] != day[:-1]) | (ts[1:] >= end[:-1])
    marks = np.flatnonzero(last)
    at = np.searchsorted(marks, np.arange(n))
    return np.append(marks, n)[at].astype(np.int64)
