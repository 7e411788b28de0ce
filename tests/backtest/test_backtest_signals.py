"""calls_to_orders sends one order per signal bar and direction (the backtest's and the policy's dedup)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opt.backtest import calls_to_orders

BOUNCE = [0.05, 0.9, 0.05]


def _events(rows: list[tuple[int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["bar", "side", "level_price"])


def test_two_levels_at_one_price_on_one_bar_give_one_order() -> None:
    # session and weekly VWAP at the same price, both called BOUNCE from above: one long order
    events = _events([(10, 1, 5000.25), (10, 1, 5000.25), (20, 1, 5001.0)])
    orders = calls_to_orders(np.array([BOUNCE, BOUNCE, BOUNCE]), events, confidence=0.8, direction="both")
    assert orders["event"].tolist() == [0, 2]  # a tie keeps the first event
    assert orders["signal_bar"].tolist() == [10, 20]


def test_the_most_confident_call_of_a_bar_and_direction_is_kept() -> None:
    # bar 10: BOUNCE from above (long, 0.85), BREAK from below (long, 0.95), BOUNCE from below (short)
    events = _events([(10, 1, 5000.0), (10, -1, 5000.5), (10, -1, 5002.0), (11, 1, 5000.0)])
    proba = np.array([[0.1, 0.85, 0.05], [0.95, 0.03, 0.02], BOUNCE, BOUNCE])
    orders = calls_to_orders(proba, events, confidence=0.8, direction="both")
    assert orders["event"].tolist() == [1, 2, 3]
    assert orders["direction"].tolist() == [1, -1, 1]
    assert orders["call"].tolist() == [0, 1, 1]
    np.testing.assert_array_equal(orders["proba"].to_numpy(), [0.95, 0.9, 0.9])
    assert not orders.duplicated(["signal_bar", "direction"]).any()


def test_unconfident_and_filtered_calls_do_not_displace_a_kept_one() -> None:
    events = _events([(10, 1, 5000.0), (10, 1, 5000.0), (10, -1, 5001.0)])
    proba = np.array([[0.05, 0.95, 0.0], [0.05, 0.5, 0.45], [0.05, 0.99, 0.0]])  # the short is the most confident
    long_only = calls_to_orders(proba, events, confidence=0.8, direction="long_only")
    assert long_only["event"].tolist() == [0]
    assert calls_to_orders(proba[:0], events.iloc[:0], confidence=0.8, direction="both").empty
