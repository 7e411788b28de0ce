"""Fitting a classifier on events: the model input, the inner validation split, the fit itself.

Shared by stage 1 (one chronological split), stage 2 (walk-forward folds) and ``promote``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import DictConfig

from opt.dataset import EventDataset, MarketContext
from opt.models import Classifier, KNNBlend, ModelData, make_model

__all__ = ["inner_validation", "model_input", "fit_model"]


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
    """Model input for events ``idx`` (features plus the market arrays sequence models read)."""
    ohlcv = np.column_stack([ctx.open, ctx.high, ctx.low, ctx.close, ctx.volume])
    return ModelData(features=ds.features.to_numpy(np.float32)[idx], feature_names=tuple(ds.features.columns),
                     bar_index=ds.events["bar"].to_numpy(np.int64)[idx], ohlcv=ohlcv, atr=ctx.atr)


def fit_model(cfg: DictConfig, ds: EventDataset, ctx: MarketContext, train: np.ndarray, *,
              report: Any = None) -> Classifier:
    """Fit the configured model (optionally kNN-blended) on events ``train`` with an inner validation."""
    bar = ds.events["bar"].to_numpy(np.int64)
    label_end = ds.events["label_end_bar"].to_numpy(np.int64)
    fit, valid = inner_validation(train, bar, label_end)
    y = ds.y
    model: Classifier = make_model(cfg.model, seed=int(cfg.search.seed))
    alpha = float(cfg.stage.get("knn_alpha", 0.0) or 0.0) if cfg.get("stage") is not None else 0.0
    if alpha > 0:
        model = KNNBlend(model, alpha=alpha, k=int(cfg.stage.knn_blend.k))
    model.fit(model_input(ds, ctx, fit), y[fit], valid=model_input(ds, ctx, valid), y_valid=y[valid],
              report=report)
    return model


