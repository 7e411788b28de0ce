"""make_model, ModelData, device resolution and the shipped conf/model/*.yaml."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.models import Classifier, ModelData, XGBoostClassifier, make_model, resolve_device
from opt.models.base import class_weights
from opt.models.cnn import CNNClassifier
from opt.paths import conf_dir

from tests.helpers.model_events import make_events, tiny_cnn_cfg, tiny_xgb_cfg


def test_a_model_config_without_or_with_a_bad_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"model\._target_ is missing \(model\.name='lstm'\)"):
        make_model({"name": "lstm"}, seed=0)
    with pytest.raises(ConfigError, match=r"model\._target_='opt\.models\.LSTM' could not be built"):
        make_model({"_target_": "opt.models.LSTM", "name": "lstm"}, seed=0)


def test_knn_blend_in_the_model_config_wraps_the_model() -> None:
    from opt.models import KNNBlend

    cfg = OmegaConf.load(conf_dir() / "model" / "xgboost.yaml")
    assert not isinstance(make_model(cfg, seed=0), KNNBlend)  # alpha 0 by default
    cfg.knn_blend.alpha = 0.4
    model = make_model(cfg, seed=0)
    assert isinstance(model, KNNBlend) and model.alpha == 0.4 and model.k == cfg.knn_blend.k


@pytest.mark.parametrize(("name", "cls"), [("xgboost", XGBoostClassifier), ("cnn", CNNClassifier)])
def test_shipped_configs_build_their_model(name: str, cls: type) -> None:
    cfg = OmegaConf.load(conf_dir() / "model" / f"{name}.yaml")
    model = make_model(cfg, seed=0)
    assert isinstance(model, cls) and isinstance(model, Classifier)


def test_model_data_subset_shares_the_market_arrays() -> None:
    data, _ = make_events(20, seed=41)
    sub = data.subset(np.array([3, 5]))
    assert sub.ohlcv is data.ohlcv and len(sub) == 2
    np.testing.assert_array_equal(sub.bar_index, data.bar_index[[3, 5]])
    assert sub.features.dtype == np.float32 and sub.bar_index.dtype == np.int64
    with pytest.raises(ValueError, match="feature_names"):
        ModelData(data.features, ("a",), data.bar_index)
    with pytest.raises(ValueError, match="bar_index"):
        ModelData(data.features, data.feature_names, data.bar_index + 10**6, ohlcv=data.ohlcv)


def test_class_weights_balanced_and_missing_class() -> None:
    np.testing.assert_allclose(class_weights(np.array([0, 0, 0, 2]), "balanced"), [4 / 6, 1.0, 2.0])
    assert class_weights(np.array([0, 1]), "none") is None
    with pytest.raises(ConfigError, match="model.class_weight"):
        class_weights(np.array([0, 1]), "auto")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="model.device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="model.device"):
            resolve_device("cuda")


@pytest.mark.parametrize("cfg", [tiny_cnn_cfg(epochs=1), tiny_xgb_cfg()], ids=["cnn", "xgboost"])
def test_fitted_models_round_trip_through_pickle(cfg: dict) -> None:
    data, y = make_events(60, seed=42)
    model = make_model(cfg, seed=0).fit(data, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(data), model.predict_proba(data))
