"""Loading 1-minute bars from files or from the composed config (DESIGN §3).

``load_bars`` reads CSV (``.csv``, ``.csv.gz``; delimiter ``,``, ``;``, tab or ``|`` and a decimal comma
with ``;`` detected) or Parquet (``.parquet``, ``.pq``), converts timestamps to UTC, validates
(:func:`~opt.data.validate.validate_bars`, which also reads the vendor layouts of :mod:`opt.data.layout`),
checks that the file holds 1-minute bars in trading hours without outliers
(:func:`~opt.data.checks.check_bars`) and applies the ``start``/``end`` filter. ``load_bars_from_config``
picks the source named by ``data.source``.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from opt.config_rules import check_value
from opt.data.checks import BarChecks, check_bars
from opt.data.synthetic import generate_synthetic_bars, trading_days_in_years
from opt.data.validate import check_tz, validate_bars
from opt.errors import ConfigError, DataError

__all__ = ["DATA_SOURCES", "load_bars", "load_bars_from_config"]

DATA_SOURCES = ("synthetic", "csv", "parquet")
_CSV_SUFFIXES = (".csv", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DELIMITERS = (",", ";", "\t", "|")
_DECIMAL_COMMA_RE = re.compile(r"(?:^|;)\s*-?\d+,\d+\s*(?:;|$)")


def load_bars(
    path: str | Path,
    *,
    tz: str | None = None,
    start: str | None = None,
    end: str | None = None,
    checks: BarChecks | None = None,
) -> pd.DataFrame:
    """Read, validate, check and filter a file of 1-minute bars.

    Args:
        path: CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file with the columns
            ``timestamp, open, high, low, close, volume`` (case-insensitive; extra columns dropped), or
            one of the vendor layouts of :mod:`opt.data.layout`.
        tz: IANA timezone of naive timestamps (``data.tz``); timestamps with an offset/``Z`` ignore it.
        start: keep bars at or after this time (inclusive); naive values are read as UTC.
        end: keep bars before this time (exclusive); naive values are read as UTC.
        checks: settings of :func:`~opt.data.checks.check_bars` (``data.outliers``, ``data.outlier_k``,
            ``data.outlier_window``, the exchange's trading day); None uses the shipped defaults.

    Returns:
        Bars of shape (n_rows, 6) as described in :func:`~opt.data.validate.validate_bars`.

    Raises:
        DataError: a directory, unsupported extension, missing or unreadable file, any validation rule,
            bars that are not 1-minute bars, lie in the exchange's closed hours or are outliers (with
            ``data.outliers=refuse``), or a ``start``/``end`` filter that leaves no rows.
        ConfigError: unknown ``tz``; unparseable ``start``/``end`` or ``start >= end``.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise DataError(f"{p} is a directory; data.path must name a CSV or Parquet file (e.g. {p / 'bars.csv'})")
    kind = _file_kind(p)
    check_tz(tz)
    bounds = _parse_bounds(start, end)
    if not p.is_file():
        raise DataError(f"data file not found: {p} (resolved to {p.resolve()})")
    raw = _read_csv(p) if kind == "csv" else _read_parquet(p)
    bars = validate_bars(raw, source=str(p), tz=tz)
    bars = check_bars(bars, checks if checks is not None else BarChecks(), source=str(p))
    return _filter(bars, bounds, source=str(p))


def load_bars_from_config(cfg: DictConfig | dict[str, Any]) -> pd.DataFrame:
    """Load the bars named by the composed config.

    ``data.source``: ``synthetic`` uses ``data.synthetic.*``, ``instrument.tick_size`` and
    ``levels.exchange_tz`` (all required; ``data.years``, when set, replaces ``data.synthetic.n_days``); ``csv``/``parquet`` read ``data.path`` (relative
    paths resolve against the current working directory) with ``data.tz`` and the checks of
    :class:`~opt.data.checks.BarChecks` (``data.outliers``, ``data.outlier_k``, ``data.outlier_window``,
    ``levels.exchange_tz``, ``levels.day_start``, ``levels.day_end``). All sources apply
    ``data.start``/``data.end``.

    Args:
        cfg: the full composed config (``DictConfig`` or a plain nested dict).

    Returns:
        Bars of shape (n_rows, 6) as described in :func:`~opt.data.validate.validate_bars`.

    Raises:
        ConfigError: unknown ``data.source``, missing ``data.path``, ``data.synthetic.*``,
            ``instrument.tick_size`` or ``levels.exchange_tz`` key, invalid synthetic parameter, unknown
            ``data.tz``, bad ``data.start``/``data.end``, a missing or bad key of the file checks.
        DataError: the file is missing or breaks a validation rule, or the filter leaves no rows.
    """
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    source = OmegaConf.select(cfg, "data.source")
    start, end = _optional_str(cfg, "data.start"), _optional_str(cfg, "data.end")
    if source == "synthetic":
        bounds = _parse_bounds(start, end)
        return _filter(_synthetic_from_config(cfg), bounds, source="synthetic")
    if source in ("csv", "parquet"):
        path = _data_path(cfg, source)
        checks = BarChecks.from_config(cfg)
        return load_bars(path, tz=_optional_str(cfg, "data.tz"), start=start, end=end, checks=checks)
    raise ConfigError(f"data.source={source!r} is not supported; allowed values: {', '.join(DATA_SOURCES)}")


def _synthetic_from_config(cfg: DictConfig) -> pd.DataFrame:
    """Generate the synthetic bars of ``data.synthetic.*``, ``instrument.tick_size``, ``levels.exchange_tz``."""
    keys = ("seed", "first_day", "n_days", "start_price", "annual_vol")
    syn = {k: _required(cfg, f"data.synthetic.{k}") for k in keys}
    years = OmegaConf.select(cfg, "data.years", default=None)
    if years is not None:  # data.years replaces data.synthetic.n_days
        syn["n_days"] = trading_days_in_years(check_value("data.years", years))
    tick_size = _required(cfg, "instrument.tick_size")
    exchange_tz = _required(cfg, "levels.exchange_tz")
    try:
        return generate_synthetic_bars(
            seed=int(syn["seed"]),
            first_day=str(syn["first_day"]),
            n_days=int(syn["n_days"]),
            start_price=float(syn["start_price"]),
            annual_vol=float(syn["annual_vol"]),
            tick_size=float(tick_size),
            exchange_tz=str(exchange_tz),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"invalid synthetic data config (data.synthetic / instrument.tick_size): {exc}"
        ) from exc


def _required(cfg: DictConfig, key: str) -> Any:
    """The value at dotted ``key``, checked by its rule in :data:`opt.config_rules.RULES` if it has one.

    Raises:
        ConfigError: naming ``key`` when it is absent, ``???`` or null, or breaks its rule.
    """
    try:
        value = OmegaConf.select(cfg, key, default=None, throw_on_missing=True)
    except MissingMandatoryValue:
        value = None
    if value is None:
        raise ConfigError(f"{key} is required but not set")
    return check_value(key, value)


def _data_path(cfg: DictConfig, source: str) -> Path:
    """``data.path`` as an absolute path (relative to the working directory); ConfigError when unset."""
    try:
        value = OmegaConf.select(cfg, "data.path", default=None, throw_on_missing=True)
    except MissingMandatoryValue:
        value = None
    if value is None or str(value).strip() in ("", "???"):
        raise ConfigError(
            f"data.path is not set for data.source={source}; pass data.path=/path/to/bars.{source}"
        )
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def _optional_str(cfg: DictConfig, key: str) -> str | None:
    """The value at dotted ``key`` as a string, or None when absent/null."""
    value = OmegaConf.select(cfg, key, default=None)
    return None if value is None else str(value)


def _file_kind(p: Path) -> str:
    """``csv`` or ``parquet`` from the file name; DataError for anything else."""
    name = p.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    allowed = ", ".join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)
    raise DataError(
        f"{p}: unsupported file extension {''.join(p.suffixes) or '(none)'!r}; use one of {allowed}"
    )


def _sniff_csv(p: Path) -> tuple[str, str]:
    """``(delimiter, decimal)`` of a CSV file from its first two non-blank lines.

    The delimiter is the most frequent of ``,``, ``;``, tab and ``|`` in the header (``,`` when none is
    there); with ``;``, numbers written with a decimal comma (``6450,25``) in the first data line mean
    ``decimal=","``.
    """
    lines: list[str] = []
    try:
        opener = gzip.open if p.name.lower().endswith(".gz") else open
        with opener(p, "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    lines.append(line.strip())
                if len(lines) == 2:
                    break
    except (OSError, EOFError):
        return ",", "."  # pandas says what is wrong with the file
    if not lines:
        return ",", "."
    counts = {d: lines[0].count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        return ",", "."
    comma = delimiter == ";" and len(lines) > 1 and _DECIMAL_COMMA_RE.search(lines[1]) is not None
    return delimiter, "," if comma else "."


def _read_csv(p: Path) -> pd.DataFrame:
    """Read a CSV keeping blank lines as rows, so row n stays on file line n + 1."""
    delimiter, decimal = _sniff_csv(p)
    try:
        raw = pd.read_csv(p, sep=delimiter, decimal=decimal, skip_blank_lines=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{p}: no data rows (the file is empty)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{p}: cannot be read as CSV: {exc}") from exc
    filled = raw.notna().any(axis=1).to_numpy()
    last = int(filled.nonzero()[0][-1]) + 1 if filled.any() else 0
    return raw.iloc[:last]  # drop trailing blank lines only


def _read_parquet(p: Path) -> pd.DataFrame:
    """Read a Parquet file; DataError when it is not one."""
    try:
        return pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several unrelated types for a corrupt file
        raise DataError(f"{p}: cannot be read as Parquet: {exc}") from exc


def _parse_bounds(start: str | None, end: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``data.start``/``data.end`` as UTC timestamps (naive values are read as UTC)."""
    bounds = tuple(_to_utc(v, key) for v, key in ((start, "data.start"), (end, "data.end")))
    lo, hi = bounds
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"data.start={start} must be before data.end={end}")
    return lo, hi


def _to_utc(value: str | None, key: str) -> pd.Timestamp | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{key}={value!r} is not a date/time (e.g. 2025-09-01 or 2025-09-01T13:30Z)"
        ) from exc
    if ts is pd.NaT:
        raise ConfigError(f"{key}={value!r} is not a date/time (e.g. 2025-09-01 or 2025-09-01T13:30Z)")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _filter(
    bars: pd.DataFrame, bounds: tuple[pd.Timestamp | None, pd.Timestamp | None], *, source: str
) -> pd.DataFrame:
    """Keep rows with start <= timestamp < end; DataError when none are left."""
    lo, hi = bounds
    if lo is None and hi is None:
        return bars
    keep = pd.Series(True, index=bars.index)
    if lo is not None:
        keep &= bars["timestamp"] >= lo
    if hi is not None:
        keep &= bars["timestamp"] < hi
    if not keep.any():
        raise DataError(
            f"{source}: no bars left after filtering with data.start={lo} and data.end={hi}; the data spans "
            f"{bars['timestamp'].iloc[0]} .. {bars['timestamp'].iloc[-1]} (UTC)"
        )
    return bars.loc[keep].reset_index(drop=True)
