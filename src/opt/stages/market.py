"""Per-study preparation: everything that does not depend on a trial's parameters.

Bars are parsed and validated, the held-out test part (``split.test_fraction``) is cut off, and the
session calendar, levels and ATR of the search part are computed once (:class:`MarketContext`).
The search never reads a bar of the test part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from opt.data import data_fingerprint, load_bars_from_config
from opt.dataset import MarketContext, build_context
from opt.evaluation import holdout_split
from opt.sessions import SessionCalendar, build_calendar, timestamps_ns

__all__ = ["PreparedMarket", "prepare_market"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedMarket:
    """The search part of the data and its context.

    Attributes:
        ctx: market context of the search part (bars ``[0, test_start)``).
        test_start: first bar index of the held-out test part in the full data.
        n_bars_total: bars in the full data.
        fingerprint: :func:`opt.data.data_fingerprint` of the full data (lineage, cache key).
        test_bars: the held-out bars; only ``promote`` may read them.
    """

    ctx: MarketContext
    test_start: int
    n_bars_total: int
    fingerprint: str
    test_bars: pd.DataFrame

    @property
    def n_trading_days(self) -> int:
        """Trading days in the search part (the trading day is non-decreasing: count its changes)."""
        day = self.ctx.calendar.trading_day
        return int(day.shape[0] > 0) + int(np.count_nonzero(day[1:] != day[:-1]))


def prepare_market(cfg: DictConfig) -> PreparedMarket:
    """Load the bars named in ``cfg.data``, cut the held-out part, build the search-part context.

    Raises:
        DataError: bad input file (see :func:`opt.data.load_bars`).
        ConfigError: bad ``split.test_fraction`` or data keys.
    """
    bars = load_bars_from_config(cfg)
    calendar = build_calendar(bars["timestamp"], cfg.levels)
    test_start = holdout_split(  # int64 nanoseconds: no conversion to Python objects
        timestamps_ns(bars["timestamp"]), calendar.trading_day, test_fraction=float(cfg.split.test_fraction)
    )
    search = bars.iloc[:test_start].reset_index(drop=True)
    log.info(
        "data: %d bars %s .. %s; search part %d bars, held-out test part %d bars",
        len(bars), bars["timestamp"].iloc[0], bars["timestamp"].iloc[-1], len(search), len(bars) - test_start,
    )
    return PreparedMarket(
        ctx=build_context(search, cfg, calendar=_head(calendar, test_start)),
        test_start=int(test_start),
        n_bars_total=len(bars),
        fingerprint=data_fingerprint(bars),
        test_bars=bars.iloc[test_start:].reset_index(drop=True),
    )


def _head(calendar: SessionCalendar, n: int) -> SessionCalendar:
    """The first ``n`` rows of ``calendar`` (views; a calendar row depends on its own timestamp only)."""
    return SessionCalendar(**{f.name: getattr(calendar, f.name)[:n] for f in fields(calendar)})
