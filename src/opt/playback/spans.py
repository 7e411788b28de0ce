"""Which bars a playback shows, and the trades of a model's calls on them (no MLflow, no Optuna here).

- :func:`fold_spans`: the evaluation span of each walk-forward fold, rebuilt as
  :func:`opt.backtest.evaluate_walk_forward` builds them;
- :func:`best_fold`: the fold with the best net PnL (the default fold of a trial playback);
- :func:`bar_span`: the bars between two timestamps (``playback.start`` / ``playback.end``);
- :func:`confident_calls`: the confident calls of scored events (one order per bar and direction, DESIGN §8);
- :func:`score_span`: a model's calls and trades on the events of a span, by :func:`opt.backtest.evaluate_span`;
- :func:`fold_playback`: the page data of one fold of a stage-2 walk-forward.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from opt.backtest import atr_on, evaluate_span
from opt.backtest.signals import calls_to_orders
from opt.brackets import BracketParams
from opt.config_rules import cfg_value
from opt.dataset import EventDataset, MarketContext
from opt.errors import ConfigError
from opt.evaluation import walk_forward_folds
from opt.models import Classifier
from opt.playback._data import PlaybackData, playback_data

__all__ = ["bar_span", "best_fold", "confident_calls", "fold_playback", "fold_spans", "score_span", "with_proba"]


def fold_spans(cfg: Any, ds: EventDataset, n_bars: int) -> dict[int, tuple[int, int]]:
    """Fold index -> ``(eval_start_bar, eval_end_bar)`` of the walk-forward over ``ds`` (``split`` config).

    The folds the walk-forward skipped (too few training events, no evaluation event) are included: the
    trades frame's ``fold`` column says which were traded.
    """
    ev = ds.events
    folds = walk_forward_folds(ev["bar"].to_numpy(np.int64), ev["label_end_bar"].to_numpy(np.int64), n_bars,
                               n_folds=int(cfg.split.n_folds), min_train_fraction=float(cfg.split.min_train_fraction),
                               embargo_bars=int(cfg.split.embargo_bars))
    return {int(f.index): (int(f.eval_start_bar), int(f.eval_end_bar)) for f in folds}


def best_fold(trades: pd.DataFrame, spans: dict[int, tuple[int, int]]) -> int:
    """The fold of ``spans`` whose trades have the highest net PnL (currency); ties and no trades: the first.

    Raises:
        ValueError: ``spans`` is empty.
    """
    if not spans:
        raise ValueError("no walk-forward fold to play back")
    if trades.empty or "fold" not in trades:
        return min(spans)
    net = trades.groupby("fold")["pnl"].sum()
    net = net[net.index.isin(list(spans))]
    return int(net.index[int(np.argmax(net.to_numpy()))]) if len(net) else min(spans)


def bar_span(ctx: MarketContext, start: Any, end: Any) -> tuple[int, int]:
    """Bars ``[a, b)`` of ``ctx`` whose open time lies in ``[start, end]`` (None: the data's first/last bar).

    Args:
        ctx: the market context.
        start, end: timestamps (ISO 8601 text; naive = UTC) or None.

    Raises:
        ConfigError: a timestamp that does not parse (names ``playback.start``/``playback.end``), or
            ``end`` before ``start``.
    """
    def stamp(value: Any, key: str) -> int | None:
        if value is None or str(value) == "":
            return None
        try:
            ts = pd.Timestamp(str(value))
        except ValueError as exc:
            raise ConfigError(f"{key}={value!r} is not a timestamp (e.g. 2025-10-01 or 2025-10-01T13:30Z)") from exc
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.value)

    lo, hi = stamp(start, "playback.start"), stamp(end, "playback.end")
    if lo is not None and hi is not None and hi < lo:
        raise ConfigError(f"playback.end={end!r} is before playback.start={start!r}")
    a = 0 if lo is None else int(np.searchsorted(ctx.timestamps, lo, side="left"))
    b = ctx.n_bars if hi is None else int(np.searchsorted(ctx.timestamps, hi, side="right"))
    return a, max(a, b)


def with_proba(events: pd.DataFrame, proba: np.ndarray) -> pd.DataFrame:
    """``events`` with the model's ``p_break``, ``p_bounce``, ``p_chop`` (float ``(n, 3)`` ``proba``) added."""
    return events.assign(p_break=proba[:, 0], p_bounce=proba[:, 1], p_chop=proba[:, 2])


def confident_calls(cfg: Any, events: pd.DataFrame, proba: np.ndarray) -> pd.DataFrame:
    """The confident BREAK/BOUNCE calls of scored ``events`` (:func:`opt.backtest.calls_to_orders`, ``bracket`` config).

    Args:
        cfg: config with ``bracket`` and ``instrument``.
        events: the scored events (``bar``, ``side``, ``level_price``), sorted by bar.
        proba: float ``(n_events, 3)`` P(BREAK), P(BOUNCE), P(CHOP).

    Returns:
        One row per order: ``signal_bar``, ``direction`` (+1/-1), ``call`` (0 BREAK / 1 BOUNCE), ``proba``,
        ``level_price`` (points); market-context filters of the backtest are not applied.
    """
    bp = BracketParams.from_config(cfg_value(cfg, "bracket", where="config"),
                                   cfg_value(cfg, "instrument", where="config"))
    return calls_to_orders(proba, events, confidence=bp.confidence, direction=bp.direction)


def score_span(cfg: DictConfig, ctx: MarketContext, ds: EventDataset, model: Classifier, start: int
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Score the labelled events from bar ``start`` on with ``model`` and trade them as the backtest does.

    :func:`opt.backtest.evaluate_span` on the events with ``bar >= start`` (trades may run to the last bar).

    Returns:
        ``(events, calls, trades)``: those events with ``p_break``, ``p_bounce``, ``p_chop``; their
        confident calls (:func:`confident_calls`); the filled trades (:attr:`opt.backtest.SpanResult.trades`).
    """
    idx = np.flatnonzero(ds.events["bar"].to_numpy(np.int64) >= start)
    events = ds.events.iloc[idx].reset_index(drop=True)
    if len(idx) == 0:
        empty = pd.DataFrame({c: [] for c in ("signal_bar", "direction", "call", "proba", "level_price")})
        return with_proba(events, np.empty((0, 3))), empty, pd.DataFrame()
    atr = atr_on({}, ctx, int(cfg.bracket.atr_timeframe), int(cfg.levels.atr_period))
    span = evaluate_span(cfg, ds, ctx, atr, model, idx, start, ctx.n_bars)
    return with_proba(events, span.proba), confident_calls(cfg, events, span.proba), span.trades


def fold_playback(cfg: Any, ctx: MarketContext, ds: EventDataset, trades: pd.DataFrame, *, title: str,
                  fold: int | None = None, notes: list[str] | None = None) -> PlaybackData:
    """The playback of one walk-forward fold: ``fold``, or the one with the best net PnL (:func:`best_fold`).

    Args:
        cfg: the trial's config (``split``, ``levels``, ``events``, ``instrument``, ``playback.max_bars``,
            ``playback.margin_bars``).
        ctx: the search part's market context.
        ds: the trial's event dataset (its labels are shown).
        trades: the walk-forward trades (with ``fold``).
        title: the page title; the fold is appended.
        fold: the fold to show; None: the best.
        notes: extra lines under the title.

    Raises:
        ConfigError: ``fold`` is not a fold of the walk-forward.
    """
    spans = fold_spans(cfg, ds, ctx.n_bars)
    chosen = best_fold(trades, spans) if fold is None else int(fold)
    if chosen not in spans:
        raise ConfigError(f"playback.fold={fold} is not a walk-forward fold (folds: {sorted(spans)})")
    start, end = spans[chosen]
    mine = trades[trades["fold"] == chosen] if "fold" in trades and len(trades) else trades.iloc[0:0]
    why = "playback.fold" if fold is not None else "the best net PnL of the folds"
    net = float(mine["pnl"].sum()) if len(mine) else 0.0
    head = f"fold {chosen} ({why}): {len(mine):,} trades, net PnL {net:,.2f}"
    return playback_data(ctx, cfg, events=ds.events, trades=mine, start=start, end=end,
                         max_bars=int(cfg.playback.max_bars), margin_bars=int(cfg.playback.margin_bars),
                         title=f"{title}, fold {chosen}", notes=[head, *(notes or [])])
