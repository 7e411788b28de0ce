"""Data that is not what it claims is refused (#14): off the minute grid, not 1-minute bars, bad ticks,
impossible in-session jumps, a block of rows with a wrong UTC offset (DESIGN §3).

Each case writes a file into tmp_path and loads it with ``load_bars`` (or from the config), as a user would.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opt.config_rules import check_config
from opt.data import load_bars, load_bars_from_config
from opt.errors import ConfigError, DataError

from tests.helpers.bar_files import HEADER, clean_bars, es_lines, write_bars, write_lines
from tests.helpers.config import ES_CSV, compose_config


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """7 trading days of clean synthetic bars (sessions, daily breaks, a weekend)."""
    return clean_bars()


def load_error(path: Path, **kwargs: str) -> str:
    with pytest.raises(DataError) as info:
        load_bars(path, **kwargs)
    return str(info.value)


def mid_session_row(bars: pd.DataFrame, at: str = "2025-09-10T15:00:00Z") -> int:
    """The row of a bar in the middle of an RTH session, with bars one minute before and after."""
    i = int(np.flatnonzero(bars["timestamp"] == pd.Timestamp(at))[0])
    assert (bars["timestamp"].diff().iloc[i:i + 2] == pd.Timedelta("1min")).all()
    return i


# --- gaps are fine --------------------------------------------------------------------------------------


def test_clean_bars_with_gaps_breaks_and_weekend_load(bars: pd.DataFrame, tmp_path: Path) -> None:
    assert len(load_bars(write_bars(bars, tmp_path / "clean.csv"))) == len(bars)
    keep = np.random.default_rng(0).random(len(bars)) < 0.3  # a thin market: 70 % of minutes without trades
    thin = bars.loc[keep].reset_index(drop=True)
    assert len(load_bars(write_bars(thin, tmp_path / "thin.csv"))) == len(thin)


# --- minute grid ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp, shown, past",
    [
        ("2025-09-02T13:32:30Z", "2025-09-02T13:32:30+00:00", "30 s past the minute"),
        ("2025-09-02T13:32:00.250Z", "2025-09-02T13:32:00.250000+00:00", "0.25 s past the minute"),
    ],
    ids=["30_seconds", "sub_second"],
)
def test_timestamp_off_the_minute_grid(tmp_path: Path, stamp: str, shown: str, past: str) -> None:
    rows = [f"2025-09-02T13:{m}:00Z,6450.00,6451.25,6449.50,6450.75,1200" for m in (30, 31)]
    rows.append(f"{stamp},6450.75,6452.00,6450.25,6451.50,900")
    path = write_lines([HEADER, *rows], tmp_path / "seconds.csv")
    message = load_error(path)
    assert str(path) in message
    assert "1 row(s) break the rule 'timestamps must be on the minute grid" in message
    assert f"row 3 (line 4): timestamp={shown} is {past}" in message


# --- spacing: 1-minute bars only ------------------------------------------------------------------------


@pytest.mark.parametrize("rule, kind", [("5min", "5-minute"), ("1h", "1-hour")])
def test_coarser_bars_are_refused(bars: pd.DataFrame, tmp_path: Path, rule: str, kind: str) -> None:
    coarse = (
        bars.set_index("timestamp")
        .resample(rule)
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
        .reset_index()
    )
    path = write_bars(coarse, tmp_path / f"bars_{rule}.csv")
    message = load_error(path)
    assert str(path) in message and "bars must be 1-minute bars" in message
    assert f"this looks like {kind} bars, and opt needs 1-minute bars" in message
    assert "row 1 (line 2): 2025-09-07T22:00:00+00:00 -> row 2 (line 3)" in message


# --- outliers -------------------------------------------------------------------------------------------


def test_a_tick_at_1e9_is_refused_naming_the_row(bars: pd.DataFrame, tmp_path: Path) -> None:
    i = mid_session_row(bars)
    bad = bars.copy()
    bad.loc[i, "high"] = 1e9
    path = write_bars(bad, tmp_path / "tick.csv")
    message = load_error(path)
    assert str(path) in message and "1 row(s) break the rule 'no outlier bars" in message
    assert f"row {i + 1} (line {i + 2}): range high-low=" in message and "high=1e+09" in message
    assert "data.outlier_k=50" in message and "data.outliers=drop" in message


@pytest.mark.parametrize("field", ["all", "low"])
def test_a_bar_away_from_the_market_is_the_only_row_named(
    bars: pd.DataFrame, tmp_path: Path, field: str
) -> None:
    i = mid_session_row(bars)
    bad = bars.copy()
    if field == "all":  # the whole bar printed at 1e9: the way back to the market is not a second outlier
        bad.loc[i, ["open", "high", "low", "close"]] = 1e9
    else:
        bad.loc[i, "low"] = 0.25
    message = load_error(write_bars(bad, tmp_path / "spike.csv"))
    assert "1 row(s) break the rule 'no outlier bars" in message
    assert f"row {i + 1} (line {i + 2})" in message and f"row {i + 2} (line" not in message


def test_an_impossible_in_session_jump_is_refused(bars: pd.DataFrame, tmp_path: Path) -> None:
    i = mid_session_row(bars)
    jumped = bars.copy()
    jumped.loc[i:, ["open", "high", "low", "close"]] += 300.0  # every later price 300 points up
    message = load_error(write_bars(jumped, tmp_path / "jump.csv"))
    assert "1 row(s) break the rule 'no outlier bars" in message
    assert re.search(rf"row {i + 1} \(line {i + 2}\): open=\S+ jumps 300 from the previous minute's close", message)


def test_a_gap_across_the_session_break_is_fine(bars: pd.DataFrame, tmp_path: Path) -> None:
    reopen = int(np.flatnonzero(bars["timestamp"].diff() > pd.Timedelta("30min"))[2])
    rolled = bars.copy()
    rolled.loc[reopen:, ["open", "high", "low", "close"]] += 300.0  # e.g. a contract roll at the reopen
    assert len(load_bars(write_bars(rolled, tmp_path / "roll.csv"))) == len(bars)


def test_outliers_drop_or_keep_from_the_config(
    bars: pd.DataFrame, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    i = mid_session_row(bars)
    bad = bars.copy()
    bad.loc[i, "high"] = 1e9
    path = write_bars(bad, tmp_path / "tick.csv")
    with pytest.raises(DataError, match=r"no outlier bars"):
        load_bars_from_config(compose_config(["data=csv", f"data.path={path}"]))  # refuse is the default
    with caplog.at_level(logging.WARNING, logger="opt.data.checks"):
        dropped = load_bars_from_config(compose_config(["data=csv", f"data.path={path}", "data.outliers=drop"]))
    assert len(dropped) == len(bars) - 1 and dropped["high"].max() < 1e4
    assert bars["timestamp"].iloc[i] not in set(dropped["timestamp"])
    assert f"dropped 1 outlier bar(s) (data.outliers=drop): row {i + 1} (line {i + 2})" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="opt.data.checks"):
        kept = load_bars_from_config(compose_config(["data=csv", f"data.path={path}", "data.outliers=keep"]))
    assert len(kept) == len(bars) and kept["high"].max() == 1e9
    assert "keeping 1 outlier bar(s) (data.outliers=keep)" in caplog.text
    loose = compose_config(["data=csv", f"data.path={path}", "data.outlier_k=2e9"])
    assert len(load_bars_from_config(loose)) == len(bars)  # K above the tick's ratio lets it through


# --- a block of rows with a wrong UTC offset, a wrong data.tz -------------------------------------------


def shift_second_half(lines: list[str], offset: str) -> list[str]:
    """``lines`` (header first) with the second half's ``Z`` replaced by ``offset``."""
    half = (len(lines) + 1) // 2
    return [*lines[:half], *(line.replace("Z,", f"{offset},", 1) for line in lines[half:])]


def test_es_rows_with_a_4_hour_offset_error_are_refused(tmp_path: Path) -> None:
    lines = es_lines(6000)
    later = write_lines(shift_second_half(lines, "-04:00"), tmp_path / "es_later.csv")  # 4 h later: no overlap
    message = load_error(later)
    assert str(later) in message and "break the rule 'bars must fall in trading hours" in message
    assert "(America/New_York)" in message and "is Wed 17:01 America/New_York" in message
    assert "a block of rows with a wrong UTC offset" in message
    earlier = write_lines(shift_second_half(lines, "+04:00"), tmp_path / "es_earlier.csv")  # 4 h earlier
    message = load_error(earlier)
    assert "timestamps must be unique" in message
    assert "row 3001 (line 3002) steps back 3 h 59 min from row 3000 (line 3001)" in message
    assert "a block of rows with a different UTC offset" in message


def test_synthetic_rows_with_a_4_hour_offset_error_are_refused(bars: pd.DataFrame, tmp_path: Path) -> None:
    lines = write_bars(bars, tmp_path / "bars.csv").read_text().splitlines()
    message = load_error(write_lines(shift_second_half(lines, "-04:00"), tmp_path / "later.csv"))
    assert "break the rule 'bars must fall in trading hours" in message


def test_a_wrong_data_tz_is_refused(bars: pd.DataFrame, tmp_path: Path) -> None:
    local = bars.assign(timestamp=bars["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d %H:%M"))
    path = tmp_path / "et_wall_clock.csv"
    local.to_csv(path, index=False)
    assert len(load_bars(path, tz="America/New_York")) == len(bars)
    message = load_error(path, tz="America/Chicago")  # ET wall clock read as Chicago: one hour late
    assert "bars must fall in trading hours" in message
    i = int(np.flatnonzero(bars["timestamp"] == pd.Timestamp("2025-09-08T20:01:00Z"))[0])  # Mon 16:01 ET
    assert f"row {i + 1} (line {i + 2}): 2025-09-08T21:01:00+00:00 is Mon 17:01 America/New_York" in message
    assert "or a data.tz that does not match the file" in message


# --- the real ES sample ---------------------------------------------------------------------------------


def test_real_es_sample_passes_the_checks_with_margin() -> None:
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV} (../shared/data/ES_1min.csv beside the repo)")
    from opt.data.checks import find_outliers

    bars = load_bars(ES_CSV)  # the default data.outlier_k=50
    assert len(bars) == 75_791
    assert not find_outliers(bars, k=34, window=390)[0].any()
    flagged, describe = find_outliers(bars, k=30, window=390)  # the rule is not vacuous on real data
    cpi = int(np.flatnonzero(bars["timestamp"] == pd.Timestamp("2025-09-11T12:30:00Z"))[0])  # 08:30 ET CPI
    assert flagged[cpi] and "range high-low=24.75" in describe(cpi)


# --- internals and config -------------------------------------------------------------------------------


def test_candidate_medians_match_pandas_rolling_medians() -> None:
    from opt.data.checks import _centered_median_at

    rng = np.random.default_rng(3)
    x = rng.integers(0, 9, 500) * 0.25
    groups = np.repeat(np.arange(5), [80, 1, 150, 19, 250])
    at = np.arange(len(x))
    for half in (7, 195):
        expected = pd.Series(x).rolling(2 * half + 1, center=True, min_periods=1).median().to_numpy()
        np.testing.assert_allclose(_centered_median_at(x, at, half), expected)
        by_group = pd.Series(x).groupby(groups).rolling(2 * half + 1, center=True, min_periods=1).median()
        starts = np.flatnonzero(np.diff(groups, prepend=-1))
        stops = np.append(starts[1:], len(x))
        within = (starts[groups], stops[groups])
        np.testing.assert_allclose(_centered_median_at(x, at, half, within=within), by_group.to_numpy())


def test_check_settings_default_to_the_shipped_config_and_follow_their_rules() -> None:
    from opt.data.checks import BarChecks

    assert BarChecks() == BarChecks.from_config(compose_config(["data=csv", "data.path=bars.csv"]))
    assert BarChecks.from_config(compose_config(["data.outliers=drop", "data.outlier_k=80"])).outlier_k == 80.0
    for override, message in [
        ("data.outliers=delete", "data.outliers='delete' breaks the rule: must be one of refuse | drop | keep"),
        ("data.outlier_k=1", "data.outlier_k=1 breaks the rule: must be > 1"),
        ("data.outlier_window=5", "data.outlier_window=5 breaks the rule: must be >= 15 bars"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_config(compose_config([override]))
        with pytest.raises(ConfigError, match=re.escape(message)):
            BarChecks.from_config(compose_config([override]))
