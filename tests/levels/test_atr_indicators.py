"""Wilder ATR and higher-timeframe ATR (opt.indicators)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opt.indicators import timeframe_atr, true_range, wilder_atr

HIGH = np.array([10.0, 11.0, 12.0, 11.0, 13.0, 12.0])
LOW = np.array([9.0, 10.0, 10.0, 9.0, 12.0, 11.0])
CLOSE = np.array([9.5, 10.5, 11.5, 9.5, 12.5, 11.5])


def test_true_range_uses_previous_close() -> None:
    # TR: 1, max(1, 1.5, .5)=1.5, max(2, 1.5, .5)=2, max(2, .5, 2.5)=2.5, max(1, 3.5, 2.5)=3.5, max(1, .5, 1.5)=1.5
    np.testing.assert_allclose(true_range(HIGH, LOW, CLOSE), [1.0, 1.5, 2.0, 2.5, 3.5, 1.5])


def test_wilder_atr_seeded_with_simple_mean() -> None:
    atr = wilder_atr(HIGH, LOW, CLOSE, 3)
    a2 = (1.0 + 1.5 + 2.0) / 3
    a3 = (a2 * 2 + 2.5) / 3
    a4 = (a3 * 2 + 3.5) / 3
    a5 = (a4 * 2 + 1.5) / 3
    np.testing.assert_allclose(atr, [np.nan, np.nan, a2, a3, a4, a5])


def test_wilder_atr_rejects_bad_period() -> None:
    with pytest.raises(ValueError, match="period"):
        wilder_atr(HIGH, LOW, CLOSE, 0)
    assert np.isnan(wilder_atr(HIGH[:2], LOW[:2], CLOSE[:2], 3)).all()


def _bars(minutes: list[int]) -> pd.DataFrame:
    ts = pd.Timestamp("2025-09-09 14:00", tz="UTC") + pd.to_timedelta(minutes, unit="min")
    n = len(minutes)
    return pd.DataFrame(
        {
            "timestamp": ts,
            "open": CLOSE[:n],
            "high": HIGH[:n],
            "low": LOW[:n],
            "close": CLOSE[:n],
            "volume": np.ones(n),
        }
    )


def test_timeframe_atr_one_minute_equals_wilder() -> None:
    bars = _bars([0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(timeframe_atr(bars, 1, 3), wilder_atr(HIGH, LOW, CLOSE, 3))


def test_timeframe_atr_aligns_completed_bars() -> None:
    # 2-minute bars: [0,1] completes at row 1; [2,3] at row 3; [4, (5 missing)] at the row of minute 6.
    bars = _bars([0, 1, 2, 3, 4, 6])
    atr = timeframe_atr(bars, 2, 2)
    # HTF bars: H=[11,12,13], L=[9,9,12], C=[10.5, 9.5, 12.5 (row 4)] -> TR = [2, max(3, 1.5, 1.5)=3, ...]
    tr0, tr1 = 2.0, 3.0
    tr2 = max(13 - 12, abs(13 - 9.5), abs(12 - 9.5))
    a1 = (tr0 + tr1) / 2
    a2 = (a1 + tr2) / 2
    np.testing.assert_allclose(atr, [np.nan, np.nan, np.nan, a1, a1, a2])
