"""The trial-independent market context of a study, built once (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value
from opt.errors import DataError
from opt.indicators import wilder_atr
from opt.levels import LevelSet, compute_levels
from opt.sessions import SessionCalendar, build_calendar, timestamps_ns

__all__ = ["MarketContext", "build_context"]

_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class MarketContext:
    """Everything about the bars that no trial parameter changes.

    Attributes:
        bars: the 1-minute bars (``timestamp`` UTC, ``open``, ``high``, ``low``, ``close``,
            ``volume``); row positions are the bar indices used everywhere else.
        timestamps: int64 ``(n,)``, UTC epoch nanoseconds of bar open times.
        open, high, low, close: float64 ``(n,)``, points (contiguous columns of ``ohlcv``).
        volume: float64 ``(n,)``, contracts (a column of ``ohlcv``).
        calendar: the session calendar of the bars.
        levels: every level type (``levels.use`` is applied per trial).
        atr: float64 ``(n,)``, points, Wilder ATR(``levels.atr_period``) of the 1-minute bars.
        ohlcv: float64 ``(n, 5)``, column-major, open/high/low/close/volume: the price matrix of
            sequence models (:class:`opt.models.ModelData`), built once and shared by every trial.
    """

    bars: pd.DataFrame
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    calendar: SessionCalendar
    levels: LevelSet
    atr: np.ndarray
    ohlcv: np.ndarray

    @property
    def n_bars(self) -> int:
        """Number of 1-minute bars."""
        return int(self.close.shape[0])

    @property
    def n_trading_days(self) -> int:
        """Number of distinct trading days with at least one bar."""
        return int(np.unique(self.calendar.trading_day).shape[0])


def build_context(bars: pd.DataFrame, cfg: Any, *, calendar: SessionCalendar | None = None) -> MarketContext:
    """Build the market context of a study from its bars.

    Args:
        bars: validated 1-minute bars, ``(n,)`` rows with ``timestamp`` (tz-aware UTC) and float
            ``open``, ``high``, ``low``, ``close``, ``volume``.
        cfg: the composed config; reads ``cfg.levels`` (sessions, SMA settings, ``atr_period``).
        calendar: ``build_calendar(bars["timestamp"], cfg.levels)`` when the caller has it already (a
            calendar row depends on its own timestamp only, so rows sliced from a longer calendar
            qualify); None computes it.

    Returns:
        The :class:`MarketContext`; every per-bar array at row t depends on rows <= t only.

    Raises:
        DataError: if a column is missing or the timestamps are not strictly increasing.
        ConfigError: on an invalid ``levels`` config value.
        ValueError: if ``calendar`` does not have one row per bar.
    """
    missing = [c for c in _COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack the column(s) {missing}; need {list(_COLUMNS)}")
    bars = bars.reset_index(drop=True)
    ts = timestamps_ns(bars["timestamp"])
    if ts.shape[0] > 1:
        bad = np.flatnonzero(np.diff(ts) <= 0)
        if bad.size:
            raise DataError(f"bar timestamps must be strictly increasing; row {int(bad[0]) + 1} breaks it")
    levels_cfg = cfg_value(cfg, "levels", where="config")
    period = cfg_value(levels_cfg, "atr_period", where="levels")
    if calendar is None:
        calendar = build_calendar(bars["timestamp"], levels_cfg)
    elif len(calendar) != len(bars):
        raise ValueError(f"calendar has {len(calendar)} rows for {len(bars)} bars")
    ohlcv = np.asfortranarray(bars[list(_COLUMNS[1:])].to_numpy(np.float64))
    arrays = {c: ohlcv[:, i] for i, c in enumerate(_COLUMNS[1:])}  # contiguous views
    return MarketContext(
        bars=bars,
        timestamps=ts,
        calendar=calendar,
        levels=compute_levels(bars, calendar, levels_cfg),
        atr=wilder_atr(arrays["high"], arrays["low"], arrays["close"], period),
        ohlcv=ohlcv,
        **arrays,
    )
