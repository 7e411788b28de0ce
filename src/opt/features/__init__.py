"""Causal features of level-touch events, named honestly as OHLCV proxies (DESIGN §6)."""

from __future__ import annotations

from opt.features._build import compute_features, feature_names
from opt.features._params import FeatureParams, feature_params

__all__ = ["FeatureParams", "compute_features", "feature_names", "feature_params"]
