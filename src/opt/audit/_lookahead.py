"""Look-ahead check: nothing at bar t may change when the bars after t are removed or replaced.

At each cut bar t the states, events, features and labels are built on (i) all bars, (ii) ``bars[:t+1]``
(*removed*) and (iii) all bars with every bar after t replaced by valid random bars (*replaced*), and
compared (:mod:`opt.audit._states`):

- per-bar states (calendar, levels, ATRs, custom feature columns): rows ``<= t``;
- events with touch bar ``<= t`` (matched on bar and level): present in both, same fields
  (``entry_bar``, ``level_type``, ``level_price``, ``side``, ``trading_day``, ``atr``) and features;
- labels of the events whose label window ends by t (``label_end_bar <= t``).

Values agree when equal (NaN equals NaN) or, for floats, when ``|a - b| <= tolerance x max(1, |a|, |b|)``
(``audit.tolerance``; 0 is bit-exact). Each :class:`Difference` is the earliest differing bar of one
column in one comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.audit._states import Built, State, format_time
from opt.dataset import EventDataset

__all__ = ["EVENT_FIELDS", "Difference", "Raw", "agree", "choose_cuts", "compare_built", "compare_events",
           "compare_states", "garbage_after", "place"]

#: event columns compared besides the features (the label is compared where its window ends by the cut)
EVENT_FIELDS = ("entry_bar", "level_type", "level_price", "side", "trading_day", "atr")


@dataclass(frozen=True)
class Difference:
    """The earliest bar where one column differs between all bars and the cut data.

    Attributes:
        kind: ``calendar``, ``level``, ``ATR``, ``feature``, ``event``, ``label`` or ``champion``.
        column: the state, feature or event field (for ``event``/``label``: ``<level>`` or ``<level>.<field>``).
        bar: the bar (row in the full data).
        time: its open time, ``YYYY-MM-DD HH:MM UTC``.
        cut: cut number (1-based), ``cut_bar`` and ``cut_time`` its bar and time.
        variant: ``removed`` (bars after the cut cut off) or ``replaced`` (replaced by random bars).
        full, other: the values with all bars and with the cut data (text).
    """

    kind: str
    column: str
    bar: int
    time: str
    cut: int
    cut_bar: int
    cut_time: str
    variant: str
    full: str
    other: str

    @property
    def name(self) -> str:
        """``<kind> <column>``, e.g. ``feature custom_future_close``."""
        return f"{self.kind} {self.column}"

    def message(self) -> str:
        """One line, e.g. ``look-ahead: feature custom_x at 2025-09-03 14:31 UTC changes when bars after
        2025-09-03 14:31 UTC are removed (cut 3): 6512.25 -> 0.0``."""
        return (f"look-ahead: {self.name} at {self.time} changes when bars after {self.cut_time} are "
                f"{self.variant} (cut {self.cut}): {self.full} -> {self.other}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


#: a difference before it is placed at its cut: (kind, column, bar, full value, other value)
Raw = tuple[str, str, int, Any, Any]


def agree(a: np.ndarray, b: np.ndarray, *, tolerance: float) -> np.ndarray:
    """Elementwise agreement of two arrays of one shape (the rule of the module docstring).

    Args:
        a, b: arrays ``(n,)`` of one kind (float, int, bool or object).
        tolerance: float tolerance, >= 0 (relative to ``max(1, |a|, |b|)``).

    Returns:
        bool ``(n,)``.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        return np.asarray(a == b, dtype=bool)
    x, y = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        if tolerance > 0:
            scale = np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
            same |= np.abs(x - y) <= tolerance * scale
    return np.asarray(same, dtype=bool)


def _text(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.10g}"
    return str(value)


def garbage_after(bars: pd.DataFrame, t: int, *, seed: int) -> pd.DataFrame:
    """``bars`` with every row after ``t`` replaced by valid random bars (timestamps kept).

    Prices are drawn between 0.5x and 2x the close at ``t`` (positive, ``low <= open, close <= high``),
    volumes are random integers, so the data still passes :func:`opt.data.validate_bars`.

    Args:
        bars: ``(n,)`` validated bars, RangeIndex.
        t: the last bar kept, ``0 <= t < n``.
        seed: random seed.

    Returns:
        A new frame ``(n,)``.
    """
    rng = np.random.default_rng(seed)
    out = bars.copy()
    k = len(bars) - t - 1
    if k <= 0:
        return out
    ref = float(bars["close"].iloc[t])
    o, c = rng.uniform(0.5 * ref, 2.0 * ref, (2, k))
    wick = rng.uniform(0.0, 0.2 * ref, (2, k))
    out.loc[t + 1 :, "open"] = o
    out.loc[t + 1 :, "close"] = c
    out.loc[t + 1 :, "high"] = np.maximum(o, c) + wick[0]
    out.loc[t + 1 :, "low"] = np.maximum(np.minimum(o, c) - wick[1], 0.01 * ref)
    out.loc[t + 1 :, "volume"] = rng.integers(0, 10**6, k).astype(np.float64)
    return out


def choose_cuts(n_bars: int, event_bars: np.ndarray, *, n_cuts: int, first: int, seed: int) -> list[int]:
    """Seeded cut bars spread over ``[first, n_bars - 2]``, each on a touch bar when its stratum has one.

    The range is split into ``n_cuts`` equal strata; in each a bar is drawn at random and moved to the
    first event bar at or after it within the stratum (a feature that reads even one bar ahead then
    differs at the cut itself).

    Args:
        n_bars: bars in the data.
        event_bars: int ``(k,)``, sorted touch bars of the full data.
        n_cuts: cuts wanted, >= 1.
        first: first bar a cut may take (``events.warmup_bars``; 0 when the data is shorter).
        seed: random seed.

    Returns:
        Distinct sorted cut bars (fewer than ``n_cuts`` when the range is shorter).
    """
    rng = np.random.default_rng(seed)
    last = n_bars - 2  # at least one bar after every cut
    first = first if first <= last else 0
    if last < first:
        return []
    edges = np.linspace(first, last + 1, n_cuts + 1).astype(np.int64)
    cuts: set[int] = set()
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi <= lo:
            continue
        t = int(rng.integers(lo, hi))
        i = int(np.searchsorted(event_bars, t))
        cuts.add(int(event_bars[i]) if i < event_bars.shape[0] and event_bars[i] < hi else t)
    return sorted(cuts)


def _first_difference(a: np.ndarray, b: np.ndarray, *, tolerance: float) -> int | None:
    bad = np.flatnonzero(~agree(a, b, tolerance=tolerance))
    return int(bad[0]) if bad.size else None


def compare_states(full: dict[str, State], other: dict[str, State], t: int, *, tolerance: float) -> list[Raw]:
    """The earliest row ``<= t`` where each per-bar state differs.

    Args:
        full, other: state name -> :class:`State` of all bars and of the cut data.
        t: the cut bar.
        tolerance: see :func:`agree`.

    Returns:
        ``(kind, name, bar, full value, other value)`` per differing state; a state missing from
        ``other`` differs at bar 0.
    """
    out: list[Raw] = []
    for name, (kind, values) in full.items():
        if name not in other:
            out.append((kind, name, 0, "present", "missing"))
            continue
        a, b = values[: t + 1], other[name].values[: t + 1]
        i = _first_difference(a, b, tolerance=tolerance) if a.shape == b.shape else 0
        if i is not None:
            out.append((kind, name, i, a[i] if i < a.shape[0] else "?", b[i] if i < b.shape[0] else "?"))
    return out


def _matched(full: pd.DataFrame, other: pd.DataFrame, t: int) -> pd.DataFrame:
    """Events with bar <= t of both frames, outer-joined on (bar, level_name): columns i_full, i_other."""
    def keyed(events: pd.DataFrame, col: str) -> pd.DataFrame:
        part = events.loc[events["bar"].to_numpy() <= t, ["bar", "level_name"]]
        return part.assign(**{col: np.flatnonzero(events["bar"].to_numpy() <= t)})

    return keyed(full, "i_full").merge(keyed(other, "i_other"), on=["bar", "level_name"], how="outer",
                                       sort=True)


def compare_events(full: EventDataset, other: EventDataset, t: int, *, tolerance: float) -> list[Raw]:
    """Events with touch bar ``<= t``, their fields, features and (window ending by t) labels.

    Args:
        full, other: the event datasets of all bars and of the cut data (``keep_unlabelled=True``, so a
            touch near the cut is in both).
        t: the cut bar.
        tolerance: see :func:`agree`.

    Returns:
        ``(kind, column, bar, full value, other value)``: kind ``event`` (column = level, or
        ``<level>.<field>``) for an event on one side only or a differing field, ``feature`` for a
        feature column (earliest event), ``label`` for a label.
    """
    m = _matched(full.events, other.events, t)
    out: list[Raw] = []
    one_side = (m["i_full"].isna() | m["i_other"].isna()).to_numpy()
    in_full = m["i_full"].notna().to_numpy()
    seen: set[str] = set()
    for bar, level, present in zip(m["bar"].to_numpy()[one_side], m["level_name"].to_numpy()[one_side],
                                   in_full[one_side], strict=True):
        if str(level) not in seen:  # the earliest per level
            seen.add(str(level))
            out.append(("event", str(level), int(bar), *(("present", "absent") if present else ("absent", "present"))))
    both = m[~one_side]
    i_f, i_o = both["i_full"].to_numpy(np.int64), both["i_other"].to_numpy(np.int64)
    bars, levels = both["bar"].to_numpy(np.int64), both["level_name"].to_numpy()
    for col in EVENT_FIELDS:
        a, b = full.events[col].to_numpy()[i_f], other.events[col].to_numpy()[i_o]
        i = _first_difference(a, b, tolerance=tolerance)
        if i is not None:
            out.append(("event", f"{levels[i]}.{col}", int(bars[i]), a[i], b[i]))
    ended = full.events["label_end_bar"].to_numpy()[i_f] <= t
    a, b = full.events["label"].to_numpy()[i_f][ended], other.events["label"].to_numpy()[i_o][ended]
    i = _first_difference(a, b, tolerance=0.0)
    if i is not None:
        out.append(("label", str(levels[ended][i]), int(bars[ended][i]), a[i], b[i]))
    for col in full.features.columns:
        a = full.features[col].to_numpy()[i_f]
        b = other.features[col].to_numpy()[i_o] if col in other.features else np.full(a.shape, np.nan)
        i = _first_difference(a, b, tolerance=tolerance)
        if i is not None:
            out.append(("feature", str(col), int(bars[i]), a[i], b[i]))
    return out


def place(raw: list[Raw], *, cut: int, cut_bar: int, variant: str, timestamps: np.ndarray) -> Iterator[Difference]:
    """Turn raw differences of one comparison into :class:`Difference` rows at their cut.

    Args:
        raw: ``(kind, column, bar, full, other)`` tuples.
        cut: cut number (1-based); ``cut_bar`` its bar.
        variant: ``removed`` or ``replaced``.
        timestamps: int64 ``(n,)`` UTC epoch ns of the full data's bars.
    """
    for kind, column, bar, a, b in raw:
        yield Difference(kind=kind, column=column, bar=int(bar), time=format_time(timestamps[bar]), cut=cut,
                         cut_bar=cut_bar, cut_time=format_time(timestamps[cut_bar]), variant=variant,
                         full=_text(a), other=_text(b))


def compare_built(full: Built, other: Built, t: int, *, tolerance: float) -> list[Raw]:
    """:func:`compare_states` and :func:`compare_events` of two builds at cut ``t``.

    A custom feature whose per-bar column differs is reported once, at its earliest differing bar (its
    value at the events is that column's row).
    """
    states = compare_states(full.states, other.states, t, tolerance=tolerance)
    per_bar = {r[1] for r in states if r[0] == "feature"}
    events = [r for r in compare_events(full.ds, other.ds, t, tolerance=tolerance)
              if not (r[0] == "feature" and r[1] in per_bar)]
    return [*states, *events]
