"""Custom feature functions for the audit tests (``features.custom``): one reads the future, one does not."""

from __future__ import annotations

import pandas as pd


def future_close(bars: pd.DataFrame, lag: int = 5) -> pd.DataFrame:
    """PLANTED LOOK-AHEAD: the close ``lag`` bars after each bar (NaN for the last ``lag`` bars)."""
    return pd.DataFrame({"future_close": bars["close"].shift(-lag)}, index=bars.index)


def close_change(bars: pd.DataFrame, lag: int = 5) -> pd.DataFrame:
    """Causal: close minus the close ``lag`` bars earlier (NaN for the first ``lag`` bars), in points."""
    return pd.DataFrame({"close_change": bars["close"] - bars["close"].shift(lag)}, index=bars.index)


def bar_number(bars: pd.DataFrame) -> pd.Series:
    """Causal but start-dependent: the row number of each bar (a Series, named)."""
    return pd.Series(range(len(bars)), index=bars.index, name="bar_number", dtype="float64")


def mostly_nan(bars: pd.DataFrame, every: int = 3) -> pd.DataFrame:
    """Causal: the bar number on every ``every``-th bar, NaN on the others (NaN is read as 0)."""
    values = pd.Series(range(len(bars)), index=bars.index, dtype="float64")
    return pd.DataFrame({"sparse": values.where(values % every == 0)}, index=bars.index)


def bad_output(bars: pd.DataFrame, kind: str) -> object:
    """Outputs that break the rules of features.custom, for the validation tests."""
    good = pd.DataFrame({"x": bars["close"]}, index=bars.index)
    return {
        "short": good.iloc[1:],
        "reindexed": good.reset_index(drop=True).set_axis(bars.index + 1),
        "text": pd.DataFrame({"x": ["a"] * len(bars)}, index=bars.index),
        "inf": good.assign(x=float("inf")),
        "array": good.to_numpy(),
        "empty": good[[]],
    }[kind]
