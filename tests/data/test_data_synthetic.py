"""Synthetic bars: determinism, session calendar, tick grid, realism, speed; and the data fingerprint."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opt.data import data_fingerprint, generate_synthetic_bars, load_bars, validate_bars

ARGS = {"seed": 7, "first_day": "2025-01-06", "start_price": 5000.0, "annual_vol": 0.16, "tick_size": 0.25}
RTH_OPEN, RTH_CLOSE = 9 * 60 + 30, 16 * 60  # ET minutes of day


@pytest.fixture(scope="module")
def year() -> tuple[pd.DataFrame, float]:
    """250 trading days (bars, seconds it took to generate)."""
    t0 = time.perf_counter()
    bars = generate_synthetic_bars(n_days=250, **ARGS)
    return bars, time.perf_counter() - t0


@pytest.fixture(scope="module")
def et_minute(year: tuple[pd.DataFrame, float]) -> pd.Series:
    """Minute of day in exchange time (America/New_York) of each bar."""
    et = year[0]["timestamp"].dt.tz_convert("America/New_York")
    return et.dt.hour * 60 + et.dt.minute


def test_fast_and_sized(year: tuple[pd.DataFrame, float]) -> None:
    bars, seconds = year
    assert seconds < 2.0, f"250 days took {seconds:.2f} s"
    assert 0.99 * 250 * 1380 < len(bars) <= 250 * 1380  # a few overnight minutes have no trade


def test_deterministic_and_seeded() -> None:
    a = generate_synthetic_bars(n_days=5, **ARGS)
    pd.testing.assert_frame_equal(a, generate_synthetic_bars(n_days=5, **ARGS))
    assert not a["close"].equals(generate_synthetic_bars(n_days=5, **{**ARGS, "seed": 8})["close"])


def test_passes_validation(year: tuple[pd.DataFrame, float]) -> None:
    bars = year[0]
    pd.testing.assert_frame_equal(validate_bars(bars, source="synthetic"), bars)


def test_session_calendar(year: tuple[pd.DataFrame, float], et_minute: pd.Series) -> None:
    et = year[0]["timestamp"].dt.tz_convert("America/New_York")
    weekday = et.dt.weekday
    assert not (weekday == 5).any(), "bars on Saturday"
    assert (et_minute[weekday == 6] >= 18 * 60).all(), "Sunday bars before the 18:00 open"
    assert (et_minute[weekday == 4] < 17 * 60).all(), "Friday bars after the 17:00 close"
    assert not et_minute.between(17 * 60, 18 * 60 - 1).any(), "bars in the 17:00-18:00 break"
    assert et.iloc[0] == pd.Timestamp("2025-01-05 18:00", tz="America/New_York")  # Sunday opens Monday
    assert et.iloc[-1].strftime("%a %H:%M") == "Fri 16:59"


def test_tick_grid() -> None:
    bars = generate_synthetic_bars(n_days=3, **{**ARGS, "tick_size": 0.1, "start_price": 101.3})
    ticks = bars[["open", "high", "low", "close"]].to_numpy() / 0.1
    np.testing.assert_allclose(ticks, np.rint(ticks), atol=1e-6)
    year_ticks = generate_synthetic_bars(n_days=3, **ARGS)[["open", "high", "low", "close"]].to_numpy() / 0.25
    assert (year_ticks == np.rint(year_ticks)).all()


def test_intraday_profile(year: tuple[pd.DataFrame, float], et_minute: pd.Series) -> None:
    bars = year[0]

    def mean(col: str, lo: int, hi: int) -> float:
        return float(bars[col][(et_minute >= lo) & (et_minute < hi)].mean())

    rth = (et_minute >= RTH_OPEN) & (et_minute < RTH_CLOSE)
    assert bars["volume"][rth].mean() > 5 * bars["volume"][~rth].mean()
    assert (bars["high"] - bars["low"])[rth].mean() > 1.5 * (bars["high"] - bars["low"])[~rth].mean()
    midday = mean("volume", 12 * 60, 14 * 60)
    assert mean("volume", RTH_OPEN, RTH_OPEN + 5) > 3 * midday  # the 09:30 spike
    assert mean("volume", RTH_OPEN, RTH_OPEN + 30) > midday < mean("volume", RTH_CLOSE - 30, RTH_CLOSE)  # U


def test_volatility_clusters_and_matches_annual_vol(
    year: tuple[pd.DataFrame, float], et_minute: pd.Series
) -> None:
    bars = year[0]
    r = np.log(bars["close"]).diff()
    z = (r / r.groupby(et_minute).transform("std")).abs()  # remove the intraday pattern
    assert z.autocorr(1) > 0.05 and z.autocorr(60) > 0.03
    assert 0.12 < r.std() * np.sqrt(252 * 1380) < 0.21


@pytest.mark.parametrize(
    "override, match",
    [({"n_days": 0}, "n_days"), ({"tick_size": 0.0}, "tick_size"), ({"first_day": "someday"}, "first_day"),
     ({"exchange_tz": "Nowhere/City"}, "exchange_tz")],
)  # fmt: skip
def test_bad_arguments(override: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_synthetic_bars(**{**ARGS, "n_days": 2, **override})  # type: ignore[arg-type]


def test_weekend_first_day_rolls_to_monday() -> None:
    a = generate_synthetic_bars(n_days=2, **{**ARGS, "first_day": "2025-01-04"})
    pd.testing.assert_frame_equal(a, generate_synthetic_bars(n_days=2, **ARGS))


def test_fingerprint(tmp_path: Path) -> None:
    bars = generate_synthetic_bars(n_days=2, **ARGS)
    fp = data_fingerprint(bars)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert data_fingerprint(bars.copy()) == fp
    shuffled = bars.assign(extra=1.0)[["extra", *bars.columns[::-1]]].set_axis(range(5, 5 + len(bars)))
    assert data_fingerprint(shuffled) == fp
    bars.to_parquet(tmp_path / "bars.parquet")
    assert data_fingerprint(load_bars(tmp_path / "bars.parquet")) == fp
    nudged = bars.copy()
    nudged.loc[10, "high"] += 0.25
    assert data_fingerprint(nudged) != fp
    assert data_fingerprint(bars.iloc[:-1]) != fp
    tiny = pd.DataFrame(
        {"timestamp": pd.to_datetime(["2025-01-02T14:30:00Z"]).as_unit("ns"), "open": [1.0], "high": [2.0],
         "low": [0.5], "close": [1.5], "volume": [3.0]}
    )  # fmt: skip
    assert data_fingerprint(tiny) == GOLDEN_TINY_FINGERPRINT  # stable across runs and machines


GOLDEN_TINY_FINGERPRINT = "e5049cf67595ab59"
