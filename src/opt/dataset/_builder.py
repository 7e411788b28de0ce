"""Per-trial event dataset: events, labels and features for one set of stage-1 parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opt.config_rules import cfg_value
from opt.dataset._context import MarketContext
from opt.events import OutcomeParams, detect_touches, event_params, label_outcomes, outcome_params
from opt.features import compute_features, feature_params
from opt.levels import LEVEL_TYPES

__all__ = ["EventDataset", "build_event_dataset"]


@dataclass(frozen=True, eq=False)
class EventDataset:
    """Labelled level-touch events and their features.

    Attributes:
        events: one row per event, sorted by bar (then level column), RangeIndex. Columns:
            ``bar`` (int64, touch bar u), ``timestamp`` (UTC, open time of u), ``entry_bar``
            (int64), ``level_name``, ``level_type``, ``level_price`` (float64, points, L at u),
            ``side`` (int64, +1 from above / -1 from below), ``label`` (int64, index into
            ``LABELS``; -1 = no complete label window, see ``keep_unlabelled``), ``label_end_bar``
            (int64, u + lookforward), ``trading_day`` (int64, days since 1970-01-01), ``atr``
            (float64, points at u).
        features: float64, same index, no NaN (columns in :mod:`opt.features._build`).
    """

    events: pd.DataFrame
    features: pd.DataFrame

    @property
    def y(self) -> np.ndarray:
        """Labels, int64 ``(n_events,)``: 0 = BREAK, 1 = BOUNCE, 2 = CHOP."""
        return self.events["label"].to_numpy(np.int64)

    def __len__(self) -> int:
        return len(self.events)


def _active_types(cfg: Any) -> tuple[str, ...]:
    use = cfg_value(cfg_value(cfg, "levels", where="config"), "use", where="levels")
    return tuple(t for t in LEVEL_TYPES if cfg_value(use, t, where="levels.use"))


def build_event_dataset(ctx: MarketContext, cfg: Any, *, keep_unlabelled: bool = False) -> EventDataset:
    """Build the labelled event dataset of one trial (DESIGN §5, §6).

    Only levels whose type is switched on in ``cfg.levels.use`` produce events or count as
    neighbours. Touches on the first ``events.warmup_bars`` bars are no events (states not settled yet).
    Events whose label window ``u+1 .. u+lookforward`` runs past the last bar are dropped,
    unless ``keep_unlabelled``: then they are kept with ``label = -1`` (their features read bars
    ``<= u`` only, so live prediction can score the touches of the last bars). Their
    ``label_end_bar`` (``u + lookforward``) lies past the last bar; never train or score on them.

    Args:
        ctx: the study's :class:`MarketContext`.
        cfg: the composed config; reads ``levels.use``, ``events``, ``outcome``, ``features``.
        keep_unlabelled: keep the touches without a complete label window (label -1).

    Returns:
        The :class:`EventDataset` (possibly empty, with all columns).

    Raises:
        ConfigError: on a missing or invalid config value or extra-feature file.
    """
    ev = event_params(cfg_value(cfg, "events", where="config"), LEVEL_TYPES)
    oc = outcome_params(cfg_value(cfg, "outcome", where="config"))
    fp = feature_params(cfg_value(cfg, "features", where="config"))
    columns = ctx.levels.indices_of_types(_active_types(cfg))
    values = ctx.levels.values  # all levels, read in place: a trial copies no per-bar level data
    types = [ctx.levels.types[c] for c in columns]
    raw = detect_touches(
        ctx.close,
        ctx.high,
        ctx.low,
        ctx.atr,
        ctx.calendar.trading_day,
        values,
        columns=columns,
        monitor_band=np.array([ev.monitor_band[t] for t in types], dtype=np.float64),
        touch_band=np.array([ev.touch_band[t] for t in types], dtype=np.float64),
        k_atr=ev.k_atr,
        max_wait=ev.max_wait,
        cooldown=ev.cooldown,
    )
    raw = raw[raw[:, 0] >= ev.warmup_bars]
    complete = raw[:, 0] + oc.lookforward < ctx.n_bars
    if not keep_unlabelled:
        raw, complete = raw[complete], complete[complete]
    bar, entry, own, side, touches = (np.ascontiguousarray(raw[:, i]) for i in range(5))
    price = values[bar, columns[own]]
    atr_u = ctx.atr[bar]
    names = np.array([ctx.levels.names[c] for c in columns] + [""], dtype=object)
    type_arr = np.array(types + [""], dtype=object)
    events = pd.DataFrame(
        {
            "bar": bar,
            "timestamp": pd.to_datetime(ctx.timestamps[bar], utc=True),
            "entry_bar": entry,
            "level_name": names[own],
            "level_type": type_arr[own],
            "level_price": price,
            "side": side,
            "label": _labels(ctx, bar, price, side, complete, oc),
            "label_end_bar": bar + oc.lookforward,
            "trading_day": ctx.calendar.trading_day[bar],
            "atr": atr_u,
        }
    )
    features = compute_features(
        ctx, events, touches_before=touches, level_values_u=values[np.ix_(bar, columns)], own_column=own,
        params=fp,
    )
    return EventDataset(events=events, features=features)


def _labels(ctx: MarketContext, bar: np.ndarray, price: np.ndarray, side: np.ndarray, complete: np.ndarray,
            oc: OutcomeParams) -> np.ndarray:
    """Labels (int64 ``(k,)``, ``outcome.method``) of the events whose label window is ``complete``; -1 for the others."""
    out = np.full(bar.shape[0], -1, dtype=np.int64)
    out[complete] = label_outcomes(oc, high=ctx.high, low=ctx.low, close=ctx.close, atr=ctx.atr, bar=bar[complete],
                                   level_price=price[complete], side=side[complete])
    return out
