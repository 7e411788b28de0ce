"""Average uniqueness of overlapping labels (Lopez de Prado, *Advances in Financial Machine Learning*, ch. 4).

Labels whose windows overlap share information, so an event's label is not an independent sample. For
label windows ``[start_i, end_i]`` (bars, both ends included; for opt's events ``start = u + 1`` and
``end = label_end_bar``), the concurrency of bar t is ``c_t = #{i : start_i <= t <= end_i}`` (AFML
snippet 4.1), the uniqueness of label i at t is ``1 / c_t``, and its average uniqueness is

    u_i = (1 / (end_i - start_i + 1)) x sum_{t = start_i}^{end_i} 1 / c_t       (AFML snippet 4.2)

in (0, 1]: 1 for a label overlapping no other, 1/k for k labels on the same window. It is the sample
weight of the book's ch. 4 (before return attribution). Only the given windows count, so weights of
training events computed from the training events alone read nothing of the evaluation part.
"""

from __future__ import annotations

import numpy as np

__all__ = ["average_uniqueness"]


def average_uniqueness(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Average uniqueness of each label window (module docstring formula; AFML ch. 4).

    Args:
        start: int64 ``(k,)``, first bar of each label window.
        end: int64 ``(k,)``, last bar of each window (``>= start``), included.

    Returns:
        float64 ``(k,)`` average uniqueness in (0, 1].

    Raises:
        ValueError: shapes differ, or a window ends before it starts.
    """
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(f"start and end must have one shape (k,): {start.shape}, {end.shape}")
    if start.size == 0:
        return np.empty(0)
    if np.any(end < start):
        raise ValueError("every window needs end >= start")
    origin = int(start.min())
    lo, hi = start - origin, end - origin
    span = int(hi.max()) + 2
    delta = np.zeros(span, dtype=np.int64)
    np.add.at(delta, lo, 1)
    np.add.at(delta, hi + 1, -1)
    count = np.cumsum(delta)[:-1]  # c_t on the bars origin .. max(end)
    inverse = np.where(count > 0, 1.0 / np.maximum(count, 1), 0.0)
    prefix = np.concatenate([[0.0], np.cumsum(inverse)])
    return (prefix[hi + 1] - prefix[lo]) / (hi - lo + 1)
