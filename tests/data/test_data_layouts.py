"""Vendor layouts a good loader reads, and a clear hint for the ones it does not (#14, DESIGN §3).

Each layout holds the same clean synthetic bars as a canonical file; what loads must equal the canonical load.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opt.data import load_bars, load_bars_from_config
from opt.errors import DataError

from tests.helpers.bar_files import clean_bars, write_bars
from tests.helpers.config import compose_config

ET = "America/New_York"
VALUES = ["Open", "High", "Low", "Close", "Volume"]


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """Two sessions, 2025-09-14 18:00 ET .. 2025-09-16 17:00 ET: days above 12 tell DD/MM from MM/DD."""
    return clean_bars(n_days=2, first_day="2025-09-15")


@pytest.fixture
def expected(bars: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    """The canonical file's load."""
    return load_bars(write_bars(bars, tmp_path / "canonical.csv"))


def vendor_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """The bars with capitalized value columns and the timestamps as exchange-local wall clock."""
    local = bars["timestamp"].dt.tz_convert(ET)
    out = bars.drop(columns="timestamp").rename(columns=str.capitalize)
    return out.assign(_local=local)


def load_error(path: Path, **kwargs: str) -> str:
    with pytest.raises(DataError) as info:
        load_bars(path, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    "date_format, time_format",
    [
        ("%Y-%m-%d", "%H:%M:%S"),
        ("%m/%d/%Y", "%H%M"),  # US vendors: 09/15/2025, 0930
        ("%Y%m%d", "%H%M%S"),  # 20250915, 093000
        ("%d.%m.%Y", "%H:%M"),  # European: 15.09.2025 (days above 12 tell the order)
    ],
)
def test_separate_date_and_time_columns(
    bars: pd.DataFrame, expected: pd.DataFrame, tmp_path: Path, date_format: str, time_format: str
) -> None:
    v = vendor_frame(bars)
    frame = pd.DataFrame({"Date": v["_local"].dt.strftime(date_format), "Time": v["_local"].dt.strftime(time_format)})
    path = tmp_path / "date_time.csv"
    pd.concat([frame, v[VALUES]], axis=1).to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_bars(path, tz=ET), expected)


def test_lower_case_date_time_and_a_datetime_column(bars: pd.DataFrame, expected: pd.DataFrame, tmp_path: Path) -> None:
    utc = bars["timestamp"]
    split = bars.drop(columns="timestamp").assign(date=utc.dt.strftime("%Y-%m-%d"), time=utc.dt.strftime("%H:%M") + "Z")
    split.to_csv(tmp_path / "split.csv", index=False)
    pd.testing.assert_frame_equal(load_bars(tmp_path / "split.csv"), expected)
    for name in ("Datetime", "time"):
        bars.rename(columns={"timestamp": name}).to_csv(tmp_path / f"{name}.csv", index=False)
        pd.testing.assert_frame_equal(load_bars(tmp_path / f"{name}.csv"), expected)


@pytest.mark.parametrize("sep, decimal", [(";", ","), (";", "."), ("\t", "."), ("|", ".")])
def test_delimiters_are_detected(
    bars: pd.DataFrame, expected: pd.DataFrame, tmp_path: Path, sep: str, decimal: str
) -> None:
    path = tmp_path / "bars.csv"
    bars.to_csv(path, index=False, sep=sep, decimal=decimal)
    pd.testing.assert_frame_equal(load_bars(path), expected)


@pytest.mark.parametrize("unit", ["s", "ms", "ns"])
def test_epoch_seconds_milliseconds_nanoseconds(bars: pd.DataFrame, expected: pd.DataFrame, tmp_path: Path, unit: str) -> None:
    epoch = (bars["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, unit=unit)
    path = tmp_path / f"epoch_{unit}.csv"
    bars.assign(timestamp=epoch).to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_bars(path), expected)
    bars.assign(timestamp=epoch).to_parquet(tmp_path / f"epoch_{unit}.parquet")
    pd.testing.assert_frame_equal(load_bars(tmp_path / f"epoch_{unit}.parquet"), expected)


def test_parquet_with_a_datetime_index(bars: pd.DataFrame, expected: pd.DataFrame, tmp_path: Path) -> None:
    bars.set_index("timestamp").to_parquet(tmp_path / "aware.parquet")
    pd.testing.assert_frame_equal(load_bars(tmp_path / "aware.parquet"), expected)
    naive = bars.set_index(bars["timestamp"].dt.tz_convert(ET).dt.tz_localize(None).rename("Datetime"))
    naive.drop(columns="timestamp").to_parquet(tmp_path / "naive.parquet")
    with pytest.raises(DataError, match="set data.tz="):
        load_bars(tmp_path / "naive.parquet")
    pd.testing.assert_frame_equal(load_bars(tmp_path / "naive.parquet", tz=ET), expected)


# --- refused, with what was found and how to convert ----------------------------------------------------


def test_unknown_column_names_get_a_rename_hint(bars: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    bars.rename(columns={"close": "Last", "volume": "Vol"}).to_csv(path, index=False)
    message = load_error(path)
    assert str(path) in message and "missing required column(s) close, volume" in message
    assert "found columns ['timestamp', 'open', 'high', 'low', 'Last', 'Vol']" in message
    assert "a Date and a Time column" in message
    assert "df.rename(columns={'Last': 'close', 'Vol': 'volume'})" in message


def test_an_unknown_delimiter_says_one_column_was_found(bars: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "spaces.csv"
    bars.head(30).to_csv(path, index=False, sep=" ")
    message = load_error(path)
    assert "found columns ['timestamp open high low close volume']" in message
    assert "only one column was found: the delimiter may be" in message


def test_digit_date_times_are_not_taken_for_epoch(bars: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "digits.csv"
    bars.assign(timestamp=bars["timestamp"].dt.strftime("%Y%m%d%H%M%S")).to_csv(path, index=False)
    message = load_error(path)
    assert "row 1 (line 2): 20250914220000" in message
    assert "neither epoch seconds" in message and "milliseconds" in message
    assert "pd.to_datetime(df['timestamp'].astype(str), format='%Y%m%d%H%M%S')" in message


def test_dates_that_cannot_tell_day_from_month_are_refused(tmp_path: Path) -> None:
    v = vendor_frame(clean_bars(n_days=2, first_day="2025-09-08"))  # 07/09/2025 .. 09/09/2025 only
    path = tmp_path / "ambiguous.csv"
    dates = pd.DataFrame({"Date": v["_local"].dt.strftime("%d/%m/%Y"), "Time": v["_local"].dt.strftime("%H:%M")})
    pd.concat([dates, v[VALUES]], axis=1).to_csv(path, index=False)
    message = load_error(path, tz=ET)
    assert "'07/09/2025'" in message and "DD/MM and MM/DD cannot be told apart" in message
    assert "write ISO dates YYYY-MM-DD" in message


def test_a_directory_as_data_path(tmp_path: Path) -> None:
    folder = tmp_path / "bars.parquet"  # a directory, even with a file-like name
    folder.mkdir()
    message = load_error(folder)
    assert message.startswith(f"{folder} is a directory; data.path must name a CSV or Parquet file")
    with pytest.raises(DataError, match="is a directory; data.path must name a CSV or Parquet file"):
        load_bars_from_config(compose_config(["data=parquet", f"data.path={folder}"]))
