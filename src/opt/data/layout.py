"""Vendor layouts of bar files, mapped onto the canonical columns (DESIGN §3).

A good loader reads what data vendors write; this module turns the common layouts into the columns
``timestamp, open, high, low, close, volume`` that :func:`~opt.data.validate.validate_bars` checks,
or refuses them with a hint naming what was found and how to convert it:

- ``timestamp`` may instead be a separate ``Date`` and ``Time`` pair (dates ``YYYY-MM-DD``,
  ``YYYYMMDD``, ``YYYY/MM/DD``, ``MM/DD/YYYY`` or ``DD/MM/YYYY`` (told apart by a day above 12; ``.``
  and ``-`` work as ``/``); times ``HH:MM[:SS]``, ``HHMM`` or ``HHMMSS``), a single ``datetime``,
  ``date_time``, ``time`` or ``date`` column, or the index of the frame (a Parquet file written from a
  frame with a DatetimeIndex);
- the timestamp values may be epoch seconds, milliseconds, microseconds or nanoseconds (told apart by
  magnitude, always UTC): see :func:`epoch_to_utc`.

The CSV delimiter (``,``, ``;``, tab, ``|``) and a decimal comma are detected by the loader
(:mod:`opt.data.loader`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from opt.errors import DataError

__all__ = [
    "EPOCH_UNITS", "TIMESTAMP_ALIASES", "epoch_to_utc", "find_timestamp", "is_epoch_text", "missing_columns_error",
]

#: column names read as the timestamp when no ``timestamp`` column is there (lower case, in this order)
TIMESTAMP_ALIASES = ("datetime", "date_time", "time", "date")

#: epoch unit -> (nanoseconds per unit, [low, high) magnitude range, about 1973..2286)
EPOCH_UNITS: dict[str, tuple[int, float, float]] = {
    "seconds": (1_000_000_000, 1e8, 1e10),
    "milliseconds": (1_000_000, 1e11, 1e13),
    "microseconds": (1_000, 1e14, 1e16),
    "nanoseconds": (1, 1e17, 1e19),
}

_EXPECTED = "timestamp, open, high, low, close, volume"
_INDEX_NAMES = ("timestamp", *TIMESTAMP_ALIASES)
# names vendors use for the OHLCV columns; suggested in the hint, never renamed silently
_SIMILAR = {
    "timestamp": ("ts", "gmt time", "local time", "timestamp_utc", "datetime_utc", "time_utc", "bar_time", "unix",
                  "epoch"),
    "open": ("o", "open_price", "first", "opening"),
    "high": ("h", "high_price", "max"),
    "low": ("l", "low_price", "min"),
    "close": ("c", "last", "close_price", "closing", "settle", "price"),
    "volume": ("v", "vol", "volume_traded", "totalvolume", "total_volume", "qty", "quantity"),
}
_DIGITS_RE = re.compile(r"^\d{9,}(?:\.\d+)?$")
_COMPACT_DATE_RE = r"^(\d{4})(\d{2})(\d{2})$"
_YMD_SLASH_RE = r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$"
_DMY_RE = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$"
_COMPACT_TIME_RE = r"^(\d{2})(\d{2})(\d{2})?$"


def find_timestamp(df: pd.DataFrame, names: list[str], source: str) -> tuple[pd.DataFrame, list[str]]:
    """Give ``df`` a ``timestamp`` column if it has one under another layout.

    Args:
        df: the raw frame.
        names: its column names, stripped and lower-cased (the same order as ``df.columns``).
        source: the file or label named in errors.

    Returns:
        The frame and its lower-cased column names, with a ``timestamp`` column where one of the layouts of
        the module docstring was recognised (unchanged when ``timestamp`` is already there or nothing fits:
        the caller then refuses with :func:`missing_columns_error`).

    Raises:
        DataError: ``Date``/``Time`` columns whose dates cannot be read unambiguously.
    """
    if "timestamp" in names:
        return df, names
    if "date" in names and "time" in names:
        stamp = _combine_date_time(df.iloc[:, names.index("date")], df.iloc[:, names.index("time")], source)
        return _with_timestamp(df, names, stamp, drop=("date", "time"))
    for alias in TIMESTAMP_ALIASES:
        if names.count(alias) == 1 and (alias != "date" or _has_time_of_day(df.iloc[:, names.index(alias)])):
            return _with_timestamp(df, names, df.iloc[:, names.index(alias)], drop=(alias,))
    index = df.index
    if isinstance(index, pd.DatetimeIndex) or str(index.name).strip().lower() in _INDEX_NAMES:
        return _with_timestamp(df, names, pd.Series(index, index=index), drop=())
    return df, names


def missing_columns_error(df: pd.DataFrame, missing: list[str], source: str) -> DataError:
    """The ``DataError`` for required columns not found in ``df`` (the frame as read), naming what was found
    and how to convert."""
    found = [str(c) for c in df.columns]
    names = [c.strip().lower() for c in found]
    suggest = {
        str(df.columns[i]): want
        for want in missing
        for i, name in enumerate(names)
        if name in _SIMILAR.get(want, ())
    }
    rename = (
        f"; columns that look like them: rename with pandas, e.g. "
        f"df.rename(columns={suggest!r}).to_csv('bars.csv', index=False)"
        if suggest
        else "; rename your columns to these names (e.g. pandas df.rename(columns={...}).to_csv('bars.csv', "
        "index=False))"
    )
    one_column = (
        "; only one column was found: the delimiter may be other than ',', ';', tab or '|' (write the file "
        "comma-separated)"
        if len(found) == 1
        else ""
    )
    return DataError(
        f"{source}: missing required column(s) {', '.join(missing)}; found columns {found}; expected "
        f"{_EXPECTED} (names are matched case-insensitively; instead of timestamp, a Date and a Time column, "
        f"a datetime/time/date column or a Parquet DatetimeIndex are read too){rename}{one_column}"
    )


def is_epoch_text(text: pd.Series) -> bool:
    """Whether every present value of a string column is a number of 9 or more digits (epoch time).

    The first value decides cheaply for the usual ISO-8601 text; only digit columns are scanned in full.
    """
    filled = text.notna().to_numpy(dtype=bool, na_value=False)
    if not filled.any() or not _DIGITS_RE.fullmatch(str(text.iloc[int(np.argmax(filled))])):
        return False
    present = text[filled]
    present = present[present != ""]
    return bool(present.str.fullmatch(_DIGITS_RE).all())


def epoch_to_utc(values: np.ndarray, exact: np.ndarray | None = None) -> tuple[pd.Series, str | None, np.ndarray]:
    """Convert epoch numbers to UTC, the unit told by the magnitude of the typical (median) value.

    Args:
        values: float64 numbers, NaN where missing, shape (n_rows,).
        exact: the same numbers as int64 (any value where missing) when the column holds integers, so
            that nanoseconds (about 1.7e18, beyond float64's exact integers) convert without rounding.

    Returns:
        ``(timestamps, unit, out_of_range)``: datetime64[ns, UTC] timestamps (NaT where missing or out of
        the unit's range), the unit name of :data:`EPOCH_UNITS` (None when the typical value fits none:
        then every timestamp is NaT), and the mask of present values outside the unit's range.
    """
    present = np.isfinite(values)
    nat = pd.Series(pd.NaT, index=range(len(values)), dtype="datetime64[ns, UTC]")
    if not present.any():
        return nat, None, np.zeros(len(values), dtype=bool)
    typical = float(np.median(np.abs(values[present])))
    unit = next((u for u, (_, lo, hi) in EPOCH_UNITS.items() if lo <= typical < hi), None)
    if unit is None:
        return nat, None, present
    ns_per, lo, hi = EPOCH_UNITS[unit]
    ok = present & (values >= lo) & (values < hi)
    whole = np.zeros(len(values), dtype=np.int64)
    if exact is not None:
        whole[ok] = exact[ok] * ns_per  # integer arithmetic: no float rounding
    else:
        integral = ok & (values == np.floor(np.where(ok, values, 0.0)))
        whole[integral] = values[integral].astype(np.int64) * ns_per
        frac = ok & ~integral
        whole[frac] = np.round(values[frac] * ns_per).astype(np.int64)
    stamps = pd.Series(pd.to_datetime(whole, unit="ns", utc=True)).astype("datetime64[ns, UTC]").where(ok)
    return stamps, unit, present & ~ok


def _has_time_of_day(col: pd.Series) -> bool:
    """Whether a ``date`` column holds date-times (or epoch numbers) rather than dates alone."""
    present = col.dropna()
    if len(present) == 0 or not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
        return True
    return ":" in str(present.iloc[0])


def _with_timestamp(
    df: pd.DataFrame, names: list[str], stamp: pd.Series, *, drop: tuple[str, ...]
) -> tuple[pd.DataFrame, list[str]]:
    keep = [i for i, n in enumerate(names) if n not in drop]
    out = df.iloc[:, keep].copy(deep=False)
    out.columns = [names[i] for i in keep]
    out.index = pd.RangeIndex(len(out))
    out.insert(0, "timestamp", stamp.array)  # the array keeps a tz-aware dtype
    return out, list(out.columns)


def _combine_date_time(date: pd.Series, time: pd.Series, source: str) -> pd.Series:
    """``Date`` and ``Time`` columns as ISO-8601 text ``YYYY-MM-DDTHH:MM[:SS]`` (offsets kept)."""
    if isinstance(date.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(date.dtype):
        date = date.dt.strftime("%Y-%m-%d")
    d = date.astype("string").str.strip()
    t = time.astype("string").str.strip()
    if pd.api.types.is_integer_dtype(time.dtype) or pd.api.types.is_float_dtype(time.dtype):
        # read as numbers: 930 or 93000 (HHMM or HHMMSS without the leading zero), told by the largest
        whole = pd.to_numeric(time, errors="coerce").round().astype("Int64")
        width = 4 if (whole.max() or 0) < 2400 else 6
        t = whole.astype("string").str.zfill(width)
    for pattern in (_COMPACT_DATE_RE, _YMD_SLASH_RE):  # YYYYMMDD, YYYY/MM/DD
        ymd = d.str.extract(pattern)
        found = ymd[0].notna()
        if found.any():
            d = d.where(~found, ymd[0] + "-" + ymd[1].str.zfill(2) + "-" + ymd[2].str.zfill(2))
    d = _day_month_dates(d, source)
    t = t.str.replace(r"^(\d{3}|\d{5})$", r"0\1", regex=True)  # 930 -> 0930
    hms = t.str.extract(_COMPACT_TIME_RE)  # HHMM, HHMMSS
    found = hms[0].notna()
    if found.any():
        t = t.where(~found, hms[0] + ":" + hms[1] + (":" + hms[2]).fillna(""))
    t = t.str.replace(r"^(\d):", r"0\1:", regex=True)  # 9:30 -> 09:30
    stamp = d + "T" + t
    return stamp.where(d.notna() & t.notna() & (d != "") & (t != ""))


def _day_month_dates(d: pd.Series, source: str) -> pd.Series:
    """``MM/DD/YYYY`` or ``DD/MM/YYYY`` dates (also with ``.`` or ``-``) as ``YYYY-MM-DD``.

    The order is told by a first or second field above 12; a file where no field tells (every day <= 12)
    or where both do is refused with a hint to write ISO dates.
    """
    parts = d.str.extract(_DMY_RE)
    has = parts[0].notna().to_numpy()
    if not has.any():
        return d
    first = parts[0][has].astype(int)
    second = parts[1][has].astype(int)
    first_big, second_big = bool((first > 12).any()), bool((second > 12).any())
    if first_big == second_big:
        example = d[has].iloc[0]
        why = "some dates have a day first and others a month first" if first_big else (
            "no day is above 12, so DD/MM and MM/DD cannot be told apart")
        raise DataError(
            f"{source}: the Date column holds dates like {example!r} and {why}; write ISO dates YYYY-MM-DD "
            "(e.g. pandas: pd.to_datetime(df['Date'], format='%m/%d/%Y').dt.strftime('%Y-%m-%d'))"
        )
    month, day = (parts[1], parts[0]) if first_big else (parts[0], parts[1])
    iso = parts[2] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
    return d.where(~pd.Series(has, index=d.index), iso)
