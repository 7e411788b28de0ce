"""What a playback page shows, cut from a market context: bars, levels and zones, events, calls, trades.

:func:`playback_data` takes one span of a :class:`opt.dataset.MarketContext` (global bar indices
``[start, end)``), cuts it to at most ``max_bars`` bars around its trades (:func:`cut_window`) and keeps
the levels the config switches on (``levels.use``) with their zones (DESIGN §5): the touch band
``L +/- touch_band[type]`` and the monitor band ``L +/- (monitor_band[type] + k_atr x ATR)`` (points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value
from opt.dataset import MarketContext
from opt.events import event_params
from opt.levels import LEVEL_TYPES

__all__ = ["LevelTrack", "PlaybackData", "cut_window", "playback_data", "trade_direction"]

#: columns a trades frame must have (:attr:`opt.backtest.SpanResult.trades`)
TRADE_COLUMNS = ("signal_bar", "entry_bar", "entry_price", "stop_price", "target_price", "exit_bar", "exit_price",
                 "exit_reason_name", "pnl", "r_multiple", "call", "proba")
#: columns an events frame must have (:attr:`opt.dataset.EventDataset.events`)
EVENT_COLUMNS = ("bar", "level_name", "level_type", "level_price", "side", "label")


@dataclass(frozen=True)
class LevelTrack:
    """One level over the shown bars.

    Attributes:
        name: level name (``onh``, ``vwap_session``, ...).
        type: level type (an entry of :data:`opt.levels.LEVEL_TYPES`).
        values: float64 ``(n,)`` level price per shown bar, points; NaN where the level is not defined.
        touch: touch band half-width, points (``events.touch_band[type]``).
        monitor: float64 ``(n,)`` monitor band half-width per bar, points
            (``events.monitor_band[type] + events.k_atr x ATR``).
    """

    name: str
    type: str
    values: np.ndarray
    touch: float
    monitor: np.ndarray


@dataclass(frozen=True)
class PlaybackData:
    """Everything one playback page shows (bars are numbered globally, as in the trades frame).

    Attributes:
        title: page title.
        notes: lines shown under the title (what was played, what was cut).
        first_bar: global index of the first shown bar.
        bars: the shown bars: ``timestamp`` (UTC), ``open``, ``high``, ``low``, ``close`` (points).
        levels: the active levels defined on some shown bar.
        events: the events whose touch bar is shown: :data:`EVENT_COLUMNS` (``label`` -1 = no complete
            label window), optionally ``p_break``, ``p_bounce``, ``p_chop`` (the model's probabilities).
        calls: the model's confident calls (orders) on the shown bars: ``signal_bar``, ``direction``
            (+1/-1), ``call`` (0 BREAK / 1 BOUNCE), ``proba``, ``level_price``; may be empty.
        trades: the filled trades inside the shown bars: :data:`TRADE_COLUMNS` (prices in points, ``pnl``
            in currency, ``r_multiple`` in R) plus ``direction`` (+1/-1).
        tick_size: price tick, points (rounding of the page's numbers).
    """

    title: str
    notes: list[str]
    first_bar: int
    bars: pd.DataFrame
    levels: list[LevelTrack]
    events: pd.DataFrame
    calls: pd.DataFrame
    trades: pd.DataFrame
    tick_size: float = 0.25

    @property
    def n_bars(self) -> int:
        """Bars shown."""
        return len(self.bars)


def trade_direction(trades: pd.DataFrame) -> np.ndarray:
    """+1 long / -1 short of each trade: the side of the take-profit against the stop (int8 ``(n,)``)."""
    if trades.empty:
        return np.empty(0, np.int8)
    up = trades["target_price"].to_numpy(np.float64) > trades["stop_price"].to_numpy(np.float64)
    return np.where(up, 1, -1).astype(np.int8)


def cut_window(start: int, end: int, signal_bar: np.ndarray, exit_bar: np.ndarray, *, max_bars: int,
               margin_bars: int) -> tuple[int, int]:
    """The at most ``max_bars`` bars of ``[start, end)`` that hold the most whole trades.

    Candidate windows start ``margin_bars`` before a trade's signal bar (the first wins ties); with no
    trade, the span's first bars. A window that would run past ``end`` is moved back to end there.

    Args:
        start, end: the span, global bar indices (``end`` exclusive).
        signal_bar, exit_bar: int64 ``(k,)`` the trades' signal and exit bars.
        max_bars: most bars shown (>= 1).
        margin_bars: bars shown before the first trade of a cut window (>= 0).

    Returns:
        ``(w0, w1)``, ``start <= w0 < w1 <= end`` unless the span is empty (then ``(start, start)``).

    Raises:
        ValueError: ``max_bars`` < 1 or ``margin_bars`` < 0.
    """
    if max_bars < 1 or margin_bars < 0:
        raise ValueError(f"max_bars={max_bars} must be >= 1 and margin_bars={margin_bars} >= 0")
    if end - start <= max_bars:
        return start, max(start, end)
    sig = np.asarray(signal_bar, np.int64)
    ex = np.asarray(exit_bar, np.int64)
    inside = (sig >= start) & (ex < end)
    sig, ex = sig[inside], ex[inside]
    best, best_count = start, -1
    for s in np.unique(np.maximum(start, sig - margin_bars)):
        s = int(min(s, end - max_bars))
        count = int(np.count_nonzero((sig >= s) & (ex < s + max_bars)))
        if count > best_count:
            best, best_count = s, count
    return best, best + max_bars


def _levels(ctx: MarketContext, cfg: Any, w0: int, w1: int) -> list[LevelTrack]:
    """The switched-on levels (``levels.use``) defined on some bar of ``[w0, w1)``, with their bands."""
    use = cfg_value(cfg_value(cfg, "levels", where="config"), "use", where="levels")
    active = tuple(t for t in LEVEL_TYPES if cfg_value(use, t, where="levels.use"))
    ev = event_params(cfg_value(cfg, "events", where="config"), LEVEL_TYPES)
    atr = ctx.atr[w0:w1]
    out = []
    for j, (name, kind) in enumerate(zip(ctx.levels.names, ctx.levels.types, strict=True)):
        values = np.asarray(ctx.levels.values[w0:w1, j], np.float64)
        if kind not in active or not np.isfinite(values).any():
            continue
        monitor = float(ev.monitor_band[kind]) + float(ev.k_atr) * np.nan_to_num(atr, nan=0.0)
        out.append(LevelTrack(name=str(name), type=str(kind), values=values, touch=float(ev.touch_band[kind]),
                              monitor=monitor))
    return out


def playback_data(ctx: MarketContext, cfg: Any, *, events: pd.DataFrame, trades: pd.DataFrame,
                  calls: pd.DataFrame | None = None, start: int, end: int, max_bars: int, margin_bars: int,
                  title: str, notes: list[str] | None = None) -> PlaybackData:
    """Cut span ``[start, end)`` of ``ctx`` to a playback (module docstring).

    Args:
        ctx: the market context the events and trades index into.
        cfg: the config the events were built with (``levels.use``, ``events``, ``instrument.tick_size``).
        events: the events (:data:`EVENT_COLUMNS`, optional ``p_break``/``p_bounce``/``p_chop``); any bars.
        trades: the filled trades (:data:`TRADE_COLUMNS`); any bars.
        calls: the confident calls (module :class:`PlaybackData`), or None: the trades' own calls.
        start, end: the span, global bar indices (clipped to the context).
        max_bars: most bars shown (:func:`cut_window`).
        margin_bars: bars shown before the first trade of a cut window.
        title: the page title.
        notes: lines shown under the title; a line saying what was cut is added when the span is cut.

    Raises:
        ValueError: a frame lacks a column, or bad ``max_bars``/``margin_bars``.
    """
    for frame, cols, what in ((events, EVENT_COLUMNS, "events"), (trades, TRADE_COLUMNS, "trades")):
        missing = [c for c in cols if c not in frame.columns]
        if missing and not frame.empty:
            raise ValueError(f"{what} lack the column(s) {missing}")
    start, end = max(0, int(start)), min(ctx.n_bars, int(end))
    end = max(start, end)
    sig = trades["signal_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    ex = trades["exit_bar"].to_numpy(np.int64) if len(trades) else np.empty(0, np.int64)
    w0, w1 = cut_window(start, end, sig, ex, max_bars=max_bars, margin_bars=margin_bars)
    notes = list(notes or [])
    in_span = int(np.count_nonzero((sig >= start) & (sig < end)))
    keep = (sig >= w0) & (ex < w1)
    if (w0, w1) != (start, end):
        notes.append(f"the span has {end - start:,} bars and {in_span:,} trades; shown: the {w1 - w0:,} bars "
                     f"(playback.max_bars) holding the most trades, {int(keep.sum()):,} of them")
    shown = trades[keep].reset_index(drop=True) if len(trades) else trades.reset_index(drop=True)
    shown = shown.assign(direction=trade_direction(shown)) if len(shown) else shown.assign(direction=pd.Series(
        [], dtype=np.int8))
    ev = events[(events["bar"] >= w0) & (events["bar"] < w1)].reset_index(drop=True) if len(events) else events
    if calls is None:
        calls = pd.DataFrame({"signal_bar": shown["signal_bar"] if len(shown) else [],
                              "direction": shown["direction"] if len(shown) else [],
                              "call": shown["call"] if len(shown) else [],
                              "proba": shown["proba"] if len(shown) else [],
                              "level_price": np.full(len(shown), np.nan)})
    else:
        calls = calls[(calls["signal_bar"] >= w0) & (calls["signal_bar"] < w1)].reset_index(drop=True)
    bars = ctx.bars.iloc[w0:w1][["timestamp", "open", "high", "low", "close"]].reset_index(drop=True)
    tick = float(cfg_value(cfg_value(cfg, "instrument", where="config"), "tick_size", where="instrument"))
    return PlaybackData(title=title, notes=notes, first_bar=w0, bars=bars, levels=_levels(ctx, cfg, w0, w1),
                        events=ev, calls=calls, trades=shown, tick_size=tick)
