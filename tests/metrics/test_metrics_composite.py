"""The stage-1 composite (DESIGN §7) with the weights of conf/stage/1.yaml."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from opt.errors import ConfigError
from opt.metrics import STAGE1_WEIGHT_KEYS, correlation_score, stage1_metrics, variance_score

STAGE1 = Path(__file__).resolve().parents[2] / "conf" / "stage" / "1.yaml"


@pytest.fixture(scope="module")
def weights() -> dict[str, float]:
    return dict(OmegaConf.to_container(OmegaConf.load(STAGE1).weights))


def test_correlation_score_by_hand() -> None:
    y = np.array([0, 0, 1, 2])  # BREAK indicator [1, 1, 0, 0]
    X = np.column_stack(
        [
            [-1.0, -1.0, 0.0, 0.0],  # -indicator: |corr| = 1
            [5.0, 5.0, 5.0, 5.0],  # constant: contributes 0
            [1.0, 0.0, 0.0, 0.0],  # corr = 0.5 / sqrt(0.75) = 1/sqrt(3)
        ]
    )
    score, max_abs, mean_abs = correlation_score(X, y, w_max=0.7, w_mean=0.3)
    assert max_abs == pytest.approx(1.0)
    assert mean_abs == pytest.approx((1 + 0 + 1 / np.sqrt(3)) / 3)
    assert score == pytest.approx(0.7 + 0.3 * mean_abs)


def test_correlation_score_without_break_variation_is_zero() -> None:
    assert correlation_score(np.arange(6.0).reshape(3, 2), np.array([1, 2, 1]), w_max=0.7, w_mean=0.3) == (
        0.0,
        0.0,
        0.0,
    )


def test_variance_score_by_hand() -> None:
    X = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [1.0, 3.0]])
    y = np.array([0, 0, 1, 1])
    # class 0 stds (1, 0), class 1 stds (0, 1): mean 0.5
    assert variance_score(X, y) == pytest.approx(0.5)
    assert variance_score(10 * X, y) == 1.0  # clipped


def _split(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    train_y, eval_y = rng.integers(0, 3, 200), rng.integers(0, 3, 80)
    train_X = rng.normal(size=(200, 4)) + train_y[:, None] * [1.0, 0.0, 0.5, 0.0]
    eval_X = rng.normal(size=(80, 4)) * [1, 1, 1, 0] + eval_y[:, None] * [1.0, 0.0, 0.5, 0.0]
    proba = rng.dirichlet(np.ones(3), 80)
    return {"train_X": train_X, "train_y": train_y, "eval_X": eval_X, "eval_y": eval_y, "proba": proba}


def test_stage1_metrics_keys_and_composite(weights: dict[str, float]) -> None:
    assert set(weights) == set(STAGE1_WEIGHT_KEYS)
    m = stage1_metrics(**_split(0), weights=weights, seed=0)
    for key in (
        "knn5_purity",
        "silhouette",
        "precision_at_80",
        "coverage_at_80",
        "auc",
        "brier",
        "correlation_score",
        "physics_quality",
        "model_performance",
        "variance_score",
        "score",
    ):
        assert isinstance(m[key], float) and np.isfinite(m[key]), key
    w = weights
    assert m["physics_quality"] == pytest.approx(
        w["silhouette"] * m["silhouette"]
        + w["knn5_purity"] * m["knn5_purity"]
        + w["correlation_score"] * m["correlation_score"]
    )
    assert m["model_performance"] == pytest.approx(
        w["precision_at_80"] * m["precision_at_80"]
        + w["auc"] * m["auc"]
        + w["one_minus_brier"] * (1 - m["brier"])
    )
    assert m["score"] == pytest.approx(
        w["physics_quality"] * m["physics_quality"]
        + w["model_performance"] * m["model_performance"]
        + w["variance_score"] * m["variance_score"]
    )
    assert m["correlation_score"] == pytest.approx(
        w["corr_max"] * m["corr_max"] + w["corr_mean"] * m["corr_mean"]
    )
    assert m == stage1_metrics(**_split(0), weights=weights, seed=0)


def test_stage1_metrics_missing_weight_names_the_key(weights: dict[str, float]) -> None:
    del weights["auc"]
    with pytest.raises(ConfigError, match="stage.weights.auc"):
        stage1_metrics(**_split(1), weights=weights)
