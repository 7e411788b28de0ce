"""Market data: load, validate, synthesize and fingerprint 1-minute OHLCV bars (DESIGN §3).

Every later step works on the canonical bar frame: RangeIndex, columns :data:`BAR_COLUMNS`,
``timestamp`` tz-aware UTC (datetime64[ns, UTC], strictly increasing, gaps not filled), prices and
volume float64.
"""

from __future__ import annotations

from opt.data.fingerprint import data_fingerprint
from opt.data.loader import load_bars, load_bars_from_config
from opt.data.synthetic import generate_synthetic_bars
from opt.data.validate import BAR_COLUMNS, validate_bars

__all__ = [
    "BAR_COLUMNS",
    "data_fingerprint",
    "generate_synthetic_bars",
    "load_bars",
    "load_bars_from_config",
    "validate_bars",
]
