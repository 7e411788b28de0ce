"""Fitting a classifier on events: the model input, the inner validation split, the fit itself.

Shared by stage 1 (one chronological split), the walk-forward backtest (:mod:`opt.backtest`) and
``promote``. The model, and its kNN blend, come from the ``model`` config group alone
(:func:`opt.models.make_model`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from omegaconf import DictConfig

from opt.config_rules import cfg_value
from opt.dataset import EventDataset, MarketContext
from opt.errors import ConfigError
from opt.models import Classifier, ModelData, ReportFn, make_model

__all__ = ["SAMPLE_WEIGHTS", "inner_validation", "model_input", "fit_model", "sample_weights"]


def inner_validation(train: np.ndarray, bar: np.ndarray, label_end: np.ndarray, share: float = 0.2
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Split chronological training positions into (fit, valid) for early stopping.

    The last ``share`` of ``train`` is the validation part; fit events whose label window reaches the
    first validation bar are purged.

    Returns:
        (fit positions, valid positions), int64 arrays.
    """
    n_valid = max(1, int(len(train) * share))
    valid = train[-n_valid:]
    first_valid_bar = bar[valid[0]]
    fit = train[:-n_valid]
    fit = fit[label_end[fit] < first_valid_bar]
    return fit, valid


def model_input(ds: EventDataset, ctx: MarketContext, idx: np.ndarray) -> ModelData:
    """Model input for events ``idx`` (features plus the market arrays sequence models read).

    The price matrix is the study's ``ctx.ohlcv`` itself (``(n_bars, 5)``, float64), never a copy: with
    years of bars a copy per fit was ~110 MB that XGBoost never reads.
    """
    return ModelData(features=ds.features.to_numpy(np.float32)[idx], feature_names=tuple(ds.features.columns),
                     bar_index=ds.events["bar"].to_numpy(np.int64)[idx], ohlcv=ctx.ohlcv, atr=ctx.atr)


def fit_model(cfg: DictConfig, ds: EventDataset, ctx: MarketContext, train: np.ndarray, *,
              report: ReportFn | None = None, early_stopping: bool = True) -> Classifier:
    """Fit the ``model`` config group's classifier on events ``train``, early-stopping on an inner split.

    With ``early_stopping=False`` the model is fitted on all of ``train`` with no validation part, so it
    trains its full configured capacity (``n_estimators`` rounds, ``epochs`` epochs): the retrain of
    ``promote.retrain=folds`` sets that capacity to the walk-forward folds' median.

    Args:
        cfg: the trial or promoted config (``model`` group, ``search.seed``).
        ds: the event dataset.
        ctx: the market context the events come from.
        train: int64 positions in ``ds`` of the training events, chronological.
        report: ``report(step, value)`` for intermediate validation values (pruning), or None.
        early_stopping: hold out the purged inner validation tail and stop on it (the search's fit).

    Returns:
        The fitted classifier (a :class:`opt.models.KNNBlend` when ``model.knn_blend.alpha > 0``).

    Raises:
        ConfigError: a bad ``model`` config.
    """
    y = ds.y
    model = make_model(cfg.model, seed=int(cfg.search.seed))
    bar = ds.events["bar"].to_numpy(np.int64)
    label_end = ds.events["label_end_bar"].to_numpy(np.int64)
    fit = train if not early_stopping else inner_validation(train, bar, label_end)[0]
    data = dataclasses.replace(model_input(ds, ctx, fit),
                               sample_weight=sample_weights(cfg.model, bar[fit], label_end[fit]))
    if not early_stopping:
        return model.fit(data, y[fit])
    valid = inner_validation(train, bar, label_end)[1]
    model.fit(data, y[fit], valid=model_input(ds, ctx, valid), y_valid=y[valid], report=report)
    return model


#: values of ``model.sample_weight``
SAMPLE_WEIGHTS = ("none", "uniqueness")


def sample_weights(model_cfg: DictConfig, bar: np.ndarray, label_end: np.ndarray) -> np.ndarray | None:
    """Per-event training weights of ``model.sample_weight`` for events with touch bars ``bar`` and label ends.

    ``none``: None (every event weighs 1). ``uniqueness``: the average uniqueness of each event's label
    window ``[u + 1, label_end_bar]`` among the training events' own windows (Lopez de Prado, *Advances
    in Financial Machine Learning*, ch. 4, :func:`opt.evaluation.uniqueness.average_uniqueness`), scaled
    to mean 1 so the loss keeps its scale; events whose labels overlap many others weigh less.

    Raises:
        ConfigError: an unknown value, or ``uniqueness`` for a model that cannot weigh events (the CNN).
    """
    mode = str(cfg_value(model_cfg, "sample_weight", where="model"))
    if mode not in SAMPLE_WEIGHTS:
        raise ConfigError(f"model.sample_weight={mode!r} is not one of {list(SAMPLE_WEIGHTS)}")
    if mode == "none" or len(bar) == 0:
        return None
    if str(model_cfg.name) != "xgboost":
        raise ConfigError(f"model.sample_weight=uniqueness is supported for XGBoost only, not model={model_cfg.name}")
    from opt.evaluation.uniqueness import average_uniqueness

    u = average_uniqueness(np.asarray(bar, np.int64) + 1, np.asarray(label_end, np.int64))
    return u / float(np.mean(u))
