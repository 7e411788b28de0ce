"""Exchange sessions of 1-minute bars: trading day, RTH / pre-market / overnight flags (DESIGN §4)."""

from __future__ import annotations

from opt.sessions._calendar import SessionCalendar, SessionSpec, build_calendar, session_spec, timestamps_ns
from opt.sessions._ends import session_last_bar
from opt.sessions._exchange import ExchangeSessions, exchange_sessions, known_calendar

__all__ = ["ExchangeSessions", "SessionCalendar", "SessionSpec", "build_calendar", "exchange_sessions",
           "known_calendar", "session_last_bar", "session_spec", "timestamps_ns"]
