"""The labels of ``outcome.method``: the threshold rule (DESIGN §5) or the triple barrier (AFML ch. 3)."""

from __future__ import annotations

import numpy as np

from opt.events._labels import label_events
from opt.events._params import OutcomeParams
from opt.events._triple_barrier import triple_barrier_labels

__all__ = ["label_outcomes"]


def label_outcomes(params: OutcomeParams, *, high: np.ndarray, low: np.ndarray, close: np.ndarray, atr: np.ndarray,
                   bar: np.ndarray, level_price: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Label events by ``params.method``: :func:`~opt.events.label_events` or :func:`~opt.events.triple_barrier_labels`.

    Args:
        params: the ``outcome`` config (:func:`opt.events.outcome_params`).
        high, low, close: float64 ``(n,)``, points, all bars.
        atr: float64 ``(n,)``, points, ATR known at each bar (read at the event bars only).
        bar: int64 ``(k,)``, event bars u with ``u + params.lookforward < n``.
        level_price: float64 ``(k,)``, points, the level at u (threshold rule).
        side: int64 ``(k,)``, +1 from above / -1 from below.

    Returns:
        int64 ``(k,)`` labels: 0 BREAK, 1 BOUNCE, 2 CHOP.

    Raises:
        ValueError: an event whose window runs past the last bar.
    """
    bar = np.asarray(bar, dtype=np.int64)
    if params.method == "triple_barrier":
        assert params.upper_atr is not None and params.lower_atr is not None  # OutcomeParams checks it
        return triple_barrier_labels(high, low, close, atr, bar, side, upper_atr=params.upper_atr,
                                     lower_atr=params.lower_atr, horizon=params.lookforward)
    assert params.threshold is not None  # OutcomeParams checks it
    atr_u = np.asarray(atr, dtype=np.float64)[bar]
    thr = params.threshold * atr_u if params.threshold_mode == "atr" else np.full(bar.shape[0], params.threshold)
    return label_events(high, low, bar, level_price, side, thr, lookforward=params.lookforward)
