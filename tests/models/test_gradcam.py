"""Grad-CAM of the CNN (opt.models.gradcam) and its images (opt.backtest.insight), on tiny synthetic events."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from opt.backtest.insight import write_gradcam
from opt.models import AveragedClassifier, KNNBlend, ModelData, make_model
from opt.models.cnn import CNNClassifier
from opt.models.gradcam import cnn_members, gradcam_maps, top_events
from opt.schema import BOUNCE, BREAK

from tests.helpers.model_events import PATTERN_BARS, make_events, split, tiny_cnn_cfg, tiny_xgb_cfg

WINDOW = 16


@pytest.fixture(scope="module")
def fitted() -> tuple[CNNClassifier, ModelData, np.ndarray, np.ndarray]:
    data, y = make_events(300, seed=5)
    train, y_tr, test, y_te = split(data, y, 200)
    model = make_model(tiny_cnn_cfg(window_length=WINDOW), seed=0)
    assert isinstance(model, CNNClassifier)
    model.fit(train, y_tr, valid=test, y_valid=y_te)
    return model, test, y_te, model.predict_proba(test)


def test_top_events_are_the_most_confident_calls_then_fall_back() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.9, 0.05, 0.05], [0.65, 0.3, 0.05], [0.1, 0.8, 0.1]])
    idx, from_calls = top_events(proba, BREAK, confidence=0.6, top_n=2)
    np.testing.assert_array_equal(idx, [1, 0])
    assert from_calls
    idx, from_calls = top_events(proba, BOUNCE, confidence=0.9, top_n=2)  # no BOUNCE call at 0.9
    np.testing.assert_array_equal(idx, [3, 2])
    assert not from_calls
    with pytest.raises(ValueError, match="top_n"):
        top_events(proba, BREAK, confidence=0.6, top_n=0)


def test_maps_are_finite_with_the_window_shape_and_point_at_the_pattern(
        fitted: tuple[CNNClassifier, ModelData, np.ndarray, np.ndarray]) -> None:
    model, test, y_te, proba = fitted
    maps = gradcam_maps(model, test, proba, y_te, confidence=0.6, top_n=3)
    assert set(maps) == {"break", "bounce"}
    n_channels = 5 * 2  # timeframes 1_5
    for name, m in maps.items():
        assert m.name == name and m.cam.shape == (3, WINDOW)
        assert m.attribution.shape == m.window.shape == (n_channels, WINDOW)
        assert len(m.channels) == n_channels and m.channels[0] == "1m open" and m.channels[-1] == "5m volume"
        for arr in (m.cam, m.attribution, m.window):
            assert np.all(np.isfinite(arr))
        assert np.all(m.cam >= 0) and np.all(m.attribution >= 0) and m.attribution.sum() > 0
        assert np.all(np.diff(m.proba) <= 0)  # most confident first
        np.testing.assert_array_equal(m.labels, y_te[m.events])
        assert m.cam.max() > 0 and np.ptp(m.attribution) > 0  # something was attributed, not a flat map
    # the mean window shows the planted pattern of the attributed calls (BOUNCE: steady fall in the last
    # PATTERN_BARS one-minute closes, channel 3 z-scored)
    bounce = maps["bounce"]
    assert bounce.from_calls and np.all(bounce.labels == BOUNCE)  # confident and right on this easy data
    assert bounce.window[3, -PATTERN_BARS:].mean() < 0 < bounce.window[3, :-PATTERN_BARS].mean()
    start = time.perf_counter()  # captum imported by now
    again = gradcam_maps(model, test, proba, y_te, confidence=0.6, top_n=3)
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(again["break"].attribution, maps["break"].attribution)  # deterministic
    assert elapsed < 2.0  # ~50 ms on a loaded 2-core CPU; generous


def test_pngs_are_written(fitted: tuple[CNNClassifier, ModelData, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    model, test, y_te, proba = fitted
    paths = write_gradcam(gradcam_maps(model, test, proba, y_te, confidence=0.99), tmp_path, "fold3")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == ["gradcam/fold3_bounce.png",
                                                                          "gradcam/fold3_break.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert write_gradcam({}, tmp_path / "none", "fold0") == [] and not (tmp_path / "none").exists()


def test_wrapped_cnns_are_found_and_xgboost_has_none(
        fitted: tuple[CNNClassifier, ModelData, np.ndarray, np.ndarray]) -> None:
    model, test, y_te, proba = fitted
    assert cnn_members(KNNBlend(model, alpha=0.3)) == [model]
    assert cnn_members(AveragedClassifier([model, model])) == [model, model]
    single = gradcam_maps(model, test, proba, y_te, confidence=0.6)
    averaged = gradcam_maps(AveragedClassifier([model, model]), test, proba, y_te, confidence=0.6)
    np.testing.assert_allclose(averaged["break"].attribution, single["break"].attribution, rtol=1e-6)
    data, y = make_events(120, seed=1)
    xgb = make_model(tiny_xgb_cfg(n_estimators=5), seed=0).fit(data, y)
    assert gradcam_maps(xgb, data, xgb.predict_proba(data), y, confidence=0.6) == {}
    assert gradcam_maps(model, test, np.empty((0, 3)), np.empty(0, int), confidence=0.6) == {}
