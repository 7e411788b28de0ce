"""Tiny synthetic events with a learnable signal, for the model tests (CPU, seconds).

Bars are a seeded random walk (price ~5000, 1-point steps). Before each event's touch bar ``u`` the
last ``PATTERN_BARS`` bars (ending at ``u``) carry its label: BREAK = steady rise, BOUNCE = steady fall,
CHOP = flat closes on heavy volume. Feature 0 is twice the label plus unit noise; the other features are noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from opt.models import ModelData

PATTERN_BARS = 6
SPACING = 40
N_FEATURES = 4


def make_events(
    n_events: int = 300, *, seed: int = 0, drop_class: int | None = None
) -> tuple[ModelData, np.ndarray]:
    """Return ``(data, y)`` with ``n_events`` events every ``SPACING`` bars; labels balanced-ish.

    ``drop_class`` relabels that class as CHOP (or BREAK when dropping CHOP) so it is absent.
    """
    rng = np.random.default_rng(seed)
    n_bars = (n_events + 1) * SPACING
    y = rng.integers(0, 3, size=n_events)
    if drop_class is not None:
        y[y == drop_class] = 2 if drop_class != 2 else 0
    steps = rng.normal(0.0, 1.0, size=n_bars)
    volume = rng.integers(100, 1_000, size=n_bars).astype(np.float64)
    bars = SPACING * (np.arange(n_events) + 1)
    for u, label in zip(bars, y, strict=True):
        seg = slice(u - PATTERN_BARS + 1, u + 1)
        steps[seg] = {0: 3.0, 1: -3.0, 2: 0.0}[int(label)]
        if label == 2:
            volume[seg] *= 5.0
    close = 5_000.0 + np.cumsum(steps)
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.5, size=(2, n_bars)))
    ohlcv = np.column_stack(
        [open_, np.maximum(open_, close) + wick[0], np.minimum(open_, close) - wick[1], close, volume]
    )
    features = rng.normal(size=(n_events, N_FEATURES)).astype(np.float32)
    features[:, 0] += 2.0 * y.astype(np.float32)
    names = tuple(f"feat_{i}" for i in range(N_FEATURES))
    return ModelData(features, names, bars, ohlcv=ohlcv), y


def tiny_cnn_cfg(**overrides: Any) -> dict[str, Any]:
    """A CNN config small enough for a test (a few seconds on one CPU thread)."""
    cfg: dict[str, Any] = {
        "_target_": "opt.models.cnn.CNNClassifier.from_params",
        "name": "cnn",
        "device": "cpu",
        "window_length": 16,
        "timeframes": "1_5",
        "channels": 8,
        "kernel_size": 3,
        "depth": 2,
        "dropout": 0.1,
        "learning_rate": 3e-3,
        "weight_decay": 1e-4,
        "epochs": 8,
        "batch_size": 32,
        "early_stopping_patience": 3,
        "class_weight": "balanced",
        "num_threads": 1,
    }
    cfg.update(overrides)
    return cfg


def tiny_xgb_cfg(**overrides: Any) -> dict[str, Any]:
    """An XGBoost config for the tests."""
    cfg: dict[str, Any] = {
        "_target_": "opt.models.XGBoostClassifier.from_params",
        "name": "xgboost",
        "device": "cpu",
        "n_estimators": 60,
        "learning_rate": 0.2,
        "max_depth": 3,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 1.0,
        "reg_lambda": 1.0,
        "class_weight": "balanced",
        "early_stopping_rounds": 10,
        "n_jobs": 1,
        "max_bin": 64,
        "report_every": 10,
    }
    cfg.update(overrides)
    return cfg


def split(
    data: ModelData, y: np.ndarray, n_train: int
) -> tuple[ModelData, np.ndarray, ModelData, np.ndarray]:
    """Chronological split: first ``n_train`` events train, the rest held out."""
    return data.subset(slice(0, n_train)), y[:n_train], data.subset(slice(n_train, None)), y[n_train:]
