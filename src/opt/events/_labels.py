"""Outcome labels of level-touch events (DESIGN §5).

For an event at bar u on level price L (the level's value at u), approach side s and threshold
``thr`` (points), the bars u+1 .. u+lookforward are scanned in order; the first bar that reaches
either barrier decides:

- side +1 (from above): BREAK if ``low <= L - thr``; BOUNCE if ``high >= L + thr``;
- side -1 (from below): BREAK if ``high >= L + thr``; BOUNCE if ``low <= L - thr``;
- a bar that reaches both barriers, or no bar reaching either, gives CHOP.

The label is the only quantity of the dataset that reads bars after u.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from opt.schema import BOUNCE, BREAK, CHOP, CLASS_NAMES

__all__ = ["BREAK", "BOUNCE", "CHOP", "LABELS", "label_events"]

LABELS: tuple[str, ...] = CLASS_NAMES
"""Label names in code order (:data:`opt.schema.CLASS_NAMES`)."""


@njit(cache=True)
def _label(  # pragma: no cover - numba
    high: np.ndarray,
    low: np.ndarray,
    bar: np.ndarray,
    price: np.ndarray,
    side: np.ndarray,
    thr: np.ndarray,
    lookforward: int,
) -> np.ndarray:
    out = np.full(bar.shape[0], CHOP, dtype=np.int64)
    for i in range(bar.shape[0]):
        up = price[i] + thr[i]
        down = price[i] - thr[i]
        for t in range(bar[i] + 1, bar[i] + lookforward + 1):
            hit_up = high[t] >= up
            hit_down = low[t] <= down
            if hit_up and hit_down:
                break
            if hit_up or hit_down:
                if side[i] > 0:
                    out[i] = BOUNCE if hit_up else BREAK
                else:
                    out[i] = BREAK if hit_up else BOUNCE
                break
    return out


def label_events(
    high: np.ndarray,
    low: np.ndarray,
    bar: np.ndarray,
    level_price: np.ndarray,
    side: np.ndarray,
    threshold: np.ndarray,
    *,
    lookforward: int,
) -> np.ndarray:
    """Label events BREAK (0), BOUNCE (1) or CHOP (2) (rules in the module docstring).

    Args:
        high, low: float64 ``(n,)``, points, all bars.
        bar: int64 ``(k,)``, event bars u; each must satisfy ``u + lookforward < n``.
        level_price: float64 ``(k,)``, points, L at u.
        side: int64 ``(k,)``, +1 / -1.
        threshold: float64 ``(k,)``, points (> 0).
        lookforward: label window length, bars (>= 1).

    Returns:
        int64 ``(k,)`` labels.

    Raises:
        ValueError: if an event's label window runs past the last bar.
    """
    bar = np.ascontiguousarray(bar, dtype=np.int64)
    if bar.shape[0] and int(bar.max()) + int(lookforward) >= len(high):
        raise ValueError("label window runs past the last bar; drop those events first")
    return _label(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        bar,
        np.ascontiguousarray(level_price, dtype=np.float64),
        np.ascontiguousarray(side, dtype=np.int64),
        np.ascontiguousarray(threshold, dtype=np.float64),
        int(lookforward),
    )
