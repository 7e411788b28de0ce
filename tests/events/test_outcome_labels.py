"""BREAK / BOUNCE / CHOP labels over the look-forward window (DESIGN §5)."""

from __future__ import annotations

import numpy as np
import pytest

from opt.events import BOUNCE, BREAK, CHOP, LABELS, label_events

L, THR = 100.0, 2.0


def _label(path: list[tuple[float, float]], side: int, lookforward: int = 4) -> int:
    """path: (high, low) of bars u+1.. ; bar u itself sits at the level."""
    high = np.array([L] + [p[0] for p in path])
    low = np.array([L] + [p[1] for p in path])
    return int(
        label_events(
            high,
            low,
            np.array([0]),
            np.array([L]),
            np.array([side]),
            np.array([THR]),
            lookforward=lookforward,
        )[0]
    )


def test_label_constants() -> None:
    assert LABELS == ("BREAK", "BOUNCE", "CHOP") and (BREAK, BOUNCE, CHOP) == (0, 1, 2)


@pytest.mark.parametrize(
    ("path", "side", "expected"),
    [
        ([(101, 99), (102.0, 99.5), (101, 97)], 1, BOUNCE),  # high reaches L + thr first
        ([(101, 99), (100.5, 98.0), (103, 99)], 1, BREAK),  # low reaches L - thr first
        ([(102.5, 97.5), (103, 99)], 1, CHOP),  # both in the same bar
        ([(101, 99), (101.9, 98.1), (101, 99), (101, 99)], 1, CHOP),  # neither
        ([(101, 99), (102.0, 99.5)], -1, BREAK),  # from below, up through L
        ([(101, 99), (100.5, 98.0)], -1, BOUNCE),  # from below, back down
        ([(101, 99), (101, 99), (101, 99), (101, 99), (104, 99)], 1, CHOP),  # after the window
    ],
)
def test_first_barrier_decides(path, side, expected) -> None:
    path = path + [(100.0, 100.0)] * (5 - len(path))
    assert _label(path, side) == expected


def test_label_window_past_last_bar_raises() -> None:
    with pytest.raises(ValueError, match="past the last bar"):
        label_events(
            np.ones(3), np.ones(3), np.array([1]), np.ones(1), np.ones(1, np.int64), np.ones(1), lookforward=2
        )
