"""bracket.flatten_at_session_end (DESIGN §8, §10): no position or order is held across the daily break.

Hand-written bars with ``session_last`` given directly, on the fast simulator and the plain-Python
reference; then real timestamps around the 17:00 ET break through the session calendar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from opt.brackets import BracketParams, ExitReason, simulate_brackets
from opt.sessions import build_calendar, session_last_bar, timestamps_ns

from tests.helpers.brackets_cases import BASE_BRACKET, ES, SIMULATORS, make_params, run

SIGNAL = (100.0, 100.5, 99.5, 100.0)  # the signal bar (close 100)
FLAT = (100.0, 100.5, 99.75, 100.25)  # never reaches the 1-ATR stop or the 2R target
LEVELS_CFG = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "levels" / "default.yaml")
# bars 0..3 are one session (bar 3 its last bar), bars 4..7 the next, whose end the data does not reach
SESSION_LAST = [3, 3, 3, 3, 8, 8, 8, 8]
ROWS = [SIGNAL, FLAT, FLAT, FLAT, FLAT, FLAT, FLAT, FLAT]


@pytest.fixture(params=list(SIMULATORS), ids=list(SIMULATORS))
def sim(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return SIMULATORS[request.param]


def _one(trades, i=0):  # type: ignore[no-untyped-def]
    return trades.to_frame().iloc[i]


def test_open_trade_is_closed_at_the_sessions_last_bar(sim) -> None:  # type: ignore[no-untyped-def]
    t = _one(run(sim, ROWS, [0], [1], [1.0], make_params(flatten_at_session_end=True), session_last=SESSION_LAST))
    assert (t.entry_bar, t.exit_bar, t.exit_price) == (1, 3, 100.0)  # close 100.25 - 1 tick slippage
    assert t.exit_reason == ExitReason.SESSION_END and t.exit_reason_name == "SESSION_END"
    assert t.pnl == pytest.approx((100.0 - 100.25) * 50 - 2 * 2.25)


def test_without_the_flag_the_trade_is_held_across_the_break(sim) -> None:  # type: ignore[no-untyped-def]
    t = _one(run(sim, ROWS, [0], [1], [1.0], make_params(max_hold_bars=5), session_last=SESSION_LAST))
    assert (t.exit_bar, t.exit_reason) == (5, ExitReason.TIME)


def test_time_exit_on_the_last_bar_stays_time_and_end_mid_session_stays_end(sim) -> None:  # type: ignore[no-untyped-def]
    p = make_params(flatten_at_session_end=True, max_hold_bars=3)
    assert _one(run(sim, ROWS, [0], [1], [1.0], p, session_last=SESSION_LAST)).exit_reason == ExitReason.TIME
    t = _one(run(sim, ROWS, [4], [1], [1.0], make_params(flatten_at_session_end=True), session_last=SESSION_LAST))
    assert (t.exit_bar, t.exit_reason) == (7, ExitReason.END)  # the data ends before the session does


def test_orders_are_day_orders(sim) -> None:  # type: ignore[no-untyped-def]
    p = make_params(flatten_at_session_end=True)
    market = run(sim, ROWS, [3], [1], [1.0], p, session_last=SESSION_LAST)  # placed at the session's close
    assert market.exit_reason[0] == ExitReason.EXPIRED and not market.filled[0]
    limit = make_params(flatten_at_session_end=True, entry_mode="limit", entry_offset_atr=1.0, expiry_bars=5)
    t = run(sim, ROWS, [1], [1], [1.0], limit, session_last=SESSION_LAST)  # limit 99.25 never reached
    assert t.exit_reason[0] == ExitReason.EXPIRED
    # the expired limit held its slot to the session's last bar (3) only: an order at bar 3 is placed
    both = run(sim, ROWS, [1, 3], [1, 1], [1.0, 1.0], limit, session_last=SESSION_LAST)
    assert both.exit_reason.tolist() == [ExitReason.EXPIRED, ExitReason.EXPIRED]


def test_flag_without_session_last_is_refused() -> None:
    o = np.full(3, 100.0)
    with pytest.raises(ValueError, match="session_last"):
        simulate_brackets(o, o, o, o, [0], [1], [1.0], [np.nan], make_params(flatten_at_session_end=True))


def test_config_default_is_on_and_an_old_config_is_off() -> None:
    shipped = OmegaConf.load(Path(__file__).resolve().parents[2] / "conf" / "bracket" / "default.yaml")
    assert BracketParams.from_config(shipped, ES).flatten_at_session_end is True
    assert BracketParams.from_config(BASE_BRACKET, ES).flatten_at_session_end is False


def test_long_opened_1650_et_exits_at_the_last_bar_before_1700() -> None:
    # Wed 2025-11-26, 16:49 .. 16:59 ET, then the Globex reopen at 18:00 (Thanksgiving's session)
    et = [f"2025-11-26 16:{m:02d}" for m in range(49, 60)] + ["2025-11-26 18:00", "2025-11-26 18:01"]
    ts = pd.DatetimeIndex(et).tz_localize("America/New_York").tz_convert("UTC")
    n = len(ts)
    o, h, lo, c = (np.full(n, x) for x in (100.0, 100.5, 99.75, 100.25))
    last = session_last_bar(timestamps_ns(ts), build_calendar(ts, LEVELS_CFG))
    assert last[:11].tolist() == [10] * 11  # the 16:59 bar
    args = (o, h, lo, c, [0], [1], [1.0], [np.nan])
    on = simulate_brackets(*args, make_params(flatten_at_session_end=True), session_last=last)
    assert (on.entry_bar[0], on.exit_bar[0], on.exit_reason[0]) == (1, 10, ExitReason.SESSION_END)  # 16:50 .. 16:59
    assert ts[on.exit_bar[0]].tz_convert("America/New_York").strftime("%H:%M") == "16:59"
    off = simulate_brackets(*args, make_params(), session_last=last)
    assert (off.exit_bar[0], off.exit_reason[0]) == (n - 1, ExitReason.END)  # held across the break
