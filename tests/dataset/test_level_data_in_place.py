"""Years of bars (issue #10): a trial reads the study's level and price data in place, results unchanged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from opt.dataset import MarketContext, build_context, build_event_dataset
from opt.events import _detect, detect_touches
from opt.levels import LEVEL_TYPES

from tests.helpers.dataset import default_cfg, load_es

USE_CASES = [
    dict.fromkeys(LEVEL_TYPES, True),
    {**dict.fromkeys(LEVEL_TYPES, False), "pd": True, "vwap": True},
    {**dict.fromkeys(LEVEL_TYPES, True), "on": False, "sma": False},
    {**dict.fromkeys(LEVEL_TYPES, False), "or": True},
]


@pytest.fixture(scope="module")
def es_ctx() -> MarketContext:
    return build_context(load_es(), default_cfg())


def test_levels_and_prices_are_column_major_views(es_ctx: MarketContext) -> None:
    assert es_ctx.levels.values.flags.f_contiguous
    assert es_ctx.ohlcv.shape == (es_ctx.n_bars, 5) and es_ctx.ohlcv.flags.f_contiguous
    for i, name in enumerate(("open", "high", "low", "close", "volume")):
        column = getattr(es_ctx, name)
        assert column.flags.c_contiguous and np.shares_memory(column, es_ctx.ohlcv)
        np.testing.assert_array_equal(column, es_ctx.bars[name].to_numpy(np.float64))
        np.testing.assert_array_equal(es_ctx.ohlcv[:, i], column)


def test_trial_passes_the_study_levels_to_the_kernel_uncopied(
    es_ctx: MarketContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[np.ndarray] = []
    kernel = _detect._detect

    def spy(*args: Any) -> np.ndarray:
        seen.append(args[5])  # the level matrix, transposed to (n_levels, n_bars)
        return kernel(*args)

    monkeypatch.setattr(_detect, "_detect", spy)
    cfg = default_cfg(levels={"use": USE_CASES[1]})
    assert len(build_event_dataset(es_ctx, cfg)) > 0
    assert len(seen) == 1 and np.shares_memory(seen[0], es_ctx.levels.values)


@pytest.mark.parametrize("use", USE_CASES)
def test_in_place_columns_match_a_copied_subset(es_ctx: MarketContext, use: dict[str, bool]) -> None:
    """The old path copied the active columns (row-major) before detection: same events."""
    columns = es_ctx.levels.indices_of_types([t for t in LEVEL_TYPES if use[t]])
    bands = {"monitor_band": np.full(columns.shape[0], 2.0), "touch_band": np.full(columns.shape[0], 0.5)}
    args = (es_ctx.close, es_ctx.high, es_ctx.low, es_ctx.atr, es_ctx.calendar.trading_day)
    kw: dict[str, Any] = {**bands, "k_atr": 0.2, "max_wait": 15, "cooldown": 30}
    copied = detect_touches(*args, np.ascontiguousarray(es_ctx.levels.values[:, columns]), **kw)
    in_place = detect_touches(*args, es_ctx.levels.values, columns=columns, **kw)
    assert copied.shape[0] > 0
    np.testing.assert_array_equal(in_place, copied)


def test_bad_columns_are_refused(es_ctx: MarketContext) -> None:
    args = (es_ctx.close, es_ctx.high, es_ctx.low, es_ctx.atr, es_ctx.calendar.trading_day, es_ctx.levels.values)
    kw: dict[str, Any] = {"monitor_band": np.ones(1), "touch_band": np.ones(1), "k_atr": 0.0, "max_wait": 5,
                          "cooldown": 0}
    with pytest.raises(ValueError, match="columns"):
        detect_touches(*args, columns=np.array([99]), **kw)
    with pytest.raises(ValueError, match="one value per active column"):
        detect_touches(*args, columns=np.array([0, 1]), **kw)


def test_model_input_reads_the_study_price_matrix_uncopied(es_ctx: MarketContext) -> None:
    """Every model fit got its own ``np.column_stack`` of the five price arrays (~110 MB at 10 years,
    unread by XGBoost); it now reads the study's matrix, with the same values."""
    from opt.models import ModelData
    from opt.models.fitting import model_input

    ds = build_event_dataset(es_ctx, default_cfg())
    data = model_input(ds, es_ctx, np.arange(10))
    assert np.shares_memory(data.ohlcv, es_ctx.ohlcv)
    np.testing.assert_array_equal(data.ohlcv, np.column_stack(
        [es_ctx.open, es_ctx.high, es_ctx.low, es_ctx.close, es_ctx.volume]))
    assert isinstance(data, ModelData)
