"""What the audit compares: the per-bar states of a context and the event dataset built on some bars.

A *state* is one per-bar array of the pipeline with a kind that names it in the report:

- ``calendar``: every column of :class:`opt.sessions.SessionCalendar` (``trading_day``, ...);
- ``level``: every level column (``onh`` .. ``vwap_weekly``), NaN while unknown;
- ``ATR``: ``atr_1m`` (the 1-minute Wilder ATR of events, features and labels) and ``atr_<m>m``, the
  ATR of completed ``m``-minute bars the bracket stop uses (``bracket.atr_timeframe``);
- ``feature``: the per-bar columns of the ``features.custom`` functions (``custom_<c>``, NaN kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value
from opt.dataset import EventDataset, MarketContext, build_context, build_event_dataset
from opt.features import feature_params
from opt.features._custom import custom_columns
from opt.indicators import timeframe_atr

__all__ = ["Built", "State", "atr_name", "build", "format_time", "per_bar_states"]


class State(NamedTuple):
    """One per-bar state: its kind (``calendar``, ``level``, ``ATR``, ``feature``) and values ``(n,)``."""

    kind: str
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class Built:
    """The context, per-bar states and event dataset of one set of bars.

    Attributes:
        ctx: the market context.
        states: state name -> :class:`State` (see the module docstring), every array ``(n_bars,)``.
        ds: the event dataset with ``keep_unlabelled`` as asked (label -1 where the window is cut).
    """

    ctx: MarketContext
    states: dict[str, State]
    ds: EventDataset


def atr_name(minutes: int) -> str:
    """State name of the ATR of ``minutes``-minute bars: ``atr_1m``, ``atr_15m``."""
    return f"atr_{int(minutes)}m"


def per_bar_states(ctx: MarketContext, cfg: Any, *, timeframes: Sequence[int]) -> dict[str, State]:
    """The per-bar states of ``ctx`` (module docstring), in report order.

    Args:
        ctx: the market context of the bars.
        cfg: the composed config (``levels.atr_period``, ``features.custom``).
        timeframes: minutes of the bracket ATRs to add (1 is ``atr_1m`` itself).

    Returns:
        State name -> :class:`State`, arrays ``(ctx.n_bars,)``.

    Raises:
        ConfigError: a bad ``levels.atr_period`` or ``features.custom`` entry.
    """
    out = {f.name: State("calendar", np.asarray(getattr(ctx.calendar, f.name))) for f in fields(ctx.calendar)}
    for j, name in enumerate(ctx.levels.names):
        out[name] = State("level", ctx.levels.values[:, j])
    out[atr_name(1)] = State("ATR", ctx.atr)
    period = cfg_value(cfg_value(cfg, "levels", where="config"), "atr_period", where="levels")
    for minutes in sorted({int(m) for m in timeframes} - {1}):
        out[atr_name(minutes)] = State("ATR", timeframe_atr(ctx.bars, minutes, period))
    specs = feature_params(cfg_value(cfg, "features", where="config")).custom
    for name, values in custom_columns(ctx.bars, specs).items():
        out[name] = State("feature", values)
    return out


def build(bars: pd.DataFrame, cfg: Any, *, timeframes: Sequence[int], keep_unlabelled: bool = True) -> Built:
    """Build the context, the per-bar states and the event dataset of ``bars`` with ``cfg``.

    Args:
        bars: validated 1-minute bars ``(n,)`` (``timestamp`` UTC, OHLCV).
        cfg: the composed config.
        timeframes: bracket ATR timeframes, minutes (see :func:`per_bar_states`).
        keep_unlabelled: passed to :func:`opt.dataset.build_event_dataset`.

    Returns:
        The :class:`Built` of the bars.

    Raises:
        ConfigError: an invalid config value or custom feature.
    """
    ctx = build_context(bars.reset_index(drop=True), cfg)
    return Built(ctx=ctx, states=per_bar_states(ctx, cfg, timeframes=timeframes),
                 ds=build_event_dataset(ctx, cfg, keep_unlabelled=keep_unlabelled))


def format_time(ns: int | np.integer[Any]) -> str:
    """``2025-09-02 14:31 UTC`` for UTC epoch nanoseconds (bar open time)."""
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
