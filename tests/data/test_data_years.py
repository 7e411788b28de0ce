"""``data.years`` (issue #10): years of synthetic bars, ~348,000 bars a year."""

from __future__ import annotations

import pytest

from opt.data import load_bars_from_config
from opt.data.synthetic import trading_days_in_years
from opt.errors import ConfigError

from tests.helpers.config import compose_config


def test_years_to_trading_days() -> None:
    assert trading_days_in_years(1) == 252
    assert trading_days_in_years(10) == 2520
    assert trading_days_in_years(0.001) == 1
    with pytest.raises(ValueError, match="years"):
        trading_days_in_years(0)


def test_years_replace_n_days() -> None:
    days = load_bars_from_config(compose_config(["data.years=0.05"]))  # 13 trading days
    same = load_bars_from_config(compose_config(["data.synthetic.n_days=13", "data.synthetic.n_days=13"]))
    assert days.equals(same)
    assert len(days) > 13 * 1300
    default = load_bars_from_config(compose_config([]))
    assert len(default) > 55 * 1300  # data.years: null keeps data.synthetic.n_days (60)


@pytest.mark.parametrize("years", [0, -1])
def test_bad_years_name_the_key(years: float) -> None:
    with pytest.raises(ConfigError, match="data.years"):
        load_bars_from_config(compose_config([f"data.years={years}"]))
