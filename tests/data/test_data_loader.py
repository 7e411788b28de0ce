"""Loading bars: timestamp forms, formats, filters, config sources and the real ES sample (DESIGN §3)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import DictConfig, OmegaConf

from opt.data import BAR_COLUMNS, load_bars, load_bars_from_config
from opt.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
ES_SAMPLE = REPO.parent / "shared" / "data" / "ES_1min.csv"
HEADER = "timestamp,open,high,low,close,volume"
PRICES = "6450.00,6451.25,6449.50,6450.75,1200"


def write_csv(path: Path, stamps: list[str], header: str = HEADER, extra: str = "") -> Path:
    path.write_text("\n".join([header, *(f"{s},{PRICES}{extra}" for s in stamps)]) + "\n")
    return path


def utc(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s).tz_convert("UTC") for s in stamps]


def test_offsets_and_z_convert_to_utc(tmp_path: Path) -> None:
    stamps = [
        "2025-09-02T09:30:00-04:00",
        "2025-09-02T13:31:00Z",
        "2025-09-02T15:32:00+02:00",
        "2025-09-02 13:33:00+0000",
    ]
    bars = load_bars(write_csv(tmp_path / "offsets.csv", stamps), tz="Asia/Tokyo")  # tz ignored: offsets win
    assert list(bars["timestamp"]) == utc(*[f"2025-09-02T13:3{m}:00Z" for m in range(4)])
    assert str(bars["timestamp"].dtype) == "datetime64[ns, UTC]"


def test_naive_with_tz_chicago(tmp_path: Path) -> None:
    stamps = ["2025-09-02 08:30:00", "2025-12-01 08:30:00"]  # CDT (UTC-5), CST (UTC-6)
    bars = load_bars(write_csv(tmp_path / "chicago.csv", stamps), tz="America/Chicago")
    assert list(bars["timestamp"]) == utc("2025-09-02T13:30:00Z", "2025-12-01T14:30:00Z")


def test_canonical_frame_from_messy_header(tmp_path: Path) -> None:
    header = " Timestamp , OPEN,High,low,Close,VOLUME,symbol"
    path = write_csv(tmp_path / "messy.csv", ["2025-09-02T13:30:00Z", "2025-09-02T13:45:00Z"], header, ",ES")
    path.write_text(path.read_text() + "\n\n")  # trailing blank lines are tolerated
    bars = load_bars(path)
    assert tuple(bars.columns) == BAR_COLUMNS
    assert isinstance(bars.index, pd.RangeIndex) and len(bars) == 2  # the 15-minute gap is not filled
    assert bars.dtypes.iloc[1:].eq("float64").all()
    assert bars.loc[0, ["open", "high", "low", "close", "volume"]].tolist() == [
        6450.0,
        6451.25,
        6449.5,
        6450.75,
        1200.0,
    ]


def test_parquet_round_trip_and_gzip(tmp_path: Path) -> None:
    stamps = [f"2025-09-02T13:{m:02d}:00Z" for m in range(10)]
    bars = load_bars(write_csv(tmp_path / "bars.csv", stamps))
    for name in ("bars.parquet", "bars.pq"):
        bars.to_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(load_bars(tmp_path / name), bars)
    gz = tmp_path / "bars.csv.gz"
    gz.write_bytes(gzip.compress((tmp_path / "bars.csv").read_bytes()))
    pd.testing.assert_frame_equal(load_bars(gz), bars)


def test_parquet_naive_datetimes_use_tz(tmp_path: Path) -> None:
    frame = pd.DataFrame({"timestamp": pd.to_datetime(["2025-09-02 08:30", "2025-09-02 08:31"])})
    frame = frame.assign(open=1.0, high=2.0, low=0.5, close=1.5, volume=3)
    frame.to_parquet(tmp_path / "naive.parquet")
    with pytest.raises(DataError, match="set data.tz="):
        load_bars(tmp_path / "naive.parquet")
    bars = load_bars(tmp_path / "naive.parquet", tz="America/Chicago")
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2025-09-02T13:30:00Z")


def test_start_end_filter(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bars.csv", [f"2025-09-02T13:{m:02d}:00Z" for m in range(10)])
    bars = load_bars(path, start="2025-09-02 13:03", end="2025-09-02T09:07:00-04:00")
    assert list(bars["timestamp"]) == utc(*[f"2025-09-02T13:0{m}:00Z" for m in range(3, 7)])
    assert isinstance(bars.index, pd.RangeIndex) and bars.index[0] == 0
    with pytest.raises(
        DataError, match=r"bars.csv: no bars left after filtering with data.start=.* and data.end="
    ):
        load_bars(path, start="2026-01-01")
    with pytest.raises(ConfigError, match="data.start=.* must be before data.end="):
        load_bars(path, start="2025-09-03", end="2025-09-02")
    with pytest.raises(ConfigError, match="data.end='soon' is not a date/time"):
        load_bars(path, end="soon")


# --- load_bars_from_config ---------------------------------------------------------------------------


def make_cfg(data_choice: str, **data_overrides: object) -> DictConfig:
    """The data + instrument + levels part of the composed config, from the real conf/ files."""
    data = OmegaConf.load(REPO / "conf" / "data" / f"{data_choice}.yaml")
    cfg = OmegaConf.create(
        {
            "data": data,
            "instrument": OmegaConf.load(REPO / "conf" / "instrument" / "mes.yaml"),
            "levels": OmegaConf.load(REPO / "conf" / "levels" / "default.yaml"),  # levels.exchange_tz
        }
    )
    for key, value in data_overrides.items():
        OmegaConf.update(cfg, f"data.{key}", value)
    return cfg


def test_config_synthetic_with_filter() -> None:
    cfg = make_cfg("synthetic", **{"synthetic.n_days": 3, "start": "2025-01-07", "end": "2025-01-08T12:00"})
    bars = load_bars_from_config(cfg)
    assert bars["timestamp"].iloc[0] >= pd.Timestamp("2025-01-07T00:00Z")
    assert bars["timestamp"].iloc[-1] < pd.Timestamp("2025-01-08T12:00Z")
    assert ((bars["close"] / 0.25) % 1 == 0).all()
    with pytest.raises(ConfigError, match="data.synthetic.*n_days must be >= 1"):
        load_bars_from_config(make_cfg("synthetic", **{"synthetic.n_days": 0}))


def test_config_csv_relative_path_and_tz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_csv(tmp_path / "local.csv", ["2025-09-02 08:30:00", "2025-09-02 08:31:00"])
    monkeypatch.chdir(tmp_path)
    bars = load_bars_from_config(make_cfg("csv", path="local.csv", tz="America/Chicago"))
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2025-09-02T13:30:00Z")


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.path is not set .* pass data.path=/path/to/bars.csv"):
        load_bars_from_config(make_cfg("csv"))
    with pytest.raises(DataError, match=r"data file not found: .*missing.parquet"):
        load_bars_from_config(make_cfg("parquet", path=str(tmp_path / "missing.parquet")))
    with pytest.raises(
        ConfigError, match=r"data.source='ftp' is not supported; allowed values: synthetic, csv, parquet"
    ):
        load_bars_from_config(make_cfg("csv", source="ftp"))
    with pytest.raises(ConfigError, match=r"data.tz='Nowhere' is not a known IANA time zone"):
        load_bars_from_config(make_cfg("csv", path=str(tmp_path / "x.csv"), tz="Nowhere"))


def test_real_es_sample_loads() -> None:
    if not ES_SAMPLE.is_file():
        pytest.skip(f"real ES sample not found at {ES_SAMPLE} (expected ../shared/data next to the repo)")
    bars = load_bars(ES_SAMPLE)
    assert len(bars) == 75_791
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2025-08-31T22:00:00Z")
    assert bars["timestamp"].iloc[-1] == pd.Timestamp("2025-11-14T22:00:00Z")
