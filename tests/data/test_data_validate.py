"""Bad input is rejected with a DataError naming the file, the row(s) and the rule (DESIGN §3).

Each case writes a real CSV (or Parquet) file into tmp_path and loads it with ``load_bars``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opt.data import BAR_COLUMNS, load_bars, validate_bars
from opt.errors import ConfigError, DataError

HEADER = "timestamp,open,high,low,close,volume"
GOOD_ROWS = [
    "2025-09-02T13:30:00Z,6450.00,6451.25,6449.50,6450.75,1200",
    "2025-09-02T13:31:00Z,6450.75,6452.00,6450.25,6451.50,900",
    "2025-09-02T13:32:00Z,6451.50,6451.75,6450.00,6450.25,850",
    "2025-09-02T13:33:00Z,6450.25,6450.50,6449.00,6449.25,700",
    "2025-09-02T13:35:00Z,6449.25,6450.00,6448.75,6449.75,650",
]


def write_csv(tmp_path: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def with_row(index: int, row: str) -> list[str]:
    """GOOD_ROWS with 0-based data row ``index`` replaced by ``row``."""
    rows = list(GOOD_ROWS)
    rows[index] = row
    return rows


def load_error(path: Path, **kwargs: str) -> str:
    with pytest.raises(DataError) as info:
        load_bars(path, **kwargs)
    return str(info.value)


# (case id, rows, fragments the message must contain besides the file name)
ROW_RULE_CASES = [
    (
        "duplicate",
        with_row(2, "2025-09-02T13:31:00Z,6451.50,6451.75,6450.00,6450.25,850"),
        ["row 3 (line 4)", "repeats row 2 (line 3)", "timestamps must be unique"],
    ),
    (
        "unsorted",
        [GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[3], GOOD_ROWS[2], GOOD_ROWS[4]],
        ["row 4 (line 5)", "2025-09-02T13:32:00+00:00", "strictly increasing"],
    ),
    (
        "high_below_close",
        with_row(1, "2025-09-02T13:31:00Z,6450.75,6451.00,6450.25,6451.50,900"),
        ["row 2 (line 3)", "high=6451.0 < max(open=6450.75, close=6451.5)", "high >= max(open, close)"],
    ),
    (
        "high_below_low",
        with_row(3, "2025-09-02T13:33:00Z,6450.00,6449.00,6451.00,6450.00,700"),
        ["row 4 (line 5)", "high=6449.0", "high >= max(open, close)"],
    ),
    (
        "low_above_open",
        with_row(2, "2025-09-02T13:32:00Z,6451.50,6451.75,6451.50,6451.25,850"),
        ["row 3 (line 4)", "low=6451.5 > min(open=6451.5, close=6451.25)", "low <= min(open, close)"],
    ),
    (
        "nan_close",
        with_row(4, "2025-09-02T13:35:00Z,6449.25,6450.00,6448.75,,650"),
        ["row 5 (line 6)", "close=nan", "no NaN"],
    ),
    (
        "non_numeric",
        with_row(1, "2025-09-02T13:31:00Z,6450.75,6452.00,6450.25,abc,900"),
        ["row 2 (line 3)", "close='abc'", "must be numbers"],
    ),
    (
        "non_positive_price",
        with_row(0, "2025-09-02T13:30:00Z,0.25,6451.25,-1.0,6450.75,1200"),
        ["row 1 (line 2)", "low=-1.0", "prices must be > 0"],
    ),
    (
        "negative_volume",
        with_row(3, "2025-09-02T13:33:00Z,6450.25,6450.50,6449.00,6449.25,-5"),
        ["row 4 (line 5)", "volume=-5.0", "volume must be >= 0"],
    ),
    (
        "unparseable_timestamp",
        with_row(2, "not-a-time,6451.50,6451.75,6450.00,6450.25,850"),
        ["row 3 (line 4)", "timestamp='not-a-time'", "parseable ISO-8601"],
    ),
    (
        "impossible_date",
        with_row(1, "2025-13-45T13:31:00Z,6450.75,6452.00,6450.25,6451.50,900"),
        ["row 2 (line 3)", "2025-13-45", "parseable ISO-8601"],
    ),
    (
        "missing_timestamp",
        with_row(4, ",6449.25,6450.00,6448.75,6449.75,650"),
        ["row 5 (line 6)", "timestamp is missing", "parseable ISO-8601"],
    ),
]


@pytest.mark.parametrize(
    "rows, fragments", [c[1:] for c in ROW_RULE_CASES], ids=[c[0] for c in ROW_RULE_CASES]
)
def test_bad_row_names_file_row_and_rule(tmp_path: Path, rows: list[str], fragments: list[str]) -> None:
    path = write_csv(tmp_path, "bad_bars.csv", rows)
    message = load_error(path)
    assert str(path) in message
    assert "1 row(s) break the rule" in message
    for fragment in fragments:
        assert fragment in message


def test_missing_column_names_it_and_lists_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "no_volume.csv", [r.rsplit(",", 1)[0] for r in GOOD_ROWS], header=HEADER[:-7])
    message = load_error(path)
    assert str(path) in message
    assert "missing required column(s) volume" in message
    assert "found columns ['timestamp', 'open', 'high', 'low', 'close']" in message


@pytest.mark.parametrize("content", ["", HEADER + "\n"], ids=["zero_bytes", "header_only"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    message = load_error(path)
    assert str(path) in message and "no data rows" in message


def test_naive_timestamps_without_tz_say_set_data_tz(tmp_path: Path) -> None:
    rows = [r.replace("Z", "").replace("T", " ") for r in GOOD_ROWS]
    message = load_error(write_csv(tmp_path, "naive.csv", rows))
    assert "naive.csv" in message
    assert "5 timestamp(s) have no UTC offset" in message
    assert "row 1 (line 2): 2025-09-02T13:30:00" in message
    assert "set data.tz=<IANA name>" in message


def test_unknown_tz_is_a_config_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "bars.csv", GOOD_ROWS)
    with pytest.raises(ConfigError, match=r"data.tz='Mars/Olympus' is not a known IANA time zone"):
        load_bars(path, tz="Mars/Olympus")


@pytest.mark.parametrize(
    "stamp, kind",
    [
        ("2025-11-02 01:30:00", "ambiguous (DST fall-back)"),
        ("2025-03-09 02:30:00", "nonexistent (DST spring-forward)"),
    ],
)
def test_dst_ambiguous_or_nonexistent_local_time(tmp_path: Path, stamp: str, kind: str) -> None:
    rows = [
        "2025-11-01 12:00:00,6450.00,6451.25,6449.50,6450.75,1200",
        f"{stamp},6450.75,6452.00,6450.25,6451.50,9",
    ]
    message = load_error(write_csv(tmp_path, "dst.csv", rows), tz="America/Chicago")
    assert "dst.csv" in message
    assert f"row 2 (line 3): local time {stamp.replace(' ', 'T')} is {kind} in America/Chicago" in message
    assert "unambiguous local times in data.tz=America/Chicago" in message


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "bars.txt"
    path.write_text(HEADER + "\n" + GOOD_ROWS[0] + "\n")
    message = load_error(path)
    assert str(path) in message
    assert "unsupported file extension '.txt'" in message and ".csv, .csv.gz, .parquet, .pq" in message


def test_nonexistent_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "bars.csv"
    message = load_error(path)
    assert "data file not found" in message and str(path) in message


def test_many_bad_rows_list_five_and_count(tmp_path: Path) -> None:
    rows = [r.rsplit(",", 1)[0] + ",-1" for r in GOOD_ROWS]
    rows += [f"2025-09-02T14:{m:02d}:00Z,6450.00,6451.00,6449.00,6450.00,-2" for m in range(7)]
    message = load_error(write_csv(tmp_path, "many.csv", rows))
    assert "12 row(s) break the rule 'volume must be >= 0'" in message
    assert "row 5 (line 6)" in message and "row 6 (line 7)" not in message
    assert "... and 7 more" in message


def test_parquet_errors_name_rows_without_lines(tmp_path: Path) -> None:
    frame = pd.read_csv(write_csv(tmp_path, "x.csv", with_row(1, GOOD_ROWS[0])))
    path = tmp_path / "dup.parquet"
    frame.to_parquet(path)
    message = load_error(path)
    assert str(path) in message and "row 2: timestamp=2025-09-02T13:30:00+00:00 repeats row 1" in message
    assert "(line" not in message


def test_validate_bars_on_a_frame() -> None:
    raw = pd.DataFrame(
        {
            " Close ": [10.0, 11.0],
            "OPEN": [10.0, 10.5],
            "High": [10.5, 11.0],
            "low": [9.5, 10.0],
            "Volume": [3, 4],
            "TimeStamp": ["2025-01-02T14:30:00Z", "2025-01-02T09:31:00-05:00"],
            "symbol": ["ES", "ES"],
        },
        index=[7, 3],
    )
    bars = validate_bars(raw, source="memory")
    assert tuple(bars.columns) == BAR_COLUMNS
    assert isinstance(bars.index, pd.RangeIndex)
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(str(bars[c].dtype) == "float64" for c in BAR_COLUMNS[1:])
    assert bars["timestamp"].iloc[1] == pd.Timestamp("2025-01-02T14:31:00Z")
    bad = raw.assign(High=[10.5, 10.9])
    with pytest.raises(
        DataError, match=r"^memory: 1 row\(s\) break the rule 'high >= max\(open, close\)': row 2: "
    ):
        validate_bars(bad, source="memory")
