"""kNN blend: P = alpha * P_kNN + (1 - alpha) * P_model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from opt.errors import ConfigError
from opt.models import KNNBlend, feature_importance, make_model

from tests.helpers.model_events import make_events, split, tiny_xgb_cfg


def test_alpha_zero_is_the_base_model() -> None:
    data, y = make_events(200, seed=31)
    train, y_tr, test, _ = split(data, y, 150)
    base = make_model(tiny_xgb_cfg(), seed=0).fit(train, y_tr).predict_proba(test)
    blend = KNNBlend(make_model(tiny_xgb_cfg(), seed=0), alpha=0.0, k=10).fit(train, y_tr)
    np.testing.assert_array_equal(blend.predict_proba(test), base)
    assert feature_importance(blend) is not None


def test_alpha_one_is_pure_knn_fit_on_train_only() -> None:
    data, y = make_events(200, seed=32)
    train, y_tr, test, _ = split(data, y, 150)
    blend = KNNBlend(make_model(tiny_xgb_cfg(), seed=0), alpha=1.0, k=7).fit(train, y_tr)
    scaler = StandardScaler().fit(train.features.astype(np.float64))
    nn = NearestNeighbors(n_neighbors=7).fit(scaler.transform(train.features.astype(np.float64)))
    idx = nn.kneighbors(scaler.transform(test.features.astype(np.float64)), return_distance=False)
    expected = np.stack([(y_tr[idx] == c).mean(axis=1) for c in range(3)], axis=1)
    np.testing.assert_allclose(blend.predict_proba(test), expected, atol=1e-12)


def test_blend_mixes_and_sums_to_one() -> None:
    data, y = make_events(200, seed=33)
    train, y_tr, test, _ = split(data, y, 150)
    blend = KNNBlend(make_model(tiny_xgb_cfg(), seed=0), alpha=0.3, k=500).fit(train, y_tr)  # k capped
    base = blend.base.predict_proba(test)
    np.testing.assert_allclose(blend.predict_proba(test), 0.3 * blend.knn_proba(test) + 0.7 * base)
    np.testing.assert_allclose(blend.predict_proba(test).sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_alpha_out_of_range_is_a_config_error(alpha: float) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        KNNBlend(make_model(tiny_xgb_cfg(), seed=0), alpha=alpha)
