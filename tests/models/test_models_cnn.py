"""1D CNN classifier on tiny synthetic events (CPU, tiny network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from opt.errors import ConfigError
from opt.models import ModelData, feature_importance, make_model
from opt.models.cnn import CNNClassifier

from tests.helpers.model_events import make_events, split, tiny_cnn_cfg


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def events() -> tuple[ModelData, np.ndarray]:
    return make_events(300, seed=11)


def test_cnn_beats_chance_and_reports_each_epoch(events: tuple[ModelData, np.ndarray]) -> None:
    data, y = events
    train, y_tr, test, y_te = split(data, y, 200)
    steps: list[int] = []
    model = make_model(tiny_cnn_cfg(), seed=0)
    assert isinstance(model, CNNClassifier)
    model.fit(train, y_tr, valid=test, y_valid=y_te, report=lambda s, v: steps.append(s))
    assert steps == list(range(1, len(model.history) + 1)) and len(steps) >= 4
    proba = model.predict_proba(test)
    assert proba.shape == (100, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba.argmax(axis=1) == y_te).mean() > 0.6
    assert feature_importance(model) is None


def test_cnn_is_bit_identical_for_a_seed_on_cpu(events: tuple[ModelData, np.ndarray]) -> None:
    data, y = events
    train, y_tr, test, _ = split(data, y, 150)
    cfg = tiny_cnn_cfg(epochs=2)
    a = make_model(cfg, seed=3).fit(train, y_tr).predict_proba(test)
    b = make_model(cfg, seed=3).fit(train, y_tr).predict_proba(test)
    np.testing.assert_array_equal(a, b)
    assert not torch.are_deterministic_algorithms_enabled()  # process-wide setting restored


def test_cnn_report_exception_propagates(events: tuple[ModelData, np.ndarray]) -> None:
    data, y = events
    train, y_tr, valid, y_va = split(data, y, 200)

    def report(step: int, value: float) -> None:
        if step == 2:
            raise _Stop(step)

    with pytest.raises(_Stop):
        make_model(tiny_cnn_cfg(), seed=0).fit(train, y_tr, valid=valid, y_valid=y_va, report=report)


def test_cnn_missing_class_still_three_columns() -> None:
    data, y = make_events(120, seed=12, drop_class=0)
    proba = make_model(tiny_cnn_cfg(epochs=2), seed=0).fit(data, y).predict_proba(data)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_cnn_needs_bars_and_valid_config() -> None:
    data, y = make_events(40, seed=13)
    no_bars = ModelData(data.features, data.feature_names, data.bar_index)
    with pytest.raises(ValueError, match="ohlcv"):
        make_model(tiny_cnn_cfg(), seed=0).fit(no_bars, y)
    with pytest.raises(ConfigError, match="model.timeframes"):
        make_model(tiny_cnn_cfg(timeframes="1_x"), seed=0)
    with pytest.raises(ConfigError, match="model.dropout"):
        make_model(tiny_cnn_cfg(dropout=1.0), seed=0)
    with pytest.raises(RuntimeError, match="before fit"):
        make_model(tiny_cnn_cfg(), seed=0).predict_proba(data)
