"""Compute every level type once per study (the ``use.*`` switches are applied per trial)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value
from opt.levels._levelset import LEVEL_TYPES, LevelSet, level_names
from opt.levels._moving import anchored_vwap, rth_vwap, sma_levels
from opt.levels._session import SESSION_LEVEL_ORDER, session_levels
from opt.sessions import SessionCalendar, session_spec, timestamps_ns

__all__ = ["compute_levels"]


def compute_levels(bars: pd.DataFrame, calendar: SessionCalendar, levels_cfg: Any) -> LevelSet:
    """Compute all level types for 1-minute bars (DESIGN §4).

    Args:
        bars: ``(n,)`` rows with ``timestamp`` (UTC), ``high``, ``low``, ``close``, ``volume``.
        calendar: ``build_calendar(bars["timestamp"], levels_cfg)``.
        levels_cfg: the ``levels`` config group (session times, ``or_minutes``,
            ``sma_timeframe_min``, ``sma_periods``).

    Returns:
        A :class:`LevelSet` with the levels of every type in :data:`LEVEL_TYPES`, in that order:
        onh, onl, pmh, pml, orh, orl, pdh, pdl, pdc, sma_<p>..., vwap_session, vwap_weekly, vwap_rth
        (``values`` column-major). Row t depends on bars ``<= t`` only. ``vwap_session`` is anchored at
        the Globex open (``day_start``, 18:00 ET), ``vwap_rth`` at the RTH open of D (09:30 ET): NaN
        before it, then the VWAP of D's bars from the RTH open on, until the end of D.

    Raises:
        ConfigError: naming the key, on invalid session times, SMA timeframe or periods (rules in
            :data:`opt.config_rules.RULES`).
        ValueError: if ``calendar`` does not have one row per bar.
    """
    if len(calendar) != len(bars):
        raise ValueError(f"calendar has {len(calendar)} rows for {len(bars)} bars")
    spec = session_spec(levels_cfg)
    names = level_names(cfg_value(levels_cfg, "sma_periods", where="levels"))
    timeframe = cfg_value(levels_cfg, "sma_timeframe_min", where="levels")
    high, low, close, volume = (bars[c].to_numpy(np.float64) for c in ("high", "low", "close", "volume"))
    session = session_levels(
        high, low, close, calendar, or_minutes=spec.or_minutes, rth_minutes=spec.rth_end - spec.rth_start
    )
    periods = [int(n.removeprefix("sma_")) for n in names["sma"]]
    sma = sma_levels(close, timestamps_ns(bars["timestamp"]), timeframe_min=timeframe, periods=periods)
    # column-major: each level is one contiguous column, so a trial reads its active levels in place
    n_session, n_sma = session.shape[1], sma.shape[1]
    values = np.empty((close.shape[0], n_session + n_sma + 3), order="F")
    values[:, :n_session] = session
    values[:, n_session : n_session + n_sma] = sma
    values[:, -3] = anchored_vwap(high, low, close, volume, calendar.trading_day)
    values[:, -2] = anchored_vwap(high, low, close, volume, calendar.week_start)
    values[:, -1] = rth_vwap(high, low, close, volume, calendar)
    ordered = tuple(n for t in LEVEL_TYPES for n in names[t])
    assert ordered[: len(SESSION_LEVEL_ORDER)] == SESSION_LEVEL_ORDER
    types = tuple(t for t in LEVEL_TYPES for _ in names[t])
    return LevelSet(names=ordered, types=types, values=values)
