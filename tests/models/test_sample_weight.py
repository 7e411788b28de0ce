"""``model.sample_weight=uniqueness`` (#12.5): overlapping labels weigh less in the XGBoost fit (AFML ch. 4)."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from opt.dataset import build_context, build_event_dataset
from opt.errors import ConfigError
from opt.evaluation.uniqueness import average_uniqueness
from opt.models.fitting import fit_model, model_input, sample_weights

from tests.helpers.config import compose_config
from tests.helpers.dataset import synthetic


def test_uniqueness_weights_are_the_books_values_scaled_to_mean_one() -> None:
    model = OmegaConf.create({"name": "xgboost", "sample_weight": "uniqueness"})
    bar, end = np.array([0, 0, 10]), np.array([4, 4, 14])  # two labels on one window, one alone
    w = sample_weights(model, bar, end)
    u = average_uniqueness(bar + 1, end)
    np.testing.assert_allclose(u, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(w, u / u.mean())
    assert w.mean() == pytest.approx(1.0)
    assert sample_weights(OmegaConf.create({"name": "xgboost", "sample_weight": "none"}), bar, end) is None
    with pytest.raises(ConfigError, match="XGBoost only"):
        sample_weights(OmegaConf.create({"name": "cnn", "sample_weight": "uniqueness"}), bar, end)
    with pytest.raises(ConfigError, match="model.sample_weight='nope'"):
        sample_weights(OmegaConf.create({"name": "xgboost", "sample_weight": "nope"}), bar, end)


def test_the_fit_reads_the_weights() -> None:
    cfg = compose_config(["model.early_stopping_rounds=null", "model.n_estimators=20"])
    ctx = build_context(synthetic(n_days=12), cfg)
    ds = build_event_dataset(ctx, cfg)
    train = np.arange(len(ds))
    assert len(train) > 50
    plain = fit_model(cfg, ds, ctx, train, early_stopping=False)
    cfg.model.sample_weight = "uniqueness"
    weighted = fit_model(cfg, ds, ctx, train, early_stopping=False)
    x = model_input(ds, ctx, train)
    assert not np.allclose(plain.predict_proba(x), weighted.predict_proba(x))  # the weights changed the trees
