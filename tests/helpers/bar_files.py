"""Bar files for the data-loading tests: clean synthetic bars, the real ES file's first rows, file writers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opt.data import generate_synthetic_bars

from tests.helpers.config import ES_CSV

HEADER = "timestamp,open,high,low,close,volume"


def clean_bars(n_days: int = 7, seed: int = 11, first_day: str = "2025-09-08") -> pd.DataFrame:
    """Seeded synthetic 1-minute bars (Globex sessions, daily breaks, weekends) that pass every file check."""
    return generate_synthetic_bars(
        seed=seed, first_day=first_day, n_days=n_days, start_price=6400.0, annual_vol=0.16, tick_size=0.25
    )


def write_bars(frame: pd.DataFrame, path: Path) -> Path:
    """Write canonical bars as CSV with ISO-8601 UTC timestamps (``2025-09-08T13:30:00Z``)."""
    out = frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    out.to_csv(path, index=False)
    return path


def es_lines(n_rows: int) -> list[str]:
    """The header and the first ``n_rows`` data lines of the real ES file; skips the test without it."""
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV} (../shared/data/ES_1min.csv beside the repo)")
    with ES_CSV.open() as fh:
        return [next(fh).rstrip("\n") for _ in range(n_rows + 1)]


def write_lines(lines: list[str], path: Path) -> Path:
    """Write text lines as a file (one per line)."""
    path.write_text("\n".join(lines) + "\n")
    return path
