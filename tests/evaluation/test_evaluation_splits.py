"""Chronological splits: hold-out snapping, purge, embargo, expanding walk-forward folds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from opt.errors import ConfigError
from opt.evaluation import Fold, holdout_split, single_split, walk_forward_folds

DAY = np.repeat(np.arange(20240101, 20240104, dtype=np.int64), 10)  # 3 trading days of 10 bars
TS = pd.Series(pd.date_range("2024-01-01", periods=30, freq="min", tz="UTC"))


def test_holdout_snaps_to_the_trading_day_start() -> None:
    # bar floor(0.7 * 30) = 21 is in day 3, which starts at bar 20
    assert holdout_split(TS, DAY, test_fraction=0.3) == 20
    # bar 15 is in day 2 -> 10
    assert holdout_split(TS.to_numpy(), DAY, test_fraction=0.5) == 10
    assert holdout_split(TS.astype("int64").to_numpy(), DAY, test_fraction=0.0) == 30


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.2, 0.33, 0.5, 0.6])
def test_holdout_never_shares_a_day_with_the_search(fraction: float) -> None:
    day = np.repeat(np.arange(40, dtype=np.int64), np.arange(40) % 7 + 3)
    ts = np.arange(day.size, dtype=np.int64) * 60_000_000_000
    h = holdout_split(ts, day, test_fraction=fraction)
    assert 0 < h < day.size and day[h - 1] != day[h]
    assert not set(day[:h]) & set(day[h:])
    assert day.size - h >= fraction * day.size - 1e-9  # snapping only enlarges the test part


def test_holdout_bad_fraction_and_single_day() -> None:
    for bad in (-0.1, 0.9, 1.0):
        with pytest.raises(ConfigError, match="split.test_fraction"):
            holdout_split(TS, DAY, test_fraction=bad)
    with pytest.raises(ConfigError, match="split.test_fraction"):
        holdout_split(TS, np.zeros(30, np.int64), test_fraction=0.2)
    with pytest.raises(ValueError):
        holdout_split(TS[::-1], DAY, test_fraction=0.2)


def test_single_split_purge_and_embargo_by_hand() -> None:
    bars = np.array([10, 50, 60, 65, 70, 74, 75, 80, 90, 95])
    fold = single_split(bars, bars + 8, 100, eval_fraction=0.3, embargo_bars=5)
    assert (fold.index, fold.eval_start_bar, fold.eval_end_bar) == (0, 70, 100)
    # bar 65's label window [65, 73] reaches the evaluation window: purged
    np.testing.assert_array_equal(fold.train, [0, 1, 2])
    # bars 70, 74 are inside the 5-bar embargo; bar 95's label window [95, 103] leaves the window
    np.testing.assert_array_equal(fold.eval, [6, 7, 8])


def _events(n_bars: int = 1000, step: int = 7, horizon: int = 25) -> tuple[np.ndarray, np.ndarray]:
    bars = np.arange(3, n_bars, step, dtype=np.int64)
    return bars, bars + horizon


def _folds(embargo: int = 10) -> list[Fold]:
    bars, ends = _events()
    return walk_forward_folds(bars, ends, 1000, n_folds=4, min_train_fraction=0.4, embargo_bars=embargo)


def test_walk_forward_windows_are_chronological_and_expanding() -> None:
    folds = _folds()
    assert [(f.eval_start_bar, f.eval_end_bar) for f in folds] == [
        (400, 550),
        (550, 700),
        (700, 850),
        (850, 1000),
    ]
    bars, _ = _events()
    for a, b in zip(folds, folds[1:], strict=False):
        assert set(a.train) < set(b.train)
        assert bars[a.eval].max() < bars[b.eval].min()
    for f in folds:
        assert f.train.size and f.eval.size
        assert bars[f.train].max() < bars[f.eval].min()


def test_walk_forward_purge_no_train_label_window_overlaps_its_fold() -> None:
    bars, ends = _events()
    for f in _folds():
        assert np.all(ends[f.train] < f.eval_start_bar)
        # and nothing else was dropped: every other event before the window has a label in it
        dropped = np.setdiff1d(np.flatnonzero(bars < f.eval_start_bar), f.train)
        assert dropped.size and np.all(ends[dropped] >= f.eval_start_bar)


def test_walk_forward_embargo_and_label_containment() -> None:
    bars, ends = _events()
    for embargo in (0, 60):
        for f in _folds(embargo):
            assert np.all(bars[f.eval] >= f.eval_start_bar + embargo)
            assert np.all(ends[f.eval] < f.eval_end_bar)
    assert sum(f.eval.size for f in _folds(60)) < sum(f.eval.size for f in _folds(0))


def test_fold_is_frozen_and_read_only() -> None:
    fold = _folds()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fold.index = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        fold.train[0] = 99


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"n_folds": 0}, "split.n_folds"),
        ({"min_train_fraction": 0.0}, "split.min_train_fraction"),
        ({"min_train_fraction": 1.0}, "split.min_train_fraction"),
        ({"embargo_bars": -1}, "split.embargo_bars"),
        ({"n_folds": 700}, "split.n_folds"),
    ],
)
def test_walk_forward_bad_config_names_the_key(kwargs: dict[str, float], key: str) -> None:
    bars, ends = _events()
    args = {"n_folds": 4, "min_train_fraction": 0.4, "embargo_bars": 10} | kwargs
    with pytest.raises(ConfigError, match=key):
        walk_forward_folds(bars, ends, 1000, **args)


def test_single_split_bad_config_names_the_key() -> None:
    bars, ends = _events()
    for bad in (0.0, 1.0):
        with pytest.raises(ConfigError, match="split.eval_fraction"):
            single_split(bars, ends, 1000, eval_fraction=bad, embargo_bars=0)
    with pytest.raises(ValueError):
        single_split(bars[::-1], ends[::-1], 1000, eval_fraction=0.3, embargo_bars=0)
