"""Market data: load, validate, synthesize and fingerprint 1-minute OHLCV bars (DESIGN §3).

Every later step works on the canonical bar frame: RangeIndex, columns :data:`BAR_COLUMNS`,
``timestamp`` tz-aware UTC (datetime64[ns, UTC], strictly increasing, on the minute grid, gaps not
filled), prices and volume float64. Files are also checked to hold 1-minute bars in trading hours
without outliers (:mod:`opt.data.checks`); vendor layouts are read by :mod:`opt.data.layout`.
"""

from __future__ import annotations

from opt.data.checks import BarChecks, check_bars
from opt.data.fingerprint import data_fingerprint
from opt.data.loader import load_bars, load_bars_from_config
from opt.data.synthetic import generate_synthetic_bars
from opt.data.validate import BAR_COLUMNS, validate_bars

__all__ = [
    "BAR_COLUMNS",
    "BarChecks",
    "check_bars",
    "data_fingerprint",
    "generate_synthetic_bars",
    "load_bars",
    "load_bars_from_config",
    "validate_bars",
]
