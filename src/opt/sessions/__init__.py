"""Exchange sessions of 1-minute bars: trading day, RTH / pre-market / overnight flags (DESIGN §4)."""

from __future__ import annotations

from opt.sessions._calendar import SessionCalendar, SessionSpec, build_calendar, session_spec, timestamps_ns

__all__ = ["SessionCalendar", "SessionSpec", "build_calendar", "session_spec", "timestamps_ns"]
