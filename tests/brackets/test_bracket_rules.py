"""One hand-computed case per bracket rule (DESIGN §8), checked on the fast simulator and the reference.

ES contract: tick 0.25, 50 per point, 2.25 commission per side; 1 tick slippage; 1-ATR stop, 2R target.
"""

from __future__ import annotations

import numpy as np
import pytest

from opt.brackets import ExitReason, simulate_brackets

from tests.helpers.brackets_cases import SIMULATORS, make_params, run

NAN = float("nan")
SIGNAL = (100.0, 100.5, 99.5, 100.0)  # bar 0: the signal bar (close 100)


@pytest.fixture(params=list(SIMULATORS), ids=list(SIMULATORS))
def sim(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each test runs on the fast simulator and on the plain-Python reference."""
    return SIMULATORS[request.param]


def _one(trades, i=0):  # type: ignore[no-untyped-def]
    return trades.to_frame().iloc[i]


def test_market_long_target_and_costs(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 102.5, 100.0, 102.0)]
    t = _one(run(sim, rows, [0], [1], [1.0], make_params()))
    assert t.filled and not t.skipped
    assert (t.entry_bar, t.entry_price) == (1, 100.25)  # open + 1 tick
    assert (t.stop_price, t.target_price, t.risk_points) == (99.25, 102.25, 1.0)
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 102.25, ExitReason.TARGET)  # no slippage
    assert t.pnl_points == 2.0
    assert t.pnl == pytest.approx(2.0 * 50 - 2 * 2.25)
    assert t.r_multiple == pytest.approx(95.5 / 50)


def test_commission_per_contract_per_side(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 102.5, 100.0, 102.0)]
    t = _one(run(sim, rows, [0], [1], [1.0], make_params(contracts=3)))
    assert t.contracts == 3
    assert t.pnl == pytest.approx(2.0 * 50 * 3 - 2 * 2.25 * 3)
    assert t.r_multiple == pytest.approx(286.5 / (1.0 * 50 * 3))


def test_gap_through_stop_fills_at_open_with_slippage(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (98.5, 99.0, 98.0, 98.75)]
    t = _one(run(sim, rows, [0], [1], [1.0], make_params()))
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 98.25, ExitReason.STOP)
    assert t.pnl_points == -2.0


def test_short_gap_through_stop(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.25, 99.5, 99.75), (101.5, 102.0, 101.0, 101.5)]
    t = _one(run(sim, rows, [0], [-1], [1.0], make_params()))
    assert (t.entry_price, t.stop_price, t.target_price) == (99.75, 100.75, 97.75)
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 101.75, ExitReason.STOP)
    assert t.pnl_points == -2.0


def test_bar_touching_both_counts_the_stop(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 102.5, 99.0, 101.0)]
    t = _one(run(sim, rows, [0], [1], [1.0], make_params()))
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 99.0, ExitReason.STOP)


def test_open_beyond_target_fills_at_target(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (103.0, 103.5, 98.0, 99.0)]
    t = _one(run(sim, rows, [0], [1], [1.0], make_params()))
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 102.25, ExitReason.TARGET)


@pytest.mark.parametrize(
    ("fill_bar", "exit_price", "reason"),
    [
        ((100.0, 102.5, 99.75, 102.0), 102.25, ExitReason.TARGET),
        ((100.0, 100.5, 99.0, 99.5), 99.0, ExitReason.STOP),
    ],
    ids=["target", "stop"],
)
def test_market_fill_bar_is_managed(sim, fill_bar, exit_price, reason) -> None:  # type: ignore[no-untyped-def]
    t = _one(run(sim, [SIGNAL, fill_bar, fill_bar], [0], [1], [1.0], make_params()))
    assert (t.entry_bar, t.exit_bar, t.exit_price, t.exit_reason) == (1, 1, exit_price, reason)


def test_tick_rounding_away_from_entry(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.25, 99.75, 100.0), (100.0, 100.25, 99.75, 100.0)]
    frame = run(sim, rows, [0, 0], [1, -1], [1.1, 1.1], make_params(tp_r=1.5, max_positions=2)).to_frame()
    long, short = frame.iloc[0], frame.iloc[1]
    # long: entry 100.25, stop 99.15 -> 99.00 (down), risk 1.25, target 102.125 -> 102.25 (up)
    assert (long.stop_price, long.risk_points, long.target_price) == (99.0, 1.25, 102.25)
    # short: entry 99.75, stop 100.85 -> 101.00 (up), risk 1.25, target 97.875 -> 97.75 (down)
    assert (short.stop_price, short.risk_points, short.target_price) == (101.0, 1.25, 97.75)


def test_limit_fills_on_pullback_target_not_on_fill_bar(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.25, 99.75, 100.0), (99.75, 102.0, 99.5, 101.75),
            (101.25, 101.25, 100.75, 101.0), (101.0, 101.5, 100.75, 101.5)]  # fmt: skip
    t = _one(run(sim, rows, [0], [1], [1.0], make_params(entry_mode="limit", entry_offset_atr=0.5)))
    assert (t.entry_bar, t.entry_price, t.stop_price, t.target_price) == (2, 99.5, 98.5, 101.5)
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (4, 101.5, ExitReason.TARGET)
    assert t.pnl_points == 2.0  # limit entry: no slippage


def test_limit_rounds_away_from_market(sim) -> None:  # type: ignore[no-untyped-def]
    flat = (100.0, 100.5, 99.5, 100.0)
    rows = [SIGNAL, flat, flat]
    params = make_params(entry_mode="limit", entry_offset_atr=0.5, max_positions=2)
    frame = run(sim, rows, [0, 0], [1, -1], [0.9, 0.9], params).to_frame()
    long, short = frame.iloc[0], frame.iloc[1]
    assert (long.entry_price, long.stop_price) == (99.5, 98.5)  # 99.55 -> 99.5; 98.6 -> 98.5
    assert (short.entry_price, short.stop_price) == (100.5, 101.5)  # 100.45 -> 100.5; 101.4 -> 101.5


def test_limit_opening_through_fills_at_open_keeps_bracket(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (99.25, 99.75, 99.0, 99.5), (99.5, 101.5, 99.25, 101.0)]
    t = _one(run(sim, rows, [0], [1], [1.0], make_params(entry_mode="limit", entry_offset_atr=0.5)))
    assert (t.entry_bar, t.entry_price, t.stop_price, t.target_price, t.risk_points) == (
        1,
        99.25,
        98.5,
        101.5,
        1.0,
    )
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (2, 101.5, ExitReason.TARGET)
    assert t.r_multiple == pytest.approx((2.25 * 50 - 4.5) / 50)


@pytest.mark.parametrize(
    ("fill_bar", "exit_price"),
    [((100.0, 100.0, 98.25, 98.5), 98.25), ((98.0, 98.5, 97.5, 98.25), 97.75)],
    ids=["range-reaches-stop", "opens-below-stop"],
)
def test_limit_fill_bar_stop(sim, fill_bar, exit_price) -> None:  # type: ignore[no-untyped-def]
    t = _one(run(sim, [SIGNAL, fill_bar, fill_bar], [0], [1], [1.0],
                 make_params(entry_mode="limit", entry_offset_atr=0.5)))  # fmt: skip
    assert (t.entry_bar, t.exit_bar, t.exit_price, t.exit_reason) == (1, 1, exit_price, ExitReason.STOP)


def test_expired_limit_holds_its_slot_until_expiry(sim) -> None:  # type: ignore[no-untyped-def]
    above = (100.0, 100.5, 99.75, 100.0)
    rows = [SIGNAL, above, above, above, (99.75, 100.0, 99.0, 99.5), above]
    params = make_params(entry_mode="limit", entry_offset_atr=0.5, expiry_bars=3)
    t = run(sim, rows, [0, 2, 3], [1, 1, 1], [1.0, 1.0, 1.0], params)
    assert list(t.exit_reason[:2]) == [ExitReason.EXPIRED, ExitReason.SKIPPED]
    assert list(t.filled) == [False, False, True] and list(t.skipped) == [False, True, False]
    assert (t.entry_bar[2], t.entry_price[2]) == (4, 99.5)  # limit of the third order, placed at bar 3
    assert np.isnan(t.entry_price[0]) and t.pnl[0] == 0.0 and t.contracts[0] == 0.0


def test_limit_cut_by_end_bar_is_unfilled(sim) -> None:  # type: ignore[no-untyped-def]
    above = (100.0, 100.5, 99.75, 100.0)
    rows = [SIGNAL, above, above, above, above]
    t = run(sim, rows, [0], [1], [1.0], make_params(entry_mode="limit", expiry_bars=3), end_bar=3)
    assert t.exit_reason[0] == ExitReason.UNFILLED and not t.filled[0]


def test_limit_whose_last_live_bar_is_the_last_bar_expires(sim) -> None:  # type: ignore[no-untyped-def]
    above = (100.0, 100.5, 99.75, 100.0)
    rows = [SIGNAL, above, above, above, above]
    params = make_params(entry_mode="limit", expiry_bars=3)
    assert run(sim, rows, [0], [1], [1.0], params, end_bar=4).exit_reason[0] == ExitReason.EXPIRED
    assert run(sim, rows, [1], [1], [1.0], params, end_bar=4).exit_reason[0] == ExitReason.UNFILLED


def test_time_exit_at_close_with_slippage(sim) -> None:  # type: ignore[no-untyped-def]
    flat = (100.0, 100.5, 99.75, 100.25)
    t = _one(run(sim, [SIGNAL, flat, flat, flat, flat], [0], [1], [1.0], make_params(max_hold_bars=2)))
    assert (t.entry_bar, t.exit_bar, t.exit_price, t.exit_reason) == (1, 2, 100.0, ExitReason.TIME)


FLAT = (100.0, 100.5, 99.75, 100.25)  # never reaches the 1-ATR stop or the 2R target of these orders


@pytest.mark.parametrize("hold", [1, 3])
def test_market_time_exit_after_max_hold_bars_entry_bar_counted(sim, hold) -> None:  # type: ignore[no-untyped-def]
    """Filled at the open of bar 1: held bars 1..hold, out at the close of bar ``1 + hold - 1``."""
    t = _one(run(sim, [SIGNAL] + [FLAT] * 6, [0], [1], [1.0], make_params(max_hold_bars=hold)))
    assert (t.entry_bar, t.entry_price, t.stop_price, t.target_price) == (1, 100.25, 99.25, 102.25)
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (hold, 100.0, ExitReason.TIME)  # close - 1 tick


@pytest.mark.parametrize("hold", [1, 3])
def test_limit_time_exit_after_max_hold_bars_fill_bar_counted(sim, hold) -> None:  # type: ignore[no-untyped-def]
    """Limit 99.5 filled inside bar 2 (bar 1 stays above it): the fill bar is bar 1 of the hold."""
    fill = (100.0, 100.25, 99.5, 100.0)
    rows = [SIGNAL, FLAT, fill] + [FLAT] * 5
    t = _one(run(sim, rows, [0], [1], [1.0], make_params(entry_mode="limit", max_hold_bars=hold)))
    assert (t.entry_bar, t.entry_price, t.stop_price, t.target_price) == (2, 99.5, 98.5, 101.5)
    exit_bar = 2 + hold - 1
    assert (t.exit_bar, t.exit_price, t.exit_reason) == (exit_bar, rows[exit_bar][3] - 0.25, ExitReason.TIME)


def test_limit_time_exit_on_end_bar_is_time(sim) -> None:  # type: ignore[no-untyped-def]
    """max_hold_bars=1, filled on the last usable bar: TIME wins over END on the same bar."""
    fill = (100.0, 100.25, 99.5, 100.0)
    params = make_params(entry_mode="limit", max_hold_bars=1)
    t = _one(run(sim, [SIGNAL, FLAT, fill, FLAT], [0], [1], [1.0], params, end_bar=3))
    assert (t.entry_bar, t.exit_bar, t.exit_price, t.exit_reason) == (2, 2, 99.75, ExitReason.TIME)


def test_may_skip_span_is_fill_plus_max_hold_minus_one() -> None:
    """A market order at bar 0 with max_hold_bars=1 is out by the close of bar 1; an order at bar 1 may go."""
    from opt.brackets._kernel import may_skip
    from opt.brackets.simulator import _kernel_config

    cfg = _kernel_config(make_params(max_hold_bars=1), 10)
    assert not may_skip(np.array([0, 1], np.int64), cfg)
    assert may_skip(np.array([0, 0], np.int64), cfg)
    limit = _kernel_config(make_params(entry_mode="limit", expiry_bars=3, max_hold_bars=2), 10)
    assert not may_skip(np.array([0, 4], np.int64), limit)  # fill by bar 3, out by the close of bar 4
    assert may_skip(np.array([0, 3], np.int64), limit)


def test_end_bar_closes_open_trade(sim) -> None:  # type: ignore[no-untyped-def]
    flat = (100.0, 100.5, 99.75, 100.25)
    t = run(sim, [SIGNAL, flat, flat, flat, flat], [0, 2], [1, 1], [1.0, 1.0], make_params(), end_bar=3)
    assert (t.exit_bar[0], t.exit_price[0], t.exit_reason[0]) == (2, 100.0, ExitReason.END)
    assert t.exit_reason[1] == ExitReason.UNFILLED  # signal on end_bar - 1: no bar to fill on


def test_risk_sizing(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 100.5, 100.0, 100.25)]
    t = _one(run(sim, rows, [0], [1], [1.5], make_params(sizing="risk", risk_per_trade=500.0)))
    assert (t.risk_points, t.contracts) == (1.5, 6)  # floor(500 / (1.5 x 50))
    t = _one(run(sim, rows, [0], [1], [1.5], make_params(sizing="risk", risk_per_trade=50.0)))
    assert (t.filled, t.exit_reason, t.contracts) == (False, ExitReason.REJECTED, 0)


def test_level_stop_and_rejection(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 100.5, 100.0, 100.25)]
    params = make_params(stop_mode="level", stop_buffer_ticks=2)
    t = _one(run(sim, rows, [0], [1], [NAN], params, level=[99.6]))  # 99.6 - 0.5 = 99.1 -> 99.0
    assert (t.stop_price, t.risk_points, t.target_price) == (99.0, 1.25, 102.75)
    t = _one(run(sim, rows, [0], [1], [1.0], params, level=[101.0]))  # stop above a long entry
    assert (t.filled, t.exit_reason) == (False, ExitReason.REJECTED)


def test_overlapping_order_is_skipped(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 102.5, 100.0, 102.0),
            (102.0, 102.5, 101.75, 102.25), (102.25, 102.5, 102.0, 102.25)]  # fmt: skip
    t = run(sim, rows, [0, 1, 2], [1, 1, 1], [1.0] * 3, make_params())
    assert list(t.exit_reason[:2]) == [ExitReason.TARGET, ExitReason.SKIPPED]
    assert t.exit_bar[0] == 2 and t.entry_bar[2] == 3  # placed on the first trade's exit bar
    t = run(sim, rows, [0, 1, 2], [1, 1, 1], [1.0] * 3, make_params(max_positions=2))
    assert not t.skipped.any() and t.filled.all()


def test_undefined_risk_and_last_bar(sim) -> None:  # type: ignore[no-untyped-def]
    rows = [SIGNAL, (100.0, 100.5, 99.75, 100.25), (100.25, 100.5, 100.0, 100.25)]
    t = run(sim, rows, [0, 0, 2], [1, 1, 1], [NAN, 0.0, 1.0], make_params(max_positions=3))
    assert list(t.exit_reason) == [ExitReason.REJECTED, ExitReason.REJECTED, ExitReason.UNFILLED]
    assert not t.filled.any() and (t.exit_bar == -1).all() and np.isnan(t.exit_price).all()


def test_input_validation() -> None:
    sim = simulate_brackets
    rows = [SIGNAL, SIGNAL, SIGNAL]
    with pytest.raises(ValueError, match="sorted"):
        run(sim, rows, [1, 0], [1, 1], [1.0, 1.0], make_params())
    with pytest.raises(ValueError, match="direction"):
        run(sim, rows, [0], [2], [1.0], make_params())
    with pytest.raises(ValueError, match="signal_bar must lie"):
        run(sim, rows, [3], [1], [1.0], make_params())
    with pytest.raises(ValueError, match="end_bar"):
        run(sim, rows, [0], [1], [1.0], make_params(), end_bar=4)
    frame = run(sim, rows, [], [], [], make_params()).to_frame()
    assert len(frame) == 0 and "exit_reason_name" in frame
