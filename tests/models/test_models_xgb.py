"""XGBoost classifier on tiny synthetic events (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from opt.errors import ConfigError
from opt.models import XGBoostClassifier, feature_importance, make_model

from tests.helpers.model_events import make_events, split, tiny_xgb_cfg


class _Stop(Exception):
    pass


def test_xgb_beats_chance_with_valid_probabilities() -> None:
    data, y = make_events(300, seed=1)
    train, y_tr, test, y_te = split(data, y, 200)
    model = make_model(tiny_xgb_cfg(), seed=0).fit(train, y_tr)
    proba = model.predict_proba(test)
    assert proba.shape == (100, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert (proba.argmax(axis=1) == y_te).mean() > 0.6


def test_xgb_is_deterministic_for_a_seed() -> None:
    data, y = make_events(200, seed=2)
    a = make_model(tiny_xgb_cfg(), seed=7).fit(data, y).predict_proba(data)
    b = make_model(tiny_xgb_cfg(), seed=7).fit(data, y).predict_proba(data)
    np.testing.assert_array_equal(a, b)


def test_xgb_reports_every_checkpoint_and_early_stops() -> None:
    data, y = make_events(300, seed=3)
    train, y_tr, valid, y_va = split(data, y, 200)
    calls: list[tuple[int, float]] = []
    model = make_model(tiny_xgb_cfg(n_estimators=400, early_stopping_rounds=5), seed=0)
    model.fit(train, y_tr, valid=valid, y_valid=y_va, report=lambda s, v: calls.append((s, v)))
    assert isinstance(model, XGBoostClassifier) and model.best_iteration is not None
    assert model.best_iteration < 399  # stopped early on the validation log-loss
    assert [s for s, _ in calls] == list(range(10, 10 * len(calls) + 1, 10))
    assert all(v < 0 for _, v in calls)  # negative log-loss


def test_xgb_report_exception_propagates() -> None:
    data, y = make_events(200, seed=4)
    train, y_tr, valid, y_va = split(data, y, 150)

    def report(step: int, value: float) -> None:
        raise _Stop(step)

    with pytest.raises(_Stop):
        make_model(tiny_xgb_cfg(), seed=0).fit(train, y_tr, valid=valid, y_valid=y_va, report=report)


def test_xgb_missing_class_still_three_columns() -> None:
    data, y = make_events(200, seed=5, drop_class=1)
    assert 1 not in y
    proba = make_model(tiny_xgb_cfg(), seed=0).fit(data, y).predict_proba(data)
    assert proba.shape == (200, 3)
    assert proba[:, 1].max() < 0.05
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_xgb_gain_importance_by_feature_name() -> None:
    data, y = make_events(200, seed=6)
    model = make_model(tiny_xgb_cfg(), seed=0).fit(data, y)
    imp = feature_importance(model)
    assert imp is not None and set(imp) == set(data.feature_names)
    assert max(imp, key=lambda k: imp[k]) == "feat_0"


def test_xgb_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="model.max_depth"):
        make_model(tiny_xgb_cfg(max_depth=0), seed=0)
    with pytest.raises(ConfigError, match="model.class_weight"):
        make_model(tiny_xgb_cfg(class_weight="auto"), seed=0)
    cfg = tiny_xgb_cfg()
    del cfg["learning_rate"]
    with pytest.raises(ConfigError, match="model.learning_rate"):
        make_model(cfg, seed=0)
