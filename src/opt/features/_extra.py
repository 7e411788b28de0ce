"""User-supplied extra feature columns joined as-of (``features.extra_path``, DESIGN §6).

The file (CSV, or Parquet by suffix ``.parquet``/``.pq``) has a ``timestamp`` column (ISO-8601;
naive values are taken as UTC) and numeric columns. Each event gets the newest row whose timestamp
is at or before the touch bar's timestamp (``pd.merge_asof``, backward, exact matches allowed),
so the values are known at the touch. Events before the file's first row get 0.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from opt.errors import ConfigError

__all__ = ["join_extra", "load_extra"]


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> pd.DataFrame:
    p = Path(path)
    try:
        raw = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as exc:
        raise ConfigError(f"features.extra_path: cannot read {path}: {exc}") from exc
    if "timestamp" not in raw.columns:
        raise ConfigError(f"features.extra_path: {path} has no 'timestamp' column")
    try:
        ts = pd.to_datetime(raw["timestamp"], utc=True)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"features.extra_path: {path}: unparseable timestamps ({exc})") from exc
    values = raw.drop(columns="timestamp")
    bad = [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])]
    if bad or values.shape[1] == 0:
        raise ConfigError(f"features.extra_path: {path} needs numeric feature columns; not numeric: {bad}")
    out = values.astype(np.float64)
    out.insert(0, "timestamp", ts.dt.as_unit("ns"))
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def load_extra(path: str) -> pd.DataFrame:
    """Read and check the extra-feature file (cached while the file is unchanged).

    Returns:
        ``timestamp`` (UTC, sorted) followed by the float64 feature columns.

    Raises:
        ConfigError: if the file is missing or unreadable, has no ``timestamp`` column, has
            unparseable timestamps, or has a non-numeric (or no) feature column.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"features.extra_path: file not found: {path}")
    return _load_cached(str(p.resolve()), p.stat().st_mtime_ns)


def join_extra(event_ts: pd.Series, extra: pd.DataFrame, reserved: set[str]) -> pd.DataFrame:
    """As-of join extra features onto events.

    Args:
        event_ts: ``(k,)`` touch-bar timestamps (UTC), non-decreasing.
        extra: output of :func:`load_extra`.
        reserved: built-in feature names the extra columns must not reuse.

    Returns:
        float64 ``(k, n_extra)`` frame with a RangeIndex; NaN (no earlier row, or NaN in the file)
        filled with 0.

    Raises:
        ConfigError: if an extra column name collides with a built-in feature.
    """
    clash = sorted(set(extra.columns[1:]) & reserved)
    if clash:
        raise ConfigError(f"features.extra_path: columns {clash} collide with built-in feature names")
    left = pd.DataFrame({"timestamp": pd.DatetimeIndex(event_ts).tz_convert("UTC").as_unit("ns")})
    joined = pd.merge_asof(left, extra, on="timestamp", direction="backward", allow_exact_matches=True)
    return joined.drop(columns="timestamp").fillna(0.0).astype(np.float64).reset_index(drop=True)
