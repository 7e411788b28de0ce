"""Models: 3-class classifiers of level-touch events (BREAK=0, BOUNCE=1, CHOP=2).

:func:`make_model` builds the model named by the ``model`` config group (``conf/model/*.yaml``):
``xgboost`` (:mod:`opt.models.xgb`, tabular features) or ``cnn`` (:mod:`opt.models.cnn`, causal bar
windows, imported lazily so that XGBoost-only runs do not pay for torch). :class:`KNNBlend` mixes any
of them with a nearest-neighbour vote over the train events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opt.errors import ConfigError
from opt.models.base import CLASS_NAMES, N_CLASSES, Classifier, ModelData, ReportFn
from opt.models.device import resolve_device
from opt.models.knn_blend import KNNBlend
from opt.models.windows import extract_windows, parse_timeframes
from opt.models.xgb import XGBoostClassifier

__all__ = [
    "CLASS_NAMES",
    "MODEL_NAMES",
    "N_CLASSES",
    "Classifier",
    "KNNBlend",
    "ModelData",
    "ReportFn",
    "XGBoostClassifier",
    "extract_windows",
    "feature_importance",
    "make_model",
    "parse_timeframes",
    "resolve_device",
]

MODEL_NAMES: tuple[str, ...] = ("cnn", "xgboost")


def make_model(model_cfg: Mapping[str, Any], *, seed: int) -> Classifier:
    """Build an unfitted classifier from the ``model`` config group.

    Args:
        model_cfg: the ``model`` group (dict or ``DictConfig``); ``name`` selects the model.
        seed: random seed of the model.

    Returns:
        An :class:`XGBoostClassifier` or a :class:`~opt.models.cnn.CNNClassifier`.

    Raises:
        ConfigError: if ``model.name`` is missing or unknown, or another model key is missing or out of
            range.
    """
    name = model_cfg.get("name") if isinstance(model_cfg, Mapping) else None
    if name == "xgboost":
        return XGBoostClassifier.from_config(model_cfg, seed=seed)
    if name == "cnn":
        from opt.models.cnn import CNNClassifier

        return CNNClassifier.from_config(model_cfg, seed=seed)
    raise ConfigError(f"model.name must be one of {list(MODEL_NAMES)}; got {name!r}")


def feature_importance(model: Classifier) -> dict[str, float] | None:
    """XGBoost gain importance by feature name (of the base model inside a :class:`KNNBlend`).

    Returns:
        ``{feature_name: average split gain}`` for a fitted XGBoost model; ``None`` for the CNN (which
        does not read the tabular features) or any other model.

    Raises:
        RuntimeError: if the XGBoost model is not fitted yet.
    """
    if isinstance(model, KNNBlend):
        return feature_importance(model.base)
    if isinstance(model, XGBoostClassifier):
        return model.gain_importance()
    return None
