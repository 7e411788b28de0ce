"""Causal multi-timeframe windows for the CNN."""

from __future__ import annotations

import numpy as np
import pytest

from opt.errors import ConfigError
from opt.models import extract_windows, parse_timeframes

from tests.helpers.model_events import make_events


@pytest.fixture(scope="module")
def ohlcv() -> np.ndarray:
    data, _ = make_events(50, seed=21)
    assert data.ohlcv is not None
    return data.ohlcv


def test_shape_and_channel_layout(ohlcv: np.ndarray) -> None:
    u = np.array([100, 500, 1_000])
    w = extract_windows(ohlcv, u, length=20, timeframes=[1, 5, 15])
    assert w.shape == (3, 15, 20) and w.dtype == np.float32


def test_only_bars_up_to_u_are_used(ohlcv: np.ndarray) -> None:
    u = np.array([300, 700, 1_200])
    before = extract_windows(ohlcv, u, length=24, timeframes=[1, 5])
    for k, uk in enumerate(u):
        changed = ohlcv.copy()
        changed[uk + 1 :] *= np.array([1.5, 1.6, 0.5, 1.2, 9.0])  # rewrite every later bar
        after = extract_windows(changed, u, length=24, timeframes=[1, 5])
        np.testing.assert_array_equal(after[k], before[k])
        changed[uk, 3] += 7.0  # the touch bar itself is part of the window
        assert not np.array_equal(extract_windows(changed, u, length=24, timeframes=[1, 5])[k], before[k])


def test_each_window_channel_is_standardized(ohlcv: np.ndarray) -> None:
    w = extract_windows(ohlcv, np.arange(400, 1_800, 37), length=32, timeframes=[1, 5])
    np.testing.assert_allclose(w.mean(axis=-1), 0.0, atol=1e-5)
    std = w.std(axis=-1)
    constant = std == 0.0  # here only log(open / prev_close): synthetic opens equal the previous close
    np.testing.assert_array_equal(constant, np.broadcast_to([c % 5 == 0 for c in range(10)], std.shape))
    np.testing.assert_allclose(std[~constant], 1.0, atol=1e-4)


def test_aggregation_by_blocks_ending_at_u() -> None:
    rng = np.random.default_rng(0)
    close = 100.0 + np.cumsum(rng.normal(size=60))
    ohlcv = np.column_stack(
        [
            close + 0.1,
            close + 1.0 + rng.random(60),
            close - 1.0 - rng.random(60),
            close,
            rng.integers(1, 50, 60),
        ]
    )
    u, m, length = 59, 5, 4
    w = extract_windows(ohlcv, np.array([u]), length=length, timeframes=[m], std_floor=0.0)[0]
    blocks = [ohlcv[u - (length - j) * m + 1 : u - (length - j - 1) * m + 1] for j in range(-1, length)]
    prev = np.array([b[-1, 3] for b in blocks[:-1]])
    cur = blocks[1:]
    raw = np.array(
        [
            np.log([b[0, 0] for b in cur] / prev),
            np.log([b[:, 1].max() for b in cur] / prev),
            np.log([b[:, 2].min() for b in cur] / prev),
            np.log([b[-1, 3] for b in cur] / prev),
            np.log1p([b[:, 4].sum() for b in cur]),
        ]
    )
    expected = (raw - raw.mean(axis=1, keepdims=True)) / raw.std(axis=1, keepdims=True)
    np.testing.assert_allclose(w, expected, atol=1e-5)


def test_start_of_data_is_padded_with_the_first_bar(ohlcv: np.ndarray) -> None:
    w = extract_windows(ohlcv, np.array([0, 3]), length=16, timeframes=[1, 5])
    assert np.isfinite(w).all()
    np.testing.assert_array_equal(w[0], 0.0)  # every block is a copy of row 0: constant channels -> 0


def test_parse_timeframes_and_bad_input(ohlcv: np.ndarray) -> None:
    assert parse_timeframes("1_5_15") == (1, 5, 15)
    assert parse_timeframes(5) == (5,)
    assert parse_timeframes([1, 5]) == (1, 5)
    for bad in ("", "0_5", "5_5", "a"):
        with pytest.raises(ConfigError, match="model.timeframes"):
            parse_timeframes(bad)
    with pytest.raises(ValueError, match="bar_index"):
        extract_windows(ohlcv, np.array([len(ohlcv)]), length=8, timeframes=[1])
