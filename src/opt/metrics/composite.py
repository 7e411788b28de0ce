"""Stage-1 composite score (DESIGN §7): physics quality, model performance and feature spread.

    score             = w_pq  physics_quality + w_mp model_performance + w_var variance_score
    physics_quality   = w_sil silhouette + w_knn knn5_purity + w_corr correlation_score
    correlation_score = w_max max|corr(feature, BREAK)| + w_mean mean|corr(feature, BREAK)|
    model_performance = w_p80 precision_at_80 + w_auc auc + w_brier (1 - brier)

The weights come from ``conf/stage/1.yaml`` (``weights``; defaults from the research plan). Every part
that needs standardized features uses a :class:`~sklearn.preprocessing.StandardScaler` fit on the TRAIN
part only; the correlation and variance scores are computed on the EVALUATION part, standardized with
that train scaler, so the whole score describes data the model did not see.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.preprocessing import StandardScaler

from opt.errors import ConfigError
from opt.metrics.classification import (
    BREAK,
    knn_purity,
    macro_auc,
    multiclass_brier,
    precision_coverage_at,
    silhouette,
)

__all__ = ["STAGE1_WEIGHT_KEYS", "correlation_score", "variance_score", "stage1_metrics"]

STAGE1_WEIGHT_KEYS = (
    "physics_quality",
    "model_performance",
    "variance_score",
    "silhouette",
    "knn5_purity",
    "correlation_score",
    "corr_max",
    "corr_mean",
    "precision_at_80",
    "auc",
    "one_minus_brier",
)

# The confidence level is part of the metric names `precision_at_80` / `coverage_at_80` (DESIGN §7).
_CONFIDENT = 0.8
_KNN_K = 5


def correlation_score(
    X: np.ndarray, y: np.ndarray, *, w_max: float, w_mean: float
) -> tuple[float, float, float]:
    """Linear association of the features with the BREAK outcome (DESIGN §7 ``correlation_score``).

    Pearson correlation of every feature column with the indicator ``y == BREAK``. A constant column
    (or a constant indicator) has no defined correlation and contributes 0; it still counts in the mean.

    Args:
        X: Features, shape ``(n, n_features)``.
        y: Labels, shape ``(n,)``.
        w_max: Weight of ``max|corr|`` (``stage.weights.corr_max``).
        w_mean: Weight of ``mean|corr|`` (``stage.weights.corr_mean``).

    Returns:
        ``(score, max_abs_corr, mean_abs_corr)`` with ``score = w_max * max + w_mean * mean``; all
        ``0.0`` with no feature columns or fewer than 2 events.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, n_features) and y (n,), got {X.shape} and {y.shape}")
    if X.shape[1] == 0 or X.shape[0] < 2:
        return 0.0, 0.0, 0.0
    indicator = (y == BREAK).astype(np.float64)
    xc = X - X.mean(axis=0)
    ic = indicator - indicator.mean()
    denom = np.sqrt(np.sum(xc**2, axis=0) * np.sum(ic**2))
    defined = (np.ptp(X, axis=0) > 0) & (np.ptp(indicator) > 0)
    corr = np.zeros(X.shape[1])
    corr[defined] = (xc[:, defined].T @ ic) / denom[defined]
    abs_corr = np.clip(np.abs(corr), 0.0, 1.0)
    max_abs, mean_abs = float(abs_corr.max()), float(abs_corr.mean())
    return w_max * max_abs + w_mean * mean_abs, max_abs, mean_abs


def variance_score(X_std: np.ndarray, y: np.ndarray) -> float:
    """Mean within-class standard deviation of standardized features, clipped to ``[0, 1]`` (DESIGN §7).

    For every label that occurs, the population standard deviation (``ddof=0``) of each feature over the
    events of that label; the unweighted mean over (label, feature) pairs.

    Args:
        X_std: Standardized features, shape ``(n, n_features)``.
        y: Labels, shape ``(n,)``.

    Returns:
        Score in ``[0, 1]``; ``0.0`` with no events or no feature columns.
    """
    X_std = np.asarray(X_std, dtype=np.float64)
    y = np.asarray(y)
    if X_std.ndim != 2 or y.shape != (X_std.shape[0],):
        raise ValueError(f"X_std must be (n, n_features) and y (n,), got {X_std.shape} and {y.shape}")
    if X_std.size == 0:
        return 0.0
    stds = [X_std[y == label].std(axis=0) for label in np.unique(y)]
    return float(np.clip(np.mean(stds), 0.0, 1.0))


def _weights(weights: Mapping[str, float]) -> dict[str, float]:
    missing = [key for key in STAGE1_WEIGHT_KEYS if key not in weights]
    if missing:
        names = ", ".join(f"stage.weights.{key}" for key in missing)
        raise ConfigError(f"{names} missing: the stage-1 composite needs every weight (DESIGN §7)")
    return {key: float(weights[key]) for key in STAGE1_WEIGHT_KEYS}


def stage1_metrics(
    *,
    train_X: np.ndarray,
    train_y: np.ndarray,
    eval_X: np.ndarray,
    eval_y: np.ndarray,
    proba: np.ndarray,
    weights: Mapping[str, float],
    seed: int = 0,
) -> dict[str, float]:
    """All stage-1 metrics and the composite ``score`` for one train/evaluation split (DESIGN §7).

    Args:
        train_X: Train features, shape ``(n_train, n_features)``.
        train_y: Train labels, shape ``(n_train,)``.
        eval_X: Evaluation features, shape ``(n_eval, n_features)``.
        eval_y: Evaluation labels, shape ``(n_eval,)``.
        proba: Model probabilities on the evaluation events, shape ``(n_eval, 3)``.
        weights: ``stage.weights`` with the keys of :data:`STAGE1_WEIGHT_KEYS`.
        seed: Seed of the silhouette subsample.

    Returns:
        Finite floats under ``knn5_purity``, ``silhouette``, ``precision_at_80``, ``coverage_at_80``,
        ``auc``, ``brier``, ``correlation_score``, ``corr_max``, ``corr_mean``, ``physics_quality``,
        ``model_performance``, ``variance_score`` and ``score``. Event counts and label shares are the
        caller's (:func:`opt.metrics.label_shares`).

    Raises:
        ConfigError: A weight key is missing.
        ValueError: An empty train or evaluation set, or mismatched shapes.
    """
    w = _weights(weights)
    train_X = np.asarray(train_X, dtype=np.float64)
    eval_X = np.asarray(eval_X, dtype=np.float64)
    if train_X.shape[0] == 0 or eval_X.shape[0] == 0:
        raise ValueError("stage1_metrics needs at least one train and one evaluation event")
    scaler = StandardScaler().fit(train_X)
    eval_std = scaler.transform(eval_X)
    m: dict[str, float] = {
        "knn5_purity": knn_purity(train_X, train_y, eval_X, eval_y, k=_KNN_K),
        "silhouette": silhouette(eval_X, eval_y, scaler=scaler, seed=seed),
    }
    m["precision_at_80"], m["coverage_at_80"] = precision_coverage_at(proba, eval_y, threshold=_CONFIDENT)
    m["auc"] = macro_auc(proba, eval_y)
    m["brier"] = multiclass_brier(proba, eval_y)
    m["correlation_score"], m["corr_max"], m["corr_mean"] = correlation_score(
        eval_std, eval_y, w_max=w["corr_max"], w_mean=w["corr_mean"]
    )
    m["variance_score"] = variance_score(eval_std, eval_y)
    m["physics_quality"] = (
        w["silhouette"] * m["silhouette"]
        + w["knn5_purity"] * m["knn5_purity"]
        + w["correlation_score"] * m["correlation_score"]
    )
    m["model_performance"] = (
        w["precision_at_80"] * m["precision_at_80"]
        + w["auc"] * m["auc"]
        + w["one_minus_brier"] * (1.0 - m["brier"])
    )
    m["score"] = (
        w["physics_quality"] * m["physics_quality"]
        + w["model_performance"] * m["model_performance"]
        + w["variance_score"] * m["variance_score"]
    )
    if not all(np.isfinite(v) for v in m.values()):
        raise ValueError(f"non-finite stage-1 metric (NaN or inf in the features?): {m}")
    return m
