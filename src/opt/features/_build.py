"""Assemble the feature matrix of level-touch events (DESIGN §6).

Columns, in order (``w`` runs over ``window_short``, ``window_mid``, ``window_long``; ATR = the
1-minute Wilder ATR at the touch bar u; "approach frame" = oriented by ``-side``, see
:mod:`opt.features._bars`):

=========================== ==========================================================================
``velocity_<w>``            close change over w bars per bar / ATR, approach frame
``acceleration_<w>``        second backward difference at lag w / w^2 / ATR, approach frame
``jerk_<w>``                third backward difference at lag w / w^3 / ATR, approach frame
``ofi_proxy_<w>``           signed-volume imbalance of the last w bars in [-1, 1], approach frame
``volume_z``                z-score of volume[u] over the last ``volume_z_window`` bars
``range_atr``               (high[u] - low[u]) / ATR
``dist_level_atr``          side * (close[u] - L) / ATR (negative = closed through the level)
``bars_entry_to_touch``     u - zone-entry bar
``touches_today``           earlier touches of this level instance (level, trading day)
``minutes_since_rth_open``  wall-clock minutes from the RTH open of the trading day (negative before)
``day_of_week``             trading day's weekday, 0 = Monday
``dist_above_atr``          distance to the nearest other active level at or above L / ATR (0: none)
``dist_below_atr``          distance to the nearest other active level below L / ATR (0: none)
``has_level_above``         1 if such a level exists, else 0
``has_level_below``         1 if such a level exists, else 0
``vwap_dist_atr``           (close[u] - session VWAP[u]) / ATR (0 while VWAP is unknown)
``side``                    +1 approach from above, -1 from below
``type_<t>``                one-hot level type, one column per entry of ``LEVEL_TYPES``
``custom_<c>``              column c of a ``features.custom`` function at u (NaN -> 0; :mod:`opt.features._custom`)
extra columns               from ``features.extra_path``, as-of joined (0 before the first row)
=========================== ==========================================================================

Undefined values (a window reaching before the first bar) are 0, so the frame has no NaN. Every
built-in column reads bars ``<= u`` only; a custom function must too (``python -m opt audit`` checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from opt.features._bars import kinematics, ofi_proxy, range_atr, volume_z
from opt.features._custom import custom_columns
from opt.features._extra import join_extra, load_extra
from opt.features._levels import neighbour_levels, signed_distance
from opt.features._params import FeatureParams
from opt.levels import LEVEL_TYPES

if TYPE_CHECKING:
    from opt.dataset import MarketContext

__all__ = ["compute_features", "feature_names"]


def feature_names(params: FeatureParams) -> list[str]:
    """Built-in feature column names for ``params`` (without extra columns)."""
    names = [f"{kind}_{w}" for w in params.windows for kind in ("velocity", "acceleration", "jerk")]
    names += [f"ofi_proxy_{w}" for w in params.windows]
    names += ["volume_z", "range_atr", "dist_level_atr", "bars_entry_to_touch", "touches_today"]
    names += ["minutes_since_rth_open", "day_of_week", "dist_above_atr", "dist_below_atr"]
    names += ["has_level_above", "has_level_below", "vwap_dist_atr", "side"]
    return names + [f"type_{t}" for t in LEVEL_TYPES]


def compute_features(
    ctx: MarketContext,
    events: pd.DataFrame,
    *,
    touches_before: np.ndarray,
    level_values_u: np.ndarray,
    own_column: np.ndarray,
    params: FeatureParams,
) -> pd.DataFrame:
    """Compute the features of events (columns in the module docstring).

    Args:
        ctx: the study's market context (bars, ATR, calendar, levels).
        events: ``(k,)`` rows with ``bar``, ``entry_bar``, ``timestamp``, ``level_type``,
            ``level_price``, ``side``, ``atr`` (see :func:`opt.dataset.build_event_dataset`).
        touches_before: int64 ``(k,)``, earlier touches of each event's level instance.
        level_values_u: float64 ``(k, m)``, the active levels at each event bar.
        own_column: int64 ``(k,)``, column of each event's level in ``level_values_u``.
        params: feature windows and the optional extra file.

    Returns:
        float64 frame ``(k, n_features)`` with the index of ``events`` and no NaN.

    Raises:
        ConfigError: if the extra-feature file is invalid or reuses a built-in name, or a
            ``features.custom`` function is invalid (:func:`opt.features._custom.custom_columns`).
    """
    bar = events["bar"].to_numpy(np.int64)
    side = events["side"].to_numpy(np.int64)
    price = events["level_price"].to_numpy(np.float64)
    atr_u = events["atr"].to_numpy(np.float64)
    cols: dict[str, np.ndarray] = {}
    for w in params.windows:
        cols.update(kinematics(ctx.close, atr_u, bar, side, w))
    for w in params.windows:
        cols[f"ofi_proxy_{w}"] = ofi_proxy(ctx.open, ctx.close, ctx.volume, bar, side, w)
    cols["volume_z"] = volume_z(ctx.volume, bar, params.volume_z_window)
    cols["range_atr"] = range_atr(ctx.high, ctx.low, atr_u, bar)
    cols["dist_level_atr"] = signed_distance(ctx.close[bar], price, side, atr_u)
    cols["bars_entry_to_touch"] = (bar - events["entry_bar"].to_numpy(np.int64)).astype(np.float64)
    cols["touches_today"] = np.asarray(touches_before, dtype=np.float64)
    cols["minutes_since_rth_open"] = ctx.calendar.minutes_since_rth_open[bar].astype(np.float64)
    cols["day_of_week"] = ctx.calendar.day_of_week[bar].astype(np.float64)
    cols.update(neighbour_levels(level_values_u, own_column, price, atr_u))
    vwap = ctx.levels.column("vwap_session")[bar]
    cols["vwap_dist_atr"] = np.where(np.isnan(vwap), 0.0, (ctx.close[bar] - vwap) / atr_u)
    cols["side"] = side.astype(np.float64)
    types = events["level_type"].to_numpy()
    for t in LEVEL_TYPES:
        cols[f"type_{t}"] = (types == t).astype(np.float64)
    for name, per_bar in custom_columns(ctx.bars, params.custom).items():
        cols[name] = np.nan_to_num(per_bar[bar], nan=0.0)  # the touch bar's row only
    features = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}, index=events.index)
    if params.extra_path is not None:
        extra = join_extra(events["timestamp"], load_extra(params.extra_path), set(features.columns))
        extra.index = events.index
        features = pd.concat([features, extra], axis=1)
    return features
