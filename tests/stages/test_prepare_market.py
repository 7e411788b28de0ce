"""Study preparation on years of bars (issue #10): the split takes no Python objects, results unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from opt.dataset import build_context
from opt.evaluation import holdout_split
from opt.sessions import build_calendar
from opt.stages import PreparedMarket, market, prepare_market

from tests.helpers.config import ES_CSV, compose_config


@pytest.fixture(scope="module")
def es_market() -> PreparedMarket:
    if not ES_CSV.is_file():
        pytest.skip(f"real ES data not found at {ES_CSV}")
    return prepare_market(compose_config(["data=csv", f"data.path={ES_CSV}", "instrument=es"]))


def test_split_gets_int64_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[np.ndarray] = []

    def spy(timestamps: Any, trading_day: np.ndarray, **kw: Any) -> int:
        seen.append(timestamps)
        return holdout_split(timestamps, trading_day, **kw)

    monkeypatch.setattr(market, "holdout_split", spy)
    prepared = prepare_market(compose_config(["data.synthetic.n_days=10"]))
    assert len(seen) == 1 and isinstance(seen[0], np.ndarray) and seen[0].dtype == np.int64
    assert 0 < prepared.test_start < prepared.n_bars_total


def test_holdout_split_same_for_every_timestamp_form() -> None:
    stamps = pd.Series(pd.date_range("2025-01-05 23:00", periods=5000, freq="min", tz="UTC"))
    day = build_calendar(stamps, compose_config([]).levels).trading_day
    forms = [stamps, stamps.to_numpy(), stamps.array.asi8, stamps.dt.tz_localize(None).to_numpy(),
             stamps.dt.tz_localize(None).to_numpy().astype("datetime64[us]")]
    starts = {holdout_split(ts, day, test_fraction=0.3) for ts in forms}
    assert len(starts) == 1 and 0 < starts.pop() < 5000
    with pytest.raises(ValueError, match="strictly increasing"):
        holdout_split(stamps.array.asi8[::-1].copy(), day, test_fraction=0.3)


def test_prepared_context_equals_a_context_built_from_scratch(es_market: PreparedMarket) -> None:
    """The search part's calendar is sliced from the full one: identical to building it anew."""
    ctx = es_market.ctx
    fresh = build_context(ctx.bars, compose_config(["data=csv", f"data.path={ES_CSV}", "instrument=es"]))
    for name, values in vars(ctx.calendar).items():
        np.testing.assert_array_equal(values, getattr(fresh.calendar, name), err_msg=name)
    np.testing.assert_array_equal(ctx.levels.values, fresh.levels.values)
    np.testing.assert_array_equal(ctx.atr, fresh.atr)
    assert es_market.n_trading_days == len(pd.unique(ctx.calendar.trading_day)) == ctx.n_trading_days
    assert es_market.test_start + len(es_market.test_bars) == es_market.n_bars_total == 75_791


def test_context_refuses_a_calendar_of_other_bars(es_market: PreparedMarket) -> None:
    ctx = es_market.ctx
    with pytest.raises(ValueError, match="calendar has"):
        build_context(ctx.bars.iloc[:100], compose_config([]), calendar=ctx.calendar)
