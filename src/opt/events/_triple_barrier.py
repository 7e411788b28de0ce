"""Triple-barrier labels of level-touch events (Lopez de Prado, *Advances in Financial Machine Learning*, ch. 3).

``outcome=triple_barrier`` (``outcome.method: triple_barrier``). For an event at bar u with close
``C = close[u]`` (the price when the event is known, the book's entry price), ATR ``A = atr[u]`` and
approach side s, two horizontal barriers and one vertical barrier are set:

- upper barrier ``C + upper_atr x A``, lower barrier ``C - lower_atr x A`` (points);
- vertical barrier: bar ``u + horizon``.

The bars u+1 .. u+horizon are scanned in order; the first bar whose ``high >= upper`` or ``low <=
lower`` decides, mapped onto the label codes relative to the touched level's side:

- side +1 (approach from above, a support test): lower first -> BREAK, upper first -> BOUNCE;
- side -1 (approach from below, a resistance test): upper first -> BREAK, lower first -> BOUNCE;
- vertical barrier first (neither touched by u+horizon) -> CHOP;
- a bar touching both horizontal barriers -> CHOP (the order inside the bar is unknown; DESIGN §5's
  tie rule).

``label_end_bar = u + horizon`` (the purge window) whichever barrier is touched first. The label is
the only quantity that reads bars after u; a label whose window ends by bar t reads bars <= t only.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from opt.schema import BOUNCE, BREAK, CHOP

__all__ = ["triple_barrier_labels"]


@njit(cache=True)
def _triple_barrier(  # pragma: no cover - numba
    high: np.ndarray,
    low: np.ndarray,
    bar: np.ndarray,
    close_u: np.ndarray,
    side: np.ndarray,
    atr_u: np.ndarray,
    upper_atr: float,
    lower_atr: float,
    horizon: int,
) -> np.ndarray:
    out = np.full(bar.shape[0], CHOP, dtype=np.int64)
    for i in range(bar.shape[0]):
        up = close_u[i] + upper_atr * atr_u[i]
        down = close_u[i] - lower_atr * atr_u[i]
        for t in range(bar[i] + 1, bar[i] + horizon + 1):
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


def triple_barrier_labels(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    atr: np.ndarray,
    bar: np.ndarray,
    side: np.ndarray,
    *,
    upper_atr: float,
    lower_atr: float,
    horizon: int,
) -> np.ndarray:
    """Label events BREAK (0), BOUNCE (1) or CHOP (2) by the triple barrier (rules in the module docstring).

    Args:
        high, low, close: float64 ``(n,)``, points, all bars.
        atr: float64 ``(n,)``, points, the ATR known at each bar (read at u only). A non-finite ATR
            gives barriers no bar reaches: CHOP.
        bar: int64 ``(k,)``, event bars u; each must satisfy ``u + horizon < n``.
        side: int64 ``(k,)``, +1 (from above) / -1 (from below).
        upper_atr: upper barrier distance above ``close[u]``, ATR multiples (> 0).
        lower_atr: lower barrier distance below ``close[u]``, ATR multiples (> 0).
        horizon: vertical barrier, bars after u (>= 1).

    Returns:
        int64 ``(k,)`` labels.

    Raises:
        ValueError: a non-positive barrier or horizon, or an event whose window runs past the last bar.
    """
    if not (upper_atr > 0 and lower_atr > 0 and horizon >= 1):
        raise ValueError(f"need upper_atr > 0, lower_atr > 0, horizon >= 1; got {upper_atr}, {lower_atr}, {horizon}")
    bar = np.ascontiguousarray(bar, dtype=np.int64)
    if bar.shape[0] and int(bar.max()) + int(horizon) >= len(high):
        raise ValueError("label window runs past the last bar; drop those events first")
    return _triple_barrier(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        bar,
        np.ascontiguousarray(np.asarray(close, dtype=np.float64)[bar]),
        np.ascontiguousarray(side, dtype=np.int64),
        np.ascontiguousarray(np.asarray(atr, dtype=np.float64)[bar]),
        float(upper_atr),
        float(lower_atr),
        int(horizon),
    )
