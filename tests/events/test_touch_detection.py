"""Zone entry, touch, approach side, max_wait and cooldown (DESIGN §5) on a hand-built level."""

from __future__ import annotations

import numpy as np

from opt.events import detect_touches

L = 100.0
# (close, high, low): far above, entering the zone from above, touching the level, moving away.
APPROACH = [
    (105.0, 105.5, 104.5),  # 0 outside (|5| > 2)
    (103.0, 104.0, 102.8),  # 1 outside (3 > 2)
    (101.5, 103.0, 101.2),  # 2 inside -> zone entry from above
    (100.8, 101.5, 100.4),  # 3 low 100.4 <= L + 0.5 -> touch
    (101.0, 101.5, 100.6),  # 4
    (102.5, 102.6, 101.0),  # 5
]
AWAY = [(106.0, 106.5, 105.5)]


def _detect(rows, *, level=None, day=None, max_wait=15, cooldown=30, k_atr=0.0, atr=1.0):
    c, h, lo = (np.array([r[i] for r in rows]) for i in range(3))
    n = len(rows)
    lv = np.full((n, 1), L) if level is None else np.asarray(level, dtype=float).reshape(n, 1)
    return detect_touches(
        c,
        h,
        lo,
        np.full(n, atr),
        np.zeros(n, np.int64) if day is None else np.asarray(day, np.int64),
        lv,
        monitor_band=np.array([2.0]),
        touch_band=np.array([0.5]),
        k_atr=k_atr,
        max_wait=max_wait,
        cooldown=cooldown,
    )


def test_exactly_one_event_from_above() -> None:
    ev = _detect(APPROACH)
    assert ev.tolist() == [[3, 2, 0, 1, 0]]  # bar, entry, level column, side, touches_before


def test_approach_from_below_is_side_minus_one() -> None:
    mirrored = [(2 * L - c, 2 * L - lo, 2 * L - h) for c, h, lo in APPROACH]
    assert _detect(mirrored).tolist() == [[3, 2, 0, -1, 0]]


def test_touch_on_the_entry_bar_does_not_count() -> None:
    rows = [(103.0, 104.0, 102.8), (101.5, 101.9, 100.0), (101.8, 102.0, 101.6), (101.9, 102.0, 101.7)]
    assert _detect(rows).shape == (0, 5)


def test_touch_after_max_wait_is_ignored() -> None:
    rows = APPROACH[:3] + [(101.5, 101.9, 101.2)] * 3 + [APPROACH[3]]  # touch 4 bars after the entry
    assert _detect(rows, max_wait=3).shape == (0, 5)
    assert _detect(rows, max_wait=4)[:, 0].tolist() == [6]


def test_atr_widens_the_zone() -> None:
    rows = [(105.0, 105.5, 104.5), (103.0, 103.2, 102.8), (100.2, 102.0, 100.1)]
    assert _detect(rows, k_atr=0.0).shape == (
        0,
        5,
    )  # bar 1 (|3| > 2) never inside -> entry at 2, no touch after
    # with k_atr = 1 and ATR = 2 the band is 4: bar 1 is the entry, bar 2 the touch
    assert _detect(rows, k_atr=1.0, atr=2.0).tolist() == [[2, 1, 0, 1, 0]]


def test_cooldown_suppresses_and_counts_touches() -> None:
    rows = APPROACH + AWAY + APPROACH[1:] + AWAY + APPROACH[1:]  # touches at bars 3, 9, 15
    assert _detect(rows, cooldown=30)[:, 0].tolist() == [3]
    assert _detect(rows, cooldown=6).tolist() == [[3, 2, 0, 1, 0], [9, 8, 0, 1, 1], [15, 14, 0, 1, 2]]
    # cooldown 7: bar 9 is 6 bars after 3 (suppressed, still a touch); bar 15 is 12 after 3
    assert _detect(rows, cooldown=7).tolist() == [[3, 2, 0, 1, 0], [15, 14, 0, 1, 2]]


def test_cooldown_and_touch_count_are_per_trading_day() -> None:
    rows = APPROACH + AWAY + APPROACH[1:]
    day = [0] * 7 + [1] * 5
    assert _detect(rows, day=day, cooldown=30).tolist() == [[3, 2, 0, 1, 0], [9, 8, 0, 1, 0]]


def test_level_becoming_known_inside_the_zone_is_an_entry() -> None:
    rows = [(103.0, 103.5, 102.5), (101.0, 101.5, 100.8), (100.9, 101.0, 100.3)]
    level = [np.nan, L, L]
    # bar 1: L known for the first time with price inside -> entry; side from close[0] = 103 > L
    assert _detect(rows, level=level).tolist() == [[2, 1, 0, 1, 0]]


def test_unknown_level_cancels_the_wait_and_events_sorted_by_bar_then_column() -> None:
    rows = APPROACH
    level = [L, L, L, np.nan, L, L]
    assert _detect(rows, level=level).shape == (0, 5)
    c, h, lo = (np.array([r[i] for r in APPROACH]) for i in range(3))
    both = np.column_stack([np.full(6, L), np.full(6, L + 0.2)])
    ev = detect_touches(
        c,
        h,
        lo,
        np.ones(6),
        np.zeros(6, np.int64),
        both,
        monitor_band=np.array([2.0, 2.0]),
        touch_band=np.array([0.5, 0.5]),
        k_atr=0.0,
        max_wait=15,
        cooldown=30,
    )
    assert ev[:, [0, 2]].tolist() == [[3, 0], [3, 1]]
