"""Chronological splits of bars and events (DESIGN §7, §9): hold-out, walk-forward folds, stage-1 split.

All positions are bar indices into the time-sorted bar array. An event at bar ``u`` has the label
window ``[u, label_end_bar]`` (the bars its label looks at; ``label_end_bar = u + lookforward``).
Leakage control follows M. Lopez de Prado, *Advances in Financial Machine Learning* (Wiley 2018),
ch. 7 "Cross-Validation in Finance": purging and embargo.

For an evaluation window ``[eval_start_bar, eval_end_bar)``:

- train = events with ``bar < eval_start_bar`` and ``label_end_bar < eval_start_bar``: PURGE drops the
  training events whose label window reaches into the evaluation window (their labels would be built
  from evaluation bars);
- eval = events with ``eval_start_bar + embargo_bars <= bar`` and ``label_end_bar < eval_end_bar``:
  EMBARGO drops the evaluation events in the first ``embargo_bars`` bars after the boundary, whose
  features (rolling windows, ATR, session levels) overlap the training bars, and evaluation events
  whose label window leaves the window are dropped so no label reads bars of the next fold or of the
  hold-out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opt.config_rules import check_value
from opt.errors import ConfigError

__all__ = ["Fold", "holdout_split", "walk_forward_folds", "single_split"]


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/evaluation split of the events.

    Attributes:
        index: Fold number, 0 for the earliest.
        train: Positions of the training events in the event arrays, int64, ascending, read-only.
        eval: Positions of the evaluation events, int64, ascending, read-only.
        eval_start_bar: First bar of the evaluation window.
        eval_end_bar: One past the last bar of the evaluation window.
    """

    index: int
    train: np.ndarray
    eval: np.ndarray
    eval_start_bar: int
    eval_end_bar: int


def _floor_share(share: float, n: int) -> int:
    """``floor(share * n)``, robust to float error such as ``0.7 * 100 = 70.00000000000001``."""
    return int(math.floor(share * n + 1e-9))


def holdout_split(
    timestamps: pd.Series | np.ndarray, trading_day: np.ndarray, *, test_fraction: float
) -> int:
    """First bar of the hold-out test part (``split.test_fraction``, DESIGN §9), on a trading-day start.

    The test part starts at the first bar of the trading day that contains bar
    ``floor((1 - test_fraction) * n_bars)``, so no trading day is split between search and test.

    Args:
        timestamps: Bar timestamps (int64 ns, datetime64 or tz-aware), shape ``(n_bars,)``, strictly
            increasing; used to check the bar order.
        trading_day: Trading day of each bar (any int64 day code), shape ``(n_bars,)``, non-decreasing.
        test_fraction: Share of bars held out, in ``[0, 0.9)``; 0 holds out nothing.

    Returns:
        Bar index ``h``: the search uses bars ``[0, h)``, the test part ``[h, n_bars)``; ``n_bars`` when
        ``test_fraction == 0``.

    Raises:
        ConfigError: ``test_fraction`` out of range, or the test part would cover every bar.
        ValueError: Mismatched lengths, unsorted timestamps or trading days.
    """
    test_fraction = check_value("split.test_fraction", test_fraction)
    ts = _order_keys(timestamps)
    day = np.asarray(trading_day, dtype=np.int64)
    if ts.shape != day.shape or ts.ndim != 1:
        raise ValueError(
            f"timestamps and trading_day must have the same shape (n_bars,): {ts.shape}, {day.shape}"
        )
    if np.any(np.diff(ts) <= 0) or np.any(np.diff(day) < 0):
        raise ValueError("timestamps must be strictly increasing and trading_day non-decreasing")
    n_bars = day.size
    if test_fraction == 0.0 or n_bars == 0:
        return n_bars
    cut = min(_floor_share(1.0 - test_fraction, n_bars), n_bars - 1)
    start = int(np.searchsorted(day, day[cut], side="left"))
    if start == 0:
        raise ConfigError(
            f"split.test_fraction={test_fraction} leaves no bars for the search: the data starts in the "
            "trading day where the test part would begin"
        )
    return start


def _order_keys(timestamps: pd.Series | np.ndarray) -> np.ndarray:
    """int64 keys with the order of ``timestamps`` (only the order is used; the unit does not matter).

    int64 and datetime64 arrays are viewed, not converted; a tz-aware Series goes through its int64
    values. Only an array of Python ``datetime`` objects is parsed element by element (slow).
    """
    if isinstance(timestamps, np.ndarray) and timestamps.dtype.kind in "iuM":
        return timestamps.astype(np.int64, copy=False) if timestamps.dtype.kind != "M" else timestamps.view(np.int64)
    return pd.DatetimeIndex(timestamps).asi8


def _check_events(event_bar: np.ndarray, label_end_bar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    event_bar = np.asarray(event_bar, dtype=np.int64)
    label_end_bar = np.asarray(label_end_bar, dtype=np.int64)
    if event_bar.ndim != 1 or event_bar.shape != label_end_bar.shape:
        raise ValueError(
            f"event_bar and label_end_bar must have shape (n_events,): {event_bar.shape}, {label_end_bar.shape}"
        )
    if np.any(np.diff(event_bar) < 0):
        raise ValueError("event_bar must be sorted ascending")
    if np.any(label_end_bar < event_bar):
        raise ValueError("label_end_bar must be >= event_bar")
    return event_bar, label_end_bar


def _check_embargo(embargo_bars: int) -> int:
    """``split.embargo_bars`` checked by its rule (>= 0 bars)."""
    return int(check_value("split.embargo_bars", embargo_bars))


def _readonly(positions: np.ndarray) -> np.ndarray:
    positions = positions.astype(np.int64)
    positions.setflags(write=False)
    return positions


def _fold(
    index: int, event_bar: np.ndarray, label_end_bar: np.ndarray, start: int, end: int, embargo_bars: int
) -> Fold:
    train = (event_bar < start) & (label_end_bar < start)
    evaluate = (event_bar >= start + embargo_bars) & (event_bar < end) & (label_end_bar < end)
    return Fold(
        index=index,
        train=_readonly(np.flatnonzero(train)),
        eval=_readonly(np.flatnonzero(evaluate)),
        eval_start_bar=int(start),
        eval_end_bar=int(end),
    )


def walk_forward_folds(
    event_bar: np.ndarray,
    label_end_bar: np.ndarray,
    n_bars: int,
    *,
    n_folds: int,
    min_train_fraction: float,
    embargo_bars: int,
) -> list[Fold]:
    """Expanding-window walk-forward folds over the search bars ``[0, n_bars)`` (stage 2, DESIGN §9).

    The first ``floor(min_train_fraction * n_bars)`` bars only train; the rest is cut into ``n_folds``
    evaluation windows of equal length (integer boundaries, differing by at most one bar). Fold ``i``
    trains on every purged event before its window (so training windows expand) and evaluates on the
    embargoed events inside it (rules in the module docstring). Events at or after ``n_bars`` (the
    hold-out) are never used.

    Args:
        event_bar: Bar of each event, int64, shape ``(n_events,)``, sorted ascending.
        label_end_bar: Last bar of each event's label window, int64, shape ``(n_events,)``.
        n_bars: Number of search bars (the hold-out start from :func:`holdout_split`).
        n_folds: Number of evaluation windows, >= 1 (``split.n_folds``).
        min_train_fraction: Share of the bars before the first window, in ``(0, 1)``
            (``split.min_train_fraction``).
        embargo_bars: Bars after each window start without evaluation events, >= 0 (``split.embargo_bars``).

    Returns:
        ``n_folds`` folds in chronological order; a fold's ``train`` or ``eval`` may be empty.

    Raises:
        ConfigError: A value out of range, naming the ``split.*`` key, or windows shorter than one bar.
        ValueError: Malformed event arrays.
    """
    n_folds = check_value("split.n_folds", n_folds)
    min_train_fraction = check_value("split.min_train_fraction", min_train_fraction)
    embargo_bars = _check_embargo(embargo_bars)
    event_bar, label_end_bar = _check_events(event_bar, label_end_bar)
    first = _floor_share(min_train_fraction, n_bars)
    if n_bars - first < n_folds:
        raise ConfigError(
            f"split.n_folds={n_folds} windows do not fit in the {n_bars - first} bars after "
            f"split.min_train_fraction={min_train_fraction} of {n_bars} bars"
        )
    bounds = [first + (i * (n_bars - first)) // n_folds for i in range(n_folds + 1)]
    return [
        _fold(i, event_bar, label_end_bar, bounds[i], bounds[i + 1], embargo_bars) for i in range(n_folds)
    ]


def single_split(
    event_bar: np.ndarray, label_end_bar: np.ndarray, n_bars: int, *, eval_fraction: float, embargo_bars: int
) -> Fold:
    """The stage-1 split: train before, evaluate on the last ``eval_fraction`` of the search bars.

    The evaluation window is ``[floor((1 - eval_fraction) * n_bars), n_bars)`` with the same purge and
    embargo as :func:`walk_forward_folds`.

    Args:
        event_bar: Bar of each event, int64, shape ``(n_events,)``, sorted ascending.
        label_end_bar: Last bar of each event's label window, int64, shape ``(n_events,)``.
        n_bars: Number of search bars.
        eval_fraction: Share of bars in the evaluation window, in ``(0, 1)`` (``split.eval_fraction``).
        embargo_bars: Bars after the window start without evaluation events, >= 0 (``split.embargo_bars``).

    Returns:
        One :class:`Fold` with ``index == 0``.

    Raises:
        ConfigError: ``eval_fraction`` or ``embargo_bars`` out of range.
        ValueError: Malformed event arrays.
    """
    eval_fraction = check_value("split.eval_fraction", eval_fraction)
    embargo_bars = _check_embargo(embargo_bars)
    event_bar, label_end_bar = _check_events(event_bar, label_end_bar)
    start = _floor_share(1.0 - eval_fraction, n_bars)
    return _fold(0, event_bar, label_end_bar, start, n_bars, embargo_bars)
