"""Average label uniqueness (AFML ch. 4) on hand-made overlaps and against a plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from opt.evaluation.uniqueness import average_uniqueness


def _reference(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The book's definition written out: c_t by counting, then the mean of 1/c_t over each window."""
    out = []
    for s, e in zip(start, end, strict=True):
        c = [sum(1 for s2, e2 in zip(start, end, strict=True) if s2 <= t <= e2) for t in range(s, e + 1)]
        out.append(np.mean([1.0 / x for x in c]))
    return np.array(out)


def test_hand_made_overlaps() -> None:
    # A: bars 1..3, B: 2..4, C: 4..5 -> c = 1, 2, 2, 2, 1 on bars 1..5
    u = average_uniqueness(np.array([1, 2, 4]), np.array([3, 4, 5]))
    assert u == pytest.approx([(1 + 1 / 2 + 1 / 2) / 3, (1 / 2 + 1 / 2 + 1 / 2) / 3, (1 / 2 + 1) / 2])
    assert average_uniqueness(np.array([0, 10]), np.array([5, 12])) == pytest.approx([1.0, 1.0])  # no overlap
    assert average_uniqueness(np.array([3, 3, 3]), np.array([9, 9, 9])) == pytest.approx([1 / 3] * 3)  # same window


def test_matches_the_reference_on_random_windows() -> None:
    rng = np.random.default_rng(0)
    start = np.sort(rng.integers(100, 400, 60))
    end = start + rng.integers(0, 40, 60)
    assert average_uniqueness(start, end) == pytest.approx(_reference(start, end))


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="end >= start"):
        average_uniqueness(np.array([5]), np.array([4]))
    assert average_uniqueness(np.array([], np.int64), np.array([], np.int64)).shape == (0,)
