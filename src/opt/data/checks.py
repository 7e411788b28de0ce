"""Is a bar file what it claims: 1-minute bars of an open market, without bad ticks? (DESIGN §3)

:func:`~opt.data.validate.validate_bars` checks every row against the format rules; :func:`check_bars`
then checks the file as a whole (files only: :func:`opt.data.load_bars` calls it). Rows are named as in
validation (1-based data rows, with the file line for CSV). All checks are vectorized.

1. **Spacing.** The most common step between consecutive bars within a session (steps up to
   :data:`SESSION_GAP_MINUTES`; with fewer than :data:`MIN_INTERVALS` of those, all steps) must be one
   minute; a file whose typical step is 5 minutes is refused as "5-minute bars". Missing minutes, session
   breaks and weekends are fine. Files with fewer than :data:`MIN_INTERVALS` steps are not judged. (The
   most common step, not the median, so that a thin market where most minutes have no trade still passes.)
2. **Trading hours.** No bar may fall where the exchange is closed: strictly between ``levels.day_end`` and
   ``levels.day_start`` (the daily break, 17:00-18:00 ET for CME; a bar stamped exactly at either time is
   fine), or in the weekend (Friday after ``day_end`` to Sunday before ``day_start``), in
   ``levels.exchange_tz``. A block of rows with a wrong UTC offset, or a wrong ``data.tz``, lands there: a
   4-hour shift moves the 13:00-14:00 ET bars into the daily break.
3. **Outliers** (bad ticks, impossible jumps). With ``s`` the median bar range (high - low) over a
   centered window of ``data.outlier_window`` bars (never below half the file's median non-zero range,
   so flat stretches do not make it 0), a bar is an outlier when

   - its range exceeds ``data.outlier_k x s`` (a bad high or low, e.g. a tick at 1e9);
   - its high or low lies more than ``data.outlier_k x s`` from the local price level, the median close of
     the :data:`LEVEL_WINDOW` bars around it within its session (a bar, or a few, printed away from the
     market: the level follows a genuine jump after half the window, a spike it does not follow);
   - it follows the previous bar by exactly one minute and its open (an impossible in-session jump) or its
     close (the close-to-close return) is more than ``data.outlier_k x s`` away from the previous close,
     unless the previous bar is itself an outlier by range or level (the way back from a spike is not a
     second outlier).

   A session's first bar (the file's first, or after a step over :data:`SESSION_GAP_MINUTES`) may hold
   the session gap inside its range (some vendors, and opt's own generator, open it at the previous
   close): its range is not judged, and its high and low may lie near the local level or near the
   previous close, so a genuine weekend gap is no outlier while a bad tick still is.

   ``data.outliers``: ``refuse`` (default) raises a ``DataError`` naming the rows, values and rule;
   ``drop`` removes those bars and logs how many; ``keep`` keeps them with a warning. On the real ES
   sample (2025-08-31..2025-11-14) the largest ratios are range 33 x s (a CPI release), level 23 x s,
   return 21 x s and jump 11 x s, so the default ``data.outlier_k=50`` passes it with margin, while a
   tick at 1e9 is hundreds of millions of times ``s``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from omegaconf import DictConfig, OmegaConf

from opt.config_rules import cfg_value, check_fields, clock_minutes
from opt.data.validate import RowReporter
from opt.errors import ConfigError, DataError

__all__ = ["LEVEL_WINDOW", "MIN_INTERVALS", "SESSION_GAP_MINUTES", "BarChecks", "check_bars", "find_outliers"]

log = logging.getLogger(__name__)

#: steps between bars up to this long (minutes) count as "within a session" for the spacing rule
SESSION_GAP_MINUTES = 60
#: fewest steps between bars the spacing rule needs to judge a file
MIN_INTERVALS = 20
#: bars in the centered window whose median close is the local price level (odd)
LEVEL_WINDOW = 15
_NS_PER_MINUTE = 60_000_000_000
_CHUNK = 4096  # candidate windows evaluated at once

_KEYS = {
    "outliers": "data.outliers",
    "outlier_k": "data.outlier_k",
    "outlier_window": "data.outlier_window",
    "exchange_tz": "levels.exchange_tz",
    "day_start": "levels.day_start",
    "day_end": "levels.day_end",
}


@dataclass(frozen=True)
class BarChecks:
    """The settings of :func:`check_bars`: ``data.outliers``, ``data.outlier_k``, ``data.outlier_window``
    and the exchange's trading day from ``levels`` (``exchange_tz``, ``day_start``, ``day_end``).

    The defaults are the shipped config (``conf/data/csv.yaml``, ``conf/levels/default.yaml``), for callers
    of :func:`opt.data.load_bars` without a config; :meth:`from_config` reads the composed config. Every
    field is checked by the rule of its key (:data:`opt.config_rules.RULES`).
    """

    outliers: str = "refuse"
    outlier_k: float = 50.0
    outlier_window: int = 390
    exchange_tz: str = "America/New_York"
    day_start: str = "18:00"
    day_end: str = "17:00"

    def __post_init__(self) -> None:
        check_fields(self, _KEYS)

    @classmethod
    def from_config(cls, cfg: DictConfig | dict[str, Any]) -> BarChecks:
        """The checks of the composed config.

        Raises:
            ConfigError: naming a missing key or a value that breaks its rule.
        """
        cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
        fields: dict[str, Any] = {}
        for name, dotted in _KEYS.items():
            group = dotted.split(".")[0]
            node = OmegaConf.select(cfg, group, default=None)
            if node is None:
                raise ConfigError(f"{dotted} is missing from the config (no '{group}' group)")
            fields[name] = cfg_value(node, dotted.split(".")[1], where=group)
        return cls(**fields)


def check_bars(bars: pd.DataFrame, checks: BarChecks, *, source: str) -> pd.DataFrame:
    """Check a validated bar frame as a whole (spacing, trading hours, outliers: module docstring).

    Args:
        bars: the frame returned by :func:`~opt.data.validate.validate_bars`, rows in file order.
        checks: the settings.
        source: the file named in errors (``.csv``/``.csv.gz`` names get file line numbers).

    Returns:
        ``bars``, or with ``checks.outliers == "drop"`` a copy without the outlier bars (RangeIndex).

    Raises:
        DataError: not 1-minute bars; bars in the exchange's closed hours; outliers with
            ``outliers=refuse``; all bars outliers with ``outliers=drop``.
    """
    report = RowReporter(source)
    ns = bars["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    _check_spacing(ns, bars["timestamp"], report)
    _check_trading_hours(ns, bars["timestamp"], checks, report)
    flagged, describe = find_outliers(bars, k=checks.outlier_k, window=checks.outlier_window)
    if not flagged.any():
        return bars
    positions = np.flatnonzero(flagged)
    rule = (
        f"no outlier bars: a bar's range, its distance from the local price level, and its open and close "
        f"moves from the previous minute's close are at most data.outlier_k={checks.outlier_k:g} x the "
        f"rolling median range (data.outlier_window={checks.outlier_window} bars)"
    )
    if checks.outliers == "refuse":
        raise report.error(
            rule,
            positions,
            describe,
            "bad ticks look like this; set data.outliers=drop to remove these bars, data.outliers=keep to keep "
            "them, or raise data.outlier_k if they are genuine",
        )
    listed = report.listing(positions, describe)
    if checks.outliers == "keep":
        log.warning("%s: keeping %d outlier bar(s) (data.outliers=keep): %s", source, len(positions), listed)
        return bars
    if len(positions) == len(bars):
        raise report.error(rule, positions, describe, "every bar is an outlier: nothing would be left to drop")
    log.warning("%s: dropped %d outlier bar(s) (data.outliers=drop): %s", source, len(positions), listed)
    return bars.loc[~flagged].reset_index(drop=True)


def find_outliers(bars: pd.DataFrame, *, k: float, window: int) -> tuple[np.ndarray, Callable[[int], str]]:
    """The outlier bars of the module docstring (rule 3).

    Only bars whose statistics exceed ``k`` x the scale floor can be outliers, so the rolling medians are
    evaluated at those candidates only (few in real data), in vectorized chunks.

    Args:
        bars: canonical bars (``timestamp``, ``open``, ``high``, ``low``, ``close``), shape (n_rows, >= 5).
        k: ``data.outlier_k``.
        window: ``data.outlier_window`` (bars; the centered window holds ``2 * (window // 2) + 1``).

    Returns:
        ``(flagged, describe)``: boolean mask of shape (n_rows,), and a function of a 0-based row that
        says which rule(s) the row breaks, with the values.
    """
    o, h, lo, c = (np.asarray(bars[col], dtype=np.float64) for col in ("open", "high", "low", "close"))
    n = len(c)
    ns = bars["timestamp"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    step = np.diff(ns)
    prev_close = np.empty(n)
    prev_close[:1] = np.nan
    prev_close[1:] = c[:-1]
    new_session = np.ones(n, dtype=bool)
    new_session[1:] = step > SESSION_GAP_MINUTES * _NS_PER_MINUTE
    rng = h - lo
    judged_range = np.where(new_session, 0.0, rng)  # a session's first bar may hold the session gap
    positive = rng[rng > 0]
    if len(positive):
        floor = 0.5 * float(np.median(positive))
    else:  # every bar flat: any move is large
        floor = max(1e-4 * float(np.median(np.abs(c))) if n else 0.0, 1e-12)
    consecutive = np.zeros(n, dtype=bool)
    consecutive[1:] = step == _NS_PER_MINUTE
    jump = np.where(consecutive, np.abs(o - prev_close), 0.0)
    ret = np.where(consecutive, np.abs(c - prev_close), 0.0)
    near_min, near_max = _nearby_min_max(c, LEVEL_WINDOW // 2)
    bound = k * floor  # no threshold is below this
    candidates = np.flatnonzero(
        (judged_range > bound) | (jump > bound) | (ret > bound) | (h - near_min > bound) | (near_max - lo > bound)
    )
    flagged = np.zeros(n, dtype=bool)
    if len(candidates) == 0:
        return flagged, lambda i: ""
    scale, level, dev_high, dev_low = (np.full(n, np.nan) for _ in range(4))
    at = candidates  # everything below is evaluated at the candidates only
    starts = np.flatnonzero(new_session)  # the level stays within the session of the bar
    session = np.searchsorted(starts, at, side="right") - 1
    stops = np.append(starts[1:], n)
    level[at] = _centered_median_at(c, at, LEVEL_WINDOW // 2, within=(starts[session], stops[session]))
    dev_high[at], dev_low[at] = np.abs(h[at] - level[at]), np.abs(lo[at] - level[at])
    first = at[new_session[at]]  # a session's first bar: high and low may also sit at the previous close
    dev_high[first] = np.fmin(dev_high[first], np.abs(h[first] - prev_close[first]))
    dev_low[first] = np.fmin(dev_low[first], np.abs(lo[first] - prev_close[first]))
    largest = np.maximum.reduce([judged_range[at], jump[at], ret[at], dev_high[at], dev_low[at]])
    at = at[largest > bound]  # the wide median of the scale only where a statistic is above the floor
    scale[at] = np.maximum(_centered_median_at(rng, at, window // 2), floor)
    dev = np.maximum(dev_high, dev_low)
    limit = k * scale
    by_range, by_level, by_jump, by_ret = (np.zeros(n, dtype=bool) for _ in range(4))
    by_range[at] = judged_range[at] > limit[at]
    by_level[at] = dev[at] > limit[at]
    spike = by_range | by_level
    after = at[at > 0]
    calm = ~spike[after - 1]  # the way back from a spike is not a second outlier
    by_jump[after] = calm & (jump[after] > limit[after])
    by_ret[after] = calm & (ret[after] > limit[after])
    flagged = spike | by_jump | by_ret

    def describe(i: int) -> str:
        s = scale[i]

        def times(x: float) -> str:
            return f"{x / s:.3g} x the rolling median range {s:g}"

        parts = []
        if by_range[i]:
            parts.append(f"range high-low={rng[i]:g} (high={h[i]:g}, low={lo[i]:g}) is {times(rng[i])}")
        if by_level[i]:
            name, value = ("high", h[i]) if dev_high[i] >= dev_low[i] else ("low", lo[i])
            where = f"the local price level {level[i]:g}"
            if new_session[i] and np.isfinite(prev_close[i]):
                where += f" and from the previous close {prev_close[i]:g}"
            parts.append(f"{name}={value:g} is {dev[i]:g} from {where}: {times(dev[i])}")
        if by_jump[i]:
            parts.append(
                f"open={o[i]:g} jumps {jump[i]:g} from the previous minute's close {prev_close[i]:g}: {times(jump[i])}"
            )
        if by_ret[i]:
            parts.append(
                f"close={c[i]:g} moves {ret[i]:g} from the previous minute's close {prev_close[i]:g}: "
                f"{times(ret[i])}"
            )
        return "; ".join(parts)

    return flagged, describe


def _centered_median_at(
    x: np.ndarray, at: np.ndarray, half: int, *, within: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Median of ``x[i - half .. i + half]`` for each ``i`` in ``at`` (fewer values at the ends).

    With ``within = (start, stop)`` (one pair per element of ``at``), only positions in
    ``[start, stop)`` count (sessions: the price level does not reach across a session break).
    """
    width = 2 * half + 1
    pad = np.full(half, np.nan)
    windows = sliding_window_view(np.concatenate([pad, x, pad]), width)
    offsets = np.arange(-half, half + 1)
    out = np.empty(len(at))
    for start in range(0, len(at), _CHUNK):
        idx = at[start:start + _CHUNK]
        vals = windows[idx]
        if within is not None:
            pos = idx[:, None] + offsets
            keep = (pos >= within[0][start:start + _CHUNK, None]) & (pos < within[1][start:start + _CHUNK, None])
            vals = np.where(keep, vals, np.nan)
        vals = np.sort(vals, axis=1)  # NaN last; np.nanmedian is much slower on many short rows
        count = np.isfinite(vals).sum(axis=1)
        rows = np.arange(len(idx))
        out[start:start + _CHUNK] = 0.5 * (vals[rows, (count - 1) // 2] + vals[rows, count // 2])
    return out


def _nearby_min_max(x: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of ``x[i - half .. i + half]`` for every ``i``, cheaply.

    The minimum and maximum over the blocks of ``half + 1`` values holding ``i`` and its neighbour blocks:
    that span covers ``x[i - half .. i + half]``, so the bounds hold (a candidate filter needs no more).
    """
    n, size = len(x), half + 1
    m = -(-n // size) * size
    lo = np.full(m, np.inf)
    lo[:n] = x
    hi = np.full(m, -np.inf)
    hi[:n] = x
    bounds = []
    for padded, pad, reduce in ((lo, np.inf, np.minimum), (hi, -np.inf, np.maximum)):
        block = reduce.reduce(padded.reshape(-1, size), axis=1)
        wide = np.concatenate([[pad], block, [pad]])
        near = reduce(reduce(wide[:-2], wide[1:-1]), wide[2:])
        bounds.append(np.repeat(near, size)[:n])
    return bounds[0], bounds[1]


def _check_spacing(ns: np.ndarray, ts: pd.Series, report: RowReporter) -> None:
    """Rule 1 of the module docstring: the typical step between bars is one minute."""
    minutes = np.diff(ns) // _NS_PER_MINUTE  # > 0 and whole after validation
    inside = minutes[minutes <= SESSION_GAP_MINUTES]
    pool = inside if len(inside) >= MIN_INTERVALS else minutes
    if len(pool) < MIN_INTERVALS:
        return
    values, counts = np.unique(pool, return_counts=True)
    typical = int(values[np.argmax(counts)])
    if typical == 1:
        return
    i = int(np.flatnonzero(minutes == typical)[0])
    if typical % 1440 == 0:
        kind = "daily" if typical == 1440 else f"{typical // 1440}-day"
    elif typical % 60 == 0:
        kind = f"{typical // 60}-hour"
    else:
        kind = f"{typical}-minute"
    raise DataError(
        f"{report.source}: breaks the rule 'bars must be 1-minute bars: the most common step between "
        f"consecutive bars within a session is 1 minute': the most common step is {typical} minutes "
        f"({int(counts.max())} of {len(pool)} steps; e.g. {report.row(i)}: {ts.iloc[i].isoformat()} -> "
        f"{report.row(i + 1)}: {ts.iloc[i + 1].isoformat()}); this looks like {kind} bars, and opt needs "
        "1-minute bars (one row per traded minute; missing minutes are fine): export 1-minute bars from the "
        "data source"
    )


def _check_trading_hours(ns: np.ndarray, ts: pd.Series, checks: BarChecks, report: RowReporter) -> None:
    """Rule 2 of the module docstring: no bar in the exchange's daily break or weekend."""
    tz = checks.exchange_tz
    day_start, day_end = clock_minutes(checks.day_start), clock_minutes(checks.day_end)
    utc = ns // _NS_PER_MINUTE
    # UTC offsets change on quarter hours only: convert each quarter hour once, not every bar
    quarter = utc // 15
    starts = np.flatnonzero(np.concatenate([[True], quarter[1:] != quarter[:-1]]))  # sorted: runs
    first = quarter[starts] * 15
    local_first = pd.DatetimeIndex(first * _NS_PER_MINUTE, tz="UTC").tz_convert(tz).tz_localize(None)
    offset = local_first.asi8 // _NS_PER_MINUTE - first
    wall = utc + np.repeat(offset, np.diff(np.append(starts, len(utc))))  # local minutes since 1970
    date, minute = np.divmod(wall, 1440)
    weekday = (date + (minute >= day_start) + 3) % 7  # of the trading day (as opt.sessions); 0 = Monday
    closed = weekday >= 5
    if day_start > day_end:
        closed |= (minute > day_end) & (minute < day_start)
    if not closed.any():
        return
    rule = (
        f"bars must fall in trading hours: the exchange is closed between levels.day_end={checks.day_end} and "
        f"levels.day_start={checks.day_start} and from Friday {checks.day_end} to Sunday {checks.day_start} "
        f"({tz})"
    )
    raise report.error(
        rule,
        np.flatnonzero(closed),
        lambda i: f"{ts.iloc[i].isoformat()} is {ts.iloc[i].tz_convert(tz):%a %H:%M} {tz}",
        "a block of rows with a wrong UTC offset (e.g. exchange-local times written with Z or another "
        "offset) or a data.tz that does not match the file lands in the closed hours; check the timestamps "
        "from the first row listed back to the last regular session break",
    )
