"""Features describing the touched level and its neighbours at bar u (DESIGN §6)."""

from __future__ import annotations

import numpy as np

__all__ = ["neighbour_levels", "signed_distance"]


def signed_distance(
    close_u: np.ndarray, price: np.ndarray, side: np.ndarray, atr_u: np.ndarray
) -> np.ndarray:
    """Distance of the touch-bar close from the level, ``side * (close[u] - L) / ATR[u]``.

    Positive = the close is still on the approach side; negative = it closed through the level.

    Returns:
        float64 ``(k,)``, ATR multiples.
    """
    return side * (close_u - price) / atr_u


def neighbour_levels(
    values_u: np.ndarray, own: np.ndarray, price: np.ndarray, atr_u: np.ndarray
) -> dict[str, np.ndarray]:
    """Distance from the touched level to the nearest other active level above and below it.

    Args:
        values_u: float64 ``(k, m)``, the active levels at each event bar (NaN = unknown).
        own: int64 ``(k,)``, column of the touched level in ``values_u``.
        price: float64 ``(k,)``, the touched level's price at u.
        atr_u: float64 ``(k,)``, ATR at u, points.

    Returns:
        ``dist_above_atr`` / ``dist_below_atr`` (float64 ``(k,)``, >= 0, ATR multiples; a level at
        the same price counts as above with distance 0; 0 when there is none) and
        ``has_level_above`` / ``has_level_below`` (1.0 / 0.0) telling whether one exists.
    """
    k, m = values_u.shape
    diff = values_u - price[:, None]
    other = np.ones((k, m), dtype=bool)
    other[np.arange(k), own] = False
    other &= np.isfinite(diff)
    above = np.where(other & (diff >= 0), diff, np.inf).min(axis=1, initial=np.inf)
    below = np.where(other & (diff < 0), -diff, np.inf).min(axis=1, initial=np.inf)
    has_above, has_below = np.isfinite(above), np.isfinite(below)
    return {
        "dist_above_atr": np.where(has_above, above, 0.0) / atr_u,
        "dist_below_atr": np.where(has_below, below, 0.0) / atr_u,
        "has_level_above": has_above.astype(np.float64),
        "has_level_below": has_below.astype(np.float64),
    }
