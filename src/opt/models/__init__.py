"""Models: 3-class classifiers of level-touch events (BREAK=0, BOUNCE=1, CHOP=2).

:func:`make_model` builds the model that the ``model`` config group names with ``_target_``
(``conf/model/*.yaml``): ``xgboost`` (:mod:`opt.models.xgb`, tabular features) or ``cnn``
(:mod:`opt.models.cnn`, causal bar windows, imported only when built, so that XGBoost-only runs do not
pay for torch). :class:`KNNBlend` mixes any of them with a nearest-neighbour vote over the train events
(``model.knn_blend``). :mod:`opt.models.fitting` fits a model on events: the model input, the purged
inner validation split for early stopping, the fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from opt.errors import ConfigError
from opt.models.base import CLASS_NAMES, N_CLASSES, Capacity, Classifier, ModelData, ReportFn
from opt.models.device import resolve_device
from opt.models.ensemble import AveragedClassifier
from opt.models.knn_blend import KNNBlend
from opt.models.windows import extract_windows, parse_timeframes
from opt.models.xgb import XGBoostClassifier

__all__ = [
    "CLASS_NAMES",
    "AveragedClassifier",
    "Capacity",
    "trained_capacity",
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

#: keys of a ``model`` config that are not the family's hyperparameters
_NOT_HYPERPARAMETERS = ("_target_", "name", "knn_blend")


def make_model(model_cfg: Mapping[str, Any], *, seed: int) -> Classifier:
    """Build an unfitted classifier from the ``model`` config group, the Hydra way.

    The group's ``_target_`` names the family's builder (``conf/model/xgboost.yaml``:
    ``opt.models.XGBoostClassifier.from_params``); it is called by :func:`hydra.utils.instantiate` with
    the group's hyperparameters and ``seed``, so adding a model family is a new YAML file and its class.
    ``knn_blend.alpha > 0`` wraps the model in :class:`KNNBlend` (``knn_blend.k`` neighbours).
    The CNN's module (torch) is imported only when its ``_target_`` is built.

    Args:
        model_cfg: the ``model`` group (dict or ``DictConfig``).
        seed: random seed of the model.

    Returns:
        An unfitted :class:`Classifier`.

    Raises:
        ConfigError: no ``_target_``, one that cannot be imported, or a hyperparameter that is missing
            or out of range (naming ``model.<key>``).
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    raw = OmegaConf.to_container(model_cfg, resolve=True) if isinstance(model_cfg, DictConfig) else model_cfg
    if not isinstance(raw, Mapping):
        raise ConfigError(f"model must be a mapping of hyperparameters, got {type(raw).__name__}")
    node: dict[str, Any] = {str(k): v for k, v in raw.items()}
    target = node.get("_target_")
    if not target:
        raise ConfigError(f"model._target_ is missing (model.name={node.get('name')!r}): a model config names "
                          "the builder of its family, e.g. _target_: opt.models.XGBoostClassifier.from_params "
                          "(see conf/model/*.yaml)")
    hyper = {k: v for k, v in node.items() if k not in _NOT_HYPERPARAMETERS}
    try:
        model: Classifier = instantiate({"_target_": target, **hyper}, seed=int(seed))
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, ConfigError):
            raise cause from None
        raise ConfigError(f"model._target_={target!r} could not be built: {exc}") from None
    blend = node.get("knn_blend") or {}
    alpha = float(blend.get("alpha", 0.0) or 0.0)
    if alpha > 0:
        model = KNNBlend(model, alpha=alpha, k=int(blend["k"]))
    return model


def trained_capacity(model: Classifier) -> Capacity | None:
    """How much ``model`` trained (:class:`Capacity`: XGBoost rounds kept, CNN epochs kept), looking
    through a :class:`KNNBlend`; None for a model that does not say (e.g. an :class:`AveragedClassifier`).

    Raises:
        RuntimeError: the model is not fitted.
    """
    if isinstance(model, KNNBlend):
        return trained_capacity(model.base)
    report = getattr(model, "trained_capacity", None)
    return report() if callable(report) else None


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
